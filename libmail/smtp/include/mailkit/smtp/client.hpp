// SPDX-License-Identifier: Apache-2.0
/// @file client.hpp
/// The sans-I/O SMTP client: fed server bytes, it produces command bytes. One `client` drives
/// one connection: the greeting, EHLO (HELO when EHLO is refused), STARTTLS and EHLO again,
/// AUTH, then any number of mail transactions, then QUIT. The caller (client_session.hpp, a
/// test, a fuzzer) moves bytes and performs the TLS handshake when asked; the core never blocks
/// and never touches a socket.
///
/// Standards: RFC 5321 (§3.3 transactions, §4.1.1.1 EHLO/HELO, §4.5.2 dot-stuffing, §4.5.3.1
/// size limits, §4.2 replies), RFC 1869/5321 §4.1.1.1 EHLO keywords, RFC 1870 (SIZE), RFC 6152
/// (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3030 (CHUNKING/BDAT; BINARYMIME is parsed, not used),
/// RFC 2920 (PIPELINING), RFC 3461 (DSN: RET, ENVID, NOTIFY, ORCPT, xtext), RFC 3207
/// (STARTTLS), RFC 4954 (AUTH), RFC 2034/3463 (enhanced status codes), RFC 8689 (REQUIRETLS
/// keyword parsed only).
///
/// The message rule: a message is sent as canonical CRLF text. A bare LF becomes CRLF, a bare
/// CR becomes CRLF (so no lone CR or LF ever reaches the wire: no SMTP smuggling through us),
/// and a message that does not end with CRLF gets one. With DATA, a line that starts with "."
/// gets a second "." (RFC 5321 §4.5.2) and ".\r\n" ends the data; with BDAT the canonical bytes
/// go as they are. SIZE= and the SIZE check use the canonical size before dot-stuffing
/// (RFC 1870 §3).
///
/// Refused locally, before any command is sent for the message (a permanent per-message
/// outcome with a clear reason, never a connection error):
/// - a message larger than the server's SIZE (552 5.3.4);
/// - a message whose envelope or header section is not ASCII to a server without SMTPUTF8
///   (553 5.6.7, RFC 6531 §3.2);
/// - an 8-bit body to a server without 8BITMIME (554 5.6.3: no conversion to 7-bit this round);
/// - no recipients (554 5.5.1).
///
/// Security: replies are parsed with the bounds of reply_parser. Addresses and parameters that
/// would break a command line (CR, LF, NUL, angle brackets) are refused with
/// client_errc::invalid_argument. Credentials are only ever written into the AUTH exchange.
/// After STARTTLS everything learned before TLS is forgotten and bytes that arrived after the
/// 220 are treated as an injection attack (RFC 3207 §4.2, §6).
#pragma once

#include <mailkit/smtp/reply.hpp>
#include <mailkit/smtp/reply_parser.hpp>
#include <mailkit/smtp/sasl_client.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::smtp {

/// What a server said it supports in its EHLO reply (RFC 5321 §4.1.1.1). Keywords are matched
/// case-insensitively; unknown keywords are kept in `keywords`.
struct capabilities {
  bool esmtp = false;                ///< EHLO succeeded (false after a HELO fallback)
  std::string domain;                ///< the first line's first word: the server's name
  std::optional<std::uint64_t> size; ///< RFC 1870: SIZE n; 0 means "no fixed limit"
  bool pipelining = false;           ///< RFC 2920
  bool eightbitmime = false;         ///< RFC 6152
  bool smtputf8 = false;             ///< RFC 6531
  bool chunking = false;             ///< RFC 3030
  bool binarymime = false;           ///< RFC 3030
  bool dsn = false;                  ///< RFC 3461
  bool starttls = false;             ///< RFC 3207
  bool enhancedstatuscodes = false;  ///< RFC 2034
  bool requiretls = false;           ///< RFC 8689
  std::vector<std::string> auth;     ///< RFC 4954: mechanisms, upper case ("PLAIN", "LOGIN")
  std::vector<std::string> keywords; ///< every keyword line as received (keyword and params)

  [[nodiscard]] bool has_auth(std::string_view mechanism) const noexcept;
};

/// Bounds on what parse_ehlo keeps from a hostile server.
inline constexpr std::size_t max_ehlo_keywords = 128;
inline constexpr std::size_t max_auth_mechanisms = 32;

