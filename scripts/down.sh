#!/usr/bin/env bash
# Stops what scripts/up.sh started: the services, then the private PostgreSQL.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
for pidfile in .local/run/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "stopped $(basename "$pidfile" .pid)"
  fi
  rm -f "$pidfile"
done
bash scripts/pg.sh stop dev >/dev/null 2>&1 || true
echo "stopped PostgreSQL (dev)"
