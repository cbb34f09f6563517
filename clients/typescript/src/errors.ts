// Errors of the REST face: an HTTP status and the body {code, message, details} (gRPC's code,
// mapped to HTTP by the edge as Envoy does: docs/rest-edge.md, "Status mapping and errors").

/** gRPC status codes by number: the `code` of an error body. */
export const GRPC_CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

export type GrpcCodeName = (typeof GRPC_CODE_NAMES)[number];

/** gRPC status codes by name. */
export const GrpcCode: { readonly [K in GrpcCodeName]: number } = Object.fromEntries(
  GRPC_CODE_NAMES.map((name, i) => [name, i]),
) as { [K in GrpcCodeName]: number };

/** The body of an error answer: `{"code": <gRPC code>, "message": "...", "details": []}`. */
export interface ErrorBody {
  code: number;
  message: string;
  details: unknown[];
}

/**
 * The gRPC code an HTTP status stands for when the body carries none (a proxy's or load
 * balancer's own answer): the edge's and Envoy's local-reply table, then the usual mapping.
 */
export function grpcCodeForHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return GrpcCode.INVALID_ARGUMENT;
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 404:
      return GrpcCode.NOT_FOUND;
    case 409:
      return GrpcCode.ABORTED;
    case 413:
    case 429:
    case 431:
      return GrpcCode.RESOURCE_EXHAUSTED;
    case 499:
      return GrpcCode.CANCELLED;
    case 501:
      return GrpcCode.UNIMPLEMENTED;
    case 502:
    case 503:
      return GrpcCode.UNAVAILABLE;
    case 504:
      return GrpcCode.DEADLINE_EXCEEDED;
    default:
      return status >= 500 ? GrpcCode.INTERNAL : GrpcCode.UNKNOWN;
  }
}

export interface OutcallErrorInit {
  /** HTTP status; 0 when there was no answer (connection refused, timed out, aborted). */
  status: number;
  code: number;
  message: string;
  details?: unknown[];
  /** The answer's body: parsed JSON, or the text when it was not JSON. */
  body?: unknown;
  /** The RPC the request was for, e.g. "CallGateway.InitiateCall". */
  rpc?: string;
  /** The request's x-request-id (sent by the client, or the answer's), to find it in the services' logs. */
  requestId?: string;
  cause?: unknown;
}

/** A request the REST face refused or could not answer. */
export class OutcallError extends Error {
  override readonly name = "OutcallError";
  /** HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** gRPC status code (the body's `code`; derived from the HTTP status when the body has none). */
  readonly code: number;
  /** The code's name: "INVALID_ARGUMENT", "NOT_FOUND", ... */
  readonly codeName: GrpcCodeName | "UNKNOWN";
  /** The body's `details` (google.rpc.Status details), [] when none. */
  readonly details: unknown[];
  readonly body: unknown;
  readonly rpc: string | undefined;
  readonly requestId: string | undefined;

  constructor(init: OutcallErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.codeName = GRPC_CODE_NAMES[init.code] ?? "UNKNOWN";
    this.details = init.details ?? [];
    this.body = init.body;
    this.rpc = init.rpc;
    this.requestId = init.requestId;
  }

  /** An error answer of the REST face, from its status and body text. */
  static fromAnswer(status: number, text: string, rpc?: string, requestId?: string): OutcallError {
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (a proxy's HTML page, say): kept as text
    }
    const obj = isObject(body) ? body : undefined;
    const code = typeof obj?.code === "number" && Number.isInteger(obj.code) ? obj.code : grpcCodeForHttpStatus(status);
    const message =
      typeof obj?.message === "string" && obj.message !== ""
        ? obj.message
        : typeof body === "string" && body.trim() !== ""
          ? body.trim().slice(0, 300)
          : `HTTP ${status}`;
    const details = Array.isArray(obj?.details) ? (obj.details as unknown[]) : [];
    return new OutcallError({ status, code, message, details, body, rpc, requestId });
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
