// The test receiver itself (receiver.mjs), on loopback: deliveries signed here with node:crypto
// (the specification's recipe, not the library the receiver verifies with) are recorded as
// verified, tampered or stale ones are not, and each mode answers as documented.
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const receiverPath = fileURLToPath(new URL("./receiver.mjs", import.meta.url));
const keyA = randomBytes(32);
const keyB = randomBytes(32);
const secretA = `whsec_${keyA.toString("base64")}`;
const secretB = `whsec_${keyB.toString("base64")}`;

function sign(key, id, ts, body) {
  return `v1,${createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64")}`;
}

let proc;
let base;

async function deliver(body, { key = keyA, id = `msg_${randomBytes(6).toString("hex")}`, ts = Math.floor(Date.now() / 1000), signature } = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const headers = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(ts),
    "webhook-signature": signature ?? sign(key, id, ts, text),
  };
  return fetch(`${base}/hooks/outcall`, { method: "POST", headers, body: text });
}

async function control(path, body) {
  const r = await fetch(`${base}/_control/${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

before(async () => {
  proc = spawn(process.execPath, [receiverPath, "0"], {
    env: { ...process.env, RECEIVER_SECRETS: `${secretA}` },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  proc.stdout.setEncoding("utf8");
  await new Promise((resolve, reject) => {
    proc.on("exit", (code) => reject(new Error(`receiver exited ${code}`)));
    proc.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        base = m[1];
        resolve();
      }
    });
  });
});

after(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGTERM");
    await once(proc, "exit");
  }
});

beforeEach(async () => {
  await control("reset", {});
  await control("secrets", { secrets: [secretA] });
});

describe("receiver", () => {
  test("records a delivery signed per the spec as verified, with type and subject", async () => {
    const event = { type: "call.completed", timestamp: new Date().toISOString(), data: { subject: "call:abc", callId: "abc" } };
    const r = await deliver(event, { id: "msg_1" });
    assert.equal(r.status, 200);
    const [rec, ...more] = await control("received");
    assert.equal(more.length, 0);
    assert.equal(rec.verified, true, rec.error);
    assert.equal(rec.webhookId, "msg_1");
    assert.equal(rec.type, "call.completed");
    assert.equal(rec.subject, "call:abc");
    assert.equal(rec.body, JSON.stringify(event));
    assert.equal(rec.answer, 200);
  });

  test("the subject, when data has none, from the event's ids", async () => {
    await deliver({ type: "appointment.confirmed", data: { appointmentId: 42 } });
    await deliver({ type: "call.failed", data: { callId: "k1", appointmentId: 42 } });
    await deliver({ type: "patient.opted_out", data: { phoneNumber: "+57300****567" } });
    assert.deepEqual((await control("received")).map((r) => r.subject), ["appointment:42", "call:k1", null]);
  });

  test("a tampered body, a stale timestamp, another key: recorded as not verified", async () => {
    const id = "msg_t";
    const ts = Math.floor(Date.now() / 1000);
    const signed = JSON.stringify({ type: "call.failed", timestamp: "x", data: {} });
    await deliver(signed.replace("failed", "completed"), { id, ts, signature: sign(keyA, id, ts, signed) });
    await deliver({ type: "call.failed", data: {} }, { ts: ts - 600 });
    await deliver({ type: "call.failed", data: {} }, { key: keyB });
    const recs = await control("received");
    assert.deepEqual(recs.map((r) => r.verified), [false, false, false]);
    assert.match(recs[1].error, /too old/);
    assert.deepEqual(recs.map((r) => r.seq), [1, 2, 3]);
  });

  test("rotation: two signatures in one header, and two secrets", async () => {
    const id = "msg_rot";
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: "patient.opted_out", data: {} });
    // The sender signs with both; this receiver knows only the new one.
    await control("secrets", { secrets: [secretB] });
    await deliver(body, { id, ts, signature: `${sign(keyA, id, ts, body)} ${sign(keyB, id, ts, body)}` });
    // A receiver with both secrets verifies a delivery signed with the old one only.
    await control("secrets", { secrets: [secretB, secretA] });
    await deliver(body, { key: keyA });
    assert.deepEqual((await control("received")).map((r) => r.verified), [true, true]);
  });

  test("fail mode answers the status for failCount deliveries, then ok", async () => {
    await control("mode", { mode: "fail", failCount: 2, status: 500 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await deliver({ type: "call.completed", data: {} })).status);
    assert.deepEqual(statuses, [500, 500, 200]);
    assert.equal((await control("mode")).mode, "ok");
    assert.deepEqual((await control("received")).map((r) => r.answer), [500, 500, 200]);
  });

  test("down mode closes the socket without an answer", async () => {
    await control("mode", { mode: "down", failCount: 1 });
    await assert.rejects(deliver({ type: "call.completed", data: {} }));
    assert.equal((await deliver({ type: "call.completed", data: {} })).status, 200);
    assert.deepEqual((await control("received")).map((r) => r.answer), ["closed", 200]);
  });

  test("slow mode answers 200 after delayMs", async () => {
    await control("mode", { mode: "slow", delayMs: 300 });
    const t0 = Date.now();
    assert.equal((await deliver({ type: "call.completed", data: {} })).status, 200);
    assert.ok(Date.now() - t0 >= 290, `answered after ${Date.now() - t0} ms`);
    await control("mode", { mode: "ok" });
  });

  test("bad control requests are refused", async () => {
    const r = await fetch(`${base}/_control/mode`, { method: "POST", body: JSON.stringify({ mode: "sideways" }) });
    assert.equal(r.status, 400);
    assert.equal((await fetch(`${base}/_control/nothing`)).status, 404);
    assert.equal((await control("received")).length, 0, "control requests are not deliveries");
  });
});
