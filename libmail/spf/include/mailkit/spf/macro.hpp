// SPDX-License-Identifier: Apache-2.0
/// @file macro.hpp
/// SPF macros (RFC 7208 §7): syntax check and expansion of macro-strings, given the values of
/// the macro letters. The %{p} value needs DNS; the evaluator resolves it before calling
/// `expand_macro` when `uses_macro(s, 'p')`.
///
/// **Standards**: RFC 7208 §7.1 (syntax), §7.2 (letters), §7.3 (transformers, URL escaping,
/// truncation to 253 octets), §7.4 (c, r, t only in exp= text).
/// **Security**: expands untrusted DNS text with values partly chosen by the peer (sender,
/// HELO); the output is bounded by the input length times the longest value.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace mailkit::spf {

/// The values of the macro letters (RFC 7208 §7.2). Views must stay valid during expansion.
struct macro_values {
  std::string_view s;             ///< <sender>
  std::string_view l;             ///< local-part of <sender> ("postmaster" when empty)
  std::string_view o;             ///< domain of <sender>
  std::string_view d;             ///< <domain> of the current check_host()
  std::string_view i;             ///< <ip>: dotted quad, or dot-separated nibbles for IPv6
  std::string_view p = "unknown"; ///< validated domain name of <ip>
  std::string_view v;             ///< "in-addr" or "ip6"
  std::string_view h;             ///< HELO/EHLO domain
  std::string_view c;             ///< <ip> in its usual text form (exp only)
  std::string_view r = "unknown"; ///< the receiving host's domain (exp only)
  std::string_view t;             ///< seconds since the epoch, decimal (exp only)
};

/// Where a macro-string appears: domain-spec and unknown modifiers, or explanation text.
enum class macro_context { domain, explanation };

/// Check syntax only (RFC 7208 §7.1 ABNF; §7.4: c, r, t only in explanations).
/// @return an error message, or "" when the string is valid.
[[nodiscard]] std::string check_macro_string(std::string_view s, macro_context ctx);

/// Does `s` use macro letter `letter` (lower case)? For %{p}, which costs DNS lookups.
[[nodiscard]] bool uses_macro(std::string_view s, char letter) noexcept;

/// Expand `s`. For macro_context::domain the result has one trailing dot removed and is
/// truncated from the left to at most 253 octets (RFC 7208 §7.3).
/// @return the expansion, or a message describing the syntax error (a permerror).
[[nodiscard]] tl::expected<std::string, std::string>
expand_macro(std::string_view s, const macro_values& values, macro_context ctx);

} // namespace mailkit::spf
