// The route table against the protos, and every client method against the route table.
//
// The table is generated from the descriptor set protoc writes (scripts/generate.mjs); this test
// reads the .proto sources a second, independent way (their text) and requires the same RPCs
// with the same verb, path and body. Then it calls every client method through a fake fetch and
// requires the verb and path the proto's google.api.http rule gives.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { OutcallClient, clientMethods, routes, type ClientMethodName, type RpcName } from "@outcall/client";
import { fakeFetch } from "../support/fake-fetch.js";

const pkgDir = fileURLToPath(new URL("../../../", import.meta.url));
const protoDir = process.env.OUTCALL_PROTO_DIR ?? join(pkgDir, "../../proto");

// Compile-time: every RPC of the table has a client method (a new RPC without one fails the
// test build with the RPC's name in the message).
type Covered = (typeof clientMethods)[ClientMethodName];
type Uncovered = Exclude<RpcName, Covered>;
const everyRpcHasAMethod: [Uncovered] extends [never] ? true : { missing: Uncovered } = true;
void everyRpcHasAMethod;

interface ProtoRule {
  key: string;
  verb: string;
  path: string;
  body: string;
  streaming: boolean;
}

function stripComments(src: string): string {
  // Line comments outside strings (paths contain no "//").
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"])\/\/.*$/gm, "$1");
}

/** The http rules of the proto sources, read as text. */
function rulesFromSources(): ProtoRule[] {
  const out: ProtoRule[] = [];
  const files = readdirSync(join(protoDir, "outcall/v1")).filter((f) => f.endsWith(".proto"));
  assert.ok(files.length > 0, `no protos in ${protoDir}`);
  for (const f of files) {
    const src = stripComments(readFileSync(join(protoDir, "outcall/v1", f), "utf8"));
    const services = [...src.matchAll(/\bservice\s+(\w+)\s*\{/g)];
    services.forEach((s, i) => {
      const start = s.index! + s[0].length;
      const end = i + 1 < services.length ? services[i + 1]!.index! : src.length;
      const body = src.slice(start, end);
      const rpcRe =
        /\brpc\s+(\w+)\s*\(\s*(?:stream\s+)?[\w.]+\s*\)\s*returns\s*\(\s*(stream\s+)?[\w.]+\s*\)\s*(\{\s*option\s*\(\s*google\.api\.http\s*\)\s*=\s*\{((?:"[^"]*"|[^{}"])*)\}\s*;?\s*\}|\{\s*\}|;)/g; // a rule's strings may hold {variables}
      for (const m of body.matchAll(rpcRe)) {
        const rule = m[4];
        if (rule === undefined) continue; // no REST mapping
        const verbMatch = rule.match(/\b(get|post|put|delete|patch)\s*:\s*"([^"]*)"/);
        assert.ok(verbMatch, `${s[1]}.${m[1]}: no verb in ${rule}`);
        const bodyMatch = rule.match(/\bbody\s*:\s*"([^"]*)"/);
        out.push({
          key: `${s[1]}.${m[1]}`,
          verb: verbMatch[1]!.toUpperCase(),
          path: verbMatch[2]!,
          body: bodyMatch ? bodyMatch[1]! : "",
          streaming: Boolean(m[2]),
        });
      }
    });
  }
  return out;
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}

describe("route table", () => {
  const fromSources = rulesFromSources();
  const table = routes as Record<string, (typeof routes)[RpcName]>;

  test("has exactly the RPCs with a google.api.http rule in proto/outcall/v1", () => {
    assert.ok(fromSources.length >= 50, `only ${fromSources.length} rules read from the sources`);
    assert.deepEqual(Object.keys(table).sort(), fromSources.map((r) => r.key).sort());
  });

  test("each RPC has the proto's verb, path, body and streaming", () => {
    for (const r of fromSources) {
      const t = table[r.key]!;
      assert.deepEqual(
        { verb: t.verb, path: t.path, body: t.body, streaming: t.serverStreaming },
        { verb: r.verb, path: r.path, body: r.body, streaming: r.streaming },
        r.key,
      );
    }
  });

  test("the new contracts are in: sync.proto and webhooks.proto", () => {
    for (const k of ["ClinicSync.UpsertPatients", "ClinicSync.GetFhirPatient", "Webhooks.CreateWebhookSubscription", "Webhooks.ListWebhookEvents"]) {
      assert.ok(k in table, k);
    }
  });
});

describe("client methods", () => {
  test("every RPC with a REST rule has exactly one client method, and every method is one", () => {
    const byRpc = new Map<string, string[]>();
    for (const [method, rpc] of Object.entries(clientMethods)) {
      assert.ok(rpc in routes, `${method} -> ${rpc}: not in the route table`);
      assert.equal(typeof (OutcallClient.prototype as unknown as Record<string, unknown>)[method], "function", method);
      byRpc.set(rpc, [...(byRpc.get(rpc) ?? []), method]);
    }
    for (const rpc of Object.keys(routes)) {
      assert.equal(byRpc.get(rpc)?.length, 1, `${rpc}: methods ${byRpc.get(rpc)?.join(", ") ?? "none"}`);
    }
  });

  test("the original service's names are there", () => {
    for (const m of ["initiateCall", "callPatient", "getConversation", "endCall", "getCalls", "getCallStats"]) {
      assert.ok(m in clientMethods, m);
    }
  });

  for (const [method, rpc] of Object.entries(clientMethods) as [ClientMethodName, RpcName][]) {
    const route = routes[rpc];
    test(`${method} sends ${route.verb} ${route.path}`, async () => {
      const { fetch, calls } = fakeFetch({ status: 200, body: route.serverStreaming ? "" : {} });
      const client = new OutcallClient({ baseUrl: "http://edge.test:8080/", token: "t0k", fetch });
      const request: Record<string, unknown> = {};
      let expectedPath: string = route.path;
      route.pathParams.forEach((p, i) => {
        const value = `v${i}:x y`; // needs percent-encoding
        setPath(request, p.json, value);
        expectedPath = expectedPath.replace(`{${p.field}}`, encodeURIComponent(value));
      });
      if (route.body !== "" && route.body !== "*") setPath(request, route.bodyJson, { resourceType: "Patient", id: "p1" });
      const fn = (client as unknown as Record<string, (req: unknown) => unknown>)[method]!.bind(client);
      const result = fn(request);
      if (route.serverStreaming) {
        for await (const _ of result as AsyncIterable<unknown>) void _;
      } else {
        await result;
      }
      assert.equal(calls.length, 1);
      const sent = calls[0]!;
      assert.equal(sent.method, route.verb);
      assert.equal(sent.url.origin, "http://edge.test:8080");
      assert.equal(sent.url.pathname, expectedPath);
      assert.equal(sent.headers.authorization, "Bearer t0k");
      if (route.body === "") {
        assert.equal(sent.body, undefined, "no body");
      } else if (route.body === "*") {
        const body = JSON.parse(sent.body!);
        for (const p of route.pathParams) assert.ok(!(p.json.split(".")[0]! in body), `${p.json} is in the path, not the body`);
      } else {
        assert.deepEqual(JSON.parse(sent.body!), { resourceType: "Patient", id: "p1" });
      }
    });
  }
});
