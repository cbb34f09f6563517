#!/usr/bin/env node
// Generates src/gen/ from the proto contracts (never committed, see .gitignore):
//   * the message types, by ts-proto through Debian's protoc, in the shape of the REST JSON
//     (proto3 JSON names with the explicit json_names, Timestamps as RFC 3339 strings, int64 as
//     strings, Struct as plain objects, only types);
//   * routes.ts: every RPC with a google.api.http rule (verb, path template, body, path
//     variables) read from the descriptor set protoc writes, the same rules the REST edge and
//     Envoy route by;
//   * rpc-types.ts: each of those RPCs' request and response types, so that a client method
//     declared with other types does not compile.
//
// Inputs (environment, defaults for a Debian 12 machine set up by scripts/install-deps.sh):
//   PROTOC               /usr/bin/protoc
//   OUTCALL_PROTO_DIR    ../../proto (the repository's contracts)
//   GOOGLEAPIS_PROTO_DIR /usr/share/gocode/src/github.com/gogo/googleapis (google/api/*.proto)
//   PROTOBUF_WKT_DIR     /usr/include (google/protobuf/*.proto)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary, getOption, hasOption } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const protoc = process.env.PROTOC || "/usr/bin/protoc";
const protoDir = resolve(process.env.OUTCALL_PROTO_DIR || join(pkg, "../../proto"));
const googleapisDir = process.env.GOOGLEAPIS_PROTO_DIR || "/usr/share/gocode/src/github.com/gogo/googleapis";
const wktDir = process.env.PROTOBUF_WKT_DIR || "/usr/include";
const outDir = join(pkg, "src/gen");

function fail(message) {
  console.error(`generate: ${message}`);
  process.exit(1);
}

for (const [what, path] of [
  ["protoc", protoc],
  ["the contracts", join(protoDir, "outcall/v1")],
  ["google/api/annotations.proto", join(googleapisDir, "google/api/annotations.proto")],
  ["google/protobuf/struct.proto", join(wktDir, "google/protobuf/struct.proto")],
]) {
  if (!existsSync(path)) fail(`${what} not found at ${path} (scripts/install-deps.sh installs it)`);
}

const includes = ["-I", protoDir, "-I", googleapisDir, "-I", wktDir];
const contracts = readdirSync(join(protoDir, "outcall/v1"))
  .filter((f) => f.endsWith(".proto"))
  .sort()
  .map((f) => `outcall/v1/${f}`);

// 1. The descriptor set of every contract, with imports (google.api.http, HttpRule).
const tmp = mkdtempSync(join(tmpdir(), "outcall-ts-gen-"));
let registry;
try {
  const setFile = join(tmp, "outcall.pb");
  execFileSync(protoc, [...includes, "--include_imports", `--descriptor_set_out=${setFile}`, ...contracts], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(setFile)));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const httpExt = registry.getExtension("google.api.http");
if (!httpExt) fail("google.api.http is not in the descriptor set");

// 2. The routes: every method with an http rule, in file and declaration order.
const VERBS = ["get", "put", "post", "delete", "patch"];
const routes = [];
const typeFiles = new Set(); // contract files whose types the routes use (plus their imports)
const SPECIAL_TYPES = {
  "google.protobuf.Struct": "JsonObject",
  "google.api.HttpBody": "BinaryBody",
  "google.protobuf.Empty": "Empty",
};
function tsTypeOf(message) {
  if (SPECIAL_TYPES[message.typeName]) return { special: SPECIAL_TYPES[message.typeName] };
  if (message.parent) fail(`${message.typeName}: nested messages as RPC types are not handled`);
  const file = message.file.proto.name; // "outcall/v1/common.proto"
  if (!file.startsWith("outcall/")) fail(`${message.typeName}: unexpected RPC type`);
  typeFiles.add(file);
  return { name: message.name, file };
}
function jsonPath(message, dotted, where) {
  // "patient_id" -> "patientId"; "a.b" -> "aJson.bJson", following nested messages.
  const parts = [];
  let m = message;
  for (const seg of dotted.split(".")) {
    const field = m?.fields.find((f) => f.name === seg);
    if (!field) fail(`${where}: ${m?.typeName}: no field ${seg}`);
    parts.push(field.jsonName);
    m = field.fieldKind === "message" ? field.message : undefined;
  }
  return parts.join(".");
}

for (const file of registry.files) {
  if (!file.proto.name.startsWith("outcall/")) continue;
  for (const service of file.services) {
    for (const method of service.methods) {
      if (!hasOption(method, httpExt)) continue;
      const rule = getOption(method, httpExt);
      const key = `${service.name}.${method.name}`;
      const bindings = [rule, ...(rule.additionalBindings ?? [])];
      if (bindings.length > 1) fail(`${key}: additional_bindings are not handled`);
      const pattern = rule.pattern;
      if (!VERBS.includes(pattern.case)) fail(`${key}: unsupported http pattern ${pattern.case}`);
      const path = pattern.value;
      const pathParams = [];
      for (const m of path.matchAll(/\{([^}=]+)(=[^}]*)?\}/g)) {
        if (m[2] && m[2] !== "=*") fail(`${key}: path variable ${m[0]} with a pattern is not handled`);
        pathParams.push({ field: m[1], json: jsonPath(method.input, m[1], key) });
      }
      const body = rule.body ?? "";
      routes.push({
        key,
        service: service.typeName,
        method: method.name,
        verb: pattern.case.toUpperCase(),
        path,
        body,
        bodyJson: body && body !== "*" ? jsonPath(method.input, body, key) : body,
        responseBody: rule.responseBody ?? "",
        pathParams,
        serverStreaming: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        clientStreaming: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        request: tsTypeOf(method.input),
        response: tsTypeOf(method.output),
      });
    }
  }
}
if (routes.length === 0) fail("no RPC has a google.api.http rule");

