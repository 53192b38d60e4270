// SPDX-License-Identifier: Apache-2.0
// Command syntax: verbs, paths (RFC 5321 §4.1.2), ESMTP parameters, xtext (RFC 3461 §4).
#include <mailkit/smtp/command.hpp>

#include <gtest/gtest.h>

using namespace mailkit::smtp;

namespace {

const server_limits limits{};

path_argument mail_path(std::string_view s, bool utf8 = false) {
  return parse_path_argument(s, limits, utf8, true, false);
}

path_argument rcpt_path(std::string_view s, bool utf8 = false) {
  return parse_path_argument(s, limits, utf8, false, true);
}

} // namespace

TEST(SmtpCommand, VerbsAreCaseInsensitive) {
  EXPECT_EQ(parse_command_line("ehlo x").v, verb::ehlo);
  EXPECT_EQ(parse_command_line("HeLo x").v, verb::helo);
  EXPECT_EQ(parse_command_line("STARTTLS").v, verb::starttls);
  EXPECT_EQ(parse_command_line("bdat 10 LAST").v, verb::bdat);
  EXPECT_EQ(parse_command_line("auth PLAIN").v, verb::auth);
  EXPECT_EQ(parse_command_line("XYZZY").v, verb::unknown);
  EXPECT_EQ(parse_command_line("").v, verb::unknown);
  EXPECT_EQ(parse_command_line("DATAX").v, verb::unknown);
}

TEST(SmtpCommand, MailAndRcptKeywords) {
  auto c = parse_command_line("mail from:<a@b.c> SIZE=10");
  EXPECT_EQ(c.v, verb::mail);
  EXPECT_FALSE(c.missing_colon);
  EXPECT_EQ(c.argument, "<a@b.c> SIZE=10");
  c = parse_command_line("RCPT To:<x@y>");
  EXPECT_EQ(c.argument, "<x@y>");
  EXPECT_TRUE(parse_command_line("MAIL LALA: <>").missing_colon);
  EXPECT_TRUE(parse_command_line("RCPT <x@y>").missing_colon);
}

TEST(SmtpCommand, ForbiddenProtocols) {
  EXPECT_EQ(parse_command_line("GET / HTTP/1.1").v, verb::forbidden);
  EXPECT_EQ(parse_command_line("POST /evil HTTP/1.0").v, verb::forbidden);
  EXPECT_EQ(parse_command_line("CONNECT www.evil.com:80 HTTP/1.1").v, verb::forbidden);
  EXPECT_EQ(parse_command_line("GET").v, verb::unknown);
}

TEST(SmtpPath, Valid) {
  struct row {
    std::string_view text, local, domain;
  };
  const row rows[] = {
      {"<user@example.org>", "user", "example.org"},
      {"<first.last+tag@sub.example.org>", "first.last+tag", "sub.example.org"},
      {"<\"quoted local\"@example.org>", "\"quoted local\"", "example.org"},
      {"<\"a\\\"b@c\"@example.org>", "\"a\\\"b@c\"", "example.org"},
      {"<user@[192.0.2.1]>", "user", "[192.0.2.1]"},
      {"<user@[IPv6:2001:db8::1]>", "user", "[IPv6:2001:db8::1]"},
      {"<user@[x-tag:abc]>", "user", "[x-tag:abc]"},
      {"<@relay.example,@b.example:user@example.org>", "user", "example.org"}, // source route
      {" <user@example.org>", "user", "example.org"}, // leniency: space after the colon
      {"user@example.org", "user", "example.org"},    // leniency: no brackets
      {"<!#$%&'*+-/=?^_`{|}~@example.org>", "!#$%&'*+-/=?^_`{|}~", "example.org"},
  };
  for (const auto& r : rows) {
    const auto p = mail_path(r.text);
    ASSERT_EQ(p.error, path_error::none) << r.text;
    ASSERT_TRUE(p.address) << r.text;
    EXPECT_EQ(p.address->local_part, r.local) << r.text;
    EXPECT_EQ(p.address->domain, r.domain) << r.text;
  }
  EXPECT_TRUE(mail_path("<user@[192.0.2.1]>").address->address_literal);
}

