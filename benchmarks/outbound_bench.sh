#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# outbound_bench.sh BUILD_DIR [MESSAGES] [ROUNDS]: outbound messages/s from the queue to a
# local smtp-sink (Postfix's test server) with 1 and 20 connections, mailkit (outbound_tool:
# queue + server::outbound + relay::transport) beside a private Postfix relaying the same
# messages to the same sink in the same run; medians and the ratio (target >= 2x Postfix).
# Needs the target outbound_tool, the postfix package (smtp-sink, smtp-source) and root.
# Bounded: fixed counts and a timeout per run and for the whole script.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [MESSAGES] [ROUNDS]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOL=$BUILD/tests/interop/outbound/outbound_tool
[[ -x $TOOL ]] || { echo "outbound_bench.sh: build outbound_tool first" >&2; exit 1; }
export MAILKIT_BENCH_WORK=${MAILKIT_BENCH_WORK:-$BUILD}
echo "== outbound: queue -> relay -> smtp-sink, mailkit vs Postfix"
timeout 1200 /usr/bin/python3 "$HERE/outbound/bench.py" "$TOOL" "${2:-1000}" "${3:-3}"
