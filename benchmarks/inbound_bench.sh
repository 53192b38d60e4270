#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# inbound_bench.sh BUILD_DIR [ROUNDS]: the SMTP server benchmark of issue 9 (storage part):
# smtp-source against mailkit_inbound_server (durable queue + local delivery into the store,
# fsync on) and against a private Postfix delivering to a Maildir, interleaved, at 1/20/100
# sessions with 4 KB and 100 KB messages; accepted-and-delivered messages/s, CPU, RSS, and the
# mailkit/Postfix ratio (benchmarks/inbound/bench.py). Needs the target mailkit_inbound_server,
# the postfix package and root (Postfix's daemons). Bounded: fixed counts, a timeout per run.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [ROUNDS]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER=$BUILD/tests/interop/inbound/mailkit_inbound_server
[[ -x $SERVER ]] || { echo "inbound_bench.sh: build mailkit_inbound_server first" >&2; exit 1; }
# Both servers write under the build tree (the same file system as a real data directory).
export MAILKIT_BENCH_WORK=${MAILKIT_BENCH_WORK:-$BUILD}
exec timeout 3000 /usr/bin/python3 "$HERE/inbound/bench.py" "$SERVER" "${2:-${MAILKIT_BENCH_ROUNDS:-1}}"
