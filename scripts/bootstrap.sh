#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bootstrap.sh: install the Debian 12 packages that building and testing mailkit need.
# Idempotent: when everything is present it prints one line and exits in well under a second.
# Works as root, or through sudo otherwise. Called by `make run`, `make test` and `make bench`.
set -euo pipefail

# Build toolchain and libraries (DESIGN.md section 2).
build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev llvm-14
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libc-ares-dev libsodium-dev libsqlite3-dev
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev libexpected-dev
  libpsl-dev publicsuffix libidn2-dev
  pybind11-dev python3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Test peers and anchors (each later issue adds its own here).
test_pkgs=(
  python3-pytest
  libpython3.11-testsuite
  libgmime-3.0-dev
  python3-dkim python3-nacl libmail-dkim-perl opendkim opendkim-tools
  python3-spf python3-yaml
  nsd unbound ldnsutils
  sqlite3 libcrypt-dev dovecot-core
  postfix swaks python3-aiosmtpd openssl
)

want=("${build_pkgs[@]}" "${test_pkgs[@]}")
if [[ "${1:-}" == "--arm64" ]]; then
  want+=(g++-aarch64-linux-gnu qemu-user)
fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "bootstrap: all ${#want[@]} Debian packages present"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi

echo "bootstrap: installing ${#missing[@]} Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is a test peer and benchmark anchor, never the machine's MTA: install it unconfigured.
if command -v debconf-set-selections >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
fi
# A fresh machine has empty or stale lists; refresh them once before installing.
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done"
