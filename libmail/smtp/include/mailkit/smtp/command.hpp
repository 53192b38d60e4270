// SPDX-License-Identifier: Apache-2.0
/// @file command.hpp
/// SMTP command syntax, as pure functions: split a command line into verb and argument, parse
/// the reverse-path and forward-path of MAIL and RCPT with their ESMTP parameters, decode xtext.
/// Nothing here keeps state; the server core (server.hpp) decides what a command means in the
/// current state.
///
/// Standards: RFC 5321 §4.1.1 (commands), §4.1.2 (Path, Mailbox, Local-part, Domain,
/// address-literal; source routes accepted and ignored, Appendix C), §4.1.3 (address literals),
/// §4.5.3.1 (lengths); RFC 6531 §3.3 (UTF-8 in addresses, only when allowed); RFC 1870 (SIZE),
/// RFC 6152 and RFC 3030 (BODY), RFC 3461 §4 (RET, ENVID, NOTIFY, ORCPT, xtext), RFC 4954 §5
/// (AUTH=), RFC 8689 §4 (REQUIRETLS).
/// Security: parses untrusted peer input. Every function is bounded by its input and the limits
/// it is given; results own their text (nothing points into the input).
#pragma once

#include <mailkit/smtp/limits.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::smtp {

/// The commands the server knows (RFC 5321 §4.1.1 and the extensions).
enum class verb {
  unknown,
  helo,
  ehlo,
  mail,
  rcpt,
  data,
  bdat,
  rset,
  noop,
  quit,
  vrfy,
  expn,
  help,
  starttls,
  auth,
  forbidden, ///< an HTTP method or proxy verb: another protocol aimed at the SMTP port
};

/// A command line split into its verb and the rest. `argument` points into the line.
struct command_line {
  verb v = verb::unknown;
  std::string_view name;      ///< the verb as sent (for MAIL and RCPT "MAIL" / "RCPT")
  std::string_view argument;  ///< after the verb and one space; for MAIL/RCPT after "FROM:"/"TO:"
  bool missing_colon = false; ///< MAIL or RCPT not followed by "FROM:" / "TO:"
};

/// Split one command line (without its CRLF). Verbs are case-insensitive (RFC 5321 §2.4).
[[nodiscard]] command_line parse_command_line(std::string_view line);

/// A mailbox (RFC 5321 §4.1.2). `local_part` is as written (a quoted local part keeps its
/// quotes and escapes, because its meaning belongs to the receiving domain, RFC 5321 §2.4);
/// `domain` is the domain or the address literal with its brackets.
struct mailbox {
  std::string local_part;
  std::string domain;
  bool address_literal = false; ///< domain is "[...]"
  bool utf8 = false;            ///< contains non-ASCII (needs SMTPUTF8)

  /// local_part "@" domain, or just local_part for the special "Postmaster" (no domain).
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const mailbox&, const mailbox&) = default;
};

/// Why a path did not parse, each mapped by the server to its reply.
enum class path_error {
  none,
  syntax,           ///< not a Path (RFC 5321 §4.1.2)
  too_long,         ///< path, local part or domain over the RFC 5321 §4.5.3.1 limits
  bad_domain,       ///< the domain is not a valid Domain or address-literal
  utf8_not_allowed, ///< non-ASCII without SMTPUTF8 (RFC 6531 §3.3)
};

/// One ESMTP parameter `keyword[=value]` (RFC 5321 §4.1.2 esmtp-param).
struct esmtp_param {
  std::string keyword; ///< upper-cased
  std::optional<std::string> value;
};

/// A MAIL FROM or RCPT TO argument: the path and its parameters.
struct path_argument {
  std::optional<mailbox> address; ///< nullopt for the null reverse path "<>"
  std::vector<esmtp_param> params;
  path_error error = path_error::none;
  bool params_syntax_error = false; ///< an esmtp-param did not follow its grammar
};

/// Parse the text after "MAIL FROM:" or "RCPT TO:". Accepts, as Postfix and chasquid do, spaces
/// before the path and a path without angle brackets (a deliberate leniency: RFC 5321 §4.1.2
/// requires the brackets; clients such as old sendmail wrappers omit them, and nothing in the
/// meaning changes). Source routes ("<@a,@b:user@c>") are accepted and dropped (RFC 5321 §4.1.2
/// and Appendix C). `allow_utf8`: the client sent SMTPUTF8 on this MAIL (RFC 6531 §3.4).
/// `allow_null`: "<>" is allowed (reverse path only). `allow_postmaster`: the bare
/// "<Postmaster>" forward path (RFC 5321 §4.1.1.3).
[[nodiscard]] path_argument parse_path_argument(std::string_view text, const server_limits& limits,
                                                bool allow_utf8, bool allow_null,
                                                bool allow_postmaster);

/// Is `domain` a valid RFC 5321 Domain (LDH labels; U-labels when `allow_utf8`), at most
/// `max_len` octets?
[[nodiscard]] bool is_valid_domain(std::string_view domain, bool allow_utf8, std::size_t max_len);

/// Is `literal` (with brackets) a valid RFC 5321 §4.1.3 address literal?
[[nodiscard]] bool is_valid_address_literal(std::string_view literal);

/// Decode xtext (RFC 3461 §4): "+" followed by two upper-case hex digits stands for that octet;
/// every other character must be "!" to "~" except "+" and "=". nullopt when malformed.
[[nodiscard]] std::optional<std::string> decode_xtext(std::string_view text);

/// Encode as xtext (for tests and for relaying DSN parameters onward).
[[nodiscard]] std::string encode_xtext(std::string_view text);

/// Is `s` well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF)?
[[nodiscard]] bool is_valid_utf8(std::string_view s) noexcept;

/// BODY= values (RFC 6152 §2, RFC 3030 §3).
enum class body_type { unspecified, seven_bit, eight_bit_mime, binary_mime };

/// RET= (RFC 3461 §4.3).
enum class dsn_ret { unspecified, full, hdrs };

/// NOTIFY= (RFC 3461 §4.1): NEVER, or any of SUCCESS, FAILURE, DELAY.
struct dsn_notify {
  bool never = false;
  bool success = false;
  bool failure = false;
  bool delay = false;
  friend bool operator==(const dsn_notify&, const dsn_notify&) = default;
};

/// ORCPT= (RFC 3461 §4.2): addr-type ";" xtext, decoded.
struct dsn_orcpt {
  std::string addr_type; ///< e.g. "rfc822" (as sent)
  std::string address;   ///< xtext-decoded
  friend bool operator==(const dsn_orcpt&, const dsn_orcpt&) = default;
};

/// Parse a NOTIFY value; nullopt when malformed (NEVER combined with others, unknown keyword,
/// repetition).
[[nodiscard]] std::optional<dsn_notify> parse_notify(std::string_view value);

/// Parse an ORCPT value; nullopt when malformed or longer than `max_len` after decoding.
[[nodiscard]] std::optional<dsn_orcpt> parse_orcpt(std::string_view value, std::size_t max_len);

} // namespace mailkit::smtp
