#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check_portable.sh SOURCE_DIR: the source checks of issue 7 (docs/arm64.md), run by ctest as
# arm64_portability.
#  1. SIMD: every libmail source with vector code (GCC/Clang vector_size extensions, x86 SSE/AVX
#     or Arm NEON/SVE intrinsics) is listed in tests/arm64/simd_paths.txt with a portable twin
#     that exists in the file and a test that runs both paths through the named switch.
#  2. Page size: no hard-coded page size. PAGE_SIZE/PAGE_SHIFT macros and getpagesize() are
#     refused outright; a file that calls mmap/mprotect/munmap/madvise/mremap must ask
#     sysconf(_SC_PAGESIZE); alignas/aligned_alloc/posix_memalign with 4096 or larger constants
#     and 4096 next to mmap-family calls are refused.
# Prints every finding and "N passed, N failed" for the two checks; exit 1 on any finding.
set -euo pipefail
SRC=${1:?usage: check_portable.sh SOURCE_DIR}
cd "$SRC"
LIST=tests/arm64/simd_paths.txt
dirs=(libmail apps bindings/python/src)
passed=0
failed=0
findings=()

# --- 1. SIMD fast paths -----------------------------------------------------------------------
simd_re='vector_size|__attribute__\(\(vector|#include <(x86intrin|immintrin|emmintrin|xmmintrin|pmmintrin|tmmintrin|smmintrin|nmmintrin|wmmintrin|arm_neon|arm_sve|arm_acle)\.h>|__builtin_ia32_|_mm_[a-z0-9_]+\(|_mm256_|_mm512_|vld1q_|vst1q_'
mapfile -t simd_files < <(grep -rlE "$simd_re" "${dirs[@]}" --include='*.cpp' --include='*.hpp' --include='*.h' --include='*.cc' 2>/dev/null | sort)
simd_ok=1
simd_entries=0
for f in "${simd_files[@]}"; do
  # A file may hold several vector functions (one per target): one entry each.
  mapfile -t lines < <(grep -E "^$f[[:space:]]*\|" "$LIST" || true)
  if ((${#lines[@]} == 0)); then
    findings+=("SIMD: $f has vector code but no entry in $LIST (add its portable twin and a test of both)")
    simd_ok=0
    continue
  fi
  for line in "${lines[@]}"; do
    IFS='|' read -r _ vec twin test switch <<<"$line"
    vec=$(echo "$vec" | xargs); twin=$(echo "$twin" | xargs); test=$(echo "$test" | xargs); switch=$(echo "$switch" | xargs)
    simd_entries=$((simd_entries + 1))
    grep -q "\b$vec\b" "$f" || { findings+=("SIMD: $f: vector function $vec not found"); simd_ok=0; }
    grep -q "\b$twin\b" "$f" || { findings+=("SIMD: $f: portable twin $twin not found"); simd_ok=0; }
    [[ -f $test ]] || { findings+=("SIMD: $f: test $test missing"); simd_ok=0; continue; }
    grep -q "\b$switch\b" "$test" || { findings+=("SIMD: $test does not use $switch (both paths untested)"); simd_ok=0; }
  done
done
# Entries whose file no longer has vector code are stale.
while IFS='|' read -r file _; do
  file=$(echo "$file" | xargs)
  [[ -z $file || $file == \#* ]] && continue
  if [[ ! -f $file ]] || ! grep -qE "$simd_re" "$file"; then
    findings+=("SIMD: $LIST lists $file, which has no vector code (remove the entry)")
    simd_ok=0
  fi
done < <(grep -v '^#' "$LIST")
echo "simd: ${#simd_files[@]} file(s) with vector code, $simd_entries vector function(s) listed: ${simd_files[*]:-none}"
if ((simd_ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi

# --- 2. Page size -----------------------------------------------------------------------------
page_ok=1
pages='(4096|0x1000|16384|0x4000|65536|0x10000)'
while IFS= read -r hit; do
  findings+=("page size: hard-coded page size macro or getpagesize(): $hit")
  page_ok=0
done < <(grep -rnE '\bPAGE_(SIZE|SHIFT|MASK)\b|\bgetpagesize[[:space:]]*\(' "${dirs[@]}" --include='*.cpp' --include='*.hpp' --include='*.h' || true)
while IFS= read -r hit; do
  findings+=("page size: page-sized constant in an allocation or mapping: $hit")
  page_ok=0
done < <(grep -rnE "\b(mmap|mprotect|madvise|mremap|munmap)[[:space:]]*\([^;]*\b$pages\b|alignas[[:space:]]*\([[:space:]]*$pages[[:space:]]*\)|aligned_alloc[[:space:]]*\([[:space:]]*$pages\b|posix_memalign[[:space:]]*\([^,]*,[[:space:]]*$pages\b" "${dirs[@]}" --include='*.cpp' --include='*.hpp' --include='*.h' || true)
mapfile -t map_files < <(grep -rlE '\b(mmap|mprotect|munmap|madvise|mremap)[[:space:]]*\(' "${dirs[@]}" --include='*.cpp' --include='*.hpp' --include='*.h' | sort || true)
for f in "${map_files[@]}"; do
  grep -q '_SC_PAGESIZE\|_SC_PAGE_SIZE' "$f" || {
    findings+=("page size: $f maps memory without asking sysconf(_SC_PAGESIZE)")
    page_ok=0
  }
done
echo "page size: ${#map_files[@]} file(s) map memory: ${map_files[*]:-none}"
if ((page_ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi

for f in "${findings[@]}"; do echo "FINDING: $f"; done
echo "$passed passed, $failed failed"
((failed == 0))
