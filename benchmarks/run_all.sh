#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run_all.sh BUILD_DIR: the benchmark run of `make bench` (DESIGN.md §7). Measures the core and
# MIME hot paths (core_bench, mime_bench: medians of 3 repetitions) and the whole-message MIME
# throughput of mailkit beside its anchors on the same corpus, interleaved, 5 rounds:
#   mailkit (mime_throughput) vs GMime 3 (anchors/gmime_parse)          target >= 3x
#   mailkit Python binding vs CPython's email package (python_email.py) target >= 10x
#   peak RSS parsing a 50 MB message, relative to its size (mailkit, GMime) target <= 1.5x
# and prints medians and ratios, also to BUILD_DIR/bench-results.txt. The corpus is generated
# into BUILD_DIR/bench-corpus (gen_corpus.py) unless a complete one is there ($MAILKIT_BENCH_CORPUS
# points elsewhere). Benchmarks are not tests: a missed target is reported, never a failure; the
# exit status is non-zero only when something could not run (missing binary, parse failure).
# About 2-3 minutes on 2 cores; $MAILKIT_BENCH_ROUNDS changes the number of rounds.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
}
[[ $# -eq 1 ]] || usage
[[ -d $1 ]] || { echo "run_all.sh: no build directory $1" >&2; exit 1; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # the interpreter the binding is built for (CMakePresets.json)
BIN=$BUILD/benchmarks
CORPUS=${MAILKIT_BENCH_CORPUS:-$BUILD/bench-corpus}
ROUNDS=${MAILKIT_BENCH_ROUNDS:-5}
RESULTS=$BUILD/bench-results.txt
LOG=$BUILD/bench-throughput.log # every raw line, for the summary and for later reading
LIMIT=300                       # seconds: any single command beyond this is an error (a hang)

section() { printf '\n== %s\n' "$*"; }

# Run a measuring command; its one output line goes to the log and the screen.
measure() {
  local line
  if ! line=$(timeout "$LIMIT" "$@"); then
    echo "run_all.sh: failed: $*" >&2
    return 1
  fi
  printf '%s\n' "$line" | tee -a "$LOG"
}

main() {
  local have_gmime=1 have_binding=1
  for b in core_bench mime_bench mime_throughput; do
    [[ -x $BIN/$b ]] || { echo "run_all.sh: $BIN/$b not built (MAILKIT_BUILD_BENCHMARKS=ON?)" >&2; return 1; }
  done
  [[ -x $BIN/gmime_parse ]] || have_gmime=0
  PYTHONPATH=$BUILD/bindings/python $PY -c 'import mailkit.mime' 2>/dev/null || have_binding=0

  section "environment"
  echo "date:       $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "cpu:        $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "load:       $(cut -d' ' -f1-3 /proc/loadavg)"
  local build_type
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
  echo "build:      $BUILD (CMAKE_BUILD_TYPE=${build_type:-none})"
  [[ $build_type == Release ]] || echo "warning:    not a Release build: the numbers are not representative"
  if ((have_gmime)); then
    echo "gmime:      $(pkg-config --modversion gmime-3.0 2>/dev/null || echo '?')"
  else
    echo "gmime:      gmime_parse not built (libgmime-3.0-dev missing): GMime anchor skipped"
  fi
  echo "python:     $($PY -c 'import sys; print(sys.version.split()[0])')"
  ((have_binding)) || echo "binding:    mailkit Python module not importable from $BUILD/bindings/python: skipped"

  section "corpus"
  local want
  want=$(sed -n 's/^GENERATOR_VERSION = //p' "$HERE/gen_corpus.py")
  if ! grep -qs "^generator=$want " "$CORPUS/MANIFEST"; then
    echo "generating $CORPUS"
    timeout "$LIMIT" $PY "$HERE/gen_corpus.py" "$CORPUS"
  fi
  cat "$CORPUS/MANIFEST"
  local files=("$CORPUS"/*.eml)
  local big=$CORPUS/peak/big.eml
  [[ -f $big ]] || { echo "run_all.sh: $big missing" >&2; return 1; }

  # Google Benchmark: 3 repetitions, medians only, bytes/s as MB/s (10^6).
  local bench_args=(--benchmark_min_time=0.1 --benchmark_repetitions=3
    --benchmark_report_aggregates_only=true --benchmark_out_format=json)
  # Their console output and context lines (stderr) go to BUILD_DIR/<name>.log; the JSON holds
  # the numbers. Debian's libbenchmark warns "Library was built as DEBUG": that is the benchmark
  # library itself, not mailkit, and does not touch the timed code.
  local b
  for b in core_bench mime_bench; do
    section "$b (median of 3)"
    if ! MAILKIT_BENCH_CORPUS=$CORPUS timeout "$LIMIT" "$BIN/$b" "${bench_args[@]}" \
      --benchmark_out="$BUILD/$b.json" >"$BUILD/$b.log" 2>&1; then
      cat "$BUILD/$b.log"
      echo "run_all.sh: $b failed" >&2
      return 1
    fi
    medians "$BUILD/$b.json"
  done

  section "throughput: $ROUNDS rounds, interleaved (raw lines in $LOG)"
  : >"$LOG"
  for ((r = 1; r <= ROUNDS; r++)); do
    echo "-- round $r"
    measure "$BIN/mime_throughput" --repeat 5 --mode=walk "${files[@]}"
    measure "$BIN/mime_throughput" --repeat 5 --mode=walk --decode=copy "${files[@]}"
    measure "$BIN/mime_throughput" --repeat 5 --mode=parse "${files[@]}"
    if ((have_gmime)); then
      measure "$BIN/gmime_parse" --repeat 2 --mode=walk "${files[@]}"
      measure "$BIN/gmime_parse" --repeat 2 --mode=parse "${files[@]}"
    fi
    measure $PY "$HERE/anchors/python_email.py" --impl=email --repeat 1 "${files[@]}"
    if ((have_binding)); then
      measure env PYTHONPATH="$BUILD/bindings/python" \
        $PY "$HERE/anchors/python_email.py" --impl=mailkit --repeat 2 "${files[@]}"
    fi
  done

  section "peak memory: $(($(stat -c %s "$big") / 1000000)) MB message, 3 rounds"
  for ((r = 1; r <= 3; r++)); do
    measure "$BIN/mime_throughput" --peak "$big"
    if ((have_gmime)); then measure "$BIN/gmime_parse" --peak "$big"; fi
  done
  # The Python side, once each, for information (no target).
  measure $PY "$HERE/anchors/python_email.py" --impl=email --peak "$big"
  if ((have_binding)); then
    measure env PYTHONPATH="$BUILD/bindings/python" \
      $PY "$HERE/anchors/python_email.py" --impl=mailkit --peak "$big"
  fi

  section "summary (medians)"
  summarize "$LOG"
}

# Median rows of a Google Benchmark JSON file.
medians() {
  $PY - "$1" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
print(f"{'benchmark':<48} {'time us':>12} {'MB/s':>10} {'items/s':>12}")
per_us = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
for b in doc["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    if b.get("error_occurred"):
        print(f"{b['run_name']:<48} error: {b.get('error_message', '?')}")
        continue
    t = b["real_time"] * per_us[b.get("time_unit", "ns")]
    mbs = f"{b['bytes_per_second'] / 1e6:10.1f}" if "bytes_per_second" in b else f"{'':>10}"
    ips = f"{b['items_per_second']:12.0f}" if "items_per_second" in b else f"{'':>12}"
    print(f"{b['run_name']:<48} {t:12.2f} {mbs} {ips}")
EOF
}

# Medians of the throughput lines, the ratios against the targets, and a check that every
# implementation did the same work (parts and decoded bytes per pass over the corpus).
summarize() {
  $PY - "$1" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv)
    rows.setdefault((name, d["mode"], d["decode"]), []).append(d)

def med(key, field):
    r = rows.get(key)
    return statistics.median(float(x[field]) for x in r) if r else None

print(f"{'implementation':<16} {'mode':<6} {'decode':<7} {'runs':>4} {'MB/s':>9} "
      f"{'parts/pass':>10} {'decoded MB/pass':>15}")
work = {}
for key in sorted(k for k in rows if k[1] != "peak"):
    r = rows[key]
    rep = int(r[0]["repeat"])
    parts, dec = int(r[0]["parts"]) // rep, int(r[0]["decoded"]) // rep
    if key[1] == "walk":
        work[key[0]] = (parts, dec)
    print(f"{key[0]:<16} {key[1]:<6} {key[2]:<7} {len(r):>4} {med(key, 'mb_per_s'):9.1f} "
          f"{parts:>10} {dec / 1e6:15.2f}")
print()
print(f"{'peak memory':<16} {'runs':>4} {'input MB':>9} {'peak RSS MB':>12} {'baseline MB':>12} "
      f"{'peak/input':>11}")
for key in sorted(k for k in rows if k[1] == "peak"):
    r = rows[key]
    print(f"{key[0]:<16} {len(r):>4} {int(r[0]['bytes']) / 1e6:9.1f} "
          f"{med(key, 'peak_rss_kb') * 1024 / 1e6:12.1f} "
          f"{med(key, 'baseline_rss_kb') * 1024 / 1e6:12.1f} {med(key, 'ratio'):11.3f}")

print()
# Rounds are interleaved, so round i of one implementation ran next to round i of the other: the
# ratio is taken per round and its median reported (steadier on a shared machine than a ratio
# of medians), with the range over the rounds.
def verdict(v, target, higher_is_better):
    if target is None:
        return ""
    ok = v >= target if higher_is_better else v <= target
    sign = ">=" if higher_is_better else "<="
    return f"  (target {sign} {target}x: {'met' if ok else 'MISSED'})"

def speedup(label, num_key, den_key, target):
    a, b = rows.get(num_key), rows.get(den_key)
    if not a or not b:
        print(f"{label:<52} skipped (not measured)")
        return
    per_round = [float(x["mb_per_s"]) / float(y["mb_per_s"]) for x, y in zip(a, b)]
    v = statistics.median(per_round)
    print(f"{label:<52} {v:7.2f}x  [{min(per_round):.2f}-{max(per_round):.2f}]"
          f"{verdict(v, target, True)}")

speedup("mailkit / GMime, parse+walk+decode", ("mailkit-mime", "walk", "stream"),
        ("gmime", "walk", "stream"), 3)
speedup("mailkit / GMime, parse only (no target)", ("mailkit-mime", "parse", "stream"),
        ("gmime", "parse", "stream"), None)
speedup("mailkit binding / Python email, parse+walk+decode", ("mailkit-python", "walk", "copy"),
        ("python-email", "walk", "copy"), 10)
for impl in ("mailkit-mime", "gmime"):
    r = med((impl, "peak", "stream"), "ratio")
    label = f"{impl} peak RSS / input size, 50 MB message"
    if r is None:
        print(f"{label:<52} skipped (not measured)")
    else:
        print(f"{label:<52} {r:7.2f}x{verdict(r, 1.5, False)}")
for impl in ("mailkit-python", "python-email"):
    r = med((impl, "peak", "copy"), "ratio")
    if r is not None:
        print(f"{impl + ' peak RSS / input size (no target)':<52} {r:7.2f}x")

if len(set(work.values())) > 1:
    print("\nwarning: the implementations did different work (parts, decoded bytes per pass):")
    for k, v in sorted(work.items()):
        print(f"  {k}: {v}")
else:
    print(f"\nsame work everywhere: {next(iter(work.values()), ('?', '?'))[0]} parts and "
          f"{next(iter(work.values()), (0, 0))[1]} decoded bytes per pass over the corpus")
EOF
}

main 2>&1 | tee "$RESULTS"
rc=${PIPESTATUS[0]}
echo "results: $RESULTS"

# ---- SPF and DMARC (issue 3): self-contained; see benchmarks/spf_bench.sh -------------------
# mailkit check_host() vs pyspf on the RFC 7208 suite (target >= 50x), DMARC evaluations/s.
# Appended to the same results file; skipped with a note when spf_throughput is not built.
if [[ -x $BUILD/benchmarks/spf_throughput ]]; then
  bash "$HERE/spf_bench.sh" "$BUILD" 2>&1 | tee -a "$RESULTS" || rc=1
else
  echo "SPF/DMARC benchmark skipped: $BUILD/benchmarks/spf_throughput is not built" | tee -a "$RESULTS"
fi

# ---- DKIM (issue 8): body hashing vs openssl speed, sign/verify vs dkimpy, Mail::DKIM ---------
if [[ -x $BUILD/benchmarks/dkim_throughput ]]; then
  bash "$HERE/dkim_bench.sh" "$BUILD" 2>&1 | tee -a "$RESULTS" || rc=1
else
  echo "DKIM benchmark skipped: $BUILD/benchmarks/dkim_throughput is not built" | tee -a "$RESULTS"
fi

# ---- SMTP server and queue (issue 9): smtp-source vs mailkit without storage and vs smtp-sink,
# then with durable storage vs Postfix delivering to a Maildir (benchmarks/inbound_bench.sh) ----
if [[ -x $BUILD/tests/interop/inbound/mailkit_inbound_server ]] && command -v smtp-source >/dev/null \
    && command -v postfix >/dev/null; then
  bash "$HERE/inbound_bench.sh" "$BUILD" 2>&1 | tee -a "$RESULTS" || rc=1
else
  echo "SMTP server benchmark skipped: mailkit_inbound_server, smtp-source or postfix missing" | tee -a "$RESULTS"
fi

# ---- Outbound (issue 11): queue + relay to smtp-sink vs Postfix relaying to the same sink -----
if [[ -x $BUILD/tests/interop/outbound/outbound_tool ]] && command -v smtp-sink >/dev/null \
    && command -v postfix >/dev/null; then
  bash "$HERE/outbound_bench.sh" "$BUILD" 2>&1 | tee -a "$RESULTS" || rc=1
else
  echo "outbound benchmark skipped: outbound_tool, smtp-sink or postfix missing" | tee -a "$RESULTS"
fi

# ---- Mail store (issue 4): append, import and scan beside doveadm ------------------------------
if [[ -x $BUILD/benchmarks/store/store_throughput ]] && command -v doveadm >/dev/null; then
  bash "$HERE/store_bench.sh" "$BUILD" 2>&1 | tee -a "$RESULTS" || rc=1
else
  echo "store benchmark skipped: store_throughput or doveadm missing" | tee -a "$RESULTS"
fi
if [[ -x $BUILD/tests/interop/imap/mailkit_imap_server ]] && command -v dovecot >/dev/null; then bash "$HERE/imap_bench.sh" "$BUILD" 2>&1 | tee -a "$RESULTS" || rc=1; else echo "IMAP benchmark (issue 6) skipped: mailkit_imap_server or dovecot missing" | tee -a "$RESULTS"; fi
exit "$rc"
