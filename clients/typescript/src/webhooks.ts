// Receiving outcall's outbound webhooks (proto/outcall/v1/webhooks.proto), signed as the
// Standard Webhooks specification says (https://www.standardwebhooks.com): headers webhook-id,
// webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>",
// several space-separated during a secret rotation), a secret "whsec_<base64 key>", 5 minutes
// of tolerance either way. The verification itself is the specification's own library
// (standardwebhooks): constant-time comparison, timestamp window, every signature of the header.
import { Webhook, WebhookVerificationError as LibraryVerificationError } from "standardwebhooks";
import { isObject } from "./errors.js";

/** The event types outcall sends (webhooks.proto). */
export type OutcallEventType =
  | "call.completed"
  | "call.failed"
  | "appointment.confirmed"
  | "appointment.reschedule_requested"
  | "appointment.canceled"
  | "patient.opted_out"
  | "campaign.completed"
  | "campaign.auto_paused";

/**
 * call.completed (completed, ended_manually) and call.failed (failed, no_answer, busy,
 * canceled): a call reached its final state. `phoneNumber` is masked and `patientName` and
 * `transcriptSummary` absent unless the subscription has full data.
 */
export interface CallEventData {
  callId: string;
  conversationId?: string;
  status: string;
  agentId?: string;
  patientId?: number;
  patientExternalRef?: string;
  appointmentId?: number;
  appointmentExternalRef?: string;
  phoneNumber?: string;
  patientName?: string;
  campaignId?: string;
  startedAt?: string;
  endedAt?: string;
  durationSecs?: number;
  terminationReason?: string;
  callSuccessful?: string;
  transcriptSummary?: string;
  dataCollection?: { [key: string]: unknown };
  [key: string]: unknown;
}

/** appointment.confirmed, appointment.reschedule_requested, appointment.canceled. */
export interface AppointmentEventData {
  appointmentId: number;
  externalRef?: string;
  status: string;
  fhirStatus?: string;
  patientId?: number;
  patientExternalRef?: string;
  phoneNumber?: string;
  patientName?: string;
  scheduledAt?: string;
  confirmedAt?: string;
  reschedulePreference?: string;
  conversationId?: string;
  [key: string]: unknown;
}

/** patient.opted_out: a number asked not to be called again. */
export interface PatientOptedOutData {
  phoneNumber?: string;
  patientId?: number;
  patientExternalRef?: string;
  patientName?: string;
  source?: string;
  reason?: string;
  optedOutAt?: string;
  [key: string]: unknown;
}

/** campaign.completed, campaign.auto_paused, with the recipients' counts by state. */
export interface CampaignEventData {
  campaignId: string;
  name?: string;
  purpose?: string;
  state: string;
  stateReason?: string;
  recipients?: { [state: string]: number };
  [key: string]: unknown;
}

interface EventOf<T extends OutcallEventType, D> {
  type: T;
  /** When the event happened, RFC 3339. */
  timestamp: string;
  data: D;
}

/**
 * A verified event: `{type, timestamp, data}`, the Standard Webhooks payload shape; `switch
 * (event.type)` narrows `data`. A newer server may send a type this client does not list yet:
 * give your switch a default branch that acknowledges it.
 */
export type OutcallWebhookEvent =
  | EventOf<"call.completed" | "call.failed", CallEventData>
  | EventOf<"appointment.confirmed" | "appointment.reschedule_requested" | "appointment.canceled", AppointmentEventData>
  | EventOf<"patient.opted_out", PatientOptedOutData>
  | EventOf<"campaign.completed" | "campaign.auto_paused", CampaignEventData>;

/** A request that is not a genuine, fresh outcall webhook: answer it 400 (or 401) and drop it. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The request's headers as any server has them: Node's IncomingHttpHeaders (req.headers),
 * fetch's Headers, or a plain object (names in any case).
 */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

const HEADER_NAMES = ["webhook-id", "webhook-timestamp", "webhook-signature"] as const;

