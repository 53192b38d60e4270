// SPDX-License-Identifier: Apache-2.0
/// @file simd.hpp
/// The switch between libmail's vector fast paths and their portable C++ twins (issue 7,
/// docs/arm64.md).
///
/// libmail has no hand-written intrinsics: its vector code uses the GCC/Clang vector extensions,
/// which the compiler lowers to SSE2 on x86-64 and to Advanced SIMD (NEON) on AArch64, and every
/// such path has a plain byte-loop twin that gives the same result (tests/arm64/simd_paths.txt
/// lists them; tests/arm64/check_portable.sh holds new code to that). The twin is taken when
///  - the build defines MAILKIT_PORTABLE (for a compiler or target without vector support, or to
///    rule the vector code out while chasing a bug), or
///  - the process starts with the environment variable MAILKIT_PORTABLE=1 (read once, at the
///    first call), so that the same binaries run the unit tests on both paths, natively and under
///    qemu-aarch64 (scripts/arm64.sh test).
/// Trust role: none; the switch changes speed, never results.
#pragma once

#include <cstdlib>
#include <cstring>

namespace mailkit::simd {

/// True when the build defined MAILKIT_PORTABLE: vector paths are never the default.
inline constexpr bool portable_build =
#if defined(MAILKIT_PORTABLE)
    true;
#else
    false;
#endif

/// True when the hot paths should take their portable twins: a MAILKIT_PORTABLE build, or the
/// environment variable MAILKIT_PORTABLE set to "1" when this was first called.
[[nodiscard]] inline bool portable() noexcept {
  if constexpr (portable_build) {
    return true;
  } else {
    static const bool forced = [] {
      const char* v = std::getenv("MAILKIT_PORTABLE");
      return v != nullptr && std::strcmp(v, "1") == 0;
    }();
    return forced;
  }
}

} // namespace mailkit::simd
