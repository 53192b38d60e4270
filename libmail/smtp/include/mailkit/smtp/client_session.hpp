// SPDX-License-Identifier: Apache-2.0
/// @file client_session.hpp
/// The SMTP client on a real connection: Asio moves bytes between a TCP (or TLS) socket and the
/// sans-I/O `smtp::client`. One session is one connection: open it, send any number of
/// messages (one transaction each, with a result per recipient), quit. `deliver()` does all of
/// that in one blocking call (CLI, Python `mailkit.smtp.send`).
///
/// Standards: RFC 5321 §4.5.3.2 (timeouts, the defaults below), RFC 3207 (STARTTLS), RFC 8314
/// (implicit TLS, "submissions" on 465), RFC 6125 (the certificate names the host we asked for,
/// checked through mailkit::tls::prepare_client), RFC 6066 §3 (SNI).
///
/// Errors: `expected` carries a `client_errc` (or a system error for socket failures);
/// `is_permanent()` says whether a retry can help: connection refused, timeouts, TLS failures and
/// 4xx are transient, 5xx to the greeting, EHLO or AUTH are permanent. A 4xx/5xx to MAIL, RCPT or
/// the data is not an error but a transaction_result value.
///
/// Security: credentials are written only into the AUTH exchange, after TLS unless
/// `tls_mode::none` was chosen explicitly; error texts never include them. With
/// `tls_mode::starttls_required` or `implicit`, a failed handshake or certificate check ends the
/// session; `starttls_opportunistic` may continue in plaintext only when the server does not
/// offer STARTTLS or refuses it (RFC 7435), never after a failed handshake.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/smtp/client.hpp>
#include <mailkit/tls/dane.hpp>
#include <mailkit/tls/tls.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mailkit::smtp {

/// How the connection is protected.
enum class tls_mode {
  none,                   ///< plaintext (tests, loopback relays)
  starttls_opportunistic, ///< STARTTLS when offered (RFC 7435), else plaintext
  starttls_required,      ///< STARTTLS or fail (submission on 587)
  implicit,               ///< TLS from the first byte (RFC 8314, port 465)
};

/// "none", "opportunistic", "starttls", "implicit" (also "tls" and "ssl" for implicit).
[[nodiscard]] std::string_view to_string(tls_mode m) noexcept;
[[nodiscard]] std::optional<tls_mode> parse_tls_mode(std::string_view s) noexcept;

/// Per-step timeouts. Defaults are RFC 5321 §4.5.3.2's minimums.
inline namespace client_types {
struct session_timeouts {
  std::chrono::milliseconds connect{std::chrono::seconds(30)};        ///< per address (our choice)
  std::chrono::milliseconds greeting{std::chrono::minutes(5)};        ///< §4.5.3.2.1
  std::chrono::milliseconds command{std::chrono::minutes(5)};         ///< EHLO, AUTH, QUIT ...
  std::chrono::milliseconds mail{std::chrono::minutes(5)};            ///< §4.5.3.2.2
  std::chrono::milliseconds rcpt{std::chrono::minutes(5)};            ///< §4.5.3.2.3
  std::chrono::milliseconds data_initiation{std::chrono::minutes(2)}; ///< §4.5.3.2.4
  std::chrono::milliseconds data_block{std::chrono::minutes(3)};      ///< §4.5.3.2.5, per write
  std::chrono::milliseconds data_termination{std::chrono::minutes(10)}; ///< §4.5.3.2.6
  std::chrono::milliseconds tls_handshake{std::chrono::minutes(1)};     ///< our choice

  /// Every step the same (Python's `timeout=`).
  [[nodiscard]] static session_timeouts all(std::chrono::milliseconds t);
};
} // namespace client_types

