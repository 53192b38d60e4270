// SPDX-License-Identifier: Apache-2.0
/// @file record.hpp
/// Syntax of an SPF record (RFC 7208 §4.5, §4.6.1, §5, §6, §12 ABNF): record selection
/// (`is_spf_record`) and the parser that turns "v=spf1 ..." into mechanisms and modifiers.
/// Pure syntax, no DNS: macros are checked here and expanded later (macro.hpp).
///
/// **Standards**: RFC 7208 §3.1 (7-bit ASCII), §4.5, §4.6.1, §5.1-§5.7, §6, §7.1, §12.
/// **Security**: parses untrusted DNS text. The views in a parsed `record` point into the text
/// given to `parse_record`, which must outlive it. Records are bounded by the DNS message size.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace mailkit::spf {

/// RFC 7208 §4.6.2 qualifiers, with the result a match produces.
enum class qualifier : char { pass = '+', fail = '-', softfail = '~', neutral = '?' };

/// RFC 7208 §5 mechanisms.
enum class mechanism_kind : std::uint8_t { all, include, a, mx, ptr, ip4, ip6, exists };

[[nodiscard]] std::string_view to_string(mechanism_kind k) noexcept;

/// One directive: `[qualifier] mechanism`. Views point into the parsed text.
struct mechanism {
  qualifier qual = qualifier::pass;
  mechanism_kind kind = mechanism_kind::all;
  std::string_view text;        ///< the term as written, qualifier included
  std::string_view domain_spec; ///< "" when absent (a, mx, ptr default to <domain>)
  std::uint8_t cidr4 = 32;      ///< ip4 / a / mx
  std::uint8_t cidr6 = 128;     ///< ip6 / a / mx
  /// ip4: the first 4 octets; ip6: all 16.
  std::array<std::uint8_t, 16> network{};
};

/// An unknown modifier (RFC 7208 §6: ignored, but its syntax is checked).
struct modifier {
  std::string_view name;
  std::string_view value;
};

/// A parsed record.
struct record {
  std::vector<mechanism> mechanisms;
  std::optional<std::string_view> redirect; ///< domain-spec of redirect=
  std::optional<std::string_view> exp;      ///< domain-spec of exp=
  std::vector<modifier> unknown_modifiers;
  /// True when an "all" mechanism is present: redirect= is then ignored (RFC 7208 §6.1).
  bool has_all = false;
};

/// Why a record is a permerror.
struct syntax_error {
  std::string message;
  std::string_view term; ///< the offending term (a view into the parsed text), may be empty
};

using parse_result = tl::expected<record, syntax_error>;

/// RFC 7208 §4.5: does this TXT record select itself as SPF version 1? "v=spf1" exactly
/// (case-insensitive), followed by a space or the end.
[[nodiscard]] bool is_spf_record(std::string_view txt) noexcept;

/// Parse a whole record (which must pass is_spf_record). Every term is checked before any is
/// evaluated (RFC 7208 §4.6: a syntax error anywhere is a permerror).
[[nodiscard]] parse_result parse_record(std::string_view txt);

/// RFC 7208 §7.1 domain-spec: a valid macro-string ending in "." toplabel ["."] or in a
/// macro-expand. Exposed for tests and tools.
[[nodiscard]] bool is_valid_domain_spec(std::string_view spec) noexcept;

/// Strict dotted-quad (RFC 7208 §5.6 ip4-network: no leading zeros, no shortened forms).
[[nodiscard]] std::optional<std::array<std::uint8_t, 4>> parse_ip4_network(std::string_view s);
/// RFC 4291 §2.2 text form.
[[nodiscard]] std::optional<std::array<std::uint8_t, 16>> parse_ip6_network(std::string_view s);

} // namespace mailkit::spf
