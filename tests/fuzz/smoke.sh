#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smoke.sh BUILD_DIR SECONDS: run every libFuzzer target built in BUILD_DIR/tests/fuzz for SECONDS
# each, on a copy of its seed corpus in a temporary directory (the repository is never written).
# Prints one line per target (executions, coverage) and a final "fuzz: N passed, M failed"; exits
# non-zero when any target crashes, leaks, times out or runs out of memory. The inputs that failed
# are kept in BUILD_DIR/fuzz-artifacts/<target>/ with the target's log.
set -uo pipefail

if (($# != 2)); then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin_dir=$build/tests/fuzz

shopt -s nullglob
targets=()
for exe in "$bin_dir"/*_fuzz; do
  [[ -f $exe && -x $exe ]] && targets+=("$exe")
done
if ((${#targets[@]} == 0)); then
  echo "fuzz: no targets in $bin_dir (build the fuzz preset first)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mailkit-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts_root=$(mkdir -p "$build/fuzz-artifacts" && cd "$build/fuzz-artifacts" && pwd)

passed=0
failed=0
# One target: its report lines go to $work/<name>/report, its verdict to $work/<name>/rc.
run_one() {
  local exe=$1
  name=$(basename "$exe")
  corpus=$work/$name/corpus
  out=$work/$name/artifacts
  mkdir -p "$corpus" "$out"
  # Seeds only: licence notices and read-me files are not inputs.
  for seed in "$here/corpus/$name"/*; do
    case $(basename "$seed") in NOTICE | README*) continue ;; esac
    [[ -f $seed ]] && cp "$seed" "$corpus/"
  done
  log=$work/$name/log
  # -artifact_prefix keeps crash files out of the current directory (which may be the repo).
  (cd "$work/$name" && "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$out/" "$corpus" >"$log" 2>&1)
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  # The last status line libFuzzer printed: "#N <EVENT> cov: C ft: F corp: K/S ...".
  status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$status")
  seeds=$(find "$here/corpus/$name" -maxdepth 1 -type f ! -name NOTICE ! -name 'README*' | wc -l)
  if ((rc == 0)); then
    printf '%-24s ok      %10s execs  cov %-6s ft %-6s corpus %-10s (%s seeds)\n' \
      "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$seeds"
  else
    keep=$artifacts_root/$name
    mkdir -p "$keep"
    cp "$log" "$keep/log"
    cp "$out"/* "$keep/" 2>/dev/null
    printf '%-24s FAILED  %10s execs  cov %-6s (exit %d; log and inputs in %s)\n' \
      "$name" "${execs:-?}" "${cov:-?}" "$rc" "$keep"
    grep -E 'ERROR: |SUMMARY: |Test unit written|^ *#[0-9]+ 0x' "$log" | head -n 20 | sed 's/^/    /'
  fi
  echo "$rc" >"$work/$name/rc"
}

# Targets run $jobs at a time (default: one per CPU); reports are printed in target order.
jobs=${MAILKIT_FUZZ_JOBS:-$(nproc)}
running=0
for exe in "${targets[@]}"; do
  name=$(basename "$exe")
  mkdir -p "$work/$name"
  run_one "$exe" >"$work/$name/report" 2>&1 &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n
    running=$((running - 1))
  fi
done
wait
for exe in "${targets[@]}"; do
  name=$(basename "$exe")
  cat "$work/$name/report"
  if [[ $(cat "$work/$name/rc" 2>/dev/null) == 0 ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done

echo "fuzz: $passed passed, $failed failed"
((failed == 0))
