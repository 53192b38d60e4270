// SPDX-License-Identifier: Apache-2.0
/// @file sequence.hpp
/// Sequence sets ("1:4,7,9:*") for message sequence numbers and UIDs.
///
/// Standards: RFC 9051 §9 (sequence-set, seq-number, seq-range: "*" is the largest number in
/// use, a range is the same in either order, nz-number is 1 to 4294967295), RFC 5182 ("$", the
/// saved search result, kept as a flag for the session to substitute).
/// Security: parses client input; the number of ranges is bounded (max_sequence_ranges) and the
/// result is normalized (sorted, merged), so membership tests are logarithmic whatever was sent.
#pragma once

#include <mailkit/core/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::imap {

/// Ranges in one set (after the syntax; before merging).
inline constexpr std::size_t max_sequence_ranges = 100'000;

class sequence_set {
public:
  /// One range as written; `star` marks an end that was "*".
  struct range {
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    bool low_star = false;
    bool high_star = false;
  };

  /// RFC 9051 §9 sequence-set, or "$" (RFC 5182). errc::bad_sequence for anything else,
  /// including 0 and numbers over 4294967295.
  [[nodiscard]] static mailkit::expected<sequence_set> parse(std::string_view text);

  /// The set with "*" standing for `largest` (the highest sequence number or UID in the
  /// mailbox, 0 when it is empty: then a lone "*" matches nothing and "n:*" stands for "1:n"),
  /// sorted and merged.
  [[nodiscard]] std::vector<std::pair<std::uint32_t, std::uint32_t>>
  resolve(std::uint32_t largest) const;
  /// Is `n` in the set, "*" being `largest`.
  [[nodiscard]] bool contains(std::uint32_t n, std::uint32_t largest) const;

  [[nodiscard]] bool is_saved_result() const noexcept { return saved_; }
  [[nodiscard]] const std::vector<range>& ranges() const noexcept { return ranges_; }
  /// The set as IMAP writes it, compact ("1:3,5"): from sorted, merged ranges.
  [[nodiscard]] static std::string
  format(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& merged);
  /// Sorted, merged ranges of the given numbers.
  [[nodiscard]] static std::vector<std::pair<std::uint32_t, std::uint32_t>>
  compress(std::vector<std::uint32_t> numbers);

private:
  std::vector<range> ranges_;
  bool saved_ = false;
};

} // namespace mailkit::imap
