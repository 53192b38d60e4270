// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the whole SMTP server core (server.hpp) driven by bytes, in input-derived
// pieces, with input-derived policy decisions and TLS. Invariants: the output is well-formed
// replies only; after close nothing more happens; data chunks stay within the limits; the sink
// never receives more than the size limit per message; at most one message per end of data.
#include "fuzz_support.hpp"

#include <mailkit/smtp/server.hpp>

#include <memory>
#include <string>

namespace {

using namespace mailkit::smtp;

void check_replies(std::string_view out) {
  // Every line: 3 digits, then SP, "-" or CRLF; lines end in CRLF.
  std::size_t pos = 0;
  while (pos < out.size()) {
    const std::size_t eol = out.find("\r\n", pos);
    MAILKIT_FUZZ_CHECK(eol != std::string_view::npos);
    const std::string_view line = out.substr(pos, eol - pos);
    MAILKIT_FUZZ_CHECK(line.size() >= 3);
    for (int i = 0; i < 3; ++i)
      MAILKIT_FUZZ_CHECK(line[i] >= '0' && line[i] <= '9');
    MAILKIT_FUZZ_CHECK(line.size() == 3 || line[3] == ' ' || line[3] == '-');
    MAILKIT_FUZZ_CHECK(line.find('\r') == std::string_view::npos);
    MAILKIT_FUZZ_CHECK(line.find('\n') == std::string_view::npos);
    pos = eol + 2;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const std::uint64_t seed = mailkit::fuzz::input_hash(in);
  mailkit::fuzz::rng rng(seed);
  const auto mode = static_cast<listener_mode>(seed % 3);
  server_config cfg = server_config::for_mode(mode, "mx.example", (seed >> 2) & 1);
  cfg.allow_plaintext_auth = (seed >> 3) & 1;
  cfg.limits.max_message_size = 2048;
  cfg.limits.max_recipients = 5;
  cfg.limits.data_chunk = 2 + (seed >> 4) % 512;
  server s(cfg);
  const auto pieces = mailkit::fuzz::split(in, seed);
  std::size_t next = 0;
  const bool borrow = (seed >> 13) & 1;
  std::unique_ptr<std::string> held;
  std::string out;
  std::size_t message_bytes = 0;
  bool open = false;
  for (int steps = 0; steps < 100000; ++steps) {
    const event ev = s.next_event();
    out.append(s.output());
    s.consume_output(s.output().size());
    switch (ev.kind) {
    case event_kind::need_input:
      held.reset();
      if (next >= pieces.size()) {
        check_replies(out);
        return 0;
      }
      if (borrow) {
        // feed_borrowed: the bytes live until the next need_input, and are freed then (a read
        // of them after that is a use after free for the sanitizer).
        held = std::make_unique<std::string>(pieces[next++]);
        s.feed_borrowed(*held);
      } else {
        s.feed(pieces[next++]);
      }
      break;
    case event_kind::awaiting:
      MAILKIT_FUZZ_CHECK(false); // every decision below is resolved at once
      break;
    case event_kind::data_chunk:
      MAILKIT_FUZZ_CHECK(open);
      MAILKIT_FUZZ_CHECK(ev.data.size() <= cfg.limits.data_chunk);
      message_bytes += ev.data.size();
      MAILKIT_FUZZ_CHECK(message_bytes <= cfg.limits.max_message_size);
      break;
    case event_kind::data_start: {
      const bool ok = rng.below(4) != 0;
      if (ok) {
        open = true;
        message_bytes = 0;
        s.resolve(decision::accept());
      } else {
        s.resolve(decision::respond(make_reply(451, "4.3.0", "no")));
      }
      break;
    }
    case event_kind::message_complete:
      MAILKIT_FUZZ_CHECK(open);
      MAILKIT_FUZZ_CHECK(s.current_envelope().message_size == message_bytes);
      MAILKIT_FUZZ_CHECK(!s.current_envelope().recipients.empty());
      open = false;
      s.resolve(rng.below(3) ? decision::accept()
                             : decision::respond(make_reply(452, "4.3.1", "full\r\n250 fake")));
      break;
    case event_kind::message_aborted:
      open = false;
      break;
    case event_kind::connect:
    case event_kind::helo:
    case event_kind::mail:
    case event_kind::rcpt:
    case event_kind::auth:
      switch (rng.below(6)) {
      case 0:
        s.resolve(decision::respond(make_reply(550, "5.7.1", "refused")));
        break;
      case 1:
        s.resolve(decision::respond(make_reply(421, "4.7.0", "bye")));
        break;
      default:
        s.resolve(decision::accept());
      }
      break;
    case event_kind::starttls:
      if (rng.below(2)) {
        s.tls_established();
      } else {
        check_replies(out);
        return 0; // handshake failed: the session closes the socket
      }
      break;
    case event_kind::quit:
      break;
    case event_kind::close:
      MAILKIT_FUZZ_CHECK(s.closed());
      MAILKIT_FUZZ_CHECK(s.next_event().kind == event_kind::close);
      check_replies(out);
      return 0;
    }
  }
  MAILKIT_FUZZ_CHECK(false); // the core always ends up needing input or closing
  return 0;
}
