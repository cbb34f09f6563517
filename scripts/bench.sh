#!/usr/bin/env bash
# Runs every benchmark under bench/ and prints the machine it ran on.
#
#   scripts/bench.sh [google-benchmark options]    the common hot-path benchmarks
#   scripts/bench.sh ingest [SECONDS] [CONNECTIONS]  webhook-ingest end to end (with call-gateway)
#                                                  vs the Node baseline and pgbench; CONNECTIONS
#                                                  defaults to 16,64 (docs/webhook-ingest.md)
#   scripts/bench.sh stats [ROWS...] [-- OPTIONS]  stats at scale: loads ROWS calls (default
#                                                  1000000 and 10000000) into the private cluster
#                                                  "bench" and measures (docs/stats.md). Options go
#                                                  to outcall_stats_bench (--iterations=N,
#                                                  --raw-iterations=N, --reload).
#   scripts/bench.sh gateway [SECONDS] [CLIENTS] [OPTIONS]  call-gateway's InitiateCall against the
#                                                  real simulator and PostgreSQL (cluster "bench-gw"):
#                                                  throughput, p50/p99 raw and added on top of the
#                                                  simulator's own, RSS idle and under load. SECONDS
#                                                  per phase (10), CLIENTS comma-separated (1,32);
#                                                  OPTIONS go to outcall_gateway_bench (--rate=N,
#                                                  --warmup=N, --idempotency-key); see
#                                                  docs/gateway-bench.md.
#   scripts/bench.sh policy [ROWS] [OPTIONS]       the contact-policy check before every dial
#                                                  (ContactPolicy::Decide and its ledger read)
#                                                  at ROWS ledger rows (default 1000000) in the
#                                                  private cluster "bench-policy": p50/p99/max,
#                                                  decisions/s, the plan (docs/policy.md).
#                                                  OPTIONS go to outcall_policy_bench
#                                                  (--iterations=N, --clients=1,2,4, --reload).
#   scripts/bench.sh campaigns [ROWS] [BATCH] [IN_FLIGHT]  a CSV of ROWS recipients (100000)
#                                                  through outcall-campaign-import beside
#                                                  PostgreSQL's COPY of the same rows (cluster
#                                                  "bench-campaign"; docs/campaigns.md).
#   scripts/bench.sh dispatch [RECIPIENTS] [TIME_SCALE]  the campaign dispatcher over the whole
#                                                  path (simulator, HTTPS ingest, call-gateway;
#                                                  cluster "bench-dispatch"): RECIPIENTS (10000)
#                                                  at cap 50 and 20 calls/s: peak concurrency,
#                                                  pacing error, CPU, statements per attempt,
#                                                  double dials (docs/campaigns.md).
#   scripts/bench.sh sync [ROWS] [BATCH]           the clinic's appointments through the sync API:
#                                                  `outcall sync appointments` of ROWS rows (100000;
#                                                  of ROWS/5 patients, synced first) through a real
#                                                  call-gateway beside PostgreSQL's COPY of the same
#                                                  rows into the same table (cluster "bench-sync"),
#                                                  then the same file again (all unchanged) and with
#                                                  10% of the times moved, beside COPY + INSERT ...
#                                                  ON CONFLICT; BATCH rows a request (1000)
#                                                  (docs/integration.md#benchmarks).
#   scripts/bench.sh outbox [RATE] [SECONDS]       outbound webhooks: events at RATE/s (1000) for
#                                                  SECONDS (20), written by pgbench's appointment
#                                                  cancellations (the triggers of 0023), delivered by
#                                                  call-gateway's sender to a local receiver (cluster
#                                                  "bench-outbox"): event rate, deliveries/s, lag
#                                                  p50/p95/p99/max, CPU; then a backlog of
#                                                  OUTCALL_BENCH_BACKLOG events (20000): the claim
#                                                  query's plan and the drain rate. OUTBOX_* go to
#                                                  call-gateway (docs/integration.md#benchmarks).
#                                                  For both: OUTCALL_SKIP_BUILD=1 uses the binaries
#                                                  as built (in OUTCALL_BUILD_DIR, default build/).
#   scripts/bench.sh rest [SECONDS] [CONNECTIONS]  the REST face: outcall through outcall-rest-edge
#                                                  vs the Node baseline (../shared/baselines/
#                                                  node-api-ref, or OUTCALL_NODE_API_BASELINE) on the
#                                                  same simulator, PostgreSQL (cluster "bench-rest")
#                                                  and wrk client: POST /api/elevenlabs/call and GET
#                                                  /api/elevenlabs/stats at CONNECTIONS (1,16,64),
#                                                  SECONDS per phase (10), CPU and commits per call,
#                                                  the edge's own time, pgbench's ceiling
#                                                  (docs/rest-bench.md). OUTCALL_SKIP_BUILD=1 uses
#                                                  the binaries as built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# A side-by-side benchmark says what is missing before it builds anything.
need_baseline() {
  if [ ! -f "$1/schema.sql" ]; then
    echo "bench.sh: the Node baseline this benchmark compares with is not at $1" >&2
    echo "bench.sh: it is expected in ../shared/baselines/ beside the checkout; set $2=<dir>." >&2
    exit 2
  fi
}
machine() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

