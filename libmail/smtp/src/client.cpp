// SPDX-License-Identifier: Apache-2.0
// The sans-I/O SMTP client (client.hpp): a state machine over expected replies.
//
// Every command the client sends pushes what it expects onto `pending_`; every reply pops the
// front. Commands of one transaction wait in `queued_` and go out one at a time, or all at once
// when the server offers PIPELINING (RFC 2920 §3.1: MAIL, the RCPTs and DATA in one group, the
// replies read in order).
#include <mailkit/smtp/client.hpp>

#include <mailkit/core/base64.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace mailkit::smtp {

namespace {

char upper(char c) noexcept {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = upper(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

bool is_ascii(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A reply we make up for a local refusal; `local` says so in its text.
reply local_reply(int code, std::string_view status, std::string_view text) {
  return make_reply(code, status, text);
}

// RFC 3461 §4.1: NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )
bool valid_notify(std::string_view n) {
  if (iequals(n, "NEVER")) return true;
  if (n.empty()) return false;
  std::size_t start = 0;
  while (start <= n.size()) {
    const std::size_t comma = n.find(',', start);
    const std::string_view item =
        n.substr(start, comma == std::string_view::npos ? n.npos : comma - start);
    if (!iequals(item, "SUCCESS") && !iequals(item, "FAILURE") && !iequals(item, "DELAY"))
      return false;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return true;
}

} // namespace

// ---- capabilities ----------------------------------------------------------------------------

bool capabilities::has_auth(std::string_view mechanism) const noexcept {
  return std::any_of(auth.begin(), auth.end(),
                     [&](const std::string& m) { return iequals(m, mechanism); });
}

capabilities parse_ehlo(const reply& r) {
  capabilities caps;
  caps.esmtp = true;
  if (!r.lines.empty()) {
    const std::string_view first = r.lines.front();
    caps.domain = std::string(first.substr(0, first.find(' ')));
  }
  auto add_mechanisms = [&caps](std::string_view params) {
    std::size_t pos = 0;
    while (pos < params.size()) {
      const std::size_t sp = params.find(' ', pos);
      const std::string_view m =
          params.substr(pos, sp == std::string_view::npos ? params.npos : sp - pos);
      if (!m.empty() && caps.auth.size() < max_auth_mechanisms && !caps.has_auth(m))
        caps.auth.push_back(to_upper(m));
      if (sp == std::string_view::npos) break;
      pos = sp + 1;
    }
  };
  // RFC 5321 §4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param ); the first line greets.
  for (std::size_t i = 1; i < r.lines.size() && i <= max_ehlo_keywords; ++i) {
    std::string_view line = r.lines[i];
    while (!line.empty() && line.front() == ' ')
      line.remove_prefix(1);
    const std::size_t sp = line.find(' ');
    const std::string_view keyword = line.substr(0, sp);
    const std::string_view params =
        sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    caps.keywords.emplace_back(line);
    if (iequals(keyword, "SIZE")) {
      std::uint64_t n = 0;
      if (params.empty()) {
        caps.size = 0; // RFC 1870 §4: no parameter, no fixed maximum
      } else {
        const std::string_view digits = params.substr(0, params.find(' '));
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec == std::errc() && p == digits.data() + digits.size()) caps.size = n;
      }
    } else if (iequals(keyword, "PIPELINING")) {
      caps.pipelining = true;
    } else if (iequals(keyword, "8BITMIME")) {
      caps.eightbitmime = true;
    } else if (iequals(keyword, "SMTPUTF8")) {
      caps.smtputf8 = true;
    } else if (iequals(keyword, "CHUNKING")) {
      caps.chunking = true;
    } else if (iequals(keyword, "BINARYMIME")) {
      caps.binarymime = true;
    } else if (iequals(keyword, "DSN")) {
      caps.dsn = true;
    } else if (iequals(keyword, "STARTTLS")) {
      caps.starttls = true;
    } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
      caps.enhancedstatuscodes = true;
    } else if (iequals(keyword, "REQUIRETLS")) {
      caps.requiretls = true;
    } else if (iequals(keyword, "AUTH")) {
      add_mechanisms(params);
    } else if (keyword.size() > 5 && iequals(keyword.substr(0, 5), "AUTH=")) {
      // The pre-RFC 2554 form some servers still send: "AUTH=LOGIN PLAIN".
      add_mechanisms(line.substr(5));
    }
  }
  return caps;
}

// ---- message helpers -------------------------------------------------------------------------

namespace {

// Walk `message` as canonical CRLF lines; `emit(char)` gets each output byte, `line_start()` is
// called before the first byte of each line. Returns nothing; the callers build or count.
template <class Emit, class LineStart>
void walk_canonical(std::string_view m, Emit&& emit, LineStart&& line_start) {
  bool at_start = true;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const char c = m[i];
    if (c == '\r' || c == '\n') {
      if (at_start) line_start();
      // CRLF stays; a bare CR or a bare LF becomes CRLF.
      if (c == '\r' && i + 1 < m.size() && m[i + 1] == '\n') ++i;
      emit('\r');
      emit('\n');
      at_start = true;
      continue;
    }
    if (at_start) {
      line_start();
      at_start = false;
    }
    emit(c);
  }
  if (!at_start) {
    emit('\r');
    emit('\n');
  }
}

} // namespace

std::uint64_t canonical_size(std::string_view message) noexcept {
  std::uint64_t n = 0;
  walk_canonical(
      message, [&](char) { ++n; }, [] {});
  return n;
}

std::string canonicalize(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 2);
  walk_canonical(
      message, [&](char c) { out.push_back(c); }, [] {});
  return out;
}

