#!/usr/bin/env bash
# The REST face side by side (docs/rest-bench.md): outcall through outcall-rest-edge (edge ->
# call-gateway / stats over gRPC -> PostgreSQL) against the original system's Node baseline
# (../shared/baselines/node-api-ref: Express, node-postgres, axios, jsonwebtoken), in the same run,
# on the same machine, the same PostgreSQL cluster (private cluster "bench-rest", one database
# each), the same simulator (clock frozen: calls never progress past initiated; cap 100000 and a
# reset before each phase: nothing is refused) and the same client (wrk + bench/rest_bench.lua: one
# POST /api/elevenlabs/call per request, a distinct +5730xxxxxxxx per request, one HS256 token that
# both accept). Then PostgreSQL's own ceiling for the same statements (pgbench,
# bench/rest_bench_initiate.sql and bench/rest_bench_node_insert.sql).
#
#   bench/rest_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]   SECONDS per phase (10), CONNECTIONS 1,16,64
#
# Phases, each SECONDS long after a CHECKPOINT, at each connection count:
#   calls   outcall, then Node: calls/s, p50/p99 (wrk --latency), non-2xx, the simulator's dial
#           delta against the rows stored, CPU s per call of each process, commits and WAL syncs
#           per call, the edge's own time (outcall_edge_overhead_seconds), pg_stat_activity waits
#   stats   GET /api/elevenlabs/stats through both on the data the call phases left
#   pgbench InitiateCall's six statements / the baseline's INSERT at the same client counts
# Environment: OUTCALL_NODE_API_BASELINE (the baseline's directory), REST_BENCH_WARMUP (2 s).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/rest_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]}
secs=${2:-10}
IFS=', ' read -r -a conns_list <<<"${3:-1,16,64}"
warmup=${REST_BENCH_WARMUP:-2}
baseline=${OUTCALL_NODE_API_BASELINE:-$root/../shared/baselines/node-api-ref}
work=$root/.local/bench-rest
cluster=bench-rest
hz=$(getconf CLK_TCK)
failed=0
SECONDS=0
loud() { printf '\n!!!!!!!! %s !!!!!!!!\n\n' "$*" >&2; failed=1; }

if [ ! -f "$baseline/server.js" ] || [ ! -f "$baseline/schema.sql" ]; then
  echo "rest_bench: the Node baseline is not at $baseline (server.js, schema.sql, package-lock.json)." >&2
  echo "rest_bench: it is expected in ../shared/baselines/node-api-ref beside the checkout;" >&2
  echo "rest_bench: set OUTCALL_NODE_API_BASELINE=<dir> to point at it." >&2
  exit 2
fi
for bin in services/rest-edge/outcall-rest-edge services/call-gateway/call-gateway services/stats/stats \
  services/webhook-ingest/webhook-ingest tools/elevenlabs-sim/elevenlabs-sim tools/ops/outcall-migrate \
  tools/ops/outcall-health tools/ops/outcall-token; do
  [ -x "$build/$bin" ] || { echo "rest_bench: $build/$bin is not built" >&2; exit 2; }
done
for tool in wrk pgbench psql node npm python3 curl; do
  command -v "$tool" >/dev/null || { echo "rest_bench: $tool is missing (apt-get install wrk postgresql-client nodejs npm)" >&2; exit 2; }
done
mkdir -p "$work"

