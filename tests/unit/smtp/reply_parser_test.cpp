// SPDX-License-Identifier: Apache-2.0
// smtp::reply_parser: single and multi-line replies, enhanced codes, byte-at-a-time feeding,
// and the limits that stop a hostile server (endless lines, endless continuations, garbage).
#include <mailkit/smtp/reply_parser.hpp>

#include <gtest/gtest.h>

#include <string>

namespace smtp = mailkit::smtp;

namespace {

std::vector<smtp::reply> all(smtp::reply_parser& p) {
  std::vector<smtp::reply> out;
  while (true) {
    auto r = p.next();
    EXPECT_TRUE(r.has_value());
    if (!r || !*r) break;
    out.push_back(std::move(**r));
  }
  return out;
}

} // namespace

TEST(ReplyParser, SingleLine) {
  auto r = smtp::parse_reply("250 OK\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 250);
  EXPECT_FALSE(r->enhanced);
  ASSERT_EQ(r->lines.size(), 1u);
  EXPECT_EQ(r->lines[0], "OK");
}

TEST(ReplyParser, CodeOnlyAndCodeSpace) {
  auto a = smtp::parse_reply("354\r\n");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, 354);
  EXPECT_EQ(a->text(), "");
  auto b = smtp::parse_reply("221 \r\n");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->code, 221);
}

TEST(ReplyParser, MultiLineEhlo) {
  auto r = smtp::parse_reply("250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
                             "250 8BITMIME\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 250);
  ASSERT_EQ(r->lines.size(), 4u);
  EXPECT_EQ(r->lines[0], "mx.example.org Hello");
  EXPECT_EQ(r->lines[3], "8BITMIME");
}

TEST(ReplyParser, EnhancedStatusTakenFromText) {
  auto r = smtp::parse_reply("550-5.1.1 no such user\r\n550 5.1.1 really\r\n");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->enhanced);
  EXPECT_EQ(r->enhanced->to_string(), "5.1.1");
  EXPECT_EQ(r->lines[0], "no such user");
  EXPECT_EQ(r->lines[1], "really");
}

TEST(ReplyParser, EnhancedStatusOfAnotherClassStaysText) {
  // RFC 3463 §2: the class must agree with the reply code; "2.0.0" in a 550 is just text.
  auto r = smtp::parse_reply("550 2.0.0 odd\r\n");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->enhanced);
  EXPECT_EQ(r->lines[0], "2.0.0 odd");
}

TEST(ReplyParser, ProviderQuotaReply) {
  // OCI's answer to an exhausted daily quota (issue 11).
  auto r = smtp::parse_reply("455 Maximum messages sent per day reached : limit is 100\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 455);
  EXPECT_TRUE(r->transient_failure());
  EXPECT_EQ(r->text(), "Maximum messages sent per day reached : limit is 100");
}

TEST(ReplyParser, ByteAtATimeAndSeveralReplies) {
  const std::string wire = "250-a\r\n250 b\r\n354 go\n221 bye\r\n";
  smtp::reply_parser p;
  std::vector<smtp::reply> got;
  for (char c : wire) {
    p.feed(std::string_view(&c, 1));
    auto more = all(p);
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].lines.size(), 2u);
  EXPECT_EQ(got[1].code, 354); // bare LF accepted as a line end
  EXPECT_EQ(got[2].code, 221);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(ReplyParser, BufferedCountsUnreadBytes) {
  smtp::reply_parser p;
  p.feed("220 go\r\n250 extra");
  auto r = p.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(p.buffered(), 9u);
  p.clear();
  EXPECT_EQ(p.buffered(), 0u);
}

struct bad_case {
  const char* name;
  const char* wire;
};

class ReplyParserGarbage : public testing::TestWithParam<bad_case> {};

TEST_P(ReplyParserGarbage, IsMalformed) {
  auto r = smtp::parse_reply(GetParam().wire);
  ASSERT_FALSE(r) << GetParam().name;
  EXPECT_EQ(r.error(), smtp::client_errc::malformed_reply) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReplyParserGarbage,
    testing::Values(bad_case{"http", "HTTP/1.1 400 Bad Request\r\n"},
                    bad_case{"two digits", "25 OK\r\n"}, bad_case{"letters", "2x0 OK\r\n"},
                    bad_case{"class 1", "150 OK\r\n"}, bad_case{"class 6", "650 OK\r\n"},
                    bad_case{"second digit 9", "290 OK\r\n"},
                    bad_case{"bad separator", "250_OK\r\n"}, bad_case{"four digits", "2500 OK\r\n"},
                    bad_case{"code changes mid reply", "250-a\r\n550 b\r\n"},
                    bad_case{"no line end", "250 a"}, bad_case{"empty line", "\r\n"},
                    bad_case{"trailing bytes", "250 OK\r\nX"}),
    [](const testing::TestParamInfo<bad_case>& i) {
      std::string n = i.param.name;
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(ReplyParser, NulInsideLineIsMalformed) {
  smtp::reply_parser p;
  p.feed(std::string_view("250 a\0b\r\n", 9));
  auto r = p.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smtp::client_errc::malformed_reply);
}

TEST(ReplyParser, TenMegabyteLineIsCutOffEarly) {
  smtp::reply_parser p;
  p.feed("250 ");
  const std::string chunk(64 * 1024, 'A');
  bool failed = false;
  std::size_t fed = 0;
  // 10 MB without a line end, fed the way a socket delivers it: the parser fails as soon as
  // the line passes its limit and ignores the rest.
  for (int i = 0; i < 160 && !failed; ++i) {
    p.feed(chunk);
    fed += chunk.size();
    auto r = p.next();
    if (!r) {
      EXPECT_EQ(r.error(), smtp::client_errc::reply_line_too_long);
      failed = true;
    }
  }
  EXPECT_TRUE(failed);
  EXPECT_LE(fed, 2 * chunk.size()); // stopped within the first chunks, not at 10 MB
  EXPECT_EQ(p.buffered(), 0u);
  auto again = p.next();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), smtp::client_errc::reply_line_too_long);
}

