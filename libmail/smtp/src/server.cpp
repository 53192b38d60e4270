// SPDX-License-Identifier: Apache-2.0
// The sans-I/O SMTP server core (server.hpp).
#include <mailkit/smtp/server.hpp>

#include <charconv>

namespace mailkit::smtp {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

std::optional<std::uint64_t> parse_number(std::string_view s) noexcept {
  // At most 20 digits: anything longer overflows 64 bits and is no real size.
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

} // namespace

server_config server_config::for_mode(listener_mode mode, std::string hostname,
                                      bool tls_available) {
  server_config c;
  c.hostname = std::move(hostname);
  c.mode = mode;
  c.tls_available = tls_available;
  c.tls_active = mode == listener_mode::submission_implicit_tls;
  c.offer_auth = mode != listener_mode::mx;
  c.require_tls_for_mail = mode != listener_mode::mx;
  c.require_auth_for_mail = mode != listener_mode::mx;
  return c;
}

server::server(server_config cfg)
    : cfg_(std::move(cfg)), sasl_(cfg_.limits), dot_(cfg_.limits), bdat_(cfg_.limits) {}

void server::feed(std::string_view bytes) {
  if (closing_ || closed_) return;
  append_input(bytes);
}

void server::append_input(std::string_view bytes) {
  if (pos_ > 0) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  in_.append(bytes);
}

void server::feed_borrowed(std::string_view bytes) {
  if (closing_ || closed_) return;
  // Message content with nothing of the previous input left: read where it is. Everything
  // else (commands, a remainder) is copied as by feed().
  if ((phase_ == phase::data || phase_ == phase::bdat) && pos_ >= in_.size()) {
    in_.clear();
    pos_ = 0;
    borrowed_ = bytes;
    return;
  }
  feed(bytes);
}

void server::unborrow() {
  if (borrowed_.data() == nullptr) return;
  append_input(borrowed_);
  borrowed_ = {};
}

std::string_view server::input() const noexcept {
  return borrowed_.data() != nullptr ? borrowed_ : std::string_view(in_).substr(pos_);
}

void server::consume_input(std::size_t n) noexcept {
  if (borrowed_.data() != nullptr) {
    borrowed_.remove_prefix(n);
  } else {
    pos_ += n;
  }
}

void server::consume_output(std::size_t n) {
  out_.erase(0, n);
}

void server::write(const reply& r) {
  out_ += format_reply(r);
  // RFC 5321 §3.8: 421 means the server is closing the transmission channel.
  if (r.code == 421) close_after(close_reason::refused);
}

void server::reply_with(int code, std::string_view status, std::string_view text) {
  write(make_reply(code, status, text));
}

void server::error(int code, std::string_view status, std::string_view text) {
  ++errors_;
  if (errors_ >= cfg_.limits.max_errors) {
    out_ += format_reply(make_reply(421, "4.7.0", cfg_.hostname + " too many errors, closing"));
    close_after(close_reason::too_many_errors);
    return;
  }
  reply_with(code, status, text);
}

void server::close_after(close_reason why) {
  if (closing_) return;
  closing_ = true;
  reason_ = why;
  reset_transaction();
}

void server::close_with(const reply& r) {
  if (closed_) return;
  out_ += format_reply(r);
  close_after(close_reason::refused);
  awaiting_ = pending::none;
}

void server::reset_transaction() {
  if (message_open_) queued_.push_back(event_kind::message_aborted);
  message_open_ = false;
  transaction_ = false;
  const std::string helo = env_.helo;
  const bool esmtp = env_.esmtp;
  env_ = envelope{};
  env_.helo = helo;
  env_.esmtp = esmtp;
  env_.tls = cfg_.tls_active;
  env_.authenticated_as = authenticated_;
  bdat_discard_ = false;
  bdat_refusal_.reset();
}

std::size_t server::line_limit(verb v) const noexcept {
  switch (v) {
  case verb::mail:
  case verb::rcpt:
    // RFC 5321 §4.5.3.1.4: 512 octets, raised by the extensions offered after EHLO.
    return esmtp_ ? cfg_.limits.extended_command_line : cfg_.limits.command_line;
  case verb::auth:
    return cfg_.limits.auth_line; // RFC 4954 §4: 12288 octets
  default:
    return cfg_.limits.command_line; // RFC 5321 §4.5.3.1.4
  }
}

event server::pop_queued() {
  const event_kind k = queued_.front();
  queued_.pop_front();
  if (k == event_kind::starttls) awaiting_ = pending::tls;
  return {k, {}};
}

void server::tls_established() {
  if (awaiting_ != pending::tls) return;
  awaiting_ = pending::none;
  // RFC 3207 §4.2: the server MUST discard any knowledge obtained from the client (the EHLO
  // argument, AUTH, the transaction) and anything still buffered from before the handshake.
  in_.clear();
  pos_ = 0;
  borrowed_ = {};
  discarding_line_ = false;
  cfg_.tls_active = true;
  helo_done_ = false;
  esmtp_ = false;
  authenticated_.clear();
  pending_helo_.clear();
  reset_transaction();
  env_.helo.clear();
  env_.esmtp = false;
  env_.tls = true;
}

event server::next_event() {
  if (awaiting_ != pending::none) return {event_kind::awaiting, {}};
  if (!queued_.empty()) return pop_queued();
  if (closed_) return {event_kind::close, {}};
  if (closing_) {
    closed_ = true;
    return {event_kind::close, {}};
  }
  if (!started_) {
    started_ = true;
    return await(pending::connect, event_kind::connect);
  }
  while (true) {
    if (!queued_.empty()) return pop_queued();
    if (closing_) {
      closed_ = true;
      return {event_kind::close, {}};
    }
    // Borrowed bytes are read only while message content is: what follows it (a pipelined
    // command) is copied before the command phase reads it, and before the caller is asked
    // for more input (its buffer is then reused).
    if (phase_ != phase::data && phase_ != phase::bdat) unborrow();
    const std::string_view input = this->input();
    if (phase_ == phase::data) {
      chunk_.clear();
      if (!data_done_) {
        // The chunk is usually a piece of the input itself (no copy); chunk_ holds it when
        // unstuffing made it differ from the input.
        std::string_view piece;
        const auto r = dot_.feed_in_place(input, piece, chunk_, cfg_.limits.data_chunk);
        consume_input(r.consumed);
        data_done_ = r.finished;
        // Once the message is known to be refused its octets go nowhere.
        if (dot_.flaws().any()) {
          chunk_.clear();
          piece = {};
        }
        if (!piece.empty()) return {event_kind::data_chunk, piece};
        if (!chunk_.empty()) return {event_kind::data_chunk, chunk_};
        if (!data_done_) {
          unborrow();
          return {event_kind::need_input, {}};
        }
      }
      phase_ = phase::command;
      return finish_message(dot_.flaws(), dot_.size());
    }
    if (phase_ == phase::bdat) {
      chunk_.clear();
      if (bdat_.remaining() > 0) {
        const auto r = bdat_.feed(input, chunk_, cfg_.limits.data_chunk, bdat_discard_);
        consume_input(r.consumed);
        if (bdat_.flaws().any()) chunk_.clear();
        if (!chunk_.empty()) return {event_kind::data_chunk, chunk_};
        if (bdat_.remaining() > 0) {
          unborrow();
          return {event_kind::need_input, {}};
        }
      }
      phase_ = phase::command;
      if (bdat_discard_) {
        bdat_discard_ = false;
        if (bdat_refusal_) {
          const reply r = *bdat_refusal_;
          bdat_refusal_.reset();
          write(r);
        }
        continue;
      }
      if (bdat_last_) {
        bdat_.finish_message();
        return finish_message(bdat_.flaws(), bdat_.size());
      }
      const data_flaws& f = bdat_.flaws();
      if (f.bare_line_ending || f.too_big) return finish_message(f, bdat_.size());
      // RFC 3030 §2: each non-final chunk gets its own 250.
      reply_with(250, "2.0.0", std::to_string(bdat_size_) + " octets received");
      continue;
    }
    // Command and AUTH continuation lines. RFC 5321 §2.3.8 lines end in CRLF; a line ended by
    // LF alone is still read as a command (only DATA is strict: there it is smuggling).
    const std::size_t nl = input.find('\n');
    if (nl == std::string_view::npos) {
      if (input.size() > cfg_.limits.auth_line) {
        // RFC 5321 §4.5.3.1.10: "500 Line too long"; drop it without buffering it.
        discarding_line_ = true;
        pos_ = in_.size();
      }
      return {event_kind::need_input, {}};
    }
    std::string_view line = input.substr(0, nl);
    pos_ += nl + 1;
    if (discarding_line_) {
      discarding_line_ = false;
      if (phase_ == phase::auth) {
        phase_ = phase::command;
        sasl_.clear();
      }
      error(500, "5.5.2", "line too long");
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (phase_ == phase::auth) {
      if (auto ev = handle_auth_step(line)) return *ev;
      continue;
    }
    if (auto ev = handle_line(line)) return *ev;
  }
}

event server::finish_message(const data_flaws& flaws, std::uint64_t size) {
  if (flaws.bare_line_ending) {
    // RFC 5321 §2.3.8 and SMTP smuggling: refuse, and close because the client's framing is
    // not to be trusted (the reply code chasquid uses).
    reply_with(521, "5.5.2", "bare CR or LF in message data: message refused, closing");
    message_open_ = false;
    close_after(close_reason::bare_line_ending);
    return {event_kind::message_aborted, {}};
  }
  if (flaws.too_big) {
    // RFC 1870 §6.3 / RFC 5321 §4.5.3.1.10: 552 message exceeds fixed maximum message size.
    reply_with(552, "5.3.4", "message too big");
    message_open_ = false;
    reset_transaction();
    return {event_kind::message_aborted, {}};
  }
  if (flaws.line_too_long) {
    // RFC 5321 §4.5.3.1.6 and §4.5.3.1.10 ("500 Line too long").
    reply_with(500, "5.5.2", "message has a line longer than 1000 octets");
    message_open_ = false;
    reset_transaction();
    return {event_kind::message_aborted, {}};
  }
  env_.message_size = size;
  return await(pending::message, event_kind::message_complete);
}

void server::ehlo_reply() {
  reply r;
  r.code = 250;
  r.lines.push_back(cfg_.hostname + " greets " + pending_helo_);
  r.lines.emplace_back("PIPELINING");                                        // RFC 2920
  r.lines.push_back("SIZE " + std::to_string(cfg_.limits.max_message_size)); // RFC 1870
  r.lines.emplace_back("8BITMIME");                                          // RFC 6152
  r.lines.emplace_back("SMTPUTF8");                                          // RFC 6531
  r.lines.emplace_back("ENHANCEDSTATUSCODES");                               // RFC 2034
  r.lines.emplace_back("CHUNKING");                                          // RFC 3030
  r.lines.emplace_back("BINARYMIME");                                        // RFC 3030
  r.lines.emplace_back("DSN");                                               // RFC 3461
  // RFC 3207 §4: STARTTLS is not offered once TLS is active.
  if (cfg_.tls_available && !cfg_.tls_active) r.lines.emplace_back("STARTTLS");
  if (cfg_.offer_auth && (cfg_.tls_active || cfg_.allow_plaintext_auth))
    r.lines.emplace_back("AUTH PLAIN LOGIN"); // RFC 4954 §3
  // RFC 8689 §4: REQUIRETLS is offered only on a TLS session.
  if (cfg_.tls_active) r.lines.emplace_back("REQUIRETLS");
  r.lines.emplace_back("HELP");
  // RFC 2034 §3: no enhanced status code on the EHLO reply.
  write(r);
}

std::optional<event> server::handle_line(std::string_view line) {
  const command_line c = parse_command_line(line);
  if (line.size() + 2 > line_limit(c.v)) {
    // RFC 5321 §4.5.3.1.4 and §4.5.3.1.10.
    error(500, "5.5.2", "line too long");
    return std::nullopt;
  }
  if (refused_greeting_ && c.v != verb::quit) {
    // RFC 5321 §3.1: after a 554 greeting the server waits for QUIT, answering 503.
    error(503, "5.7.0", "no service, send QUIT");
    return std::nullopt;
  }
  switch (c.v) {
  case verb::helo:
  case verb::ehlo: {
    const std::string_view arg = trim(c.argument);
    // RFC 5321 §4.1.1.1: ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
    bool bad = arg.empty() || arg.size() > cfg_.limits.max_domain + 2;
    for (char ch : arg)
      if (static_cast<unsigned char>(ch) < 33 || ch == 127) bad = true;
    if (bad) {
      error(501, "5.5.4", "HELO/EHLO needs a domain or address literal");
      return std::nullopt;
    }
    pending_helo_ = std::string(arg);
    pending_ehlo_ = c.v == verb::ehlo;
    return await(pending::helo, event_kind::helo);
  }
  case verb::mail:
    return handle_mail(c);
  case verb::rcpt:
    return handle_rcpt(c);
  case verb::data: {
    if (!transaction_) {
      error(503, "5.5.1", "need MAIL before DATA");
      return std::nullopt;
    }
    if (!c.argument.empty()) {
      error(501, "5.5.4", "DATA takes no argument");
      return std::nullopt;
    }
    if (env_.recipients.empty()) {
      // RFC 5321 §4.1.1.4 / RFC 2920 §3.1: no valid recipients.
      error(554, "5.5.1", "no valid recipients");
      return std::nullopt;
    }
    if (env_.body == body_type::binary_mime || env_.chunked) {
      // RFC 3030 §3: BINARYMIME messages are sent with BDAT only; no DATA after BDAT.
      error(503, "5.5.1", "DATA not allowed here, use BDAT");
      return std::nullopt;
    }
    data_start_bdat_ = false;
    return await(pending::data_start, event_kind::data_start);
  }
  case verb::bdat:
    return handle_bdat(c);
  case verb::rset:
    if (!c.argument.empty()) {
      error(501, "5.5.4", "RSET takes no argument");
      return std::nullopt;
    }
    reset_transaction(); // RFC 5321 §4.1.1.5
    reply_with(250, "2.0.0", "OK");
    return std::nullopt;
  case verb::noop:
    reply_with(250, "2.0.0", "OK"); // RFC 5321 §4.1.1.9: the argument is ignored
    return std::nullopt;
  case verb::quit:
    if (!c.argument.empty()) {
      error(501, "5.5.4", "QUIT takes no argument");
      return std::nullopt;
    }
    reply_with(221, "2.0.0", cfg_.hostname + " closing connection"); // RFC 5321 §4.1.1.10
    close_after(close_reason::quit);
    return event{event_kind::quit, {}};
  case verb::vrfy:
    if (trim(c.argument).empty()) {
      error(501, "5.5.4", "VRFY needs an argument");
      return std::nullopt;
    }
    // RFC 5321 §3.5.3: 252 when the server will not verify but will accept the message.
    reply_with(252, "2.5.0", "cannot VRFY user, but will accept message and attempt delivery");
    return std::nullopt;
  case verb::expn:
    error(502, "5.5.1", "EXPN not available"); // RFC 5321 §3.5.2: EXPN may be disabled
    return std::nullopt;
  case verb::help:
    reply_with(214, "2.0.0",
               "see RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP "
               "QUIT VRFY HELP STARTTLS AUTH");
    return std::nullopt;
  case verb::starttls:
    if (!cfg_.tls_available || cfg_.tls_active) {
      error(cfg_.tls_active ? 503 : 502, "5.5.1", "STARTTLS not available");
      return std::nullopt;
    }
    if (!c.argument.empty()) {
      error(501, "5.5.4", "STARTTLS takes no argument"); // RFC 3207 §4
      return std::nullopt;
    }
    if (!helo_done_) {
      error(503, "5.5.1", "send EHLO first");
      return std::nullopt;
    }
    reply_with(220, "2.0.0", "ready to start TLS");
    // RFC 3207 §4.2 and CVE-2011-0411: nothing the client sent in plaintext after STARTTLS is
    // ever executed.
    in_.clear();
    pos_ = 0;
    borrowed_ = {};
    discarding_line_ = false;
    reset_transaction();
    // An aborted message (queued by the reset) reaches the session before the handshake.
    queued_.push_back(event_kind::starttls);
    return std::nullopt;
  case verb::auth: {
    if (!cfg_.offer_auth) {
      error(502, "5.5.1", "AUTH not available on this port");
      return std::nullopt;
    }
    if (!cfg_.tls_active && !cfg_.allow_plaintext_auth) {
      // RFC 4954 §6: 538 5.7.11 Encryption required for requested authentication mechanism.
      error(538, "5.7.11", "encryption required for authentication, use STARTTLS");
      return std::nullopt;
    }
    if (!esmtp_) {
      error(503, "5.5.1", "send EHLO first");
      return std::nullopt;
    }
    if (!authenticated_.empty()) {
      error(503, "5.5.1", "already authenticated"); // RFC 4954 §4
      return std::nullopt;
    }
    if (transaction_) {
      error(503, "5.5.1", "AUTH not allowed during a mail transaction"); // RFC 4954 §4
      return std::nullopt;
    }
    return sasl_outcome(sasl_.start(trim(c.argument)));
  }
  case verb::forbidden:
    reply_with(502, "5.7.0", "this is an SMTP server");
    close_after(close_reason::forbidden_command);
    return std::nullopt;
  case verb::unknown:
    break;
  }
  error(500, "5.5.1", "unknown command");
  return std::nullopt;
}

std::optional<event> server::sasl_outcome(const sasl_server::step_result& r) {
  switch (r.st) {
  case sasl_server::status::challenge:
    phase_ = phase::auth;
    // RFC 4954 §4: "334" SP [base64]; the space is sent even for an empty challenge.
    write_raw("334 " + r.challenge + "\r\n");
    return std::nullopt;
  case sasl_server::status::done:
    phase_ = phase::command;
    return await(pending::auth, event_kind::auth);
  case sasl_server::status::cancelled:
    phase_ = phase::command;
    error(501, "5.0.0", "authentication cancelled"); // RFC 4954 §4
    return std::nullopt;
  case sasl_server::status::unsupported:
    phase_ = phase::command;
    error(504, "5.5.4", "unrecognized authentication mechanism"); // RFC 4954 §4
    return std::nullopt;
  case sasl_server::status::malformed:
    break;
  }
  phase_ = phase::command;
  error(501, "5.5.2", "cannot decode AUTH response");
  return std::nullopt;
}

std::optional<event> server::handle_auth_step(std::string_view line) {
  if (line.size() + 2 > cfg_.limits.auth_line) {
    phase_ = phase::command;
    sasl_.clear();
    error(500, "5.5.2", "line too long");
    return std::nullopt;
  }
  return sasl_outcome(sasl_.step(line));
}

std::optional<event> server::handle_mail(const command_line& c) {
  if (!helo_done_) {
    error(503, "5.5.1", "send HELO/EHLO first");
    return std::nullopt;
  }
  if (c.missing_colon) {
    error(500, "5.5.2", "syntax: MAIL FROM:<address>");
    return std::nullopt;
  }
  if (transaction_) {
    error(503, "5.5.1", "nested MAIL command"); // RFC 5321 §4.1.4
    return std::nullopt;
  }
  if (cfg_.require_tls_for_mail && !cfg_.tls_active) {
    error(530, "5.7.0", "must issue a STARTTLS command first"); // RFC 3207 §4
    return std::nullopt;
  }
  if (cfg_.require_auth_for_mail && authenticated_.empty()) {
    error(530, "5.7.0", "authentication required"); // RFC 4954 §6
    return std::nullopt;
  }
  auto p = parse_path_argument(c.argument, cfg_.limits, true, true, false);
  switch (p.error) {
  case path_error::none:
    break;
  case path_error::syntax:
    error(501, "5.1.7", "bad sender address syntax");
    return std::nullopt;
  case path_error::too_long:
    error(501, "5.1.7", "sender address too long"); // RFC 5321 §4.5.3.1
    return std::nullopt;
  case path_error::bad_domain:
    error(501, "5.1.8", "bad sender domain");
    return std::nullopt;
  case path_error::utf8_not_allowed:
    break; // only reachable with allow_utf8 false
  }
  if (p.params_syntax_error) {
    error(501, "5.5.4", "bad MAIL parameter syntax");
    return std::nullopt;
  }
  if (!esmtp_ && !p.params.empty()) {
    // RFC 5321 §4.1.1.11: parameters need EHLO.
    error(555, "5.5.4", "MAIL parameters not recognized after HELO");
    return std::nullopt;
  }
  envelope e = env_;
  bool seen_size = false, seen_body = false, seen_ret = false;
  for (const auto& prm : p.params) {
    const auto& k = prm.keyword;
    const bool has = prm.value.has_value();
    auto dup = [&](bool& seen) {
      if (seen) return true;
      seen = true;
      return false;
    };
    if (k == "SIZE") {
      auto n = has ? parse_number(*prm.value) : std::nullopt;
      if (dup(seen_size) || !n) {
        error(501, "5.5.4", "bad SIZE parameter");
        return std::nullopt;
      }
      if (*n > cfg_.limits.max_message_size) {
        // RFC 1870 §6.2: 552 when the declared size exceeds the fixed maximum.
        error(552, "5.3.4", "message size exceeds fixed maximum message size");
        return std::nullopt;
      }
      e.declared_size = *n;
    } else if (k == "BODY") {
      if (dup(seen_body) || !has) {
        error(501, "5.5.4", "bad BODY parameter");
        return std::nullopt;
      }
      if (iequals(*prm.value, "7BIT")) {
        e.body = body_type::seven_bit;
      } else if (iequals(*prm.value, "8BITMIME")) {
        e.body = body_type::eight_bit_mime; // RFC 6152 §2
      } else if (iequals(*prm.value, "BINARYMIME")) {
        e.body = body_type::binary_mime; // RFC 3030 §3
      } else {
        error(501, "5.5.4", "unknown BODY type");
        return std::nullopt;
      }
    } else if (k == "SMTPUTF8") {
      if (has || e.smtputf8) {
        error(501, "5.5.4", "SMTPUTF8 takes no value"); // RFC 6531 §3.4
        return std::nullopt;
      }
      e.smtputf8 = true;
    } else if (k == "RET") {
      if (dup(seen_ret) || !has || (!iequals(*prm.value, "FULL") && !iequals(*prm.value, "HDRS"))) {
        error(501, "5.5.4", "bad RET parameter"); // RFC 3461 §4.3
        return std::nullopt;
      }
      e.ret = iequals(*prm.value, "FULL") ? dsn_ret::full : dsn_ret::hdrs;
    } else if (k == "ENVID") {
      auto v = has ? decode_xtext(*prm.value) : std::nullopt;
      // RFC 3461 §4.4: ENVID is xtext of at most 100 characters.
      if (e.envid || !v || v->empty() || v->size() > cfg_.limits.max_envid) {
        error(501, "5.5.4", "bad ENVID parameter");
        return std::nullopt;
      }
      e.envid = std::move(*v);
    } else if (k == "AUTH") {
      // RFC 4954 §5: AUTH=<> or AUTH=xtext. Kept; trusting it is the policy's business.
      std::optional<std::string> v;
      if (has) v = *prm.value == "<>" ? std::optional<std::string>("<>") : decode_xtext(*prm.value);
      if (e.auth || !v) {
        error(501, "5.5.4", "bad AUTH parameter");
        return std::nullopt;
      }
      e.auth = std::move(*v);
    } else if (k == "REQUIRETLS") {
      if (has || e.requiretls) {
        error(501, "5.5.4", "REQUIRETLS takes no value");
        return std::nullopt;
      }
      if (!cfg_.tls_active) {
        // RFC 8689 §4: REQUIRETLS only on a TLS session.
        error(530, "5.7.10", "REQUIRETLS needs TLS");
        return std::nullopt;
      }
      e.requiretls = true;
    } else {
      // RFC 5321 §4.1.1.11: 555 for parameters not recognized.
      error(555, "5.5.4", "unsupported MAIL parameter " + k);
      return std::nullopt;
    }
  }
  if (p.address && p.address->utf8 && !e.smtputf8) {
    // RFC 6531 §3.4: non-ASCII addresses only in an SMTPUTF8 transaction.
    error(553, "5.6.7", "non-ASCII sender needs SMTPUTF8");
    return std::nullopt;
  }
  e.reverse_path = std::move(p.address);
  e.recipients.clear();
  env_ = std::move(e);
  return await(pending::mail, event_kind::mail);
}

std::optional<event> server::handle_rcpt(const command_line& c) {
  if (c.missing_colon) {
    error(500, "5.5.2", "syntax: RCPT TO:<address>");
    return std::nullopt;
  }
  if (!transaction_) {
    error(503, "5.5.1", "need MAIL before RCPT"); // RFC 5321 §4.1.4
    return std::nullopt;
  }
  auto p = parse_path_argument(c.argument, cfg_.limits, true, false, true);
  switch (p.error) {
  case path_error::none:
  case path_error::utf8_not_allowed:
    break;
  case path_error::syntax:
    error(501, "5.1.3", "bad recipient address syntax");
    return std::nullopt;
  case path_error::too_long:
    error(501, "5.1.3", "recipient address too long"); // RFC 5321 §4.5.3.1
    return std::nullopt;
  case path_error::bad_domain:
    error(501, "5.1.2", "bad recipient domain");
    return std::nullopt;
  }
  if (p.params_syntax_error) {
    error(501, "5.5.4", "bad RCPT parameter syntax");
    return std::nullopt;
  }
  if (!esmtp_ && !p.params.empty()) {
    error(555, "5.5.4", "RCPT parameters not recognized after HELO"); // RFC 5321 §4.1.1.11
    return std::nullopt;
  }
  recipient r;
  for (const auto& prm : p.params) {
    if (prm.keyword == "NOTIFY") {
      auto n = prm.value ? parse_notify(*prm.value) : std::nullopt;
      if (r.notify || !n) {
        error(501, "5.5.4", "bad NOTIFY parameter"); // RFC 3461 §4.1
        return std::nullopt;
      }
      r.notify = *n;
    } else if (prm.keyword == "ORCPT") {
      auto o = prm.value ? parse_orcpt(*prm.value, cfg_.limits.max_orcpt) : std::nullopt;
      if (r.orcpt || !o) {
        error(501, "5.5.4", "bad ORCPT parameter"); // RFC 3461 §4.2
        return std::nullopt;
      }
      r.orcpt = std::move(*o);
    } else {
      error(555, "5.5.4", "unsupported RCPT parameter " + prm.keyword); // RFC 5321 §4.1.1.11
      return std::nullopt;
    }
  }
  if (p.address->utf8 && !env_.smtputf8) {
    error(553, "5.6.7", "non-ASCII recipient needs SMTPUTF8"); // RFC 6531 §3.4
    return std::nullopt;
  }
  if (env_.recipients.size() >= cfg_.limits.max_recipients) {
    // RFC 5321 §4.5.3.1.8 and §4.5.3.1.10: 452 too many recipients; not a client error.
    reply_with(452, "4.5.3", "too many recipients");
    return std::nullopt;
  }
  r.address = std::move(*p.address);
  pending_rcpt_ = std::move(r);
  return await(pending::rcpt, event_kind::rcpt);
}

std::optional<event> server::handle_bdat(const command_line& c) {
  // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
  const std::string_view arg = c.argument;
  const std::size_t sp = arg.find(' ');
  const auto size = parse_number(arg.substr(0, sp));
  bool last = false;
  bool ok = size.has_value();
  if (ok && sp != std::string_view::npos) {
    last = iequals(arg.substr(sp + 1), "LAST");
    ok = last;
  }
  if (!ok) {
    // The octets that follow cannot be found without a valid size: close.
    reply_with(501, "5.5.4", "bad BDAT syntax, closing");
    close_after(close_reason::bdat_syntax);
    return std::nullopt;
  }
  bdat_size_ = *size;
  bdat_last_ = last;
  auto refuse = [&](int code, std::string_view status, std::string_view text) {
    // RFC 3030 §2: the chunk is read and discarded even when the command is refused.
    ++errors_;
    if (errors_ >= cfg_.limits.max_errors) {
      out_ += format_reply(make_reply(421, "4.7.0", cfg_.hostname + " too many errors, closing"));
      close_after(close_reason::too_many_errors);
      return std::optional<event>();
    }
    bdat_refusal_ = make_reply(code, status, text);
    bdat_discard_ = true;
    bdat_.start_chunk(bdat_size_);
    phase_ = phase::bdat;
    return std::optional<event>();
  };
  if (!esmtp_) return refuse(503, "5.5.1", "BDAT needs EHLO");
  if (!transaction_) return refuse(503, "5.5.1", "need MAIL before BDAT");
  if (env_.recipients.empty()) return refuse(554, "5.5.1", "no valid recipients");
  if (!env_.chunked) {
    // The first chunk: the policy opens the message.
    data_start_bdat_ = true;
    return await(pending::data_start, event_kind::data_start);
  }
  bdat_.start_chunk(bdat_size_);
  phase_ = phase::bdat;
  return std::nullopt;
}

void server::resolve(decision d) {
  const pending p = awaiting_;
  awaiting_ = pending::none;
  const bool ok = d.accepted();
  auto respond = [&](int code, std::string_view status, std::string_view text) {
    if (d.response) {
      write(*d.response);
    } else {
      reply_with(code, status, text);
    }
  };
  switch (p) {
  case pending::none:
  case pending::tls:
    awaiting_ = p;
    return;
  case pending::connect:
    if (ok) {
      // RFC 5321 §4.3.1 greeting; RFC 2034 §3: no enhanced code on the greeting.
      if (d.response) {
        write(*d.response);
      } else {
        write(make_reply(220, "", cfg_.hostname + " ESMTP mailkit"));
      }
    } else {
      write(*d.response);
      if (d.response->code != 421) refused_greeting_ = true;
    }
    return;
  case pending::helo:
    if (ok) {
      helo_done_ = true;
      esmtp_ = pending_ehlo_;
      reset_transaction(); // RFC 5321 §4.1.4: EHLO/HELO reset the transaction like RSET
      env_.helo = pending_helo_;
      env_.esmtp = esmtp_;
      if (d.response) {
        write(*d.response);
      } else if (pending_ehlo_) {
        ehlo_reply();
      } else {
        write(make_reply(250, "", cfg_.hostname));
      }
    } else {
      write(*d.response);
    }
    return;
  case pending::mail:
    if (ok) {
      transaction_ = true;
      env_.tls = cfg_.tls_active;
      env_.authenticated_as = authenticated_;
    } else {
      reset_transaction();
    }
    respond(250, "2.1.0", "sender OK");
    return;
  case pending::rcpt:
    if (ok) env_.recipients.push_back(std::move(pending_rcpt_));
    pending_rcpt_ = {};
    respond(250, "2.1.5", "recipient OK");
    return;
  case pending::auth: {
    const credentials& cr = sasl_.result();
    if (ok) {
      authenticated_ = cr.authzid.empty() ? cr.authcid : cr.authzid;
      env_.authenticated_as = authenticated_;
      respond(235, "2.7.0", "authentication successful"); // RFC 4954 §6
    } else {
      ++auth_failures_;
      if (auth_failures_ >= cfg_.limits.max_auth_failures) {
        out_ += format_reply(make_reply(421, "4.7.0", "too many authentication failures"));
        close_after(close_reason::too_many_auth_failures);
      } else if (d.response) {
        write(*d.response);
      } else {
        reply_with(535, "5.7.8", "authentication credentials invalid"); // RFC 4954 §6
      }
    }
    sasl_.clear();
    return;
  }
  case pending::data_start:
    if (data_start_bdat_) {
      bdat_.start_chunk(bdat_size_);
      phase_ = phase::bdat;
      if (ok) {
        message_open_ = true;
        env_.chunked = true;
        bdat_.reset(env_.body == body_type::binary_mime);
        bdat_.start_chunk(bdat_size_);
      } else {
        // RFC 3030 §2: a refused BDAT's chunk is still read, then the refusal is sent.
        bdat_refusal_ = *d.response;
        bdat_discard_ = true;
      }
      return;
    }
    if (ok) {
      message_open_ = true;
      phase_ = phase::data;
      data_done_ = false;
      dot_.reset();
      // RFC 5321 §4.1.1.4: 354, then the data; RFC 2034: no enhanced code on 354.
      if (d.response) {
        write(*d.response);
      } else {
        write(make_reply(354, "", "end data with <CR><LF>.<CR><LF>"));
      }
    } else {
      write(*d.response);
    }
    return;
  case pending::message:
    // The session has finished with its sink either way.
    message_open_ = false;
    respond(250, "2.0.0", "message accepted");
    reset_transaction();
    return;
  }
}

} // namespace mailkit::smtp
