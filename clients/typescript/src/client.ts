// OutcallClient: every RPC with a REST mapping, over the REST face (outcall-rest-edge on one
// machine, Envoy in production), with the global fetch of Node 20. Paths, verbs and bodies come
// from the generated route table (the google.api.http rules of proto/outcall/v1); request and
// response types from the generated message types.
import { routes, type Route, type RpcName } from "./gen/routes.js";
import type { BinaryBody, JsonObject, RpcTypes } from "./gen/rpc-types.js";
import type * as cg from "./gen/outcall/v1/call_gateway.js";
import type * as st from "./gen/outcall/v1/stats.js";
import type * as cp from "./gen/outcall/v1/campaigns.js";
import type * as sy from "./gen/outcall/v1/sync.js";
import type * as wh from "./gen/outcall/v1/webhooks.js";
import { randomUUID } from "node:crypto";
import { GrpcCode, OutcallError, isObject } from "./errors.js";
import { transcode } from "./transcode.js";

/** Every field optional, at every depth: what a request may leave out (proto3 defaults). */
export type DeepPartial<T> = T extends string | number | boolean | bigint | null | undefined
  ? T
  : T extends ReadonlyArray<infer U>
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/** A request of an RPC: its message, every field optional. */
export type RequestOf<K extends RpcName> = DeepPartial<RpcTypes[K]["request"]>;
/** The answer of an RPC. */
export type ResponseOf<K extends RpcName> = RpcTypes[K]["response"];

/** Returns the bearer token to send (called before every request; may refresh it). */
export type TokenProvider = () => string | undefined | null | Promise<string | undefined | null>;

export interface OutcallClientOptions {
  /** The REST face, e.g. "http://127.0.0.1:8080" (scripts/up.sh) or the clinic's Envoy URL. */
  baseUrl: string;
  /** A JWT, or a function that returns one (called for each request). */
  token?: string | TokenProvider;
  /** Per-request timeout for unary calls, ms (default 30000; the edge's own is 30 s, 60 s for campaigns). */
  timeoutMs?: number;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global fetch). */
  fetch?: typeof fetch;
}

export interface CallOptions {
  /**
   * Sent as the Idempotency-Key header: a retry with the same key and body gets the first
   * answer instead of a second call or campaign (InitiateCall, CallPatient, CreateCampaign,
   * CreateAutomationRule honour it).
   */
  idempotencyKey?: string;
  /** Cancels the request (and ends a stream). */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this request, ms; 0 for none. Streams have none unless given. */
  timeoutMs?: number;
  /** Extra headers for this request. */
  headers?: Record<string, string>;
}

const VERSION = "0.1.0";
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Client method name -> RPC. Every RPC with a google.api.http rule has one (a unit test checks
 * this against the protos). Names follow the original system's service where it had one
 * (`initiateCall`, `callPatient`, `getConversation`, `endCall`, `getCalls`, `getCallStats`).
 */
