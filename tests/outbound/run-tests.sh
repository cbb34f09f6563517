#!/usr/bin/env bash
# The test receiver's own tests (receiver.test.mjs), after npm ci when node_modules is missing or
# older than the lock file (scripts/install-deps.sh does the same).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ ! -d node_modules/standardwebhooks ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node --test --test-reporter=spec receiver.test.mjs