TEST(ReplyParser, LineAtTheLimitPassesOneOverFails) {
  smtp::reply_limits lim;
  lim.max_line = 64;
  const std::string ok = "250 " + std::string(64 - 6, 'x') + "\r\n"; // exactly 64 octets
  ASSERT_EQ(ok.size(), 64u);
  EXPECT_TRUE(smtp::parse_reply(ok, lim));
  const std::string over = "250 " + std::string(64 - 5, 'x') + "\r\n";
  auto r = smtp::parse_reply(over, lim);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smtp::client_errc::reply_line_too_long);
}

TEST(ReplyParser, HundredThousandContinuationLinesAreBounded) {
  smtp::reply_parser p;
  std::string wire;
  for (int i = 0; i < 100000; ++i)
    wire += "250-more\r\n";
  wire += "250 end\r\n";
  p.feed(wire);
  auto r = p.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smtp::client_errc::reply_too_long);
}

TEST(ReplyParser, LineCountLimitExact) {
  smtp::reply_limits lim;
  lim.max_lines = 3;
  EXPECT_TRUE(smtp::parse_reply("250-a\r\n250-b\r\n250 c\r\n", lim));
  auto r = smtp::parse_reply("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", lim);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smtp::client_errc::reply_too_long);
}

TEST(ReplyParser, ReplyByteLimit) {
  smtp::reply_limits lim;
  lim.max_reply = 100;
  std::string wire;
  for (int i = 0; i < 20; ++i)
    wire += "250-0123456789\r\n";
  wire += "250 end\r\n";
  auto r = smtp::parse_reply(wire, lim);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smtp::client_errc::reply_too_long);
}

TEST(ReplyParser, RoundTripWithFormatReply) {
  const auto original = smtp::make_reply(550, "5.7.1", "first\nsecond line");
  auto back = smtp::parse_reply(smtp::format_reply(original));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, original);
}

TEST(ClientErrc, TransientAndPermanent) {
  using mailkit::is_permanent;
  EXPECT_FALSE(is_permanent(smtp::client_errc::connection_failed));
  EXPECT_FALSE(is_permanent(smtp::client_errc::timed_out));
  EXPECT_FALSE(is_permanent(smtp::client_errc::tls_failed));
  EXPECT_FALSE(is_permanent(smtp::client_errc::greeting_rejected));
  EXPECT_FALSE(is_permanent(smtp::client_errc::auth_failed_transient));
  EXPECT_FALSE(is_permanent(smtp::client_errc::malformed_reply));
  EXPECT_TRUE(is_permanent(smtp::client_errc::greeting_rejected_permanent));
  EXPECT_TRUE(is_permanent(smtp::client_errc::auth_failed));
  EXPECT_TRUE(is_permanent(smtp::client_errc::auth_unavailable));
  EXPECT_TRUE(is_permanent(smtp::client_errc::hello_rejected_permanent));
  EXPECT_NE(mailkit::error_code(smtp::client_errc::starttls_injection).message(), "");
}
