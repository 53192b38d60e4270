// SPDX-License-Identifier: Apache-2.0
/// @file fuzz_support.hpp
/// Helpers shared by the libFuzzer targets: a check that traps (so libFuzzer reports the input
/// and ASan prints the stack), and chunk sizes derived from the input itself, so that feeding a
/// streaming decoder or the incremental parser in pieces is reproducible from the crash file
/// alone.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

/// An invariant the code under test promises. Unlike assert() it survives NDEBUG builds.
#define MAILKIT_FUZZ_CHECK(cond)                                                                   \
  do {                                                                                             \
    if (!(cond)) __builtin_trap();                                                                 \
  } while (false)

namespace mailkit::fuzz {

/// The input as a string_view (libFuzzer passes nullptr with size 0 for the empty input).
[[nodiscard]] inline std::string_view as_view(const std::uint8_t* data, std::size_t size) noexcept {
  return size == 0 ? std::string_view()
                   : std::string_view(reinterpret_cast<const char*>(data), size);
}

/// FNV-1a of the input: the seed of every pseudo-random choice a target makes.
[[nodiscard]] inline std::uint64_t input_hash(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// SplitMix64: small, fast, and good enough to vary chunk sizes.
class rng {
public:
  explicit rng(std::uint64_t seed) noexcept : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) for n > 0.
  std::size_t below(std::size_t n) noexcept { return static_cast<std::size_t>(next() % n); }

private:
  std::uint64_t s_;
};

/// Split `s` into consecutive pieces whose sizes come from `seed`: mostly tiny pieces (1-8 bytes,
/// which cut every token and line ending), some medium, some large, and empty pieces too, which
/// a streaming interface must accept.
[[nodiscard]] inline std::vector<std::string_view> split(std::string_view s, std::uint64_t seed) {
  rng r(seed);
  std::vector<std::string_view> pieces;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t n = 0;
    switch (r.below(8)) {
    case 0:
      n = 0;
      break;
    case 1:
    case 2:
    case 3:
      n = 1 + r.below(8);
      break;
    case 4:
    case 5:
      n = 1 + r.below(80);
      break;
    case 6:
      n = 1 + r.below(1024);
      break;
    default:
      n = 1 + r.below(s.size());
      break;
    }
    n = std::min(n, s.size() - pos);
    pieces.push_back(s.substr(pos, n));
    pos += n;
  }
  return pieces;
}

/// Does `inner` lie within `outer` (both views; an empty view matches anywhere or nowhere)?
[[nodiscard]] inline bool within(std::string_view inner, std::string_view outer) noexcept {
  if (inner.empty()) return true;
  const auto b = reinterpret_cast<std::uintptr_t>(outer.data());
  const auto i = reinterpret_cast<std::uintptr_t>(inner.data());
  return i >= b && i + inner.size() <= b + outer.size();
}

} // namespace mailkit::fuzz
