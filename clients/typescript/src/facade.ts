// The original system's `elevenLabsService` (../shared/seed-readme.es.md, "Uso del Servicio en
// Código"), over outcall: the same method names and result shapes, so the clinic's backend keeps
// its code and changes only the import.
//
//   import { elevenLabsService } from '@outcall/client';   // OUTCALL_URL, OUTCALL_TOKEN
//   const result = await elevenLabsService.initiateCall({ phoneNumber: '+573001234567', ... });
//   if (result.success) console.log(result.conversationId); else console.error(result.error);
import { OutcallClient, type CallOptions, type OutcallClientOptions, type TokenProvider } from "./client.js";
import { OutcallError } from "./errors.js";
import type { Agent, Conversation } from "./gen/outcall/v1/call_gateway.js";
import type { CallSummary, Pagination } from "./gen/outcall/v1/common.js";
import type { CallStats, DailyStats } from "./gen/outcall/v1/stats.js";

/** A dynamic variable's value: ElevenLabs takes strings, numbers and booleans. */
export type VariableValue = string | number | boolean;

/** The seed's initiateCall parameters (and outcall's additions: agentId, purpose, idempotencyKey). */
export interface InitiateCallParams {
  phoneNumber: string;
  patientId?: number;
  patientName?: string;
  appointmentId?: number;
  agentId?: string;
  customVariables?: Record<string, VariableValue>;
  metadata?: Record<string, unknown>;
  /** confirmation (default), reminder, survey, promotion, collection: which contact-policy rules apply. */
  purpose?: string;
  /** Sent as Idempotency-Key: the same key again gets the first call instead of a second one. */
  idempotencyKey?: string;
}

export interface CallPatientParams {
  appointmentId?: number;
  agentId?: string;
  customVariables?: Record<string, VariableValue>;
  metadata?: Record<string, unknown>;
  purpose?: string;
  idempotencyKey?: string;
}

/**
 * What initiateCall and callPatient resolve to, as the seed's service did. A refused call
 * (invalid number, contact policy, unknown patient, outcall unreachable) is `success: false`
 * with `error`: these never reject.
 */
export type InitiateCallResult =
  | {
      success: true;
      conversationId: string;
      callId: string;
      /** queued, dialing, initiated, ... */
      status: string;
      message?: string;
      error?: undefined;
      httpStatus?: undefined;
      code?: undefined;
    }
  | {
      success: false;
      conversationId?: undefined;
      callId?: undefined;
      status?: undefined;
      message?: string;
      /** Why, in words (the REST face's message). */
      error: string;
      /** The HTTP status of the refusal; 0 when outcall did not answer. */
      httpStatus: number;
      /** The gRPC code's name: INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, UNAVAILABLE, ... */
      code: string;
    };

export interface GetCallsParams {
  page?: number;
  limit?: number;
  patientId?: number;
  status?: string;
  startDate?: string;
  endDate?: string;
  agentId?: string;
  cursor?: string;
}

export interface StatsParams {
  /** YYYY-MM-DD, clinic time zone, inclusive. */
  startDate?: string;
  endDate?: string;
  status?: string;
  agentId?: string;
  campaignId?: string;
}

export interface EndCallResult {
  success: boolean;
  message: string;
  conversationId: string;
  callId: string;
  status: string;
}

/** The seed's service, over outcall. */
export interface ElevenLabsService {
  /** Places a call; never rejects (a refusal is `success: false` with `error`). */
  initiateCall(params: InitiateCallParams): Promise<InitiateCallResult>;
  /** Calls a patient at the number outcall has for them; never rejects. */
  callPatient(patientId: number, params?: CallPatientParams): Promise<InitiateCallResult>;
  /** The conversation (status, transcript, analysis, errors). Rejects with OutcallError (404 for an unknown id). */
  getConversation(conversationId: string): Promise<Conversation>;
  /** Hangs the call up. Rejects with OutcallError. */
  endCall(conversationId: string): Promise<EndCallResult>;
  /** The call history, newest first. */
  getCalls(params?: GetCallsParams): Promise<{ data: CallSummary[]; pagination?: Pagination }>;
  /** `total_calls`, `completed_calls`, `failed_calls`, `avg_duration`, `total_cost`, `by_status`. */
  getCallStats(params?: StatsParams): Promise<CallStats>;
  /** One row per day. */
  getDailyStats(params?: StatsParams): Promise<DailyStats[]>;
  /** The ElevenLabs agents (`agent_id`, `name`, `conversation_config`). */
  getAgents(): Promise<Agent[]>;
  /** The full client, for everything else (campaigns, sync, webhooks, ...). */
  readonly client: OutcallClient;
}

function refusal(err: unknown): InitiateCallResult {
  if (err instanceof OutcallError) {
    return { success: false, error: err.message, httpStatus: err.status, code: err.codeName };
  }
  return { success: false, error: err instanceof Error ? err.message : String(err), httpStatus: 0, code: "UNKNOWN" };
}