# --- PostgreSQL: the private cluster "bench-rest" (never the caller's DATABASE_URL) --------------
unset DATABASE_URL
bash scripts/pg.sh start "$cluster" >/dev/null
eval "$(bash scripts/pg.sh env "$cluster")"
admin_url=$DATABASE_URL
base_url=${admin_url%/*}
pg_port=$(echo "$admin_url" | sed -E 's#.*:([0-9]+)/.*#\1#')
pgdata=$(psql "$admin_url" -XAtc 'SHOW data_directory')
q() { psql "$1" -XAtc "$2"; }
for db in node_bench pgb_initiate pgb_node; do
  psql "$admin_url" -XAtq -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done
psql "$base_url/node_bench" -Xq -v ON_ERROR_STOP=1 -f "$baseline/schema.sql" >/dev/null
psql "$base_url/pgb_node" -Xq -v ON_ERROR_STOP=1 -f "$baseline/schema.sql" -c "CREATE UNLOGGED SEQUENCE rest_pgb_phone" >/dev/null
DATABASE_URL="$base_url/pgb_initiate" "$build/tools/ops/outcall-migrate" >/dev/null
psql "$base_url/pgb_initiate" -XqAt -v ON_ERROR_STOP=1 -v doc="$(cat tests/support/profiles/test_any_hour.json)" \
  -f tests/support/profiles/activate.sql -c "CREATE UNLOGGED SEQUENCE rest_pgb_phone"

# --- the baseline with its own node_modules, in a scratch copy (never committed: .local) ----------
if [ ! -d "$work/node/node_modules" ] || ! cmp -s "$baseline/package-lock.json" "$work/node/package-lock.json"; then
  rm -rf "$work/node" && mkdir -p "$work/node"
  cp "$baseline"/server.js "$baseline"/package*.json "$work/node/"
  (cd "$work/node" && npm ci --no-audit --no-fund --silent)
fi
cp "$baseline/server.js" "$work/node/"

# --- outcall: a private instance of the whole system (scripts/up.sh via tests/support/stack.sh) ---
# The simulator starts frozen (SIM_TIME_SCALE=0) with the cap at its maximum; stack_start puts the
# any-hour contact profile in force. ELEVENLABS_MAX_CALL_DURATION=7200 keeps the reconciler away
# from the bench's open calls. Services log as scripts/up.sh has them (JSON, info).
repo=$root
export build
# shellcheck disable=SC1091
. tests/support/stack.sh
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  stack_stop
  bash scripts/pg.sh stop "$cluster" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export DATABASE_URL=$admin_url SIM_TIME_SCALE=0 SIM_MAX_CONCURRENT_CALLS=100000 ELEVENLABS_MAX_CALL_DURATION=7200
stack_start restbench "$work/stack" >/dev/null
rest_db=${DATABASE_URL##*/}
sim=$STACK_SIM
edge=$STACK_URL
edge_metrics="http://127.0.0.1:$((9104 + STACK_OFFSET))/metrics"
sim_settings() {
  curl -fsS -XPOST "$sim/__sim/clock" -d '{"scale": 0}' >/dev/null
  curl -fsS -XPATCH "$sim/__sim/settings" -d '{"max_concurrent_calls": 100000}' >/dev/null
}
sim_settings
pid_of() { cat "$STACK_STATE/run/$1.pid"; }
edge_pid=$(pid_of rest-edge); gw_pid=$(pid_of call-gateway); stats_pid=$(pid_of stats)
sim_pid=$(pid_of elevenlabs-sim); ingest_pid=$(pid_of webhook-ingest)
token=$(TOKEN_LIFETIME_SECS=14400 "$build/tools/ops/outcall-token" rest-bench calls:read calls:write)

# --- the Node baseline: one process, its own database, the same simulator and token secret --------
node_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/node" && PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=outcall_admin PGDATABASE=node_bench \
  JWT_SECRET="$JWT_HS256_SECRET" PORT=$node_port ELEVENLABS_BASE_URL="$sim" ELEVENLABS_API_KEY="$SIM_API_KEY" \
  ELEVENLABS_MAX_CALL_DURATION=7200 NODE_ENV=production exec node server.js) >"$work/node.log" 2>&1 &
