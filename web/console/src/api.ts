// The REST edge: /api/elevenlabs/*, a JWT in sessionStorage, errors as {code, message, details}.
import { watch, type StreamError } from './ndjson';

const TOKEN_KEY = 'outcall.token';

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: number,
    message: string,
    public details: unknown[] = [],
  ) {
    super(message);
  }
}

type Listener = (message: string) => void;
let onUnauthorized: Listener = () => {};
export function setUnauthorizedHandler(fn: Listener) {
  onUnauthorized = fn;
}

export const token = {
  get: (): string => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The token's claims, unverified (for display: subject, permissions, expiry). */
export function claims(t: string): Record<string, unknown> | null {
  const parts = t.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
        .split('')
        .map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'))
        .join(''),
    );
    const v = JSON.parse(json);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

export function authHeaders(): Record<string, string> {
  const t = token.get();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export function uuid(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const BASE = '/api/elevenlabs';

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 2;
  let message = `HTTP ${res.status}`;
  let details: unknown[] = [];
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text);
      if (body && typeof body === 'object') {
        if (typeof body.message === 'string' && body.message) message = body.message;
        if (typeof body.code === 'number') code = body.code;
        if (Array.isArray(body.details)) details = body.details;
      }
    } catch {
      if (text.trim()) message = text.trim().slice(0, 300);
    }
  } catch {
    /* body unreadable */
  }
  return new ApiError(res.status, code, message, details);
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(), ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 14, (e as Error).message || 'network error');
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401) onUnauthorized(err.message);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}, headers?: Record<string, string>) =>
  request<T>('POST', path, body, headers);
export const del = <T>(path: string) => request<T>('DELETE', path);

/** Bytes with the token (for <audio>): a blob URL, or null on 404. */
export async function fetchBlobUrl(path: string): Promise<string | null> {
  const res = await fetch(BASE + path, { headers: authHeaders() });
  if (res.status === 404) return null;
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401) onUnauthorized(err.message);
    throw err;
  }
  return URL.createObjectURL(await res.blob());
}

export function stream<T>(
  path: string,
  idKey: string,
  onMessage: (m: T) => void,
  onState?: (connected: boolean) => void,
  onError?: (e: StreamError) => void,
): () => void {
  return watch<T>({
    url: BASE + path,
    idKey,
    headers: () => ({ Accept: 'application/x-ndjson, application/json', ...authHeaders() }),
    onMessage,
    onState,
    onError,
    onHttpError: (status, body) => {
      if (status === 401) {
        onUnauthorized(body?.message || '');
        return true;
      }
      if (body && status >= 400 && status < 500) onError?.(body);
      return false;
    },
  });
}

// ---- the contract's shapes (proto JSON names) ----
export interface CallSummary {
  conversationId: string;
  callId: string;
  status: string;
  agentId: string;
  patientId: number;
  appointmentId: number;
  phoneNumber: string;
  durationSecs: number;
  cost: number;
  callSuccessful: string;
  createdAt?: string;
  startedAt?: string;
  endedAt?: string;
}
export interface Pagination {
  page: number;
  limit: number;
  total: number;
  pages: number;
  nextCursor: string;
}
export interface ListCallsResponse {
  success: boolean;
  data: CallSummary[];
  pagination: Pagination;
}
export interface CallUpdate {
  conversationId: string;
  callId: string;
  status: string;
  previousStatus: string;
  cause: string;
  at?: string;
}
export interface TranscriptTurn {
  role: string;
  message: string;
  timeInCallSecs: number;
}
export interface Conversation extends CallSummary {
  terminationReason: string;
  transcript: TranscriptTurn[];
  analysis?: {
    callSuccessful: string;
    transcriptSummary: string;
    callSummaryTitle: string;
    dataCollectionResults?: Record<string, unknown>;
    evaluationCriteriaResults?: Record<string, unknown>;
  };
  errors?: { source: string; code: string; message: string; createdAt?: string }[];
  costCredits?: number | string;
  hasAudio?: boolean;
}
export interface CallStats {
  total_calls: number;
  completed_calls: number;
  failed_calls: number;
  avg_duration: number;
  total_cost: number;
  by_status: { status: string; count: number; avg_duration: number; total_cost: number }[];
}
export interface DailyStats {
  date: string;
  total_calls: number;
  completed_calls: number;
  failed_calls: number;
  avg_duration: number;
  total_cost: number;
}
export interface Counters {
  total: number;
  pending: number;
  scheduled: number;
  dialing: number;
  inCall: number;
  done: number;
  exhausted: number;
  ineligible: number;
  optedOut: number;
  canceled: number;
  expired: number;
  attempts: number | string;
  outcomes?: Record<string, number>;
}
export interface Campaign {
  campaignId: string;
  spec: { name: string; purpose: string; agentId: string; variablesTemplate?: Record<string, unknown> };
  state: string;
  stateReason: string;
  counters?: Counters;
  eta?: string;
  createdBy: string;
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
}
export interface CampaignUpdate {
  campaignId: string;
  at?: string;
  state: string;
  counters?: Counters;
  transition?: { recipientId: string | number; fromState: string; toState: string; outcome: string; attempts: number };
}
export interface RecipientError {
  index: number;
  field: string;
  message: string;
}
export interface Review {
  reviewId: string | number;
  campaignId: string;
  recipientId: string | number;
  attemptNo: number;
  reason: string;
  conversationId: string;
  patientId: number;
  appointmentId: number;
  phoneNumber: string;
  callSuccessful: string;
  summary: string;
  createdAt?: string;
  decision: string;
  resolvedBy: string;
  note: string;
}

export const LIVE_STATES = new Set(['queued', 'dialing', 'initiated', 'ringing', 'in_progress']);
export const CALL_STATES = [
  'queued', 'dialing', 'initiated', 'ringing', 'in_progress', 'completed', 'failed', 'no_answer', 'busy',
  'ended_manually', 'canceled',
];

/** Today's date (YYYY-MM-DD) in the clinic's zone (America/Bogota), as the stats service counts. */
export function clinicDate(d: Date = new Date(), tz = 'America/Bogota'): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return t.toISOString().slice(0, 10);
}
