// @outcall/client: a typed client of outcall's REST face for Node 20 backends.
export {
  OutcallClient,
  clientMethods,
  type CallOptions,
  type ClientMethodName,
  type DeepPartial,
  type OutcallClientOptions,
  type RequestOf,
  type ResponseOf,
  type TokenProvider,
} from "./client.js";
export {
  OutcallError,
  GrpcCode,
  GRPC_CODE_NAMES,
  grpcCodeForHttpStatus,
  type ErrorBody,
  type GrpcCodeName,
  type OutcallErrorInit,
} from "./errors.js";
export {
  createElevenLabsService,
  elevenLabsService,
  optionsFromEnv,
  DEFAULT_OUTCALL_URL,
  type CallPatientParams,
  type ElevenLabsService,
  type ElevenLabsServiceOptions,
  type EndCallResult,
  type GetCallsParams,
  type InitiateCallParams,
  type InitiateCallResult,
  type StatsParams,
  type VariableValue,
} from "./facade.js";
export {
  verifyWebhook,
  createWebhookVerifier,
  WebhookVerificationError,
  type AppointmentEventData,
  type CallEventData,
  type CampaignEventData,
  type OutcallEventType,
  type PatientOptedOutData,
  type OutcallWebhookEvent,
  type WebhookHeaders,
} from "./webhooks.js";
export { transcode, type HttpRequestParts } from "./transcode.js";
// Every message type of the contracts (generated from proto/outcall/v1), and the route table.
export * from "./gen/index.js";
