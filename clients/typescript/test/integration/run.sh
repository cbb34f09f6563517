#!/usr/bin/env bash
# @outcall/client against the real services over the REST face: a private instance started by
# scripts/up.sh (tests/support/stack.sh: its own state dir, a free port offset, a fresh
# database, the any-hour contact-policy profile, the simulator sped up), then
# test/integration/client.test.ts with node:test, then everything stopped.
#   clients/typescript/test/integration/run.sh [--repo DIR] [--build-dir DIR]
# Logs: <build>/ts-client-artifacts/ (or $OUTCALL_TS_CLIENT_ARTIFACTS).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$(cd "$here/../.." && pwd)"
repo="$(cd "$pkg/../.." && pwd)"
# shellcheck disable=SC1091
. "$repo/tests/support/stack.sh"
stack_args "$@"
fail() { echo "ts_client: $*" >&2; exit 1; }

[ -x "$build/services/rest-edge/outcall-rest-edge" ] || fail "the REST edge is not built ($build/services/rest-edge/outcall-rest-edge)"
[ -x "$build/services/call-gateway/call-gateway" ] || fail "call-gateway is not built"
for dir in "$pkg" "$repo/tests/outbound"; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
(cd "$pkg" && node scripts/build.mjs --tests) >/dev/null

artifacts="${OUTCALL_TS_CLIENT_ARTIFACTS:-$build/ts-client-artifacts}"
rm -rf "$artifacts"
trap stack_stop EXIT
stack_start tsclient "$artifacts"
export OUTCALL_RECEIVER="$repo/tests/outbound/receiver.mjs"

cd "$pkg"
node --test --test-concurrency=1 --test-reporter=spec .test-build/test/integration/
