// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the IMAP server core (server.hpp) driven by bytes. The first octet picks
// the configuration (TLS active or not, LITERAL+ or LITERAL-); each authenticate event is
// answered by a bit of the input, each execute event completed OK or NO. The core must never
// read past a pending command, and must end in a consistent state.
#include "fuzz_support.hpp"

#include <mailkit/imap/server.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::imap;
  if (size == 0) return 0;
  server_config cfg;
  cfg.tls_available = data[0] & 1;
  cfg.tls_active = data[0] & 2;
  cfg.allow_plaintext_auth = data[0] & 4;
  cfg.limits.literal_plus = data[0] & 8;
  cfg.limits.line = 1024;
  cfg.limits.literal = 512;
  cfg.limits.append_literal = 4096;
  cfg.capabilities = {"IDLE", "UIDPLUS"};
  server s(cfg);
  s.greet();
  const std::string_view in = mailkit::fuzz::as_view(data + 1, size - 1);
  std::size_t bit = 0;
  for (std::size_t pos = 0; pos < in.size() && !s.closed(); pos += 16) {
    s.feed(in.substr(pos, 16));
    for (int guard = 0; guard < 10'000; ++guard) {
      server_event ev = s.next_event();
      const bool yes = (data[(bit / 8) % size] >> (bit % 8)) & 1;
      ++bit;
      if (ev.k == server_event::kind::need_input || ev.k == server_event::kind::close) break;
      if (ev.k == server_event::kind::authenticate) {
        s.auth_result(yes ? std::optional<std::string>("user") : std::nullopt);
        MAILKIT_FUZZ_CHECK(s.password().empty());
      } else if (ev.k == server_event::kind::starttls) {
        MAILKIT_FUZZ_CHECK(cfg.tls_available);
        s.tls_established();
      } else if (ev.k == server_event::kind::execute) {
        MAILKIT_FUZZ_CHECK(s.state() != session_state::not_authenticated);
        MAILKIT_FUZZ_CHECK(allowed_in(ev.cmd, s.state()));
        if (!std::holds_alternative<cmd_idle>(ev.cmd)) s.complete(yes ? "OK" : "NO", "", "done");
      } else if (ev.k == server_event::kind::idle_done) {
        s.complete("OK", "", "IDLE done");
      }
      // Output is always whole lines (a literal continuation or responses).
      MAILKIT_FUZZ_CHECK(s.output().empty() || s.output().back() == '\n');
    }
    s.consume_output(s.output().size());
  }
  return 0;
}
