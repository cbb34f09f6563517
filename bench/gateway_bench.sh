#!/usr/bin/env bash
# call-gateway under load (docs/gateway-bench.md): starts the private PostgreSQL cluster
# "bench-gw" (a fresh database each run, migrated with outcall-migrate), the real elevenlabs-sim
# and the real call-gateway as separate processes on free loopback ports with secrets generated
# for this run, runs outcall_gateway_bench against them and stops everything it started.
#
#   bench/gateway_bench.sh BUILD_DIR [SECONDS] [CLIENTS] [outcall_gateway_bench options...]
#
# SECONDS: measured per phase (default 10, after a 2 s warm-up); CLIENTS: comma-separated
# concurrency levels (default 1,32). Options such as --warmup=N or --idempotency-key go to the
# benchmark program. GW_BENCH_GATEWAY_ENV adds variables to call-gateway's environment only, for
# experiments, e.g. GW_BENCH_GATEWAY_ENV="DATABASE_POOL_SIZE=16 MALLOC_ARENA_MAX=2".
# GW_BENCH_GATEWAY_BIN runs another call-gateway binary (an older build, for a before/after
# comparison) with everything else, simulator and load included, from BUILD_DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/gateway_bench.sh BUILD_DIR [SECONDS] [CLIENTS] [OPTIONS...]}
secs=${2:-10}
clients=${3:-1,32}
shift $(($# < 3 ? $# : 3))
work=$root/.local/bench-gateway
mkdir -p "$work"
for bin in services/call-gateway/call-gateway tools/elevenlabs-sim/elevenlabs-sim \
  tools/ops/outcall-migrate tools/ops/outcall-health bench/outcall_gateway_bench; do
  [ -x "$build/$bin" ] || { echo "gateway_bench: $build/$bin is not built" >&2; exit 2; }
done

pids=()
pg_started=0
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $pg_started = 1 ]; then bash scripts/pg.sh stop bench-gw >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# A free loopback port below the ephemeral range (the simulator phase opens a connection per call).
used_ports=" "
free_port() {
  local p
  for p in $(shuf -i 20000-32000 -n 200); do
    case $used_ports in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  echo "gateway_bench: no free port" >&2
  return 1
}

# --- PostgreSQL: the private cluster "bench-gw", never the caller's DATABASE_URL.
unset DATABASE_URL
bash scripts/pg.sh status bench-gw >/dev/null 2>&1 || pg_started=1
bash scripts/pg.sh start bench-gw >/dev/null
eval "$(bash scripts/pg.sh env bench-gw)"
admin_url=$DATABASE_URL
db_url="${admin_url%/*}/gateway_bench"
psql "$admin_url" -XAtq -c "DROP DATABASE IF EXISTS gateway_bench" -c "CREATE DATABASE gateway_bench"
DATABASE_URL=$db_url "$build/tools/ops/outcall-migrate" >/dev/null
# The bench runs at any hour: the test contact profile (hours and holidays relaxed, with the
# reason recorded in it). The policy's decision itself still runs before every dial.
psql "$db_url" -XqAt -v ON_ERROR_STOP=1 -v doc="$(cat tests/support/profiles/test_any_hour.json)" \
  -f tests/support/profiles/activate.sql
echo "postgresql: $(psql "$admin_url" -XAtc 'SHOW server_version'), fsync=$(psql "$admin_url" -XAtc 'SHOW fsync'), synchronous_commit=$(psql "$admin_url" -XAtc 'SHOW synchronous_commit')"
echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"
[ -z "${GW_BENCH_GATEWAY_BIN:-}" ] || echo "call-gateway: $GW_BENCH_GATEWAY_BIN"

# --- secrets for this run only (never written to a file)
sim_key="bench_$(rand_hex 16)"
jwt_secret=$(rand_hex 32)
sim_port=$(free_port)
grpc_port=$(free_port)
metrics_port=$(free_port)
max_duration=7200 # the reconciler never looks at the bench's open calls, however long it runs

# --- the simulator: frozen clock (calls never progress: no scheduler work competes for the two
# cores), a cap far above what one phase places (it is reset before each phase).
ELEVENLABS_API_KEY=$sim_key SIM_LISTEN_ADDRESS=127.0.0.1:$sim_port SIM_TIME_SCALE=0 \
  SIM_MAX_CONCURRENT_CALLS=100000 LOG_LEVEL=warn LOG_FORMAT=json \
  "$build/tools/elevenlabs-sim/elevenlabs-sim" >"$work/elevenlabs-sim.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$sim_port/__sim/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$sim_port/__sim/health" >/dev/null ||
  { echo "elevenlabs-sim did not start:"; tail -5 "$work/elevenlabs-sim.log"; exit 1; }

# --- call-gateway with its defaults (pool, logging at info as JSON, metrics endpoint on)
# shellcheck disable=SC2086
env DATABASE_URL="$db_url" JWT_ISSUER=outcall-bench JWT_AUDIENCE=outcall \
  JWT_HS256_SECRET="$jwt_secret" ELEVENLABS_API_KEY="$sim_key" \
  ELEVENLABS_BASE_URL="http://127.0.0.1:$sim_port" ELEVENLABS_AGENT_ID=agent_sim_confirmaciones \
  ELEVENLABS_AGENT_PHONE_NUMBER_ID=phnum_sim_twilio ELEVENLABS_MAX_CALL_DURATION=$max_duration \
  GRPC_LISTEN_ADDRESS="127.0.0.1:$grpc_port" METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics_port" \
  ${GW_BENCH_GATEWAY_ENV:-} \
  "${GW_BENCH_GATEWAY_BIN:-$build/services/call-gateway/call-gateway}" >"$work/call-gateway.log" 2>&1 &
gw_pid=$!
pids+=("$gw_pid")
ok=0
for _ in $(seq 100); do
  if "$build/tools/ops/outcall-health" "127.0.0.1:$grpc_port" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ $ok = 1 ] || { echo "call-gateway did not become healthy:"; tail -5 "$work/call-gateway.log"; exit 1; }
