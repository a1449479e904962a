#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the benchmarks need, when missing.
# Run as root (make run / make test call it); without root it only reports what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsimdjson-dev nlohmann-json3-dev
  libsqlite3-dev sqlite3
  libspdlog-dev libfmt-dev libcli11-dev
  libssl-dev libargon2-dev zlib1g-dev libzstd-dev zstd libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk curl python3
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
