// The build step: bakes VITE_GREETING into the static page, as front-end bundlers do.
const fs = require("fs");
const greeting = process.env.VITE_GREETING || "(no greeting at build time)";
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync("dist/index.html", `<h1>${greeting}</h1>\n`);
console.log("built dist/index.html with", JSON.stringify(greeting));
