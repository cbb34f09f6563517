#!/usr/bin/env bash
# Configures (Ninja, ccache) and builds everything into build/. Used by up.sh, test.sh, bench.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${OUTCALL_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  # OUTCALL_CMAKE_ARGS: extra options, e.g. -DOUTCALL_SANITIZE=ON (scripts/test.sh --sanitize).
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
    ${OUTCALL_CMAKE_ARGS:-} >/dev/null
fi
# Two cores: two jobs. Heavy gRPC translation units need about 1 GB each.
ninja -C "$build" -j "${OUTCALL_JOBS:-$(nproc)}" "$@"