export const clientMethods = {
  // CallGateway
  listAgents: "CallGateway.ListAgents",
  initiateCall: "CallGateway.InitiateCall",
  callPatient: "CallGateway.CallPatient",
  getConversation: "CallGateway.GetConversation",
  endCall: "CallGateway.EndCall",
  getConversationAudio: "CallGateway.GetConversationAudio",
  eraseConversation: "CallGateway.EraseConversation",
  watchCallEvents: "CallGateway.WatchCallEvents",
  checkContactPolicy: "CallGateway.CheckContactPolicy",
  recordConsent: "CallGateway.RecordConsent",
  recordContact: "CallGateway.RecordContact",
  exportPatientData: "CallGateway.ExportPatientData",
  exportEvidence: "CallGateway.ExportEvidence",
  createDataRequest: "CallGateway.CreateDataRequest",
  getDataRequest: "CallGateway.GetDataRequest",
  listDataRequests: "CallGateway.ListDataRequests",
  // Stats
  getCalls: "Stats.ListCalls",
  getCallStats: "Stats.GetCallStats",
  getDailyStats: "Stats.GetDailyStats",
  listCallErrors: "Stats.ListCallErrors",
  // Campaigns
  createCampaign: "Campaigns.CreateCampaign",
  getCampaign: "Campaigns.GetCampaign",
  listCampaigns: "Campaigns.ListCampaigns",
  updateCampaign: "Campaigns.UpdateCampaign",
  addRecipients: "Campaigns.AddRecipients",
  listRecipients: "Campaigns.ListRecipients",
  startCampaign: "Campaigns.StartCampaign",
  pauseCampaign: "Campaigns.PauseCampaign",
  resumeCampaign: "Campaigns.ResumeCampaign",
  cancelCampaign: "Campaigns.CancelCampaign",
  retryFailed: "Campaigns.RetryFailed",
  duplicateCampaign: "Campaigns.DuplicateCampaign",
  watchCampaign: "Campaigns.WatchCampaign",
  listReviews: "Campaigns.ListReviews",
  resolveReview: "Campaigns.ResolveReview",
  createAutomationRule: "Campaigns.CreateAutomationRule",
  listAutomationRules: "Campaigns.ListAutomationRules",
  updateAutomationRule: "Campaigns.UpdateAutomationRule",
  // ClinicSync
  upsertPatients: "ClinicSync.UpsertPatients",
  upsertAppointments: "ClinicSync.UpsertAppointments",
  importFhir: "ClinicSync.ImportFhir",
  getPatient: "ClinicSync.GetPatient",
  listPatients: "ClinicSync.ListPatients",
  deletePatient: "ClinicSync.DeletePatient",
  getAppointment: "ClinicSync.GetAppointment",
  listAppointments: "ClinicSync.ListAppointments",
  cancelAppointment: "ClinicSync.CancelAppointment",
  deleteAppointment: "ClinicSync.DeleteAppointment",
  getFhirAppointment: "ClinicSync.GetFhirAppointment",
  getFhirPatient: "ClinicSync.GetFhirPatient",
  // Webhooks
  createWebhookSubscription: "Webhooks.CreateWebhookSubscription",
  listWebhookSubscriptions: "Webhooks.ListWebhookSubscriptions",
  getWebhookSubscription: "Webhooks.GetWebhookSubscription",
  updateWebhookSubscription: "Webhooks.UpdateWebhookSubscription",
  rotateWebhookSecret: "Webhooks.RotateWebhookSecret",
  deleteWebhookSubscription: "Webhooks.DeleteWebhookSubscription",
  listWebhookDeliveries: "Webhooks.ListWebhookDeliveries",
  replayWebhookEvents: "Webhooks.ReplayWebhookEvents",
  listWebhookEvents: "Webhooks.ListWebhookEvents",
} as const satisfies Record<string, RpcName>;

export type ClientMethodName = keyof typeof clientMethods;

/** `"abc"` or `{field: "abc", ...}`: the request of an RPC addressed by one id. */
type IdOr<T> = string | number | DeepPartial<T>;
function idRequest<T>(req: IdOr<T>, field: string): DeepPartial<T> {
  return (typeof req === "string" || typeof req === "number" ? { [field]: req } : req) as DeepPartial<T>;
}

export class OutcallClient {
  readonly baseUrl: string;
  private readonly tokenSource: string | TokenProvider | undefined;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch | undefined;

  constructor(options: OutcallClientOptions) {
    if (!options || typeof options.baseUrl !== "string" || options.baseUrl === "") {
      throw new TypeError("OutcallClient: baseUrl is required, e.g. http://127.0.0.1:8080");
    }
    const url = new URL(options.baseUrl); // throws on a malformed URL
    this.baseUrl = url.toString().replace(/\/+$/, "");
    this.tokenSource = options.token;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.headers = { ...(options.headers ?? {}) };
    // Without one, the global fetch at each request (so test doubles that replace it work).
    if (options.fetch === undefined && typeof globalThis.fetch !== "function") {
      throw new TypeError("OutcallClient: no fetch (Node 20 or later has one)");
    }
    this.fetchImpl = options.fetch;
  }

  // ---- CallGateway: calls --------------------------------------------------------------------

