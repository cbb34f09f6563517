#!/usr/bin/env node
// A minimal, fast receiver of outcall's outbound webhooks for the outbox benchmark
// (bench/outbox_bench.sh). Unlike tests/outbound/receiver.mjs (the reference verifier of the
// tests, which keeps every body and verifies with the `standardwebhooks` package) it keeps only
// what the benchmark needs and answers 204 at once.
//
//   [RECEIVER_DELAY_MS=N] node bench/outbox_receiver.mjs PORT
//
// RECEIVER_DELAY_MS: answer each delivery after N ms (a receiver across a network, or one that
// does some work before it answers), without holding the event loop.
// Listens on 127.0.0.1:PORT and prints "receiver: listening on http://127.0.0.1:<port>".
//   POST /_control/secret   body: the subscription's secret (whsec_...): from then on every
//                           delivery's signature is checked (HMAC-SHA256 over id.timestamp.body,
//                           node:crypto) and counted as verified or not. Without it: not checked.
//   GET  /_control/records  one line per delivery, in arrival order, tab-separated:
//                           webhook-id, arrival (Unix seconds, microseconds), verified (t/f/-)
//   GET  /_control/count    {"received": N, "unique": N, "unverified": N}
// Any other request is a delivery: 204, its webhook-id and arrival time recorded.
// Nothing of the body (patient data) is kept.
import http from "node:http";
import crypto from "node:crypto";

const port = Number(process.argv[2] ?? 0);
const delayMs = Number(process.env.RECEIVER_DELAY_MS ?? 0);
let key = null; // the secret's key bytes
const ids = [];
const at = [];
const verified = [];
const seen = new Set();
let unverified = 0;

function now() {
  return (performance.timeOrigin + performance.now()) / 1000;
}

function check(headers, body) {
  if (key === null) return "-";
  const id = headers["webhook-id"] ?? "";
  const ts = headers["webhook-timestamp"] ?? "";
  const mac = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest("base64");
  const sigs = String(headers["webhook-signature"] ?? "").split(" ");
  return sigs.some((s) => s === `v1,${mac}`) ? "t" : "f";
}

const server = http.createServer((req, res) => {
  const arrived = now();
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (req.url.startsWith("/_control/")) {
      const body = Buffer.concat(chunks).toString();
      if (req.method === "POST" && req.url === "/_control/secret") {
        key = Buffer.from(body.trim().replace(/^whsec_/, ""), "base64");
        res.writeHead(204).end();
      } else if (req.url === "/_control/records") {
        const lines = [];
        for (let i = 0; i < ids.length; i++) lines.push(`${ids[i]}\t${at[i].toFixed(6)}\t${verified[i]}\n`);
        res.writeHead(200, { "content-type": "text/tab-separated-values" }).end(lines.join(""));
      } else if (req.url === "/_control/count") {
        res.writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ received: ids.length, unique: seen.size, unverified }));
      } else {
        res.writeHead(404).end();
      }
      return;
    }
    const id = String(req.headers["webhook-id"] ?? "");
    const v = check(req.headers, Buffer.concat(chunks));
    if (v === "f") unverified++;
    ids.push(id);
    at.push(arrived);
    verified.push(v);
    seen.add(id);
    if (delayMs > 0) setTimeout(() => res.writeHead(204).end(), delayMs);
    else res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 5000;
server.listen(port, "127.0.0.1", () => {
  console.log(`receiver: listening on http://127.0.0.1:${server.address().port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
