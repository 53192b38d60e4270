// SPDX-License-Identifier: Apache-2.0
/// @file fetch.hpp
/// FETCH arguments: the data items (with the ALL, FAST and FULL macros expanded), body sections
/// and partial ranges, and the CONDSTORE/QRESYNC modifiers.
///
/// Standards: RFC 9051 §6.4.5 (FETCH items, macros, BODY[section]<partial>, BODY.PEEK, BINARY,
/// BINARY.PEEK, BINARY.SIZE), §9 (section-spec, section-part, section-msgtext, header-list);
/// RFC 3501 §6.4.5 (RFC822, RFC822.HEADER, RFC822.TEXT); RFC 3516 §4 (BINARY); RFC 7162 §3.1.4
/// (MODSEQ item, CHANGEDSINCE) and §3.2.6 (VANISHED); RFC 8474 is not supported.
/// Security: parses client input: section parts are at most max_section_depth levels, header
/// lists at most max_header_fields names.
#pragma once

#include <mailkit/imap/reader.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mailkit::imap {

inline constexpr std::size_t max_section_depth = 32;
inline constexpr std::size_t max_header_fields = 256;

struct section {
  enum class spec : std::uint8_t {
    whole,             ///< BODY[] or BODY[1.2]: the part (or message) entire
    header,            ///< HEADER
    header_fields,     ///< HEADER.FIELDS (names)
    header_fields_not, ///< HEADER.FIELDS.NOT (names)
    text,              ///< TEXT
    mime,              ///< MIME (only after a part number)
  };
  std::vector<std::uint32_t> part; ///< "1.2.3" -> {1,2,3}; empty for the top-level message
  spec s = spec::whole;
  std::vector<std::string> fields; ///< for header_fields(_not), as sent
};

struct fetch_item {
  enum class kind : std::uint8_t {
    flags,
    internaldate,
    rfc822_size,
    envelope,
    body, ///< BODY without a section: the non-extensible BODYSTRUCTURE
    bodystructure,
    uid,
    modseq,      ///< RFC 7162
    section,     ///< BODY[...] / BODY.PEEK[...] (and RFC822, RFC822.HEADER, RFC822.TEXT)
    binary,      ///< BINARY[...] / BINARY.PEEK[...] (RFC 3516)
    binary_size, ///< BINARY.SIZE[...]
  };
  kind k = kind::flags;
  bool peek = false; ///< .PEEK: \Seen is not set (RFC 9051 §6.4.5)
  section sec;
  /// <origin.count> (RFC 9051 §6.4.5): `count` octets from `origin`.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> partial;
  /// The name the response uses for this item ("BODY[HEADER.FIELDS (FROM)]<0>",
  /// "RFC822.HEADER" ...), as RFC 9051 §7.5.2 wants it echoed.
  std::string response_name;
};

struct fetch_command {
  std::vector<fetch_item> items;
  std::optional<std::uint64_t> changed_since; ///< (CHANGEDSINCE n), RFC 7162 §3.1.4.1
  bool vanished = false;                      ///< (VANISHED) in UID FETCH, RFC 7162 §3.2.6
};

/// Parse the FETCH arguments after the sequence set: a macro, one item, or a list of items,
/// then optional modifiers. errc::syntax for anything else.
[[nodiscard]] mailkit::expected<fetch_command> parse_fetch(std::span<const token> args);

/// Parse one item from its atom text ("BODY.PEEK[1.MIME]<0.100>").
[[nodiscard]] mailkit::expected<fetch_item> parse_fetch_item(std::string_view atom);

} // namespace mailkit::imap
