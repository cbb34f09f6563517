#!/usr/bin/env bash
# Stops what scripts/up.sh started: the services, then the private PostgreSQL (the latter only for
# the default instance: an instance with its own OUTCALL_STATE_DIR brought its own DATABASE_URL).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
state="${OUTCALL_STATE_DIR:-$root/.local}"
for pidfile in "$state"/run/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "stopped $(basename "$pidfile" .pid)"
  fi
  rm -f "$pidfile"
done
if [ -z "${OUTCALL_STATE_DIR:-}" ]; then
  bash scripts/pg.sh stop dev >/dev/null 2>&1 || true
  echo "stopped PostgreSQL (dev)"
fi
