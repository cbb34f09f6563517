// The original service's facade: its result shapes, refusals that resolve instead of rejecting,
// and the environment-configured `elevenLabsService`.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OutcallClient, OutcallError, createElevenLabsService, elevenLabsService, optionsFromEnv } from "@outcall/client";
import { fakeFetch, type Recorded } from "../support/fake-fetch.js";

const handle = { success: true, conversationId: "conv_abc123", callId: "5f0c3c1e-0000-4000-8000-000000000001", status: "initiated" };
const stats = {
  total_calls: 150,
  completed_calls: 120,
  failed_calls: 30,
  avg_duration: 180.5,
  total_cost: 25.5,
  by_status: [{ status: "completed", count: 120, avg_duration: 180.5, total_cost: 25.5 }],
};

function service(answer: Parameters<typeof fakeFetch>[0]) {
  const f = fakeFetch(answer);
  return { svc: createElevenLabsService({ baseUrl: "http://edge.test", token: "tok", fetch: f.fetch }), calls: f.calls };
}

describe("createElevenLabsService", () => {
  test("initiateCall resolves to {success, conversationId, callId, status}", async () => {
    const { svc, calls } = service({ status: 200, body: { success: true, message: "Llamada iniciada exitosamente", data: handle } });
    const result = await svc.initiateCall({
      phoneNumber: "+573001234567",
      patientId: 123,
      patientName: "Juan Pérez",
      appointmentId: 456,
      customVariables: { appointment_date: "2025-10-27", appointment_time: "10:00 AM", doctor_name: "Dr. García" },
      idempotencyKey: "cita-456-confirmacion",
    });
    assert.deepEqual(result, {
      success: true,
      conversationId: "conv_abc123",
      callId: handle.callId,
      status: "initiated",
      message: "Llamada iniciada exitosamente",
    });
    const sent = calls[0]!;
    assert.equal(`${sent.method} ${sent.url.pathname}`, "POST /api/elevenlabs/call");
    assert.equal(sent.headers["idempotency-key"], "cita-456-confirmacion");
    const body = JSON.parse(sent.body!);
    assert.equal(body.idempotencyKey, undefined, "the key is a header, not a field");
    assert.equal(body.customVariables.doctor_name, "Dr. García");
  });

  test("a refused call resolves to success false with the error; it never rejects", async () => {
    const { svc } = service({ status: 400, body: { code: 9, message: "contact policy: opt_out (the number asked not to be called)", details: [] } });
    const result = await svc.initiateCall({ phoneNumber: "+573005550003" });
    assert.deepEqual(result, {
      success: false,
      error: "contact policy: opt_out (the number asked not to be called)",
      httpStatus: 400,
      code: "FAILED_PRECONDITION",
    });
  });

  test("outcall unreachable, a bad base URL, a 200 with success false: all success false", async () => {
    let { svc } = service(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }));
    let r = await svc.initiateCall({ phoneNumber: "3001234567" });
    assert.equal(r.success, false);
    assert.equal(r.httpStatus, 0);
    assert.equal(r.code, "UNAVAILABLE");
    assert.match(r.error!, /ECONNREFUSED/);

    ({ svc } = service({ status: 200, body: { success: false, message: "no agent configured", data: undefined } }));
    r = await svc.initiateCall({ phoneNumber: "3001234567" });
    assert.deepEqual(r, { success: false, error: "no agent configured", httpStatus: 200, code: "UNKNOWN" });

    ({ svc } = service({ status: 200, body: {} }));
    r = await svc.callPatient(123, { appointmentId: 456 });
    assert.equal(r.success, false);
  });

  test("callPatient sends the patient in the path and resolves like initiateCall", async () => {
    const { svc, calls } = service({ status: 200, body: { success: true, message: "", data: handle } });
    const r = await svc.callPatient(123, { appointmentId: 456, customVariables: { appointment_time: "10:00 AM" } });
    assert.equal(r.success && r.conversationId, "conv_abc123");
    assert.equal(calls[0]!.url.pathname, "/api/elevenlabs/call-patient/123");
    assert.deepEqual(JSON.parse(calls[0]!.body!), { appointmentId: 456, customVariables: { appointment_time: "10:00 AM" } });
  });

  test("getCallStats resolves to the stats object (total_calls, ...)", async () => {
    const { svc, calls } = service({ status: 200, body: { success: true, data: stats } });
    const s = await svc.getCallStats({ startDate: "2025-10-01", endDate: "2025-10-31", status: "completed" });
    assert.deepEqual(s, stats);
    assert.equal(s.total_calls, 150);
    assert.equal(calls[0]!.url.search, "?startDate=2025-10-01&endDate=2025-10-31&status=completed");
  });

  test("getCallStats rejects with OutcallError when refused (it returns figures, not a status)", async () => {
    const { svc } = service({ status: 400, body: { code: 3, message: "startDate: YYYY-MM-DD", details: [] } });
    await assert.rejects(svc.getCallStats({ startDate: "octubre" }), (e: unknown) => e instanceof OutcallError && e.status === 400);
  });

  test("getConversation, endCall, getCalls, getDailyStats, getAgents: the seed's data objects", async () => {
    const conversation = { conversationId: "conv_abc123", callId: handle.callId, status: "completed", transcript: [], errors: [] };
    const answers: Record<string, unknown> = {
      "GET /api/elevenlabs/conversation/conv_abc123": { success: true, data: conversation },
      "DELETE /api/elevenlabs/conversation/conv_abc123": { success: true, message: "ended", data: { ...handle, status: "ended_manually" } },
      "GET /api/elevenlabs/calls": { success: true, data: [{ conversationId: "conv_abc123" }], pagination: { page: 1, limit: 20, total: 1, pages: 1, nextCursor: "" } },
      "GET /api/elevenlabs/stats/daily": { success: true, data: [{ date: "2025-10-01", total_calls: 3 }], count: 1 },
      "GET /api/elevenlabs/agents": { success: true, data: [{ agent_id: "agent_123", name: "Valeria", tags: [] }], count: 1 },
    };
    const { svc } = service((req: Recorded) => ({ status: 200, body: answers[`${req.method} ${req.url.pathname}`] ?? {} }));
    assert.deepEqual(await svc.getConversation("conv_abc123"), conversation);
    assert.deepEqual(await svc.endCall("conv_abc123"), {
      success: true,
      message: "ended",
      conversationId: "conv_abc123",
      callId: handle.callId,
      status: "ended_manually",
    });
    const calls = await svc.getCalls({ page: 1, limit: 20, patientId: 123, status: "completed" });
    assert.equal(calls.data[0]!.conversationId, "conv_abc123");
    assert.equal(calls.pagination!.total, 1);
    assert.equal((await svc.getDailyStats({ startDate: "2025-10-01" }))[0]!.total_calls, 3);
    assert.equal((await svc.getAgents())[0]!.agent_id, "agent_123");
    assert.ok(svc.client instanceof OutcallClient);
  });
});

