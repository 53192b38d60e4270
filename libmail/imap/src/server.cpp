// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/error.hpp>
#include <mailkit/imap/server.hpp>

#include <mailkit/core/base64.hpp>

#include <algorithm>
#include <type_traits>

namespace mailkit::imap {

std::optional<plain_credentials> decode_plain(std::string_view b64) {
  // RFC 4959 §3 / RFC 9051 §6.2.2: "=" is an empty initial response.
  std::string raw;
  if (b64 != "=") {
    auto d = mailkit::base64::decode(b64);
    if (!d) return std::nullopt;
    raw = std::move(*d);
  }
  // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd, each at most 255 octets.
  const auto a = raw.find('\0');
  if (a == std::string::npos) return std::nullopt;
  const auto b = raw.find('\0', a + 1);
  if (b == std::string::npos || raw.find('\0', b + 1) != std::string::npos) return std::nullopt;
  plain_credentials c{raw.substr(0, a), raw.substr(a + 1, b - a - 1), raw.substr(b + 1)};
  if (c.authcid.empty() || c.authzid.size() > 255 || c.authcid.size() > 255 ||
      c.password.size() > 255)
    return std::nullopt;
  return c;
}

server::server(server_config cfg) : cfg_(std::move(cfg)), reader_(cfg_.limits) {}

bool server::enabled(std::string_view ext) const noexcept {
  return std::find(enabled_.begin(), enabled_.end(), ext) != enabled_.end();
}

std::string server::capability_list() const {
  // RFC 9051 §7.2.2: IMAP4rev2 servers that also speak IMAP4rev1 list both.
  std::string caps = "IMAP4rev1 IMAP4rev2";
  caps += cfg_.limits.literal_plus ? " LITERAL+" : " LITERAL-";
  if (state_ == session_state::not_authenticated) {
    if (cfg_.tls_available && !cfg_.tls_active) caps += " STARTTLS";
    // RFC 9051 §6.2.3 / §7.2.2: LOGINDISABLED while LOGIN would be refused; AUTH= only when
    // an authentication could succeed.
    if (auth_allowed())
      caps += " AUTH=PLAIN SASL-IR";
    else
      caps += " LOGINDISABLED";
    caps += " ENABLE ID";
    return caps;
  }
  caps += " ENABLE ID NAMESPACE";
  for (const auto& c : cfg_.capabilities)
    caps += " " + c;
  return caps;
}

void server::greet() {
  out_ += "* OK [CAPABILITY " + capability_list() + "] " + cfg_.hostname + " IMAP ready\r\n";
}

void server::feed(std::string_view bytes) {
  if (closed_) return;
  reader_.feed(bytes);
}

void server::untagged(std::string_view line) {
  out_ += "* ";
  out_.append(line);
  out_ += "\r\n";
}

void server::tagged(std::string_view tag, std::string_view status, std::string_view code,
                    std::string_view text) {
  out_.append(tag.empty() ? std::string_view("*") : tag);
  out_ += ' ';
  out_.append(status);
  out_ += ' ';
  if (!code.empty()) {
    out_ += '[';
    out_.append(code);
    out_ += "] ";
  }
  out_.append(text);
  out_ += "\r\n";
}

void server::bye(std::string_view text) {
  if (closed_) return;
  out_ += "* BYE ";
  out_.append(text);
  out_ += "\r\n";
  close_after_output_ = true;
}

bool server::refuse(std::string_view tag, const mailkit::error_code& ec, std::size_t announced) {
  if (ec == make_error_code(errc::literal_too_large)) {
    // RFC 9051 §7.1: TOOBIG. Not counted as a client error: the message was just too big.
    tagged(tag, "NO", "TOOBIG",
           announced == SIZE_MAX ? "Literal too large"
                                 : "Literal of " + std::to_string(announced) + " octets too large");
    return true;
  }
  if (ec == make_error_code(errc::unknown_command))
    tagged(tag, "BAD", "", "Unknown command");
  else if (ec == make_error_code(errc::bad_charset))
    tagged(tag, "NO", "BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset");
  else
    tagged(tag, "BAD", "", ec.message());
  if (++errors_ >= cfg_.max_errors) {
    bye("Too many invalid commands");
    return false;
  }
  return true;
}

void server::tls_established() {
  cfg_.tls_active = true;
  // Anything that arrived with or after the STARTTLS line was sent in plaintext: never run it.
  reader_ = command_reader(cfg_.limits);
  pending_ = pending::none;
}

void server::auth_result(std::optional<std::string> user) {
  if (pending_ != pending::auth) return;
  pending_ = pending::none;
  password_.assign(password_.size(), '\0');
  password_.clear();
  if (user) {
    user_ = std::move(*user);
    state_ = session_state::authenticated;
    // RFC 9051 §6.2.3: the OK may carry the new capabilities.
    tagged(tag_, "OK", "CAPABILITY " + capability_list(), "Logged in");
    return;
  }
  // RFC 5530 §3: AUTHENTICATIONFAILED.
  tagged(tag_, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
  if (++auth_failures_ >= cfg_.max_auth_failures) bye("Too many authentication failures");
}

void server::complete(std::string_view status, std::string_view code, std::string_view text) {
  if (pending_ != pending::execute && pending_ != pending::idle) return;
  pending_ = pending::none;
  const bool ok = status == "OK";
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, cmd_select>) {
          // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
          state_ = ok ? session_state::selected : session_state::authenticated;
        } else if constexpr (std::is_same_v<T, cmd_close> || std::is_same_v<T, cmd_unselect>) {
          if (ok) state_ = session_state::authenticated;
        }
      },
      pending_cmd_);
  tagged(tag_, status, code, text);
}

