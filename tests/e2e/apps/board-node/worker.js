// The background worker: upper-cases every job the web process queued.
const fs = require("fs");
const path = require("path");

console.log("worker up");
setInterval(() => {
  for (const name of fs.readdirSync("data/queue")) {
    const text = fs.readFileSync(path.join("data/queue", name), "utf8");
    fs.writeFileSync(path.join("data/done", name), text.toUpperCase());
    fs.unlinkSync(path.join("data/queue", name));
    console.log("done", name);
  }
}, 200);
