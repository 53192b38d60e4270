// SPDX-License-Identifier: Apache-2.0
/// @file message.hpp
/// Splitting a message into raw header fields and body, as DKIM needs them: byte-exact fields
/// (folding kept) in order, and where the body starts. Results point into the input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

struct header_field {
  std::string_view raw;   ///< the whole field, folded lines and the final line ending included
  std::string_view name;  ///< before the colon, trailing WSP removed (empty when no colon)
  std::string_view value; ///< after the colon up to the final line ending
};

/// Hard limit on header fields considered (RFC 5322 sets none; this is mailkit's, as in mime).
inline constexpr std::size_t max_header_fields = 1000;

struct split_message {
  std::vector<header_field> fields;
  std::size_t body_offset = 0; ///< offset of the body in the input (== size when none)
  bool truncated = false;      ///< more than max_header_fields fields
};

/// Split `header_block` (a message, or just its header section) into fields. The header ends
/// at the first empty line (CRLF CRLF or LF LF); without one the whole input is header.
[[nodiscard]] split_message split_header(std::string_view message);

/// Copy of `s` with every bare LF turned into CRLF (for header sections stored with LF).
[[nodiscard]] std::string to_crlf(std::string_view s);

} // namespace mailkit::dkim
