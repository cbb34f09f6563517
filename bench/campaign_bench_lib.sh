# shellcheck shell=bash disable=SC2154
# Shared by the campaign benchmarks (campaign_import_bench.sh, campaign_dispatch_bench.sh) and
# those of the sync API and the outbox (sync_bench.sh, outbox_bench.sh): sourced after `build`,
# `work` and `cluster` are set. Checks the binaries, stops what the benchmark started (processes
# in `pids`, the private cluster) on exit, and gives random secrets, free loopback ports, a health
# wait and CPU counters.
#   bench_require BIN...   each BUILD_DIR-relative binary is built, else exit 2
bench_require() {
  local bin
  for bin in "$@"; do
    [ -x "$build/$bin" ] || { echo "$(basename "$0"): $build/$bin is not built" >&2; exit 2; }
  done
}
pids=()
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash scripts/pg.sh stop "$cluster" >/dev/null 2>&1 || true
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
free_port() {
  local p
  for p in $(shuf -i 20000-32000 -n 200); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
# wait_healthy NAME PORT: the service's gRPC health answers within 10 s, else its log and exit 1.
wait_healthy() {
  for _ in $(seq 100); do
    "$build/tools/ops/outcall-health" "127.0.0.1:$2" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not become healthy:"; tail -5 "$work/$1.log"; exit 1
}
# cpu_ticks PID: its CPU time (user + system, with its reaped children's) in clock ticks
# (getconf CLK_TCK a second); 0 when it is gone. Read with the shell's own `read` (no program is
# run for a sample).
cpu_ticks() {
  local f
  read -r -a f 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
  echo $((f[13] + f[14] + f[15] + f[16]))
}
# postmaster_pid: the pid of the cluster's postmaster (DATABASE_URL: scripts/pg.sh env).
postmaster_pid() { head -1 "$(psql "$DATABASE_URL" -XAtc 'SHOW data_directory')/postmaster.pid"; }
# pg_cpu_ticks POSTMASTER_PID: the CPU ticks of the whole PostgreSQL: the postmaster (with its
# reaped children: ended connections, autovacuum workers) and every process it runs now.
pg_cpu_ticks() {
  local total p
  total=$(cpu_ticks "$1")
  for p in $(ps -o pid= --ppid "$1"); do total=$((total + $(cpu_ticks "$p"))); done
  echo "$total"
}
