# shellcheck shell=bash disable=SC2154
# Shared by the campaign benchmarks (campaign_import_bench.sh, campaign_dispatch_bench.sh):
# sourced after `build`, `work` and `cluster` are set. Checks the binaries, stops what the
# benchmark started (processes in `pids`, the private cluster) on exit, and gives random secrets,
# free loopback ports and a health wait.
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
