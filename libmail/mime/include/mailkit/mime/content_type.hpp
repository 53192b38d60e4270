// SPDX-License-Identifier: Apache-2.0
/// @file content_type.hpp
/// Content-Type and Content-Disposition values (RFC 2045 §5, RFC 2183) with parameters, RFC 2231
/// continuations, charsets and languages ("title*0*=us-ascii'en'This%20is"), and the lenient
/// readings mail clients apply: RFC 2047 encoded words inside quoted parameter values, unquoted
/// values with spaces, missing semicolons, comments, duplicate parameters (the first wins).
///
/// **Standards**: RFC 2045 §5.1, RFC 2046, RFC 2183, RFC 2231 §3-§4 (and §5 in encoded words).
/// **Security**: parses untrusted header bytes; continuations bounded (at most 1000 segments).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkit::mime {

/// A parameter: the name in lower case, the value decoded to UTF-8 (RFC 2231 segments joined and
/// percent-decoded then converted from their charset; RFC 2047 words decoded).
struct parameter {
  std::string name;
  std::string value;
  friend bool operator==(const parameter&, const parameter&) = default;
};

/// A parsed Content-Type ("text/plain; charset=utf-8") or Content-Disposition ("attachment;
/// filename=a.pdf"): for a disposition `type` is the disposition and `subtype` is empty.
struct content_type {
  std::string type;              ///< lower case; empty when the field held nothing usable
  std::string subtype;           ///< lower case; may be empty ("inline", or a broken "text")
  std::vector<parameter> params; ///< in order of first appearance

  /// Value of a parameter (name compared case-insensitively), or nullopt.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const noexcept;
  /// "type/subtype" in lower case, or just "type" when there is no subtype.
  [[nodiscard]] std::string mime_type() const;
  [[nodiscard]] bool is(std::string_view type_, std::string_view subtype_ = {}) const noexcept;
  friend bool operator==(const content_type&, const content_type&) = default;
};

/// Parse a Content-Type or Content-Disposition value (raw, possibly folded).
[[nodiscard]] content_type parse_content_type(std::string_view raw);

/// Format a parameter value for a header: as a token, a quoted string, or RFC 2231 encoded
/// (name*=utf-8''...) when it is not ASCII. Returns "; name=value" pieces ready to append.
[[nodiscard]] std::string format_parameter(std::string_view name, std::string_view value);

} // namespace mailkit::mime