  /** GET /api/elevenlabs/agents: `{success, data: [agents], count}`. */
  listAgents(request: DeepPartial<cg.ListAgentsRequest> = {}, options?: CallOptions): Promise<cg.ListAgentsResponse> {
    return this.call("CallGateway.ListAgents", request, options);
  }
  /** POST /api/elevenlabs/call: places a call. `{success, message, data: {success, conversationId, callId, status}}`. */
  initiateCall(request: DeepPartial<cg.InitiateCallRequest>, options?: CallOptions): Promise<cg.InitiateCallResponse> {
    return this.call("CallGateway.InitiateCall", request, options);
  }
  /** POST /api/elevenlabs/call-patient/{patientId}: calls a patient at their own number. */
  callPatient(request: DeepPartial<cg.CallPatientRequest>, options?: CallOptions): Promise<cg.InitiateCallResponse> {
    return this.call("CallGateway.CallPatient", request, options);
  }
  /** GET /api/elevenlabs/conversation/{conversationId} (ElevenLabs' id or outcall's call id). */
  getConversation(request: IdOr<cg.GetConversationRequest>, options?: CallOptions): Promise<cg.GetConversationResponse> {
    return this.call("CallGateway.GetConversation", idRequest(request, "conversationId"), options);
  }
  /** DELETE /api/elevenlabs/conversation/{conversationId}: hangs the call up (never erases). */
  endCall(request: IdOr<cg.EndCallRequest>, options?: CallOptions): Promise<cg.EndCallResponse> {
    return this.call("CallGateway.EndCall", idRequest(request, "conversationId"), options);
  }
  /** GET /api/elevenlabs/conversation/{conversationId}/audio: the recording's bytes and content type. */
  getConversationAudio(request: IdOr<cg.GetConversationAudioRequest>, options?: CallOptions): Promise<BinaryBody> {
    return this.call("CallGateway.GetConversationAudio", idRequest(request, "conversationId"), options);
  }
  /** DELETE /api/elevenlabs/conversation/{conversationId}/data: erases the conversation's data here and at ElevenLabs. */
  eraseConversation(
    request: IdOr<cg.EraseConversationRequest>,
    options?: CallOptions,
  ): Promise<cg.EraseConversationResponse> {
    return this.call("CallGateway.EraseConversation", idRequest(request, "conversationId"), options);
  }
  /** GET /api/elevenlabs/call-events: every state change (or one conversation's), until the signal aborts or you stop iterating. */
  watchCallEvents(request: DeepPartial<cg.WatchCallEventsRequest> = {}, options?: CallOptions): AsyncIterable<cg.CallUpdate> {
    return this.stream("CallGateway.WatchCallEvents", request, options);
  }

  // ---- CallGateway: contact policy, consent, data subjects' rights ---------------------------

  /** POST /api/elevenlabs/contact-policy/check: the decision a dial would get, without dialling. */
  checkContactPolicy(
    request: DeepPartial<cg.CheckContactPolicyRequest>,
    options?: CallOptions,
  ): Promise<cg.ContactPolicyDecision> {
    return this.call("CallGateway.CheckContactPolicy", request, options);
  }
  /** POST /api/elevenlabs/patients/{patientId}/consents: appends an authorisation or a revocation. */
  recordConsent(request: DeepPartial<cg.RecordConsentRequest>, options?: CallOptions): Promise<cg.RecordConsentResponse> {
    return this.call("CallGateway.RecordConsent", request, options);
  }
  /** POST /api/elevenlabs/contacts: a contact made on another channel (counts toward the caps). */
  recordContact(request: DeepPartial<cg.RecordContactRequest>, options?: CallOptions): Promise<cg.RecordContactResponse> {
    return this.call("CallGateway.RecordContact", request, options);
  }
  /** GET /api/elevenlabs/patients/{patientId}/data: everything held about a patient (privacy:admin). */
  exportPatientData(
    request: IdOr<cg.ExportPatientDataRequest>,
    options?: CallOptions,
  ): Promise<cg.ExportPatientDataResponse> {
    return this.call("CallGateway.ExportPatientData", idRequest(request, "patientId"), options);
  }
  /** GET /api/elevenlabs/contact-policy/evidence: every dial attempt with its decision, paged. */
  exportEvidence(request: DeepPartial<cg.ExportEvidenceRequest> = {}, options?: CallOptions): Promise<cg.ExportEvidenceResponse> {
    return this.call("CallGateway.ExportEvidence", request, options);
  }
  /** POST /api/elevenlabs/patients/{patientId}/data-requests: a data subject's request (access, rectification, deletion). */
  createDataRequest(request: DeepPartial<cg.CreateDataRequestRequest>, options?: CallOptions): Promise<cg.DataRequest> {
    return this.call("CallGateway.CreateDataRequest", request, options);
  }
  /** GET /api/elevenlabs/data-requests/{requestId}. */
  getDataRequest(request: IdOr<cg.GetDataRequestRequest>, options?: CallOptions): Promise<cg.DataRequest> {
    return this.call("CallGateway.GetDataRequest", idRequest(request, "requestId"), options);
  }
  /** GET /api/elevenlabs/data-requests?state=&patientId=. */
  listDataRequests(
    request: DeepPartial<cg.ListDataRequestsRequest> = {},
    options?: CallOptions,
  ): Promise<cg.ListDataRequestsResponse> {
    return this.call("CallGateway.ListDataRequests", request, options);
  }