/// Read an EHLO reply. Never fails: what it cannot read it ignores (a SIZE with a bad number is
/// "no SIZE"), and at most max_ehlo_keywords lines and max_auth_mechanisms mechanisms are kept.
[[nodiscard]] capabilities parse_ehlo(const reply& r);

// The client's recipient and envelope (and credentials, session_timeouts) share their names
// with the server's but are other types: each side declares them in its own inline
// namespace, so a program linking both never merges their inline functions (an ODR
// violation that crashed mailkitd), while code keeps writing smtp::envelope.
inline namespace client_types {
/// One recipient of a transaction.
struct recipient {
  std::string address; ///< forward-path without angle brackets (UTF-8 allowed with SMTPUTF8)
  /// RFC 3461 §4.1 NOTIFY: "NEVER" or a comma-separated list of SUCCESS, FAILURE, DELAY; sent
  /// only to servers that offer DSN.
  std::string notify;
  /// RFC 3461 §4.2 ORCPT: the original recipient address; sent as "rfc822;" + xtext(address).
  std::string orcpt;
};
} // namespace client_types

/// The envelope of one message.
inline namespace client_types {
struct envelope {
  std::string mail_from; ///< reverse-path without angle brackets; "" is the null sender <>
  std::vector<recipient> recipients;
  std::string ret;   ///< RFC 3461 §4.3 RET: "FULL", "HDRS" or "" (sent only with DSN)
  std::string envid; ///< RFC 3461 §4.4 ENVID, xtext encoded when sent (sent only with DSN)
};
} // namespace client_types

/// The outcome for one recipient: the reply that decided it. Accepted recipients carry the
/// final reply of the data (250 after the dot or the last BDAT); refused ones their RCPT reply;
/// with a refused MAIL every recipient carries the MAIL reply.
struct recipient_result {
  std::string address;
  smtp::reply reply;
  [[nodiscard]] bool delivered() const noexcept { return reply.positive_completion(); }
  [[nodiscard]] bool transient() const noexcept { return reply.transient_failure(); }
  [[nodiscard]] bool permanent() const noexcept { return reply.permanent_failure(); }
};

/// Why a message was refused before it was offered (see the file comment).
enum class local_refusal {
  none = 0,
  size_exceeded,     ///< larger than the server's SIZE: 552 5.3.4
  smtputf8_required, ///< non-ASCII envelope or headers, no SMTPUTF8: 553 5.6.7
  eightbit_required, ///< 8-bit body, no 8BITMIME: 554 5.6.3
  no_recipients,     ///< the envelope has no recipient: 554 5.5.1
  invalid_envelope,  ///< an address or DSN parameter cannot be sent (CR, LF, NUL, "<", ">",
                     ///< a bad NOTIFY or RET): 553 5.1.3 / 501 5.5.4
};

/// The outcome of one transaction.
struct transaction_result {
  std::vector<recipient_result> recipients; ///< in envelope order
  std::optional<smtp::reply> mail_reply;    ///< absent when refused locally
  /// The reply to the end of the data (after "." or BDAT LAST), or to DATA when DATA itself was
  /// refused; absent when no data was sent (MAIL refused, every RCPT refused, local refusal).
  std::optional<smtp::reply> final_reply;
  local_refusal refused = local_refusal::none;
  std::string reason; ///< human-readable reason for a local refusal (empty otherwise)
  bool used_bdat = false;
  bool used_smtputf8 = false;
  bool used_8bitmime = false;

  /// Every recipient delivered.
  [[nodiscard]] bool all_delivered() const noexcept;
  /// At least one recipient delivered.
  [[nodiscard]] bool any_delivered() const noexcept;
};

/// How the client sets up the connection.
struct client_options {
  std::string helo_name = "localhost"; ///< our name in EHLO/HELO (RFC 5321 §4.1.1.1)
  /// Issue STARTTLS when the server offers it (the session sets this from its TLS mode).
  bool starttls = false;
  /// Fail with starttls_unavailable when STARTTLS is not offered (starttls must be true).
  bool require_starttls = false;
  std::optional<credentials> auth; ///< authenticate when set
  auth_mechanism mechanism = auth_mechanism::automatic;
  /// Allow AUTH without TLS. Off by default: credentials go only over TLS (the session sets
  /// `tls_active()` for implicit TLS).
  bool auth_without_tls = false;
  /// Use BDAT when the server offers CHUNKING (RFC 3030).
  bool use_chunking = true;
  /// BDAT chunk size: a message larger than this goes in several chunks.
  std::size_t chunk_size = 1024 * 1024;
  /// Use PIPELINING when offered (RFC 2920).
  bool use_pipelining = true;
  reply_limits limits;
};