std::string dot_stuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 5);
  bool first_of_line = false;
  walk_canonical(
      message,
      [&](char c) {
        // RFC 5321 §4.5.2: before sending a line, if its first character is a period, one
        // additional period is inserted at the beginning of the line.
        if (first_of_line && c == '.') out.push_back('.');
        first_of_line = false;
        out.push_back(c);
      },
      [&] { first_of_line = true; });
  out += ".\r\n"; // RFC 5321 §4.1.1.4: the mail data ends with a line containing only "."
  return out;
}

std::string xtext_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    // RFC 3461 §4: xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except
    // for "+" and "="; everything else is "+" followed by two upper case hex digits.
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out.push_back(ch);
    } else {
      out.push_back('+');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

message_needs inspect_message(std::string_view m) noexcept {
  message_needs needs;
  bool in_header = true;
  bool line_empty = true;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const auto c = static_cast<unsigned char>(m[i]);
    if (c == '\n') {
      if (line_empty) in_header = false;
      line_empty = true;
      continue;
    }
    if (c == '\r') continue;
    line_empty = false;
    if (c >= 0x80) {
      needs.eightbit = true;
      if (in_header) {
        needs.utf8_headers = true;
        return needs; // nothing more to learn
      }
    }
  }
  return needs;
}

bool safe_in_command(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0<>", 5)) == std::string_view::npos;
}

bool transaction_result::all_delivered() const noexcept {
  return !recipients.empty() &&
         std::all_of(recipients.begin(), recipients.end(),
                     [](const recipient_result& r) { return r.delivered(); });
}

bool transaction_result::any_delivered() const noexcept {
  return std::any_of(recipients.begin(), recipients.end(),
                     [](const recipient_result& r) { return r.delivered(); });
}

// ---- the state machine -----------------------------------------------------------------------

struct client::impl {
  enum class expect {
    greeting,
    ehlo,
    helo,
    starttls,
    auth_plain_challenge, // "AUTH PLAIN" without initial response: expect 334
    auth_login_user,      // expect 334 asking for the user name
    auth_login_password,  // expect 334 asking for the password
    auth_result,          // expect 235
    auth_cancelled,       // after "*": expect 501, then fail
    rset,
    mail,
    rcpt,
    data,
    data_end,
    data_discard, // "." sent after an unwanted 354
    bdat,
    bdat_last,
    quit,
  };
  enum class state { busy, start_tls, ready, done, closed, failed };

  struct command {
    std::string text;
    expect what;
    std::size_t index = 0;
  };
  struct pending_reply {
    expect what;
    std::size_t index = 0;
  };

  client_options opts;
  reply_parser parser;
  std::string out;
  std::deque<pending_reply> pending;
  std::deque<command> queued;
  state st = state::busy;
  capabilities caps;
  std::optional<reply> greeting;
  bool tls = false;
  bool authed = false;
  bool peer_closed = false;
  bool starttls_declined = false;
  bool server_closing = false; // a 421 arrived: the server is going away
  error_code err;
  std::optional<reply> err_reply;
  std::string err_detail;

