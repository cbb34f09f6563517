#!/usr/bin/env bash
# The REST edge over real HTTP against the real services (a private instance started by
# scripts/up.sh, tests/support/stack.sh): tests/edge/edge_http_test.py.
#   tests/edge/run.sh [--repo DIR] [--build-dir DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck disable=SC1091
. "$repo/tests/support/stack.sh"
stack_args "$@"
trap stack_stop EXIT
stack_start edge "$build/edge-artifacts"
export OUTCALL_DESCRIPTOR_SET="$build/proto/outcall.pb" OUTCALL_EDGE_BINARY="$build/services/rest-edge/outcall-rest-edge"
/usr/bin/python3 "$here/edge_http_test.py" -v