bool server::start_plain(const std::string& tag, std::string_view b64, server_event& ev) {
  auto creds = decode_plain(b64);
  if (!creds || (!creds->authzid.empty() && creds->authzid != creds->authcid)) {
    // Malformed, or a request to act as another user (not supported).
    tagged(tag, "NO", "AUTHENTICATIONFAILED", "Invalid credentials");
    if (++auth_failures_ >= cfg_.max_auth_failures) bye("Too many authentication failures");
    return false;
  }
  tag_ = tag;
  user_ = std::move(creds->authcid);
  password_ = std::move(creds->password);
  pending_ = pending::auth;
  ev.k = server_event::kind::authenticate;
  return true;
}

bool server::handle_builtin(const std::string& tag, const typed_command& c, bool uid,
                            server_event& ev) {
  (void)uid;
  if (const auto* l = std::get_if<cmd_login>(&c)) {
    if (!auth_allowed()) {
      tagged(tag, "NO", "PRIVACYREQUIRED", "LOGIN is not allowed before STARTTLS");
      return false;
    }
    tag_ = tag;
    user_ = l->user;
    password_ = l->password;
    pending_ = pending::auth;
    ev.k = server_event::kind::authenticate;
    return true;
  }
  if (const auto* a = std::get_if<cmd_authenticate>(&c)) {
    if (!auth_allowed()) {
      tagged(tag, "NO", "PRIVACYREQUIRED", "Authentication is not allowed before STARTTLS");
      return false;
    }
    if (a->mechanism != "PLAIN") {
      tagged(tag, "NO", "CANNOT", "Unsupported authentication mechanism");
      return false;
    }
    if (a->initial_response) return start_plain(tag, *a->initial_response, ev);
    // RFC 9051 §6.2.2: an empty challenge, then one line of base64.
    tag_ = tag;
    pending_ = pending::sasl_response;
    reader_.set_line_mode(true);
    out_ += "+ \r\n";
    return false;
  }
  if (std::holds_alternative<cmd_capability>(c)) {
    untagged("CAPABILITY " + capability_list());
    tagged(tag, "OK", "", "Capability completed");
    return false;
  }
  if (std::holds_alternative<cmd_logout>(c)) {
    // RFC 9051 §6.1.3: BYE, then the tagged OK, then close.
    untagged("BYE Logging out");
    tagged(tag, "OK", "", "Logout completed");
    state_ = session_state::logout;
    close_after_output_ = true;
    return false;
  }
  if (std::holds_alternative<cmd_starttls>(c)) {
    if (!cfg_.tls_available || cfg_.tls_active) {
      tagged(tag, "BAD", "", cfg_.tls_active ? "TLS is already active" : "TLS is not available");
      return false;
    }
    tagged(tag, "OK", "", "Begin TLS negotiation now");
    pending_ = pending::starttls;
    ev.k = server_event::kind::starttls;
    return true;
  }
  if (const auto* e = std::get_if<cmd_enable>(&c)) {
    // RFC 5161 §3.1: ENABLED lists what was newly enabled; unknown names are ignored.
    std::string list;
    for (const auto& x : e->capabilities) {
      if (std::find(cfg_.enableable.begin(), cfg_.enableable.end(), x) == cfg_.enableable.end())
        continue;
      if (!enabled(x)) {
        enabled_.push_back(x);
        list += " " + x;
        // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
        if (x == "QRESYNC" && !enabled("CONDSTORE")) enabled_.push_back("CONDSTORE");
      }
    }
    untagged("ENABLED" + list);
    tagged(tag, "OK", "", "Enabled");
    return false;
  }
  if (const auto* id = std::get_if<cmd_id>(&c)) {
    client_id_ = id->fields;
    untagged("ID (\"name\" \"mailkit\")");
    tagged(tag, "OK", "", "ID completed");
    return false;
  }
  if (std::holds_alternative<cmd_namespace>(c)) {
    // RFC 2342 §5: one personal namespace, "/" as the hierarchy delimiter; no others.
    untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
    tagged(tag, "OK", "", "Namespace completed");
    return false;
  }
  if (std::holds_alternative<cmd_noop>(c) && state_ != session_state::selected) {
    tagged(tag, "OK", "", "NOOP completed");
    return false;
  }
  if (std::holds_alternative<cmd_idle>(c)) {
    // RFC 2177 §3: "+ idling", then updates until DONE. The session starts pushing.
    tag_ = tag;
    pending_cmd_ = c;
    pending_ = pending::idle;
    reader_.set_line_mode(true);
    out_ += "+ idling\r\n";
    ev.k = server_event::kind::execute;
    ev.cmd = c;
    return true;
  }
  // Everything else is the session's.
  tag_ = tag;
  pending_cmd_ = c;
  pending_ = pending::execute;
  ev.k = server_event::kind::execute;
  ev.cmd = c;
  ev.uid = uid;
  return true;
}

