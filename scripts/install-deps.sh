#!/usr/bin/env bash
# The one place the project's third-party dependencies are listed: Debian 12 packages only.
# Idempotent: installs only what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-14 libclang-rt-14-dev
  # RPC and serialisation
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev grpc-proto
  golang-github-gogo-googleapis-dev
  # libraries
  libabsl-dev libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev libcurl4-openssl-dev
  libpqxx-dev libpq-dev libjwt-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  # the IANA tz database absl::LoadTimeZone reads (libs/policy: patients' local time)
  tzdata
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev wrk
  # database and tools used by the scripts and tests
  postgresql-15 postgresql-client-15 openssl curl ca-certificates procps iproute2 python3
  # deployment checks (tests/deploy): compose config, YAML lint, Debian's python3 + PyYAML.
  # node/npm (offline Kubernetes schemas) and kubectl (kustomize) come with this machine image;
  # node and npm are Debian's on a machine without them.
  docker-compose yamllint python3-yaml
  # the staff console's browser tests (tests/browser): Debian's Chromium, driven by playwright-core
  chromium
  $(command -v npm >/dev/null 2>&1 || echo nodejs npm)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

# The console (web/console) and its browser tests (tests/browser), the TypeScript client
# (clients/typescript) and the outbound-webhook test receiver (tests/outbound): npm ci from the
# committed lock files, only when node_modules is missing or older than package-lock.json.
npm_deps() {
  local here dir
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for dir in "$here/web/console" "$here/tests/browser" "$here/clients/typescript" "$here/tests/outbound"; do
    [ -f "$dir/package-lock.json" ] || continue
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      echo "install-deps: npm ci in ${dir#"$here"/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  npm_deps
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_deps
echo "install-deps: done"
