#!/usr/bin/env bash
# Outbound webhooks' delivery throughput and lag (docs/integration.md#benchmarks): call-gateway's
# outbox sender delivering to a fast local receiver (bench/outbox_receiver.mjs: 204 at once, the
# signature checked with node:crypto) while events are produced at a steady RATE per second for
# SECONDS by pgbench, each transaction one `UPDATE appointments SET status = 'canceled'` of its
# own pre-created appointment: the triggers of migration 0023 write the outbox row
# (webhook_events) and its delivery in that transaction. On the private cluster "bench-outbox"
# (a fresh database each run) whose outbox already holds HISTORY delivered events, as a system
# that has run for a while does (the planner's statistics then say what production's say:
# pending deliveries are a sliver of the table).
#
#   bench/outbox_bench.sh BUILD_DIR [RATE] [SECONDS]
#
# RATE default 1000, SECONDS 20. Reported: the achieved event rate, deliveries per second, the
# lag of each event (its first arrival at the receiver minus webhook_events.created_at, the
# commit) at p50/p95/p99/max, also per 5-second window; the CPU of call-gateway, PostgreSQL
# (call-gateway's connections and pgbench's apart), the receiver and pgbench; the statements
# that took over 100 ms (auto_explain logs their plans in the cluster's log).
# Then the sender under backlog: call-gateway stopped, BACKLOG events queued (one transaction),
# the claim query (the literal in webhook_store.cpp of the sources BUILD_DIR was configured
# from) EXPLAIN ANALYZEd against them, rolled back, with the statistics as autovacuum left them
# and again after an ANALYZE (plans in .local/bench-outbox/claim-plan*.txt); then call-gateway
# started again: how fast it drains them.
# The issue's target: p99 lag under 1 s at 1,000 events/s with a healthy receiver.
#
# Environment: OUTBOX_* (docs/configuration.md) go to call-gateway as they are, to try other
# settings (OUTBOX_POLL_MS=50, OUTBOX_BATCH=500, OUTBOX_WORKERS=16). OUTCALL_BENCH_CLIENTS:
# pgbench's connections (8). OUTCALL_BENCH_BACKLOG: the backlog's events (20000; 0 skips it).
# OUTCALL_BENCH_RECEIVER_DELAY_MS: the receiver answers each delivery after this many ms (0), as
# one across a network would (every POST is a new connection: a TCP and, with https, a TLS
# handshake too). OUTCALL_BENCH_HISTORY: the delivered events already in the outbox (100000; 0:
# a fresh install, whose tiny tables give other plans). OUTCALL_BENCH_SQL: a file of SQL run in
# the benchmark's database after the migrations, to try a change to the schema (a trigger, a
# function, an index) before writing its migration.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/outbox_bench.sh BUILD_DIR [RATE] [SECONDS]}
rate=${2:-1000}
secs=${3:-20}
clients=${OUTCALL_BENCH_CLIENTS:-8}
backlog=${OUTCALL_BENCH_BACKLOG:-20000}
history=${OUTCALL_BENCH_HISTORY:-100000}
warmup=200
work=$root/.local/bench-outbox
mkdir -p "$work"
cluster=bench-outbox
# shellcheck source=bench/campaign_bench_lib.sh
. bench/campaign_bench_lib.sh
bench_require services/call-gateway/call-gateway tools/ops/outcall-migrate tools/ops/outcall-health
command -v pgbench >/dev/null || { echo "$(basename "$0"): pgbench is not installed" >&2; exit 2; }
command -v node >/dev/null || { echo "$(basename "$0"): node is not installed" >&2; exit 2; }

