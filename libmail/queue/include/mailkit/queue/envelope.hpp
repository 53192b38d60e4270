// SPDX-License-Identifier: Apache-2.0
/// @file envelope.hpp
/// The envelope of a queued message as the queue keeps it, and the text record it is stored
/// as. The record is what the queue database holds for each message (one column); it is parsed
/// back at every open, so it is treated as untrusted bytes (a damaged database must not crash
/// the server), and it has a libFuzzer target (tests/fuzz/queue_record_fuzz.cpp).
///
/// Record format (version 1), one field per line, LF-separated, values %XX-escaped (every octet
/// below 0x21, 0x7F and '%'; UTF-8 octets are kept):
///
///     MKQ1
///     id <queue id>
///     received <Unix microseconds>
///     from <reverse path, "" for the null path>
///     ret full|hdrs|-
///     envid <xtext-decoded ENVID>          (optional)
///     flags <comma list: smtputf8,8bitmime,binarymime,requiretls,bounce>
///     auth <authenticated identity>        (optional)
///     client <client address>              (optional)
///     helo <HELO/EHLO argument>            (optional)
///     mailbox <local target mailbox>       (optional, e.g. "Junk")
///     rcpt <route> <notify> <address> <original> <orcpt> <tag>   (one per recipient)
///
/// Standards: RFC 3461 §4 (NOTIFY, ORCPT, RET, ENVID are kept with the message so that the
/// bounce honours them), RFC 6531 (SMTPUTF8 flag), RFC 8689 (REQUIRETLS flag).
/// Security: parse_record() reads bytes from disk that could be damaged; hard limits on the
/// record size, line length and recipient count; never trusts counts or lengths it reads.
#pragma once

#include <mailkit/core/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::queue {

/// Where a recipient is delivered.
enum class route : std::uint8_t {
  local,  ///< an account of our store (the local delivery target)
  remote, ///< another server (the remote transport)
};

/// RFC 3461 §4.1 NOTIFY as bits; 0 means the parameter was absent (FAILURE and DELAY implied).
namespace notify {
inline constexpr std::uint8_t never = 1;
inline constexpr std::uint8_t success = 2;
inline constexpr std::uint8_t failure = 4;
inline constexpr std::uint8_t delay = 8;
} // namespace notify

/// RFC 3461 §4.3 RET.
enum class ret_type : std::uint8_t { unspecified, full, hdrs };

struct recipient {
  route where = route::local;
  std::string address;  ///< where it goes (after alias expansion): account or remote address
  std::string original; ///< the RCPT TO address as given (DSN Final-Recipient)
  std::string orcpt;    ///< RFC 3461 §4.2 ORCPT "addr-type;address" (decoded), "" when absent
  std::uint8_t notify = 0;
  std::string tag; ///< RFC 5233 subaddress of the original recipient, "" when none
  friend bool operator==(const recipient&, const recipient&) = default;
};

struct envelope {
  std::string id;            ///< the queue id (set by the queue)
  std::int64_t received = 0; ///< Unix microseconds when it was accepted (set by the queue)
  std::string reverse_path;  ///< "" is the null reverse path <>
  ret_type ret = ret_type::unspecified;
  std::string envid;         ///< RFC 3461 §4.4, decoded; "" when absent
  bool smtputf8 = false;     ///< RFC 6531
  bool eightbitmime = false; ///< RFC 6152 BODY=8BITMIME
  bool binarymime = false;   ///< RFC 3030 BODY=BINARYMIME
  bool requiretls = false;   ///< RFC 8689
  bool bounce = false;       ///< a DSN we generated: never bounced again (no loops)
  std::string auth;          ///< the authenticated identity, "" when none
  std::string client;        ///< the SMTP client's address
  std::string helo;          ///< its HELO/EHLO argument
  std::string mailbox;       ///< local target mailbox ("" = INBOX; "Junk" for quarantine)
  std::vector<recipient> recipients;
  friend bool operator==(const envelope&, const envelope&) = default;
};

/// Limits of parse_record().
inline constexpr std::size_t max_record_size = 16u << 20;    ///< 16 MiB
inline constexpr std::size_t max_record_line = 8192;         ///< octets per line
inline constexpr std::size_t max_record_recipients = 100000; ///< recipient lines

/// The record text of an envelope (format above).
[[nodiscard]] std::string serialize_record(const envelope& e);

/// Parse a record; errc::corrupt (queue/error.hpp) when it is not a well-formed version 1
/// record within the limits.
[[nodiscard]] expected<envelope> parse_record(std::string_view text);

/// "%XX" escaping of the record format (exposed for tests).
[[nodiscard]] std::string escape_field(std::string_view s);
[[nodiscard]] expected<std::string> unescape_field(std::string_view s);

} // namespace mailkit::queue
