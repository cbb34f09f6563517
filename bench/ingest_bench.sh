#!/usr/bin/env bash
# webhook-ingest end to end (HTTPS -> PostgreSQL inbox -> gRPC -> the real call-gateway applying
# each event), side by side with the Node.js baseline (../shared/baselines/node-webhook-ref) and
# with pgbench inserting the same inbox rows (PostgreSQL's own ceiling), all on the same machine
# and the same PostgreSQL cluster ("bench", separate databases), with the same pre-signed requests.
#
#   bench/ingest_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]   SECONDS per run (10), CONNECTIONS 16,64
#
# Phases (each SECONDS long; a CHECKPOINT before each):
#   1. pgbench: the webhook-ingest INSERT (same columns, a real ~6 KB body as bytea, its sha256),
#      one row per transaction and 50 rows per transaction, at each client count.
#   2. Node baseline, one process (WORKERS=1), plain HTTP as its README says (it sat behind a TLS
#      proxy), at each connection count.
#   3. webhook-ingest over HTTPS (TLS 1.3): first alone (no call-gateway, the acknowledgement path
#      only), then with call-gateway applying the events as they come:
#      closed loop at each connection count, then waits until every stored event is applied
#      (applied_call_events) and checks the calls (status completed, turns, analysis).
#   4. webhook-ingest open loop at half the peak acknowledged rate (latency from each request's
#      due time: no coordinated omission).
# Load: bench/ingest_load (HTTP(S) keep-alive, 2 threads) on the same 2 cores as the servers and
# PostgreSQL; not wrk: its second thread reads its request file while the first already sends, so
# wrk over-states the rate (by about 11 % here, against the inbox timestamps), and ingest_load
# delivered about 8 % more. CPU = utime+stime from /proc/PID/stat over the load window, in % of
# one core.
#
# Before each measurement the machine must be idle (others' CPU would be measured as ours): it
# waits, and measures again if the machine was shared meanwhile.
# Environment: INGEST_BENCH_REQUESTS (requests generated; default 40000 x SECONDS),
#   INGEST_BENCH_OPEN_CONNECTIONS (64), INGEST_BENCH_IDLE_PCT (25: "idle" is under 25 of 200 % busy),
#   INGEST_BENCH_WAIT_PGREP=PATTERN (also wait while `pgrep -f PATTERN` finds a process: another
#   benchmark), OUTCALL_NODE_BASELINE.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/ingest_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]}
secs=${2:-10}
IFS=', ' read -r -a conns_list <<<"${3:-16,64}"
total=${INGEST_BENCH_REQUESTS:-$((40000 * secs))}
open_conns=${INGEST_BENCH_OPEN_CONNECTIONS:-64}
baseline=${OUTCALL_NODE_BASELINE:-$root/../shared/baselines/node-webhook-ref}
work=$root/.local/bench-ingest
load=$build/bench/ingest_load
if [ ! -f "$baseline/schema.sql" ] || ! ls "$baseline"/*.js >/dev/null 2>&1 || [ ! -f "$baseline/package.json" ]; then
  echo "ingest_bench: the Node baseline is not at $baseline (schema.sql, *.js, package.json)." >&2
  echo "ingest_bench: it is expected in ../shared/baselines/node-webhook-ref beside the checkout;" >&2
  echo "ingest_bench: set OUTCALL_NODE_BASELINE=<dir> to point at it." >&2
  exit 2
fi
for bin in "$load" "$build/services/webhook-ingest/webhook-ingest" \
  "$build/services/call-gateway/call-gateway" "$build/tools/ops/outcall-migrate"; do
  [ -x "$bin" ] || { echo "missing $bin (build it first)" >&2; exit 1; }
done
mkdir -p "$work"
hz=$(getconf CLK_TCK)
failed=0
SECONDS=0
loud() { printf '\n!!!!!!!! ERROR: %s !!!!!!!!\n\n' "$*" >&2; failed=1; }

# --- processes, ports, CPU and memory ------------------------------------------------------------
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
# The cores must be ours: before each measurement, wait (30 s polls, 40 minutes at most) until
# the machine is idle (under INGEST_BENCH_IDLE_PCT, default 25, of 200 % busy over 2 s) and no
# process matches INGEST_BENCH_WAIT_PGREP (another benchmark); measure again (3 attempts) when
# either showed up during the measurement.
busy_now() {
  local a b
  a=$(awk '/^cpu / {b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6}' /proc/stat)
  sleep 2
  b=$(awk '/^cpu / {b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6}' /proc/stat)
  echo "$a $b" | awk '{printf "%.0f", ($4 > $2 ? 200 * ($3 - $1) / ($4 - $2) : 0)}'
}
others() {  # prints why the cores are not ours, or nothing
  local b
  if [ -n "${INGEST_BENCH_WAIT_PGREP:-}" ] && pgrep -f "$INGEST_BENCH_WAIT_PGREP" >/dev/null; then
    echo "a process matching '$INGEST_BENCH_WAIT_PGREP' runs"; return
  fi
  b=$(busy_now)
  [ "$b" -le "${INGEST_BENCH_IDLE_PCT:-25}" ] || echo "the machine is busy without us (${b}% of 200%)"
}
wait_turn() {
  local why
  for _ in $(seq 80); do
    why=$(others)
    [ -n "$why" ] || return 0
    echo "waiting: $why"
    sleep 30
  done
  loud "the cores were never free in 40 minutes ($why)"
}
measured() {  # NAME COMMAND...
  local name=$1 attempt watcher why; shift
  for attempt in 1 2 3; do
    wait_turn
    rm -f "$work/shared"
    if [ -n "${INGEST_BENCH_WAIT_PGREP:-}" ]; then
      (while :; do pgrep -f "$INGEST_BENCH_WAIT_PGREP" >/dev/null && touch "$work/shared"; sleep 1; done) &
      watcher=$!; pids+=("$watcher")
    fi
    "$@"
    if [ -n "${INGEST_BENCH_WAIT_PGREP:-}" ]; then kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true; fi
    why=$(others)
    [ -f "$work/shared" ] && why="a process matching '$INGEST_BENCH_WAIT_PGREP' ran meanwhile"
    [ -n "$why" ] || return 0
    echo "   $name (attempt $attempt) did not have the cores to itself ($why): measuring again"
  done
  loud "$name: every attempt shared the cores with something else"
}
# snap FILE NAME=PID ...: wall time, the machine's busy/total jiffies, utime+stime of the named
# processes and of every postgres process (one cat and one awk: cheap even on a loaded machine).
snap() {
  local f=$1 kv names="" pm p files=()
  for kv in "$@"; do names+="${kv#*=}=${kv%%=*} "; done
  pm=$(head -n 1 "$pgdata/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do names+="$p=pg "; done
  for kv in $names; do files+=("/proc/${kv%%=*}/stat"); done
  { date +%s.%N; cat /proc/stat "${files[@]}" 2>/dev/null || true; } | awk -v names="$names" '
    BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) { split(a[i], kv, "="); nm[kv[1]] = kv[2] } }
    NR == 1 { print "wall", $1; next }
    /^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; print "machine", b, b + $5 + $6; next }
    /^[0-9]+ \(/ { pid = $1; sub(/^.*\) /, ""); if (pid in nm) print nm[pid], pid, $12 + $13 }' >"$f"
}
# cpu A B NAME: % of one core used by NAME (all its pids; pg = every postgres process; machine =
# all cores together, so 200 = both cores busy) between snapshots A and B.
cpu() {
  awk -v name="$3" -v hz="$hz" '
    $1 == "wall" { w[FILENAME == ARGV[1]] = $2; next }
    $1 == "machine" { if (FILENAME == ARGV[1]) { mb = $2; mt = $3 } else { db = $2 - mb; dt = $3 - mt }; next }
    $1 == name { if (FILENAME == ARGV[1]) a[$2] = $3; else d += $3 - ($2 in a ? a[$2] : 0) }
    END {
      secs = w[0] - w[1]
      if (name == "machine") printf "%.0f", (dt > 0 ? 100 * 2 * db / dt : 0)
      else printf "%.0f", (secs > 0 ? 100 * d / hz / secs : 0)
    }' "$1" "$2"
}
mem_mb() { awk -v k="$2:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
field() { sed -nE "s/.* $2=([^ ]*).*/\1/p" <<<"$1"; }