node_pid=$!; pids+=("$node_pid")
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$node_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$node_port/healthz" >/dev/null || { tail -5 "$work/node.log"; echo "node baseline did not start" >&2; exit 1; }
node_url="http://127.0.0.1:$node_port"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "postgresql: $(q "$admin_url" 'SHOW server_version'), fsync=$(q "$admin_url" 'SHOW fsync'), synchronous_commit=$(q "$admin_url" 'SHOW synchronous_commit'), shared_buffers=$(q "$admin_url" 'SHOW shared_buffers'); build $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"); node $(node --version); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "binaries: $(for b in services/rest-edge/outcall-rest-edge services/call-gateway/call-gateway services/stats/stats; do printf '%s %s ' "${b##*/}" "$(date -u -r "$build/$b" '+%H:%M:%S')"; done)(built; another build during the run changes what is measured)"
echo "outcall: edge $edge (pid $edge_pid), call-gateway $gw_pid, stats $stats_pid, simulator $sim (pid $sim_pid), database $rest_db; node baseline $node_url (pid $node_pid), database node_bench"

# --- measurement helpers -------------------------------------------------------------------------
# snap FILE: wall time, machine busy/total jiffies, utime+stime per named process, PostgreSQL's
# total (every live postgres process + the postmaster's reaped children: a node-postgres backend
# that exits during a phase still counts).
snap() {
  local pm p out
  pm=$(head -n 1 "$pgdata/postmaster.pid")
  out="wall $(date +%s.%N)"$'\n'
  # busy = user + nice + system + steal (irq/softirq, the loopback traffic, not in any process's time)
  out+=$(awk '/^cpu / {b = $2 + $3 + $4 + $9; print "machine", b, b + $5 + $6 + $7 + $8}' /proc/stat)$'\n'
  for kv in edge="$edge_pid" gateway="$gw_pid" stats="$stats_pid" sim="$sim_pid" ingest="$ingest_pid" node="$node_pid"; do
    out+="${kv%%=*} $(awk '{print $14 + $15}' "/proc/${kv#*=}/stat" 2>/dev/null || echo 0)"$'\n'
  done
  out+="pg $( { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"; for p in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done; } | awk '{s += $1} END {print s}')"$'\n'
  printf '%s' "$out" >"$1"
}
val() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
cpu_per() {  # S0 S1 NAME N -> CPU ms per request
  awk -v a="$(val "$1" "$3")" -v b="$(val "$2" "$3")" -v hz="$hz" -v n="$4" 'BEGIN {printf "%.3f", (n > 0 ? 1000 * (b - a) / hz / n : 0)}'
}
machine_pct() {  # S0 S1 -> busy % of all cores (200 = both)
  paste <(awk '$1 == "machine" {print $2, $3}' "$1") <(awk '$1 == "machine" {print $2, $3}' "$2") |
    awk -v n="$(nproc)" '{printf "%.0f", ($4 > $2 ? 100 * n * ($3 - $1) / ($4 - $2) : 0)}'
}
others_pct() {  # S0 S1: machine busy minus everything we account for, % of one core
  local tot ours
  tot=$(machine_pct "$1" "$2")
  ours=$(paste <(grep -v -e '^wall' -e '^machine' "$1") <(grep -v -e '^wall' -e '^machine' "$2") | awk '{s += $4 - $2} END {print s}')
  awk -v t="$tot" -v o="$ours" -v hz="$hz" -v w0="$(val "$1" wall)" -v w1="$(val "$2" wall)" \
    'BEGIN {p = t - 100 * o / hz / (w1 - w0); printf "%.0f", (p > 0 ? p : 0)}'
}
commits() { q "$admin_url" "SELECT xact_commit FROM pg_stat_database WHERE datname = '$1'"; }
wal_syncs() { q "$admin_url" "SELECT wal_sync FROM pg_stat_wal"; }
field() { sed -nE "s/.*[ ^]$2=([^ ]+).*/\1/p" <<<" $1"; }
# The edge's own time: outcall_edge_overhead_seconds buckets (cumulative le -> count).
edge_hist() { curl -fsS "$edge_metrics" | awk -F'[{}" ]+' '/^outcall_edge_overhead_seconds_bucket/ {print $3, $NF}'; }
# hist_quantile BEFORE AFTER Q: linear interpolation inside the bucket of the delta histogram.
hist_quantile() {
  LC_ALL=C join <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") |
    awk '{print ($1 == "+Inf" ? 1e9 : $1), $3 - $2}' | sort -g | awk -v q="$3" '
    {le[NR] = $1; c[NR] = $2} END {tot = c[NR]; if (tot <= 0) {print "-"; exit}
      t = q * tot; pl = 0; pc = 0
      for (i = 1; i <= NR; i++) { if (c[i] >= t) {
          if (le[i] >= 1e9) {printf ">%.2f\n", pl * 1000; exit}
          printf "%.3f\n", 1000 * (pl + (le[i] - pl) * (c[i] > pc ? (t - pc) / (c[i] - pc) : 1)); exit }
        pl = le[i]; pc = c[i] }}'
}
# pg_stat_activity sampled every 100 ms during a phase: what the active backends of DB wait on.
sampler_start() {  # DB FILE
  printf "SELECT '#sample' UNION ALL SELECT COALESCE(wait_event_type, 'CPU') || ':' || COALESCE(wait_event, 'running') FROM pg_stat_activity WHERE datname = '%s' AND state = 'active' AND pid <> pg_backend_pid()\n\\\\watch 0.1\n" "$1" |
    psql "$admin_url" -XAtq >"$2" 2>/dev/null &
  sampler=$!
}
sampler_stop() {  # FILE -> "active N/sample: wait share, ..."
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  awk 'NF == 0 {next} /^#sample/ {s++; next} {n++; w[$1]++} END {
    printf "%.1f active backends/sample (%d samples)", (s ? n / s : 0), s
    for (k in w) printf "\n%5.1f%% %s", 100 * w[k] / n, k}' "$1" | { read -r head; echo "$head: $(sort -nr | head -n 6 | tr '\n' ',' | sed 's/,$//; s/,/, /g')"; }
}
sim_counters() { curl -fsS "$sim/__sim/counters"; }
declare -A rps p50 p99 bad dials rows edge50 edge99 cpu_edge cpu_gw cpu_stats cpu_pg cpu_node cpu_sim cpu_wrk commit_per sync_per machine others waits
phase_base=0

