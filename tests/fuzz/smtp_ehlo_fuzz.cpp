// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the EHLO capability parser (parse_ehlo in client.hpp), and the client core
// fed the input as everything a server says after "220 ok" (greeting, EHLO reply, and the
// replies to a whole transaction): whatever the server sends, the core ends in a defined state
// with bounded capability lists.
#include "fuzz_support.hpp"

#include <mailkit/smtp/client.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::smtp;
  const std::string_view in = mailkit::fuzz::as_view(data, size);

  // 1. The input as the text of an EHLO reply, one line per LF.
  reply r;
  r.code = 250;
  std::size_t pos = 0;
  while (pos <= in.size() && r.lines.size() < 1024) {
    const std::size_t lf = in.find('\n', pos);
    r.lines.emplace_back(in.substr(pos, lf == std::string_view::npos ? in.npos : lf - pos));
    if (lf == std::string_view::npos) break;
    pos = lf + 1;
  }
  const capabilities caps = parse_ehlo(r);
  MAILKIT_FUZZ_CHECK(caps.auth.size() <= max_auth_mechanisms);
  MAILKIT_FUZZ_CHECK(caps.keywords.size() <= max_ehlo_keywords);
  for (const auto& m : caps.auth)
    MAILKIT_FUZZ_CHECK(!m.empty() && caps.has_auth(m));

  // 2. The client core against the input as server bytes.
  client_options o;
  o.auth = credentials{"user", secret("pw")};
  o.auth_without_tls = true;
  client c(o);
  c.feed("220 fuzz ESMTP\r\n");
  bool fed = false;
  bool started = false;
  for (int steps = 0; steps < 64; ++steps) {
    const client::action a = c.step();
    if (a == client::action::send) {
      const std::string out = c.take_output();
      // Nothing a server says can make us send a bare CR or LF.
      for (std::size_t i = 0; i < out.size(); ++i)
        if (out[i] == '\n') MAILKIT_FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
      continue;
    }
    if (a == client::action::receive) {
      if (fed) {
        c.connection_closed();
      } else {
        c.feed(in);
        fed = true;
      }
      continue;
    }
    if (a == client::action::start_tls) {
      c.tls_started();
      continue;
    }
    if (a == client::action::ready) {
      if (started) {
        c.quit();
        continue;
      }
      envelope env;
      env.mail_from = "a@example.org";
      env.recipients.push_back({"b@example.net", "SUCCESS", "b@example.net"});
      env.ret = "HDRS";
      c.start(env, "Subject: x\r\n\r\nbody\r\n.line\r\n");
      started = true;
      continue;
    }
    if (a == client::action::transaction_done) {
      const transaction_result t = c.take_result();
      MAILKIT_FUZZ_CHECK(t.recipients.size() == 1);
      continue;
    }
    break; // closed or failed
  }
  return 0;
}