TEST(SmtpPath, NullAndPostmaster) {
  auto p = mail_path("<>");
  EXPECT_EQ(p.error, path_error::none);
  EXPECT_FALSE(p.address);
  EXPECT_EQ(rcpt_path("<>").error, path_error::syntax); // a forward path is never null
  p = rcpt_path("<Postmaster>");
  ASSERT_EQ(p.error, path_error::none);
  EXPECT_EQ(p.address->to_string(), "Postmaster");
  EXPECT_EQ(mail_path("<postmaster>").error, path_error::syntax);
}

TEST(SmtpPath, Invalid) {
  struct row {
    std::string_view text;
    path_error err;
  };
  const row rows[] = {
      {"<pepe>", path_error::syntax},
      {"<a@xn--->", path_error::bad_domain},
      {"<a@-a.example>", path_error::bad_domain},
      {"<a@example..org>", path_error::bad_domain},
      {"<a@example.org.>", path_error::bad_domain},
      {"<a@>", path_error::bad_domain},
      {"<@example.org>", path_error::syntax},
      {"<a..b@example.org>", path_error::syntax},
      {"<.a@example.org>", path_error::syntax},
      {"<a b@example.org>", path_error::syntax},
      {"<a@example.org", path_error::syntax},
      {"<a@example.org>x", path_error::syntax},
      {"<a@[300.1.1.1]>", path_error::bad_domain},
      {"<a@[IPv6:zz::1]>", path_error::bad_domain},
      {"<a@exa_mple.org>", path_error::bad_domain},
      {"<\"unterminated@example.org>", path_error::syntax},
      {"", path_error::syntax},
      {"<@a.example:>", path_error::syntax},
  };
  for (const auto& r : rows)
    EXPECT_EQ(mail_path(r.text).error, r.err) << r.text;
}

TEST(SmtpPath, Lengths) {
  // RFC 5321 §4.5.3.1.1: local part 64 octets.
  const std::string l64(64, 'a');
  EXPECT_EQ(mail_path("<" + l64 + "@example.org>").error, path_error::none);
  EXPECT_EQ(mail_path("<" + l64 + "a@example.org>").error, path_error::too_long);
  // RFC 5321 §4.5.3.1.3: path 256 octets with the brackets.
  std::string domain;
  while (domain.size() < 180)
    domain += "abcdefghi.";
  domain += "org"; // 183
  const std::string local(64, 'b');
  std::string path = "<" + local + "@" + domain + ">"; // 1+64+1+183+1 = 250
  EXPECT_EQ(path.size(), 250U);
  EXPECT_EQ(mail_path(path).error, path_error::none);
  const std::string longer = "<" + local + "@abcdef." + domain + ">"; // 257
  EXPECT_EQ(mail_path(longer).error, path_error::too_long);
  // A label of 64 octets is not a domain label (RFC 1035 §2.3.4).
  EXPECT_EQ(mail_path("<a@" + std::string(64, 'x') + ".org>").error, path_error::bad_domain);
}

TEST(SmtpPath, Utf8OnlyWithSmtputf8) {
  const std::string addr = "<j\xC3\xB6rg@b\xC3\xBC"
                           "cher.example>";
  auto p = mail_path(addr, true);
  ASSERT_EQ(p.error, path_error::none);
  EXPECT_TRUE(p.address->utf8);
  EXPECT_EQ(mail_path(addr, false).error, path_error::utf8_not_allowed);
  // Invalid UTF-8 is a syntax error even when UTF-8 is allowed.
  EXPECT_EQ(mail_path("<j\xC3(rg@example.org>", true).error, path_error::syntax);
  EXPECT_EQ(mail_path("<a@\xC0\xAF.example>", true).error, path_error::bad_domain);
}

TEST(SmtpPath, Params) {
  auto p = mail_path("<a@b.example> SIZE=100 BODY=8BITMIME smtputf8");
  ASSERT_EQ(p.error, path_error::none);
  ASSERT_EQ(p.params.size(), 3U);
  EXPECT_EQ(p.params[0].keyword, "SIZE");
  EXPECT_EQ(*p.params[0].value, "100");
  EXPECT_EQ(p.params[2].keyword, "SMTPUTF8");
  EXPECT_FALSE(p.params[2].value);
  EXPECT_TRUE(mail_path("<a@b.example> SIZE=").params_syntax_error);
  EXPECT_TRUE(mail_path("<a@b.example> -X=1").params_syntax_error);
  EXPECT_TRUE(mail_path("<a@b.example> X=a=b").params_syntax_error);
  EXPECT_TRUE(mail_path("<a@b.example> X=\x01").params_syntax_error);
}

