// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the SMTP client's reply parser (reply_parser.hpp). The input is fed in
// pieces chosen from its hash; the incremental parser must agree with itself, respect its
// limits, and never read past what it was given.
#include "fuzz_support.hpp"

#include <mailkit/smtp/reply_parser.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::smtp;
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  reply_limits limits;
  limits.max_line = 256;
  limits.max_lines = 16;
  limits.max_reply = 2048;
  reply_parser p(limits);
  std::size_t replies = 0;
  bool failed = false;
  for (const std::string_view piece : mailkit::fuzz::split(in, mailkit::fuzz::input_hash(in))) {
    p.feed(piece);
    while (!failed) {
      auto r = p.next();
      if (!r) {
        failed = true;
        // RFC 5321 §4.2: after an error the parser stays failed.
        MAILKIT_FUZZ_CHECK(!p.next());
        break;
      }
      if (!*r) break;
      const reply& rep = **r;
      ++replies;
      MAILKIT_FUZZ_CHECK(rep.code >= 200 && rep.code <= 559);
      MAILKIT_FUZZ_CHECK(!rep.lines.empty() && rep.lines.size() <= limits.max_lines);
      for (const auto& l : rep.lines)
        MAILKIT_FUZZ_CHECK(l.size() < limits.max_line);
      if (rep.enhanced) MAILKIT_FUZZ_CHECK(rep.enhanced->klass == rep.code / 100);
      // The reply formats back into lines that parse to the same reply (no injection).
      auto again = parse_reply(format_reply(rep), reply_limits{1 << 20, 1 << 16, 1 << 24});
      MAILKIT_FUZZ_CHECK(again && again->code == rep.code);
    }
  }
  MAILKIT_FUZZ_CHECK(replies <= size / 4 + 1);
  (void)parse_reply(in, limits);
  return 0;
}
