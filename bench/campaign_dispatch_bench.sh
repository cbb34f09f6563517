#!/usr/bin/env bash
# The campaign dispatcher under load (docs/campaigns.md): one campaign of RECIPIENTS (10000) with a
# concurrency cap of 50 and 1200 calls per minute (20 a second), dialled through the whole path
# as separate processes: the simulator (accelerated clock) sends each call's signed webhooks to
# webhook-ingest over HTTPS, whose publisher hands them to call-gateway, whose dispatcher settles
# the attempt and claims the next. Private cluster "bench-dispatch" (a fresh database each run,
# pg_stat_statements on), each service with its own database role, secrets made for this run.
#
#   bench/campaign_dispatch_bench.sh BUILD_DIR [RECIPIENTS] [TIME_SCALE]
#
# TIME_SCALE (default 100): a 47-second call lasts 0.47 s, and with its webhooks and the settling
# tick a slot is held 1.5 s or so: about 30 live, the pace binds. At 20 a slot is held about 3.3 s
# and the cap of 50 binds (about 15 dials a second). Reported: the peak concurrency seen by the
# dispatcher's rows and by the simulator (never above the cap), the dial rate against the target
# and the busiest second, call-gateway's CPU, its statements and transactions per attempt, and the
# double dials (the simulator's per-call-id counters; must be 0).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/campaign_dispatch_bench.sh BUILD_DIR [RECIPIENTS] [TIME_SCALE]}
n=${2:-10000}
scale=${3:-100}
cap=50
cpm=1200
work=$root/.local/bench-dispatch
mkdir -p "$work"
cluster=bench-dispatch
# shellcheck source=bench/campaign_bench_lib.sh
. bench/campaign_bench_lib.sh
bench_require services/call-gateway/call-gateway services/webhook-ingest/webhook-ingest \
  tools/elevenlabs-sim/elevenlabs-sim tools/ops/outcall-migrate tools/ops/outcall-health \
  tools/ops/outcall-cli tools/ops/outcall-campaign-import

# --- PostgreSQL, with pg_stat_statements for the statements per attempt
unset DATABASE_URL
bash scripts/pg.sh start "$cluster" >/dev/null
eval "$(bash scripts/pg.sh env "$cluster")"
admin_url=$DATABASE_URL
if [ "$(psql "$admin_url" -XAtc 'SHOW shared_preload_libraries')" != pg_stat_statements ]; then
  psql "$admin_url" -XAtqc "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
  bash scripts/pg.sh stop "$cluster" >/dev/null
  bash scripts/pg.sh start "$cluster" >/dev/null
  eval "$(bash scripts/pg.sh env "$cluster")"
  admin_url=$DATABASE_URL
fi
db_url="${admin_url%/*}/dispatch_bench"
psql "$admin_url" -XAtq -c "SET client_min_messages = warning" \
  -c "DROP DATABASE IF EXISTS dispatch_bench" -c "CREATE DATABASE dispatch_bench"
DATABASE_URL=$db_url "$build/tools/ops/outcall-migrate" >/dev/null
psql "$db_url" -XAtq -c "CREATE EXTENSION pg_stat_statements"
# The bench runs at any hour: the test contact profile (hours and holidays relaxed, the reason
# recorded in it); the policy's decision still runs before every dial.
psql "$db_url" -XqAt -v ON_ERROR_STOP=1 -v doc="$(cat tests/support/profiles/test_any_hour.json)" \
  -f tests/support/profiles/activate.sql
as_role() { echo "$db_url?options=-c%20role%3D$1"; }
echo "postgresql: $(psql "$admin_url" -XAtc 'SHOW server_version'), fsync=$(psql "$admin_url" -XAtc 'SHOW fsync'), synchronous_commit=$(psql "$admin_url" -XAtc 'SHOW synchronous_commit')"
echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"

# --- secrets, TLS, ports for this run
sim_key="bench_$(rand_hex 16)"
webhook_secret="wsec_$(rand_hex 16)"
export JWT_HS256_SECRET JWT_ISSUER=outcall-bench JWT_AUDIENCE=outcall
JWT_HS256_SECRET=$(rand_hex 32)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
sim_port=$(free_port)
https_port=$(free_port)
grpc_port=$(free_port)

