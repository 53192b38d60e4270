#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dkim_bench.sh BUILD_DIR: DKIM benchmarks beside their anchors, in the same run, interleaved over
# $MAILKIT_BENCH_ROUNDS rounds (default 3); prints medians and ratios against the issue's targets:
#   body hashing 1 MB: simple >= 95%, relaxed >= 75% of raw SHA-256 (openssl speed -evp sha256,
#     and EVP SHA-256 in the same process)
#   sign 4 KB: rsa-sha256-2048 >= 85% of OpenSSL's raw RSA-2048 sign (openssl speed rsa2048 and
#     in-process EVP_PKEY_sign); ed25519 >= 75% of libsodium's raw crypto_sign_detached
#   Python binding >= 80% of the C++ rate; dkimpy and Mail::DKIM for scale
# Needs: BUILD_DIR/benchmarks/dkim_throughput (benchmarks/dkim_bench.cmake) and the _mailkit
# module; python3-dkim, python3-nacl, libmail-dkim-perl. Not a test: missed targets are
# reported, the exit status is non-zero only when something could not run.
set -euo pipefail
[[ $# -ge 1 && -d $1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${MAILKIT_BENCH_ROUNDS:-3}
SECS=${MAILKIT_BENCH_SECONDS:-1}
TP=$BUILD/benchmarks/dkim_throughput
[[ -x $TP ]] || TP=$BUILD/dkim_throughput
[[ -x $TP ]] || { echo "dkim_bench.sh: build dkim_throughput first (benchmarks/dkim_bench.cmake)" >&2; exit 1; }
LOG=$(mktemp)
trap 'rm -f "$LOG"; rm -rf "$KEYDIR"' EXIT
KEYDIR=$(mktemp -d)
openssl genrsa -traditional -out "$KEYDIR/rsa.pem" 2048 2>/dev/null
TXT="v=DKIM1; k=rsa; p=$(openssl rsa -in "$KEYDIR/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0)"

for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r/$ROUNDS ..." >&2
  # openssl speed: bytes/s in thousands for a 1 MiB block; RSA sign/s.
  openssl speed -evp sha256 -bytes 1048576 -seconds "$SECS" 2>/dev/null |
    awk '/^sha256/ {v=$NF; sub(/k$/, "", v); printf "openssl_sha256_MBps %.1f MB/s\n", v / 1000}' >>"$LOG"
  openssl speed -seconds "$SECS" rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ {printf "openssl_rsa2048_sign_per_s %s ops/s\n", $6}' >>"$LOG"
  "$TP" "$SECS" >>"$LOG"
  /usr/bin/python3 "$HERE/dkim_anchors.py" "$BUILD" "$SECS" >>"$LOG"
  perl "$HERE/dkim_mail_dkim.pl" "$KEYDIR/rsa.pem" "$TXT" "$SECS" >>"$LOG"
done

/usr/bin/python3 - "$LOG" <<'PY'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 2:
        vals.setdefault(parts[0], []).append(float(parts[1]))
med = {k: statistics.median(v) for k, v in vals.items()}
def g(k): return med.get(k, float("nan"))
print(f"{'measurement':<36} {'median':>12}")
for k in sorted(med):
    print(f"{k:<36} {med[k]:>12.1f}")
print()
def ratio(name, a, b, target):
    r = g(a) / g(b)
    ok = "ok" if r >= target else "MISSED"
    print(f"{name:<58} {r*100:7.1f}%  (target {target*100:.0f}%) {ok}")
print("ratios")
ratio("hash simple vs in-process SHA-256", "hash_simple_MBps", "hash_raw_sha256_MBps", 0.95)
ratio("hash simple vs openssl speed -evp sha256", "hash_simple_MBps", "openssl_sha256_MBps", 0.95)
ratio("hash relaxed vs in-process SHA-256", "hash_relaxed_MBps", "hash_raw_sha256_MBps", 0.75)
ratio("hash relaxed vs openssl speed -evp sha256", "hash_relaxed_MBps", "openssl_sha256_MBps", 0.75)
ratio("sign rsa2048 4k vs in-process raw RSA sign", "sign_rsa2048_4k_per_s", "raw_rsa2048_sign_per_s", 0.85)
ratio("sign rsa2048 4k vs openssl speed rsa2048", "sign_rsa2048_4k_per_s", "openssl_rsa2048_sign_per_s", 0.85)
ratio("sign ed25519 4k vs libsodium raw sign", "sign_ed25519_4k_per_s", "raw_ed25519_sign_per_s", 0.75)
for op in ("sign", "verify"):
    for an in ("rsa2048", "ed25519"):
        for sk in ("4k", "100k"):
            ratio(f"python binding {op} {an} {sk} vs C++", f"py_{op}_{an}_{sk}_per_s", f"{op}_{an}_{sk}_per_s", 0.80)
print("scale (mailkit C++ / anchor)")
for op in ("sign", "verify"):
    for an in ("rsa2048", "ed25519"):
        for sk in ("4k", "100k"):
            k = f"{op}_{an}_{sk}_per_s"
            line = f"  {k:<28} dkimpy x{g(k)/g('dkimpy_'+k):6.1f}"
            if an == "rsa2048":
                line += f"   Mail::DKIM x{g(k)/g('maildkim_'+k):6.1f}"
            print(line)
PY
