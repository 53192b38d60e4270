// SPDX-License-Identifier: Apache-2.0
// parse_received (RFC 5321 §4.4 Stamp, RFC 5322 §3.6.7, RFC 3848 protocol types) on fields as
// real MTAs write them.
#include <mailkit/mime/received.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace mime = mailkit::mime;
using mime::received_host;
using kind = mime::received_host::kind;

namespace {

received_host name(const char* n) {
  return {kind::name, n};
}
received_host v4(const char* a) {
  return {kind::ipv4, a};
}
received_host v6(const char* a) {
  return {kind::ipv6, a};
}

TEST(received, postfix_with_tls) {
  // RFC 5321 §4.4: From-domain with TCP-info, By-domain, With, ID, For, then "; date-time".
  const auto r =
      mime::parse_received("from mail.example.org (mail.example.org [192.0.2.1])\r\n"
                           "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
                           "\tby mx.example.net (Postfix) with ESMTPS id 4ABC123\r\n"
                           "\tfor <user@example.net>; Tue, 29 Aug 2023 09:20:10 -0700 (PDT)\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, name("mail.example.org"));
  EXPECT_EQ(r->from_iprev, "mail.example.org");
  EXPECT_EQ(r->from_ip, "192.0.2.1");
  EXPECT_EQ(r->by, name("mx.example.net"));
  EXPECT_EQ(r->with, "ESMTPS");
  EXPECT_EQ(r->tls_version, "TLSv1.3");
  EXPECT_EQ(r->tls_cipher, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(r->id, "4ABC123");
  EXPECT_EQ(r->for_, "user@example.net");
  ASSERT_TRUE(r->date);
  EXPECT_EQ(r->date->to_rfc5322(), "Tue, 29 Aug 2023 09:20:10 -0700");
}

TEST(received, exim_qmail_sendmail_forms) {
  // Exim: "([ip] helo=name)", "ident=", "with local-esmtps", TLS in its own comment.
  auto r = mime::parse_received(
      "from root ([10.3.1.13] helo=candygram.example ident=joe) by mx.example with local-esmtps "
      "(tls_cipher TLS-1.0:RSA_AES_256_CBC_SHA:32) (Exim 4.50) id 1FwHqR-0008Bw-OG; "
      "Fri, 30 Jun 2006 08:11:35 -0400");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, name("root"));
  EXPECT_EQ(r->from_ip, "10.3.1.13");
  EXPECT_EQ(r->helo, name("candygram.example"));
  EXPECT_EQ(r->helo_cmd, "HELO");
  EXPECT_EQ(r->ident, "joe");
  EXPECT_EQ(r->with, "ESMTPS");
  EXPECT_EQ(r->tls_version, "TLSv1.0");
  EXPECT_EQ(r->tls_cipher, "RSA_AES_256_CBC_SHA");
  EXPECT_EQ(r->id, "1FwHqR-0008Bw-OG");

  // qmail: "(HELO name) (ip)" and "(user@ip)".
  r = mime::parse_received("from unknown (EHLO homepc) (198.51.100.7) by mx.example with SMTP; "
                           "3 Mar 2004 20:34:38 -0000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, name("unknown"));
  EXPECT_EQ(r->helo_cmd, "EHLO");
  EXPECT_EQ(r->helo, name("homepc"));
  EXPECT_EQ(r->from_ip, "198.51.100.7");
  EXPECT_EQ(r->from_iprev, std::nullopt);

  // sendmail: "(IDENT:user@host [ip])"; "localhost"-style names are not reverse DNS names.
  r = mime::parse_received(
      "from a.example (IDENT:qmailr@b.example [192.0.2.9]) by c.example "
      "(8.11.6/8.11.6) with SMTP id h381Vvf19860; Tue, 8 Apr 2003 02:31:57 +0100");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ident, "qmailr@b.example");
  EXPECT_EQ(r->from_ip, "192.0.2.9");
  EXPECT_EQ(r->from_iprev, std::nullopt);
  r = mime::parse_received("from x (localhost [127.0.0.1]) by y; 1 Jan 2020 00:00:00 +0000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from_iprev, std::nullopt);
  EXPECT_EQ(r->from_ip, "127.0.0.1");
}

TEST(received, hosts_and_addresses) {
  struct host_case {
    const char* rule;
    const char* raw;
    std::optional<received_host> from;
    std::optional<std::string> from_ip;
  };
  const host_case cases[] = {
      {"RFC 5321 §4.1.3 IPv4 address literal", "from [192.0.2.1] by x", v4("192.0.2.1"),
       std::nullopt},
      {"RFC 5321 §4.1.3 IPv6 address literal, RFC 5952 text",
       "from [IPv6:2001:DB8:0:0:0:0:0:1] by x", v6("2001:db8::1"), std::nullopt},
      {"bare IPv4 as the from name", "from 192.0.2.5 by x", v4("192.0.2.5"), std::nullopt},
      {"TCP-info with IPv6", "from h (h [IPv6:::1]) by x", name("h"), "::1"},
      {"address with a port", "from h (192.0.2.1:25123) by x", name("h"), "192.0.2.1"},
      {"not an address: five parts", "from h ([10.0.8.6.13219]) by x", name("h"), std::nullopt},
      {"not an address: octet above 255", "from h ([10.0.8.256]) by x", name("h"), std::nullopt},
      {"no from name, only TCP-info", "from ([172.16.1.78]) by x", std::nullopt, "172.16.1.78"},
      {"a name cut at '/'", "from Unknown/Local ([?.?.?.?]) by x", name("Unknown"), std::nullopt},
      {"a literal that is no address", "from [unix socket] by x", std::nullopt, std::nullopt},
  };
  for (const auto& c : cases) {
    const auto r = mime::parse_received(c.raw);
    ASSERT_TRUE(r) << c.rule;
    EXPECT_EQ(r->from, c.from) << c.rule;
    EXPECT_EQ(r->from_ip, c.from_ip) << c.rule;
    EXPECT_EQ(r->by, name("x")) << c.rule;
  }
}

TEST(received, with_protocols) {
  // RFC 3848 names, and what MTAs write for them.
  const std::pair<const char*, const char*> cases[] = {
      {"with esmtpsa", "ESMTPSA"},
      {"with LMTP", "LMTP"},
      {"with local", "LOCAL"},
      {"with local-bsmtp", "SMTP"},
      {"with Microsoft SMTPSVC(6.0)", "SMTP"},
      {"with ESMTP-TLS", "ESMTPS"},
      {"with [XMail 1.20 ESMTP Server]", "ESMTP"},
      {"with ESMTP/TLS/AES256-SHA", "ESMTP"},
      {"with HTTPREST", "HTTP"},
      {"with mapi", "mapi"},
  };
  for (const auto& [clause, protocol] : cases) {
    const auto r = mime::parse_received(std::string("by x ") + clause + "; 1 Jan 2020 00:00 +0000");
    ASSERT_TRUE(r) << clause;
    EXPECT_EQ(r->with, protocol) << clause;
  }
}

TEST(received, clauses_out_of_order_and_partial) {
  // Via before By; id with a queue suffix; "for" after the date; a repeated from ignored.
  auto r = mime::parse_received("from a.example via smail from stdin id <q1@a.example> "
                                "for list@b.example; Thu, 18 May 2006 18:28:08 +0200 (CEST)");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, name("a.example"));
  EXPECT_EQ(r->via, "smail");
  EXPECT_EQ(r->id, "q1@a.example");
  EXPECT_EQ(r->for_, "list@b.example");

  r = mime::parse_received("from a by b with SMTP id EE/20-30863; 8 Sep 2006 18:18:27 -0400");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "EE");

  r = mime::parse_received("from a by 127.0.0.1 ; Thu, 20 Mar 03 10:06:43 +0100 for <r@x.test>");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->by, v4("127.0.0.1"));
  EXPECT_EQ(r->for_, "r@x.test");
  ASSERT_TRUE(r->date);
  EXPECT_EQ(r->date->year, 2003); // RFC 5322 §4.3