function headerValues(headers: WebhookHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers && typeof (headers as { get?: unknown }).get === "function" && !(headers as Record<string, unknown>)["webhook-id"]) {
    for (const name of HEADER_NAMES) {
      const v = (headers as { get(name: string): string | null }).get(name);
      if (v !== null && v !== undefined) out[name] = v;
    }
    return out;
  }
  const lower: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) lower[k.toLowerCase()] = v;
  for (const name of HEADER_NAMES) {
    const v = lower[name];
    // Repeated headers (Node gives an array for some): signatures are joined as one list.
    if (Array.isArray(v)) out[name] = name === "webhook-signature" ? v.join(" ") : (v[0] ?? "");
    else if (typeof v === "string") out[name] = v;
  }
  return out;
}

function toBytes(rawBody: string | Uint8Array | ArrayBuffer): string | Uint8Array {
  if (typeof rawBody === "string" || rawBody instanceof Uint8Array) return rawBody;
  if (rawBody instanceof ArrayBuffer) return new Uint8Array(rawBody);
  throw new WebhookVerificationError(
    "the body must be the raw bytes as received (a string, Buffer or Uint8Array): a parsed and re-serialised body no longer matches its signature (use express.raw(), not express.json())",
  );
}

/** A verifier for one subscription's secret(s), built once: `verify(headers, rawBody)`. */
export function createWebhookVerifier(
  secret: string | readonly string[],
): (headers: WebhookHeaders, rawBody: string | Uint8Array | ArrayBuffer) => OutcallWebhookEvent {
  const secrets = (typeof secret === "string" ? [secret] : [...secret]).filter((s) => s !== "");
  if (secrets.length === 0) throw new TypeError("verifyWebhook: no secret (whsec_...)");
  const verifiers = secrets.map((s) => {
    try {
      return new Webhook(s);
    } catch (cause) {
      throw new TypeError(`verifyWebhook: a secret is not "whsec_" and base64 (${(cause as Error).message})`);
    }
  });
  return (headers, rawBody) => {
    const h = headerValues(headers ?? {});
    const missing = HEADER_NAMES.filter((n) => !h[n]);
    if (missing.length > 0) throw new WebhookVerificationError(`missing header ${missing.join(", ")}`);
    const body = toBytes(rawBody);
    let payload: unknown;
    let lastError: unknown;
    let verified = false;
    for (const v of verifiers) {
      try {
        payload = v.verify(body, h);
        verified = true;
        break;
      } catch (err) {
        lastError = err;
        // A stale or future timestamp is the same for every secret: no use trying the others.
        if (err instanceof LibraryVerificationError && /timestamp|Invalid Signature Headers/i.test(err.message)) break;
        if (!(err instanceof LibraryVerificationError)) break; // e.g. the body is not JSON
      }
    }
    if (!verified) {
      const message = lastError instanceof Error ? lastError.message : String(lastError);
      if (lastError instanceof LibraryVerificationError) throw new WebhookVerificationError(message, { cause: lastError });
      throw new WebhookVerificationError(`the body is not JSON (${message})`, { cause: lastError });
    }
    if (!isObject(payload) || typeof payload.type !== "string") {
      throw new WebhookVerificationError("the payload is not an event {type, timestamp, data}");
    }
    if (!isObject(payload.data)) payload.data = {};
    return payload as unknown as OutcallWebhookEvent;
  };
}

/**
 * Verifies one delivery of an outcall webhook and returns its event. `secret` is the
 * subscription's "whsec_..." secret, or several (during a rotation: the new one and the
 * previous one). `rawBody` is the body exactly as received. Throws WebhookVerificationError
 * when the signature does not match any secret, the timestamp is more than 5 minutes off, or
 * a header is missing. Deduplicate by the webhook-id header: delivery is at least once.
 */
export function verifyWebhook(
  secret: string | readonly string[],
  headers: WebhookHeaders,
  rawBody: string | Uint8Array | ArrayBuffer,
): OutcallWebhookEvent {
  return createWebhookVerifier(secret)(headers, rawBody);
}