# measured SYSTEM MODE CONNS: a phase, measured again (up to 3 times) while more than 30 % of a
# core went to processes outside the benchmark (other engineers' tests on the machine).
measured() {
  local attempt
  for attempt in 1 2 3; do
    run_wrk "$@"
    [ "${others[$1 $2@$3]:-0}" -gt 30 ] || return 0
    [ $attempt = 3 ] || echo "   $1 $2@$3: the machine was shared (attempt $attempt): measuring again"
  done
}
# run_wrk SYSTEM MODE CONNS -> one measured phase; key "SYSTEM MODE@CONNS"
run_wrk() {
  local sys=$1 mode=$2 c=$3 url k db t r s0 s1 c0 w0 h0 d0 n wp
  k="$sys $mode@$c"
  if [ "$sys" = outcall ]; then url=$edge db=$rest_db; else url=$node_url db=node_bench; fi
  t=$((c < 2 ? 1 : 2))
  curl -fsS -XPOST "$sim/__sim/reset" >/dev/null; sim_settings
  q "$admin_url" CHECKPOINT >/dev/null
  sleep 1.5  # the backends' statistics of what came before are flushed (idle: within 1 s)
  phase_base=$((phase_base + 10000000))
  r0=$(q "$base_url/$db" "SELECT count(*) FROM elevenlabs_conversations")
  c0=$(commits "$db"); w0=$(wal_syncs); edge_hist >"$work/h0"
  sampler_start "$db" "$work/waits"
  snap "$work/s0"
  REST_BENCH_MODE=$mode REST_BENCH_TOKEN=$token REST_BENCH_BASE=$phase_base \
    wrk -t"$t" -c"$c" -d"${secs}s" --timeout 10s --latency -s bench/rest_bench.lua "$url" >"$work/wrk.out" 2>&1 &
  wp=$!
  sleep 0.3; snap "$work/s0"; echo "wrk $(awk '{print $14 + $15}' "/proc/$wp/stat")" >>"$work/s0"
  tail -n 1 "$work/s0" >"$work/wrkcpu"
  local wc_
  while kill -0 "$wp" 2>/dev/null; do  # wrk's own CPU: the last reading before it exits
    wc_=$(awk '$3 != "Z" {print $14 + $15}' "/proc/$wp/stat" 2>/dev/null || true)
    [ -z "$wc_" ] || echo "wrk $wc_" >"$work/wrkcpu"
    sleep 0.2
  done
  wait "$wp" || true
  snap "$work/s1"; cat "$work/wrkcpu" >>"$work/s1"
  waits[$k]=$(sampler_stop "$work/waits")
  sleep 1.5  # in-flight requests finish; statistics flushed
  r=$(grep '^RESULT' "$work/wrk.out" || true)
  [ -n "$r" ] || { cat "$work/wrk.out"; loud "$k: no result from wrk"; return 0; }
  rps[$k]=$(field "$r" rps); p50[$k]=$(field "$r" p50_ms); p99[$k]=$(field "$r" p99_ms)
  n=$(field "$r" requests)
  bad[$k]=$(($(field "$r" non2xx) + $(field "$r" errors)))
  # The edge's own time for this phase (outcall only)
  if [ "$sys" = outcall ]; then
    edge_hist >"$work/h1"
    edge50[$k]=$(hist_quantile "$work/h0" "$work/h1" 0.5); edge99[$k]=$(hist_quantile "$work/h0" "$work/h1" 0.99)
  fi
  local wall
  wall=$(awk -v a="$(val "$work/s0" wall)" -v b="$(val "$work/s1" wall)" 'BEGIN {print b - a}')
  # Per request, over the requests completed in the CPU window (rate x window)
  local nw
  nw=$(awk -v r="${rps[$k]}" -v w="$wall" 'BEGIN {printf "%.0f", r * w}')
  cpu_edge[$k]=$(cpu_per "$work/s0" "$work/s1" edge "$nw"); cpu_gw[$k]=$(cpu_per "$work/s0" "$work/s1" gateway "$nw")
  cpu_stats[$k]=$(cpu_per "$work/s0" "$work/s1" stats "$nw"); cpu_pg[$k]=$(cpu_per "$work/s0" "$work/s1" pg "$nw")
  cpu_node[$k]=$(cpu_per "$work/s0" "$work/s1" node "$nw"); cpu_sim[$k]=$(cpu_per "$work/s0" "$work/s1" sim "$nw")
  cpu_wrk[$k]=$(cpu_per "$work/s0" "$work/s1" wrk "$nw")
  machine[$k]=$(machine_pct "$work/s0" "$work/s1"); others[$k]=$(others_pct "$work/s0" "$work/s1")
  # Database work per request: everything the phase caused (commits of its database, the
  # cluster's WAL syncs), over the requests the servers completed (rows stored for calls).
  local rows_new per
  rows_new=$(($(q "$base_url/$db" "SELECT count(*) FROM elevenlabs_conversations") - r0))
  per=$([ "$mode" != stats ] && echo "$rows_new" || echo "$n")
  commit_per[$k]=$(awk -v a="$c0" -v b="$(commits "$db")" -v n="$per" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n : 0)}')
  sync_per[$k]=$(awk -v a="$w0" -v b="$(wal_syncs)" -v n="$per" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n : 0)}')
  if [ "$mode" != stats ]; then
    # No double dials, none lost: every dial the simulator took is one stored call; wrk's 2xx
    # count is those minus the requests still in flight when wrk stopped (at most CONNS).
    local cj placed maxper ok2xx
    cj=$(sim_counters)
    placed=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["calls_placed"], d["outbound_call_requests"], max(d["dialled_by_number"].values() or [0]))' <<<"$cj")
    local d_
    read -r d_ reqs_sim maxper <<<"$placed"
    dials[$k]=$d_
    if [ "$sys" = outcall ]; then
      rows[$k]=$(q "$base_url/$db" "SELECT count(*) FROM elevenlabs_conversations WHERE status = 'initiated'")
      rows[$k]=$((rows[$k] - $(cat "$work/outcall_initiated" 2>/dev/null || echo 0)))
      q "$base_url/$db" "SELECT count(*) FROM elevenlabs_conversations WHERE status = 'initiated'" >"$work/outcall_initiated"
      local other_status
      other_status=$(q "$base_url/$db" "SELECT count(*) FROM elevenlabs_conversations WHERE status <> 'initiated'")
      [ "$other_status" = 0 ] || loud "$k: $other_status outcall calls are not 'initiated' (dialing/failed: see $STACK_STATE/logs)"
    else
      rows[$k]=$rows_new
    fi
    ok2xx=$((n - $(field "$r" non2xx)))
    echo "   $k: simulator dials ${dials[$k]} (outbound requests $reqs_sim, max per number $maxper), calls stored ${rows[$k]}, wrk 2xx $ok2xx"
    [ "${dials[$k]}" = "${rows[$k]}" ] && [ "$reqs_sim" = "${dials[$k]}" ] || loud "$k: the simulator placed ${dials[$k]} calls ($reqs_sim requests) but ${rows[$k]} are stored"
    [ "$maxper" -le 1 ] || loud "$k: a number was dialled $maxper times (double dial)"
    [ "${dials[$k]}" -ge "$ok2xx" ] && [ "${dials[$k]}" -le $((ok2xx + c)) ] ||
      loud "$k: $ok2xx answered 2xx but the simulator placed ${dials[$k]} (more than the $c in flight at the end apart)"
  fi
  [ "${bad[$k]}" = 0 ] || loud "$k: ${bad[$k]} non-2xx answers or socket errors ($(field "$r" statuses)): this result is INVALID"
  echo "== $k: ${rps[$k]}/s p50 ${p50[$k]} ms p99 ${p99[$k]} ms non2xx ${bad[$k]}; edge own p50/p99 ${edge50[$k]:--}/${edge99[$k]:--} ms; cpu ms/req edge ${cpu_edge[$k]} gw ${cpu_gw[$k]} stats ${cpu_stats[$k]} pg ${cpu_pg[$k]} node ${cpu_node[$k]} sim ${cpu_sim[$k]} wrk ${cpu_wrk[$k]}; commits ${commit_per[$k]} wal syncs ${sync_per[$k]} per req; machine ${machine[$k]}/200% (others ${others[$k]}%), load $(cut -d' ' -f1 /proc/loadavg)"
  echo "   pg_stat_activity ($db): ${waits[$k]}"
  [ "${others[$k]}" -le 30 ] || echo "   (!) ${others[$k]}% of a core went to processes outside the benchmark during $k: numbers skewed"
}

