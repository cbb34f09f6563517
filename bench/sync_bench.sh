#!/usr/bin/env bash
# The clinic's appointments through the sync API (docs/integration.md#benchmarks): `outcall sync
# appointments FILE.csv` streaming ROWS rows through call-gateway's UpsertAppointments beside
# PostgreSQL's own COPY of the same rows into the same appointments table, on the private cluster
# "bench-sync" (a fresh database each run) and a real call-gateway. Three passes of the CLI:
#
#   1. new       ROWS new appointments (of PATIENTS patients, synced first with `outcall sync
#                patients`), beside COPY of the same rows (other external refs) into appointments;
#   2. re-send   the same file again: every row unchanged (a client's idempotent retry);
#   3. 10% moved the file with every tenth appointment an hour later: 10% updated.
# Passes 2 and 3 are set beside the best plain SQL does for an upsert of the same rows: COPY into
# a temporary table, then one INSERT ... ON CONFLICT (external_ref) DO UPDATE ... WHERE the row
# differs.
#
#   bench/sync_bench.sh BUILD_DIR [ROWS] [BATCH]
#
# ROWS default 100000, BATCH (rows per request, the CLI's --batch) 1000 (the CLI's default; two
# batches in flight). PATIENTS is ROWS/5 (at least 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=${1:?usage: bench/sync_bench.sh BUILD_DIR [ROWS] [BATCH]}
rows=${2:-100000}
batch=${3:-1000}
patients=$((rows / 5))
[ "$patients" -ge 1 ] || patients=1
work=$root/.local/bench-sync
mkdir -p "$work"
cluster=bench-sync
# shellcheck source=bench/campaign_bench_lib.sh
. bench/campaign_bench_lib.sh
bench_require services/call-gateway/call-gateway tools/ops/outcall-migrate tools/ops/outcall-health \
  tools/ops/outcall

unset DATABASE_URL
bash scripts/pg.sh start "$cluster" >/dev/null
eval "$(bash scripts/pg.sh env "$cluster")"
admin_url=$DATABASE_URL
db_url="${admin_url%/*}/sync_bench"
psql "$admin_url" -XAtq -c "DROP DATABASE IF EXISTS sync_bench" -c "CREATE DATABASE sync_bench"
DATABASE_URL=$db_url "$build/tools/ops/outcall-migrate" >/dev/null
echo "postgresql: $(psql "$admin_url" -XAtc 'SHOW server_version'), fsync=$(psql "$admin_url" -XAtc 'SHOW fsync'), synchronous_commit=$(psql "$admin_url" -XAtc 'SHOW synchronous_commit'), shared_buffers=$(psql "$admin_url" -XAtc 'SHOW shared_buffers')"
echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"

export JWT_HS256_SECRET JWT_ISSUER=outcall-bench JWT_AUDIENCE=outcall
JWT_HS256_SECRET=$(rand_hex 32)
grpc_port=$(free_port)
metrics_port=$(free_port)
# No simulator: nothing is dialled (the dispatcher is off); the ElevenLabs settings are only
# required to start.
env DATABASE_URL="$db_url" ELEVENLABS_API_KEY="bench_$(rand_hex 16)" \
  ELEVENLABS_BASE_URL="http://127.0.0.1:9" ELEVENLABS_AGENT_ID=agent_bench \
  ELEVENLABS_AGENT_PHONE_NUMBER_ID=phnum_bench CAMPAIGN_DISPATCHER=false OUTBOX_SENDER=false \
  GRPC_LISTEN_ADDRESS="127.0.0.1:$grpc_port" METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics_port" \
  LOG_LEVEL=warn "$build/services/call-gateway/call-gateway" >"$work/call-gateway.log" 2>&1 &
gateway=$!
pids+=("$gateway")
postmaster=$(postmaster_pid)
wait_healthy call-gateway "$grpc_port"

# The files: patients; appointments (new); the same with every tenth row an hour later.
awk -v n="$patients" 'BEGIN {
  print "external_ref,full_name,phone"
  for (i = 0; i < n; i++) printf "CC-%08d,Paciente %d,300%07d\n", i, i, i }' >"$work/patients.csv"
