-- wrk script for bench/rest_bench.sh (docs/rest-bench.md). The same for outcall's REST edge and
-- the Node baseline. Environment:
--   REST_BENCH_MODE   call (POST /api/elevenlabs/call, the default), paced (the same calls, each
--                     connection waiting REST_BENCH_PACE_MS between its requests: a load below
--                     saturation) or stats (GET /api/elevenlabs/stats)
--   REST_BENCH_TOKEN  the HS256 bearer token
--   REST_BENCH_BASE   phone block of this run: thread t's n-th request dials
--                     +5730 followed by 8 digits of BASE + t * 5000000 + n (distinct per request,
--                     per thread and per phase: the script gives each phase its own BASE)
-- done() prints one line: RESULT requests=N duration_s=S rps=R p50_ms=A p99_ms=B non2xx=N
-- errors=N statuses=code:count,...
local mode = os.getenv("REST_BENCH_MODE") or "call"
local token = os.getenv("REST_BENCH_TOKEN") or ""
local base = tonumber(os.getenv("REST_BENCH_BASE") or "0")
local pace = tonumber(os.getenv("REST_BENCH_PACE_MS") or "0")
if mode == "paced" and pace > 0 then
  function delay() return pace end
end
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  non2xx = 0
  statuses = {}
  first = base + tid * 5000000
  if mode == "stats" then
    req = wrk.format("GET", "/api/elevenlabs/stats", { ["Authorization"] = "Bearer " .. token })
  end
end

function request()
  if mode == "stats" then return req end
  counter = counter + 1
  local body = string.format('{"phoneNumber":"+5730%08d","patientName":"Ana Bench"}', first + counter)
  return wrk.format("POST", "/api/elevenlabs/call",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad, codes = 0, {}
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    local s = t:get("statuses")
    for code, n in pairs(s) do codes[code] = (codes[code] or 0) + n end
  end
  local list = {}
  for code, n in pairs(codes) do table.insert(list, code .. ":" .. n) end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d statuses=%s\n",
    summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad, e.connect + e.read + e.write + e.timeout,
    (#list > 0 and table.concat(list, ",") or "-")))
end
