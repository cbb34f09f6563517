// Loaded with `node --import` before a README example runs: replaces the global fetch with one
// that answers as the REST face would (STUB_FETCH_REFUSE=1: the call is refused), and writes
// each request to stderr as "stub-fetch: METHOD URL".
const refuse = process.env.STUB_FETCH_REFUSE === "1";
globalThis.fetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
  const url = new URL(String(input));
  const method = init.method ?? "GET";
  const auth = (init.headers as Record<string, string> | undefined)?.authorization ?? "";
  process.stderr.write(`stub-fetch: ${method} ${url} ${auth}\n`);
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  if (method === "POST" && url.pathname === "/api/elevenlabs/call") {
    if (refuse) return json(400, { code: 3, message: "phoneNumber: +573001234567 is on the do-not-call list", details: [] });
    return json(200, {
      success: true,
      message: "Llamada iniciada exitosamente",
      data: { success: true, conversationId: "conv_abc123", callId: "conv_abc123", status: "initiated" },
    });
  }
  if (method === "GET" && url.pathname === "/api/elevenlabs/stats") {
    return json(200, {
      success: true,
      data: { total_calls: 150, completed_calls: 120, failed_calls: 30, avg_duration: 180.5, total_cost: 25.5, by_status: [] },
    });
  }
  return json(404, { success: false, message: "not found" });
}) as typeof fetch;
