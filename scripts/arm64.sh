#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# arm64.sh: the aarch64 cross build, its test runs under qemu-user and its emulated benchmarks
# (issue 7, docs/arm64.md). Called by `make test-arm64` and `make bench-arm64`.
#
#   scripts/arm64.sh setup       multiarch + cross toolchain + arm64 -dev packages (bootstrap --arm64)
#   scripts/arm64.sh build       configure and build build/arm64 (toolchain cmake/toolchains/...)
#   scripts/arm64.sh test        ctest under qemu-aarch64: 4K pages, then 64K pages, then the
#                                portable pass (MAILKIT_PORTABLE=1, OpenSSL's generic C code)
#   scripts/arm64.sh bench       the benchmark binaries under qemu, every figure labelled emulated
#   scripts/arm64.sh portable-x86  native x86-64 build (build/arm64-portable-x86) with
#                                MAILKIT_PORTABLE defined, unit tests run there too
#   scripts/arm64.sh all         setup, build, test (what `make test-arm64` runs)
#
# Environment: ARM64_BUILD (default build/arm64), ARM64_JOBS (default 2), ARM64_NICE (default 15),
# ARM64_TEST_JOBS (ctest -j, default 2), ARM64_BENCH_LIMIT (seconds per benchmark binary under
# qemu, default 600).
#
# Which tests run under qemu: every unit and conformance test (label unit), the examples (label
# example) and the DNS interop test (dns_interop_cares: the emulated test binary starts Debian's
# amd64 nsd and unbound, which run natively, and talks to them over loopback), the store interop
# (doveadm), the SMTP server interop (arm64_smtp_server_4k/_64k: the emulated server with
# swaks, smtplib, Postfix and the chasquid dialogs as clients, tests/arm64/tests.cmake) and the
# IMAP server interop (arm64_imap_server_4k/_64k: Python imaplib against the emulated
# server). dkim_interop is
# left out: it drives mailkit through the Python module from the amd64 /usr/bin/python3, which
# cannot load an aarch64 extension, and Debian's arm64 python3.11 cannot be co-installed with the
# amd64 one (same path). The Python module is built and checked to be an aarch64 ELF that needs
# only arm64 libraries.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${ARM64_BUILD:-build/arm64}
JOBS=${ARM64_JOBS:-2}
NICE=${ARM64_NICE:-15}
TEST_JOBS=${ARM64_TEST_JOBS:-2}
TOOLCHAIN=$ROOT/cmake/toolchains/aarch64-linux-gnu.cmake
QEMU=(qemu-aarch64 -L /) # the multiarch arm64 runtime (see the toolchain file)
# ctest: every test but those where the amd64 python3 would load or exec aarch64 code itself
# (dkim_interop and smtp_client_interop_* load the module; smtp_server_interop_*, inbound_,
# relay_, outbound_ and imap_interop_* exec an aarch64 test server or tool directly, and
# store_interop_hestia, dnscheck_interop and mailkitd_interop exec the aarch64 CLI or daemon: the SMTP and IMAP server pytest files
# run as arm64_smtp_server_4k/_64k and arm64_imap_server_4k/_64k, with the server under qemu).
CTEST_EXCLUDE='^dkim_interop$|^smtp_server_interop_|^smtp_client_interop_|^inbound_interop_|^relay_interop$|^outbound_interop$|^imap_interop_|^store_interop_hestia$|^dnscheck_interop$|^mailkitd_interop$'

