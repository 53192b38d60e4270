// SPDX-License-Identifier: Apache-2.0
/// @file charset.hpp
/// Conversion of text in a declared charset to UTF-8, as mail readers do it: charset names and
/// aliases matched case-insensitively (RFC 2978 registry names, "utf8", "latin1", "cp1252",
/// "x-sjis", ...), US-ASCII and ISO-8859-1 read as Windows-1252 (what senders mean in practice,
/// as the WHATWG encoding standard also specifies), undecodable bytes replaced by U+FFFD, never
/// an exception and never a crash. Conversion uses iconv(3) with one cached converter per charset
/// and thread; UTF-8 and ASCII take a validating fast path with no copy through iconv.
///
/// **Standards**: RFC 2045 §5.1 (charset parameter), RFC 2046 §4.1.2, RFC 2978 (names).
/// **Security**: reads untrusted bytes; output is always well-formed UTF-8.
#pragma once

#include <mailkit/core/expected.hpp>

#include <string>
#include <string_view>

namespace mailkit::mime {

/// The canonical name of a charset label ("latin1" -> "windows-1252", "UTF8" -> "utf-8"), or an
/// empty string for a name no converter accepts.
[[nodiscard]] std::string canonical_charset(std::string_view label);

/// Is there a converter for this label?
[[nodiscard]] bool is_known_charset(std::string_view label);

/// Convert to UTF-8. Unknown charsets fail with errc::unknown_charset (callers that must show
/// something then fall back, as `to_utf8_lenient` does). Ill-formed input is replaced by U+FFFD.
[[nodiscard]] expected<std::string> to_utf8(std::string_view bytes, std::string_view charset);

/// Convert to UTF-8, never failing: an unknown charset is read as UTF-8 when the bytes are valid
/// UTF-8, else as Windows-1252 (what mail clients do with undeclared 8-bit text).
[[nodiscard]] std::string to_utf8_lenient(std::string_view bytes, std::string_view charset);

/// Convert UTF-8 text to a charset (for the builder and tests). Characters the charset cannot
/// represent fail with errc::conversion_failed.
[[nodiscard]] expected<std::string> from_utf8(std::string_view utf8, std::string_view charset);

} // namespace mailkit::mime