  // ---- Stats ---------------------------------------------------------------------------------

  /** GET /api/elevenlabs/calls?page&limit&patientId&status (+ startDate, endDate, agentId, cursor). */
  getCalls(request: DeepPartial<st.ListCallsRequest> = {}, options?: CallOptions): Promise<st.ListCallsResponse> {
    return this.call("Stats.ListCalls", request, options);
  }
  /** GET /api/elevenlabs/stats?startDate&endDate (+ status, agentId, campaignId): `data.total_calls`, ... */
  getCallStats(request: DeepPartial<st.GetCallStatsRequest> = {}, options?: CallOptions): Promise<st.GetCallStatsResponse> {
    return this.call("Stats.GetCallStats", request, options);
  }
  /** GET /api/elevenlabs/stats/daily?startDate&endDate: one row per day. */
  getDailyStats(request: DeepPartial<st.GetDailyStatsRequest> = {}, options?: CallOptions): Promise<st.GetDailyStatsResponse> {
    return this.call("Stats.GetDailyStats", request, options);
  }
  /** GET /api/elevenlabs/errors?page&limit: recent provider and processing errors. */
  listCallErrors(request: DeepPartial<st.ListCallErrorsRequest> = {}, options?: CallOptions): Promise<st.ListCallErrorsResponse> {
    return this.call("Stats.ListCallErrors", request, options);
  }

  // ---- Campaigns -----------------------------------------------------------------------------

  /** POST /api/elevenlabs/campaigns (honours idempotencyKey). */
  createCampaign(request: DeepPartial<cp.CreateCampaignRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.CreateCampaign", request, options);
  }
  /** GET /api/elevenlabs/campaigns/{campaignId}: with live counters and an ETA. */
  getCampaign(request: IdOr<cp.GetCampaignRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.GetCampaign", idRequest(request, "campaignId"), options);
  }
  /** GET /api/elevenlabs/campaigns?state=: newest first, paged. */
  listCampaigns(request: DeepPartial<cp.ListCampaignsRequest> = {}, options?: CallOptions): Promise<cp.ListCampaignsResponse> {
    return this.call("Campaigns.ListCampaigns", request, options);
  }
  /** PATCH /api/elevenlabs/campaigns/{campaignId}. */
  updateCampaign(request: DeepPartial<cp.UpdateCampaignRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.UpdateCampaign", request, options);
  }
  /** POST /api/elevenlabs/campaigns/{campaignId}/recipients: valid rows kept, each invalid one reported. */
  addRecipients(request: DeepPartial<cp.AddRecipientsRequest>, options?: CallOptions): Promise<cp.AddRecipientsResponse> {
    return this.call("Campaigns.AddRecipients", request, options);
  }
  /** GET /api/elevenlabs/campaigns/{campaignId}/recipients?state=. */
  listRecipients(request: DeepPartial<cp.ListRecipientsRequest>, options?: CallOptions): Promise<cp.ListRecipientsResponse> {
    return this.call("Campaigns.ListRecipients", request, options);
  }
  /** POST /api/elevenlabs/campaigns/{campaignId}/start. */
  startCampaign(request: IdOr<cp.CampaignActionRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.StartCampaign", idRequest(request, "campaignId"), options);
  }
  /** POST /api/elevenlabs/campaigns/{campaignId}/pause. */
  pauseCampaign(request: IdOr<cp.CampaignActionRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.PauseCampaign", idRequest(request, "campaignId"), options);
  }
  /** POST /api/elevenlabs/campaigns/{campaignId}/resume. */
  resumeCampaign(request: IdOr<cp.CampaignActionRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.ResumeCampaign", idRequest(request, "campaignId"), options);
  }
  /** POST /api/elevenlabs/campaigns/{campaignId}/cancel. */
  cancelCampaign(request: IdOr<cp.CampaignActionRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.CancelCampaign", idRequest(request, "campaignId"), options);
  }
  /** POST /api/elevenlabs/campaigns/{campaignId}/retry-failed. */
  retryFailed(request: IdOr<cp.CampaignActionRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.RetryFailed", idRequest(request, "campaignId"), options);
  }
  /** POST /api/elevenlabs/campaigns/{campaignId}/duplicate. */
  duplicateCampaign(request: IdOr<cp.DuplicateCampaignRequest>, options?: CallOptions): Promise<cp.Campaign> {
    return this.call("Campaigns.DuplicateCampaign", idRequest(request, "campaignId"), options);
  }
  /** GET /api/elevenlabs/campaigns/{campaignId}/watch: snapshots and recipients' transitions. */
  watchCampaign(request: IdOr<cp.WatchCampaignRequest>, options?: CallOptions): AsyncIterable<cp.CampaignUpdate> {
    return this.stream("Campaigns.WatchCampaign", idRequest(request, "campaignId"), options);
  }
  /** GET /api/elevenlabs/campaign-reviews: attempts whose outcome needs a person. */
  listReviews(request: DeepPartial<cp.ListReviewsRequest> = {}, options?: CallOptions): Promise<cp.ListReviewsResponse> {
    return this.call("Campaigns.ListReviews", request, options);
  }
  /** POST /api/elevenlabs/campaign-reviews/{reviewId}/resolve. */
  resolveReview(request: DeepPartial<cp.ResolveReviewRequest>, options?: CallOptions): Promise<cp.Review> {
    return this.call("Campaigns.ResolveReview", request, options);
  }
  /** POST /api/elevenlabs/automation-rules (honours idempotencyKey). */
  createAutomationRule(request: DeepPartial<cp.CreateAutomationRuleRequest>, options?: CallOptions): Promise<cp.AutomationRule> {
    return this.call("Campaigns.CreateAutomationRule", request, options);
  }
  /** GET /api/elevenlabs/automation-rules. */
  listAutomationRules(
    request: DeepPartial<cp.ListAutomationRulesRequest> = {},
    options?: CallOptions,
  ): Promise<cp.ListAutomationRulesResponse> {
    return this.call("Campaigns.ListAutomationRules", request, options);
  }
  /** PATCH /api/elevenlabs/automation-rules/{ruleId}: enable or disable. */
  updateAutomationRule(request: DeepPartial<cp.UpdateAutomationRuleRequest>, options?: CallOptions): Promise<cp.AutomationRule> {
    return this.call("Campaigns.UpdateAutomationRule", request, options);
  }

