// SPDX-License-Identifier: Apache-2.0
/// @file server_driver.hpp
/// Test helper: runs the sans-I/O SMTP server core with a synchronous in-memory policy, feeding
/// scripted client bytes in pieces of a chosen size, and records replies, events and messages.
#pragma once

#include <mailkit/smtp/server.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::smtp::testing {

struct driver {
  explicit driver(server_config cfg = make_default()) : s(std::move(cfg)) {}

  static server_config make_default() {
    server_config c;
    c.hostname = "mx.example.org";
    c.limits.max_message_size = 1024 * 1024;
    return c;
  }

  server s;
  std::string out;                   ///< every reply written so far
  std::vector<std::string> messages; ///< accepted messages (as given to the sink)
  std::vector<envelope> envelopes;   ///< their envelopes
  std::vector<credentials> auths;    ///< AUTH attempts seen
  std::vector<event_kind> events;    ///< every event but need_input and data_chunk
  std::size_t aborted = 0;
  std::size_t largest_chunk = 0;
  std::size_t sink_bytes = 0; ///< octets given to the sink (all messages)
  std::string current;
  bool sink_open = false;
  bool tls_pending = false;
  std::string password = "secret"; ///< the test user "user@example.org"
  /// Feed with feed_borrowed(): each piece lives in memory of its own, freed (and so a use
  /// after free for the sanitizers) at the next need_input.
  bool borrow = false;
  std::unique_ptr<std::string> held;
  /// Decide a hook; default: accept everything except RCPT to domains other than
  /// example.org/example.net (relay refused with 554 5.7.1) unless authenticated.
  std::function<std::optional<decision>(event_kind)> override_decision;

  decision decide(event_kind k) {
    if (override_decision)
      if (auto d = override_decision(k)) return *d;
    if (k == event_kind::rcpt) {
      const auto& r = s.pending_recipient();
      if (r.address.domain != "example.org" && r.address.domain != "example.net" &&
          !r.address.domain.empty() && s.authenticated_as().empty())
        return decision::respond(make_reply(554, "5.7.1", "relay access denied"));
    }
    if (k == event_kind::auth) {
      const auto& c = s.pending_credentials();
      auths.push_back(c);
      if (c.authcid != "user@example.org" || c.password != password)
        return decision::respond(make_reply(535, "5.7.8", "bad credentials"));
    }
    return decision::accept();
  }

  /// Feed `input` in pieces of `piece` octets and process until the core needs more input than
  /// is left, or closes, or waits for TLS. Returns the replies written during this call.
  std::string run(std::string_view input, std::size_t piece = std::string_view::npos) {
    const std::size_t before = out.size();
    std::size_t pos = 0;
    if (piece == 0) piece = 1;
    while (true) {
      const event ev = s.next_event();
      out.append(s.output());
      s.consume_output(s.output().size());
      switch (ev.kind) {
      case event_kind::need_input:
        held.reset();
        if (pos >= input.size()) return out.substr(before);
        {
          const std::size_t n = std::min(piece, input.size() - pos);
          if (borrow) {
            held = std::make_unique<std::string>(input.substr(pos, n));
            s.feed_borrowed(*held);
          } else {
            s.feed(input.substr(pos, n));
          }
          pos += n;
        }
        continue;
      case event_kind::data_chunk:
        largest_chunk = std::max(largest_chunk, ev.data.size());
        sink_bytes += ev.data.size();
        if (sink_open) current.append(ev.data);
        continue;
      default:
        break;
      }
      events.push_back(ev.kind);
      switch (ev.kind) {
      case event_kind::connect:
      case event_kind::helo:
      case event_kind::mail:
      case event_kind::rcpt:
      case event_kind::auth:
        s.resolve(decide(ev.kind));
        break;
      case event_kind::data_start: {
        auto d = decide(ev.kind);
        if (d.accepted()) {
          sink_open = true;
          current.clear();
        }
        s.resolve(std::move(d));
        break;
      }
      case event_kind::message_complete: {
        auto d = decide(ev.kind);
        if (d.accepted()) {
          messages.push_back(current);
          envelopes.push_back(s.current_envelope());
        }
        sink_open = false;
        s.resolve(std::move(d));
        break;
      }
      case event_kind::message_aborted:
        ++aborted;
        sink_open = false;
        break;
      case event_kind::starttls:
        tls_pending = true;
        out.append(s.output());
        s.consume_output(s.output().size());
        return out.substr(before);
      case event_kind::close:
        out.append(s.output());
        s.consume_output(s.output().size());
        return out.substr(before);
      default:
        break;
      }
    }
  }

  bool closed() const { return s.closed(); }
};

/// The reply codes, in order, found at the start of each final reply line of `replies`.
inline std::vector<int> codes(std::string_view replies) {
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos < replies.size()) {
    const std::size_t eol = replies.find("\r\n", pos);
    const std::string_view line = replies.substr(pos, eol - pos);
    if (line.size() >= 3 && (line.size() == 3 || line[3] == ' '))
      out.push_back((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  return out;
}

} // namespace mailkit::smtp::testing
