// SPDX-License-Identifier: Apache-2.0
/// @file server.hpp
/// The SMTP server protocol core, sans-I/O. `feed()` gives it the client's bytes, `next_event()`
/// tells the caller what happened (a command that needs a policy decision, a piece of message
/// data for the sink, STARTTLS, the end), `resolve()` answers a decision, and `output()` holds
/// the replies to write. It never blocks, never touches a socket or a file, and holds at most
/// one command line (limits.auth_line) and one data chunk (limits.data_chunk) of input.
///
/// Standards: RFC 5321 §3 and §4 (the state machine of §4.1.4 and the replies of §4.2-§4.3,
/// the limits of §4.5.3.1, transparency §4.5.2); RFC 2920 (PIPELINING: replies are produced in
/// order, each command is judged in the state left by the previous one); RFC 1870 (SIZE);
/// RFC 6152 (8BITMIME); RFC 6531 (SMTPUTF8); RFC 2034 and RFC 3463 (enhanced status codes);
/// RFC 3030 (CHUNKING, BINARYMIME); RFC 3461 §4 (DSN parameters, carried in the envelope);
/// RFC 3207 (STARTTLS); RFC 4954 (AUTH PLAIN, LOGIN); RFC 8689 §4 (REQUIRETLS on MAIL).
///
/// Security: this is the front door; everything fed to it is hostile until judged.
/// - SMTP smuggling: see data_receiver.hpp. Only <CRLF>.<CRLF> ends DATA; a message with a bare
///   CR or LF is refused with 521 5.5.2 and the connection closed.
/// - STARTTLS injection (CVE-2011-0411): when STARTTLS is accepted, everything the client sent
///   after the STARTTLS line is discarded, and again when TLS is established; the state goes
///   back to before EHLO (RFC 3207 §4.2).
/// - AUTH is refused before TLS (538 5.7.11) unless the config allows it (tests); submission
///   listeners refuse MAIL before TLS (530) and before AUTH (530 5.7.0).
/// - Relaying is not decided here: the policy's RCPT hook decides.
#pragma once

#include <mailkit/smtp/command.hpp>
#include <mailkit/smtp/data_receiver.hpp>
#include <mailkit/smtp/limits.hpp>
#include <mailkit/smtp/reply.hpp>
#include <mailkit/smtp/sasl_server.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::smtp {

/// What a listener is for (DESIGN.md: 25, 587, 465).
enum class listener_mode {
  mx,                      ///< port 25: anyone may send to our domains; no AUTH
  submission,              ///< port 587: STARTTLS, then AUTH, then MAIL
  submission_implicit_tls, ///< port 465: TLS from the first byte (RFC 8314 §3.3), then AUTH
};

/// Per-connection configuration of the core.
struct server_config {
  std::string hostname = "localhost"; ///< our name in the greeting and EHLO reply
  listener_mode mode = listener_mode::mx;
  bool tls_available = false;         ///< a TLS context exists: STARTTLS offered before TLS
  bool tls_active = false;            ///< the connection is already TLS (implicit TLS)
  bool offer_auth = false;            ///< AUTH PLAIN LOGIN offered (after TLS)
  bool allow_plaintext_auth = false;  ///< AUTH without TLS (tests only; RFC 4954 §4 warns)
  bool require_tls_for_mail = false;  ///< MAIL refused with 530 before TLS
  bool require_auth_for_mail = false; ///< MAIL refused with 530 5.7.0 before AUTH
  server_limits limits;

  /// The configuration of a listener mode: mx offers STARTTLS when TLS is available and no
  /// AUTH; the submission modes offer AUTH and require TLS and AUTH before MAIL.
  [[nodiscard]] static server_config for_mode(listener_mode mode, std::string hostname,
                                              bool tls_available);
};

