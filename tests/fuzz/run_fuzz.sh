#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 in their own build directory and runs each briefly
# over its committed seed corpus (copied, so runs never change the repository).
#   tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS_PER_TARGET]
# Exit status non-zero on a build failure or on any crash, leak, timeout or sanitizer report.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS]}
secs=${2:-20}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
  "${launcher[@]}" >/dev/null
ninja -C "$build" -j"${FUZZ_BUILD_JOBS:-1}" signature_header_fuzz event_mapping_fuzz
status=0
for target in signature_header_fuzz:signature event_mapping_fuzz:event; do
  bin=${target%%:*}
  corpus=$build/corpus-${target##*:}
  rm -rf "$corpus" "$build/artifacts-$bin"
  mkdir -p "$corpus" "$build/artifacts-$bin"
  cp "$here/corpus/${target##*:}/"* "$corpus/"
  echo "== $bin: ${secs}s over $(ls "$corpus" | wc -l) seeds"
  if ! "$build/$bin" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts-$bin/" "$corpus" 2>"$build/$bin.log"; then
    status=1
    tail -40 "$build/$bin.log"
    echo "== $bin FAILED (reproducer in $build/artifacts-$bin/)"
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$bin.log" || true
  fi
done
exit $status
