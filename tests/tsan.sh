#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tsan.sh [BUILD_DIR] [JOBS]: the concurrency tests under ThreadSanitizer (GCC 12, the `tsan`
# preset). Configures the preset into BUILD_DIR (default build/tsan), builds only the test
# targets named in MAILKIT_TSAN_TARGETS (default: store_concurrency, the store's many readers
# and one writer per mailbox with concurrent append, flag and expunge; store_arena, the body
# arena's preparing thread, appends, expunges and readers) and runs them with ctest.
# Any data race, lock-order inversion or thread leak TSan reports fails the run (halt_on_error),
# and so `make test`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/tsan}
jobs=${2:-1}
read -r -a targets <<<"${MAILKIT_TSAN_TARGETS:-store_concurrency store_arena}"

cd "$root"
cmake --preset tsan -B "$build" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

regex=$(printf '^%s$|' "${targets[@]}")
regex=${regex%|}
# second_deadlock_stack: both stacks of a lock-order inversion. TSan's shadow memory needs an
# address layout it knows; kernels with more mmap randomisation than GCC 12's TSan expects
# make it abort at start-up ("unexpected memory mapping"): run without ASLR there.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 report_signal_unsafe=0 ${TSAN_OPTIONS:-}"
runner=()
if command -v setarch >/dev/null && setarch "$(uname -m)" -R true 2>/dev/null; then
  runner=(setarch "$(uname -m)" -R)
fi
cd "$build"
"${runner[@]}" ctest --output-on-failure -R "$regex" --no-tests=error
