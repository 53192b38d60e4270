// SPDX-License-Identifier: Apache-2.0
#include <mailkit/queue/envelope.hpp>
#include <mailkit/queue/error.hpp>

#include <gtest/gtest.h>

#include <cerrno>

namespace q = mailkit::queue;

namespace {

q::envelope sample() {
  q::envelope e;
  e.id = "0005f3a2b1c4d6000a3f2e";
  e.received = 1700000000123456;
  e.reverse_path = "sender+tag@example.org";
  e.ret = q::ret_type::hdrs;
  e.envid = "env id%with spaces\x01";
  e.smtputf8 = true;
  e.eightbitmime = true;
  e.requiretls = true;
  e.auth = "user@example.com";
  e.client = "192.0.2.1";
  e.helo = "mail.example.org";
  e.mailbox = "Junk";
  q::recipient a;
  a.where = q::route::local;
  a.address = "user@example.com";
  a.original = "User+news@Example.COM";
  a.orcpt = "rfc822;user+news@example.com";
  a.notify = q::notify::failure | q::notify::delay;
  a.tag = "news";
  q::recipient b;
  b.where = q::route::remote;
  b.address = "\xc3\xbcser@b\xc3\xbc.example";
  b.original = b.address;
  e.recipients = {a, b};
  return e;
}

} // namespace

TEST(QueueRecord, RoundTrip) {
  const auto e = sample();
  const std::string text = q::serialize_record(e);
  auto back = q::parse_record(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, e);
  // Escaping leaves no space or control octet inside a value.
  EXPECT_NE(text.find("envid env%20id%25with%20spaces%01\n"), std::string::npos) << text;
}

TEST(QueueRecord, NullSenderAndMinimalFields) {
  q::envelope e;
  e.id = "00";
  e.recipients.push_back({q::route::local, "a@b", "", "", 0, ""});
  auto back = q::parse_record(q::serialize_record(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, e);
  EXPECT_TRUE(back->reverse_path.empty());
}

TEST(QueueRecord, EscapeTable) {
  EXPECT_EQ(q::escape_field("a b%\r\n\x7f\xc3\xa9"), "a%20b%25%0D%0A%7F\xc3\xa9");
  EXPECT_EQ(*q::unescape_field("a%20b%25%0d"), "a b%\r");
  EXPECT_FALSE(q::unescape_field("a%2"));
  EXPECT_FALSE(q::unescape_field("a%zz"));
  EXPECT_FALSE(q::unescape_field("a\tb"));
}

TEST(QueueRecord, RejectsDamage) {
  const std::string good = q::serialize_record(sample());
  const std::vector<std::string> bad = {
      "",
      "MKQ2\n" + good.substr(5),                          // another version
      good.substr(0, good.size() - 1),                    // last line without LF
      good + "bogus field\n",                             // unknown field
      good + "id 00\n",                                   // duplicate id
      "MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags -\n", // no recipient
      "MKQ1\nid xyz\nreceived 1\nfrom \nret -\nflags -\nrcpt local 0 a@b   \n",
      "MKQ1\nid 00\nreceived -5\nfrom \nret -\nflags -\nrcpt local 0 a@b   \n",
      "MKQ1\nid 00\nreceived 1\nfrom \nret x\nflags -\nrcpt local 0 a@b   \n",
      "MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags nope\nrcpt local 0 a@b   \n",
      "MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags -\nrcpt moon 0 a@b   \n",
      "MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags -\nrcpt local 99 a@b   \n",
      "MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags -\nrcpt local 0 a@b\n",
      "MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags -\nrcpt local 0    \n",
      "MKQ1\nid 00\nreceived 1\nfrom a b\nret -\nflags -\nrcpt local 0 a@b   \n",
      "MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags -\nrcpt local 0 a@b    x\n",
  };
  for (const auto& b : bad) {
    auto r = q::parse_record(b);
    EXPECT_FALSE(r) << b;
    if (!r) {
      EXPECT_EQ(r.error(), make_error_code(q::errc::corrupt));
    }
  }
  EXPECT_TRUE(
      q::parse_record("MKQ1\nid 00\nreceived 1\nfrom \nret -\nflags -\nrcpt local 0 a@b   \n"));
}

TEST(QueueRecord, LineAndSizeLimits) {
  std::string s = "MKQ1\nid 00\nreceived 1\nfrom " + std::string(q::max_record_line, 'a') +
                  "\nret -\nflags -\nrcpt local 0 a@b   \n";
  EXPECT_FALSE(q::parse_record(s));
}

TEST(QueueErrors, ReplyMapping) {
  EXPECT_EQ(q::reply_for(make_error_code(q::errc::disk_full)).code, 452);
  EXPECT_EQ(q::reply_for(make_error_code(q::errc::disk_full)).status, "4.3.1");
  EXPECT_EQ(q::reply_for(make_error_code(q::errc::queue_full)).status, "4.3.1");
  EXPECT_EQ(q::reply_for(make_error_code(q::errc::io_error)).code, 451);
  EXPECT_EQ(q::reply_for(make_error_code(q::errc::message_too_large)).code, 552);
  EXPECT_TRUE(mailkit::is_permanent(make_error_code(q::errc::message_too_large)));
  EXPECT_FALSE(mailkit::is_permanent(make_error_code(q::errc::disk_full)));
  EXPECT_EQ(q::from_errno(ENOSPC), make_error_code(q::errc::disk_full));
  EXPECT_EQ(q::from_errno(EDQUOT), make_error_code(q::errc::disk_full));
  EXPECT_EQ(q::from_errno(EIO), make_error_code(q::errc::io_error));
}