  // The transaction in progress.
  envelope env;
  std::string payload;
  std::size_t bdat_offset = 0;
  bool use_bdat = false;
  bool mail_failed = false;
  bool transaction_open = false; // MAIL accepted and no end of data yet: RSET before the next
  std::vector<std::optional<reply>> rcpt_replies;
  std::size_t rcpt_answered = 0;
  std::size_t accepted = 0;
  transaction_result result;

  explicit impl(client_options o) : opts(std::move(o)), parser(opts.limits) {
    pending.push_back({expect::greeting});
  }

  void fail(client_errc e, std::optional<reply> r, std::string detail) {
    err = make_error_code(e);
    err_reply = std::move(r);
    err_detail = std::move(detail);
    if (err_detail.empty()) err_detail = err.message();
    if (err_reply) err_detail += ": " + std::to_string(err_reply->code) + ' ' + err_reply->text();
    st = state::failed;
    out.clear();
    queued.clear();
    pending.clear();
  }

  void send(std::string text, expect what, std::size_t index = 0) {
    out += text;
    pending.push_back({what, index});
  }

  // Move queued transaction commands to the output: all of them with PIPELINING, else one.
  void flush_queued() {
    const bool group = opts.use_pipelining && caps.pipelining;
    while (!queued.empty()) {
      command c = std::move(queued.front());
      queued.pop_front();
      send(std::move(c.text), c.what, c.index);
      if (!group) break;
    }
  }

  void send_ehlo() {
    // RFC 5321 §4.1.1.1: ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
    send("EHLO " + opts.helo_name + "\r\n", expect::ehlo);
  }

  void after_hello() {
    // RFC 3207 §4: STARTTLS when offered and wanted, before anything else is said.
    if (!tls && opts.starttls && !starttls_declined) {
      if (caps.starttls) {
        send("STARTTLS\r\n", expect::starttls);
        return;
      }
      if (opts.require_starttls)
        return fail(client_errc::starttls_unavailable, std::nullopt,
                    "TLS is required but the server (" + caps.domain + ") does not offer STARTTLS");
    }
    if (opts.auth && !authed) return begin_auth();
    st = state::ready;
  }

  void begin_auth() {
    if (!tls && !opts.auth_without_tls)
      return fail(client_errc::auth_unavailable, std::nullopt,
                  "credentials are sent only over TLS and this connection is not encrypted");
    auth_mechanism m = opts.mechanism;
    if (m == auth_mechanism::automatic) {
      // PLAIN first: one round trip, and what every relay we know accepts.
      if (caps.has_auth("PLAIN"))
        m = auth_mechanism::plain;
      else if (caps.has_auth("LOGIN"))
        m = auth_mechanism::login;
      else {
        std::string offered;
        for (const auto& a : caps.auth)
          offered += (offered.empty() ? "" : " ") + a;
        return fail(client_errc::auth_unavailable, std::nullopt,
                    offered.empty() ? "the server does not offer AUTH"
                                    : "the server offers AUTH " + offered +
                                          "; mailkit supports PLAIN and LOGIN");
      }
    }
    if (m == auth_mechanism::plain) {
      std::string response = sasl_plain_response(*opts.auth);
      // RFC 4954 §4: the initial response only when the whole command fits the 512-octet line
      // (RFC 5321 §4.5.3.1.4); otherwise it follows the server's empty 334 challenge.
      if (initial_response_fits("PLAIN", response)) {
        send("AUTH PLAIN " + response + "\r\n", expect::auth_result);
      } else {
        send("AUTH PLAIN\r\n", expect::auth_plain_challenge);
      }
      OPENSSL_cleanse(response.data(), response.size());
    } else {
      // LOGIN has no initial response: the server asks for the user name, then the password.
      send("AUTH LOGIN\r\n", expect::auth_login_user);
    }
  }

  void cancel_auth() {
    // RFC 4954 §4: "*" cancels the exchange; the server answers 501.
    send("*\r\n", expect::auth_cancelled);
  }

  void on_auth_result(const reply& r) {
    if (r.positive_completion()) {
      authed = true;
      st = state::ready;
      return;
    }
    if (r.code == 334) return cancel_auth();
    if (r.transient_failure())
      return fail(client_errc::auth_failed_transient, r, "authentication failed temporarily");
    return fail(client_errc::auth_failed, r, "authentication failed");
  }

