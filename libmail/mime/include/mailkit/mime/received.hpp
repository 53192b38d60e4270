// SPDX-License-Identifier: Apache-2.0
/// @file received.hpp
/// Received trace fields (RFC 5321 §4.4, RFC 5322 §3.6.7) read into their clauses: from (with
/// the HELO name, the reverse DNS name and the IP in the TCP-info comment), by, via, with
/// (including the TLS version and cipher some MTAs append), id, for, the ident of an "(IDENT:..)"
/// comment, and the date after the last ';'. Real Received fields written by Postfix, Exim,
/// Sendmail, qmail, Exchange and others break the grammar in many ways; the parser reads each
/// clause it recognises and ignores what it does not.
///
/// **Standards**: RFC 5321 §4.4 (Stamp), RFC 5322 §3.6.7, RFC 3848 (with protocol types).
/// **Security**: parses untrusted header bytes; pure.
#pragma once

#include <mailkit/mime/date.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mailkit::mime {

/// A host as it appears in a clause: a name, an IPv4 or IPv6 address literal, or something else.
struct received_host {
  enum class kind { name, ipv4, ipv6 } type = kind::name;
  std::string value; ///< the name as written, or the address without brackets and "IPv6:"
  friend bool operator==(const received_host&, const received_host&) = default;
};

struct received {
  std::optional<received_host> from;     ///< the name after "from"
  std::optional<received_host> helo;     ///< the HELO/EHLO name from the TCP-info comment
  std::optional<std::string> helo_cmd;   ///< "HELO", "EHLO" or "LHLO" when the comment says
  std::optional<std::string> from_iprev; ///< the reverse DNS name from the comment
  std::optional<std::string> from_ip;    ///< the connecting IP from the comment
  std::optional<std::string> ident;      ///< from an "(IDENT:user@host ...)" comment
  std::optional<received_host> by;
  std::optional<std::string> via;
  std::optional<std::string> with;        ///< protocol, e.g. "ESMTPS" (RFC 3848)
  std::optional<std::string> tls_version; ///< e.g. "TLSv1.3" when the with clause has it
  std::optional<std::string> tls_cipher;  ///< e.g. "TLS_AES_256_GCM_SHA384"
  std::optional<std::string> id;
  std::optional<std::string> for_; ///< the recipient address without brackets
  std::optional<date_time> date;
};

/// Parse a Received value (raw, possibly folded); nullopt when no clause could be read.
[[nodiscard]] std::optional<received> parse_received(std::string_view raw);

} // namespace mailkit::mime