appointments_csv() {  # $1: external ref prefix, $2: 1 = every tenth row an hour later
  awk -v n="$rows" -v p="$patients" -v pre="$1" -v moved="$2" 'BEGIN {
    print "external_ref,patient_external_ref,scheduled_at,doctor_name,specialty,location"
    for (i = 0; i < n; i++) {
      h = 7 + i % 11; if (moved && i % 10 == 0) h++
      printf "%s%08d,CC-%08d,2026-12-%02d %02d:%02d,Dr. Médico %d,Especialidad %d,Sede %d\n",
        pre, i, i % p, 1 + i % 28, h, (i * 7) % 60, i % 40, i % 12, i % 7 } }'
}
appointments_csv CITA- 0 >"$work/appointments.csv"
appointments_csv CITA- 1 >"$work/appointments-moved.csv"

outcall() { "$build/tools/ops/outcall" --gateway "127.0.0.1:$grpc_port" --json "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# sync KIND FILE: prints "seconds created updated unchanged refused" and the CPU ticks the pass
# took in call-gateway, PostgreSQL and the CLI.
sync() {
  local t0 t1 g0 p0 cli out
  g0=$(cpu_ticks "$gateway"); p0=$(pg_cpu_ticks "$postmaster")
  t0=$(now)
  # The CLI's CPU: the subshell's reaped child's (cutime + cstime).
  cli=$(
    outcall sync "$1" "$2" --batch "$batch" >"$work/sync.out" || exit 1
    read -r -a f <"/proc/$BASHPID/stat"
    echo $((f[15] + f[16]))) || { echo "outcall sync $1 failed: $(cat "$work/sync.out")" >&2; exit 1; }
  t1=$(now)
  out=$(cat "$work/sync.out")
  field() { echo "$out" | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"; }
  echo "$(elapsed "$t0" "$t1") $(field created) $(field updated) $(field unchanged) $(field refused)" \
    $(($(cpu_ticks "$gateway") - g0)) $(($(pg_cpu_ticks "$postmaster") - p0)) "$cli"
}

echo "rows: $rows appointments of $patients patients; CLI batches of $batch (two in flight)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r pt pc _ _ pr _ < <(sync patients "$work/patients.csv")
echo "patients: $pc created, $pr refused in ${pt} s"
[ "$pc" = "$patients" ] || { echo "expected $patients patients created" >&2; exit 1; }
psql "$db_url" -XAtq -c "ANALYZE patients"

# COPY's rows: the same appointments with other external refs (COPY-...), the patient resolved to
# its row id (COPY cannot look it up), the time with the zone the CLI reads it in (Bogotá).
psql "$db_url" -XAtq -c "\\copy (SELECT external_ref, id FROM patients) TO '$work/patient-ids.tsv'"
to_copy() {  # CSV on stdin -> COPY text format on stdout
  awk -F, 'NR == FNR { id[$1] = $2; next } FNR > 1 {
    sub(/^CITA-/, "COPY-", $1)
    printf "%s\t%s\t%s:00-05\t%s\t%s\t%s\n", $1, id[$2], $3, $4, $5, $6 }' \
    FS='\t' "$work/patient-ids.tsv" FS=, -
}
to_copy <"$work/appointments.csv" >"$work/appointments.copy"
to_copy <"$work/appointments-moved.csv" >"$work/appointments-moved.copy"
cols="external_ref, patient_id, scheduled_at, doctor_name, specialty, location"
copy_new() {
  psql "$db_url" -XAtq -v ON_ERROR_STOP=1 -c "\\copy appointments ($cols) FROM '$1'"
}
# COPY into a temporary table, then the upsert: what a hand-written SQL import does.
copy_upsert() {
  psql "$db_url" -XAtq -v ON_ERROR_STOP=1 \
    -c "CREATE TEMP TABLE incoming (external_ref text, patient_id int, scheduled_at timestamptz, doctor_name text, specialty text, location text)" \
    -c "\\copy incoming FROM '$1'" \
    -c "INSERT INTO appointments AS a ($cols) SELECT $cols FROM incoming ON CONFLICT (external_ref) DO UPDATE SET patient_id = EXCLUDED.patient_id, scheduled_at = EXCLUDED.scheduled_at, doctor_name = EXCLUDED.doctor_name, specialty = EXCLUDED.specialty, location = EXCLUDED.location WHERE (a.patient_id, a.scheduled_at, a.doctor_name, a.specialty, a.location) IS DISTINCT FROM (EXCLUDED.patient_id, EXCLUDED.scheduled_at, EXCLUDED.doctor_name, EXCLUDED.specialty, EXCLUDED.location)"
}
timed() { local t0 t1; t0=$(now); "$@"; t1=$(now); elapsed "$t0" "$t1"; }

read -r s1 c1 u1 n1 r1 g1 p1 l1 < <(sync appointments "$work/appointments.csv")
q1=$(timed copy_new "$work/appointments.copy")
psql "$db_url" -XAtq -c "ANALYZE appointments"
read -r s2 c2 u2 n2 r2 g2 p2 l2 < <(sync appointments "$work/appointments.csv")
q2=$(timed copy_upsert "$work/appointments.copy")
read -r s3 c3 u3 n3 r3 g3 p3 l3 < <(sync appointments "$work/appointments-moved.csv")
q3=$(timed copy_upsert "$work/appointments-moved.copy")
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

read -r kept copied twins < <(psql "$db_url" -XAt -F ' ' -c "SELECT count(*) FILTER (WHERE external_ref LIKE 'CITA-%'), count(*) FILTER (WHERE external_ref LIKE 'COPY-%'), count(*) FILTER (WHERE external_ref LIKE 'CITA-%' AND scheduled_at = (SELECT c.scheduled_at FROM appointments c WHERE c.external_ref = 'COPY-' || substr(appointments.external_ref, 6))) FROM appointments")
echo "stored: $kept appointments by the sync, $copied by SQL; $twins of the sync's at the same time as their SQL twin"
echo
awk -v n="$rows" -v hz="$(getconf CLK_TCK)" -v s1="$s1" -v s2="$s2" -v s3="$s3" -v q1="$q1" -v q2="$q2" -v q3="$q3" \
  -v cpu1="$g1 $p1 $l1" -v cpu2="$g2 $p2 $l2" -v cpu3="$g3 $p3 $l3" \
  -v o1="$c1 created, $u1 updated, $n1 unchanged, $r1 refused" \
  -v o2="$c2 created, $u2 updated, $n2 unchanged, $r2 refused" \
  -v o3="$c3 created, $u3 updated, $n3 unchanged, $r3 refused" '
  function row(name, s, q, sql, cpu, o,   c) {
    split(cpu, c, " ")
    printf "%-10s %7.2f %11.0f %16s %8.0f%%   %5.1f %5.1f %5.1f   %s\n", name, s, n / s, sprintf("%.0f (%s)", n / q, sql), 100 * q / s, c[1] / hz, c[2] / hz, c[3] / hz, o }
  BEGIN {
  printf "%-10s %7s %11s %16s %9s   %17s   %s\n", "pass", "sync s", "sync rows/s", "SQL rows/s", "sync/SQL", "CPU s: gw  pg  cli", "outcome of the sync"
  row("new", s1, q1, "COPY", cpu1, o1)
  row("re-send", s2, q2, "upsert", cpu2, o2)
  row("10% moved", s3, q3, "upsert", cpu3, o3)
  print "SQL: COPY into appointments (new); COPY into a temporary table + INSERT ... ON CONFLICT DO UPDATE WHERE changed (re-send, moved)."
  print "CPU s: CPU seconds of the sync pass in call-gateway, PostgreSQL (all its processes), the CLI." }'
if [ "$c1" != "$rows" ] || [ "$n2" != "$rows" ] || [ "$u3" != $(((rows + 9) / 10)) ]; then
  echo "unexpected outcomes (see above)" >&2
  exit 1
fi
