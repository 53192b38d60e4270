#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# inbound_bench.sh BUILD_DIR [ROUNDS]: the whole SMTP server benchmark of issue 9 in one run,
# Postfix's smtp-source as the client throughout, at 1/20/100 sessions with 4 KB and 100 KB
# messages (a new connection per message):
#   1. no storage: the mailkit harness server (discarding sink) against Postfix's smtp-sink,
#      interleaved; messages/s, CPU, RSS, idle RSS, RSS per idle connection, ratio (target
#      >= 0.70) (benchmarks/smtp_server/bench.py);
#   2. storage: mailkit_inbound_server (durable queue + local delivery into the store, fsync on)
#      against a private Postfix delivering to a Maildir, interleaved; accepted-and-delivered
#      messages/s, CPU, RSS, idle RSS and RSS per idle connection of the real server, ratio
#      (target >= 3.0) (benchmarks/inbound/bench.py).
# Needs the targets smtp_harness_server and mailkit_inbound_server, the postfix package and
# root (Postfix's daemons). Bounded: fixed counts, a timeout per run and per part. ROUNDS (or
# MAILKIT_BENCH_ROUNDS, default 3) repeats each part that many times, interleaved; the tables give
# medians.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [ROUNDS]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${2:-${MAILKIT_BENCH_ROUNDS:-3}}
SERVER=$BUILD/tests/interop/inbound/mailkit_inbound_server
HARNESS=$BUILD/tests/interop/smtp_server/smtp_harness_server
[[ -x $SERVER ]] || { echo "inbound_bench.sh: build mailkit_inbound_server first" >&2; exit 1; }
[[ -x $HARNESS ]] || { echo "inbound_bench.sh: build smtp_harness_server first" >&2; exit 1; }
# Both servers write under the build tree (the same file system as a real data directory).
export MAILKIT_BENCH_WORK=${MAILKIT_BENCH_WORK:-$BUILD}
echo "== SMTP without storage: mailkit harness (discard) vs smtp-sink, rounds $ROUNDS"
timeout 900 /usr/bin/python3 "$HERE/smtp_server/bench.py" "$HARNESS" "$ROUNDS"
echo "== SMTP with storage (fsync): mailkit_inbound_server vs Postfix to Maildir, rounds $ROUNDS"
timeout 1800 /usr/bin/python3 "$HERE/inbound/bench.py" "$SERVER" "$ROUNDS"