# --- the simulator, its cap far above the campaign's (the dispatcher's cap is what is measured)
ELEVENLABS_API_KEY=$sim_key SIM_LISTEN_ADDRESS=127.0.0.1:$sim_port SIM_TIME_SCALE=$scale \
  SIM_MAX_CONCURRENT_CALLS=1000 LOG_LEVEL=warn \
  ELEVENLABS_WEBHOOK_URL="https://127.0.0.1:$https_port/api/webhooks/elevenlabs" \
  ELEVENLABS_WEBHOOK_SECRET=$webhook_secret SIM_WEBHOOK_CA_FILE="$work/cert.pem" \
  "$build/tools/elevenlabs-sim/elevenlabs-sim" >"$work/elevenlabs-sim.log" 2>&1 &
pids+=("$!")
# --- call-gateway: the defaults (1-second tick), the plan's concurrent calls above the cap
env DATABASE_URL="$(as_role outcall_gateway)" ELEVENLABS_API_KEY="$sim_key" \
  ELEVENLABS_BASE_URL="http://127.0.0.1:$sim_port" ELEVENLABS_AGENT_ID=agent_sim_confirmaciones \
  ELEVENLABS_AGENT_PHONE_NUMBER_ID=phnum_sim_twilio ELEVENLABS_MAX_CONCURRENT_CALLS=100 \
  SAVE_CALL_AUDIO=false LOG_LEVEL=warn \
  GRPC_LISTEN_ADDRESS="127.0.0.1:$grpc_port" METRICS_LISTEN_ADDRESS="127.0.0.1:$(free_port)" \
  "$build/services/call-gateway/call-gateway" >"$work/call-gateway.log" 2>&1 &
gw_pid=$!
pids+=("$gw_pid")
wait_healthy call-gateway "$grpc_port"
# --- webhook-ingest: HTTPS, publishing to call-gateway
ingest_grpc=$(free_port)
env DATABASE_URL="$(as_role outcall_ingest)" TLS_CERT_FILE="$work/cert.pem" \
  TLS_KEY_FILE="$work/key.pem" ELEVENLABS_WEBHOOK_SECRET="$webhook_secret" SAVE_CALL_AUDIO=false \
  WEBHOOK_LISTEN_ADDRESS="127.0.0.1:$https_port" GRPC_LISTEN_ADDRESS="127.0.0.1:$ingest_grpc" \
  METRICS_LISTEN_ADDRESS="127.0.0.1:$(free_port)" CALL_GATEWAY_ADDRESS="127.0.0.1:$grpc_port" \
  WEBHOOK_SPOOL_DIR="$work/spool" LOG_LEVEL=warn \
  "$build/services/webhook-ingest/webhook-ingest" >"$work/webhook-ingest.log" 2>&1 &
pids+=("$!")
wait_healthy webhook-ingest "$ingest_grpc"

# --- the campaign and its recipients
cli() { "$build/tools/ops/outcall-cli" --address "127.0.0.1:$grpc_port" --permissions campaigns:write,calls:read "$@"; }
campaign_id=$(cli Campaigns.CreateCampaign "{\"spec\": {\"name\": \"Recordatorios\",
  \"purpose\": \"reminder\", \"pacing\": {\"maxConcurrency\": $cap, \"callsPerMinute\": $cpm},
  \"retry\": {\"retryOn\": [\"no_answer\"], \"intervalsSecs\": [1], \"maxAttempts\": 1},
  \"breaker\": {\"failureRate\": 1, \"window\": 1000, \"minSample\": 1000}}}" |
  sed -n 's/.*"campaignId": "\([^"]*\)".*/\1/p')
awk -v n="$n" 'BEGIN { print "telefono"; for (i = 0; i < n; i++) printf "302%07d\n", i }' \
  >"$work/recipients.csv"
"$build/tools/ops/outcall-campaign-import" --address "127.0.0.1:$grpc_port" "$campaign_id" \
  "$work/recipients.csv" >"$work/import.json"
echo "recipients: $(cat "$work/import.json")"
row=$(psql "$db_url" -XAtc "SELECT id FROM campaigns WHERE campaign_id = '$campaign_id'")

