// SPDX-License-Identifier: Apache-2.0
// RFC 8461 §3.1 TXT records, §3.2 policies, §4.1 MX matching, §4.2/§2 decisions.
#include <mailkit/mtasts/mtasts.hpp>

#include <gtest/gtest.h>

namespace m = mailkit::mtasts;

TEST(mtasts_txt, parses_id_and_extensions) {
  auto r = m::parse_txt_record("v=STSv1; id=20160831085700Z;");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "20160831085700Z");
  r = m::parse_txt_record("v=STSv1;id=abc ; ext_1=value");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "abc");
  ASSERT_EQ(r->extensions.size(), 1u);
  EXPECT_EQ(r->extensions[0].first, "ext_1");
}

TEST(mtasts_txt, rejects_bad_records) {
  for (const char* bad : {
           "id=20180907T090909; v=STSv1;",                  // v= not first (snawoot bad-record1)
           "azazaza;asdasdasdasd",                          // garbage (bad-record2)
           "v=STSv12;id=20180907T090909;",                  // wrong version (bad-record3)
           "v=STSv1;",                                      // id required
           "v=STSv1; id=",                                  // empty id
           "v=STSv1; id=abc-def",                           // id is alphanumeric only
           "v=STSv1; id=123456789012345678901234567890123", // 33 characters
           "v=STSv1; id=a; id=b",                           // twice
           "v=STSv1 id=a",                                  // no separator
           "V=STSv1; id=a",                                 // %s"v=STSv1" is case-sensitive
       })
    EXPECT_FALSE(m::parse_txt_record(bad)) << bad;
}

TEST(mtasts_txt, selection_discards_others_and_needs_exactly_one) {
  EXPECT_TRUE(m::select_txt_record({"v=spf1 -all", "v=STSv1; id=1"}));
  EXPECT_FALSE(m::select_txt_record({"v=STSv1; id=1", "v=STSv1; id=2"}));
  EXPECT_FALSE(m::select_txt_record({}));
  EXPECT_FALSE(m::select_txt_record({"v=STSv12;id=1;"}));
  EXPECT_FALSE(m::select_txt_record({"v=STSv1; garbage"}));
}

TEST(mtasts_policy, parses_rfc_example) {
  // RFC 8461 §3.2 example, with CRLF.
  auto p = m::parse_policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
                           "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->policy_mode, m::mode::enforce);
  ASSERT_EQ(p->mx.size(), 3u);
  EXPECT_EQ(p->mx[1], "*.example.net");
  EXPECT_EQ(p->max_age, 604800u);
  EXPECT_TRUE(p->matches("mx1.example.net"));
  EXPECT_TRUE(p->matches("MAIL.example.com."));
  EXPECT_FALSE(p->matches("example.net"));
  // LF only, no trailing terminator, extension kept, value with trailing spaces.
  p = m::parse_policy("version: STSv1\nmode: testing\nmx: mail.loc  \nfoo-bar: x y\nmax_age: 1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->policy_mode, m::mode::testing);
  EXPECT_EQ(p->mx[0], "mail.loc");
  ASSERT_EQ(p->extensions.size(), 1u);
  EXPECT_EQ(p->extensions[0].second, "x y");
  // mode none needs no mx (snawoot valid-none).
  EXPECT_TRUE(m::parse_policy("version: STSv1\nmode: none\nmax_age: 86400"));
}

TEST(mtasts_policy, rejects_bad_policies) {
  for (const char* bad : {
           "garbage",                                                        // bad-policy1
           "version: STSv1\nmode: enforce\nmax_age: 86400",                  // bad-policy2: no mx
           "version: STSv1\nmode: enforce\nmx: mail.loc\nmax_age: xxx",      // bad-policy5
           "version: STSv1\nmode: enforce\nmx: mail.loc\nmax_age: 31557601", // bad-policy6
           "version: STSv1\nmx: mail.loc\nmax_age: 86400",                   // bad-policy7: no mode
           "version: STSv1\nmode: doubt\nmx: mail.loc\nmax_age: 86400",      // bad-policy8
           "mode: enforce\nmx: mail.loc\nmax_age: 86400",                    // no version
           "version: STSv2\nmode: enforce\nmx: mail.loc\nmax_age: 86400",
           "version: STSv1\nmode: enforce\nmode: testing\nmx: a.b\nmax_age: 1",
           "version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1",
           "version: STSv1\nmode: enforce\nmx: *.*.b\nmax_age: 1",
           "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 12345678901",
           "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1",
           "version: STSv1\nmode: Enforce\nmx: a.b\nmax_age: 1", // %s: case-sensitive
       })
    EXPECT_FALSE(m::parse_policy(bad)) << bad;
  EXPECT_TRUE(m::parse_policy("version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557600"));
  std::string huge = "version: STSv1\nmode: none\nmax_age: 1\n";
  huge += std::string(m::max_policy_size, '\n');
  EXPECT_FALSE(m::parse_policy(huge));
}

TEST(mtasts_policy, round_trips_through_text) {
  auto p = m::parse_policy("version: STSv1\nmode: enforce\nmx: mail.loc\nmx: *.b.c\nmax_age: 5");
  ASSERT_TRUE(p);
  auto q = m::parse_policy(p->to_text());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->mx, p->mx);
  EXPECT_EQ(q->max_age, 5u);
}

