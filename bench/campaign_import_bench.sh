#!/usr/bin/env bash
# A campaign's recipients from a CSV (docs/campaigns.md): outcall-campaign-import streaming ROWS
# rows through call-gateway's AddRecipients (each row checked: number, variables, template) beside
# PostgreSQL's own COPY of the same rows into the same table, on the private cluster
# "bench-campaign" (a fresh database each run), the real simulator and call-gateway.
#
#   bench/campaign_import_bench.sh BUILD_DIR [ROWS] [BATCH] [IN_FLIGHT]
#
# ROWS default 100000, BATCH (rows per AddRecipients) 1000, IN_FLIGHT 4. The issue's target: the
# import at least 50% of COPY's rows per second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/campaign_import_bench.sh BUILD_DIR [ROWS] [BATCH] [IN_FLIGHT]}
rows=${2:-100000}
batch=${3:-1000}
in_flight=${4:-4}
work=$root/.local/bench-campaign
mkdir -p "$work"
cluster=bench-campaign
# shellcheck source=bench/campaign_bench_lib.sh
. bench/campaign_bench_lib.sh
bench_require services/call-gateway/call-gateway tools/elevenlabs-sim/elevenlabs-sim \
  tools/ops/outcall-migrate tools/ops/outcall-health tools/ops/outcall-cli \
  tools/ops/outcall-campaign-import

unset DATABASE_URL
bash scripts/pg.sh start "$cluster" >/dev/null
eval "$(bash scripts/pg.sh env "$cluster")"
admin_url=$DATABASE_URL
db_url="${admin_url%/*}/campaign_bench"
psql "$admin_url" -XAtq -c "DROP DATABASE IF EXISTS campaign_bench" -c "CREATE DATABASE campaign_bench"
DATABASE_URL=$db_url "$build/tools/ops/outcall-migrate" >/dev/null
echo "postgresql: $(psql "$admin_url" -XAtc 'SHOW server_version'), fsync=$(psql "$admin_url" -XAtc 'SHOW fsync'), synchronous_commit=$(psql "$admin_url" -XAtc 'SHOW synchronous_commit')"
echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"

sim_key="bench_$(rand_hex 16)"
export JWT_HS256_SECRET JWT_ISSUER=outcall-bench JWT_AUDIENCE=outcall
JWT_HS256_SECRET=$(rand_hex 32)
sim_port=$(free_port)
grpc_port=$(free_port)
metrics_port=$(free_port)
ELEVENLABS_API_KEY=$sim_key SIM_LISTEN_ADDRESS=127.0.0.1:$sim_port SIM_TIME_SCALE=0 LOG_LEVEL=warn \
  "$build/tools/elevenlabs-sim/elevenlabs-sim" >"$work/elevenlabs-sim.log" 2>&1 &
pids+=("$!")
env DATABASE_URL="$db_url" ELEVENLABS_API_KEY="$sim_key" \
  ELEVENLABS_BASE_URL="http://127.0.0.1:$sim_port" ELEVENLABS_AGENT_ID=agent_sim_confirmaciones \
  ELEVENLABS_AGENT_PHONE_NUMBER_ID=phnum_sim_twilio CAMPAIGN_DISPATCHER=false \
  GRPC_LISTEN_ADDRESS="127.0.0.1:$grpc_port" METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics_port" \
  "$build/services/call-gateway/call-gateway" >"$work/call-gateway.log" 2>&1 &
pids+=("$!")
wait_healthy call-gateway "$grpc_port"

# The same rows twice: as a clinic exports them (national numbers, two variables) for the import,
# and as COPY needs them (E.164, the variables as JSON) for PostgreSQL.
awk -v n="$rows" 'BEGIN {
  print "telefono,appointment_time,clinic"
  for (i = 0; i < n; i++) printf "301%07d,2026-12-04 %02d:%02d,Sede %d\n", i, 7 + i % 12, i % 60, i % 7 }' \
  >"$work/recipients.csv"
campaign() {
  "$build/tools/ops/outcall-cli" --address "127.0.0.1:$grpc_port" --permissions campaigns:write \
    Campaigns.CreateCampaign "{\"spec\": {\"name\": \"$1\", \"purpose\": \"reminder\",
      \"variablesTemplate\": {\"sede\": \"{{clinic}}\"}}}" |
    sed -n 's/.*"campaignId": "\([^"]*\)".*/\1/p'
}
import_id=$(campaign "Importación")
copy_id=$(campaign "COPY")
copy_row=$(psql "$db_url" -XAtc "SELECT id FROM campaigns WHERE campaign_id = '$copy_id'")
awk -F, -v c="$copy_row" 'NR > 1 {
  printf "%s\t+57%s\t{\"appointment_time\": \"%s\", \"clinic\": \"%s\"}\t-infinity\n", c, $1, $2, $3 }' \
  "$work/recipients.csv" >"$work/recipients.copy"

echo "rows: $rows; import batches of $batch, $in_flight in flight"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
result=$("$build/tools/ops/outcall-campaign-import" --address "127.0.0.1:$grpc_port" \
  --batch "$batch" --in-flight "$in_flight" "$import_id" "$work/recipients.csv")
echo "outcall-campaign-import: $result"
import_rps=$(echo "$result" | sed -n 's/.*"rowsPerSecond": \([0-9.]*\).*/\1/p')
t0=$(date +%s.%N)
psql "$db_url" -XAtq -v ON_ERROR_STOP=1 \
  -c "\\copy campaign_recipients (campaign_id, phone_e164, variables, next_attempt_at) FROM '$work/recipients.copy'"
t1=$(date +%s.%N)
copied=$(psql "$db_url" -XAtc "SELECT count(*) FROM campaign_recipients WHERE campaign_id = $copy_row")
imported=$(psql "$db_url" -XAtc "SELECT count(*) FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.campaign_id = '$import_id'")
awk -v n="$copied" -v t0="$t0" -v t1="$t1" -v i="$import_rps" -v m="$imported" 'BEGIN {
  c = n / (t1 - t0)
  printf "COPY: %d rows in %.3f s, %.0f rows/s\n", n, t1 - t0, c
  printf "import: %d rows stored, %.0f rows/s = %.0f%% of COPY (target: at least 50%%)\n", m, i, 100 * i / c }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