  // ---- ClinicSync: the clinic's patients and appointments, by its own ids (externalRef) ------

  /** POST /api/elevenlabs/sync/patients: up to 5,000, created or updated by externalRef; a result per row. */
  upsertPatients(request: DeepPartial<sy.UpsertPatientsRequest>, options?: CallOptions): Promise<sy.SyncResponse> {
    return this.call("ClinicSync.UpsertPatients", request, options);
  }
  /** POST /api/elevenlabs/sync/appointments: up to 5,000, each naming its patient's externalRef. */
  upsertAppointments(request: DeepPartial<sy.UpsertAppointmentsRequest>, options?: CallOptions): Promise<sy.SyncResponse> {
    return this.call("ClinicSync.UpsertAppointments", request, options);
  }
  /**
   * POST /api/elevenlabs/sync/fhir: a FHIR R4 Patient, Appointment or Bundle. Pass the resource
   * itself (`{resourceType: "Bundle", ...}`) or `{resource: {...}}`.
   */
  importFhir(request: JsonObject | DeepPartial<sy.ImportFhirRequest>, options?: CallOptions): Promise<sy.SyncResponse> {
    const req = isObject(request) && typeof (request as JsonObject).resourceType === "string" ? { resource: request } : request;
    return this.call("ClinicSync.ImportFhir", req as DeepPartial<sy.ImportFhirRequest>, options);
  }
  /** GET /api/elevenlabs/sync/patients/{externalRef}. */
  getPatient(request: IdOr<sy.GetSyncedRequest>, options?: CallOptions): Promise<sy.SyncedPatient> {
    return this.call("ClinicSync.GetPatient", idRequest(request, "externalRef"), options);
  }
  /** GET /api/elevenlabs/sync/patients?updatedSince=: by id, paged. */
  listPatients(request: DeepPartial<sy.ListSyncedRequest> = {}, options?: CallOptions): Promise<sy.ListSyncedPatientsResponse> {
    return this.call("ClinicSync.ListPatients", request, options);
  }
  /** DELETE /api/elevenlabs/sync/patients/{externalRef}: with their appointments; queued calls end canceled. */
  deletePatient(request: IdOr<sy.GetSyncedRequest>, options?: CallOptions): Promise<sy.DeleteSyncedResponse> {
    return this.call("ClinicSync.DeletePatient", idRequest(request, "externalRef"), options);
  }
  /** GET /api/elevenlabs/sync/appointments/{externalRef}. */
  getAppointment(request: IdOr<sy.GetSyncedRequest>, options?: CallOptions): Promise<sy.SyncedAppointment> {
    return this.call("ClinicSync.GetAppointment", idRequest(request, "externalRef"), options);
  }
  /** GET /api/elevenlabs/sync/appointments?patientExternalRef=&from=&to=&status=. */
  listAppointments(
    request: DeepPartial<sy.ListSyncedRequest> = {},
    options?: CallOptions,
  ): Promise<sy.ListSyncedAppointmentsResponse> {
    return this.call("ClinicSync.ListAppointments", request, options);
  }
  /** POST /api/elevenlabs/sync/appointments/{externalRef}/cancel. */
  cancelAppointment(request: IdOr<sy.CancelAppointmentRequest>, options?: CallOptions): Promise<sy.SyncedAppointment> {
    return this.call("ClinicSync.CancelAppointment", idRequest(request, "externalRef"), options);
  }
  /** DELETE /api/elevenlabs/sync/appointments/{externalRef}. */
  deleteAppointment(request: IdOr<sy.GetSyncedRequest>, options?: CallOptions): Promise<sy.DeleteSyncedResponse> {
    return this.call("ClinicSync.DeleteAppointment", idRequest(request, "externalRef"), options);
  }
  /** GET /api/elevenlabs/sync/fhir/Appointment/{externalRef}: a FHIR R4 Appointment. */
  getFhirAppointment(request: IdOr<sy.GetSyncedRequest>, options?: CallOptions): Promise<JsonObject> {
    return this.call("ClinicSync.GetFhirAppointment", idRequest(request, "externalRef"), options);
  }
  /** GET /api/elevenlabs/sync/fhir/Patient/{externalRef}: a FHIR R4 Patient. */
  getFhirPatient(request: IdOr<sy.GetSyncedRequest>, options?: CallOptions): Promise<JsonObject> {
    return this.call("ClinicSync.GetFhirPatient", idRequest(request, "externalRef"), options);
  }

