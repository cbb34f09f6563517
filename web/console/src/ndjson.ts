// Newline-delimited JSON: the framing of the edge's streaming endpoints (one object per line).
// Pure pieces (the splitter, the line parser) are unit-tested; readStream/watch add fetch.

/** Splits a byte/text stream into complete lines; keeps the unfinished tail for the next chunk. */
export class LineSplitter {
  private buf = '';
  /** Feeds a chunk; returns the complete lines it finished (without the line ends). */
  push(chunk: string): string[] {
    this.buf += chunk;
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf('\n', start);
      if (nl < 0) break;
      let line = this.buf.slice(start, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      out.push(line);
      start = nl + 1;
    }
    this.buf = this.buf.slice(start);
    return out;
  }
  /** At the end of the stream: what is left, if anything (a last line without a newline). */
  flush(): string[] {
    const rest = this.buf.replace(/\r$/, '');
    this.buf = '';
    return rest.trim() ? [rest] : [];
  }
}

export interface StreamError {
  code: number;
  message: string;
}

export type Parsed<T> =
  | { kind: 'message'; value: T }
  | { kind: 'error'; error: StreamError }
  | { kind: 'skip' };

/**
 * One line of a stream. Blank lines (keep-alives) are skipped. Also tolerates the framing of a
 * JSON array streamed as it grows (Envoy's transcoder: "[", ",{...}", "]"). An object with
 * "code" and "message" but without the message's identifying key is the stream's error.
 */
export function parseLine<T>(line: string, idKey: string): Parsed<T> {
  let s = line.trim();
  if (s.startsWith('[')) s = s.slice(1).trim();
  if (s.startsWith(',')) s = s.slice(1).trim();
  if (s.endsWith(']')) s = s.slice(0, -1).trim();
  if (s.endsWith(',')) s = s.slice(0, -1).trim();
  if (!s) return { kind: 'skip' };
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return { kind: 'skip' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { kind: 'skip' };
  const o = v as Record<string, unknown>;
  // gRPC-gateway style {"result": {...}} / {"error": {...}} wrappers, just in case.
  if (o.result && typeof o.result === 'object') return parseObj<T>(o.result as Record<string, unknown>, idKey);
  if (o.error && typeof o.error === 'object' && !(idKey in o)) {
    const e = o.error as Record<string, unknown>;
    return { kind: 'error', error: { code: Number(e.code ?? 2), message: String(e.message ?? '') } };
  }
  return parseObj<T>(o, idKey);
}

function parseObj<T>(o: Record<string, unknown>, idKey: string): Parsed<T> {
  if (!(idKey in o) && 'code' in o && 'message' in o) {
    return { kind: 'error', error: { code: Number(o.code), message: String(o.message) } };
  }
  return { kind: 'message', value: o as T };
}

/** Backoff for reconnects: 1 s, 2 s, 4 s ... capped, with up to 20 % jitter. */
export function backoffMs(attempt: number, capMs = 30000, random = Math.random): number {
  const base = Math.min(capMs, 1000 * 2 ** Math.max(0, attempt));
  return Math.round(base * (1 + 0.2 * random()));
}

export interface WatchOptions<T> {
  url: string;
  idKey: string;
  headers: () => Record<string, string>;
  onMessage: (m: T) => void;
  onError?: (e: StreamError) => void;
  /** Called with true once connected (first bytes or headers), false when it dropped. */
  onState?: (connected: boolean) => void;
  /** HTTP status of a failed open (401 ends the watch: the caller signs out). */
  onHttpError?: (status: number, body: StreamError | null) => boolean | void;
}

/**
 * Reads an NDJSON stream with fetch() (an Authorization header is needed, so no EventSource) and
 * reconnects with backoff when it ends or fails. Returns a function that stops it.
 */
export function watch<T>(opts: WatchOptions<T>): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let attempt = 0;

  const schedule = () => {
    if (stopped) return;
    const wait = backoffMs(attempt++);
    timer = setTimeout(run, wait);
  };

  const run = async () => {
    if (stopped) return;
    controller = new AbortController();
    try {
      const res = await fetch(opts.url, { headers: opts.headers(), signal: controller.signal });
      if (!res.ok || !res.body) {
        let body: StreamError | null = null;
        try {
          body = (await res.json()) as StreamError;
        } catch {
          /* not JSON */
        }
        const stop = opts.onHttpError?.(res.status, body);
        if (stop || res.status === 401 || res.status === 403 || res.status === 404) {
          opts.onState?.(false);
          return;
        }
        opts.onState?.(false);
        schedule();
        return;
      }
      opts.onState?.(true);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const splitter = new LineSplitter();
      let gotData = false;
      const handle = (line: string) => {
        const p = parseLine<T>(line, opts.idKey);
        if (p.kind === 'message') opts.onMessage(p.value);
        else if (p.kind === 'error') opts.onError?.(p.error);
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!gotData) {
          gotData = true;
          attempt = 0;
        }
        for (const line of splitter.push(decoder.decode(value, { stream: true }))) handle(line);
      }
      for (const line of splitter.push(decoder.decode())) handle(line);
      for (const line of splitter.flush()) handle(line);
      opts.onState?.(false);
      // Ended normally (the edge closes idle streams): reconnect soon.
      if (gotData) attempt = 0;
      schedule();
    } catch (e) {
      if (stopped) return;
      opts.onState?.(false);
      schedule();
    }
  };

  run();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    controller?.abort();
  };
}