// The contract files to give ts-proto: those the routes' types live in and what they import.
const wanted = new Set();
(function walk(names) {
  for (const name of names) {
    if (!name.startsWith("outcall/") || wanted.has(name)) continue;
    wanted.add(name);
    const file = [...registry.files].find((f) => f.proto.name === name);
    if (!file) fail(`${name} is not in the descriptor set`);
    walk(file.dependencies.map((d) => d.proto.name));
  }
})([...typeFiles]);
const tsProtoFiles = [...wanted].sort();

// 3. ts-proto.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const plugin = join(pkg, "node_modules/.bin/protoc-gen-ts_proto");
if (!existsSync(plugin)) fail(`${plugin} is missing: run npm ci in clients/typescript`);
const tsProtoOptions = [
  "onlyTypes=true", // interfaces only: no encoders, no JSON methods, no runtime dependency
  "useJsonWireFormat=true", // the JSON mapping: Timestamp as RFC 3339 string, enums as names
  "useJsonName=true", // property names are the proto3 JSON names (json_name: total_calls, agent_id)
  "forceLong=string", // int64 as strings, as proto3 JSON prints them
  "useOptionals=messages", // message fields may be absent; primitives are always printed by the edge
  "outputServices=false",
  "exportCommonSymbols=false",
  "annotateFilesWithVersion=false",
  "unrecognizedEnum=false",
  "importSuffix=.js",
  "emitImportedFiles=false", // google/protobuf types are unwrapped: no file of theirs is needed
  "esModuleInterop=true",
].join(",");
execFileSync(
  protoc,
  [...includes, `--plugin=protoc-gen-ts_proto=${plugin}`, `--ts_proto_out=${outDir}`, `--ts_proto_opt=${tsProtoOptions}`, ...tsProtoFiles],
  { stdio: ["ignore", "inherit", "inherit"] },
);

// 4. routes.ts and rpc-types.ts.
const header = "// Generated by scripts/generate.mjs from proto/outcall/v1/*.proto. Do not edit.\n";
const table = {};
for (const r of routes) {
  table[r.key] = {
    service: r.service,
    method: r.method,
    verb: r.verb,
    path: r.path,
    body: r.body,
    bodyJson: r.bodyJson,
    responseBody: r.responseBody,
    pathParams: r.pathParams,
    serverStreaming: r.serverStreaming,
    requestType: r.request.special ?? r.request.name,
    responseType: r.response.special ?? r.response.name,
  };
}
writeFileSync(
  join(outDir, "routes.ts"),
  `${header}
/** One google.api.http rule of the contracts. */
export interface Route {
  /** Fully qualified service name, e.g. "outcall.v1.CallGateway". */
  readonly service: string;
  readonly method: string;
  readonly verb: "GET" | "PUT" | "POST" | "DELETE" | "PATCH";
  /** The path template as written in the proto, e.g. "/api/elevenlabs/call-patient/{patient_id}". */
  readonly path: string;
  /** "" (no body: the other fields go in the query string), "*" (the request), or a field's proto name. */
  readonly body: string;
  /** The body field's JSON name ("" or "*" as body). */
  readonly bodyJson: string;
  readonly responseBody: string;
  /** Path variables: the proto field path and its JSON name path. */
  readonly pathParams: readonly { readonly field: string; readonly json: string }[];
  /** A server stream: newline-delimited JSON, one message per line. */
  readonly serverStreaming: boolean;
  readonly requestType: string;
  readonly responseType: string;
}

export const routes = ${JSON.stringify(table, null, 2)} as const satisfies Record<string, Route>;

export type RpcName = keyof typeof routes;
`,
);

const imports = new Map(); // file -> Set(names)
for (const r of routes) {
  for (const t of [r.request, r.response]) {
    if (t.special) continue;
    if (!imports.has(t.file)) imports.set(t.file, new Set());
    imports.get(t.file).add(t.name);
  }
}
const importLines = [...imports]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([file, names]) => `import type { ${[...names].sort().join(", ")} } from "./${file.replace(/\.proto$/, ".js")}";`);
const tsName = (t) => t.special ?? t.name;
writeFileSync(
  join(outDir, "rpc-types.ts"),
  `${header}${importLines.join("\n")}

/** A JSON object (google.protobuf.Struct in the contracts). */
export type JsonObject = { [key: string]: unknown };
/** google.protobuf.Empty. */
export type Empty = Record<string, never>;
/** A google.api.HttpBody answer: the bytes as sent, with their content type. */
export interface BinaryBody {
  contentType: string;
  data: Uint8Array;
}

/** Every RPC with a REST mapping: its request and response types. */
export interface RpcTypes {
${routes.map((r) => `  "${r.key}": { request: ${tsName(r.request)}; response: ${tsName(r.response)} };`).join("\n")}
}
`,
);

// 5. index.ts: every generated type, from one module.
const typeExports = tsProtoFiles.map((f) => `export type * from "./${f.replace(/\.proto$/, ".js")}";`);
writeFileSync(
  join(outDir, "index.ts"),
  `${header}${typeExports.join("\n")}
export type { BinaryBody, Empty, JsonObject, RpcTypes } from "./rpc-types.js";
export { routes } from "./routes.js";
export type { Route, RpcName } from "./routes.js";
`,
);
console.log(`generate: ${routes.length} routes from ${contracts.length} contracts; types of ${tsProtoFiles.join(", ")}`);
