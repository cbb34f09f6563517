#!/usr/bin/env bash
# README's second command: installs what is missing, builds, starts a private PostgreSQL
# (unless DATABASE_URL is set) and runs every test with ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# --sanitize: the whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer, in
# build-asan/ (any report fails the test that made it). The fuzz targets are sanitized anyway.
build_dir=build
if [ "${1:-}" = "--sanitize" ]; then
  shift
  build_dir=build-asan
  export OUTCALL_BUILD_DIR="$root/$build_dir" OUTCALL_CMAKE_ARGS="-DOUTCALL_SANITIZE=ON"
  # Leaks too; the few inside Debian's libraries are suppressed by name (tests/sanitizer).
  export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/sanitizer/lsan.supp:print_suppressions=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  # Not fuzz (sanitized already) nor deploy (it checks the release binaries' shared libraries
  # against the runtime image; sanitized ones link libasan and libubsan).
  set -- -LE "fuzz|deploy" "$@"
fi

bash scripts/install-deps.sh
bash scripts/build.sh

cluster=test
started_here=0
if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/pg.sh start "$cluster" >/dev/null
  started_here=1
  eval "$(bash scripts/pg.sh env "$cluster")"
fi
cleanup() {
  # The test cluster is disposable (every test creates its own database): remove it, so nothing
  # is left behind in /var/tmp when the clone itself goes away.
  if [ "$started_here" = 1 ]; then bash "$root/scripts/pg.sh" destroy "$cluster" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

cd "$build_dir"
ctest --output-on-failure -j "${OUTCALL_TEST_JOBS:-2}" "$@"