unset DATABASE_URL
bash scripts/pg.sh start "$cluster" >/dev/null
eval "$(bash scripts/pg.sh env "$cluster")"
admin_url=$DATABASE_URL
db_url="${admin_url%/*}/outbox_bench"
psql "$admin_url" -XAtq -c "DROP DATABASE IF EXISTS outbox_bench" -c "CREATE DATABASE outbox_bench"
DATABASE_URL=$db_url "$build/tools/ops/outcall-migrate" >/dev/null
q() { psql "$db_url" -XAtq -v ON_ERROR_STOP=1 "$@"; }
if [ -n "${OUTCALL_BENCH_SQL:-}" ]; then
  q -f "$OUTCALL_BENCH_SQL"
  echo "applied after the migrations: $OUTCALL_BENCH_SQL"
fi
echo "postgresql: $(q -c 'SHOW server_version'), fsync=$(q -c 'SHOW fsync'), synchronous_commit=$(q -c 'SHOW synchronous_commit'), shared_buffers=$(q -c 'SHOW shared_buffers')"
echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"
postmaster=$(DATABASE_URL=$admin_url postmaster_pid)

# One appointment per event (each its own subject, so per-subject ordering never holds one back).
events=$((warmup + rate * secs * 11 / 10 + backlog))
q -c "INSERT INTO patients (external_ref, full_name, phone_e164)
        SELECT 'P-' || g, 'Paciente ' || g, '+57300' || lpad(g::text, 7, '0')
        FROM generate_series(1, greatest($events / 5, 1)) g" \
  -c "INSERT INTO appointments (external_ref, patient_id, scheduled_at, doctor_name, specialty, location)
        SELECT 'A-' || g, 1 + (g - 1) % greatest($events / 5, 1),
               timestamptz '2026-12-04 07:00-05' + make_interval(mins => g % 660),
               'Dr. Médico ' || g % 40, 'Especialidad ' || g % 12, 'Sede ' || g % 7
        FROM generate_series(1, $events) g" \
  -c "CREATE SEQUENCE outbox_bench_next" -c "VACUUM ANALYZE patients, appointments"
first_id=$(q -c "SELECT min(id) FROM appointments")
q -c "SELECT setval('outbox_bench_next', $first_id, false)" >/dev/null
printf '%s\n' "UPDATE appointments SET status = 'canceled' WHERE id = (SELECT nextval('outbox_bench_next'));" \
  >"$work/cancel.sql"

export JWT_HS256_SECRET JWT_ISSUER=outcall-bench JWT_AUDIENCE=outcall
JWT_HS256_SECRET=$(rand_hex 32)
el_key="bench_$(rand_hex 16)"
grpc_port=$(free_port)
metrics_port=$(free_port)
recv_port=$(free_port)
RECEIVER_DELAY_MS=${OUTCALL_BENCH_RECEIVER_DELAY_MS:-0} node bench/outbox_receiver.mjs "$recv_port" >"$work/receiver.log" 2>&1 &
receiver=$!
pids+=("$receiver")
gateway=
start_gateway() {
  # No simulator: nothing is dialled (the dispatcher is off); the ElevenLabs settings are only
  # required to start. OUTBOX_* of the caller's environment pass through.
  env DATABASE_URL="$db_url" ELEVENLABS_API_KEY="$el_key" \
    ELEVENLABS_BASE_URL="http://127.0.0.1:9" ELEVENLABS_AGENT_ID=agent_bench \
    ELEVENLABS_AGENT_PHONE_NUMBER_ID=phnum_bench CAMPAIGN_DISPATCHER=false \
    GRPC_LISTEN_ADDRESS="127.0.0.1:$grpc_port" METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics_port" \
    LOG_LEVEL=warn "$build/services/call-gateway/call-gateway" >>"$work/call-gateway.log" 2>&1 &
  gateway=$!
  pids+=("$gateway")
  wait_healthy call-gateway "$grpc_port"
}
stop_gateway() { kill "$gateway"; wait "$gateway" 2>/dev/null || true; }
# Statements over 100 ms (from call-gateway's start on) are logged with their plans (auto_explain,
# in the cluster's log; plans only, no parameters) and counted.
pg_log=$(bash scripts/pg.sh log "$cluster")
slow_statements() {
  tail -c "+$pg_log_from" "$pg_log" | awk '/ LOG:  duration: [0-9.]+ ms  plan:/ { n++; d = $0; sub(/.* duration: /, "", d); sub(/ ms.*/, "", d); if (d + 0 > m) m = d + 0 }
    /Query Text:/ && n > c { c = n; q = $0; sub(/.*Query Text: /, "", q); k[substr(q, 1, 60)]++ }
    END { printf "%d", n; if (n) { printf " (the longest %.0f ms; by statement:", m; for (x in k) printf " \"%s...\" %d", x, k[x]; printf ")" } }'
}
for _ in $(seq 50); do grep -q listening "$work/receiver.log" && break; sleep 0.1; done
# The subscription as CreateWebhookSubscription stores it (outcall-cli has no Webhooks methods):
# a random key, base64, in webhook_secrets. It reaches the receiver on its standard input and the
# database on psql's, never a file or a command line.
key=$(head -c 32 /dev/urandom | base64 -w0)
printf '%s' "whsec_$key" | curl -fsS --data-binary @- "http://127.0.0.1:$recv_port/_control/secret"
q -v url="http://127.0.0.1:$recv_port/outcall" -v key="$key" <<'SQL'
WITH s AS (INSERT INTO webhook_subscriptions (url, event_types, description, created_by)
           VALUES (:'url', ARRAY['appointment.canceled'], 'outbox bench', 'bench') RETURNING id)