  // ---- Webhooks: subscriptions to outcall's outbound events ----------------------------------

  /** POST /api/elevenlabs/webhook-subscriptions: the answer is the only one that shows the secret. */
  createWebhookSubscription(
    request: DeepPartial<wh.CreateWebhookSubscriptionRequest>,
    options?: CallOptions,
  ): Promise<wh.WebhookSubscription> {
    return this.call("Webhooks.CreateWebhookSubscription", request, options);
  }
  /** GET /api/elevenlabs/webhook-subscriptions. */
  listWebhookSubscriptions(
    request: DeepPartial<wh.ListWebhookSubscriptionsRequest> = {},
    options?: CallOptions,
  ): Promise<wh.ListWebhookSubscriptionsResponse> {
    return this.call("Webhooks.ListWebhookSubscriptions", request, options);
  }
  /** GET /api/elevenlabs/webhook-subscriptions/{subscriptionId}. */
  getWebhookSubscription(request: IdOr<wh.WebhookSubscriptionRef>, options?: CallOptions): Promise<wh.WebhookSubscription> {
    return this.call("Webhooks.GetWebhookSubscription", idRequest(request, "subscriptionId"), options);
  }
  /** PATCH /api/elevenlabs/webhook-subscriptions/{subscriptionId}: url, event types, full data, enabled. */
  updateWebhookSubscription(
    request: DeepPartial<wh.UpdateWebhookSubscriptionRequest>,
    options?: CallOptions,
  ): Promise<wh.WebhookSubscription> {
    return this.call("Webhooks.UpdateWebhookSubscription", request, options);
  }
  /** POST /api/elevenlabs/webhook-subscriptions/{subscriptionId}/rotate-secret: the answer shows the new secret. */
  rotateWebhookSecret(request: IdOr<wh.RotateWebhookSecretRequest>, options?: CallOptions): Promise<wh.WebhookSubscription> {
    return this.call("Webhooks.RotateWebhookSecret", idRequest(request, "subscriptionId"), options);
  }
  /** DELETE /api/elevenlabs/webhook-subscriptions/{subscriptionId}. */
  deleteWebhookSubscription(
    request: IdOr<wh.WebhookSubscriptionRef>,
    options?: CallOptions,
  ): Promise<wh.DeleteWebhookSubscriptionResponse> {
    return this.call("Webhooks.DeleteWebhookSubscription", idRequest(request, "subscriptionId"), options);
  }
  /** GET /api/elevenlabs/webhook-subscriptions/{subscriptionId}/deliveries: the delivery log, newest first. */
  listWebhookDeliveries(
    request: IdOr<wh.ListWebhookDeliveriesRequest>,
    options?: CallOptions,
  ): Promise<wh.ListWebhookDeliveriesResponse> {
    return this.call("Webhooks.ListWebhookDeliveries", idRequest(request, "subscriptionId"), options);
  }
  /** POST /api/elevenlabs/webhook-subscriptions/{subscriptionId}/replay: one event or a time range again. */
  replayWebhookEvents(
    request: DeepPartial<wh.ReplayWebhookEventsRequest>,
    options?: CallOptions,
  ): Promise<wh.ReplayWebhookEventsResponse> {
    return this.call("Webhooks.ReplayWebhookEvents", request, options);
  }
  /** GET /api/elevenlabs/webhook-events?type=: the outbox, newest first. */
  listWebhookEvents(
    request: DeepPartial<wh.ListWebhookEventsRequest> = {},
    options?: CallOptions,
  ): Promise<wh.ListWebhookEventsResponse> {
    return this.call("Webhooks.ListWebhookEvents", request, options);
  }