server_event server::next_event() {
  server_event ev;
  for (;;) {
    if (close_after_output_ || closed_) {
      closed_ = true;
      ev.k = server_event::kind::close;
      return ev;
    }
    // One command at a time: a command the session is carrying out must end first (its
    // responses would otherwise interleave with the next one's).
    if (pending_ == pending::execute || pending_ == pending::auth || pending_ == pending::starttls)
      return ev;
    event r = reader_.next();
    switch (r.k) {
    case event::kind::need_more:
      return ev;
    case event::kind::continuation:
      out_ += "+ ";
      out_ += r.text;
      out_ += "\r\n";
      continue;
    case event::kind::fatal:
      bye(r.error.message());
      continue;
    case event::kind::refused:
      if (pending_ == pending::sasl_response || pending_ == pending::idle) {
        bye("Line too long");
        continue;
      }
      refuse(r.tag, r.error, r.announced);
      continue;
    case event::kind::line:
      if (pending_ == pending::sasl_response) {
        reader_.set_line_mode(false);
        pending_ = pending::none;
        if (r.text == "*") { // RFC 9051 §6.2.2: the client cancels
          tagged(tag_, "BAD", "", "Authentication cancelled");
          continue;
        }
        if (start_plain(tag_, r.text, ev)) return ev;
        continue;
      }
      if (pending_ == pending::idle) {
        // RFC 2177 §3: only "DONE" ends IDLE; anything else is a protocol error.
        reader_.set_line_mode(false);
        std::string u = r.text;
        for (auto& ch : u)
          if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
        if (u != "DONE") {
          pending_ = pending::none;
          tagged(tag_, "BAD", "", "Expected DONE");
          continue;
        }
        pending_ = pending::execute; // nothing more is read until complete() ends IDLE
        ev.k = server_event::kind::idle_done;
        return ev;
      }
      continue;
    case event::kind::command:
      break;
    }
    auto typed = parse_typed(r.cmd);
    if (!typed) {
      refuse(r.cmd.tag, typed.error(), 0);
      continue;
    }
    if (!allowed_in(*typed, state_)) {
      // RFC 9051 §6: a command outside the states it is defined for is BAD.
      const char* why = "Not valid in this state";
      if (state_ == session_state::not_authenticated)
        why = "Log in first";
      else if (allowed_in(*typed, session_state::not_authenticated))
        why = "Already authenticated";
      else if (allowed_in(*typed, session_state::selected))
        why = "No mailbox selected";
      tagged(r.cmd.tag, "BAD", "", why);
      if (++errors_ >= cfg_.max_errors) bye("Too many invalid commands");
      continue;
    }
    if (handle_builtin(r.cmd.tag, *typed, r.cmd.uid, ev)) return ev;
  }
}

} // namespace mailkit::imap
