// SPDX-License-Identifier: Apache-2.0
/// @file record.hpp
/// Syntax of a DMARC policy record (RFC 7489 §6.3, §6.4 ABNF; RFC 9091 §4 np=): the tag-list
/// of "v=DMARC1; p=...; ..." parsed into a `record`. Pure syntax, no DNS.
///
/// Errors: a missing or wrong v=, duplicate tags, or a missing/invalid p= (without a usable rua=,
/// RFC 7489 §6.6.3) make the record unusable. Invalid values of the other tags fall back to the
/// defaults (RFC 7489 §6.3: "Syntax errors in the remainder of the record SHOULD be discarded in
/// favor of default values") and are listed in `record::warnings`.
///
/// **Standards**: RFC 7489 §6.3, §6.4, §6.6.3; RFC 9091 §4; RFC 6376 §3.2 (tag-list).
/// **Security**: parses untrusted DNS text; bounded by the DNS message size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace mailkit::dmarc {

/// RFC 7489 §6.3 p= / sp= / np= values, least strict first.
enum class policy : std::uint8_t { none, quarantine, reject };
[[nodiscard]] std::string_view to_string(policy p) noexcept;

/// RFC 7489 §6.3 adkim= / aspf=.
enum class alignment : std::uint8_t { relaxed, strict };

/// A reporting URI with its optional size limit (RFC 7489 §6.4 dmarc-uri).
struct report_uri {
  std::string uri;            ///< e.g. "mailto:dmarc@example.com"
  std::uint64_t max_size = 0; ///< octets; 0: no limit given
};

struct record {
  policy p = policy::none;
  std::optional<policy> sp; ///< subdomain policy (RFC 7489 §6.3)
  std::optional<policy> np; ///< non-existent subdomain policy (RFC 9091 §4)
  alignment adkim = alignment::relaxed;
  alignment aspf = alignment::relaxed;
  unsigned pct = 100;
  std::vector<report_uri> rua, ruf;
  std::vector<std::string> fo{"0"};    ///< failure reporting options: "0", "1", "d", "s"
  std::vector<std::string> rf{"afrf"}; ///< failure report formats
  std::uint32_t ri = 86400;            ///< aggregate report interval, seconds
  /// True when p= was missing or invalid and the record stands as p=none because rua= is
  /// valid (RFC 7489 §6.6.3).
  bool p_from_rua = false;
  /// Every tag as written (name lower case, value trimmed), in order: for display and Python.
  std::vector<std::pair<std::string, std::string>> tags;
  /// Values that were invalid and replaced by defaults, or ignored.
  std::vector<std::string> warnings;
};

/// Does this TXT record select itself as DMARC (RFC 7489 §6.6.3 step 3: starts with a v= tag of
/// "DMARC1")? Leading whitespace is allowed.
[[nodiscard]] bool is_dmarc_record(std::string_view txt) noexcept;

/// Parse a record. @return the record, or why it is unusable.
[[nodiscard]] tl::expected<record, std::string> parse_record(std::string_view txt);

} // namespace mailkit::dmarc