# --- PostgreSQL, databases, the baseline, requests -------------------------------------------------
unset DATABASE_URL
bash scripts/pg.sh start bench >/dev/null
eval "$(bash scripts/pg.sh env bench)"
pgdata=$(readlink -f .local/pg/bench/server)/data
admin_url=$DATABASE_URL
base=${admin_url%/*}
pg_port=$(echo "$admin_url" | sed -E 's#.*:([0-9]+)/.*#\1#')
echo "postgresql: $(psql "$admin_url" -XAtc 'SHOW server_version'), synchronous_commit=$(psql "$admin_url" -XAtc 'SHOW synchronous_commit'), fsync=$(psql "$admin_url" -XAtc 'SHOW fsync'), shared_buffers=$(psql "$admin_url" -XAtc 'SHOW shared_buffers')"
for db in ingest_bench node_bench pgbench_inbox; do
  psql "$admin_url" -XAtq -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
DATABASE_URL="$base/ingest_bench" "$build/tools/ops/outcall-migrate" >/dev/null
DATABASE_URL="$base/pgbench_inbox" "$build/tools/ops/outcall-migrate" >/dev/null
psql "$base/node_bench" -Xq -f "$baseline/schema.sql" >/dev/null 2>&1

# The baseline with its own dependencies (never committed: under .local).
if [ ! -d "$work/node/node_modules" ]; then
  rm -rf "$work/node" && mkdir -p "$work/node"
  cp "$baseline"/*.js "$baseline"/package*.json "$work/node/"
  (cd "$work/node" && npm ci --no-audit --no-fund --silent)
fi
if [ ! -f "$work/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
fi
secret="wsec_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
jwt_secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
tag="b$(date +%s)"
reqs=$work/reqs/req
gen_requests() {  # distinct conversations conv_<tag>_<i, 9 digits>, signed now (tolerance 30 min)
  rm -rf "$work/reqs" && mkdir -p "$work/reqs"
  (cd "$work/node" && WEBHOOK_SECRET=$secret node gen-requests.js "$total" 2 "$reqs" "$tag")
  signed_at=$(date +%s)
}
fresh_requests() { [ $(($(date +%s) - signed_at)) -lt 1500 ] || gen_requests; }
gen_requests

# The calls the events belong to, as call-gateway would have created them (status initiated,
# conversation id known), so each event is applied: status, transcript turns, analysis.
psql "$base/ingest_bench" -XAtq -v ON_ERROR_STOP=1 -c "
  INSERT INTO elevenlabs_conversations (conversation_id, agent_id, agent_phone_number_id,
    phone_number, patient_name, status, max_duration_secs, dial_attempted_at)
  SELECT format('conv_%s_%s', '$tag', lpad(i::text, 9, '0')), 'agent_01jbq5x7k9f2t8v3m6n4p0r2s1',
    'phnum_bench', '+57300' || lpad(i::text, 7, '0'), 'Juan Pérez', 'initiated', 7200, now()
  FROM generate_series(0, $((total - 1))) AS i" -c "VACUUM ANALYZE elevenlabs_conversations"
echo "calls pre-inserted: $total (status initiated)"

declare -A ack p50 p99 non200 svc_cpu svc_rss gw_cpu gw_rss pgcpu busy loadcpu applied

# --- 1. pgbench: the same inbox rows ---------------------------------------------------------------
body_line=$(head -n 1 "${reqs}_1.tsv")
body=${body_line#*$'\t'}
body_hex=$(printf '%s' "$body" | od -An -v -tx1 | tr -d ' \n')
body_sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
mkdir -p "$work/pgbench"
psql "$base/pgbench_inbox" -XAtqc "CREATE SEQUENCE pgb_seq"
insert="INSERT INTO webhook_inbox (event_type, conversation_id, event_timestamp, body, body_truncated, body_sha256) VALUES ('post_call_transcription', 'conv_pgb_' || lpad(nextval('pgb_seq')::text, 9, '0'), NULLIF('${body_line:2:10}', '')::bigint, '\\x$body_hex'::bytea, false, '$body_sha') ON CONFLICT (event_type, conversation_id) DO NOTHING RETURNING id;"
echo "$insert" >"$work/pgbench/one.sql"
{ echo "BEGIN;"; for _ in $(seq 50); do echo "$insert"; done; echo "COMMIT;"; } >"$work/pgbench/fifty.sql"
pgbench_run() {  # ROWS_PER_TRANSACTION CLIENTS
  local per=$1 c=$2 pb script tps k
  psql "$base/pgbench_inbox" -XAtqc "TRUNCATE webhook_inbox, webhook_audio_parts" -c "CHECKPOINT"
  rm -f "$work/pgbench/log"*
  script=$([ "$per" = 1 ] && echo one.sql || echo fifty.sql)
  (cd "$work/pgbench" && PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=outcall_admin PGDATABASE=pgbench_inbox \
    exec pgbench -n -M prepared -c "$c" -j 2 -T "$secs" -l --log-prefix="$work/pgbench/log" -f "$script") \
    >"$work/pgbench/out" 2>&1 &
  pb=$!; pids+=("$pb")
  sleep 1; snap "$work/s0" pgbench="$pb"
  sleep "$(awk -v s="$secs" 'BEGIN {print s - 1.5}')"; snap "$work/s1" pgbench="$pb"
  wait "$pb" || { cat "$work/pgbench/out"; loud "pgbench failed"; return; }
  tps=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$work/pgbench/out" | head -n 1)
  k="pgbench ${per}/txn@$c"
  ack[$k]=$(awk -v t="$tps" -v n="$per" 'BEGIN {printf "%.0f", t * n}')
  read -r p50["$k"] p99["$k"] < <(cat "$work/pgbench/log"* | awk '{print $3}' | sort -n |
    awk '{v[NR] = $1} END {printf "%.2f %.2f\n", v[int(NR * 0.5 + 0.5)] / 1000, v[int(NR * 0.99 + 0.5)] / 1000}')
  non200[$k]=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$work/pgbench/out")
  svc_cpu[$k]=$(cpu "$work/s0" "$work/s1" pgbench)
  pgcpu[$k]=$(cpu "$work/s0" "$work/s1" pg)
  busy[$k]=$(cpu "$work/s0" "$work/s1" machine)
  echo "== $k: $tps transactions/s = ${ack[$k]} rows/s, txn latency p50 ${p50[$k]} ms p99 ${p99[$k]} ms (pgbench cpu ${svc_cpu[$k]}%, postgres ${pgcpu[$k]}%, machine ${busy[$k]}/200%)"
}
for per in 1 50; do
  for c in "${conns_list[@]}"; do measured "pgbench ${per}/txn@$c" pgbench_run "$per" "$c"; done
done
psql "$admin_url" -XAtqc "DROP DATABASE pgbench_inbox"

# run_load NAME URL FIRST CONNS [RATE] SVC=PID...: one ingest_load run, CPU and memory sampled.
run_load() {
  local name=$1 url=$2 first=$3 c=$4 rate=$5 lp; shift 5
  "$load" --url "$url" --requests "$reqs" --first "$first" --connections "$c" --threads 2 \
    --duration "$secs" ${rate:+--rate "$rate"} >"$work/load.out" 2>&1 &
  lp=$!; pids+=("$lp")
  sleep 1; snap "$work/s0" load="$lp" "$@"
  sleep "$(awk -v s="$secs" 'BEGIN {print s - 1.5}')"; snap "$work/s1" load="$lp" "$@"
  wait "$lp" || true
  result=$(grep '^RESULT' "$work/load.out" || true)
  [ -n "$result" ] || { cat "$work/load.out"; loud "$name: no result from ingest_load"; return 1; }
  ack[$name]=$(field "$result" rps); p50[$name]=$(field "$result" p50_ms); p99[$name]=$(field "$result" p99_ms)
  non200[$name]=$(($(field "$result" non200) + $(field "$result" errors)))
  loadcpu[$name]=$(cpu "$work/s0" "$work/s1" load)
  pgcpu[$name]=$(cpu "$work/s0" "$work/s1" pg)
  busy[$name]=$(cpu "$work/s0" "$work/s1" machine)
  echo "== $name: $result"
  [ "$(field "$result" exhausted)" = 0 ] || loud "$name ran out of requests: set INGEST_BENCH_REQUESTS higher"
  [ "${non200[$name]}" = 0 ] || loud "$name: ${non200[$name]} answers were not 200 or failed ($(field "$result" statuses))"
}
# --- 2. the Node baseline, one process ------------------------------------------------------------
fresh_requests
node_port=$(free_port)
(cd "$work/node" && PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=outcall_admin PGDATABASE=node_bench \
  WEBHOOK_SECRET=$secret PORT=$node_port WORKERS=1 exec node server.js) >"$work/node.log" 2>&1 &
node_pid=$!; pids+=("$node_pid")
wait_port "$node_port"
node_reset() {
  psql "$base/node_bench" -XAtqc 'TRUNCATE elevenlabs_webhook_events, elevenlabs_analysis, elevenlabs_transcriptions, elevenlabs_conversations' -c CHECKPOINT
}
node_run() {  # CONNS
  local k="node@$1"
  node_reset
  run_load "$k" "http://127.0.0.1:$node_port" 0 "$1" "" node="$node_pid" || return 0
  svc_cpu[$k]=$(cpu "$work/s0" "$work/s1" node); svc_rss[$k]="$(mem_mb "$node_pid" VmRSS)/$(mem_mb "$node_pid" VmHWM)"
  echo "   stored events: $(psql "$base/node_bench" -XAtc 'SELECT count(*) FROM elevenlabs_webhook_events'); node cpu ${svc_cpu[$k]}%, rss/hwm ${svc_rss[$k]} MB, postgres ${pgcpu[$k]}%, ingest_load ${loadcpu[$k]}%, machine ${busy[$k]}/200%"
}
for c in "${conns_list[@]}"; do
  measured "node@$c" node_run "$c"
done
stop_pid "$node_pid"
psql "$admin_url" -XAtqc "DROP DATABASE node_bench"

# --- 3./4. webhook-ingest ---------------------------------------------------------------------------
start_ingest() {  # DATABASE CALL_GATEWAY_ADDRESS: sets ingest_pid, https_port, metrics_port
  https_port=$(free_port); metrics_port=$(free_port)
  DATABASE_URL="$base/$1" TLS_CERT_FILE="$work/cert.pem" TLS_KEY_FILE="$work/key.pem" \
  ELEVENLABS_WEBHOOK_SECRET="$secret" WEBHOOK_SIGNATURE_TOLERANCE_SECS=86400 JWT_HS256_SECRET="$jwt_secret" \
  JWT_ISSUER=bench JWT_AUDIENCE=outcall WEBHOOK_LISTEN_ADDRESS="127.0.0.1:$https_port" \
  GRPC_LISTEN_ADDRESS="127.0.0.1:$(free_port)" METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics_port" \
  CALL_GATEWAY_ADDRESS="$2" LOG_LEVEL=warn PUBLISH_MAX_BACKOFF_SECS=600 \
    "$build/services/webhook-ingest/webhook-ingest" >"$work/webhook-ingest-$1.log" 2>&1 &
  ingest_pid=$!; pids+=("$ingest_pid")
  wait_port "$https_port"
}
next=0  # the next unused request (conversation) index

# The acknowledgement path alone, for comparison: no call-gateway (the publisher backs off), its own
# database, at the largest connection count.
cmax=${conns_list[-1]}
for c in "${conns_list[@]}"; do [ "$c" -gt "$cmax" ] && cmax=$c; done
ackonly="ingest@$cmax no apply"
psql "$admin_url" -XAtq -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ingest_ackonly" -c "CREATE DATABASE ingest_ackonly"
DATABASE_URL="$base/ingest_ackonly" "$build/tools/ops/outcall-migrate" >/dev/null
start_ingest ingest_ackonly 127.0.0.1:1
ackonly_run() {
  psql "$base/ingest_ackonly" -XAtqc CHECKPOINT
  run_load "$ackonly" "https://127.0.0.1:$https_port" "$next" "$cmax" "" svc="$ingest_pid" || return 0
  next=$((next + $(field "$result" consumed)))
  svc_cpu[$ackonly]=$(cpu "$work/s0" "$work/s1" svc)
  svc_rss[$ackonly]="$(mem_mb "$ingest_pid" VmRSS)/$(mem_mb "$ingest_pid" VmHWM)"
  echo "   webhook-ingest cpu ${svc_cpu[$ackonly]}%, rss/hwm ${svc_rss[$ackonly]} MB; postgres ${pgcpu[$ackonly]}%, ingest_load ${loadcpu[$ackonly]}%, machine ${busy[$ackonly]}/200%"
}
measured "$ackonly" ackonly_run
stop_pid "$ingest_pid"
psql "$admin_url" -XAtqc "DROP DATABASE ingest_ackonly"

# End to end: call-gateway applies what webhook-ingest publishes.
gw_port=$(free_port)
DATABASE_URL="$base/ingest_bench" GRPC_LISTEN_ADDRESS="127.0.0.1:$gw_port" METRICS_LISTEN_ADDRESS=off \
JWT_ISSUER=bench JWT_AUDIENCE=outcall JWT_HS256_SECRET="$jwt_secret" LOG_LEVEL=warn \
ELEVENLABS_API_KEY="bench_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
ELEVENLABS_BASE_URL=http://127.0.0.1:9 ELEVENLABS_AGENT_ID=agent_01jbq5x7k9f2t8v3m6n4p0r2s1 \
ELEVENLABS_AGENT_PHONE_NUMBER_ID=phnum_bench \
  "$build/services/call-gateway/call-gateway" >"$work/call-gateway.log" 2>&1 &
gw_pid=$!; pids+=("$gw_pid")
wait_port "$gw_port"
start_ingest ingest_bench "127.0.0.1:$gw_port"
q() { psql "$base/ingest_bench" -XAtc "$1"; }

last_id=0  # inbox ids above this belong to the current run
# drain NAME: wait until every event stored by the run is applied, then the applied rate.
drain() {
  local k=$1 stored done_n prev=-1 still=0
  stored=$(q "SELECT count(*) FROM webhook_inbox WHERE id > $last_id")
  while :; do
    done_n=$(q "SELECT count(*) FROM applied_call_events a JOIN webhook_inbox i ON i.id = a.inbox_id WHERE i.id > $last_id")
    [ "$done_n" -ge "$stored" ] && break
    if [ "$done_n" = "$prev" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -lt 120 ] || { loud "$k: only $done_n of $stored stored events applied after 60 s without progress"; break; }
    prev=$done_n; sleep 0.5
  done
  snap "$work/s2" gw="$gw_pid"
  gw_cpu[$k]=$(cpu "$work/s0" "$work/s2" gw)  # from the start of the load to the last application
  gw_rss[$k]="$(mem_mb "$gw_pid" VmRSS)/$(mem_mb "$gw_pid" VmHWM)"
  read -r n span lag < <(q "SELECT count(a.inbox_id), EXTRACT(EPOCH FROM max(a.applied_at) - min(i.received_at)),
      EXTRACT(EPOCH FROM max(a.applied_at) - max(i.received_at)) FROM webhook_inbox i
      LEFT JOIN applied_call_events a ON a.inbox_id = i.id WHERE i.id > $last_id" | tr '|' ' ')
  applied[$k]=$(awk -v n="$n" -v s="$span" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')
  echo "   stored $stored, applied $n in ${span}s from the first acknowledgement to the last application (${applied[$k]}/s; the last one ${lag}s after its acknowledgement); call-gateway cpu ${gw_cpu[$k]}% over that time, rss/hwm ${gw_rss[$k]} MB"
  last_id=$(q "SELECT COALESCE(max(id), 0) FROM webhook_inbox")
}
ingest_run() {  # NAME CONNS [RATE]
  local k=$1
  q "CHECKPOINT" >/dev/null
  run_load "$k" "https://127.0.0.1:$https_port" "$next" "$2" "${3:-}" svc="$ingest_pid" gw="$gw_pid" || return 0
  next=$((next + $(field "$result" consumed)))
  svc_cpu[$k]=$(cpu "$work/s0" "$work/s1" svc); gw_cpu[$k]=$(cpu "$work/s0" "$work/s1" gw)
  svc_rss[$k]="$(mem_mb "$ingest_pid" VmRSS)/$(mem_mb "$ingest_pid" VmHWM)"
  echo "   webhook-ingest cpu ${svc_cpu[$k]}%, rss/hwm ${svc_rss[$k]} MB; call-gateway ${gw_cpu[$k]}% during the load; postgres ${pgcpu[$k]}%, ingest_load ${loadcpu[$k]}%, machine ${busy[$k]}/200%"
  drain "$k"
}
for c in "${conns_list[@]}"; do
  measured "ingest@$c" ingest_run "ingest@$c" "$c"
done
curl -s "http://127.0.0.1:$metrics_port/metrics" | awk '/^webhook_commit_batch_size_(sum|count)/ {v[$1]=$2} END {if (v["webhook_commit_batch_size_count"] > 0) printf "group commit: %d events in %d transactions, mean batch %.1f\n", v["webhook_commit_batch_size_sum"], v["webhook_commit_batch_size_count"], v["webhook_commit_batch_size_sum"]/v["webhook_commit_batch_size_count"]}'

peak=0
for c in "${conns_list[@]}"; do
  peak=$(awk -v a="$peak" -v b="${ack[ingest@$c]:-0}" 'BEGIN {print (b > a ? b : a)}')
done
half=$(awk -v p="$peak" 'BEGIN {printf "%.0f", p / 2}')
open="ingest open@$half/s"
[ "$half" -gt 0 ] && measured "$open" ingest_run "$open" "$open_conns" "$half"

# Every event stored by the ingest runs must have been applied to its call.
read -r calls completed turns analysis unmatched < <(q "
  SELECT count(*), count(*) FILTER (WHERE c.status = 'completed'),
         (SELECT count(*) FROM elevenlabs_transcriptions t JOIN webhook_inbox w USING (conversation_id)),
         (SELECT count(*) FROM elevenlabs_analysis a JOIN webhook_inbox w USING (conversation_id)),
         (SELECT count(*) FROM unmatched_call_events)
  FROM webhook_inbox i JOIN elevenlabs_conversations c USING (conversation_id)" | tr '|' ' ')
echo "check: $calls calls got an event; $completed completed, $turns transcript turns, $analysis analyses, $unmatched unmatched events"
if [ "$calls" = 0 ] || [ "$completed" != "$calls" ] || [ "$analysis" != "$calls" ] || [ "$unmatched" != 0 ] ||
  [ "$turns" != $((20 * calls)) ]; then
  q "SELECT status, count(*) FROM webhook_inbox i JOIN elevenlabs_conversations c USING (conversation_id) GROUP BY 1"
  loud "not every stored event was applied to its call (expected $calls completed calls, $((20 * calls)) turns, $calls analyses, 0 unmatched)"
fi
grep -E '"level":"(error|critical)"|\[(error|critical)\]' "$work/webhook-ingest-ingest_bench.log" "$work/call-gateway.log" | head -n 5 || true
stop_pid "$ingest_pid"; stop_pid "$gw_pid"

# --- the table -----------------------------------------------------------------------------------
echo
echo "=== webhook-ingest benchmark (${secs}s per run; CPU in % of one core, 200 = both cores; RSS MB now/peak)"
printf '%-20s %9s %10s %8s %8s %7s %8s %11s %7s %11s %7s %7s %7s\n' run "ack/s" "applied/s" p50_ms p99_ms non200 svc_cpu svc_rss gw_cpu gw_rss pg_cpu load_cpu machine
row() {
  printf '%-20s %9s %10s %8s %8s %7s %8s %11s %7s %11s %7s %7s %7s\n' "$1" "${ack[$1]:--}" "${applied[$1]:--}" \
    "${p50[$1]:--}" "${p99[$1]:--}" "${non200[$1]:--}" "${svc_cpu[$1]:--}" "${svc_rss[$1]:--}" \
    "${gw_cpu[$1]:--}" "${gw_rss[$1]:--}" "${pgcpu[$1]:--}" "${loadcpu[$1]:--}" "${busy[$1]:--}"
}
for c in "${conns_list[@]}"; do row "ingest@$c"; done
row "$ackonly"
for c in "${conns_list[@]}"; do row "node@$c"; done
for per in 1 50; do for c in "${conns_list[@]}"; do row "pgbench ${per}/txn@$c"; done; done
echo "(ingest rows: call-gateway applies concurrently, except \"no apply\"; applied/s = applied events / (last application - first acknowledgement); gw_cpu over that time)"
echo "(pgbench rows: ack/s = inbox rows/s, p50/p99 = transaction latency, svc_cpu = the pgbench client)"
row "$open"
echo "half-peak open loop: ${ack[$open]:-?}/s offered $half/s over $open_conns connections: p50 ${p50[$open]:-?} ms, p99 ${p99[$open]:-?} ms, non200 ${non200[$open]:-?}"

max_of() { local m=0 k; for k in "$@"; do m=$(awk -v a="$m" -v b="${ack[$k]:-0}" 'BEGIN {print (b > a ? b : a)}'); done; echo "$m"; }
node_keys=(); pg_keys=(); ingest_keys=()
for c in "${conns_list[@]}"; do node_keys+=("node@$c"); ingest_keys+=("ingest@$c"); pg_keys+=("pgbench 1/txn@$c" "pgbench 50/txn@$c"); done
node_peak=$(max_of "${node_keys[@]}"); pg_peak=$(max_of "${pg_keys[@]}")
applied_peak=0; rss_peak=0
for k in "${ingest_keys[@]}"; do
  applied_peak=$(awk -v a="$applied_peak" -v b="${applied[$k]:-0}" 'BEGIN {print (b > a ? b : a)}')
  rss_peak=$(awk -v a="$rss_peak" -v b="${svc_rss[$k]#*/}" 'BEGIN {print (b + 0 > a ? b + 0 : a)}')
