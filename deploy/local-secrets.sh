#!/usr/bin/env bash
# Writes local, random secrets for docker-compose (never for production): deploy/.env from
# deploy/env.example with every placeholder replaced, the simulator switched on, and
# deploy/secrets/ holding Envoy's JWKS (the same HS256 key as JWT_HS256_SECRET) and a
# self-signed certificate for webhook-ingest (names webhook-ingest and localhost).
# Both paths are git-ignored. Refuses to overwrite; pass --force to start over.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
env_file="$here/.env"
secrets="$here/secrets"

if [ -e "$env_file" ] && [ "${1:-}" != "--force" ]; then
  echo "local-secrets: $env_file exists (use --force to replace it and deploy/secrets/)" >&2
  exit 1
fi
rand() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

umask 077
mkdir -p "$secrets"
jwt_secret="$(rand 32)"
sed -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(rand 16)|" \
    -e "s|^CALL_GATEWAY_DB_PASSWORD=.*|CALL_GATEWAY_DB_PASSWORD=$(rand 16)|" \
    -e "s|^WEBHOOK_INGEST_DB_PASSWORD=.*|WEBHOOK_INGEST_DB_PASSWORD=$(rand 16)|" \
    -e "s|^STATS_DB_PASSWORD=.*|STATS_DB_PASSWORD=$(rand 16)|" \
    -e "s|^JWT_HS256_SECRET=.*|JWT_HS256_SECRET=$jwt_secret|" \
    -e "s|^ELEVENLABS_API_KEY=.*|ELEVENLABS_API_KEY=sim_$(rand 16)|" \
    -e "s|^ELEVENLABS_BASE_URL=.*|ELEVENLABS_BASE_URL=http://127.0.0.1:8090|" \
    -e "s|^ELEVENLABS_AGENT_ID=.*|ELEVENLABS_AGENT_ID=agent_sim_confirmaciones|" \
    -e "s|^ELEVENLABS_AGENT_PHONE_NUMBER_ID=.*|ELEVENLABS_AGENT_PHONE_NUMBER_ID=phnum_sim_twilio|" \
    -e "s|^ELEVENLABS_WEBHOOK_URL=.*|ELEVENLABS_WEBHOOK_URL=https://localhost:8443/api/webhooks/elevenlabs|" \
    -e "s|^ELEVENLABS_WEBHOOK_SECRET=.*|ELEVENLABS_WEBHOOK_SECRET=wsec_$(rand 24)|" \
    -e "s|^TWILIO_BASE_URL=.*|TWILIO_BASE_URL=http://127.0.0.1:8090|" \
    "$here/env.example" > "$env_file"
if grep -q 'replace-me' "$env_file"; then
  echo "local-secrets: a placeholder was left in $env_file" >&2
  exit 1
fi

# Envoy verifies the same HS256 key the services use: a JWKS "oct" key, base64url of its bytes.
k="$(printf '%s' "$jwt_secret" | basenc --base64url | tr -d '=\n')"
printf '{"keys":[{"kty":"oct","alg":"HS256","kid":"local-1","k":"%s"}]}\n' "$k" > "$secrets/jwks.json"

openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes -subj "/CN=webhook-ingest" \
  -addext "subjectAltName=DNS:webhook-ingest,DNS:localhost,IP:127.0.0.1" \
  -keyout "$secrets/webhook-tls.key" -out "$secrets/webhook-tls.crt" 2>/dev/null

# The containers run as uid 10001 (Envoy as 101) and read these through bind mounts: the files
# are world-readable, the directory is not (0700), so other local users cannot reach them.
chmod 0700 "$secrets"
chmod 0644 "$secrets"/*
echo "local-secrets: wrote $env_file and $secrets/ (simulation mode)"
echo "next: docker-compose --env-file deploy/.env --profile sim up -d --build"