/// Where and how to connect.
struct session_options {
  /// The server's name: resolved when `addresses` is empty, sent as SNI and checked against
  /// the certificate (RFC 6125) when verifying.
  std::string host;
  std::uint16_t port = 587;
  /// IP literals tried in order (IPv4 and IPv6); empty: resolve `host` (A and AAAA).
  std::vector<std::string> addresses;
  tls_mode tls = tls_mode::starttls_required;
  /// Trust anchors and whether to verify at all (verify_peer = false encrypts without
  /// authenticating the server).
  tls::client_options tls_options;
  /// Check the certificate's names against `host` (RFC 6125), when verify_peer.
  bool verify_host = true;
  /// DANE (RFC 7672 §3): when not empty, the server is authenticated by these TLSA records
  /// (OpenSSL's DANE verifier, tls::dane::enable_dane) instead of the web PKI, and a chain that
  /// matches none of them fails the handshake. Unusable records are ignored (RFC 7672 §3.1.3);
  /// with none usable, the handshake fails (the caller decides what DANE "unusable" means).
  std::vector<tls::dane::tlsa_record> dane_tlsa;
  /// The TLSA base domain (RFC 7672 §2.2.3), a reference identifier for DANE-TA(2) with `host`;
  /// "" = `host`.
  std::string dane_base_domain;
  /// Verify as asked (verify_peer and verify_host, or DANE) but let the handshake go on when
  /// verification fails: the outcome is then only in client_session::verify_result(). For
  /// MTA-STS `testing` (RFC 8461 §5: validate, report, deliver regardless). Needs
  /// tls_options.verify_peer (the trust store is loaded only then).
  bool verify_report_only = false;
  /// EHLO name, credentials, mechanism, pipelining/chunking switches. `starttls`,
  /// `require_starttls` and `auth_without_tls` are set from `tls`.
  client_options client;
  session_timeouts timeouts;
};

/// One connection to one server.
class client_session {
public:
  client_session(boost::asio::any_io_executor ex, session_options opts);
  ~client_session();
  client_session(const client_session&) = delete;
  client_session& operator=(const client_session&) = delete;

  /// Connect (each address in turn), read the greeting, EHLO, STARTTLS and EHLO again, AUTH.
  /// Completes on the session's executor; `expected<void>`.
  [[nodiscard]] boost::asio::awaitable<expected<void>> async_open();

  /// One transaction (after async_open). The result has one entry per recipient; a refused
  /// MAIL/RCPT/DATA is a value there. An error means the connection failed and the outcome of
  /// this message is unknown (the queue retries it). Completes on the session's executor.
  [[nodiscard]] boost::asio::awaitable<expected<transaction_result>>
  async_send(envelope env, std::string message);

  /// QUIT and close. Never fails: a server that does not answer is simply disconnected.
  [[nodiscard]] boost::asio::awaitable<void> async_quit();

  /// Close without QUIT.
  void close() noexcept;

  /// After a failure: a sentence for humans (no credentials), and the reply behind it if any.
  [[nodiscard]] const std::string& error_detail() const noexcept;
  [[nodiscard]] const std::optional<reply>& error_reply() const noexcept;
  [[nodiscard]] const capabilities& server_capabilities() const noexcept;
  /// "192.0.2.1:587" of the connected address, "" before connecting.
  [[nodiscard]] const std::string& peer() const noexcept;
  /// Our address on the connection ("192.0.2.7" or "2001:db8::7", no port), "" before
  /// connecting (RFC 8460 §4.4 "sending-mta-ip").
  [[nodiscard]] const std::string& local_address() const noexcept;
  [[nodiscard]] bool tls_active() const noexcept;
  /// Whether a TLS handshake was attempted on this connection (STARTTLS offered and tried, or
  /// implicit TLS), whether it succeeded or not.
  [[nodiscard]] bool tls_attempted() const noexcept;
  /// OpenSSL's verification result of the last handshake (an X509_V_ERR_* value, X509_V_OK = 0
  /// when the chain, the name or the TLSA match verified), or -1 when no handshake was
  /// attempted, verification was not asked for (verify_peer off and no DANE), or the handshake
  /// failed for another reason than verification. Set after a handshake that verification
  /// failed too, so the caller can tell an expired certificate from a wrong name (RFC 8460
  /// §4.3.1 result types).
  [[nodiscard]] long verify_result() const noexcept;
  /// After a handshake with DANE: the chain depth of the certificate that matched a TLSA record
  /// (0 = the leaf, DANE-EE), or -1.
  [[nodiscard]] int dane_depth() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// One message for deliver().
struct outgoing_message {
  envelope env;
  std::string data; ///< the message (any line endings; sent as canonical CRLF)
};

/// What deliver() did.
struct delivery_report {
  /// One per message sent before any failure, in order.
  std::vector<transaction_result> results;
  /// Empty on success; else why the connection failed (transient or permanent), with
  /// `error_detail` and `error_reply` saying more. Messages after results.size() were not sent.
  error_code error;
  std::string error_detail;
  std::optional<reply> error_reply;
  capabilities server;
  std::string peer;
  bool tls = false;
};

/// Blocking: open a session on a private io_context, send every message, quit.
[[nodiscard]] delivery_report deliver(session_options opts, std::vector<outgoing_message> messages);

} // namespace mailkit::smtp
