// SPDX-License-Identifier: Apache-2.0
/// @file policy.hpp
/// What the SMTP server asks the rest of the mail system: may this client connect, may it use
/// this HELO, sender, recipient, credentials; where do the message bytes go; and, at the end of
/// the data, what is the final reply. Every question is answered asynchronously through a
/// handler, so a policy can consult DNS (SPF), a database (recipients, passwords) or a queue
/// that fsyncs, without blocking the session. smtp knows nothing of those modules (DESIGN.md
/// §1): the app layer wires them in by implementing this interface.
///
/// Standards: none of its own; the replies a policy returns are RFC 5321 §4.2 replies with RFC
/// 3463 enhanced codes. DESIGN.md §4: `on_message` must call its handler with a 2xx reply only
/// once the message is durable; the session writes nothing to the client before that.
/// Security: a policy is trusted code; the envelope, HELO and credentials it is given are the
/// peer's words, syntactically checked but otherwise unverified.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/smtp/reply.hpp>
#include <mailkit/smtp/sasl_server.hpp>
#include <mailkit/smtp/server.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mailkit::smtp {

/// The connection as the policy sees it.
struct session_info {
  std::uint64_t id = 0; ///< unique per process
  std::string peer_address;
  std::uint16_t peer_port = 0;
  std::string local_address;
  std::uint16_t local_port = 0;
  listener_mode mode = listener_mode::mx;
  bool tls = false;
  std::string helo;             ///< the accepted HELO/EHLO argument
  std::string authenticated_as; ///< empty until AUTH succeeds
};

/// Where the bytes of one message go, in order, as they arrive: the message exactly as it will
/// be stored (dot-unstuffing done, CRLF line ends). Called on the session's executor; a write
/// should not block for long (a queue buffers or writes to a temp file).
class message_sink {
public:
  virtual ~message_sink() = default;
  /// The next piece of the message. A failure makes the message end in 451 4.3.0.
  virtual expected<void> write(std::string_view chunk) = 0;
  /// No more data: flush buffers. Durability is on_message's business.
  virtual expected<void> finish() = 0;
  /// The message will not be accepted (bad data, size, RSET, lost connection): drop it.
  virtual void abort() noexcept = 0;
};

/// The answer channel of every hook: call exactly once, from any thread. The references a hook
/// was given stay valid until then.
using decision_handler = std::function<void(decision)>;

/// The mail system behind the SMTP server. Hooks not overridden accept (connect, HELO, MAIL) or
/// refuse (AUTH); RCPT and the message hooks have no default: relaying is always a decision.
class policy {
public:
  virtual ~policy() = default;

  /// A client connected (before the greeting). Refuse with 554 (RFC 5321 §3.1) or 421.
  virtual void on_connect(const session_info& s, decision_handler done);
  /// HELO or EHLO with `argument`.
  virtual void on_helo(const session_info& s, std::string_view argument, bool ehlo,
                       decision_handler done);
  /// MAIL FROM, parsed into `e` (reverse_path and parameters).
  virtual void on_mail(const session_info& s, const envelope& e, decision_handler done);
  /// RCPT TO. Relay control lives here: accept only our domains unless authenticated.
  virtual void on_rcpt(const session_info& s, const envelope& e, const recipient& r,
                       decision_handler done) = 0;
  /// AUTH credentials (PLAIN or LOGIN). Accept = 235; refuse with 535 5.7.8.
  virtual void on_auth(const session_info& s, const credentials& c, decision_handler done);
  /// DATA or the first BDAT was accepted: where should the bytes go? A failure gives 451 4.3.0.
  virtual expected<std::unique_ptr<message_sink>> open_message(const session_info& s,
                                                               const envelope& e) = 0;
  /// End of data: every byte went to `sink` and sink->finish() succeeded. Make the message
  /// durable, then answer (250 with a queue id; or 451/452/554). The sink is yours.
  virtual void on_message(const session_info& s, const envelope& e,
                          std::unique_ptr<message_sink> sink, decision_handler done) = 0;
  /// TLS was established (after STARTTLS or at connect on an implicit-TLS listener).
  virtual void on_tls(const session_info& s);
  /// The connection ended.
  virtual void on_close(const session_info& s, close_reason why);
};

} // namespace mailkit::smtp