[ -n "${GW_BENCH_GATEWAY_ENV:-}" ] && echo "call-gateway extra environment: $GW_BENCH_GATEWAY_ENV"
sleep 2 # idle: let start-up settle before the idle memory is read

wal_syncs() { psql "$admin_url" -XAtc "SELECT wal_sync FROM pg_stat_wal"; }
commits() { psql "$admin_url" -XAtc "SELECT xact_commit FROM pg_stat_database WHERE datname = 'gateway_bench'"; }
echo "load average before the load: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the numbers)"
syncs0=$(wal_syncs)
commits0=$(commits)
status=0
SIM_API_KEY=$sim_key JWT_HS256_SECRET=$jwt_secret JWT_ISSUER=outcall-bench JWT_AUDIENCE=outcall \
  ELEVENLABS_MAX_CALL_DURATION=$max_duration \
  "$build/bench/outcall_gateway_bench" --gateway="127.0.0.1:$grpc_port" \
  --sim="http://127.0.0.1:$sim_port" --gateway-pid="$gw_pid" --sim-pid="$sim_pid" \
  --seconds="$secs" --clients="$clients" "$@" || status=$?

# The gateway's database work per placed call (its backends report their statistics on exit).
kill "$gw_pid" 2>/dev/null || true
wait "$gw_pid" 2>/dev/null || true
sleep 1
calls=$(psql "$db_url" -XAtc "SELECT count(*) FROM elevenlabs_conversations")
awk -v c="$calls" -v x=$(($(commits) - commits0)) -v s=$(($(wal_syncs) - syncs0)) 'BEGIN {
  if (c > 0) printf "\ncall-gateway database work: %d calls recorded, %.2f transactions and %.2f WAL syncs (fsync) per call\n", c, x / c, s / c }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
errors=$(grep -c '"level":"\(error\|critical\)"' "$work/call-gateway.log" || true)
[ "$errors" = 0 ] || echo "!!! call-gateway logged $errors errors: $work/call-gateway.log"
exit $status
