#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for qforge and builds it (release preset).
# Idempotent and non-interactive: installs only the packages that are missing.
#   scripts/setup.sh            install dependencies + configure + build (release)
#   scripts/setup.sh --deps     install dependencies only
#   scripts/setup.sh --fuzz     also install clang-14 and its libFuzzer runtime (scripts/fuzz.sh), deps only
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libeigen3-dev
  libsentencepiece-dev libssl-dev libicu-dev openssl
  clang-format chromium
)

if [ "${1:-}" = "--fuzz" ]; then PACKAGES+=(clang-14 libclang-rt-14-dev); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all system packages present"
fi

if [ "${1:-}" = "--deps" ] || [ "${1:-}" = "--fuzz" ]; then exit 0; fi

cmake --preset release
cmake --build --preset release
echo "setup: built build/release/tools/qforge"
