// SPDX-License-Identifier: Apache-2.0
/// @file encode.hpp
/// Writing IMAP strings in responses: atoms where the grammar allows them, quoted strings when
/// the text is safe to quote, literals otherwise.
///
/// Standards: RFC 9051 §4.3 (strings: a quoted string cannot hold CR, LF or NUL; "\" and DQUOTE
/// are escaped), §9 (astring, nstring, ATOM-CHAR); RFC 6855 §3 (UTF-8 in quoted strings only
/// after ENABLE UTF8=ACCEPT; otherwise 8-bit text goes in a literal).
/// Security: output side; every octet of server data is either escaped or sent in a counted
/// literal, so message content can never inject a response line.
#pragma once

#include <string>
#include <string_view>

namespace mailkit::imap {

/// Longest text sent as a quoted string; longer text goes in a literal.
inline constexpr std::size_t max_quoted = 1024;

/// Can `s` be sent as an atom (ASTRING-CHARs only, non-empty, not NIL)?
[[nodiscard]] bool is_atom_text(std::string_view s) noexcept;
/// Append `s` as a string: quoted when it has no CR, LF, NUL (and, unless `utf8`, no 8-bit
/// octet) and is at most max_quoted octets; otherwise as a literal "{n}\r\n" + octets.
void append_string(std::string& out, std::string_view s, bool utf8 = false);
/// Append `s` as an astring: an atom when is_atom_text(s), else as append_string.
void append_astring(std::string& out, std::string_view s, bool utf8 = false);
/// Append NIL for an absent value, else the string.
void append_nstring(std::string& out, const std::string* s, bool utf8 = false);
/// Append a literal "{n}\r\n" + octets (for BODY[] data, always a literal).
void append_literal(std::string& out, std::string_view s);

} // namespace mailkit::imap
