#!/usr/bin/env bash
# The console's end-to-end tests in headless Chromium against the real stack:
#   tests/browser/run.sh [--repo DIR] [--build-dir DIR]
# Starts a private instance (tests/support/stack.sh: scripts/up.sh with its own state dir, a free
# port offset, a fresh database, the any-hour contact-policy profile, the simulator sped up),
# mints a token, runs console.test.mjs (node:test + playwright-core + /usr/bin/chromium) and
# stops everything. Screenshots and logs: <build>/browser-artifacts/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck disable=SC1091
. "$repo/tests/support/stack.sh"
stack_args "$@"
cd "$repo"
fail() { echo "browser: $*" >&2; exit 1; }

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$chromium" ] || fail "$chromium is missing: run scripts/install-deps.sh (Debian package chromium)"
[ -f "$build/console/index.html" ] || fail "$build/console is not built (target outcall_console)"
[ -x "$build/services/rest-edge/outcall-rest-edge" ] || fail "the REST edge is not built ($build/services/rest-edge/outcall-rest-edge)"
[ -x "$build/tools/ops/outcall-token" ] || fail "$build/tools/ops/outcall-token is not built"
if [ ! -d "$here/node_modules/playwright-core" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

artifacts="$build/browser-artifacts"
rm -rf "$artifacts"
trap stack_stop EXIT
stack_start browser "$artifacts"
url="$STACK_URL/"
sim="$STACK_SIM"
grep -q "$url" "$artifacts/up.log" || echo "browser: note: up.sh did not print $url"
# The edge answers once the console is served.
curl -fsS -o /dev/null "$url" || fail "the edge does not serve the console at $url"

OUTCALL_TOKEN="$("$build/tools/ops/outcall-token" browser-test calls:read calls:write campaigns:write)"
export OUTCALL_TOKEN OUTCALL_CONSOLE_URL="$url" OUTCALL_SIM_URL="$sim" OUTCALL_ARTIFACTS="$artifacts" \
  CHROMIUM_PATH="$chromium"

cd "$here"
node --test --test-concurrency=1 --test-reporter=spec console.test.mjs