if [ "${1:-}" = ingest ]; then
  # webhook-ingest (HTTPS) with call-gateway applying its events, against the Node.js baseline and
  # pgbench on the same PostgreSQL (docs/webhook-ingest.md).
  shift
  need_baseline "${OUTCALL_NODE_BASELINE:-$root/../shared/baselines/node-webhook-ref}" OUTCALL_NODE_BASELINE
  bash scripts/install-deps.sh
  CMAKE_BUILD_TYPE=Release bash scripts/build.sh webhook-ingest call-gateway outcall-migrate ingest_load
  machine
  OUTCALL_MACHINE="$(machine)" exec bash bench/ingest_bench.sh "${OUTCALL_BUILD_DIR:-$root/build}" "$@"
fi

if [ "${1:-}" = rest ]; then
  # Starts its own PostgreSQL cluster, the whole system (scripts/up.sh) and the Node baseline, and
  # stops them (bench/rest_bench.sh).
  shift
  need_baseline "${OUTCALL_NODE_API_BASELINE:-$root/../shared/baselines/node-api-ref}" OUTCALL_NODE_API_BASELINE
  if [ "${OUTCALL_SKIP_BUILD:-0}" != 1 ]; then
    bash scripts/install-deps.sh
    bash scripts/build.sh outcall-rest-edge call-gateway stats webhook-ingest elevenlabs-sim \
      outcall-migrate outcall-health outcall-token
  fi
  machine
  exec bash bench/rest_bench.sh "${OUTCALL_BUILD_DIR:-$root/build}" "$@"
fi

if [ "${1:-}" = gateway ]; then
  # Starts its own PostgreSQL cluster, simulator and call-gateway, and stops them (bench/gateway_bench.sh).
  shift
  bash scripts/install-deps.sh
  CMAKE_BUILD_TYPE=Release bash scripts/build.sh call-gateway elevenlabs-sim outcall-migrate \
    outcall-health outcall_gateway_bench
  machine
  exec bash bench/gateway_bench.sh "${OUTCALL_BUILD_DIR:-$root/build}" "$@"
fi

if [ "${1:-}" = campaigns ]; then
  shift
  bash scripts/install-deps.sh
  CMAKE_BUILD_TYPE=Release bash scripts/build.sh call-gateway elevenlabs-sim outcall-migrate \
    outcall-health outcall-cli outcall-campaign-import
  machine
  exec bash bench/campaign_import_bench.sh "${OUTCALL_BUILD_DIR:-$root/build}" "$@"
fi

