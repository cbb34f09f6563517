# A private instance of the whole system for a test, started by scripts/up.sh: its own state
# directory, a free port offset, a fresh database on the test PostgreSQL cluster (scripts/test.sh
# exported its libpq environment; a cluster of its own when no DATABASE_URL is set), the any-hour
# contact-policy profile in force (tests/support/profiles) and the simulator's clock sped up.
#
#   . tests/support/stack.sh
#   stack_start NAME ARTIFACTS_DIR    # exports STACK_URL, STACK_SIM, STACK_STATE, STACK_OFFSET,
#                                     # DATABASE_URL (the instance's database) and the JWT settings
#   ...                               # of STACK_STATE/env
#   stack_stop                        # in the caller's EXIT trap: services, database, state
#   stack_up                          # scripts/up.sh again for this instance, as stack_start ran
#                                     # it: starts whatever of its services is not running (one a
#                                     # test killed) with the same environment as the first time
# Needs: repo (the checkout) and build (its build directory) set by the caller, e.g. from the
# test's arguments with stack_args "$@" ([--repo DIR] [--build-dir DIR]).
#
# Services' settings: scripts/up.sh passes its environment on to the services, so a variable the
# caller exports before stack_start (e.g. OUTBOX_LEASE_SECS=3 for call-gateway's sender) reaches
# every service of the instance, and stack_up starts them again with the same. up.sh's own
# defaults (LOG_FORMAT, CALL_GATEWAY_ADDRESS, ELEVENLABS_* in simulation...) yield to such a
# variable; the instance's secrets (STACK_STATE/env) and each service's GRPC_LISTEN_ADDRESS and
# METRICS_LISTEN_ADDRESS do not.

stack_args() {
  build=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --repo) repo="$2"; shift 2 ;;
      --build-dir) build="$2"; shift 2 ;;
      *) echo "usage: $0 [--repo DIR] [--build-dir DIR]" >&2; exit 2 ;;
    esac
  done
  build="${build:-$repo/build}"
}

stack_ports_free() {
  local p
  for p in 8080 8090 8443 50051 50052 50053 9101 9102 9103 9104; do
    if ss -Htln "sport = :$(($1 + p))" 2>/dev/null | grep -q .; then return 1; fi
  done
}

