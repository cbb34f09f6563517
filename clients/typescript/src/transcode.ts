// A request message to an HTTP request, by the google.api.http rule (what the REST edge and
// Envoy's transcoder undo): path variables substituted, the body field (or the whole request
// less the path variables) as JSON, every other field as a query parameter.
import type { Route } from "./gen/routes.js";
import { OutcallError, GrpcCode, isObject } from "./errors.js";

export interface HttpRequestParts {
  /** The path with its variables substituted, percent-encoded. */
  path: string;
  /** The query parameters (fields neither in the path nor in the body). */
  query: URLSearchParams;
  /** The JSON body, when the rule has one. */
  body: string | undefined;
}

function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Removes and returns the value at a dotted JSON path (or, failing that, the proto field path). */
function take(obj: Record<string, unknown>, jsonPath: string, fieldPath: string): unknown {
  for (const path of [jsonPath, fieldPath]) {
    const parts = path.split(".");
    let cur: Record<string, unknown> | undefined = obj;
    for (let i = 0; i < parts.length - 1 && cur; i++) {
      const next: unknown = cur[parts[i]!];
      if (!isObject(next)) {
        cur = undefined;
        break;
      }
      // copy on write: the caller's object is never changed
      const copy = { ...next };
      cur[parts[i]!] = copy;
      cur = copy;
    }
    const leaf = parts[parts.length - 1]!;
    if (cur && cur[leaf] !== undefined) {
      const v = cur[leaf];
      delete cur[leaf];
      return v;
    }
  }
  return undefined;
}

function scalarToString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return undefined;
}

/** Query parameters of a message: nested fields as "a.b", repeated ones repeated. */
export function appendQuery(query: URLSearchParams, prefix: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const v of value) appendQuery(query, prefix, v);
    return;
  }
  const s = scalarToString(value);
  if (s !== undefined) {
    query.append(prefix, s);
    return;
  }
  if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) appendQuery(query, prefix ? `${prefix}.${k}` : k, v);
  }
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/** The HTTP request for `request` under `route`. Never changes `request`. */
export function transcode(route: Route, request: unknown): HttpRequestParts {
  const rest: Record<string, unknown> = isObject(request) ? { ...request } : {};
  let path = route.path;
  for (const p of route.pathParams) {
    const raw = take(rest, p.json, p.field) ?? take(rest, snakeToCamel(p.field), p.field);
    const s = scalarToString(raw);
    if (s === undefined || s === "") {
      throw new OutcallError({
        status: 0,
        code: GrpcCode.INVALID_ARGUMENT,
        message: `${route.method}: ${p.json} is required (it is part of the path ${route.path})`,
        rpc: `${route.service.split(".").pop()}.${route.method}`,
      });
    }
    path = path.replace(new RegExp(`\\{${p.field.replace(/\./g, "\\.")}(=[^}]*)?\\}`), encodeURIComponent(s));
  }
  const query = new URLSearchParams();
  let body: string | undefined;
  if (route.body === "*") {
    body = toJson(rest);
  } else if (route.body) {
    const value = take(rest, route.bodyJson, route.body);
    body = toJson(value ?? {});
    appendQuery(query, "", rest);
  } else {
    appendQuery(query, "", rest);
  }
  return { path, query, body };
}
