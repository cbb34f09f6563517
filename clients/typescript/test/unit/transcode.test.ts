// Requests to HTTP: query parameters, bodies, path variables, headers.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { OutcallClient, routes, transcode } from "@outcall/client";
import { fakeFetch } from "../support/fake-fetch.js";

describe("transcode", () => {
  test("GET: every field a query parameter by JSON name; repeated fields repeated; unset ones left out", () => {
    const parts = transcode(routes["Stats.ListCalls"], { page: 2, limit: 50, patientId: 123, status: "completed", agentId: undefined });
    assert.equal(parts.path, "/api/elevenlabs/calls");
    assert.equal(parts.body, undefined);
    assert.equal(parts.query.toString(), "page=2&limit=50&patientId=123&status=completed");
    const list = transcode(routes["ClinicSync.ListAppointments"], { from: new Date("2026-12-01T05:00:00Z"), status: "scheduled" });
    assert.equal(list.query.get("from"), "2026-12-01T05:00:00.000Z");
  });

  test("a path variable is taken out of the query and body; the proto name is accepted too", () => {
    const a = transcode(routes["Campaigns.ListRecipients"], { campaignId: "c/1", state: "done", pageSize: 10 });
    assert.equal(a.path, "/api/elevenlabs/campaigns/c%2F1/recipients");
    assert.equal(a.query.toString(), "state=done&pageSize=10");
    const b = transcode(routes["CallGateway.CallPatient"], { patient_id: 7, appointmentId: 456 } as never);
    assert.equal(b.path, "/api/elevenlabs/call-patient/7");
    assert.deepEqual(JSON.parse(b.body!), { appointmentId: 456 });
  });

  test("body \"*\": the request less its path variables, as JSON (Struct fields as plain objects)", () => {
    const req = { phoneNumber: "+573001234567", customVariables: { doctor_name: "Dr. García", slot: 3 } };
    const parts = transcode(routes["CallGateway.InitiateCall"], req);
    assert.deepEqual(JSON.parse(parts.body!), req);
    assert.equal(parts.query.toString(), "");
  });

  test("body naming a field: that field is the body (ImportFhir's resource)", () => {
    const bundle = { resourceType: "Bundle", type: "collection", entry: [] };
    const parts = transcode(routes["ClinicSync.ImportFhir"], { resource: bundle });
    assert.deepEqual(JSON.parse(parts.body!), bundle);
  });

  test("the request object is never changed", () => {
    const req = { campaignId: "c1", spec: { name: "x" } };
    transcode(routes["Campaigns.UpdateCampaign"], req);
    assert.deepEqual(req, { campaignId: "c1", spec: { name: "x" } });
  });
});

describe("client requests", () => {
  test("Idempotency-Key, bearer token from a provider (called per request), extra headers, JSON content type", async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: { success: true, message: "ok", data: {} } });
    let n = 0;
    const client = new OutcallClient({ baseUrl: "http://edge.test/", token: async () => `tok${++n}`, fetch, headers: { "x-clinic": "norte" } });
    await client.initiateCall({ phoneNumber: "3001234567" }, { idempotencyKey: "key-1" });
    await client.getCallStats({ startDate: "2026-12-01" });
    assert.equal(calls[0]!.headers["idempotency-key"], "key-1");
    assert.equal(calls[0]!.headers["content-type"], "application/json");
    assert.equal(calls[0]!.headers.authorization, "Bearer tok1");
    assert.equal(calls[0]!.headers["x-clinic"], "norte");
    assert.equal(calls[1]!.headers.authorization, "Bearer tok2");
    assert.equal(calls[1]!.headers["idempotency-key"], undefined);
    assert.equal(calls[1]!.headers["content-type"], undefined);
    assert.equal(calls[1]!.url.toString(), "http://edge.test/api/elevenlabs/stats?startDate=2026-12-01");
  });

  test("no token: no Authorization header", async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: { success: true, data: [], count: 0 } });
    await new OutcallClient({ baseUrl: "http://edge.test", fetch }).listAgents();
    assert.equal(calls[0]!.headers.authorization, undefined);
  });

  test("a string is accepted for the RPCs addressed by one id", async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: {} });
    const client = new OutcallClient({ baseUrl: "http://edge.test", fetch });
    await client.getConversation("conv_abc123");
    await client.endCall("conv_abc123");
    await client.getPatient("HC-001");
    await client.pauseCampaign("c1");
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.url.pathname}`),
      [
        "GET /api/elevenlabs/conversation/conv_abc123",
        "DELETE /api/elevenlabs/conversation/conv_abc123",
        "GET /api/elevenlabs/sync/patients/HC-001",
        "POST /api/elevenlabs/campaigns/c1/pause",
      ],
    );
    assert.equal(calls[3]!.body, "{}");
  });

  test("importFhir takes the FHIR resource itself", async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: { accepted: 1, created: 1, updated: 0, unchanged: 0, refused: 0, results: [], ignored: [] } });
    const client = new OutcallClient({ baseUrl: "http://edge.test", fetch });
    const patient = { resourceType: "Patient", id: "HC-9", name: [{ text: "Ana" }] };
    const res = await client.importFhir(patient);
    assert.equal(res.accepted, 1);
    assert.deepEqual(JSON.parse(calls[0]!.body!), patient);
  });

  test("the recording: bytes and content type", async () => {
    const bytes = new Uint8Array([0xff, 0xfb, 0x90, 0x00]);
    const { fetch } = fakeFetch({ status: 200, body: bytes, headers: { "content-type": "audio/mpeg" } });
    const audio = await new OutcallClient({ baseUrl: "http://edge.test", fetch }).getConversationAudio("conv_1");
    assert.equal(audio.contentType, "audio/mpeg");
    assert.deepEqual([...audio.data], [...bytes]);
  });

  test("a stream: one message per line, split across chunks", async () => {
    const lines = ['{"conversationId":"a","status":"ringing"}', '{"conversationId":"a","status":"in_progress"}'];
    const text = `${lines.join("\n")}\n`;
    const fetchImpl = (async () => {
      const enc = new TextEncoder().encode(text);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < enc.length; i += 7) controller.enqueue(enc.slice(i, i + 7));
          controller.close();
        },
      });
      return new Response(stream, { status: 200, headers: { "content-type": "application/x-ndjson" } });
    }) as typeof fetch;
    const seen: string[] = [];
    for await (const u of new OutcallClient({ baseUrl: "http://edge.test", fetch: fetchImpl }).watchCallEvents({ conversationId: "a" })) {
      seen.push(u.status);
    }
    assert.deepEqual(seen, ["ringing", "in_progress"]);
  });

  test("baseUrl is required and must be a URL", () => {
    assert.throws(() => new OutcallClient({ baseUrl: "" }), TypeError);
    assert.throws(() => new OutcallClient({ baseUrl: "not a url" }));
  });
});