warm() {  # SYSTEM URL: 16 connections, not measured
  curl -fsS -XPOST "$sim/__sim/reset" >/dev/null; sim_settings
  phase_base=$((phase_base + 10000000))
  REST_BENCH_MODE=call REST_BENCH_TOKEN=$token REST_BENCH_BASE=$phase_base \
    wrk -t2 -c16 -d"${warmup}s" --timeout 10s -s bench/rest_bench.lua "$2" >"$work/warm-$1.out" 2>&1 || true
  grep -q 'non2xx=0 errors=0' "$work/warm-$1.out" || { cat "$work/warm-$1.out"; loud "$1: the warm-up had failures"; }
}

# --- 1. calls ----------------------------------------------------------------------------------------
echo; echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
warm outcall "$edge"
q "$base_url/$rest_db" "SELECT count(*) FROM elevenlabs_conversations WHERE status = 'initiated'" >"$work/outcall_initiated"
for c in "${conns_list[@]}"; do measured outcall call "$c"; done
# The edge's own time below saturation: 16 connections, each waiting 60 ms between its calls
# (about half of what the machine can take), where closed-loop wrk at full speed makes every
# process wait for a CPU.
REST_BENCH_PACE_MS=${REST_BENCH_PACE_MS:-60} measured outcall paced 16
warm node "$node_url"
for c in "${conns_list[@]}"; do measured node call "$c"; done
# --- 2. stats on what the call phases left --------------------------------------------------------
echo "stats data: outcall $(q "$base_url/$rest_db" 'SELECT count(*) FROM elevenlabs_conversations') calls, node $(q "$base_url/node_bench" 'SELECT count(*) FROM elevenlabs_conversations') calls"
for c in "${conns_list[@]}"; do measured outcall stats "$c"; done
for c in "${conns_list[@]}"; do measured node stats "$c"; done

