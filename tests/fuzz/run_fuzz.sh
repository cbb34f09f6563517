#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 in their own build directory and runs them.
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR
#       What CI runs (the `fuzz` ctest): every committed corpus input once, as a regression
#       input, then a bounded exploration with a fixed seed and a fixed number of executions
#       (FUZZ_RUNS, default 200000 per target). No clock decides anything, so one commit always
#       gives the same result.
#   tests/fuzz/run_fuzz.sh BUILD_DIR --campaign [RUNS] [SEED]
#       A long campaign (default 10,000,000 executions per target, seed from the clock), the two
#       targets side by side. Afterwards the inputs that add coverage are merged into
#       tests/fuzz/corpus/<target>/ and each crash, minimised, is added there as regression_*:
#       commit them (and fix what crashed). Prints executions and coverage per target.
#
# Exit status non-zero on a build failure or on any crash, leak, timeout or sanitizer report.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build=${1:?usage: run_fuzz.sh BUILD_DIR [--campaign [RUNS] [SEED]]}
mode=check
if [ "${2:-}" = "--campaign" ]; then
  mode=campaign
  runs=${3:-10000000}
  seed=${4:-$(date +%s)}
else
  runs=${FUZZ_RUNS:-200000}
  seed=1
fi

launcher=()
if command -v ccache >/dev/null; then
  # The ignore list changes what is compiled without changing the command line: hash it too.
  launcher=("-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_BASEDIR=$repo;CCACHE_NOHASHDIR=1;CCACHE_EXTRAFILES=$here/coverage_ignore.txt;ccache")
fi
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
  "${launcher[@]}" >/dev/null
ninja -C "$build" -j"${FUZZ_BUILD_JOBS:-1}" signature_header_fuzz event_mapping_fuzz

# Flags shared by every run. The per-input timeout is generous: a slow machine must not turn
# into a red CI.
common=(-max_len=8192 -reload=0 -timeout=120 -rss_limit_mb=2048 -print_final_stats=1)
targets=(signature_header_fuzz:signature event_mapping_fuzz:event)

report() {  # executions and coverage of one finished run
  local log=$1
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
  grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)" "$log" | tail -1 || true
}

status=0
if [ "$mode" = check ]; then
  for target in "${targets[@]}"; do
    bin=${target%%:*}
    seeds="$here/corpus/${target##*:}"
    work=$build/corpus-${target##*:}
    artifacts=$build/artifacts-$bin
    rm -rf "$work" "$artifacts"
    mkdir -p "$work" "$artifacts"
    cp "$seeds"/* "$work/"
    echo "== $bin: $(ls "$seeds" | wc -l) regression inputs, then $runs executions (seed $seed)"
    # Each committed input exactly once (files, not a directory: libFuzzer runs them as given).
    if ! "$build/$bin" "${common[@]}" -artifact_prefix="$artifacts/" "$seeds"/* \
        >"$build/$bin.regression.log" 2>&1; then
      status=1
      tail -40 "$build/$bin.regression.log"
      echo "== $bin FAILED on a committed input"
      continue
    fi
    # No address randomisation: hash tables seeded from addresses (Abseil's) would otherwise
    # take other branches, and the fuzzer other paths, from run to run.
    # No comparison tracing either: it records operands, addresses among them, as words for
    # the mutator. (The campaign keeps it: it is worth more there than repeatability.)
    if ! setarch "$(uname -m)" -R "$build/$bin" "${common[@]}" -seed="$seed" -runs="$runs" \
        -use_cmp=0 -use_memmem=0 \
        -artifact_prefix="$artifacts/" "$work" 2>"$build/$bin.log"; then
      status=1
      tail -40 "$build/$bin.log"
      echo "== $bin FAILED (reproducer in $artifacts/; add it to $seeds/ once fixed)"
    else
      report "$build/$bin.log"
    fi
  done
  exit $status
fi

# Campaign: both targets at once (two cores), each over its own working corpus.
pids=()
for target in "${targets[@]}"; do
  bin=${target%%:*}
  work=$build/campaign-${target##*:}
  artifacts=$build/campaign-artifacts-$bin
  mkdir -p "$work" "$artifacts"
  cp -n "$here/corpus/${target##*:}"/* "$work/" 2>/dev/null || true
  echo "== $bin: $runs executions, seed $seed (log: $build/$bin.campaign.log)"
  "$build/$bin" "${common[@]}" -seed="$seed" -runs="$runs" \
    -artifact_prefix="$artifacts/" "$work" 2>"$build/$bin.campaign.log" &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
done
for target in "${targets[@]}"; do
  bin=${target%%:*}
  seeds="$here/corpus/${target##*:}"
  work=$build/campaign-${target##*:}
  artifacts=$build/campaign-artifacts-$bin
  echo "== $bin"
  report "$build/$bin.campaign.log"
  # Inputs that add coverage to the committed corpus (set cover: nothing redundant is added).
  before=$(ls "$seeds" | wc -l)
  "$build/$bin" -merge=1 "${common[@]}" "$seeds" "$work" >"$build/$bin.merge.log" 2>&1 || status=1
  echo "   corpus: $before -> $(ls "$seeds" | wc -l) inputs"
  for crash in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-*; do
    [ -e "$crash" ] || continue
    min=$crash.min
    "$build/$bin" -minimize_crash=1 -runs=100000 -exact_artifact_path="$min" "$crash" \
      >/dev/null 2>&1 || true
    [ -s "$min" ] || min=$crash
    name=regression_$(sha1sum "$min" | cut -c1-12)
    cp "$min" "$seeds/$name"
    echo "   FOUND: $(basename "$crash") -> corpus/${target##*:}/$name"
    status=1
  done
done
exit $status
