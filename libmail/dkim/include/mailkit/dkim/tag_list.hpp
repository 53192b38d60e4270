// SPDX-License-Identifier: Apache-2.0
/// @file tag_list.hpp
/// The tag=value list syntax shared by DKIM-Signature fields and key records (RFC 6376 §3.2).
/// Results point into the input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

/// One tag-spec. `value` has surrounding FWS removed but inner FWS kept (callers that need it
/// gone, such as b= and p=, strip it).
struct tag {
  std::string_view name;
  std::string_view value;
  std::size_t value_begin = 0; ///< offset of the raw value (after "=") in the input
  std::size_t value_end = 0;   ///< offset of the end of the raw value (the ";" or the end)
};

/// Parse a tag-list. Returns an empty string on success, else the reason it is malformed.
/// RFC 6376 §3.2: tag names are ALPHA *(ALPHA / DIGIT / "_"); a duplicate tag invalidates the
/// whole list. Deliberate leniency: empty tag-specs (";;") are skipped, as dkimpy, Mail::DKIM and
/// OpenDKIM skip them.
[[nodiscard]] std::string parse_tag_list(std::string_view text, std::vector<tag>& out);

/// Copy of `s` without any SP, HTAB, CR or LF (for base64 values and h= lists).
[[nodiscard]] std::string strip_fws(std::string_view s);

} // namespace mailkit::dkim
