// SPDX-License-Identifier: Apache-2.0
// SMTP reply values and their wire form (reply.hpp), as the server writes them.
#include <mailkit/smtp/reply.hpp>

#include <gtest/gtest.h>

using namespace mailkit::smtp;

TEST(SmtpReply, SingleLineWithEnhancedCode) {
  EXPECT_EQ(format_reply(make_reply(250, "2.1.0", "sender OK")), "250 2.1.0 sender OK\r\n");
  EXPECT_EQ(format_reply(make_reply(220, "", "mx ESMTP")), "220 mx ESMTP\r\n");
  EXPECT_EQ(format_reply(make_reply(354, "", "")), "354\r\n");
}

TEST(SmtpReply, MultiLine) {
  reply r;
  r.code = 250;
  r.lines = {"mx greets x", "PIPELINING", "HELP"};
  EXPECT_EQ(format_reply(r), "250-mx greets x\r\n250-PIPELINING\r\n250 HELP\r\n");
  EXPECT_EQ(format_reply(make_reply(550, "5.7.1", "one\ntwo")),
            "550-5.7.1 one\r\n550 5.7.1 two\r\n");
}

TEST(SmtpReply, TextCannotInjectASecondReply) {
  // A policy text carrying CRLF (e.g. echoing an address) must stay inside one reply.
  reply r = make_reply(550, "5.1.1", "x");
  r.lines = {"bad\r\n250 2.0.0 fake"};
  EXPECT_EQ(format_reply(r), "550-5.1.1 bad\r\n550 5.1.1 250 2.0.0 fake\r\n");
}

TEST(SmtpReply, EnhancedStatusParse) {
  auto e = enhanced_status::parse("5.7.10");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->klass, 5);
  EXPECT_EQ(e->subject, 7);
  EXPECT_EQ(e->detail, 10);
  EXPECT_FALSE(enhanced_status::parse("3.0.0"));
  EXPECT_FALSE(enhanced_status::parse("5.1000.0"));
  EXPECT_TRUE(make_reply(452, "4.5.3", "x").transient_failure());
}