# --- 3. pgbench: PostgreSQL's own ceiling for the same statements ------------------------------------
declare -A pg_tps pg_p50 pg_p99 pg_cpu pg_commit pg_sync
pgbench_run() {  # NAME DB SCRIPT CLIENTS
  local k="$1@$4" db=$2 c0 w0 n
  psql "$base_url/$db" -XAtq -c "TRUNCATE elevenlabs_conversations CASCADE" -c CHECKPOINT 2>/dev/null || true
  sleep 1.5
  rm -f "$work/pgb_log"*
  c0=$(commits "$db"); w0=$(wal_syncs)
  snap "$work/s0"
  (cd "$work" && PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=outcall_admin PGDATABASE=$db \
    exec pgbench -n -M prepared -c "$4" -j "$(($4 < 2 ? 1 : 2))" -T "$secs" -l --log-prefix="$work/pgb_log" \
      -f "$root/$3") >"$work/pgb.out" 2>&1 || { cat "$work/pgb.out"; loud "pgbench $k failed"; return 0; }
  snap "$work/s1"
  sleep 1.5
  pg_tps[$k]=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$work/pgb.out" | head -n 1 | awk '{printf "%.0f", $1}')
  n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$work/pgb.out")
  read -r pg_p50["$k"] pg_p99["$k"] < <(cat "$work/pgb_log"* | awk '{print $3}' | sort -n |
    awk '{v[NR] = $1} END {printf "%.2f %.2f\n", v[int(NR * 0.5 + 0.5)] / 1000, v[int(NR * 0.99 + 0.5)] / 1000}')
  pg_cpu[$k]=$(cpu_per "$work/s0" "$work/s1" pg "$n")
  pg_commit[$k]=$(awk -v a="$c0" -v b="$(commits "$db")" -v n="$n" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n : 0)}')
  pg_sync[$k]=$(awk -v a="$w0" -v b="$(wal_syncs)" -v n="$n" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n : 0)}')
  grep -q '^number of failed transactions: 0 ' "$work/pgb.out" || loud "pgbench $k: failed transactions"
  echo "== pgbench $k: ${pg_tps[$k]} call-equivalents/s, p50 ${pg_p50[$k]} ms p99 ${pg_p99[$k]} ms, postgres cpu ${pg_cpu[$k]} ms/call, ${pg_commit[$k]} commits ${pg_sync[$k]} wal syncs per call, machine $(machine_pct "$work/s0" "$work/s1")/200%"
}
# The services stay up but idle (the edge, gateway and Node hold idle connections only).
for c in "${conns_list[@]}"; do pgbench_run initiate pgb_initiate bench/rest_bench_initiate.sql "$c"; done
for c in "${conns_list[@]}"; do pgbench_run node-insert pgb_node bench/rest_bench_node_insert.sql "$c"; done
# What-if rows (REST_BENCH_WHATIF=0 skips them), on the scratch database only: the same six
# statements without the stats rollup triggers on elevenlabs_conversations (migration 0003: every
# call's INSERT and UPDATE upsert the same (day, status, agent) rows), and with
# synchronous_commit=off (the two durable commits per call not waited for).
whatif=()
if [ "${REST_BENCH_WHATIF:-1}" = 1 ]; then
  psql "$base_url/pgb_initiate" -XAtq -c "ALTER TABLE elevenlabs_conversations DISABLE TRIGGER call_daily_rollups_insert" \
    -c "ALTER TABLE elevenlabs_conversations DISABLE TRIGGER call_daily_rollups_update"
  for c in "${conns_list[@]}"; do pgbench_run "initiate,no-rollups" pgb_initiate bench/rest_bench_initiate.sql "$c"; done
  psql "$base_url/pgb_initiate" -XAtq -c "ALTER TABLE elevenlabs_conversations ENABLE TRIGGER call_daily_rollups_insert" \
    -c "ALTER TABLE elevenlabs_conversations ENABLE TRIGGER call_daily_rollups_update"
  for c in "${conns_list[@]}"; do PGOPTIONS="-c synchronous_commit=off" pgbench_run "initiate,async" pgb_initiate bench/rest_bench_initiate.sql "$c"; done
  whatif=("initiate,no-rollups" "initiate,async")
