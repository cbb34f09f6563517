#!/usr/bin/env bash
# clang-tidy (clang-14) with the checks in .clang-tidy over the project's own sources (libs,
# services, tools), using the compile commands of build/ (scripts/build.sh makes them). Any
# finding fails. Usage: scripts/tidy.sh [FILE...]   (default: every .cpp under libs services tools)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -f build/compile_commands.json ] || bash scripts/build.sh
if [ $# -eq 0 ]; then
  mapfile -t files < <(git ls-files 'libs/*.cpp' 'services/*.cpp' 'tools/*.cpp')
else
  files=("$@")
fi
exec run-clang-tidy-14 -quiet -p build -j "${OUTCALL_JOBS:-2}" "${files[@]}"
