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
  sqlite3 libcrypt-dev dovecot-core dovecot-imapd
  postfix swaks python3-aiosmtpd openssl
  isync fetchmail neomutt tmux
)

# The aarch64 cross build and its qemu-user runs (`make test-arm64`, issue 7, docs/arm64.md):
# Debian's cross compiler and the arm64 builds of build_pkgs, installed through multiarch.
# libexpected-dev, libcli11-dev and pybind11-dev are Architecture: all (already in build_pkgs).
arm64_pkgs=(
  g++-aarch64-linux-gnu binutils-aarch64-linux-gnu qemu-user
  libboost1.81-dev:arm64 libboost-json1.81-dev:arm64 libboost-url1.81-dev:arm64
  libssl-dev:arm64 libc-ares-dev:arm64 libsodium-dev:arm64 libsqlite3-dev:arm64
  libtomlplusplus-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64
  libpsl-dev:arm64 libidn2-dev:arm64 libcrypt-dev:arm64
  libgtest-dev:arm64 libgmock-dev:arm64 libbenchmark-dev:arm64
  libpython3.11-dev:arm64
  libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64
)

# fail2ban-regex checks the shipped filter (contrib/fail2ban) against mailkitd's real log lines.
# The package is unpacked into the build tree, not installed: installing it would start the
# fail2ban service (with its sshd jail) on the developer's machine.
fail2ban_dir="$(cd "$(dirname "$0")/.." && pwd)/build/tools/fail2ban"
fetch_fail2ban() {
  [[ -x "$fail2ban_dir/usr/bin/fail2ban-regex" ]] && return 0
  local tmp
  tmp=$(mktemp -d)
  # apt-get download needs current lists: refresh once when the first try fails.
  if ! (cd "$tmp" && apt-get download -qq fail2ban >/dev/null 2>&1); then
    if [[ $(id -u) -eq 0 ]]; then apt-get update -qq; else sudo apt-get update -qq; fi
    (cd "$tmp" && apt-get download -qq fail2ban >/dev/null)
  fi
  mkdir -p "$fail2ban_dir"
  dpkg-deb -x "$tmp"/fail2ban_*.deb "$fail2ban_dir"
  rm -rf "$tmp"
  echo "bootstrap: fail2ban unpacked into $fail2ban_dir (not installed as a service)"
}

want=("${build_pkgs[@]}" "${test_pkgs[@]}")
if [[ "${1:-}" == "--arm64" ]]; then
  want+=("${arm64_pkgs[@]}")
  # Multiarch: the arm64 packages install beside the amd64 ones. An arm64 -dev package must
  # have the same version as its amd64 twin, so apt may upgrade amd64 libraries to match; it
  # must never remove one: the plan is simulated first and refused when it removes anything
  # (--no-remove makes apt fail instead of removing).
  arm64_missing=()
  for p in "${arm64_pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | sort -u || true)
    [[ "$status" == "install ok installed" ]] || arm64_missing+=("$p")
  done
  if ((${#arm64_missing[@]} > 0)); then
    arm64_sudo=()
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null || { echo "bootstrap: need root or sudo for the arm64 packages" >&2; exit 1; }
      arm64_sudo=(sudo)
    fi
    dpkg --print-foreign-architectures | grep -qx arm64 || "${arm64_sudo[@]}" dpkg --add-architecture arm64
    echo "bootstrap: installing ${#arm64_missing[@]} arm64 packages: ${arm64_missing[*]}"
    "${arm64_sudo[@]}" apt-get update -qq
    plan=$(apt-get install -s --no-remove --no-install-recommends "${arm64_missing[@]}") || {
      echo "bootstrap: apt cannot install the arm64 packages without removing others:" >&2
      apt-get install -s --no-install-recommends "${arm64_missing[@]}" 2>&1 | grep -E '^(Remv|E:)' >&2 || true
      exit 1
    }
    if grep -q '^Remv' <<<"$plan"; then
      echo "bootstrap: refusing an arm64 install plan that removes packages:" >&2
      grep '^Remv' <<<"$plan" >&2
      exit 1
    fi
    DEBIAN_FRONTEND=noninteractive "${arm64_sudo[@]}" apt-get install -y -qq --no-remove \
      --no-install-recommends "${arm64_missing[@]}" >/dev/null
    echo "bootstrap: arm64 packages done"
  fi
fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | sort -u || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "bootstrap: all ${#want[@]} Debian packages present"
  fetch_fail2ban
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
fetch_fail2ban
echo "bootstrap: done"
