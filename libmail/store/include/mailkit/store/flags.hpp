// SPDX-License-Identifier: Apache-2.0
/// @file flags.hpp
/// Message flags: the IMAP system flags as bits, keywords as strings (RFC 3501 §2.3.2).
/// \Recent is per session in IMAP and is not stored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::store {

enum system_flag : std::uint8_t {
  flag_seen = 1,
  flag_answered = 2,
  flag_flagged = 4,
  flag_deleted = 8,
  flag_draft = 16,
};

/// Keywords per message (each at most this long; RFC 3501 atoms have no fixed limit).
inline constexpr std::size_t max_keyword_length = 128;
inline constexpr std::size_t max_keywords_per_message = 128;

struct flag_set {
  std::uint8_t system = 0;
  std::vector<std::string> keywords; ///< sorted, unique, as given in case (IMAP keywords are
                                     ///< compared case-insensitively by clients; kept verbatim)
  friend bool operator==(const flag_set&, const flag_set&) = default;

  /// Parse IMAP flag names ("\\Seen", "\\Answered", "$Junk" ...). Unknown backslash names and
  /// \Recent are ignored; invalid keywords (not an atom, too long) make it return false.
  bool add(std::string_view name);
  /// IMAP names, system flags first.
  [[nodiscard]] std::vector<std::string> names() const;
  /// Space-separated keywords (the database form).
  [[nodiscard]] std::string keywords_text() const;
  static flag_set from_text(std::uint8_t system, std::string_view keywords);
  /// Normalize keywords (sort, dedupe).
  void normalize();
};

} // namespace mailkit::store