done
verdict() { if awk "BEGIN {exit !($1)}"; then echo PASS; else echo MISS; fi; }
echo
echo "targets (baseline = node single process, best of ${conns_list[*]} connections: $node_peak/s; pgbench ceiling = best pgbench row: $pg_peak rows/s)"
printf '  %-58s %-26s %s\n' \
  "acknowledged >= 5 x baseline ($((5 * ${node_peak%.*}))/s)" "$peak/s ($(awk -v a="$peak" -v b="$node_peak" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}') x)" "$(verdict "$peak >= 5 * $node_peak && $node_peak > 0")" \
  "acknowledged >= 70% of pgbench ceiling ($(awk -v p="$pg_peak" 'BEGIN {printf "%.0f", 0.7 * p}')/s)" "$peak/s ($(awk -v a="$peak" -v b="$pg_peak" 'BEGIN {printf "%.0f", (b > 0 ? 100 * a / b : 0)}')%)" "$(verdict "$peak >= 0.7 * $pg_peak && $pg_peak > 0")" \
  "fully applied >= 2.5 x baseline ($(awk -v p="$node_peak" 'BEGIN {printf "%.0f", 2.5 * p}')/s)" "$applied_peak/s ($(awk -v a="$applied_peak" -v b="$node_peak" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}') x)" "$(verdict "$applied_peak >= 2.5 * $node_peak && $node_peak > 0")" \
  "p99 acknowledgement < 10 ms at half the peak ($half/s)" "${p99[$open]:-?} ms" "$(verdict "${p99[$open]:-99999} < 10 && ${non200[$open]:-1} == 0")" \
  "webhook-ingest resident memory < 100 MB at peak" "$rss_peak MB (VmHWM)" "$(verdict "$rss_peak < 100 && $rss_peak > 0")"
[ -n "${ack[$ackonly]:-}" ] && echo "  (the acknowledgement path alone, no apply running: ${ack[$ackonly]}/s = $(awk -v a="${ack[$ackonly]}" -v b="$node_peak" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}') x baseline, $(awk -v a="${ack[$ackonly]}" -v b="$pg_peak" 'BEGIN {printf "%.0f", (b > 0 ? 100 * a / b : 0)}')% of the pgbench ceiling; the issue's baseline figure: about 1,100/s)"
echo "whole benchmark: ${SECONDS}s"
echo "${OUTCALL_MACHINE:-machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')}"
psql "$admin_url" -XAtqc "DROP DATABASE ingest_bench" || true
rm -rf "$work/reqs" "$work/pgbench"
exit $failed