TEST(mtasts_mx, wildcard_rules) {
  // RFC 8461 §4.1
  EXPECT_TRUE(m::mx_matches("mail.example.com", "mail.example.com"));
  EXPECT_TRUE(m::mx_matches("mail.example.com", "Mail.Example.COM."));
  EXPECT_TRUE(m::mx_matches("*.example.com", "mx1.example.com"));
  EXPECT_FALSE(m::mx_matches("*.example.com", "example.com"));
  EXPECT_FALSE(m::mx_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(m::mx_matches("*.example.com", ".example.com"));
  EXPECT_FALSE(m::mx_matches("*.example.com", "mx1.example.community"));
  EXPECT_FALSE(m::mx_matches("mail.example.com", "mail.example.co"));
  EXPECT_FALSE(m::mx_matches("", "a"));
}

TEST(mtasts_content_type, text_plain_with_parameters) {
  EXPECT_TRUE(m::is_text_plain("text/plain"));
  EXPECT_TRUE(m::is_text_plain("Text/Plain; charset=utf-8"));
  EXPECT_FALSE(m::is_text_plain("text/html"));
  EXPECT_FALSE(m::is_text_plain(""));
  EXPECT_FALSE(m::is_text_plain("text/plainx"));
}

namespace {
m::policy enforce_policy(m::mode md = m::mode::enforce) {
  m::policy p;
  p.policy_mode = md;
  p.mx = {"mail.example.com", "*.example.net"};
  p.max_age = 86400;
  return p;
}
m::tls_outcome tls(bool established, bool pkix, bool dane = false) {
  return {established, pkix, dane};
}
} // namespace

TEST(mtasts_decide, enforce_testing_none) {
  const auto enforce = enforce_policy();
  auto d = m::decide(&enforce, "mail.example.com", m::dane_state::none, tls(true, true));
  EXPECT_EQ(d.action, m::verdict::deliver);
  EXPECT_TRUE(d.sts_applied);
  // The man in the middle strips STARTTLS: no delivery.
  d = m::decide(&enforce, "mail.example.com", m::dane_state::none, tls(false, false));
  EXPECT_EQ(d.action, m::verdict::refuse);
  EXPECT_EQ(d.reason, m::failure::starttls_not_supported);
  d = m::decide(&enforce, "mail.example.com", m::dane_state::none, tls(true, false));
  EXPECT_EQ(d.action, m::verdict::refuse);
  EXPECT_EQ(d.reason, m::failure::certificate_invalid);
  d = m::decide(&enforce, "evil.example.org", m::dane_state::none, tls(true, true));
  EXPECT_EQ(d.action, m::verdict::refuse);
  EXPECT_EQ(d.reason, m::failure::mx_not_in_policy);

  const auto testing = enforce_policy(m::mode::testing);
  d = m::decide(&testing, "mail.example.com", m::dane_state::none, tls(false, false));
  EXPECT_EQ(d.action, m::verdict::deliver_and_report);
  d = m::decide(&testing, "mx.example.net", m::dane_state::none, tls(true, true));
  EXPECT_EQ(d.action, m::verdict::deliver);

  const auto none = enforce_policy(m::mode::none);
  d = m::decide(&none, "x", m::dane_state::none, tls(false, false));
  EXPECT_EQ(d.action, m::verdict::deliver);
  EXPECT_FALSE(d.sts_applied);
  d = m::decide(nullptr, "x", m::dane_state::none, tls(false, false));
  EXPECT_EQ(d.action, m::verdict::deliver);
}

TEST(mtasts_decide, dane_takes_precedence) {
  // RFC 8461 §2: a failing DANE validation is not overridden by a passing MTA-STS check...
  const auto enforce = enforce_policy();
  auto d = m::decide(&enforce, "mail.example.com", m::dane_state::usable, tls(true, true, false));
  EXPECT_EQ(d.action, m::verdict::refuse);
  EXPECT_TRUE(d.dane_applied);
  EXPECT_EQ(d.reason, m::failure::dane_mismatch);
  // ... and a DANE success does not need MTA-STS (even for an MX the policy does not list).
  d = m::decide(&enforce, "other.example.org", m::dane_state::usable, tls(true, false, true));
  EXPECT_EQ(d.action, m::verdict::deliver);
  d = m::decide(nullptr, "mx", m::dane_state::usable, tls(false, false));
  EXPECT_EQ(d.action, m::verdict::refuse);
  // Unusable TLSA: TLS required, authentication not.
  d = m::decide(nullptr, "mx", m::dane_state::unusable, tls(true, false));
  EXPECT_EQ(d.action, m::verdict::deliver);
  d = m::decide(nullptr, "mx", m::dane_state::unusable, tls(false, false));
  EXPECT_EQ(d.action, m::verdict::refuse);
}