function opts(idempotencyKey: string | undefined): CallOptions | undefined {
  return idempotencyKey === undefined ? undefined : { idempotencyKey };
}

function fromAnswer(answer: { success: boolean; message: string; data?: { conversationId: string; callId: string; status: string } }): InitiateCallResult {
  if (answer.success && answer.data) {
    return {
      success: true,
      conversationId: answer.data.conversationId,
      callId: answer.data.callId,
      status: answer.data.status,
      ...(answer.message ? { message: answer.message } : {}),
    };
  }
  return { success: false, error: answer.message || "the call was not placed", httpStatus: 200, code: "UNKNOWN" };
}

class Service implements ElevenLabsService {
  constructor(private readonly clientOf: () => OutcallClient) {}

  get client(): OutcallClient {
    return this.clientOf();
  }

  async initiateCall(params: InitiateCallParams): Promise<InitiateCallResult> {
    try {
      const { idempotencyKey, ...request } = params ?? ({} as InitiateCallParams);
      return fromAnswer(await this.client.initiateCall(request, opts(idempotencyKey)));
    } catch (err) {
      return refusal(err);
    }
  }

  async callPatient(patientId: number, params: CallPatientParams = {}): Promise<InitiateCallResult> {
    try {
      const { idempotencyKey, ...request } = params;
      return fromAnswer(await this.client.callPatient({ ...request, patientId }, opts(idempotencyKey)));
    } catch (err) {
      return refusal(err);
    }
  }

  async getConversation(conversationId: string): Promise<Conversation> {
    const answer = await this.client.getConversation(conversationId);
    if (!answer.data) {
      throw new OutcallError({ status: 404, code: 5, message: `conversation ${conversationId} not found`, rpc: "CallGateway.GetConversation" });
    }
    return answer.data;
  }

  async endCall(conversationId: string): Promise<EndCallResult> {
    const answer = await this.client.endCall(conversationId);
    return {
      success: answer.success,
      message: answer.message,
      conversationId: answer.data?.conversationId ?? conversationId,
      callId: answer.data?.callId ?? "",
      status: answer.data?.status ?? "",
    };
  }

  async getCalls(params: GetCallsParams = {}): Promise<{ data: CallSummary[]; pagination?: Pagination }> {
    const answer = await this.client.getCalls(params);
    return answer.pagination ? { data: answer.data, pagination: answer.pagination } : { data: answer.data };
  }

  async getCallStats(params: StatsParams = {}): Promise<CallStats> {
    const answer = await this.client.getCallStats(params);
    return (
      answer.data ?? { total_calls: 0, completed_calls: 0, failed_calls: 0, avg_duration: 0, total_cost: 0, by_status: [] }
    );
  }

  async getDailyStats(params: StatsParams = {}): Promise<DailyStats[]> {
    return (await this.client.getDailyStats(params)).data;
  }

  async getAgents(): Promise<Agent[]> {
    return (await this.client.listAgents()).data;
  }
}

export interface ElevenLabsServiceOptions extends Omit<OutcallClientOptions, "baseUrl" | "token"> {
  baseUrl: string;
  token?: string | TokenProvider;
}

/** The seed's service over an outcall REST face of your choosing. */
export function createElevenLabsService(options: ElevenLabsServiceOptions | OutcallClient): ElevenLabsService {
  const client = options instanceof OutcallClient ? options : new OutcallClient(options);
  return new Service(() => client);
}

/** The default address: the single-machine REST edge of scripts/up.sh. */
export const DEFAULT_OUTCALL_URL = "http://127.0.0.1:8080";

/**
 * Options from the environment: OUTCALL_URL (default http://127.0.0.1:8080) and OUTCALL_TOKEN
 * (read at each request, so a process that refreshes it in its environment keeps working).
 */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): OutcallClientOptions {
  return {
    baseUrl: env.OUTCALL_URL || DEFAULT_OUTCALL_URL,
    token: () => env.OUTCALL_TOKEN,
    ...(env.OUTCALL_TIMEOUT_MS ? { timeoutMs: Number(env.OUTCALL_TIMEOUT_MS) } : {}),
  };
}

let envClient: { url: string; client: OutcallClient } | undefined;
function clientFromEnv(): OutcallClient {
  const options = optionsFromEnv();
  if (!envClient || envClient.url !== options.baseUrl) envClient = { url: options.baseUrl, client: new OutcallClient(options) };
  return envClient.client;
}

/**
 * The seed's `elevenLabsService`, configured from the environment (OUTCALL_URL, OUTCALL_TOKEN)
 * when first used: `import { elevenLabsService } from '@outcall/client'`.
 */
export const elevenLabsService: ElevenLabsService = new Service(clientFromEnv);
