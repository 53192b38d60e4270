// SPDX-License-Identifier: Apache-2.0
/// @file signature.hpp
/// The DKIM-Signature header field (RFC 6376 §3.5): every tag, parsed and checked, with a clear
/// reason when the field is unusable (which makes the signature a permerror).
#pragma once

#include <mailkit/dkim/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

/// A parsed DKIM-Signature. Strings are owned; `raw_value` is the field value as received.
struct signature {
  int version = 1;                                      ///< v=, must be 1
  algorithm algo = algorithm::rsa_sha256;               ///< a=
  std::string a_text;                                   ///< a= as written
  std::string b;                                        ///< b=, decoded signature
  std::string bh;                                       ///< bh=, decoded body hash
  canonicalization header_c = canonicalization::simple; ///< c= (header part)
  canonicalization body_c = canonicalization::simple;   ///< c= (body part)
  std::string d;                                        ///< d=, SDID (as written)
  std::vector<std::string> h;                           ///< h=, signed header names, in order
  std::string i;                                        ///< i=, AUID (default "@" + d)
  std::optional<std::uint64_t> l;                       ///< l=, body length limit
  std::string q;                                        ///< q= as written ("dns/txt" default)
  std::string s;                                        ///< s=, selector
  std::optional<std::uint64_t> t;                       ///< t=, signature timestamp
  std::optional<std::uint64_t> x;                       ///< x=, expiration
  std::string z;                                        ///< z=, copied headers (raw)
  std::string b_text;                                   ///< b= as written (for header.b)

  /// "selector._domainkey.domain": where the key record lives (RFC 6376 §3.6.2.1).
  [[nodiscard]] std::string key_name() const;
};

/// Outcome of parsing: a signature, or the reason it is a permerror.
struct signature_parse {
  std::optional<signature> sig;
  std::string error; ///< empty when sig is set
  /// Whatever could be read even when the field is bad (for reporting header.d/header.s).
  std::string d, s, a;
};

/// Limits on hostile fields (not in the RFC; generous for real signatures).
inline constexpr std::size_t max_signed_headers = 512; ///< entries in h=
inline constexpr std::size_t max_signature_field = 64 * 1024;

/// Parse and check a DKIM-Signature field value (everything after "DKIM-Signature:").
/// Checks: required tags v a b bh d h s (RFC 6376 §3.5), v=1, known algorithm and
/// canonicalizations, base64 of b/bh, h= contains From (§5.4), i= within d= (§3.5), decimal
/// l/t/x, x > t (§3.5 x=), q= lists dns/txt (unknown methods ignored), bh length fits the hash.
[[nodiscard]] signature_parse parse_signature(std::string_view value);

/// The field value with the b= tag's value (including surrounding whitespace) removed, as the
/// header hash needs it (RFC 6376 §3.7). Returns the input unchanged if there is no b= tag.
[[nodiscard]] std::string remove_b_value(std::string_view value);

} // namespace mailkit::dkim
