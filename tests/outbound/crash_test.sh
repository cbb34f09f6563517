#!/usr/bin/env bash
# Outbound webhooks across a crash of the sender (the `outbound_crash` ctest): the real
# call-gateway in a private instance (tests/support/stack.sh), SIGKILLed while deliveries are in
# flight at tests/outbound/receiver.mjs and more events are committed but not yet sent, started
# again as the stack started it; then every event must reach the receiver, once per webhook-id
# after deduplication, verified, in order per subject (tests/outbound/crash_test.py says what is
# checked).
#   tests/outbound/crash_test.sh [--repo DIR] [--build-dir DIR]
# Logs, the receiver's records and the figures: <build>/outbound-crash-artifacts/
# (or $OUTCALL_OUTBOUND_CRASH_ARTIFACTS).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck disable=SC1091
. "$repo/tests/support/stack.sh"
stack_args "$@"
fail() { echo "outbound_crash: $*" >&2; exit 1; }

# The binaries are used as they are; one being relinked is waited for (present, executable and
# unchanged for 3 s), for up to 5 minutes.
wait_binary() {
  local f=$1 i
  for i in $(seq 1 300); do
    if [ -x "$f" ] && [ $(($(date +%s) - $(stat -c %Y "$f"))) -ge 3 ]; then return 0; fi
    [ "$i" = 1 ] && echo "outbound_crash: waiting for $f (being built?)"
    sleep 1
  done
  fail "$f is not there (build it first)"
}
for b in services/call-gateway/call-gateway services/stats/stats services/webhook-ingest/webhook-ingest \
    services/rest-edge/outcall-rest-edge tools/elevenlabs-sim/elevenlabs-sim tools/ops/outcall-migrate \
    tools/ops/outcall-health; do
  wait_binary "$build/$b"
done
if [ ! -d "$here/node_modules/standardwebhooks" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

artifacts="${OUTCALL_OUTBOUND_CRASH_ARTIFACTS:-$build/outbound-crash-artifacts}"
rm -rf "$artifacts"
mkdir -p "$artifacts"
receiver_pid=""
cleanup() {
  local rc=$?
  if [ -n "$receiver_pid" ] && kill -0 "$receiver_pid" 2>/dev/null; then
    kill -TERM "$receiver_pid" 2>/dev/null || true
    wait "$receiver_pid" 2>/dev/null || true
  fi
  stack_stop
  [ $rc = 0 ] || echo "outbound_crash: FAILED; logs in $artifacts" >&2
  exit $rc
}
trap cleanup EXIT

# call-gateway's sender, for the test (up.sh passes these on; stack_up starts it with the same):
# a dead sender's leases end after 3 s, a request waits at most 2 s, passes every 100 ms, the
# first retry after 200 ms, 4 requests at a time (a pass of 20 takes rounds: crash_test.py).
export OUTBOX_LEASE_SECS=3 OUTBOX_TIMEOUT_MS=2000 OUTBOX_POLL_MS=100 OUTBOX_RETRY_BASE_MS=200 \
  OUTBOX_WORKERS=4
stack_start outcrash "$artifacts"

# The receiver on a free port, no secret yet (the driver hands it the subscription's).
RECEIVER_SECRETS="" node "$here/receiver.mjs" 0 >"$artifacts/receiver.log" 2>&1 &
receiver_pid=$!
RECEIVER_URL=""
for _ in $(seq 1 100); do
  RECEIVER_URL=$(sed -n 's/^receiver: listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$artifacts/receiver.log")
  [ -n "$RECEIVER_URL" ] && break
  kill -0 "$receiver_pid" 2>/dev/null || { cat "$artifacts/receiver.log"; fail "the receiver exited"; }
  sleep 0.1
done
[ -n "$RECEIVER_URL" ] || { cat "$artifacts/receiver.log"; fail "the receiver does not listen"; }
# (Given to the driver only: the services' environment stays what stack_start gave them.)
driver() { RECEIVER_URL="$RECEIVER_URL" OUTCRASH_ARTIFACTS="$artifacts" /usr/bin/python3 "$here/crash_test.py" "$@"; }

# 1. Events, the receiver slow, call-gateway SIGKILLed with requests in flight and events queued.
driver crash
# 2. call-gateway again, as the stack started it (scripts/up.sh, the same environment).
wait_binary "$build/services/call-gateway/call-gateway"
stack_up
# 3. Everything delivered; what the receiver saw, checked against the outbox.
driver verify
