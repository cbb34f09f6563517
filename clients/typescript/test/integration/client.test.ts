// @outcall/client against a private instance of the whole stack, through the REST face
// (test/integration/run.sh starts it with tests/support/stack.sh: scripts/up.sh on its own port
// offset, a fresh database, the simulator instead of ElevenLabs, its clock sped up).
//
// Tokens are minted here (HS256 with node:crypto from the stack's JWT_* settings), as the edge
// test mints its own. Calls go to the simulator's scripted numbers (docs/simulator.md).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { once } from "node:events";
import {
  OutcallClient,
  OutcallError,
  createElevenLabsService,
  elevenLabsService,
  verifyWebhook,
  type Conversation,
} from "@outcall/client";

const env = (name: string): string => {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run test/integration/run.sh`);
  return v;
};
const STACK_URL = env("STACK_URL");
const DATABASE_URL = env("DATABASE_URL");
const ALL = [
  "calls:read",
  "calls:write",
  "campaigns:write",
  "policy:read",
  "consent:write",
  "privacy:admin",
  "sync:read",
  "sync:write",
  "webhooks:admin",
];

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");
function mint(perms: string[] = ALL, sub = "ts-client-test"): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(
    JSON.stringify({
      iss: env("JWT_ISSUER"),
      aud: env("JWT_AUDIENCE").split(",")[0],
      sub,
      iat: now,
      nbf: now - 5,
      exp: now + 300,
      scope: perms.join(" "),
    }),
  );
  const sig = createHmac("sha256", env("JWT_HS256_SECRET")).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

function psql(sql: string): string {
  return execFileSync("psql", [DATABASE_URL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], { encoding: "utf8" }).trim();
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
}

const FINAL = new Set(["completed", "failed", "no_answer", "busy", "ended_manually", "canceled"]);
const client = new OutcallClient({ baseUrl: STACK_URL, token: () => mint() });

// Every call this file places, for the statistics check.
const placed: { conversationId: string; expect: string }[] = [];

async function finalStatus(conversationId: string): Promise<Conversation> {
  return waitFor(`${conversationId} to end`, async () => {
    const c = (await client.getConversation(conversationId)).data!;
    return FINAL.has(c.status) ? c : undefined;
  });
}

/** Bogotá's calendar date, `days` from today. */
function bogotaDate(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Bogota", year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

before(() => {
  // The original README's patient and appointment (as the edge test seeds them), and one who
  // asked never to be called.
  psql(
    "INSERT INTO patients (id, full_name, phone_e164) VALUES (123, 'Juan Pérez', '+573001234567') ON CONFLICT (id) DO NOTHING",
  );
  psql(
    "INSERT INTO appointments (id, patient_id, scheduled_at, doctor_name) VALUES (456, 123, now() + interval '2 days', 'Dr. García') ON CONFLICT (id) DO NOTHING",
  );
  psql(
    "INSERT INTO patients (id, full_name, phone_e164, do_not_call) VALUES (124, 'María López', '+573005550011', true) ON CONFLICT (id) DO NOTHING",
  );
});

describe("calls through the facade and the client", () => {
  test("the original README's initiateCall, through elevenLabsService configured from OUTCALL_URL / OUTCALL_TOKEN", async () => {
    process.env.OUTCALL_URL = STACK_URL;
    process.env.OUTCALL_TOKEN = mint();
    const result = await elevenLabsService.initiateCall({
      phoneNumber: "+573001234567",
      patientId: 123,
      patientName: "Juan Pérez",
      appointmentId: 456,
      customVariables: {
        appointment_date: "2025-10-27",
        appointment_time: "10:00 AM",
        doctor_name: "Dr. García",
      },
    });
    assert.equal(result.success, true, result.error);
    assert.match(result.conversationId!, /^conv_/);
    assert.ok(result.callId);
    assert.equal(result.status, "initiated");
    placed.push({ conversationId: result.conversationId!, expect: "completed" });
  });

  test("getConversation: the call, then its transcript once the simulator has ended it", async () => {
    const id = placed[0]!.conversationId;
    const first = await client.getConversation(id);
    assert.equal(first.success, true);
    assert.equal(first.data!.conversationId, id);
    assert.equal(first.data!.patientId, 123);
    assert.equal(first.data!.appointmentId, 456);
    const done = await finalStatus(id);
    assert.equal(done.status, "completed");
    assert.ok(done.durationSecs > 0);
    assert.ok(done.transcript.length > 0);
    assert.equal(typeof done.costCredits, "string", "int64 is a string in the JSON");
  });

  test("more calls: busy and failed numbers (client.initiateCall, with an Idempotency-Key)", async () => {
    for (const [phone, expect] of [
      ["+573005550005", "busy"],
      ["+573005550007", "failed"],
    ] as const) {
      const key = randomUUID();
      const r = await client.initiateCall({ phoneNumber: phone, patientName: "Prueba" }, { idempotencyKey: key });
      assert.equal(r.success, true);
      // the same key again: the same call, not a second one
      const again = await client.initiateCall({ phoneNumber: phone, patientName: "Prueba" }, { idempotencyKey: key });
      assert.equal(again.data!.conversationId, r.data!.conversationId);
      placed.push({ conversationId: r.data!.conversationId, expect });
    }
    for (const p of placed) assert.equal((await finalStatus(p.conversationId)).status, p.expect, p.conversationId);
  });

  test("getCalls: the history has the calls placed, filtered by patient", async () => {
    const all = await client.getCalls({ limit: 100 });
    assert.equal(all.success, true);
    const ids = new Set(all.data.map((c) => c.conversationId));
    for (const p of placed) assert.ok(ids.has(p.conversationId), p.conversationId);
    const mine = await createElevenLabsService(client).getCalls({ page: 1, limit: 20, patientId: 123 });
    assert.ok(mine.data.length >= 1);
    for (const row of mine.data) assert.equal(row.patientId, 123);
    assert.equal(mine.pagination!.page, 1);
    assert.equal(mine.pagination!.limit, 20);
  });

  test("getCallStats: the figures are the calls placed (facade and client)", async () => {
    const range = { startDate: bogotaDate(-1), endDate: bogotaDate(1) };
    const completed = placed.filter((p) => p.expect === "completed").length;
    const failed = placed.filter((p) => ["failed", "no_answer", "busy"].includes(p.expect)).length;
    const stats = await waitFor("the statistics to count every call", async () => {
      const s = await elevenLabsService.getCallStats(range);
      return s.total_calls === placed.length && s.completed_calls === completed && s.failed_calls === failed ? s : undefined;
    }, 30_000);
    assert.ok(stats.avg_duration > 0);
    assert.ok(stats.total_cost >= 0);
    const byStatus = Object.fromEntries(stats.by_status.map((s) => [s.status, s.count]));
    assert.deepEqual(byStatus, { completed: 1, busy: 1, failed: 1 });
    // The original README's example, status filter and all.
    const onlyCompleted = await elevenLabsService.getCallStats({ ...range, status: "completed" });
    assert.equal(onlyCompleted.total_calls, completed);
    // Through the client: the whole answer.
    const raw = await client.getCallStats(range);
    assert.equal(raw.success, true);
    assert.equal(raw.data!.total_calls, placed.length);
    const daily = await client.getDailyStats(range);
    assert.equal(daily.data.reduce((n, d) => n + d.total_calls, 0), placed.length);
  });

  test("a refused call: success false with the error, never a rejection", async () => {
    const service = createElevenLabsService({ baseUrl: STACK_URL, token: mint() });
    const bad = await service.initiateCall({ phoneNumber: "12", patientName: "Nadie" });
    assert.equal(bad.success, false);
    assert.equal(bad.httpStatus, 400);
    assert.equal(bad.code, "INVALID_ARGUMENT");
    assert.match(bad.error!, /phoneNumber/);
    assert.equal(bad.conversationId, undefined);

    const dnc = await service.callPatient(124, {});
    assert.equal(dnc.success, false, "a do-not-call patient is refused");
    assert.ok(dnc.httpStatus >= 400 && dnc.httpStatus < 500, `${dnc.httpStatus} ${dnc.error}`);
    assert.ok(dnc.error);

    const down = await createElevenLabsService({ baseUrl: "http://127.0.0.1:9", token: mint() }).initiateCall({ phoneNumber: "3001234567" });
    assert.deepEqual([down.success, down.httpStatus, down.code], [false, 0, "UNAVAILABLE"]);
  });

  test("OutcallError from the real edge: 400, 404, 401, 403 with {code, message, details}", async () => {
    await assert.rejects(client.initiateCall({ phoneNumber: "12" }), (e: unknown) => {
      assert.ok(e instanceof OutcallError);
      assert.deepEqual([e.status, e.code, e.codeName], [400, 3, "INVALID_ARGUMENT"]);
      assert.deepEqual(e.details, []);
      assert.match(e.requestId ?? "", /^[0-9a-f-]{36}$/, "the x-request-id the client sent");
      return true;
    });
    await assert.rejects(client.getConversation("conv_does_not_exist"), (e: unknown) => e instanceof OutcallError && e.status === 404 && e.code === 5);
    const anonymous = new OutcallClient({ baseUrl: STACK_URL });
    await assert.rejects(anonymous.getCallStats(), (e: unknown) => e instanceof OutcallError && e.status === 401 && e.code === 16 && /Jwt is missing/.test(e.message));
    const readOnly = new OutcallClient({ baseUrl: STACK_URL, token: mint(["calls:read"]) });
    await assert.rejects(readOnly.initiateCall({ phoneNumber: "3001234567" }), (e: unknown) => e instanceof OutcallError && e.status === 403 && e.code === 7);
  });

  test("listAgents: the simulator's agents, as the seed listed them", async () => {
    const agents = await client.listAgents();
    assert.equal(agents.success, true);
    assert.equal(agents.count, agents.data.length);
    assert.ok(agents.data[0]!.agent_id);
  });

  test("watchCallEvents: a new call's state changes arrive on the stream", async () => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 30_000);
    const seen: string[] = [];
    let target: string | undefined;
    const stream = client.watchCallEvents({}, { signal: ac.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const firstNext = iterator.next(); // the request is sent; the stream is open before the call
    await new Promise((r) => setTimeout(r, 300));
    const r = await client.initiateCall({ phoneNumber: "+573005550001", patientName: "Stream" });
    target = r.data!.conversationId;
    placed.push({ conversationId: target, expect: "completed" });
    try {
      let next = await firstNext;
      while (!next.done) {
        if (next.value.conversationId === target) {
          seen.push(next.value.status);
          if (FINAL.has(next.value.status)) break;
        }
        next = await iterator.next();
      }
    } finally {
      clearTimeout(timer);
      await iterator.return?.();
    }
    assert.ok(seen.length > 0, "no event for the call");
    assert.equal(seen[seen.length - 1], "completed");
  });
});

describe("campaigns", () => {
  test("createCampaign (idempotent) and getCampaign", async () => {
    const key = randomUUID();
    const request = {
      spec: { name: `ts-client ${key.slice(0, 8)}`, purpose: "confirmation", variablesTemplate: { clinic_name: "Clínica Norte" } },
      recipients: [
        { phoneNumber: "+573005550001", variables: { appointment_time: "10:00 AM" } },
        { phoneNumber: "+573005550002", variables: { appointment_time: "11:00 AM" } },
      ],
    };
    const created = await client.createCampaign(request, { idempotencyKey: key });
    assert.ok(created.campaignId);
    assert.equal(created.state, "draft");
    assert.equal(created.spec!.name, request.spec.name);
    const again = await client.createCampaign(request, { idempotencyKey: key });
    assert.equal(again.campaignId, created.campaignId, "the same key gets the same campaign");

    const got = await client.getCampaign(created.campaignId);
    assert.equal(got.campaignId, created.campaignId);
    assert.equal(got.counters!.total, 2);
    assert.equal(got.spec!.variablesTemplate!.clinic_name, "Clínica Norte");
    const list = await client.listCampaigns({ state: "draft" });
    assert.ok(list.campaigns.some((c) => c.campaignId === created.campaignId));
    const added = await client.addRecipients({ campaignId: created.campaignId, recipients: [{ phoneNumber: "12" }, { phoneNumber: "+573005550004" }] });
    assert.equal(added.added, 1);
    assert.equal(added.errors.length, 1);
    assert.equal(added.errors[0]!.index, 0);
    const canceled = await client.cancelCampaign({ campaignId: created.campaignId, reason: "ts-client test" });
    assert.equal(canceled.state, "canceled");
  });
});

// The clinic sync and webhook-subscription services are call-gateway's newest (sync.proto,
// webhooks.proto). These tests expect them served: a 404/501 here means the server side is not
// there yet.
describe("clinic sync", () => {
  const ref = `HC-${randomUUID().slice(0, 8)}`;

  test("upsertPatients: a good row and a bad row, a result per row", async () => {
    const res = await client.upsertPatients({
      patients: [
        { externalRef: ref, fullName: "Ana Gómez", phone: "300 555 0001", timeZone: "America/Bogota" },
        { externalRef: `${ref}-bad`, fullName: "Luis Mal", phone: "12" },
      ],
    });
    assert.equal(res.accepted, 1);
    assert.equal(res.created, 1);
    assert.equal(res.refused, 1);
    assert.equal(res.results.length, 2);
    assert.deepEqual([res.results[0]!.index, res.results[0]!.externalRef, res.results[0]!.outcome], [0, ref, "created"]);
    assert.ok(res.results[0]!.id > 0);
    assert.deepEqual([res.results[1]!.index, res.results[1]!.outcome, res.results[1]!.field], [1, "refused", "phone"]);
    assert.ok(res.results[1]!.error);
    // the same rows again: unchanged, still refused
    const again = await client.upsertPatients({ patients: [{ externalRef: ref, fullName: "Ana Gómez", phone: "300 555 0001", timeZone: "America/Bogota" }] });
    assert.equal(again.results[0]!.outcome, "unchanged");
  });

  test("getPatient, upsertAppointments, listAppointments, cancelAppointment, the FHIR views", async () => {
    const patient = await client.getPatient(ref);
    assert.equal(patient.fullName, "Ana Gómez");
    assert.equal(patient.phoneNumber, "+573005550001");
    const at = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const appt = `${ref}-CITA`;
    const res = await client.upsertAppointments({
      appointments: [
        { externalRef: appt, patientExternalRef: ref, scheduledAt: at, doctorName: "Dr. García", specialty: "Medicina general" },
        { externalRef: `${appt}-x`, patientExternalRef: "HC-nobody", scheduledAt: at },
      ],
    });
    assert.equal(res.accepted, 1);
    assert.equal(res.refused, 1);
    assert.equal(res.results[1]!.outcome, "refused");
    const list = await client.listAppointments({ patientExternalRef: ref });
    assert.deepEqual(list.appointments.map((a) => a.externalRef), [appt]);
    assert.equal(list.appointments[0]!.status, "scheduled");
    const fhirPatient = await client.getFhirPatient(ref);
    assert.equal(fhirPatient.resourceType, "Patient");
    const canceled = await client.cancelAppointment(appt);
    assert.equal(canceled.status, "canceled");
    const fhirAppointment = await client.getFhirAppointment(appt);
    assert.equal(fhirAppointment.resourceType, "Appointment");
    assert.equal(fhirAppointment.status, "cancelled");
    const deleted = await client.deletePatient(ref);
    assert.equal(deleted.deleted, true);
    await assert.rejects(client.getPatient(ref), (e: unknown) => e instanceof OutcallError && e.status === 404);
  });

  test("importFhir: a FHIR Patient", async () => {
    const fhirRef = `${ref}-fhir`;
    const res = await client.importFhir({
      resourceType: "Patient",
      id: fhirRef,
      identifier: [{ value: fhirRef }],
      name: [{ text: "Rosa Díaz" }],
      telecom: [{ system: "phone", value: "+573005550002" }],
      birthDate: "1970-01-01",
    });
    assert.equal(res.accepted, 1, JSON.stringify(res));
    assert.ok(res.ignored.length >= 1, "birthDate is not mapped");
  });
});

describe("webhook subscriptions", () => {
  let receiver: ChildProcess | undefined;
  let receiverUrl = "";
  let sub: Awaited<ReturnType<typeof client.createWebhookSubscription>> | undefined;

  interface Received {
    seq: number;
    type: string;
    verified: boolean;
    body: string;
    webhookId: string;
    timestamp: string;
    signature: string;
    error: string | null;
    answer: number | string | null;
  }
  const received = async (): Promise<Received[]> => (await (await fetch(`${receiverUrl}/_control/received`)).json()) as Received[];
  const controlPost = async (path: string, body: unknown) => {
    const r = await fetch(`${receiverUrl}/_control/${path}`, { method: "POST", body: JSON.stringify(body) });
    assert.equal(r.status, 200, await r.text());
  };
  /** Places a call to the simulator's confirmed number; resolves to its callId. */
  async function callThatCompletes(name: string): Promise<string> {
    const call = await client.initiateCall({ phoneNumber: "+573005550001", patientName: name });
    placed.push({ conversationId: call.data!.conversationId, expect: "completed" });
    return call.data!.callId;
  }
  const forCall = (callId: string) => (r: Received) => r.type === "call.completed" && JSON.parse(r.body).data?.callId === callId;

  before(async () => {
    const path = env("OUTCALL_RECEIVER");
    receiver = spawn(process.execPath, [path, "0"], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RECEIVER_SECRETS: "" } });
    receiver.stdout!.setEncoding("utf8");
    receiverUrl = await new Promise<string>((resolve, reject) => {
      let out = "";
      receiver!.on("exit", (code) => reject(new Error(`receiver exited ${code}`)));
      receiver!.stdout!.on("data", (c: string) => {
        out += c;
        const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
        if (m) resolve(m[1]!);
      });
    });
  });

  after(async () => {
    if (receiver && receiver.exitCode === null) {
      receiver.kill("SIGTERM");
      await once(receiver, "exit");
    }
  });

  test("createWebhookSubscription, then a call's call.completed reaches the receiver, signed", async () => {
    sub = await client.createWebhookSubscription({
      url: `${receiverUrl}/hooks/outcall`,
      eventTypes: ["call.completed", "call.failed"],
      description: "ts-client test",
    });
    assert.ok(sub.subscriptionId);
    assert.ok(sub.secret !== undefined, "the creation answer shows the secret");
    assert.match(sub.secret, /^whsec_[A-Za-z0-9+/=]+$/);
    assert.equal(sub.state, "active");
    assert.deepEqual([...sub.eventTypes].sort(), ["call.completed", "call.failed"]);
    const got = await client.getWebhookSubscription(sub.subscriptionId);
    assert.equal(got.secret, undefined, "the secret is shown only on creation");
    await controlPost("secrets", { secrets: [sub.secret] });

    const callId = await callThatCompletes("Webhook");
    const rec = await waitFor("call.completed at the receiver", async () => (await received()).find(forCall(callId)), 60_000);
    assert.equal(rec.verified, true, `the reference library refused outcall's signature: ${rec.error}`);
    // and this package's verifier agrees
    const event = verifyWebhook(sub.secret, { "webhook-id": rec.webhookId, "webhook-timestamp": rec.timestamp, "webhook-signature": rec.signature }, rec.body);
    assert.equal(event.type, "call.completed");
    if (event.type === "call.completed") {
      assert.equal(event.data.callId, callId);
      assert.match(String(event.data.phoneNumber), /\*/, "masked without full data");
      assert.equal(event.data.patientName, undefined, "no name without full data");
    }

    const deliveries = await waitFor("the delivery logged as delivered", async () => {
      const d = await client.listWebhookDeliveries(sub!.subscriptionId);
      return d.deliveries.some((x) => x.eventId === rec.webhookId && x.state === "delivered") ? d : undefined;
    }, 20_000);
    assert.ok(deliveries.deliveries.length >= 1);
    const list = await client.listWebhookSubscriptions();
    assert.ok(list.subscriptions.some((s) => s.subscriptionId === sub!.subscriptionId));
  });

  test("a receiver answering 503 once: the same event again, with the same webhook-id, logged", async () => {
    assert.ok(sub, "needs the subscription of the test before");
    await controlPost("reset", {});
    await controlPost("mode", { mode: "fail", failCount: 1, status: 503 });
    const callId = await callThatCompletes("Retry");
    const recs = await waitFor("the retry after the 503", async () => {
      const mine = (await received()).filter(forCall(callId));
      return mine.length >= 2 ? mine : undefined;
    }, 90_000);
    assert.deepEqual(recs.slice(0, 2).map((r) => r.answer), [503, 200]);
    assert.equal(recs[1]!.webhookId, recs[0]!.webhookId, "a retry keeps the webhook-id");
    assert.ok(recs.every((r) => r.verified), "every attempt signed");
    const log = await waitFor("the delivery's attempts", async () => {
      const d = await client.listWebhookDeliveries({ subscriptionId: sub!.subscriptionId, eventId: recs[0]!.webhookId });
      const x = d.deliveries.find((y) => y.eventId === recs[0]!.webhookId);
      return x && x.state === "delivered" ? x : undefined;
    }, 20_000);
    assert.deepEqual(log.attemptLog.map((a) => a.httpStatus).slice(0, 2), [503, 200]);
  });

  test("rotateWebhookSecret: deliveries carry both signatures; either secret verifies", async () => {
    assert.ok(sub, "needs the subscription of the first test");
    const old = sub.secret ?? "";
    const rotated = await client.rotateWebhookSecret({ subscriptionId: sub.subscriptionId, previousValidHours: 1 });
    assert.ok(rotated.secret !== undefined, "the rotation answer shows the new secret");
    assert.match(rotated.secret, /^whsec_/);
    assert.notEqual(rotated.secret, old);
    assert.equal(rotated.secretVersion, sub.secretVersion + 1);
    await controlPost("reset", {});
    await controlPost("secrets", { secrets: [rotated.secret] });
    const callId = await callThatCompletes("Rotation");
    const rec = await waitFor("call.completed after the rotation", async () => (await received()).find(forCall(callId)), 60_000);
    assert.equal(rec.verified, true, rec.error ?? "");
    assert.equal(rec.signature.split(" ").length, 2, `two signatures during the overlap: ${rec.signature}`);
    const headers = { "webhook-id": rec.webhookId, "webhook-timestamp": rec.timestamp, "webhook-signature": rec.signature };
    assert.equal(verifyWebhook(old, headers, rec.body).type, "call.completed");
    assert.equal(verifyWebhook(rotated.secret, headers, rec.body).type, "call.completed");

    const removed = await client.deleteWebhookSubscription(sub.subscriptionId);
    assert.equal(removed.deleted, true);
  });
});
