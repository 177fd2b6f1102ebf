// The release step: prepares the data folder the web and worker processes share.
const fs = require("fs");
for (const dir of ["data/queue", "data/done"]) fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync("data/schema", "1\n");
console.log("data folder ready");