if [ "${1:-}" = sync ]; then
  # Starts its own PostgreSQL cluster and call-gateway, and stops them (bench/sync_bench.sh).
  shift
  if [ "${OUTCALL_SKIP_BUILD:-0}" != 1 ]; then
    bash scripts/install-deps.sh
    CMAKE_BUILD_TYPE=Release bash scripts/build.sh call-gateway outcall outcall-migrate outcall-health
  fi
  machine
  exec bash bench/sync_bench.sh "${OUTCALL_BUILD_DIR:-$root/build}" "$@"
fi

if [ "${1:-}" = outbox ]; then
  # Starts its own PostgreSQL cluster, call-gateway and receiver (node), and stops them
  # (bench/outbox_bench.sh).
  shift
  if [ "${OUTCALL_SKIP_BUILD:-0}" != 1 ]; then
    bash scripts/install-deps.sh
    CMAKE_BUILD_TYPE=Release bash scripts/build.sh call-gateway outcall-migrate outcall-health
  fi
  machine
  exec bash bench/outbox_bench.sh "${OUTCALL_BUILD_DIR:-$root/build}" "$@"
fi

if [ "${1:-}" = dispatch ]; then
  shift
  bash scripts/install-deps.sh
  CMAKE_BUILD_TYPE=Release bash scripts/build.sh call-gateway webhook-ingest elevenlabs-sim \
    outcall-migrate outcall-health outcall-cli outcall-campaign-import
  machine
  exec bash bench/campaign_dispatch_bench.sh "${OUTCALL_BUILD_DIR:-$root/build}" "$@"
fi

if [ "${1:-}" = policy ]; then
  shift
  rows=1000000
  if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then rows=$1; shift; fi
  bash scripts/install-deps.sh
  CMAKE_BUILD_TYPE=Release bash scripts/build.sh outcall_policy_bench outcall-migrate
  build="${OUTCALL_BUILD_DIR:-$root/build}"
  machine
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (builds or other benchmarks running at the same time skew the tail)"
  # The private cluster "bench-policy", never DATABASE_URL from the caller's environment: the
  # benchmark creates, migrates and fills its own database.
  unset DATABASE_URL
  bash scripts/pg.sh start bench-policy >/dev/null
  eval "$(bash scripts/pg.sh env bench-policy)"
  echo "postgresql: $(psql "$DATABASE_URL" -XAtc 'SHOW server_version') (shared_buffers $(psql "$DATABASE_URL" -XAtc 'SHOW shared_buffers'))"
  db="outcall_bench_policy_$rows"
  if [ "$(psql "$DATABASE_URL" -XAtc "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
    psql "$DATABASE_URL" -XqAtc "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8'"
  fi
  # Migrations first (a data set loaded earlier gets the new ones too; the bench ANALYZEs).
  DATABASE_URL="${DATABASE_URL%/*}/$db" "$build/tools/ops/outcall-migrate" | tail -1
  exec "$build/bench/outcall_policy_bench" --rows="$rows" --db="$db" "$@"
fi

if [ "${1:-}" = stats ]; then
  shift
  sizes=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sizes+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  [ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
  bash scripts/install-deps.sh
  CMAKE_BUILD_TYPE=Release bash scripts/build.sh outcall_stats_bench
  build="${OUTCALL_BUILD_DIR:-$root/build}"
  machine
  echo "disk: $(df -h "$root" | awk 'NR==2 {print $4 " free on " $6}') (10M calls need about 8 GB)"
  # The private cluster "bench" (never DATABASE_URL from the caller's environment: the benchmark
  # creates and fills its own databases).
  unset DATABASE_URL
  bash scripts/pg.sh start bench >/dev/null
  eval "$(bash scripts/pg.sh env bench)"
  echo "postgresql: $(psql "$DATABASE_URL" -XAtc 'SHOW server_version') (shared_buffers $(psql "$DATABASE_URL" -XAtc 'SHOW shared_buffers'))"
  for rows in "${sizes[@]}"; do
    "$build/bench/outcall_stats_bench" --rows="$rows" "$@"
  done
  exit 0
fi

bash scripts/install-deps.sh
CMAKE_BUILD_TYPE=Release bash scripts/build.sh outcall_common_bench
machine
./build/bench/outcall_common_bench "$@"
