// verifyWebhook: the Standard Webhooks rules, with secrets made here and signatures computed
// here by node:crypto from the specification's recipe (not by the library the package uses).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { WebhookVerificationError, createWebhookVerifier, verifyWebhook, type OutcallWebhookEvent } from "@outcall/client";

const key = randomBytes(32);
const secret = `whsec_${key.toString("base64")}`;
const newKey = randomBytes(32);
const newSecret = `whsec_${newKey.toString("base64")}`;

const now = () => Math.floor(Date.now() / 1000);

function sign(k: Buffer, id: string, ts: number, body: string | Buffer): string {
  return `v1,${createHmac("sha256", k).update(`${id}.${ts}.`).update(body).digest("base64")}`;
}

function delivery(event: unknown, opts: { k?: Buffer; ts?: number; id?: string; signature?: string } = {}) {
  const body = JSON.stringify(event);
  const id = opts.id ?? `msg_${randomBytes(8).toString("hex")}`;
  const ts = opts.ts ?? now();
  return {
    body,
    headers: {
      "webhook-id": id,
      "webhook-timestamp": String(ts),
      "webhook-signature": opts.signature ?? sign(opts.k ?? key, id, ts, body),
    } as Record<string, string>,
  };
}

const event = {
  type: "call.completed",
  timestamp: "2026-12-04T15:00:31Z",
  data: { subject: "call:5f0c3c1e", callId: "5f0c3c1e", conversationId: "conv_abc123", status: "completed", phoneNumber: "+57300****567" },
};

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `not a WebhookVerificationError: ${String(err)}`);
    assert.equal(err.name, "WebhookVerificationError");
    assert.match(err.message, pattern);
    return true;
  });
}

describe("verifyWebhook", () => {
  test("a valid delivery returns the typed event", () => {
    const d = delivery(event);
    const got: OutcallWebhookEvent = verifyWebhook(secret, d.headers, d.body);
    assert.equal(got.type, "call.completed");
    assert.equal(got.timestamp, event.timestamp);
    assert.deepEqual(got.data, event.data);
  });

  test("raw bytes (Buffer, Uint8Array), Node's headers in any case, fetch's Headers", () => {
    const d = delivery(event);
    const upper = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k.toUpperCase(), v]));
    assert.equal(verifyWebhook(secret, upper, Buffer.from(d.body)).type, "call.completed");
    assert.equal(verifyWebhook(secret, new Headers(d.headers), new TextEncoder().encode(d.body)).type, "call.completed");
  });

  test("non-ASCII bodies are verified over their UTF-8 bytes", () => {
    const d = delivery({ type: "appointment.confirmed", timestamp: "2026-12-04T15:00:00Z", data: { patientName: "José Núñez" } });
    assert.equal(verifyWebhook(secret, d.headers, Buffer.from(d.body, "utf8")).data.patientName, "José Núñez");
  });

  test("a tampered body is refused", () => {
    const d = delivery(event);
    rejects(() => verifyWebhook(secret, d.headers, d.body.replace("completed", "failed")), /no matching signature/i);
  });

  test("a tampered id or timestamp is refused", () => {
    const d = delivery(event);
    rejects(() => verifyWebhook(secret, { ...d.headers, "webhook-id": "msg_other" }, d.body), /no matching signature/i);
    rejects(() => verifyWebhook(secret, { ...d.headers, "webhook-timestamp": String(now() - 1) }, d.body), /no matching signature/i);
  });

  test("another secret is refused", () => {
    const d = delivery(event);
    rejects(() => verifyWebhook(newSecret, d.headers, d.body), /no matching signature/i);
  });

  test("a timestamp more than 5 minutes old or ahead is refused, even correctly signed", () => {
    rejects(() => {
      const d = delivery(event, { ts: now() - 6 * 60 });
      verifyWebhook(secret, d.headers, d.body);
    }, /too old/i);
    rejects(() => {
      const d = delivery(event, { ts: now() + 6 * 60 });
      verifyWebhook(secret, d.headers, d.body);
    }, /too new/i);
    const recent = delivery(event, { ts: now() - 4 * 60 });
    assert.equal(verifyWebhook(secret, recent.headers, recent.body).type, "call.completed");
  });

  test("rotation: a header with two signatures verifies with either secret", () => {
    const body = JSON.stringify(event);
    const id = "msg_rotation";
    const ts = now();
    const both = `${sign(key, id, ts, body)} ${sign(newKey, id, ts, body)}`;
    const headers = { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": both };
    assert.equal(verifyWebhook(secret, headers, body).type, "call.completed");
    assert.equal(verifyWebhook(newSecret, headers, body).type, "call.completed");
    assert.equal(verifyWebhook([newSecret, secret], headers, body).type, "call.completed");
    const stranger = `whsec_${randomBytes(32).toString("base64")}`;
    rejects(() => verifyWebhook(stranger, headers, body), /no matching signature/i);
  });

  test("rotation on the receiving side: two secrets, a delivery signed with only one of them", () => {
    const oldOnly = delivery(event, { k: key });
    const newOnly = delivery(event, { k: newKey });
    const verify = createWebhookVerifier([newSecret, secret]);
    assert.equal(verify(oldOnly.headers, oldOnly.body).type, "call.completed");
    assert.equal(verify(newOnly.headers, newOnly.body).type, "call.completed");
  });

  test("an unknown signature version next to a valid v1 is ignored", () => {
    const d = delivery(event);
    const headers = { ...d.headers, "webhook-signature": `v2,${randomBytes(32).toString("base64")} ${d.headers["webhook-signature"]}` };
    assert.equal(verifyWebhook(secret, headers, d.body).type, "call.completed");
  });

  test("a missing header is refused, naming it", () => {
    const d = delivery(event);
    const { "webhook-signature": _drop, ...noSig } = d.headers;
    void _drop;
    rejects(() => verifyWebhook(secret, noSig, d.body), /webhook-signature/);
  });

  test("a parsed body is refused with the reason (express.json instead of express.raw)", () => {
    const d = delivery(event);
    rejects(() => verifyWebhook(secret, d.headers, JSON.parse(d.body) as never), /raw/);
  });

  test("a signed body that is not an event is refused", () => {
    const d = delivery([1, 2, 3]);
    rejects(() => verifyWebhook(secret, d.headers, d.body), /not an event/);
  });

  test("a malformed secret is a configuration error (TypeError), not a verification failure", () => {
    assert.throws(() => verifyWebhook([], {}, "{}"), TypeError);
    assert.throws(() => createWebhookVerifier("whsec_***"), TypeError);
  });
});
