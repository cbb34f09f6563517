#!/usr/bin/env bash
# Configures (Ninja, ccache) and builds everything into build/. Used by up.sh, test.sh, bench.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${OUTCALL_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
fi
# Two cores: two jobs. Heavy gRPC translation units need about 1 GB each.
ninja -C "$build" -j "${OUTCALL_JOBS:-$(nproc)}" "$@"
