#!/usr/bin/env bash
# The console's end-to-end tests in headless Chromium against the real stack:
#   tests/browser/run.sh [--repo DIR] [--build-dir DIR]
# Starts a private instance with scripts/up.sh (its own state dir, a free port offset, a fresh
# database on the test PostgreSQL cluster, or on a cluster of its own when no DATABASE_URL is set),
# puts the any-hour contact-policy profile in force (tests/support/profiles), speeds the simulator
# up, mints a token, runs console.test.mjs (node:test + playwright-core + /usr/bin/chromium) and
# stops everything. Screenshots and logs: <build>/browser-artifacts/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) repo="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    *) echo "usage: $0 [--repo DIR] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
build="${build:-$repo/build}"
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
mkdir -p "$artifacts"

# A port offset whose every port is free (edge 8080, simulator 8090, webhook 8443, gRPC
# 50051-50053, metrics 9101-9103, each + offset): from the pid, then the next ones.
ports_free() {
  local p
  for p in 8080 8090 8443 50051 50052 50053 9101 9102 9103 9104; do
    if ss -Htln "sport = :$(($1 + p))" 2>/dev/null | grep -q .; then return 1; fi
  done
}
offset=""
base=$((10000 + ($$ % 350) * 10))
for i in $(seq 0 349); do
  cand=$((10000 + ((base - 10000 + i * 10) % 3500)))
  if ports_free "$cand"; then offset=$cand; break; fi
done
[ -n "$offset" ] || fail "no free port offset between 10000 and 13500"

state="$(mktemp -d /tmp/outcall-browser.XXXXXX)"
started_pg=0
db=""
admin_url=""
cleanup() {
  local rc=$?
  OUTCALL_STATE_DIR="$state" OUTCALL_PORT_OFFSET="$offset" bash "$repo/scripts/down.sh" >"$artifacts/down.log" 2>&1 || true
  cp -r "$state/logs" "$artifacts/logs" 2>/dev/null || true
  if [ -n "$db" ]; then
    psql "$admin_url" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ $started_pg = 1 ]; then bash "$repo/scripts/pg.sh" destroy browser >/dev/null 2>&1 || true; fi
  rm -rf "$state"
  exit $rc
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/pg.sh start browser >/dev/null
  eval "$(bash scripts/pg.sh env browser)"
  started_pg=1
fi
admin_url="$DATABASE_URL"
db="outcall_browser_$$_$(date +%s)"
psql "$admin_url" -X -q -c "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8'"
export DATABASE_URL="${admin_url%/*}/$db"

echo "browser: starting the stack (offset $offset, state $state, database $db)"
if ! OUTCALL_STATE_DIR="$state" OUTCALL_PORT_OFFSET="$offset" OUTCALL_SKIP_BUILD=1 \
    bash scripts/up.sh >"$artifacts/up.log" 2>&1; then
  cat "$artifacts/up.log"
  fail "scripts/up.sh failed"
fi
url="http://127.0.0.1:$((8080 + offset))/"
grep -q "$url" "$artifacts/up.log" || echo "browser: note: up.sh did not print $url"
sim="http://127.0.0.1:$((8090 + offset))"

# Calls at any hour and day: the test profile (hours and holidays relaxed, with their reasons).
psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -v doc="$(cat tests/support/profiles/test_any_hour.json)" <<'SQL'
INSERT INTO contact_policy_profiles (profile_id, version, document, created_by)
  VALUES ('test_any_hour', 1, :'doc', 'outcall browser tests') ON CONFLICT DO NOTHING;
INSERT INTO contact_policy_settings (profile_id, version, updated_by)
  VALUES ('test_any_hour', 1, 'outcall browser tests')
  ON CONFLICT (singleton) DO UPDATE SET profile_id = EXCLUDED.profile_id, version = EXCLUDED.version;
SQL

curl -fsS -XPOST "$sim/__sim/clock" -d '{"scale": 20}' >/dev/null

# The edge answers once the console is served.
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "$url"; then break; fi
  sleep 0.1
done
curl -fsS -o /dev/null "$url" || fail "the edge does not serve $url"

set -a
# shellcheck disable=SC1091
. "$state/env"
set +a
OUTCALL_TOKEN="$("$build/tools/ops/outcall-token" browser-test calls:read calls:write campaigns:write)"
export OUTCALL_TOKEN OUTCALL_CONSOLE_URL="$url" OUTCALL_SIM_URL="$sim" OUTCALL_ARTIFACTS="$artifacts" \
  CHROMIUM_PATH="$chromium"

cd "$here"
node --test --test-concurrency=1 --test-reporter=spec console.test.mjs
