// A fetch that answers from a script and records what it was asked: the unit tests need no
// network.
export interface Recorded {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
}

export type Answer = { status?: number; body?: unknown; headers?: Record<string, string> } | Error;

export function fakeFetch(answer: Answer | ((req: Recorded) => Answer | Promise<Answer>) = { status: 200, body: {} }) {
  const calls: Recorded[] = [];
  const fetchImpl = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    const req: Recorded = {
      method: init.method ?? "GET",
      url: new URL(String(input)),
      headers,
      body: typeof init.body === "string" ? init.body : undefined,
    };
    calls.push(req);
    if (init.signal?.aborted) throw init.signal.reason;
    const a = typeof answer === "function" ? await answer(req) : answer;
    if (a instanceof Error) throw a;
    const body = a.body === undefined ? "" : typeof a.body === "string" || a.body instanceof Uint8Array ? a.body : JSON.stringify(a.body);
    return new Response(body as ConstructorParameters<typeof Response>[0], {
      status: a.status ?? 200,
      headers: { "content-type": "application/json", ...(a.headers ?? {}) },
    });
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}