INSERT INTO webhook_secrets (subscription_id, version, secret) SELECT id, 1, :'key' FROM s;
SQL
unset key
# A delivery log as a system that has run for a while has one (HISTORY delivered events), so
# that the planner's statistics are those of production (pending rows a sliver of the table)
# rather than of a fresh install.
if [ "$history" -gt 0 ]; then
  q -c "WITH e AS (INSERT INTO webhook_events (event_type, subject, data, created_at)
                   SELECT 'appointment.canceled', 'appointment:h' || g,
                          jsonb_build_object('appointmentId', g, 'externalRef', 'H-' || g, 'status', 'canceled',
                            'fhirStatus', 'cancelled', 'patientId', g % 1000, 'patientExternalRef', 'P-' || g % 1000,
                            'phoneNumber', '+57300' || lpad((g % 1000)::text, 7, '0'), 'patientName', 'Paciente ' || g % 1000,
                            'scheduledAt', now() - make_interval(hours => g % 500)),
                          now() - make_interval(secs => ($history - g) * 5)
                   FROM generate_series(1, $history) g RETURNING id, subject, created_at)
        INSERT INTO webhook_deliveries (subscription_id, event_row, subject, state, attempts, queued_at,
                                        next_attempt_at, delivered_at, created_at)
        SELECT (SELECT id FROM webhook_subscriptions), id, subject, 'delivered', 1, created_at, created_at,
               created_at + interval '0.2 s', created_at FROM e"
fi
q -c "VACUUM ANALYZE"
q -c "ALTER DATABASE outbox_bench SET session_preload_libraries = 'auto_explain'" \
  -c "ALTER DATABASE outbox_bench SET auto_explain.log_min_duration = 100"
pg_log_from=$(($(stat -c %s "$pg_log") + 1))
: >"$work/call-gateway.log"
start_gateway
echo "call-gateway's sender: $(env | grep '^OUTBOX_' | tr '\n' ' ' || true)(unset: the defaults, docs/configuration.md)"