  // ---- Any RPC by name -----------------------------------------------------------------------

  /**
   * Calls any unary RPC with a REST mapping by name ("Stats.GetCallStats"). The typed methods
   * above are this with a name; it is here for RPCs newer than this client's methods.
   */
  async call<K extends RpcName>(rpc: K, request: RequestOf<K>, options: CallOptions = {}): Promise<ResponseOf<K>> {
    const route = routeOf(rpc);
    if (route.serverStreaming) throw new TypeError(`${rpc} is a stream: use stream()`);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const { response, requestId } = await this.send(rpc, route, request, options, timeoutMs);
    if (route.responseType === "BinaryBody") {
      const bytes = new Uint8Array(await readAll(response, rpc));
      return { contentType: response.headers.get("content-type") ?? "application/octet-stream", data: bytes } as ResponseOf<K>;
    }
    const body = await readText(response, rpc);
    if (body.trim() === "") return {} as ResponseOf<K>;
    try {
      return JSON.parse(body) as ResponseOf<K>;
    } catch (cause) {
      throw new OutcallError({
        status: response.status,
        code: GrpcCode.INTERNAL,
        message: `${rpc}: the answer is not JSON`,
        body,
        rpc,
        requestId,
        cause,
      });
    }
  }

  /**
   * A server stream by name ("CallGateway.WatchCallEvents"): one message per line of the
   * answer. Ends when the server ends it; stop iterating (break) or abort the signal to end it
   * yourself. An error the server sends mid-stream is thrown as an OutcallError.
   */
  stream<K extends RpcName>(rpc: K, request: RequestOf<K>, options: CallOptions = {}): AsyncIterable<ResponseOf<K>> {
    const route = routeOf(rpc);
    if (!route.serverStreaming) throw new TypeError(`${rpc} is not a stream: use call()`);
    const client = this;
    return {
      [Symbol.asyncIterator]: () => client.iterate<K>(rpc, route, request, options),
    };
  }