log() { printf '\n== arm64: %s\n' "$*"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

setup() {
  local t0
  t0=$(date +%s)
  log "setup (scripts/bootstrap.sh --arm64)"
  bash scripts/bootstrap.sh --arm64
  echo "setup: $(elapsed "$t0")"
}

build() {
  local t0
  t0=$(date +%s)
  log "configure $BUILD"
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    nice -n "$NICE" cmake --preset dev -B "$BUILD" --toolchain "$TOOLCHAIN" >"$BUILD.configure.log" 2>&1 ||
      { cat "$BUILD.configure.log" >&2; return 1; }
  fi
  log "build $BUILD (-j$JOBS, nice $NICE)"
  nice -n "$NICE" cmake --build "$BUILD" -j "$JOBS"
  check_binaries
  echo "build: $(elapsed "$t0")"
}

# Every binary and the Python module are aarch64 and load only arm64 libraries.
check_binaries() {
  log "check: binaries are aarch64"
  local n=0 bad=0 f
  while IFS= read -r f; do
    n=$((n + 1))
    if ! readelf -h "$f" 2>/dev/null | grep -q 'Machine:.*AArch64'; then
      echo "not aarch64: $f" >&2
      bad=$((bad + 1))
    fi
  done < <(find "$BUILD" -type f \( -perm -u+x -o -name '*.so' \) -not -path '*/CMakeFiles/*' \
             -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
  local module
  module=$(find "$BUILD/bindings/python/mailkit" -name '_mailkit.cpython-311-aarch64-linux-gnu.so' 2>/dev/null | head -1)
  if [[ -z $module ]]; then
    echo "Python module _mailkit.cpython-311-aarch64-linux-gnu.so not built" >&2
    bad=$((bad + 1))
  else
    # Resolve its libraries the way the arm64 loader would (multiarch path, cross sysroot).
    local missing
    missing=$(aarch64-linux-gnu-readelf -d "$module" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
      while read -r lib; do
        [[ -e /usr/lib/aarch64-linux-gnu/$lib || -e /lib/aarch64-linux-gnu/$lib ||
           -e /usr/aarch64-linux-gnu/lib/$lib ]] || echo "$lib"
      done)
    if [[ -n $missing ]]; then
      echo "Python module needs libraries with no arm64 build: $missing" >&2
      bad=$((bad + 1))
    fi
    echo "python module: ${module#"$ROOT"/} ($(aarch64-linux-gnu-readelf -d "$module" | grep -c NEEDED) shared libraries, all arm64)"
  fi
  echo "$n ELF files checked, $bad problems"
  ((bad == 0))
}

# One ctest pass; extra arguments go to ctest, the environment to the emulator and the tests.
ctest_pass() {
  local name=$1
  shift
  local t0
  t0=$(date +%s)
  log "ctest under qemu-aarch64: $name"
  (cd "$BUILD" && nice -n "$NICE" ctest --output-on-failure -j "$TEST_JOBS" --timeout 900 "$@")
  echo "ctest $name: $(elapsed "$t0")"
}

test_all() {
  [[ -f $BUILD/CTestTestfile.cmake ]] || { echo "arm64.sh: build $BUILD first" >&2; return 1; }
  qemu-aarch64 --version | head -1
  # 1. Host page size (4K): unit + conformance, examples, DNS interop against amd64 nsd/unbound;
  #    arm64_page_size_16k/_64k run here too, with their own QEMU_PAGESIZE.
  ctest_pass "all tests (4K pages; interop: dns_interop_cares)" -E "$CTEST_EXCLUDE"
  # 2. 64K pages for the whole unit and conformance suite (the guest's sysconf(_SC_PAGESIZE),
  #    AT_PAGESZ and mmap granularity are 64K).
  QEMU_PAGESIZE=65536 ctest_pass "unit + conformance with 64K pages" -L unit -E "$CTEST_EXCLUDE|^arm64_"
  # 3. Portable paths: MAILKIT_PORTABLE=1 (libmail's run-time switch for its vector fast paths)
  #    and OPENSSL_armcap=0 (OpenSSL uses its generic C code, no NEON or ARMv8 crypto
  #    extensions), on a Neoverse-N1 CPU model (the Ampere A1 core).
  MAILKIT_PORTABLE=1 OPENSSL_armcap=0 QEMU_CPU=neoverse-n1 \
    ctest_pass "portable paths (MAILKIT_PORTABLE=1, OPENSSL_armcap=0, -cpu neoverse-n1)" -L unit -E "$CTEST_EXCLUDE|^arm64_page_size_"
}

bench() {
  [[ -d $BUILD/benchmarks ]] || { echo "arm64.sh: build $BUILD first" >&2; return 1; }
  local bin=$BUILD/benchmarks corpus=$BUILD/bench-corpus out=$BUILD/bench-arm64-results.txt
  local label="[emulated: qemu-aarch64 on $(uname -m), not comparable with native figures]"
  local limit=${ARM64_BENCH_LIMIT:-600} # seconds per benchmark binary
  log "benchmarks under qemu-aarch64 $label"
  if ! grep -qs "^generator=$(sed -n 's/^GENERATOR_VERSION = //p' benchmarks/gen_corpus.py) " "$corpus/MANIFEST"; then
    echo "generating $corpus"
    /usr/bin/python3 benchmarks/gen_corpus.py "$corpus" >/dev/null
  fi
  : >"$out"
  emit() { sed "s|^|$label |" | tee -a "$out"; }
  {
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); host: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "qemu: $(qemu-aarch64 --version | head -1), cpu model ${QEMU_CPU:-max}"
  } | emit
  local b
  for b in core_bench mime_bench; do
    [[ -x $bin/$b ]] || { echo "arm64.sh: $bin/$b not built" >&2; return 1; }
    MAILKIT_BENCH_CORPUS=$corpus timeout "$limit" nice -n "$NICE" "${QEMU[@]}" "$bin/$b" \
      --benchmark_min_time=0.05 --benchmark_format=console 2>/dev/null |
      grep -E '^[A-Za-z_][^ ]* +[0-9.]+ (ns|us|ms|s) ' | emit
  done
  if [[ -x $bin/dkim_throughput ]]; then
    timeout "$limit" nice -n "$NICE" "${QEMU[@]}" "$bin/dkim_throughput" 0.5 | emit
  fi
  if [[ -x $bin/spf_throughput ]]; then
    timeout "$limit" nice -n "$NICE" "${QEMU[@]}" "$bin/spf_throughput" 0.5 | emit
  fi
  local msgs=()
  mapfile -t msgs < <(find "$corpus" -name '*.eml' -size -2M | sort | head -200)
  if ((${#msgs[@]} > 0)); then
    timeout "$limit" nice -n "$NICE" "${QEMU[@]}" "$bin/mime_throughput" --repeat 3 "${msgs[@]}" | emit
  fi
  echo "results: ${out#"$ROOT"/}"
}

portable_x86() {
  local dir=build/arm64-portable-x86 t0
  t0=$(date +%s)
  log "native x86-64 build with MAILKIT_PORTABLE ($dir)"
  if [[ ! -f $dir/CMakeCache.txt ]]; then
    nice -n "$NICE" cmake --preset dev -B "$dir" -DMAILKIT_BUILD_PYTHON=OFF -DMAILKIT_BUILD_BENCHMARKS=OFF \
      -DMAILKIT_BUILD_APPS=OFF -DCMAKE_CXX_FLAGS=-DMAILKIT_PORTABLE=1 \
      -DCMAKE_PROJECT_mailkit_INCLUDE="$ROOT/tests/arm64/arm64.cmake" >/dev/null
  fi
  nice -n "$NICE" cmake --build "$dir" -j "$JOBS"
  (cd "$dir" && MAILKIT_PORTABLE=1 nice -n "$NICE" ctest --output-on-failure -j "$TEST_JOBS" -L unit)
  echo "portable-x86: $(elapsed "$t0")"
}

main() {
  local t0
  t0=$(date +%s)
  case ${1:-} in
    setup) setup ;;
    build) build ;;
    test) test_all ;;
    bench) bench ;;
    portable-x86) portable_x86 ;;
    all)
      setup
      build
      test_all
      ;;
    *)
      sed -n '3,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
      return 2
      ;;
  esac
  echo "arm64.sh ${1}: done in $(elapsed "$t0")"
}

main "$@"
