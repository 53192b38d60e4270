#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# spf_bench.sh BUILD_DIR: SPF and DMARC evaluations per second (issue 3's benchmark).
#   mailkit check_host() on the OpenSPF RFC 7208 suite, static resolver (spf_throughput)
#   vs pyspf spf.check2 on the same suite and zones (spf_pyspf.py)            target >= 50x
#   and mailkit DMARC evaluations per second over tests/data/dmarc/001-evaluation.json.
# Interleaved rounds ($MAILKIT_BENCH_ROUNDS, default 5) of $MAILKIT_SPF_SECONDS (default 1) s
# each; prints the medians and the ratio. Benchmarks are not tests: a missed target is reported,
# not a failure; the exit status is non-zero only when something could not run.
set -euo pipefail

[[ $# -eq 1 && -d $1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
ROUNDS=${MAILKIT_BENCH_ROUNDS:-5}
SECONDS_EACH=${MAILKIT_SPF_SECONDS:-1}
BIN=$BUILD/benchmarks/spf_throughput
[[ -x $BIN ]] || { echo "spf_bench.sh: $BIN is not built (MAILKIT_BUILD_BENCHMARKS=ON)" >&2; exit 1; }
$PY -c 'import spf' 2>/dev/null || { echo "spf_bench.sh: pyspf missing (apt-get install python3-spf)" >&2; exit 1; }

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

mk_spf=() mk_dmarc=() py_spf=()
for ((r = 1; r <= ROUNDS; r++)); do
  line=$(timeout 120 "$BIN" "$SECONDS_EACH")
  mk_spf+=("$(field spf_evals_per_s <<<"$line")")
  mk_dmarc+=("$(field dmarc_evals_per_s <<<"$line")")
  pline=$(timeout 300 $PY "$HERE/spf_pyspf.py" "$SECONDS_EACH")
  py_spf+=("$(field pyspf_evals_per_s <<<"$pline")")
  echo "round $r: $line | $pline"
done

m_spf=$(printf '%s\n' "${mk_spf[@]}" | median)
m_dmarc=$(printf '%s\n' "${mk_dmarc[@]}" | median)
m_py=$(printf '%s\n' "${py_spf[@]}" | median)
ratio=$(awk -v a="$m_spf" -v b="$m_py" 'BEGIN { printf "%.1f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 50 ? "met" : "MISSED") }')
echo
echo "== SPF and DMARC (medians of $ROUNDS rounds)"
printf '  %-44s %12.0f evals/s\n' "mailkit SPF, RFC 7208 suite, static resolver" "$m_spf"
printf '  %-44s %12.0f evals/s\n' "pyspf SPF, same suite and zones" "$m_py"
printf '  %-44s %12s x (target >= 50x: %s)\n' "ratio mailkit / pyspf" "$ratio" "$verdict"
printf '  %-44s %12.0f evals/s\n' "mailkit DMARC, tests/data/dmarc vectors" "$m_dmarc"
