#!/usr/bin/env node
// A test receiver of outcall's outbound webhooks (proto/outcall/v1/webhooks.proto).
//
//   RECEIVER_SECRETS=whsec_...[,whsec_...] node tests/outbound/receiver.mjs [PORT]
//
// Listens on 127.0.0.1:PORT (argument, else $RECEIVER_PORT, else 0 = any free port) and prints
// "receiver: listening on http://127.0.0.1:<port>" once it does. Every request outside /_control
// is a delivery: it is verified with the Standard Webhooks reference library (`standardwebhooks`,
// an implementation of the specification independent of outcall's C++ signer) against each
// secret, recorded in memory, and answered as the current mode says.
//
// Control endpoints (JSON):
//   POST /_control/mode     {"mode": "ok"|"fail"|"down"|"slow", "failCount": N, "status": 503, "delayMs": 2000}
//                           ok: 200. fail: `status` (default 503). down: the socket is closed
//                           without an answer. slow: 200 after delayMs (default 2000). failCount:
//                           how many deliveries the mode applies to before it returns to ok
//                           (absent: until the next mode command).
//   GET  /_control/mode     the current mode
//   GET  /_control/received the records, in arrival order:
//                           {seq, receivedAt, method, path, webhookId, timestamp, signature, type,
//                            subject, body, verified, error, mode, answer}; subject: data.subject,
//                           else from the event's ids (call:<callId>, appointment:<appointmentId>,
//                           campaign:<campaignId>, patient:<patientId>)
//   POST /_control/reset    forgets the records; mode ok
//   POST /_control/secrets  {"secrets": ["whsec_..."]}: replaces the secrets (e.g. after a
//                           rotation the test learns the new one)
// Environment: RECEIVER_SECRETS (comma-separated), RECEIVER_REJECT_UNVERIFIED=1 (answer 401 to a
// delivery that does not verify, instead of what the mode says).
import http from "node:http";
import { Webhook } from "standardwebhooks";

const MAX_BODY = 5 * 1024 * 1024;
const port = Number(process.argv[2] ?? process.env.RECEIVER_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`receiver: bad port ${process.argv[2] ?? process.env.RECEIVER_PORT}`);
  process.exit(2);
}
const rejectUnverified = process.env.RECEIVER_REJECT_UNVERIFIED === "1";

let verifiers = [];
function setSecrets(list) {
  const next = [];
  for (const s of list.map((x) => String(x).trim()).filter(Boolean)) {
    next.push(new Webhook(s)); // throws on a secret that is not base64
  }
  verifiers = next;
}
try {
  setSecrets((process.env.RECEIVER_SECRETS ?? "").split(","));
} catch (err) {
  console.error(`receiver: RECEIVER_SECRETS: ${err.message}`);
  process.exit(2);
}

const records = [];
let seq = 0;
let mode = { mode: "ok", remaining: null, status: 503, delayMs: 2000 };

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function verify(headers, raw) {
  if (verifiers.length === 0) return { verified: false, error: "no secret configured (RECEIVER_SECRETS)" };
  const h = {
    "webhook-id": headers["webhook-id"],
    "webhook-timestamp": headers["webhook-timestamp"],
    "webhook-signature": headers["webhook-signature"],
  };
  let error = "";
  for (const v of verifiers) {
    try {
      v.verify(raw, h, { jsonParse: false });
      return { verified: true, error: null };
    } catch (err) {
      error = err.message;
    }
  }
  return { verified: false, error };
}

// The event's subject (the unit of ordering): data.subject when the payload carries one, else
// as outcall names it from the event's own ids (call:<callId>, appointment:<appointmentId>,
// campaign:<campaignId>, patient:<patientId>); null when neither tells.
function subjectOf(payload) {
  if (!payload || typeof payload !== "object") return null;
  const data = payload.data && typeof payload.data === "object" ? payload.data : {};
  if (typeof data.subject === "string") return data.subject;
  if (typeof payload.subject === "string") return payload.subject;
  const kind = typeof payload.type === "string" ? payload.type.split(".")[0] : "";
  const id = { call: data.callId, appointment: data.appointmentId, campaign: data.campaignId, patient: data.patientId }[kind];
  return id === undefined || id === null ? null : `${kind}:${id}`;
}

