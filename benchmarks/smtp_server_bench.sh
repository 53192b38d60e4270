#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smtp_server_bench.sh BUILD_DIR [ROUNDS]: the SMTP server benchmark of issue 9 (no-storage
# part): smtp-source against the mailkit harness server (discarding sink) and against Postfix's
# smtp-sink, interleaved, at 1/20/100 sessions with 4 KB and 100 KB messages; messages/s, CPU,
# RSS, idle memory and the mailkit/smtp-sink ratio (benchmarks/smtp_server/bench.py). Needs the
# harness (target smtp_harness_server) and the postfix package. Bounded: fixed message counts and
# a timeout per run. A missed target is reported, not a failure.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [ROUNDS]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HARNESS=$BUILD/tests/interop/smtp_server/smtp_harness_server
[[ -x $HARNESS ]] || { echo "smtp_server_bench.sh: build smtp_harness_server first" >&2; exit 1; }
exec timeout 1800 /usr/bin/python3 "$HERE/smtp_server/bench.py" "$HARNESS" "${2:-${MAILKIT_BENCH_ROUNDS:-3}}"
