// SPDX-License-Identifier: Apache-2.0
/// @file field.hpp
/// Smaller structured fields: message identifiers (Message-ID, In-Reply-To, References, Content-ID,
/// RFC 5322 §3.6.4) and comma-separated phrase lists (Keywords, RFC 5322 §3.6.5; List-* fields).
///
/// **Standards**: RFC 5322 §3.6.4, §3.6.5, §4.5.4 (obsolete id syntax), RFC 2369 (List-*).
/// **Security**: parses untrusted header bytes; pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mime {

/// The identifiers in a Message-ID/References-style field, without angle brackets. Lenient: an id
/// with no brackets, comments between ids, and phrases mixed in (obsolete In-Reply-To) are read
/// as clients read them; whitespace inside an id is removed.
[[nodiscard]] std::vector<std::string> parse_id_list(std::string_view raw);

/// The items of a comma-separated list, each unfolded, trimmed, RFC 2047-decoded and with inner
/// runs of whitespace collapsed; empty items are dropped.
[[nodiscard]] std::vector<std::string> parse_text_list(std::string_view raw);

namespace detail {
/// The part of `raw` that belongs to one field: RFC 5322 §2.2.3 lets a field continue on the next
/// line only when that line starts with WSP, so the first CRLF or bare LF (or bare CR) not
/// followed by WSP ends it. The field parsers apply this first, so input that runs on into the
/// next header line ("Subject: a\nX-Other: b") never leaks into a value. Points into `raw`.
[[nodiscard]] std::string_view field_body(std::string_view raw) noexcept;
} // namespace detail

} // namespace mailkit::mime