fi

errors=$(cat "$STACK_STATE/logs/call-gateway.log" "$STACK_STATE/logs/rest-edge.log" "$STACK_STATE/logs/stats.log" 2>/dev/null | grep -c '"level":"\(error\|critical\)"' || true)
[ "$errors" = 0 ] || loud "the services logged $errors errors ($STACK_STATE/logs)"
grep -qi error "$work/node.log" && loud "the node baseline logged errors ($work/node.log)"

# --- the table -----------------------------------------------------------------------------------
echo
echo "=== REST benchmark: outcall (rest-edge -> gRPC -> PostgreSQL) vs the Node baseline, ${secs}s per phase"
echo "(latency ms from wrk; edge = the edge's own time from outcall_edge_overhead_seconds, bucket-interpolated; cpu = ms of CPU per request; commits, syncs per request)"
printf '%-18s %8s %7s %7s %6s %6s %7s %7s %6s %6s %6s %6s %6s %5s %6s %6s %6s %5s\n' run "req/s" p50 p99 non2xx dials edge50 edge99 \
  edge gw stats pg node sim wrk commit syncs "mach%"
row() {
  printf '%-18s %8s %7s %7s %6s %6s %7s %7s %6s %6s %6s %6s %6s %5s %6s %6s %6s %5s\n' "$1" "${rps[$1]:--}" "${p50[$1]:--}" "${p99[$1]:--}" \
    "${bad[$1]:--}" "${dials[$1]:--}" "${edge50[$1]:--}" "${edge99[$1]:--}" "${cpu_edge[$1]:--}" "${cpu_gw[$1]:--}" \
    "${cpu_stats[$1]:--}" "${cpu_pg[$1]:--}" "${cpu_node[$1]:--}" "${cpu_sim[$1]:--}" "${cpu_wrk[$1]:--}" \
    "${commit_per[$1]:--}" "${sync_per[$1]:--}" "${machine[$1]:--}"
}
for m in call stats; do for s in outcall node; do for c in "${conns_list[@]}"; do row "$s $m@$c"; done; done; done
row "outcall paced@16"
echo
printf '%-22s %9s %7s %7s %8s %7s %6s\n' "pgbench" "calls/s" p50 p99 "pg_cpu" commit syncs
for n in initiate node-insert "${whatif[@]}"; do for c in "${conns_list[@]}"; do
  k="$n@$c"; printf '%-22s %9s %7s %7s %8s %7s %6s\n' "$k" "${pg_tps[$k]:--}" "${pg_p50[$k]:--}" "${pg_p99[$k]:--}" "${pg_cpu[$k]:--}" "${pg_commit[$k]:--}" "${pg_sync[$k]:--}"