// The server's recipient and envelope (and credentials, session_timeouts) share their names
// with the client's but are other types: each side declares them in its own inline
// namespace, so a program linking both never merges their inline functions (an ODR
// violation that crashed mailkitd), while code keeps writing smtp::envelope.
inline namespace server_types {
/// One accepted recipient with its DSN parameters.
struct recipient {
  mailbox address;
  std::optional<dsn_notify> notify; ///< RFC 3461 §4.1
  std::optional<dsn_orcpt> orcpt;   ///< RFC 3461 §4.2
};
} // namespace server_types

/// The envelope of the transaction in progress, as the policy and the queue see it.
inline namespace server_types {
struct envelope {
  std::string helo;                    ///< HELO/EHLO argument
  bool esmtp = false;                  ///< EHLO was used
  std::optional<mailbox> reverse_path; ///< nullopt: the null reverse path <>
  body_type body = body_type::unspecified;
  std::optional<std::uint64_t> declared_size; ///< SIZE= (RFC 1870)
  bool smtputf8 = false;                      ///< RFC 6531 §3.4
  dsn_ret ret = dsn_ret::unspecified;         ///< RFC 3461 §4.3
  std::optional<std::string> envid;           ///< RFC 3461 §4.4, xtext-decoded
  std::optional<std::string> auth;            ///< RFC 4954 §5 AUTH= (decoded; "<>" kept)
  bool requiretls = false;                    ///< RFC 8689 §4
  std::vector<recipient> recipients;          ///< accepted ones only
  bool chunked = false;                       ///< the message came by BDAT
  std::uint64_t message_size = 0;             ///< octets given to the sink
  bool tls = false;                           ///< the transaction happened under TLS
  std::string authenticated_as;               ///< the AUTH identity, empty if none
};
} // namespace server_types

/// A policy's answer. No reply: accept with the server's default reply. A reply: send it;
/// 2xx and 3xx accept, 4xx and 5xx refuse, and 421 also closes the connection.
struct decision {
  std::optional<reply> response;
  [[nodiscard]] static decision accept() { return {}; }
  [[nodiscard]] static decision respond(reply r) { return {std::move(r)}; }
  [[nodiscard]] bool accepted() const noexcept { return !response || response->code < 400; }
};

enum class event_kind {
  need_input,       ///< feed more bytes (first write output())
  awaiting,         ///< a decision or the TLS handshake is outstanding: call resolve()
  connect,          ///< decision: greet (220) or refuse
  helo,             ///< decision: HELO/EHLO, argument in helo_argument()
  mail,             ///< decision: MAIL, in current_envelope()
  rcpt,             ///< decision: RCPT, in pending_recipient()
  auth,             ///< decision: credentials in pending_credentials(); accept = 235
  data_start,       ///< decision: DATA or the first BDAT; the session opens its sink
  data_chunk,       ///< message octets in event::data, valid until the next call
  message_complete, ///< decision: the whole message went to the sink; reply when durable
  message_aborted,  ///< the open message will not complete: discard the sink's data
  starttls,         ///< write output(), do the TLS handshake, then tls_established()
  quit,             ///< the client said QUIT (221 is in output())
  close,            ///< write output() and close the connection
};

/// Why the core closed.
enum class close_reason {
  none,
  quit,
  too_many_errors,
  too_many_auth_failures,
  bare_line_ending,
  forbidden_command,
  bdat_syntax,
  refused, ///< a 421 from the policy or the session (shutdown, timeout, limits)
};

struct event {
  event_kind kind = event_kind::need_input;
  std::string_view data; ///< data_chunk only
};

class server {
public:
  explicit server(server_config cfg);

  /// Append client bytes. Call only after next_event() returned need_input.
  void feed(std::string_view bytes);
  /// As feed(), but message content (DATA, BDAT) is read where it is instead of being copied
  /// first: `bytes` must stay valid and unchanged until next_event() next returns need_input
  /// (whatever is left of them is copied then, and before any command is read from them).
  void feed_borrowed(std::string_view bytes);
  /// The next thing to do. Never returns need_input while a complete command is buffered.
  [[nodiscard]] event next_event();
  /// Answer the decision event last returned.
  void resolve(decision d);
  /// The TLS handshake after a starttls event succeeded: state back to before EHLO.
  void tls_established();
  /// End the session now with `r` (e.g. 421 4.4.2 timeout, 421 4.3.2 shutting down).
  void close_with(const reply& r);