describe("elevenLabsService (from the environment)", () => {
  const saved = { url: process.env.OUTCALL_URL, token: process.env.OUTCALL_TOKEN, fetch: globalThis.fetch };
  afterEach(() => {
    if (saved.url === undefined) delete process.env.OUTCALL_URL;
    else process.env.OUTCALL_URL = saved.url;
    if (saved.token === undefined) delete process.env.OUTCALL_TOKEN;
    else process.env.OUTCALL_TOKEN = saved.token;
    globalThis.fetch = saved.fetch;
  });

  test("reads OUTCALL_URL and OUTCALL_TOKEN (the token at each request)", async () => {
    const f = fakeFetch({ status: 200, body: { success: true, message: "", data: handle } });
    globalThis.fetch = f.fetch;
    process.env.OUTCALL_URL = "http://outcall.clinic.test:8080";
    process.env.OUTCALL_TOKEN = "first";
    assert.equal((await elevenLabsService.initiateCall({ phoneNumber: "3001234567" })).success, true);
    process.env.OUTCALL_TOKEN = "second";
    await elevenLabsService.initiateCall({ phoneNumber: "3001234567" });
    assert.equal(f.calls[0]!.url.origin, "http://outcall.clinic.test:8080");
    assert.deepEqual(f.calls.map((c) => c.headers.authorization), ["Bearer first", "Bearer second"]);
  });

  test("defaults to the single-machine edge; a malformed OUTCALL_URL is a refusal, not a throw", async () => {
    assert.equal(optionsFromEnv({}).baseUrl, "http://127.0.0.1:8080");
    process.env.OUTCALL_URL = "::not a url::";
    const r = await elevenLabsService.initiateCall({ phoneNumber: "3001234567" });
    assert.equal(r.success, false);
    assert.match(r.error!, /URL/i);
  });
});
