#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: start mailkitd on its embedded default (docs/configuration.md): data in ./var,
# loopback ports 2525 (MX), 5587 (submission), 5465 (submissions), 1143 (IMAP), 1993 (IMAPS), a
# generated self-signed certificate, the domain example.test with one user whose password is
# printed with the ways to connect (swaks, Python, Thunderbird). Ctrl-C stops it gracefully.
# MAILKIT_CONFIG=/path/to/mailkitd.toml runs that configuration instead.
set -euo pipefail
build=${1:-build/dev}
daemon="$build/apps/mailkitd/mailkitd"
if [[ -n ${MAILKIT_CONFIG:-} ]]; then
  exec "$daemon" --config "$MAILKIT_CONFIG"
fi
exec "$daemon" --data-dir ./var