TEST(SmtpXtext, DecodeEncode) {
  EXPECT_EQ(*decode_xtext("abc+2Bdef+3D"), "abc+def=");
  EXPECT_FALSE(decode_xtext("a+2b")); // lower-case hex
  EXPECT_FALSE(decode_xtext("a+2"));  // truncated
  EXPECT_FALSE(decode_xtext("a+"));
  EXPECT_FALSE(decode_xtext("a=b")); // "=" is not an xchar
  EXPECT_FALSE(decode_xtext("a b"));
  EXPECT_EQ(*decode_xtext(""), "");
  for (const std::string& s : {std::string("plain"), std::string("with space"),
                               std::string("plus+equals="), std::string("\0\xff", 2)})
    EXPECT_EQ(*decode_xtext(encode_xtext(s)), s);
}

TEST(SmtpDsn, Notify) {
  EXPECT_TRUE(parse_notify("NEVER")->never);
  auto n = parse_notify("SUCCESS,failure,DELAY");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->success && n->failure && n->delay && !n->never);
  EXPECT_FALSE(parse_notify("NEVER,SUCCESS"));
  EXPECT_FALSE(parse_notify("SUCCESS,SUCCESS"));
  EXPECT_FALSE(parse_notify("SOMETIMES"));
  EXPECT_FALSE(parse_notify(""));
  EXPECT_FALSE(parse_notify("SUCCESS,"));
}

TEST(SmtpDsn, Orcpt) {
  auto o = parse_orcpt("rfc822;user+2Btag@example.org", 500);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->addr_type, "rfc822");
  EXPECT_EQ(o->address, "user+tag@example.org");
  EXPECT_FALSE(parse_orcpt("rfc822", 500));
  EXPECT_FALSE(parse_orcpt(";a@b", 500));
  EXPECT_FALSE(parse_orcpt("rfc822;", 500));
  EXPECT_FALSE(parse_orcpt("rfc822;a+zz", 500));
  EXPECT_FALSE(parse_orcpt("rfc822;" + std::string(501, 'a'), 500));
}

TEST(SmtpUtf8, Validation) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));         // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));     // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80")); // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));         // truncated
}

TEST(SmtpDomain, Validation) {
  EXPECT_TRUE(is_valid_domain("example.org", false, 255));
  EXPECT_TRUE(is_valid_domain("a", false, 255));
  EXPECT_TRUE(is_valid_domain("xn--bcher-kva.example", false, 255));
  EXPECT_FALSE(is_valid_domain("b\xC3\xBC"
                               "cher.example",
                               false, 255));
  EXPECT_TRUE(is_valid_domain("b\xC3\xBC"
                              "cher.example",
                              true, 255));
  EXPECT_FALSE(is_valid_domain(std::string(300, 'a'), false, 255));
  EXPECT_TRUE(is_valid_address_literal("[127.0.0.1]"));
  EXPECT_FALSE(is_valid_address_literal("[127.0.0.1"));
  EXPECT_FALSE(is_valid_address_literal("[IPv6:1.2.3.4]"));
  // inet_pton stops at a NUL: the literal is checked for printable ASCII first (fuzz finding).
  EXPECT_FALSE(is_valid_address_literal(std::string("[IPv6:2001:db8::\0junk]", 23)));
  EXPECT_FALSE(is_valid_address_literal(std::string("[127.0.0.1\0]", 13)));
  EXPECT_TRUE(is_valid_address_literal("[IPv6:2001:db8::1]"));
  // RFC 5321 §4.5.3.1.2 applies to address literals too.
  const server_limits limits;
  const auto long_literal = "<a@[x-tag:" + std::string(300, 'a') + "]>";
  EXPECT_EQ(parse_path_argument(long_literal, limits, false, false, false).error,
            path_error::too_long);
}
