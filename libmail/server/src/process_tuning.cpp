// SPDX-License-Identifier: Apache-2.0
#include <mailkit/server/process_tuning.hpp>

#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mailkit::server {

bool tune_allocator(const allocator_tuning& t) noexcept {
#if defined(__GLIBC__)
  if (t.mmap_threshold > INT_MAX || t.trim_threshold > INT_MAX) return false;
  // Setting either turns off glibc's dynamic threshold, which would otherwise move the mmap
  // threshold up only after the first large buffer has been mapped and unmapped.
  const bool a = mallopt(M_MMAP_THRESHOLD, static_cast<int>(t.mmap_threshold)) == 1;
  const bool b = mallopt(M_TRIM_THRESHOLD, static_cast<int>(t.trim_threshold)) == 1;
  return a && b;
#else
  (void)t;
  return false;
#endif
}

} // namespace mailkit::server
