// SPDX-License-Identifier: Apache-2.0
/// @file auth_results.hpp
/// Authentication-Results (RFC 8601): write the dkim part of our own field, and read the fields
/// other hosts added (comments, quoted strings, folding, several methods).
#pragma once

#include <mailkit/dkim/verifier.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

/// "dkim=pass (2048-bit key) header.d=example.com header.i=@example.com header.s=sel
/// header.a=rsa-sha256 header.b=abcdefgh" for one result (RFC 8601 §2.7.1, RFC 6008 header.b).
[[nodiscard]] std::string format_resinfo(const signature_result& r);
/// "dkim=none" for no signatures, else one resinfo per signature joined by ";\r\n\t".
[[nodiscard]] std::string format_resinfos(const std::vector<signature_result>& results);
/// "Authentication-Results: <authserv-id>;\r\n\t<resinfo>;\r\n\t...\r\n"; "none" without any.
[[nodiscard]] std::string format_authentication_results(std::string_view authserv_id,
                                                        const std::vector<std::string>& resinfos);

struct ar_property {
  std::string ptype;    ///< "header", "smtp", "body", "policy"
  std::string property; ///< "d", "i", "mailfrom" ...
  std::string value;    ///< unquoted
};
struct ar_method {
  std::string method;  ///< "dkim", "spf" ... lower case
  std::string version; ///< method version ("1" when given)
  std::string result;  ///< lower case
  std::string reason;  ///< reason= value, unquoted
  std::vector<ar_property> properties;
  std::vector<std::string> comments;
};
struct authentication_results {
  std::string authserv_id;
  std::string version; ///< authserv-id version, usually empty (1)
  bool none = false;   ///< "none" in place of results
  std::vector<ar_method> methods;
};

/// Parse an Authentication-Results field value (RFC 8601 §2.2). Returns nullopt when the
/// authserv-id cannot be read; unreadable resinfos end the list.
[[nodiscard]] std::optional<authentication_results>
parse_authentication_results(std::string_view value);

} // namespace mailkit::dkim
