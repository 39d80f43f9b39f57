// An HTTP/2 server over TLS (ALPN h2, HTTP/1.1 allowed) for the multi spec,
// on loopback. Every answer says which connection (session) carried it and
// how many of its streams were open at once, at most, so far.
//   /delay/<ms>/...  waits, then answers; anything else answers at once.
// usage: node h2d.js PORT CERT KEY
"use strict";
const http2 = require("http2");
const fs = require("fs");

const [port, cert, key] = process.argv.slice(2);
let sessions = 0;
const server = http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), allowHTTP1: true });

server.on("session", (session) => {
  session.basiq = { id: ++sessions, open: 0, max: 0 };
});

server.on("request", (req, res) => {
  const s = req.stream && req.stream.session ? req.stream.session.basiq : { id: 0, open: 0, max: 0 };
  s.open++;
  s.max = Math.max(s.max, s.open);
  const m = /^\/delay\/(\d+)/.exec(req.url);
  setTimeout(() => {
    s.open--;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ http: req.httpVersion, session: s.id, maxOpen: s.max, target: req.url }));
  }, m ? Number(m[1]) : 0);
});

server.listen(Number(port), "127.0.0.1");
