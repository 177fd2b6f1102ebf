// Serves the built page, queues jobs for the worker, and says how it runs.
const fs = require("fs");
const http = require("http");
const path = require("path");
const ms = require("ms");

const port = Number(process.env.PORT || 8080);
const started = Date.now();

http
  .createServer((req, res) => {
    const send = (code, body, type = "application/json") => {
      res.writeHead(code, { "content-type": type });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    if (req.method === "GET" && req.url === "/") {
      return send(200, fs.readFileSync("dist/index.html", "utf8"), "text/html");
    }
    if (req.method === "POST" && req.url === "/jobs") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const name = `${Date.now()}-${Math.random().toString(16).slice(2)}.txt`;
        fs.writeFileSync(path.join("data/queue", name), body);
        send(201, { queued: name });
      });
      return;
    }
    if (req.method === "GET" && req.url === "/jobs") {
      const done = fs.readdirSync("data/done").map((f) => fs.readFileSync(path.join("data/done", f), "utf8"));
      return send(200, { done, schema: fs.readFileSync("data/schema", "utf8").trim() });
    }
    if (req.method === "GET" && req.url === "/about") {
      let writable = true;
      try {
        fs.mkdirSync("uploads", { recursive: true });
        fs.writeFileSync("uploads/probe.txt", "ok");
      } catch {
        writable = false;
      }
      return send(200, {
        uid: process.getuid(),
        node: process.versions.node.split(".")[0],
        writable,
        up: ms(Date.now() - started),
      });
    }
    send(404, { error: "not found" });
  })
  .listen(port, () => console.log(`listening on ${port}`));