function currentMode() {
  const m = mode;
  if (m.mode !== "ok" && m.remaining !== null) {
    m.remaining -= 1;
    if (m.remaining <= 0) mode = { ...m, mode: "ok", remaining: null };
  }
  return m;
}

async function control(req, res, path) {
  const raw = req.method === "POST" ? (await readBody(req)).toString("utf8") : "";
  let body = {};
  if (raw.trim() !== "") {
    try {
      body = JSON.parse(raw);
    } catch {
      return json(res, 400, { error: "body is not JSON" });
    }
  }
  if (path === "/_control/received" && req.method === "GET") return json(res, 200, records);
  if (path === "/_control/mode" && req.method === "GET") return json(res, 200, mode);
  if (path === "/_control/reset" && req.method === "POST") {
    records.length = 0;
    seq = 0;
    mode = { mode: "ok", remaining: null, status: 503, delayMs: 2000 };
    return json(res, 200, { reset: true });
  }
  if (path === "/_control/mode" && req.method === "POST") {
    const m = body.mode;
    if (!["ok", "fail", "down", "slow"].includes(m)) return json(res, 400, { error: "mode: ok, fail, down or slow" });
    const failCount = body.failCount;
    if (failCount !== undefined && failCount !== null && !(Number.isInteger(failCount) && failCount >= 0)) {
      return json(res, 400, { error: "failCount: a non-negative integer" });
    }
    const status = body.status ?? 503;
    if (!Number.isInteger(status) || status < 100 || status > 599) return json(res, 400, { error: "status: 100-599" });
    const delayMs = body.delayMs ?? 2000;
    if (!Number.isFinite(delayMs) || delayMs < 0) return json(res, 400, { error: "delayMs: >= 0" });
    const remaining = failCount === undefined || failCount === null ? null : failCount;
    mode = remaining === 0 ? { mode: "ok", remaining: null, status, delayMs } : { mode: m, remaining, status, delayMs };
    return json(res, 200, mode);
  }
  if (path === "/_control/secrets" && req.method === "POST") {
    if (!Array.isArray(body.secrets)) return json(res, 400, { error: "secrets: an array of whsec_..." });
    try {
      setSecrets(body.secrets);
    } catch (err) {
      return json(res, 400, { error: err.message });
    }
    return json(res, 200, { secrets: verifiers.length });
  }
  return json(res, 404, { error: "unknown control endpoint" });
}

async function delivery(req, res, path) {
  let raw;
  try {
    raw = await readBody(req);
  } catch (err) {
    return json(res, 413, { error: err.message });
  }
  const text = raw.toString("utf8");
  const { verified, error } = verify(req.headers, raw);
  let payload;
  try {
    payload = JSON.parse(text);
  } catch {
    payload = undefined;
  }
  const data = payload && typeof payload === "object" ? payload.data : undefined;
  const active = currentMode();
  const m = active.mode;
  const record = {
    seq: ++seq,
    receivedAt: new Date().toISOString(),
    method: req.method,
    path,
    webhookId: req.headers["webhook-id"] ?? null,
    timestamp: req.headers["webhook-timestamp"] ?? null,
    signature: req.headers["webhook-signature"] ?? null,
    type: payload && typeof payload.type === "string" ? payload.type : null,
    subject: subjectOf(payload),
    body: text,
    verified,
    error,
    mode: m,
    answer: null,
  };
  records.push(record);
  if (rejectUnverified && !verified) {
    record.answer = 401;
    return json(res, 401, { error: "signature not verified" });
  }
  if (m === "down") {
    record.answer = "closed";
    req.socket.destroy();
    return;
  }
  if (m === "fail") {
    record.answer = active.status ?? 503;
    const status = record.answer;
    return json(res, status, { error: `failing on purpose (${status})` });
  }
  if (m === "slow") {
    const delay = active.delayMs ?? 2000;
    await new Promise((r) => setTimeout(r, delay));
  }
  record.answer = 200;
  if (!res.destroyed) json(res, 200, { received: true });
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://receiver").pathname;
  const handler = path.startsWith("/_control/") ? control : delivery;
  handler(req, res, path).catch((err) => {
    if (!res.headersSent && !res.destroyed) json(res, 500, { error: String(err?.message ?? err) });
  });
});
server.keepAliveTimeout = 5000;

server.listen(port, "127.0.0.1", () => {
  console.log(`receiver: listening on http://127.0.0.1:${server.address().port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