  // RFC 5321 §4.4: For is a path or mailbox: a word without '@' is not a recipient.
  r = mime::parse_received("by b for <address>; 1 Jan 2020 00:00 +0000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->for_, std::nullopt);

  // The from clause inside a leading comment (NAV, sendmail's submission agent).
  r = mime::parse_received("(from user@localhost) by home.example id iBADHRP6011034; "
                           "Fri, 10 Dec 2004 13:17:27 GMT");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, name("user@localhost"));
  EXPECT_EQ(r->by, name("home.example"));

  // Only a date; no clause at all; no date.
  r = mime::parse_received("; Tue, 23 May 2006 13:06:35 -0400");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->from);
  EXPECT_TRUE(r->date);
  r = mime::parse_received("by a.example (Postfix)");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->date);
  EXPECT_EQ(mime::parse_received(""), std::nullopt);
  EXPECT_EQ(mime::parse_received("(just a comment)"), std::nullopt);
}

TEST(received, field_ends_at_unfolded_line_break) {
  // RFC 5322 §2.2.3: the next header line is not part of this field.
  const auto r = mime::parse_received("from a by b; 1 Jan 2020 00:00 +0000\r\nX-Spam: for <x@y>");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->for_, std::nullopt);
}

TEST(received, hostile_input_is_bounded) {
  const std::string deep = "from " + std::string(200000, '(') + std::string(200000, ')') + " by x";
  EXPECT_NO_FATAL_FAILURE((void)mime::parse_received(deep));
  const std::string brackets = std::string(200000, '[') + std::string(200000, '<');
  EXPECT_NO_FATAL_FAILURE((void)mime::parse_received(brackets));
  std::string clauses;
  for (int i = 0; i < 20000; ++i)
    clauses += "from a by b with c id d for e@f ";
  const auto r = mime::parse_received(clauses + "; 1 Jan 2020 00:00 +0000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, name("a"));
  EXPECT_EQ(mime::parse_received(std::string(300000, ';')), std::nullopt);
}

} // namespace
