// SPDX-License-Identifier: Apache-2.0
/// @file reply_parser.hpp
/// The SMTP client's reading half: server bytes in, complete replies out, and the errors of the
/// client side of mailkit::smtp (`client_errc`, each transient or permanent).
///
/// Standards: RFC 5321 §4.2 (reply lines: three digits, "-" on every line of a multi-line reply
/// but the last, a space or nothing after the code on the last), RFC 5321 §4.2.1 (every line of
/// a multi-line reply carries the same code), RFC 2034 §3 and RFC 3463 §2 (an enhanced status
/// code at the start of each line's text).
///
/// Security: the bytes come from the server, which may be hostile or broken. The parser bounds
/// the length of one line, the number of lines of one reply and the bytes of one reply, and
/// reports anything that is not a reply line as `client_errc::malformed_reply`; after an error
/// it stays failed. It never allocates more than the limits allow beyond one read's worth of
/// input.
#pragma once

#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/smtp/reply.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mailkit::smtp {

/// Operational failures of the SMTP client (parser, core and session). A 4xx or 5xx reply to a
/// transaction is an outcome (transaction_result), not one of these; these are what stops a
/// whole connection. `is_permanent()` answers for each.
enum class client_errc {
  ok = 0,
  malformed_reply = 1,  ///< the server sent bytes that are not an SMTP reply (transient)
  reply_line_too_long,  ///< a reply line exceeded reply_limits::max_line (transient)
  reply_too_long,       ///< a reply had more lines or bytes than reply_limits allow (transient)
  connection_failed,    ///< no address of the destination accepted a connection (transient)
  connection_closed,    ///< the server closed the connection mid-dialogue (transient)
  timed_out,            ///< a step ran past its RFC 5321 §4.5.3.2 timeout (transient)
  tls_failed,           ///< the TLS handshake or certificate verification failed (transient)
  starttls_unavailable, ///< STARTTLS is required but the server did not offer it (transient)
  starttls_rejected,    ///< the server refused STARTTLS (transient)
  starttls_injection,   ///< plaintext followed the server's 220 to STARTTLS (transient)
  greeting_rejected,    ///< the greeting was 4xx (transient) — see greeting_rejected_permanent
  greeting_rejected_permanent, ///< the greeting was 5xx, e.g. 554 (permanent)
  hello_rejected,              ///< EHLO and HELO got 4xx (transient)
  hello_rejected_permanent,    ///< EHLO and HELO got 5xx (permanent)
  auth_unavailable,      ///< credentials given, but no usable AUTH mechanism offered (permanent)
  auth_failed,           ///< the server refused the credentials with 5xx, e.g. 535 (permanent)
  auth_failed_transient, ///< the server answered AUTH with 4xx, e.g. 454 (transient)
  invalid_argument,      ///< an address, name or parameter would break the command syntax
                         ///< (contains CR, LF, NUL or angle brackets) (permanent)
  protocol_violation,    ///< the server answered out of sequence (e.g. 334 where none fits)
                         ///< (transient)
};

/// The category of client_errc.
const error_category& client_category() noexcept;

inline error_code make_error_code(client_errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

/// Bounds on what one server may send. RFC 5321 §4.5.3.1.5 limits a reply line to 512 octets
/// including the CRLF, but deployed servers exceed it (long EHLO keywords, verbose 5xx texts),
/// so the defaults tolerate 8 times that while still bounding memory per connection.
struct reply_limits {
  std::size_t max_line = 4096;       ///< octets of one line, CRLF included
  std::size_t max_lines = 512;       ///< lines of one multi-line reply
  std::size_t max_reply = 64 * 1024; ///< octets of one reply, all lines together
};

/// Incremental reply parser: feed() what the socket gave, then call next() until it returns
/// std::nullopt (need more bytes). Replies come out in the order received, so a pipelined batch
/// (RFC 2920) is read one reply at a time.
///
/// A line ends with CRLF; a bare LF is accepted as a line end too (lenient reading, never
/// produced by us). The enhanced status code of a line is taken out of its text when its class
/// equals the reply code's first digit (RFC 3463 §2); the reply's `enhanced` is that of the
/// first line.
class reply_parser {
public:
  explicit reply_parser(reply_limits limits = {}) : limits_(limits) {}

  /// Append server bytes. Cheap; parsing happens in next().
  void feed(std::string_view bytes);

  /// The next complete reply, std::nullopt when more bytes are needed, or an error
  /// (malformed_reply, reply_line_too_long, reply_too_long). After an error every call returns
  /// the same error.
  [[nodiscard]] expected<std::optional<reply>> next();

  /// Bytes received but not yet part of a returned reply (STARTTLS: must be 0 after the 220).
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size() - pos_; }

  /// Forget buffered bytes (after STARTTLS, RFC 3207 §4.2: nothing from before the handshake
  /// survives it).
  void clear() noexcept;

private:
  reply_limits limits_;
  std::string buffer_;
  std::size_t pos_ = 0; // start of the first line not yet consumed
  reply current_;       // lines of the reply being assembled
  std::size_t current_bytes_ = 0;
  error_code error_;
};

/// Parse one complete reply from `text` (all of its lines, CRLF-terminated). For tests and for
/// the fuzz target; trailing bytes after the reply are an error.
[[nodiscard]] expected<reply> parse_reply(std::string_view text, reply_limits limits = {});

} // namespace mailkit::smtp

template <>
struct boost::system::is_error_code_enum<mailkit::smtp::client_errc> : std::true_type {};
