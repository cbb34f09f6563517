// Error mapping: the REST face's {code, message, details} bodies, answers without one, no
// answer at all, and errors in the middle of a stream.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { GrpcCode, OutcallClient, OutcallError, grpcCodeForHttpStatus } from "@outcall/client";
import { fakeFetch } from "../support/fake-fetch.js";

function client(answer: Parameters<typeof fakeFetch>[0], extra: { timeoutMs?: number } = {}) {
  const f = fakeFetch(answer);
  return { client: new OutcallClient({ baseUrl: "http://edge.test", token: "t", fetch: f.fetch, ...extra }), calls: f.calls };
}

async function rejection(p: Promise<unknown>): Promise<OutcallError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof OutcallError, `not an OutcallError: ${String(err)}`);
    return err;
  }
  assert.fail("did not reject");
}

describe("OutcallError", () => {
  test("carries the HTTP status and the body's code, message and details", async () => {
    const details = [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "phoneNumber" }] }];
    const { client: c } = client({
      status: 400,
      body: { code: 3, message: "phoneNumber: not a phone number", details },
      headers: { "x-request-id": "req-1" },
    });
    const err = await rejection(c.initiateCall({ phoneNumber: "12" }));
    assert.equal(err.name, "OutcallError");
    assert.equal(err.status, 400);
    assert.equal(err.code, 3);
    assert.equal(err.codeName, "INVALID_ARGUMENT");
    assert.equal(err.message, "phoneNumber: not a phone number");
    assert.deepEqual(err.details, details);
    assert.equal(err.rpc, "CallGateway.InitiateCall");
    assert.equal(err.requestId, "req-1", "the answer's x-request-id when it has one");
    assert.ok(err instanceof Error);
  });

  test("each gRPC code the edge maps keeps its code (not the status's default)", async () => {
    for (const [status, code] of [
      [400, GrpcCode.FAILED_PRECONDITION],
      [401, GrpcCode.UNAUTHENTICATED],
      [403, GrpcCode.PERMISSION_DENIED],
      [404, GrpcCode.NOT_FOUND],
      [409, GrpcCode.ALREADY_EXISTS],
      [429, GrpcCode.RESOURCE_EXHAUSTED],
      [501, GrpcCode.UNIMPLEMENTED],
      [503, GrpcCode.UNAVAILABLE],
      [504, GrpcCode.DEADLINE_EXCEEDED],
      [500, GrpcCode.INTERNAL],
    ] as const) {
      const { client: c } = client({ status, body: { code, message: `m${code}`, details: [] } });
      const err = await rejection(c.getCampaign("c1"));
      assert.deepEqual([err.status, err.code, err.message], [status, code, `m${code}`]);
    }
  });

  test("every request carries an x-request-id, kept in the error (unless the caller sets one)", async () => {
    const { client: c, calls } = client({ status: 503, body: { code: 14, message: "upstream connect error", details: [] } });
    const err = await rejection(c.listAgents());
    assert.match(calls[0]!.headers["x-request-id"]!, /^[0-9a-f-]{36}$/);
    assert.equal(err.requestId, calls[0]!.headers["x-request-id"]);
    const mine = await rejection(c.listAgents({}, { headers: { "X-Request-Id": "trace-42" } }));
    assert.equal(calls[1]!.headers["x-request-id"], "trace-42");
    assert.equal(mine.requestId, "trace-42");
  });

  test("an answer without an error body: the code from the status, the text as message", async () => {
    let { client: c } = client({ status: 404, body: { success: false, message: "not found" } }); // the edge's not_found
    let err = await rejection(c.getCallStats({}));
    assert.deepEqual([err.status, err.code, err.codeName, err.message], [404, 5, "NOT_FOUND", "not found"]);
    assert.deepEqual(err.body, { success: false, message: "not found" });

    ({ client: c } = client({ status: 502, body: "<html>Bad Gateway</html>", headers: { "content-type": "text/html" } }));
    err = await rejection(c.getCallStats({}));
    assert.deepEqual([err.status, err.code, err.message], [502, GrpcCode.UNAVAILABLE, "<html>Bad Gateway</html>"]);

    ({ client: c } = client({ status: 500, body: "" }));
    err = await rejection(c.getCallStats({}));
    assert.deepEqual([err.status, err.code, err.message], [500, GrpcCode.INTERNAL, "HTTP 500"]);
  });

  test("the local-reply table of the edge and Envoy", () => {
    assert.deepEqual(
      [400, 401, 403, 404, 413, 431, 503, 504, 501, 418].map(grpcCodeForHttpStatus),
      [3, 16, 7, 5, 8, 8, 14, 4, 12, 2],
    );
  });

  test("no answer: status 0, UNAVAILABLE, the cause kept", async () => {
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const { client: c } = client(refused);
    const err = await rejection(c.listAgents());
    assert.deepEqual([err.status, err.code, err.codeName], [0, 14, "UNAVAILABLE"]);
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(err.cause, refused);
  });

  test("a timeout is DEADLINE_EXCEEDED; the caller's abort is CANCELLED", async () => {
    // A server that never answers: fetch rejects with the signal's reason when it aborts.
    const abortable = (async (_input: string, init: RequestInit) => {
      return new Promise<Response>((_, reject) => {
        if (init.signal?.aborted) return reject(init.signal.reason);
        // a real request's socket keeps the process alive meanwhile (AbortSignal.timeout does not)
        const alive = setTimeout(() => undefined, 10_000);
        init.signal?.addEventListener("abort", () => {
          clearTimeout(alive);
          reject(init.signal!.reason);
        });
      });
    }) as unknown as typeof fetch;
    const c = new OutcallClient({ baseUrl: "http://edge.test", fetch: abortable, timeoutMs: 30 });
    let err = await rejection(c.getCallStats({}));
    assert.deepEqual([err.status, err.codeName], [0, "DEADLINE_EXCEEDED"]);
    const ac = new AbortController();
    const p = c.getCallStats({}, { signal: ac.signal, timeoutMs: 0 });
    ac.abort();
    err = await rejection(p);
    assert.deepEqual([err.status, err.codeName], [0, "CANCELLED"]);
  });

  test("a path variable missing is refused before any request", async () => {
    const { client: c, calls } = client({ status: 200, body: {} });
    const err = await rejection(c.getConversation({}));
    assert.deepEqual([err.status, err.codeName], [0, "INVALID_ARGUMENT"]);
    assert.match(err.message, /conversationId is required/);
    assert.equal(calls.length, 0);
  });

  test("an error line in the middle of a stream is thrown after the messages before it", async () => {
    const lines = [
      JSON.stringify({ conversationId: "c1", callId: "k1", status: "ringing", previousStatus: "initiated", cause: "x", at: "2026-12-01T10:00:00Z" }),
      JSON.stringify({ code: 8, message: "watcher fell behind", details: [] }),
      "",
    ].join("\n");
    const { client: c } = client({ status: 200, body: lines, headers: { "content-type": "application/x-ndjson" } });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const u of c.watchCallEvents()) seen.push(u.status);
      })(),
      (err: unknown) => err instanceof OutcallError && err.code === 8 && err.status === 200 && err.message === "watcher fell behind",
    );
    assert.deepEqual(seen, ["ringing"]);
  });

  test("an error before the first message of a stream is an ordinary error answer", async () => {
    const { client: c } = client({ status: 400, body: { code: 3, message: "campaignId", details: [] } });
    await assert.rejects(
      (async () => {
        for await (const _ of c.watchCampaign("nope")) void _;
      })(),
      (err: unknown) => err instanceof OutcallError && err.status === 400 && err.code === 3,
    );
  });
});
