#!/usr/bin/env bash
# webhook-ingest against the Node.js baseline (../shared/baselines/node-webhook-ref), same
# machine, same PostgreSQL cluster ("bench", separate databases), same pre-signed request files.
#
#   bench/ingest_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS] [REQUESTS]
#
# webhook-ingest is measured over HTTPS (TLS 1.3, as deployed); the baseline over plain HTTP, as
# its README says (it sat behind a TLS proxy), so the comparison favours the baseline. wrk runs
# with 2 threads on the same 2 cores as the servers and PostgreSQL.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/ingest_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS] [REQUESTS]}
secs=${2:-20}
conns=${3:-64}
total=${4:-200000}
baseline=${OUTCALL_NODE_BASELINE:-$root/../shared/baselines/node-webhook-ref}
work=$root/.local/bench-ingest
mkdir -p "$work"

unset DATABASE_URL
bash scripts/pg.sh start bench >/dev/null
eval "$(bash scripts/pg.sh env bench)"
admin_url=$DATABASE_URL
base=${admin_url%/*}
echo "postgresql: $(psql "$admin_url" -XAtc 'SHOW server_version'), synchronous_commit=$(psql "$admin_url" -XAtc 'SHOW synchronous_commit'), fsync=$(psql "$admin_url" -XAtc 'SHOW fsync')"
for db in ingest_bench node_bench; do
  psql "$admin_url" -XAtqc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
DATABASE_URL="$base/ingest_bench" "$build/tools/ops/outcall-migrate" >/dev/null
psql "$base/node_bench" -Xq -f "$baseline/schema.sql" >/dev/null

# The baseline with its own dependencies (never committed: under .local).
if [ ! -d "$work/node/node_modules" ]; then
  rm -rf "$work/node" && mkdir -p "$work/node"
  cp "$baseline"/*.js "$baseline"/package*.json "$work/node/"
  (cd "$work/node" && npm ci --no-audit --no-fund --silent)
fi
secret="wsec_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$work/reqs"
(cd "$work/node" && WEBHOOK_SECRET=$secret node gen-requests.js "$total" 2 "$work/reqs/req" "b$(date +%s)")

if [ ! -f "$work/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# --- webhook-ingest (the publisher finds no call-gateway and backs off: not on the hot path)
DATABASE_URL="$base/ingest_bench" TLS_CERT_FILE="$work/cert.pem" TLS_KEY_FILE="$work/key.pem" \
ELEVENLABS_WEBHOOK_SECRET="$secret" JWT_HS256_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
JWT_ISSUER=bench JWT_AUDIENCE=outcall WEBHOOK_LISTEN_ADDRESS=127.0.0.1:18443 \
GRPC_LISTEN_ADDRESS=127.0.0.1:18453 METRICS_LISTEN_ADDRESS=127.0.0.1:18463 \
CALL_GATEWAY_ADDRESS=127.0.0.1:1 LOG_LEVEL=warn PUBLISH_MAX_BACKOFF_SECS=60 \
  "$build/services/webhook-ingest/webhook-ingest" >"$work/webhook-ingest.log" 2>&1 &
pids+=($!)
wait_port 18443
echo "== webhook-ingest (HTTPS) -c$conns ${secs}s"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$baseline/wrk-webhook.lua" https://127.0.0.1:18443 -- "$work/reqs/req" | grep RESULT
curl -s http://127.0.0.1:18463/metrics | awk '/^webhook_commit_batch_size_(sum|count)/ {v[$1]=$2} END {printf "group commit: %d events in %d transactions, mean batch %.1f\n", v["webhook_commit_batch_size_sum"], v["webhook_commit_batch_size_count"], v["webhook_commit_batch_size_sum"]/v["webhook_commit_batch_size_count"]}'
curl -s http://127.0.0.1:18463/metrics | grep -E '^webhook_commit_batch_size_bucket' | tr '\n' ' '; echo
echo "stored rows: $(psql "$base/ingest_bench" -XAtc 'SELECT count(*) FROM webhook_inbox')"
kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true

# --- the Node baseline, one process and node:cluster with 2 workers
for workers in 1 2; do
  (cd "$work/node" && PGHOST=127.0.0.1 PGPORT="$(echo "$admin_url" | sed -E 's#.*:([0-9]+)/.*#\1#')" \
    PGUSER=outcall_admin PGDATABASE=node_bench WEBHOOK_SECRET=$secret PORT=18787 WORKERS=$workers \
    node server.js >"$work/node-$workers.log" 2>&1) &
  pids+=($!)
  wait_port 18787
  psql "$base/node_bench" -XAtqc 'TRUNCATE elevenlabs_webhook_events, elevenlabs_analysis, elevenlabs_transcriptions, elevenlabs_conversations'
  echo "== node baseline WORKERS=$workers (plain HTTP) -c$conns ${secs}s"
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$baseline/wrk-webhook.lua" http://127.0.0.1:18787 -- "$work/reqs/req" | grep RESULT
  kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true
  sleep 1
done
