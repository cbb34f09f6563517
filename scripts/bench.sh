#!/usr/bin/env bash
# Runs every benchmark under bench/ and prints the machine it ran on.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
CMAKE_BUILD_TYPE=Release bash scripts/build.sh outcall_common_bench
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
./build/bench/outcall_common_bench "$@"