  /// Replies not yet written.
  [[nodiscard]] std::string_view output() const noexcept { return out_; }
  void consume_output(std::size_t n);

  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] close_reason why_closed() const noexcept { return reason_; }
  /// A MAIL was accepted and the transaction has not ended.
  [[nodiscard]] bool in_transaction() const noexcept { return transaction_; }
  [[nodiscard]] bool tls_active() const noexcept { return cfg_.tls_active; }
  [[nodiscard]] const std::string& authenticated_as() const noexcept { return authenticated_; }
  [[nodiscard]] std::string_view helo_argument() const noexcept { return pending_helo_; }
  [[nodiscard]] bool helo_is_ehlo() const noexcept { return pending_ehlo_; }
  [[nodiscard]] const envelope& current_envelope() const noexcept { return env_; }
  [[nodiscard]] const recipient& pending_recipient() const noexcept { return pending_rcpt_; }
  [[nodiscard]] const credentials& pending_credentials() const noexcept { return sasl_.result(); }
  [[nodiscard]] const server_config& config() const noexcept { return cfg_; }
  [[nodiscard]] unsigned error_count() const noexcept { return errors_; }

private:
  enum class phase { command, auth, data, bdat };
  enum class pending { none, connect, helo, mail, rcpt, auth, data_start, message, tls };

  event pop_queued();
  void append_input(std::string_view bytes);
  void unborrow();
  [[nodiscard]] std::string_view input() const noexcept;
  void consume_input(std::size_t n) noexcept;
  void write(const reply& r);
  void write_raw(std::string_view s) { out_.append(s); }
  void reply_with(int code, std::string_view status, std::string_view text);
  void error(int code, std::string_view status, std::string_view text);
  void close_after(close_reason why);
  void reset_transaction();
  std::optional<event> handle_line(std::string_view line);
  std::optional<event> handle_mail(const command_line& c);
  std::optional<event> handle_rcpt(const command_line& c);
  std::optional<event> handle_bdat(const command_line& c);
  std::optional<event> handle_auth_step(std::string_view line);
  std::optional<event> sasl_outcome(const sasl_server::step_result& r);
  event finish_message(const data_flaws& flaws, std::uint64_t size);
  void ehlo_reply();
  std::size_t line_limit(verb v) const noexcept;
  event await(pending p, event_kind k) {
    awaiting_ = p;
    return {k, {}};
  }

  server_config cfg_;
  std::string in_;
  std::size_t pos_ = 0;
  std::string_view borrowed_; ///< feed_borrowed()'s bytes, read in place (data() set while held)
  std::string out_;
  std::string chunk_;
  std::deque<event_kind> queued_;
  phase phase_ = phase::command;
  pending awaiting_ = pending::none;
  bool started_ = false;
  bool closing_ = false;
  bool closed_ = false;
  close_reason reason_ = close_reason::none;
  bool discarding_line_ = false;
  bool refused_greeting_ = false;
  bool helo_done_ = false;
  bool esmtp_ = false;
  bool transaction_ = false;
  bool message_open_ = false; ///< the session has an open sink
  bool data_done_ = false;
  unsigned errors_ = 0;
  unsigned auth_failures_ = 0;
  std::string authenticated_;
  std::string pending_helo_;
  bool pending_ehlo_ = false;
  envelope env_;
  recipient pending_rcpt_;
  sasl_server sasl_;
  dot_receiver dot_;
  chunk_receiver bdat_;
  std::uint64_t bdat_size_ = 0;
  bool bdat_last_ = false;
  bool data_start_bdat_ = false;
  bool bdat_discard_ = false;
  std::optional<reply> bdat_refusal_;
};

} // namespace mailkit::smtp
