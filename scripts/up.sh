#!/usr/bin/env bash
# README's first command: installs what is missing, builds, starts a private PostgreSQL (unless
# DATABASE_URL is set), applies the migrations, starts the services in the background and checks
# their health. Local secrets are generated once into .local/env (git-ignored).
# Stop everything with scripts/down.sh. Logs: .local/logs/<service>.log
#
# For a second, private instance (the browser tests use this): OUTCALL_STATE_DIR (instead of
# .local: secrets, logs, pids, TLS, spool), OUTCALL_PORT_OFFSET (added to every port below),
# OUTCALL_SKIP_BUILD=1 (the build is known to be current), and DATABASE_URL of its own database.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ "${OUTCALL_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  bash scripts/build.sh
fi

state="${OUTCALL_STATE_DIR:-$root/.local}"
off="${OUTCALL_PORT_OFFSET:-0}"
port() { echo $(($1 + off)); }
mkdir -p "$state/logs" "$state/run"

# Local, generated secrets (never committed). Values already in the environment win.
if [ ! -f "$state/env" ]; then
  umask 077
  {
    echo "JWT_ISSUER=outcall-local"
    echo "JWT_AUDIENCE=outcall"
    echo "JWT_HS256_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "ELEVENLABS_WEBHOOK_SECRET=local_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "SIM_API_KEY=local_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  } > "$state/env"
fi
# Added later than the first lines: appended to an existing .local/env when missing.
if ! grep -q '^SIM_TWILIO_AUTH_TOKEN=' "$state/env"; then
  echo "SIM_TWILIO_AUTH_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> "$state/env"
fi
set -a
# shellcheck disable=SC1091
. "$state/env"
set +a

if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/pg.sh start dev >/dev/null
  eval "$(bash scripts/pg.sh env dev)"
fi
./build/tools/ops/outcall-migrate

simulation=0
if [ -z "${ELEVENLABS_API_KEY:-}" ]; then
  simulation=1
  echo "simulation mode: ELEVENLABS_API_KEY is not set; starting the local ElevenLabs simulator"
  echo "(tools/elevenlabs-sim, docs/simulator.md): calls are simulated, nobody is phoned"
  export ELEVENLABS_API_KEY="$SIM_API_KEY"
  export ELEVENLABS_BASE_URL="${ELEVENLABS_BASE_URL:-http://127.0.0.1:$(port 8090)}"
  export ELEVENLABS_AGENT_ID="${ELEVENLABS_AGENT_ID:-agent_sim_confirmaciones}"
  export ELEVENLABS_AGENT_PHONE_NUMBER_ID="${ELEVENLABS_AGENT_PHONE_NUMBER_ID:-phnum_sim_twilio}"
  # The simulator also plays Twilio's call-update endpoint, so hang-ups work locally.
  export TWILIO_ACCOUNT_SID="${TWILIO_ACCOUNT_SID:-ACsimulatedlocal0000000000000000}"
  export TWILIO_AUTH_TOKEN="${TWILIO_AUTH_TOKEN:-$SIM_TWILIO_AUTH_TOKEN}"
  export TWILIO_BASE_URL="${TWILIO_BASE_URL:-$ELEVENLABS_BASE_URL}"
fi
export LOG_FORMAT="${LOG_FORMAT:-json}"
export CALL_GATEWAY_ADDRESS="${CALL_GATEWAY_ADDRESS:-127.0.0.1:$(port 50051)}"
export STATS_ADDRESS="${STATS_ADDRESS:-127.0.0.1:$(port 50052)}"

# webhook-ingest's HTTPS endpoint: a self-signed certificate made once (git-ignored .local/tls).
if [ -z "${TLS_CERT_FILE:-}" ]; then
  mkdir -p "$state/tls"
  if [ ! -f "$state/tls/cert.pem" ] || [ ! -f "$state/tls/key.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj /CN=127.0.0.1 \
      -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
      -keyout "$state/tls/key.pem" -out "$state/tls/cert.pem" >/dev/null 2>&1
    chmod 600 "$state/tls/key.pem"
  fi
  export TLS_CERT_FILE="$state/tls/cert.pem" TLS_KEY_FILE="$state/tls/key.pem"
fi
export WEBHOOK_LISTEN_ADDRESS="${WEBHOOK_LISTEN_ADDRESS:-127.0.0.1:$(port 8443)}"
# webhook-ingest's local spool (webhooks acknowledged while PostgreSQL is away), git-ignored.
export WEBHOOK_SPOOL_DIR="${WEBHOOK_SPOOL_DIR:-$state/spool}"
if [ $simulation = 1 ]; then
  # The simulator sends its signed webhooks to webhook-ingest over HTTPS.
  export ELEVENLABS_WEBHOOK_URL="https://${WEBHOOK_LISTEN_ADDRESS}/api/webhooks/elevenlabs"
  export SIM_WEBHOOK_CA_FILE="$TLS_CERT_FILE"
fi

start_service() {  # name grpc_port metrics_port
  local name=$1 port=$2 metrics=$3 pidfile="$state/run/$1.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  GRPC_LISTEN_ADDRESS="127.0.0.1:$port" METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics" \
    nohup "./build/services/$name/$name" >>"$state/logs/$name.log" 2>&1 &
  echo $! > "$pidfile"
}
if [ $simulation = 1 ]; then
  pidfile="$state/run/elevenlabs-sim.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "elevenlabs-sim already running (pid $(cat "$pidfile"))"
  else
    SIM_LISTEN_ADDRESS="${ELEVENLABS_BASE_URL#http://}" \
      nohup ./build/tools/elevenlabs-sim/elevenlabs-sim >>"$state/logs/elevenlabs-sim.log" 2>&1 &
    echo $! > "$pidfile"
  fi
  ok=0
  for _ in $(seq 1 50); do
    if curl -fsS "$ELEVENLABS_BASE_URL/__sim/health" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
  done
  if [ $ok = 1 ]; then
    echo "elevenlabs-sim: serving $ELEVENLABS_BASE_URL (control: $ELEVENLABS_BASE_URL/__sim/scenarios)"
  else
    echo "elevenlabs-sim: NOT serving, last log lines:"; tail -5 "$state/logs/elevenlabs-sim.log"; exit 1
  fi
fi
start_service call-gateway "$(port 50051)" "$(port 9101)"
start_service stats "$(port 50052)" "$(port 9102)"
start_service webhook-ingest "$(port 50053)" "$(port 9103)"

status=0
for svc in "call-gateway:$(port 50051)" "stats:$(port 50052)" "webhook-ingest:$(port 50053)"; do
  name=${svc%%:*} port=${svc##*:}
  ok=0
  for _ in $(seq 1 50); do
    if ./build/tools/ops/outcall-health "127.0.0.1:$port" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  if [ $ok = 1 ]; then
    echo "$name: SERVING on 127.0.0.1:$port (metrics http://127.0.0.1:$((port - 50051 + 9101))/metrics)"
  else
    echo "$name: NOT healthy, last log lines:"; tail -5 "$state/logs/$name.log"; status=1
  fi
done

# The REST edge: the original system's REST face (and the console) on this machine, transcoded
# from the same descriptor set Envoy loads in production.
edge_addr="${EDGE_LISTEN_ADDRESS:-127.0.0.1:$(port 8080)}"
pidfile="$state/run/rest-edge.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "rest-edge already running (pid $(cat "$pidfile"))"
else
  console_dir=""
  if [ -f build/console/index.html ]; then console_dir="$root/build/console"; fi
  EDGE_LISTEN_ADDRESS="$edge_addr" EDGE_DESCRIPTOR_SET="$root/build/proto/outcall.pb" \
    EDGE_CONSOLE_DIR="${EDGE_CONSOLE_DIR:-$console_dir}" \
    WEBHOOK_INGEST_URL="https://${WEBHOOK_LISTEN_ADDRESS}" WEBHOOK_INGEST_CA_FILE="$TLS_CERT_FILE" \
    METRICS_LISTEN_ADDRESS="127.0.0.1:$(port 9104)" \
    nohup ./build/services/rest-edge/outcall-rest-edge >>"$state/logs/rest-edge.log" 2>&1 &
  echo $! > "$pidfile"
fi
ok=0
for _ in $(seq 1 50); do
  if curl -fsS "http://$edge_addr/healthz" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
if [ $ok = 1 ]; then
  echo "rest-edge: serving http://$edge_addr (REST /api/elevenlabs/*, webhook, console; metrics http://127.0.0.1:$(port 9104)/metrics)"
else
  echo "rest-edge: NOT serving, last log lines:"; tail -5 "$state/logs/rest-edge.log"; status=1
fi

# What exists in the database now, as the seed's monitoring queries show it.
psql "$DATABASE_URL" -X -q -c "SELECT count(*) AS calls_recorded FROM elevenlabs_conversations" \
  -c "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
echo "webhook-ingest: ElevenLabs webhooks on https://${WEBHOOK_LISTEN_ADDRESS}/api/webhooks/elevenlabs"
envfile="$state/env"
cat <<MSG
System is up.
Console:  http://$edge_addr/   (sign in with a token: ./build/tools/ops/outcall-token me calls:read calls:write campaigns:write)
REST, as the original README (a token is minted from $envfile):
  set -a; . $envfile; set +a; TOKEN=\$(./build/tools/ops/outcall-token me calls:read calls:write)
  curl -s -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
    -d '{"phoneNumber": "+573005550001", "patientName": "Ana"}' http://$edge_addr/api/elevenlabs/call
  curl -s -H "Authorization: Bearer \$TOKEN" http://$edge_addr/api/elevenlabs/stats
Any RPC from a shell (JSON in and out):
  ./build/tools/ops/outcall-cli CallGateway.InitiateCall '{"phoneNumber": "+57 300 555 0001", "patientName": "Ana"}'
  ./build/tools/ops/outcall-cli CallGateway.GetConversation '{"conversationId": "conv_..."}'
  ./build/tools/ops/outcall-cli Stats.GetCallStats '{}'
MSG
if [ $simulation = 1 ]; then
  echo "Simulated calls run in real time (a confirmed call lasts about 40 s); faster:"
  echo "  curl -s -XPOST $ELEVENLABS_BASE_URL/__sim/clock -d '{\"scale\": 20}'"
fi
cat <<'MSG'
A token for other clients: ./build/tools/ops/outcall-token me calls:read
MSG
echo "Logs: $state/logs/. Stop with: scripts/down.sh"
exit $status