cpu() { awk '{ print $14 + $15 }' "/proc/$gw_pid/stat"; }
stat_reset() { psql "$db_url" -XAtq -c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset()" >/dev/null; }
echo "campaign $campaign_id: $n recipients, cap $cap, $cpm calls/min, simulator time x$scale"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
stat_reset
cpu0=$(cpu)
t0=$(date +%s.%N)
cli Campaigns.StartCampaign "{\"campaignId\": \"$campaign_id\"}" >/dev/null
peak_rows=0
peak_sim=0
samples=0
while :; do
  read -r live state < <(psql "$db_url" -XAtF' ' -c "SELECT (SELECT count(*) FROM campaign_recipients WHERE campaign_id = $row AND state IN ('dialing', 'in_call')), state FROM campaigns WHERE id = $row")
  sim_live=$(curl -fsS "http://127.0.0.1:$sim_port/__sim/counters" | grep -o '"live_calls":[0-9]*' | cut -d: -f2)
  [ "$live" -gt "$peak_rows" ] && peak_rows=$live
  [ "${sim_live:-0}" -gt "$peak_sim" ] && peak_sim=$sim_live
  samples=$((samples + 1))
  [ "$state" = completed ] && break
  case $state in running | scheduled) ;; *) echo "campaign is $state"; break ;; esac
  sleep 0.2
done
t1=$(date +%s.%N)
cpu1=$(cpu)
tck=$(getconf CLK_TCK)

echo
echo "=== campaign dispatcher: $n recipients, cap $cap, $cpm/min ($((cpm / 60))/s), simulator x$scale"
psql "$db_url" -XAt -F' ' -c "SELECT state || ':' || count(*) FROM campaign_recipients WHERE campaign_id = $row GROUP BY state" | tr '\n' ' ' | sed 's/^/recipients by state: /'
echo
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "wall time: %.1f s\n", b - a }'
echo "peak concurrency: $peak_rows dialing or in a call (the dispatcher's rows), $peak_sim live at the simulator; cap $cap ($samples samples, every 0.2 s)"
psql "$db_url" -XAt -F' ' -c "WITH d AS (SELECT v.created_at FROM elevenlabs_conversations v JOIN campaign_recipients r ON r.id = v.campaign_recipient_id WHERE r.campaign_id = $row), s AS (SELECT date_trunc('second', created_at) AS sec, count(*) AS k FROM d GROUP BY 1) SELECT (SELECT count(*) FROM d), extract(epoch from max(created_at) - min(created_at)), (SELECT max(k) FROM s), (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY k) FROM s WHERE sec > (SELECT min(sec) FROM s) AND sec < (SELECT max(sec) FROM s)) FROM d" |
  awk -v target="$((cpm / 60))" '{ rate = ($1 - 1) / $2
    printf "dials: %d in %.1f s = %.2f/s against %d/s (pacing error %+.1f%%); busiest second %d dials, median second %d\n", $1, $2, rate, target, 100 * (rate - target) / target, $3, $4 }'
awk -v c0="$cpu0" -v c1="$cpu1" -v t="$tck" -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN {
  s = (c1 - c0) / t; printf "call-gateway cpu: %.1f s over %.1f s = %.1f%% of one core, %.2f ms per attempt (dispatch, the policy check, the dial, applying the call'"'"'s webhooks)\n", s, b - a, 100 * s / (b - a), 1000 * s / n }'
gw_oid=$(psql "$db_url" -XAtc "SELECT oid FROM pg_roles WHERE rolname = 'outcall_gateway'")
attempts=$(psql "$db_url" -XAtc "SELECT count(*) FROM campaign_attempts WHERE campaign_id = $row")
psql "$db_url" -XAt -F' ' -c "SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE query ILIKE '%campaign%'), 0), coalesce(sum(calls) FILTER (WHERE query ~* '^\\s*(begin|start transaction)'), 0) FROM pg_stat_statements WHERE userid = $gw_oid AND dbid = (SELECT oid FROM pg_database WHERE datname = 'dispatch_bench')" |
  awk -v a="$attempts" '{ if (a > 0) printf "call-gateway statements: %.2f per attempt (%.2f on campaign tables: claim, mark, settle, tick), %.2f explicit transactions per attempt; %d attempts settled\n", $1 / a, $2 / a, $3 / a, a }'
curl -fsS "http://127.0.0.1:$sim_port/__sim/counters" >"$work/sim-counters.json"
python3 - "$work/sim-counters.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
twice = sum(1 for v in c.get("dialled_by_correlation_id", {}).values() if v > 1)
numbers = sum(1 for v in c.get("dialled_by_number", {}).values() if v > 1)
print(f"double dials: {twice} call ids and {numbers} numbers dialled more than once "
      f"({c.get('calls_placed', 0)} calls placed; 429s: {c.get('outbound_responses', {}).get('429', 0)})")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
errors=$(grep -c '"level":"\(error\|critical\)"' "$work/call-gateway.log" "$work/webhook-ingest.log" | awk -F: '{ s += $2 } END { print s }')
[ "$errors" = 0 ] || echo "!!! the services logged $errors errors: $work/*.log"