/// The sans-I/O client. Drive it with this loop (client_session does exactly this):
///
///     for (;;) switch (c.step()) {
///       case action::send:       write(c.take_output()); break;
///       case action::receive:    c.feed(read_some()); break;   // EOF: c.connection_closed()
///       case action::start_tls:  handshake(); c.tls_started(); break;
///       case action::ready:      c.start(envelope, message) or c.quit(); break;
///       case action::transaction_done: use(c.take_result()); break;
///       case action::closed:     return;                 // after QUIT
///       case action::failed:     return c.error();       // the connection is unusable
///     }
class client {
public:
  enum class action {
    send,             ///< take_output() has bytes for the server
    receive,          ///< feed() the next server bytes
    start_tls,        ///< perform the TLS handshake, then call tls_started()
    ready,            ///< idle: start() a transaction or quit()
    transaction_done, ///< take_result() has the outcome; then ready again
    closed,           ///< QUIT answered (or the server closed after QUIT)
    failed,           ///< error() says why; nothing more can be done on this connection
  };

  explicit client(client_options opts);
  ~client();
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;

  /// Advance as far as possible; returns what the caller must do next.
  [[nodiscard]] action step();

  /// Bytes to write to the server (after action::send). Empties the output.
  [[nodiscard]] std::string take_output();

  /// Server bytes.
  void feed(std::string_view bytes);

  /// The server closed the connection (EOF).
  void connection_closed();

  /// The session established TLS after action::start_tls.
  void tls_started();

  /// Tell the core the connection is already encrypted (implicit TLS, RFC 8314).
  void set_tls_active() noexcept;

  /// Begin a transaction (only in action::ready). `message` is the whole message; it is copied
  /// into the output once, in canonical form.
  void start(envelope env, std::string_view message);

  /// Send QUIT (only in action::ready).
  void quit();

  /// The outcome of the finished transaction (after action::transaction_done).
  [[nodiscard]] transaction_result take_result();

  /// Why the connection failed (after action::failed).
  [[nodiscard]] const error_code& error() const noexcept;
  /// The reply that made it fail, when a reply did (a 554 greeting, a 535 to AUTH ...).
  [[nodiscard]] const std::optional<reply>& error_reply() const noexcept;
  /// A sentence for humans about the failure (never contains credentials).
  [[nodiscard]] const std::string& error_detail() const noexcept;

  /// Which reply the client waits for, so a session can pick the RFC 5321 §4.5.3.2 timeout.
  enum class wait_stage { none, greeting, command, mail, rcpt, data_initiation, data_termination };
  [[nodiscard]] wait_stage waiting_for() const noexcept;

  /// What the server offered (valid from the first action::ready).
  [[nodiscard]] const capabilities& server_capabilities() const noexcept;
  [[nodiscard]] bool tls_active() const noexcept;
  [[nodiscard]] bool authenticated() const noexcept;
  /// The greeting reply.
  [[nodiscard]] const std::optional<reply>& greeting() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// ---- message and parameter helpers (public for tests, the queue and the fuzz targets) --------

/// Size of `message` in canonical CRLF form (see the file comment).
[[nodiscard]] std::uint64_t canonical_size(std::string_view message) noexcept;
/// `message` in canonical CRLF form, ending with CRLF (BDAT payload).
[[nodiscard]] std::string canonicalize(std::string_view message);
/// `message` in canonical CRLF form, dot-stuffed and terminated by ".\r\n" (DATA payload).
[[nodiscard]] std::string dot_stuff(std::string_view message);
/// RFC 3461 §4: xtext encoding ("+" followed by two upper-case hex digits for "+", "=" and
/// every octet outside 33-126).
[[nodiscard]] std::string xtext_encode(std::string_view s);
/// What the message needs from the server.
struct message_needs {
  bool eightbit = false;     ///< some octet >= 0x80 anywhere
  bool utf8_headers = false; ///< some octet >= 0x80 in the header section
};
[[nodiscard]] message_needs inspect_message(std::string_view message) noexcept;
/// Can `s` go inside "<...>" or as a parameter value (no CR, LF, NUL, "<", ">")?
[[nodiscard]] bool safe_in_command(std::string_view s) noexcept;

} // namespace mailkit::smtp
