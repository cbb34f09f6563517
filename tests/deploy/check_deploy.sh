#!/usr/bin/env bash
# Static checks of the deployment description (deploy/, docker-compose.yml): see check_deploy.py.
# ctest runs it as the test "deploy" with the paths CMake knows; by hand, after a build:
#   tests/deploy/check_deploy.sh [BUILD_DIR]        (default: build/)
# Uses Debian's /usr/bin/python3 (python3-yaml), whatever python3 comes first in PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  echo "check_deploy: /usr/bin/python3 with python3-yaml is required (scripts/install-deps.sh)" >&2
  exit 1
fi
if [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; then
  exec /usr/bin/python3 "$here/check_deploy.py" "$@"
fi
build="$(cd "${1:-$repo/build}" && pwd)"
exec /usr/bin/python3 "$here/check_deploy.py" \
  --repo "$repo" --build-dir "$build" --work-dir "$build/tests/deploy" \
  --descriptor-set "$build/proto/outcall.pb" --protoc "$(command -v protoc)" \
  --proto-include /usr/include \
  --proto-include /usr/share/gocode/src/github.com/gogo/googleapis \
  --binary "$build/services/call-gateway/call-gateway" \
  --binary "$build/services/stats/stats" \
  --binary "$build/services/webhook-ingest/webhook-ingest" \
  --binary "$build/tools/ops/outcall-migrate" \
  --binary "$build/tools/ops/outcall-health" \
  --edge-binary "$build/services/rest-edge/outcall-rest-edge"