done; done
echo
echo "pg_stat_activity during the call phases (share of active-backend samples):"
for s in outcall node; do for c in "${conns_list[@]}"; do echo "  $s call@$c: ${waits[$s call@$c]:-}"; done; done

verdict() { if awk "BEGIN {exit !($1)}"; then echo MET; else echo "NOT MET"; fi; }
echo
echo "targets:"
for c in "${conns_list[@]}"; do
  o=${rps[outcall call@$c]:-0} b=${rps[node call@$c]:-0}
  if [ "$c" -ge 16 ]; then
    printf '  %-46s %-34s %s\n' "outcall >= 2x baseline calls/s @$c" "$o vs $b ($(awk -v a="$o" -v b="$b" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}') x)" "$(verdict "$o >= 2 * $b && $b > 0")"
  fi
  printf '  %-46s %-34s %s\n' "outcall p99 < baseline p99 @$c" "${p99[outcall call@$c]:-?} vs ${p99[node call@$c]:-?} ms" "$(verdict "${p99[outcall call@$c]:-1e9} < ${p99[node call@$c]:-0}")"
  printf '  %-46s %-34s %s\n' "edge's own p99 < 1 ms @$c (calls)" "${edge99[outcall call@$c]:-?} ms" "$(verdict "${edge99[outcall call@$c]//>/} < 1")"
done
printf '  %-46s %-34s %s\n' "edge's own p99 < 1 ms @16 paced (below saturation)" "${edge99[outcall paced@16]:-?} ms at ${rps[outcall paced@16]:-?}/s" "$(verdict "${edge99[outcall paced@16]//>/} < 1")"
for c in "${conns_list[@]}"; do
  printf '  %-46s %-34s %s\n' "edge's own p99 < 1 ms @$c (stats)" "${edge99[outcall stats@$c]:-?} ms" "$(verdict "${edge99[outcall stats@$c]//>/} < 1")"
done
invalid=0
for k in "${!bad[@]}"; do [ "${bad[$k]}" = 0 ] || { echo "  INVALID: $k had ${bad[$k]} non-2xx answers or errors"; invalid=1; }; done
[ $invalid = 0 ] && echo "  every request of every phase answered 2xx"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); whole benchmark ${SECONDS}s"
exit $failed