  private async *iterate<K extends RpcName>(
    rpc: K,
    route: Route,
    request: unknown,
    options: CallOptions,
  ): AsyncGenerator<ResponseOf<K>, void, undefined> {
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const { response, requestId } = await this.send(rpc, route, request, { ...options, signal }, options.timeoutMs ?? 0);
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    const parse = (line: string): ResponseOf<K> | undefined => {
      if (line.trim() === "") return undefined;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch (cause) {
        throw new OutcallError({ status: response.status, code: GrpcCode.INTERNAL, message: `${rpc}: a line of the stream is not JSON`, body: line, rpc, requestId, cause });
      }
      if (isStreamError(msg)) {
        throw new OutcallError({ status: response.status, code: msg.code, message: msg.message, details: msg.details ?? [], body: msg, rpc, requestId });
      }
      return msg as ResponseOf<K>;
    };
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (cause) {
          throw networkError(rpc, cause, options.signal);
        }
        if (chunk.done) break;
        buffered += decoder.decode(chunk.value, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const msg = parse(line);
          if (msg !== undefined) yield msg;
        }
      }
      const last = parse(buffered + decoder.decode());
      if (last !== undefined) yield last;
    } finally {
      stop.abort(); // the consumer stopped (or the stream ended): the connection is released
      reader.releaseLock();
    }
  }

  private async authorization(): Promise<string | undefined> {
    const src = this.tokenSource;
    const token = typeof src === "function" ? await src() : src;
    return token ? `Bearer ${token}` : undefined;
  }

  private async send(
    rpc: string,
    route: Route,
    request: unknown,
    options: CallOptions,
    timeoutMs: number,
  ): Promise<{ response: Response; requestId: string }> {
    const parts = transcode(route, request);
    const qs = parts.query.toString();
    const url = `${this.baseUrl}${parts.path}${qs ? `?${qs}` : ""}`;
    const headers: Record<string, string> = {
      accept: route.serverStreaming ? "application/x-ndjson, application/json" : "application/json",
      "user-agent": `outcall-client-ts/${VERSION}`,
      ...this.headers,
      ...(options.headers ?? {}),
    };
    if (parts.body !== undefined) headers["content-type"] = "application/json";
    // Our own request id, so an error can name the request the services logged (the edge and
    // Envoy pass it on and add one only when a request has none; neither echoes it back).
    const hasId = Object.keys(headers).some((k) => k.toLowerCase() === "x-request-id");
    if (!hasId) headers["x-request-id"] = randomUUID();
    const requestId = Object.entries(headers).find(([k]) => k.toLowerCase() === "x-request-id")![1];
    const auth = await this.authorization();
    if (auth) headers.authorization = auth;
    if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    if (timeoutMs > 0) signals.push(AbortSignal.timeout(timeoutMs));
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let response: Response;
    try {
      response = await (this.fetchImpl ?? globalThis.fetch)(url, { method: route.verb, headers, body: parts.body, signal, redirect: "manual" });
    } catch (cause) {
      throw networkError(rpc, cause, options.signal, requestId);
    }
    if (!response.ok) {
      const text = await readText(response, rpc).catch(() => "");
      throw OutcallError.fromAnswer(response.status, text, rpc, response.headers.get("x-request-id") ?? requestId);
    }
    return { response, requestId };
  }
}

function routeOf(rpc: string): Route {
  const route = (routes as Record<string, Route>)[rpc];
  if (!route) throw new TypeError(`unknown RPC ${rpc} (not in the route table generated from the protos)`);
  return route;
}

function isStreamError(msg: unknown): msg is { code: number; message: string; details?: unknown[] } {
  // A stream's last line after an error: {"code","message","details"} and nothing else.
  if (!isObject(msg) || typeof msg.code !== "number" || typeof msg.message !== "string") return false;
  return Object.keys(msg).every((k) => k === "code" || k === "message" || k === "details") && msg.code !== 0;
}

function networkError(rpc: string, cause: unknown, callerSignal: AbortSignal | undefined, requestId?: string): OutcallError {
  const name = (cause as { name?: string } | null)?.name;
  if (callerSignal?.aborted) {
    return new OutcallError({ status: 0, code: GrpcCode.CANCELLED, message: `${rpc}: cancelled`, rpc, requestId, cause });
  }
  if (name === "TimeoutError" || name === "AbortError") {
    return new OutcallError({ status: 0, code: GrpcCode.DEADLINE_EXCEEDED, message: `${rpc}: no answer in time`, rpc, requestId, cause });
  }
  const detail = (cause as { cause?: { code?: string; message?: string } } | null)?.cause;
  const why = detail?.code ?? detail?.message ?? (cause instanceof Error ? cause.message : String(cause));
  return new OutcallError({ status: 0, code: GrpcCode.UNAVAILABLE, message: `${rpc}: the REST face did not answer (${why})`, rpc, requestId, cause });
}

async function readText(response: Response, rpc: string): Promise<string> {
  try {
    return await response.text();
  } catch (cause) {
    throw networkError(rpc, cause, undefined);
  }
}

async function readAll(response: Response, rpc: string): Promise<ArrayBuffer> {
  try {
    return await response.arrayBuffer();
  } catch (cause) {
    throw networkError(rpc, cause, undefined);
  }
}