  // -- transactions --

  void refuse(local_refusal why, int code, std::string_view status, std::string reason) {
    result = transaction_result{};
    result.refused = why;
    result.reason = reason;
    const reply r =
        local_reply(code, status, "mailkit refused the message before sending: " + reason);
    for (const auto& rc : env.recipients)
      result.recipients.push_back({rc.address, r});
    st = state::done;
  }

  void start(envelope e, std::string_view message) {
    env = std::move(e);
    result = transaction_result{};
    mail_failed = false;
    rcpt_replies.assign(env.recipients.size(), std::nullopt);
    rcpt_answered = 0;
    accepted = 0;
    bdat_offset = 0;
    payload.clear();

    if (env.recipients.empty())
      return refuse(local_refusal::no_recipients, 554, "5.5.1", "the envelope has no recipient");
    bool envelope_ascii = is_ascii(env.mail_from);
    if (!safe_in_command(env.mail_from))
      return refuse(local_refusal::invalid_envelope, 553, "5.1.7",
                    "the sender address contains CR, LF, NUL or angle brackets");
    for (const auto& rc : env.recipients) {
      if (rc.address.empty() || !safe_in_command(rc.address) || !safe_in_command(rc.orcpt))
        return refuse(local_refusal::invalid_envelope, 553, "5.1.3",
                      "a recipient address is empty or contains CR, LF, NUL or angle brackets");
      if (!rc.notify.empty() && !valid_notify(rc.notify))
        return refuse(local_refusal::invalid_envelope, 501, "5.5.4",
                      "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
      envelope_ascii = envelope_ascii && is_ascii(rc.address);
    }
    if (!env.ret.empty() && !iequals(env.ret, "FULL") && !iequals(env.ret, "HDRS"))
      return refuse(local_refusal::invalid_envelope, 501, "5.5.4", "RET must be FULL or HDRS");

    const message_needs needs = inspect_message(message);
    const bool need_smtputf8 = !envelope_ascii || needs.utf8_headers;
    // RFC 6531 §3.2: a message that needs SMTPUTF8 must not be sent to a server without it
    // (no downgrade, RFC 6530 §8).
    if (need_smtputf8 && !caps.smtputf8)
      return refuse(local_refusal::smtputf8_required, 553, "5.6.7",
                    std::string(!envelope_ascii ? "the envelope has a non-ASCII address"
                                                : "the header section is not ASCII") +
                        " and the server does not offer SMTPUTF8");
    // RFC 6152 §3: 8-bit data only to a server that offers 8BITMIME; we do not convert to
    // 7-bit (quoted-printable/base64) this round.
    if (needs.eightbit && !caps.eightbitmime)
      return refuse(local_refusal::eightbit_required, 554, "5.6.3",
                    "the message has 8-bit data and the server does not offer 8BITMIME "
                    "(conversion to 7-bit is not supported)");
    const std::uint64_t size = canonical_size(message);
    // RFC 1870 §6: a client should not send a message larger than the declared SIZE.
    if (caps.size && *caps.size > 0 && size > *caps.size)
      return refuse(local_refusal::size_exceeded, 552, "5.3.4",
                    "the message is " + std::to_string(size) +
                        " octets and the server accepts at most " + std::to_string(*caps.size));

    use_bdat = opts.use_chunking && caps.chunking;
    payload = use_bdat ? canonicalize(message) : dot_stuff(message);
    result.used_bdat = use_bdat;
    result.used_smtputf8 = need_smtputf8;
    result.used_8bitmime = needs.eightbit;

    if (transaction_open) queued.push_back({"RSET\r\n", expect::rset});
    // RFC 5321 §4.1.1.2: mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
    std::string mail = "MAIL FROM:<" + env.mail_from + ">";
    if (caps.size) mail += " SIZE=" + std::to_string(size); // RFC 1870 §6
    if (needs.eightbit) mail += " BODY=8BITMIME";           // RFC 6152 §3
    if (need_smtputf8) mail += " SMTPUTF8";                 // RFC 6531 §3.4
    if (caps.dsn) {
      if (!env.ret.empty()) mail += " RET=" + to_upper(env.ret);           // RFC 3461 §4.3
      if (!env.envid.empty()) mail += " ENVID=" + xtext_encode(env.envid); // RFC 3461 §4.4
    }
    queued.push_back({mail + "\r\n", expect::mail});
    for (std::size_t i = 0; i < env.recipients.size(); ++i) {
      const auto& rc = env.recipients[i];
      std::string rcpt = "RCPT TO:<" + rc.address + ">";
      if (caps.dsn) {
        if (!rc.notify.empty()) rcpt += " NOTIFY=" + to_upper(rc.notify);         // RFC 3461 §4.1
        if (!rc.orcpt.empty()) rcpt += " ORCPT=rfc822;" + xtext_encode(rc.orcpt); // §4.2
      }
      queued.push_back({rcpt + "\r\n", expect::rcpt, i});
    }
    // RFC 2920 §3.1: DATA may end a pipelined group (its reply decides whether data follows).
    if (!use_bdat && opts.use_pipelining && caps.pipelining)
      queued.push_back({"DATA\r\n", expect::data});
    st = state::busy;
    flush_queued();
  }

  void send_next_chunk() {
    const std::size_t left = payload.size() - bdat_offset;
    const std::size_t n = std::min(left, std::max<std::size_t>(opts.chunk_size, 1));
    const bool last = n == left;
    // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
    out += "BDAT " + std::to_string(n) + (last ? " LAST" : "") + "\r\n";
    out.append(payload, bdat_offset, n);
    bdat_offset += n;
    pending.push_back({last ? expect::bdat_last : expect::bdat});
  }

  void after_recipients() {
    // Non-pipelined (or BDAT) flow: the RCPT replies are in; send the data if anyone accepted.
    if (accepted == 0) return finish();
    if (use_bdat) return send_next_chunk();
    send("DATA\r\n", expect::data);
  }

  void finish() {
    result.recipients.clear();
    for (std::size_t i = 0; i < env.recipients.size(); ++i) {
      const std::string& a = env.recipients[i].address;
      if (mail_failed && result.mail_reply) {
        result.recipients.push_back({a, *result.mail_reply});
      } else if (rcpt_replies[i] && !rcpt_replies[i]->positive_completion()) {
        result.recipients.push_back({a, *rcpt_replies[i]});
      } else if (result.final_reply) {
        result.recipients.push_back({a, *result.final_reply});
      } else if (rcpt_replies[i]) {
        // Accepted but no data went out: cannot happen unless the server closed; say so.
        result.recipients.push_back(
            {a, local_reply(451, "4.4.2", "the transaction ended before the data was sent")});
      } else {
        result.recipients.push_back(
            {a, local_reply(451, "4.4.2", "no reply to RCPT before the transaction ended")});
      }
    }
    payload.clear();
    payload.shrink_to_fit();
    queued.clear();
    st = state::done;
  }

  // 421 in the middle of a transaction: the server is closing (RFC 5321 §3.8). Every recipient
  // not yet decided gets the 421, the transaction ends, and the connection is finished after.
  void closing_during_transaction(const reply& r) {
    server_closing = true;
    if (!result.mail_reply) {
      result.mail_reply = r;
      mail_failed = true;
    } else if (!result.final_reply) {
      for (auto& rr : rcpt_replies)
        if (!rr) rr = r;
      result.final_reply = r;
    }
    pending.clear();
    finish();
  }

  void handle(pending_reply p, const reply& r) {
    const bool in_transaction = p.what == expect::mail || p.what == expect::rcpt ||
                                p.what == expect::data || p.what == expect::data_end ||
                                p.what == expect::bdat || p.what == expect::bdat_last;
    if (in_transaction && r.code == 421 && p.what != expect::data_end &&
        p.what != expect::bdat_last)
      return closing_during_transaction(r);
    switch (p.what) {
    case expect::greeting:
      greeting = r;
      // RFC 5321 §4.3.2: CONNECTION ESTABLISHMENT S: 220 E: 554
      if (r.code == 220) return send_ehlo();
      if (r.transient_failure())
        return fail(client_errc::greeting_rejected, r, "the server's greeting");
      if (r.permanent_failure())
        return fail(client_errc::greeting_rejected_permanent, r, "the server's greeting");
      return fail(client_errc::protocol_violation, r, "unexpected greeting");
    case expect::ehlo:
      if (r.positive_intermediate()) return fail(client_errc::protocol_violation, r, "EHLO");
      if (r.positive_completion()) {
        caps = parse_ehlo(r);
        return after_hello();
      }
      // RFC 5321 §3.2: a server that does not know EHLO answers "command not recognized"
      // (500, or 502 "not implemented"); the client falls back to HELO. Not after STARTTLS:
      // a server that offered STARTTLS speaks ESMTP.
      if ((r.code == 500 || r.code == 502) && !tls) {
        send("HELO " + opts.helo_name + "\r\n", expect::helo);
        return;
      }
      if (r.transient_failure()) return fail(client_errc::hello_rejected, r, "EHLO");
      return fail(client_errc::hello_rejected_permanent, r, "EHLO");
    case expect::helo:
      if (r.positive_intermediate()) return fail(client_errc::protocol_violation, r, "HELO");
      if (r.positive_completion()) {
        caps = capabilities{};
        if (!r.lines.empty()) caps.domain = r.lines.front().substr(0, r.lines.front().find(' '));
        return after_hello();
      }
      if (r.transient_failure()) return fail(client_errc::hello_rejected, r, "HELO");
      return fail(client_errc::hello_rejected_permanent, r, "HELO");
    case expect::starttls:
      if (r.code == 220) {
        // RFC 3207 §6 / CVE-2011-0411 class: anything the server sent after its 220 arrived
        // in plaintext and would be read as if it came over TLS. A real server sends nothing.
        if (parser.buffered() != 0)
          return fail(client_errc::starttls_injection, std::nullopt,
                      "the server sent data after its 220 to STARTTLS");
        st = state::start_tls;
        return;
      }
      if (opts.require_starttls) return fail(client_errc::starttls_rejected, r, "STARTTLS");
      starttls_declined = true; // opportunistic: carry on in plaintext
      return after_hello();
    case expect::auth_plain_challenge:
      if (r.code == 334) {
        std::string response = sasl_plain_response(*opts.auth);
        send(response + "\r\n", expect::auth_result);
        OPENSSL_cleanse(response.data(), response.size());
        return;
      }
      return on_auth_result(r);
    case expect::auth_login_user:
      if (r.code == 334) {
        send(base64::encode(opts.auth->username) + "\r\n", expect::auth_login_password);
        return;
      }
      return on_auth_result(r);
    case expect::auth_login_password:
      if (r.code == 334) {
        std::string response = base64::encode(opts.auth->password.reveal());
        send(response + "\r\n", expect::auth_result);
        OPENSSL_cleanse(response.data(), response.size());
        return;
      }
      return on_auth_result(r);
    case expect::auth_result:
      return on_auth_result(r);
    case expect::auth_cancelled:
      return fail(client_errc::protocol_violation, std::nullopt,
                  "the server asked for more than the SASL mechanism provides");
    case expect::rset:
      if (!r.positive_completion()) return fail(client_errc::protocol_violation, r, "RSET");
      transaction_open = false;
      if (pending.empty()) flush_queued();
      return;
    case expect::mail:
      result.mail_reply = r;
      if (!r.positive_completion()) {
        mail_failed = true;
        queued.clear();
        if (pending.empty()) finish(); // else: pipelined replies still to read
        return;
      }
      transaction_open = true;
      if (pending.empty()) flush_queued();
      return;
    case expect::rcpt:
      if (mail_failed) {
        if (pending.empty()) finish();
        return;
      }
      rcpt_replies[p.index] = r;
      ++rcpt_answered;
      if (r.positive_completion()) ++accepted;
      if (rcpt_answered < env.recipients.size()) {
        if (pending.empty()) flush_queued();
        return;
      }
      // The last RCPT reply. With a pipelined DATA its reply is still to come.
      if (!pending.empty()) return;
      return after_recipients();
    case expect::data:
      if (r.code == 354) {
        if (!mail_failed && accepted > 0) {
          out += payload;
          pending.push_back({expect::data_end});
          payload.clear();
          return;
        }
        // RFC 2920 §3.1: DATA was accepted although no recipient was; the client sends the
        // terminating dot alone, which ends a transaction with no data.
        send(".\r\n", expect::data_discard);
        return;
      }
      if (!mail_failed && accepted > 0) result.final_reply = r;
      return finish();
    case expect::data_discard:
      transaction_open = false;
      return finish();
    case expect::data_end:
      // RFC 5321 §4.1.1.4: after the reply to the end of data the transaction is over,
      // whatever the reply said.
      transaction_open = false;
      result.final_reply = r;
      if (r.code == 421) server_closing = true;
      return finish();
    case expect::bdat:
      if (r.positive_completion()) return send_next_chunk();
      // RFC 3030 §2: after a failed BDAT the transaction is to be reset.
      result.final_reply = r;
      if (r.code == 421) server_closing = true;
      return finish();
    case expect::bdat_last:
      transaction_open = false;
      result.final_reply = r;
      if (r.code == 421) server_closing = true;
      return finish();
    case expect::quit:
      st = state::closed;
      return;
    }
  }

  action step() {
    while (true) {
      if (!out.empty()) return action::send;
      switch (st) {
      case state::failed:
        return action::failed;
      case state::closed:
        return action::closed;
      case state::ready:
        return action::ready;
      case state::done:
        return action::transaction_done;
      case state::start_tls:
        return action::start_tls;
      case state::busy:
        break;
      }
      auto next = parser.next();
      if (!next) {
        fail(static_cast<client_errc>(next.error().value()), std::nullopt, "");
        continue;
      }
      if (!*next) {
        if (!peer_closed) return action::receive;
        if (!pending.empty() && pending.front().what == expect::quit) {
          st = state::closed;
          continue;
        }
        fail(client_errc::connection_closed, std::nullopt, "");
        continue;
      }
      if (pending.empty()) {
        // A reply nobody asked for (the server talks ahead of us): a protocol violation.
        fail(client_errc::protocol_violation, **next, "unsolicited reply");
        continue;
      }
      const pending_reply p = pending.front();
      pending.pop_front();
      handle(p, **next);
    }
  }
};

client::client(client_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}
client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

client::action client::step() {
  return impl_->step();
}

std::string client::take_output() {
  return std::exchange(impl_->out, std::string());
}

void client::feed(std::string_view bytes) {
  impl_->parser.feed(bytes);
}

void client::connection_closed() {
  impl_->peer_closed = true;
}

void client::tls_started() {
  if (impl_->st != impl::state::start_tls) return;
  impl_->tls = true;
  // RFC 3207 §4.2: the client MUST discard any knowledge obtained from the server before TLS
  // and SHOULD send EHLO again.
  impl_->caps = capabilities{};
  impl_->parser.clear();
  impl_->st = impl::state::busy;
  impl_->send_ehlo();
}

void client::set_tls_active() noexcept {
  impl_->tls = true;
}

void client::start(envelope env, std::string_view message) {
  if (impl_->st != impl::state::ready) return;
  impl_->start(std::move(env), message);
}

void client::quit() {
  if (impl_->st != impl::state::ready) return;
  impl_->st = impl::state::busy;
  impl_->send("QUIT\r\n", impl::expect::quit); // RFC 5321 §4.1.1.10
}

transaction_result client::take_result() {
  if (impl_->st != impl::state::done) return {};
  transaction_result r = std::move(impl_->result);
  impl_->result = transaction_result{};
  if (impl_->server_closing) {
    impl_->fail(client_errc::connection_closed, std::nullopt,
                "the server is closing the connection (421)");
  } else {
    impl_->st = impl::state::ready;
  }
  return r;
}

client::wait_stage client::waiting_for() const noexcept {
  if (impl_->pending.empty()) return wait_stage::none;
  switch (impl_->pending.front().what) {
  case impl::expect::greeting:
    return wait_stage::greeting;
  case impl::expect::mail:
    return wait_stage::mail;
  case impl::expect::rcpt:
    return wait_stage::rcpt;
  case impl::expect::data:
    return wait_stage::data_initiation;
  case impl::expect::data_end:
  case impl::expect::data_discard:
  case impl::expect::bdat:
  case impl::expect::bdat_last:
    return wait_stage::data_termination;
  default:
    return wait_stage::command;
  }
}

const error_code& client::error() const noexcept {
  return impl_->err;
}
const std::optional<reply>& client::error_reply() const noexcept {
  return impl_->err_reply;
}
const std::string& client::error_detail() const noexcept {
  return impl_->err_detail;
}
const capabilities& client::server_capabilities() const noexcept {
  return impl_->caps;
}
bool client::tls_active() const noexcept {
  return impl_->tls;
}
bool client::authenticated() const noexcept {
  return impl_->authed;
}
const std::optional<reply>& client::greeting() const noexcept {
  return impl_->greeting;
}

} // namespace mailkit::smtp
