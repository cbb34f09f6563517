#!/usr/bin/env bash
# README's second command: installs what is missing, builds, starts a private PostgreSQL
# (unless DATABASE_URL is set) and runs every test with ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

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

cd build
ctest --output-on-failure -j "${OUTCALL_TEST_JOBS:-2}" "$@"