stack_start() {
  local name=$1 artifacts=$2 base cand i lock
  STACK_NAME=$name STACK_ARTIFACTS=$artifacts STACK_DB="" STACK_STARTED_PG=0 STACK_OFFSET=""
  mkdir -p "$artifacts"
  # Instances started at the same time (ctest -j) pick and bind their ports one after another.
  exec {lock}>/tmp/outcall-stack-ports.lock
  flock "$lock"
  # Every port free (edge 8080, simulator 8090, webhook 8443, gRPC 50051-50053, metrics
  # 9101-9104, each + offset). Offsets are multiples of 100: no two of these ports differ by
  # one, so two instances never share a port. No port in the kernel's ephemeral range either
  # (ip_local_port_range): a client connection elsewhere may take one of those at any moment
  # (seen in CI: stats could not bind 60852). From the pid, then the next ones.
  local offsets=() lo=32768 hi=60999 p ok
  read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  for cand in $(seq 10000 100 15400); do
    ok=1
    for p in 8080 8090 8443 50051 50052 50053 9101 9102 9103 9104; do
      if [ $((p + cand)) -ge "$lo" ] && [ $((p + cand)) -le "$hi" ]; then ok=0; break; fi
      [ $((p + cand)) -le 65535 ] || { ok=0; break; }
    done
    [ "$ok" = 1 ] && offsets+=("$cand")
  done
  base=$(($$ % ${#offsets[@]}))
  for i in $(seq 0 $((${#offsets[@]} - 1))); do
    cand=${offsets[$(((base + i) % ${#offsets[@]}))]}
    if stack_ports_free "$cand"; then STACK_OFFSET=$cand; break; fi
  done
  [ -n "$STACK_OFFSET" ] || { flock -u "$lock"; echo "$name: no free port offset outside the ephemeral range $lo-$hi" >&2; return 1; }
  STACK_STATE="$(mktemp -d "/tmp/outcall-$name.XXXXXX")"
  if [ -z "${DATABASE_URL:-}" ]; then
    bash "$repo/scripts/pg.sh" start "$name" >/dev/null
    eval "$(bash "$repo/scripts/pg.sh" env "$name")"
    STACK_STARTED_PG=1
  fi
  STACK_ADMIN_URL="$DATABASE_URL"
  STACK_DB="outcall_${name}_$$_$(date +%s)"
  psql "$STACK_ADMIN_URL" -X -q -c "CREATE DATABASE $STACK_DB TEMPLATE template0 ENCODING 'UTF8'" || return 1
  export DATABASE_URL="${STACK_ADMIN_URL%/*}/$STACK_DB"
  echo "$name: starting the stack (offset $STACK_OFFSET, state $STACK_STATE, database $STACK_DB)"
  if ! (cd "$repo" && OUTCALL_STATE_DIR="$STACK_STATE" OUTCALL_PORT_OFFSET="$STACK_OFFSET" OUTCALL_SKIP_BUILD=1 \
      bash scripts/up.sh >"$artifacts/up.log" 2>&1); then
    flock -u "$lock"
    cat "$artifacts/up.log"
    echo "$name: scripts/up.sh failed" >&2
    return 1
  fi
  flock -u "$lock"  # its ports are bound now
  exec {lock}>&-
  STACK_URL="http://127.0.0.1:$((8080 + STACK_OFFSET))"
  STACK_SIM="http://127.0.0.1:$((8090 + STACK_OFFSET))"
  # Calls at any hour and day: the test profile (hours and holidays relaxed, with their reasons).
  psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -v doc="$(cat "$repo/tests/support/profiles/test_any_hour.json")" <<'SQL' || return 1
INSERT INTO contact_policy_profiles (profile_id, version, document, created_by)
  VALUES ('test_any_hour', 1, :'doc', 'outcall tests') ON CONFLICT DO NOTHING;
INSERT INTO contact_policy_settings (profile_id, version, updated_by)
  VALUES ('test_any_hour', 1, 'outcall tests')
  ON CONFLICT (singleton) DO UPDATE SET profile_id = EXCLUDED.profile_id, version = EXCLUDED.version;
SQL
  curl -fsS -XPOST "$STACK_SIM/__sim/clock" -d '{"scale": 20}' >/dev/null || return 1
  curl -fsS -o /dev/null "$STACK_URL/healthz" || { echo "$name: the edge does not answer $STACK_URL/healthz" >&2; return 1; }
  set -a
  # shellcheck disable=SC1091
  . "$STACK_STATE/env"
  set +a
  export STACK_URL STACK_SIM STACK_STATE STACK_OFFSET
}

stack_up() {
  [ -n "${STACK_STATE:-}" ] || { echo "stack_up: no stack started" >&2; return 1; }
  # The environment stack_start ran it with: without what stack_start exported afterwards (the
  # STACK_* variables; STACK_STATE/env's are up.sh's own).
  if ! (cd "$repo" && env -u STACK_URL -u STACK_SIM -u STACK_STATE -u STACK_OFFSET \
      OUTCALL_STATE_DIR="$STACK_STATE" OUTCALL_PORT_OFFSET="$STACK_OFFSET" OUTCALL_SKIP_BUILD=1 \
      bash scripts/up.sh >>"$STACK_ARTIFACTS/up.log" 2>&1); then
    tail -20 "$STACK_ARTIFACTS/up.log"
    echo "$STACK_NAME: scripts/up.sh (again) failed" >&2
    return 1
  fi
}

stack_stop() {
  [ -n "${STACK_STATE:-}" ] || return 0
  (cd "$repo" && OUTCALL_STATE_DIR="$STACK_STATE" OUTCALL_PORT_OFFSET="$STACK_OFFSET" bash scripts/down.sh \
    >"$STACK_ARTIFACTS/down.log" 2>&1) || true
  cp -r "$STACK_STATE/logs" "$STACK_ARTIFACTS/logs" 2>/dev/null || true
  if [ -n "$STACK_DB" ]; then
    psql "$STACK_ADMIN_URL" -X -q -c "DROP DATABASE IF EXISTS $STACK_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$STACK_STARTED_PG" = 1 ]; then bash "$repo/scripts/pg.sh" destroy "$STACK_NAME" >/dev/null 2>&1 || true; fi
  rm -rf "$STACK_STATE"
  STACK_STATE=""
}