pending() { q -c "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'"; }
wait_drained() {  # $1: seconds at most
  local deadline=$((SECONDS + $1))
  while [ "$(pending)" != 0 ]; do
    [ $SECONDS -lt "$deadline" ] || { echo "still $(pending) pending after $1 s" >&2; return 1; }
    sleep 0.2
  done
}
# PostgreSQL's CPU ticks: the postmaster (with its reaped children: ended connections, autovacuum
# workers) and every process it runs now; then those of call-gateway's connections
# (application_name).
pg_ticks() {
  local gw_pids total gw=0 p t
  gw_pids=" $(q -c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'call-gateway'") "
  total=$(cpu_ticks "$postmaster")
  for p in $(ps -o pid= --ppid "$postmaster"); do
    t=$(cpu_ticks "$p")
    total=$((total + t))
    [[ $gw_pids == *" $p "* ]] && gw=$((gw + t))
  done
  echo "$total $gw"
}
# The CPU of pgbench's connections (the producers' transactions and their triggers): sampled
# every 0.25 s while they live (they end with pgbench), the sum of the last samples written to
# FILE. Slightly low: up to 0.25 s of their work before they end is missed.
sample_producers() {  # FILE
  local -A seen=()
  local backends="" p t sum
  while :; do
    [ -n "$backends" ] ||
      backends=$(q -c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'pgbench' HAVING count(*) >= $clients")
    sum=0
    for p in $backends; do
      t=$(cpu_ticks "$p")
      [ "$t" -gt "${seen[$p]:-0}" ] && seen[$p]=$t
      sum=$((sum + ${seen[$p]:-0}))
    done
    echo "$sum" >"$1"
    sleep 0.25
  done
}
hz=$(getconf CLK_TCK)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# cpu_line LABEL WALL GATEWAY PG PG_GATEWAY RECEIVER [PRODUCERS PGBENCH]: ticks over WALL seconds.
cpu_line() {
  awk -v l="$1" -v w="$2" -v hz="$hz" -v g="$3" -v p="$4" -v pg="$5" -v r="$6" -v pp="${7:-}" \
    -v b="${8:-}" 'BEGIN {
    c = 100 / hz / w
    printf "%s CPU over %.1f s, %% of one core: call-gateway %.0f%%; PostgreSQL %.0f%%: call-gateway'"'"'s connections %.0f%%", l, w, g * c, p * c, pg * c
    if (pp != "") printf ", pgbench'"'"'s connections (the events'"'"' transactions) %.0f%%, the rest (WAL writer, autovacuum, checkpointer, ...) %.0f%%", pp * c, (p - pg - pp) * c
    printf "; receiver %.0f%%", r * c
    if (b != "") printf "; pgbench %.0f%%", b * c
    printf "\n" }'
}

# Warm-up: connections, prepared statements, the first passes.
pgbench -n -f "$work/cancel.sql" -c 2 -j 1 -t $((warmup / 2)) "$db_url" >/dev/null
wait_drained 60
mark=$(q -c "SELECT coalesce(max(id), 0) FROM webhook_events")

echo "events: $rate/s for $secs s by pgbench ($clients connections), one appointment canceled per transaction; the receiver answers after ${OUTCALL_BENCH_RECEIVER_DELAY_MS:-0} ms"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
g0=$(cpu_ticks "$gateway"); r0=$(cpu_ticks "$receiver"); read -r p0 pg0 < <(pg_ticks)
sample_producers "$work/producers.ticks" &
sampler=$!
t0=$(now)
# pgbench's own CPU: the subshell's reaped children's (cutime + cstime), in ticks.
bench_ticks=$(
  pgbench -n -f "$work/cancel.sql" -c "$clients" -j 2 -R "$rate" -T "$secs" "$db_url" >"$work/pgbench.out" 2>&1 ||
    { cat "$work/pgbench.out" >&2; exit 1; }
  read -r -a f <"/proc/$BASHPID/stat"
  echo $((f[15] + f[16])))
t1=$(now)
kill "$sampler"; wait "$sampler" 2>/dev/null || true
wait_drained 900 || echo "  (not drained: the lag figures below are those of the delivered events only)"
t2=$(now)
g1=$(cpu_ticks "$gateway"); r1=$(cpu_ticks "$receiver"); read -r p1 pg1 < <(pg_ticks)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pgbench: $(grep -E '^(number of transactions actually processed|latency average|rate limit schedule lag|tps)' "$work/pgbench.out" | sed 's/ (without initial connection time)//' | tr '\n' ';' | sed 's/;$//; s/;/; /g')"

curl -fsS "http://127.0.0.1:$recv_port/_control/records" >"$work/arrivals.tsv"
# stats FROM_EVENT_ROW TO_EVENT_ROW WINDOWS: the lag of the events in (FROM, TO] (arrival at the
# receiver - webhook_events.created_at, the first arrival of each webhook-id), overall and, with
# WINDOWS=1, per 5 s of the events' creation.
stats() {
  q -F ' ' <<SQL
CREATE TEMP TABLE arrivals (event_id text, at float8, verified text);
\\copy arrivals FROM '$work/arrivals.tsv'
CREATE TEMP TABLE lag AS
  SELECT e.id, extract(epoch FROM e.created_at) AS created, a.at, a.at - extract(epoch FROM e.created_at) AS lag,
         a.n, a.bad
  FROM webhook_events e
  LEFT JOIN (SELECT event_id, min(at) AS at, count(*) AS n, count(*) FILTER (WHERE verified = 'f') AS bad
             FROM arrivals GROUP BY 1) a USING (event_id)
  WHERE e.id > $1 AND e.id <= $2;
SELECT count(*), count(at), coalesce(sum(n - 1), 0), coalesce(sum(bad), 0),
       round((count(*) / nullif(max(created) - min(created), 0))::numeric, 0),
       round((count(at) / nullif(max(at) - min(at), 0))::numeric, 0),
       round(1000 * percentile_disc(0.50) WITHIN GROUP (ORDER BY lag)::numeric, 1),
       round(1000 * percentile_disc(0.95) WITHIN GROUP (ORDER BY lag)::numeric, 1),
       round(1000 * percentile_disc(0.99) WITHIN GROUP (ORDER BY lag)::numeric, 1),
       round(1000 * max(lag)::numeric, 1),
       round((max(at) - min(created))::numeric, 2)
FROM lag;
SELECT '  window', 5 * w || '-' || 5 * (w + 1) || ' s:', count(*), 'events,',
       round(1000 * percentile_disc(0.50) WITHIN GROUP (ORDER BY lag)::numeric, 0), '/',
       round(1000 * percentile_disc(0.99) WITHIN GROUP (ORDER BY lag)::numeric, 0), '/',
       round(1000 * max(lag)::numeric, 0), 'ms'
FROM (SELECT floor((created - min(created) OVER ()) / 5)::int AS w, lag FROM lag) x
WHERE $3 = 1 GROUP BY w ORDER BY w;
SQL
}
report() {  # LABEL steady|drain, the output of stats on stdin
  read -r n delivered dups bad ev_rate del_rate p50 p95 p99 max span
  if [ "$2" = drain ]; then
    echo "$1: $delivered of $n delivered at $del_rate/s (first to last arrival), $dups duplicate arrivals, $bad failed signatures"
    return
  fi
  echo "$1: $n events at $ev_rate/s, $delivered delivered at $del_rate/s (first to last arrival; first event to last arrival $span s), $dups duplicate arrivals, $bad failed signatures"
  echo "  lag (arrival - created_at): p50 $p50 ms, p95 $p95 ms, p99 $p99 ms, max $max ms"
  awk -v p99="$p99" 'BEGIN { printf "  target p99 < 1000 ms: %s\n", (p99 != "" && p99 + 0 < 1000) ? "met" : "NOT met" }'
  cat  # the windows
}
last=$(q -c "SELECT max(id) FROM webhook_events")
stats "$mark" "$last" 1 | report "steady $rate/s" steady
cpu_line "steady" "$(elapsed "$t0" "$t2")" $((g1 - g0)) $((p1 - p0)) $((pg1 - pg0)) $((r1 - r0)) \
  "$(cat "$work/producers.ticks")" "$bench_ticks"
echo "  (pgbench ran $(elapsed "$t0" "$t1") s; the queue was empty $(elapsed "$t1" "$t2") s after it ended)"
echo "  statements over 100 ms (auto_explain, plans in $(bash scripts/pg.sh log "$cluster")): $(slow_statements)"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null |
  grep -E '^outcall_webhook_deliveries_total' | tr '\n' ' ' | sed 's/^/  call-gateway metrics: /; s/ $/\n/' || true

[ "$backlog" -gt 0 ] || exit 0
echo
echo "backlog: call-gateway stopped, $backlog events queued in one transaction"
stop_gateway
mark=$(q -c "SELECT max(id) FROM webhook_events")
q -c "UPDATE appointments SET status = 'canceled' WHERE id IN (SELECT nextval('outbox_bench_next') FROM generate_series(1, $backlog))"
# The claim query as call-gateway sends it (its literal in webhook_store.cpp of the sources
# BUILD_DIR was configured from), parameters bound as the sender binds them: now, OUTBOX_BATCH,
# the lease's owner, OUTBOX_LEASE_SECS.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
claim=$(awk '/"webhooks\.claim",/ { on = 1; next } on { while (match($0, /"([^"\\]|\\.)*"/)) { s = s substr($0, RSTART + 1, RLENGTH - 2); $0 = substr($0, RSTART + RLENGTH) } } on && /\}/ { exit } END { print s }' \
  "${src:-$root}/services/call-gateway/src/webhook_store.cpp")
[ -n "$claim" ] || { echo "the claim query was not found in webhook_store.cpp" >&2; exit 1; }
explain() {  # at most 300 s (the quadratic plan at a large backlog takes minutes)
  q 2>&1 <<SQL || true
BEGIN;
SET LOCAL statement_timeout = '300s';
PREPARE claim(float8, int, text, float8) AS $claim;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE claim(extract(epoch FROM clock_timestamp()), ${OUTBOX_BATCH:-200}, 'bench', ${OUTBOX_LEASE_SECS:-60});
ROLLBACK;
SQL
}
explain >"$work/claim-plan.txt"
took() { grep -h -e 'Execution Time' -e 'canceling statement' "$1" | sed 's/^ *//; s/.*canceling statement due to statement timeout.*/over 300 s (canceled)/'; }
echo "  claim query at $(pending) pending (as autovacuum left the statistics): $(took "$work/claim-plan.txt"); plan: .local/bench-outbox/claim-plan.txt"
q -c "ANALYZE webhook_deliveries, webhook_events, webhook_subscriptions"
explain >"$work/claim-plan-analyzed.txt"
echo "  the same after ANALYZE: $(took "$work/claim-plan-analyzed.txt"); plan: .local/bench-outbox/claim-plan-analyzed.txt"
g0=$(cpu_ticks "$gateway"); r0=$(cpu_ticks "$receiver"); read -r p0 pg0 < <(pg_ticks)
t0=$(now)
start_gateway
g0=$(cpu_ticks "$gateway")
wait_drained 900 || echo "  (not drained)"
t2=$(now)
g1=$(cpu_ticks "$gateway"); r1=$(cpu_ticks "$receiver"); read -r p1 pg1 < <(pg_ticks)
curl -fsS "http://127.0.0.1:$recv_port/_control/records" >"$work/arrivals.tsv"
last=$(q -c "SELECT max(id) FROM webhook_events")
stats "$mark" "$last" 0 | report "backlog drain" drain
cpu_line "drain" "$(elapsed "$t0" "$t2")" $((g1 - g0)) $((p1 - p0)) $((pg1 - pg0)) $((r1 - r0))
echo "  statements over 100 ms since the start: $(slow_statements)"
