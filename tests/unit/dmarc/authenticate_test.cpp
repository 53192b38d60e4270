// SPDX-License-Identifier: Apache-2.0
// dmarc::authenticate: SPF + DKIM + DMARC of one message against a static zone, with messages
// signed here by the DKIM signer under keys published in that zone.
#include <mailkit/dkim/auth_results.hpp>
#include <mailkit/dkim/keys.hpp>
#include <mailkit/dkim/signer.hpp>
#include <mailkit/dmarc/authenticate.hpp>
#include <mailkit/dns/static_resolver.hpp>

#include <gtest/gtest.h>

#include <optional>

namespace mailkit::dmarc {
namespace {

using namespace std::chrono_literals;

const manual_clock& test_clock() {
  static const manual_clock c(std::chrono::system_clock::time_point(1'700'000'000s));
  return c;
}

const dkim::private_key& ed_key() {
  static const dkim::private_key k = *dkim::private_key::generate(dkim::key_type::ed25519);
  return k;
}

const dkim::private_key& rsa_key() {
  static const dkim::private_key k = *dkim::private_key::generate(dkim::key_type::rsa, 1024);
  return k;
}

constexpr std::string_view body_message = "From: Alice <alice@example.com>\r\n"
                                          "To: bob@example.net\r\n"
                                          "Subject: hello\r\n"
                                          "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                                          "Message-ID: <1@example.com>\r\n"
                                          "\r\n"
                                          "Hello Bob.\r\n";

std::string signed_by(std::string_view message, std::string_view domain,
                      const dkim::private_key& key = ed_key(), std::string_view selector = "sel") {
  dkim::sign_options o;
  o.domain = std::string(domain);
  o.selector = std::string(selector);
  o.algo = key.type() == dkim::key_type::ed25519 ? dkim::algorithm::ed25519_sha256
                                                 : dkim::algorithm::rsa_sha256;
  o.clk = &test_clock();
  auto field = dkim::sign(message, key, o);
  EXPECT_TRUE(field.has_value());
  return field.value_or("") + std::string(message);
}

class authenticate_test : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(zone.add("example.com", dns::rtype::txt, "v=spf1 ip4:192.0.2.0/24 -all"));
    ASSERT_TRUE(zone.add("sel._domainkey.example.com", dns::rtype::txt, ed_key().dns_txt()));
    ASSERT_TRUE(zone.add("rsa._domainkey.example.com", dns::rtype::txt, rsa_key().dns_txt()));
    ASSERT_TRUE(zone.add("_dmarc.example.com", dns::rtype::txt, "v=DMARC1; p=reject"));
    ASSERT_TRUE(zone.add("mail.example.com", dns::rtype::txt, "v=spf1 a -all"));
    ASSERT_TRUE(zone.add("mail.example.com", dns::rtype::a, "192.0.2.25"));
    // A forwarder that rewrites MAIL FROM (SRS) and sends from its own address.
    ASSERT_TRUE(zone.add("forwarder.net", dns::rtype::txt, "v=spf1 ip4:198.51.100.7 -all"));
    ASSERT_TRUE(zone.add("strict.example", dns::rtype::txt, "v=spf1 -all"));
    ASSERT_TRUE(zone.add("_dmarc.strict.example", dns::rtype::txt, "v=DMARC1; p=quarantine"));
    ASSERT_TRUE(zone.add("lax.example", dns::rtype::txt, "v=spf1 -all"));
    ASSERT_TRUE(zone.add("_dmarc.lax.example", dns::rtype::txt, "v=DMARC1; p=none"));
    ASSERT_TRUE(zone.add("nothing.example", dns::rtype::a, "192.0.2.99"));
  }

  authenticate_params params(std::string_view ip, std::string_view helo,
                             std::string_view mail_from) const {
    authenticate_params p;
    p.ip = *spf::parse_ip(ip);
    p.helo = std::string(helo);
    p.mail_from = std::string(mail_from);
    p.authserv_id = "mx.example.org";
    p.clk = &test_clock();
    return p;
  }

  dns::static_resolver zone;
};

TEST_F(authenticate_test, all_pass_and_the_field) {
  const std::string msg = signed_by(body_message, "example.com");
  const auto a =
      authenticate(zone, msg, params("192.0.2.10", "mail.example.com", "bounce@example.com"));
  EXPECT_EQ(a.spf.result, spf::result::pass);
  ASSERT_EQ(a.dkim.size(), 1u);
  EXPECT_EQ(a.dkim[0].result, dkim::result::pass) << a.dkim[0].reason;
  EXPECT_EQ(a.dmarc.result, result::pass);
  EXPECT_TRUE(a.dmarc.spf_aligned);
  EXPECT_TRUE(a.dmarc.dkim_aligned);
  EXPECT_EQ(a.from_fields, 1u);
  EXPECT_EQ(a.from_domains, std::vector<std::string>{"example.com"});

  const std::string b8 = a.dkim[0].b_prefix.substr(0, 8);
  const std::string expected = "Authentication-Results: mx.example.org;\r\n"
                               "\tspf=pass smtp.mailfrom=example.com;\r\n"
                               "\tdkim=pass (256-bit key) header.d=example.com "
                               "header.i=@example.com header.s=sel "
                               "header.a=ed25519-sha256 header.b=" +
                               b8 +
                               ";\r\n"
                               "\tdmarc=pass (p=reject dis=none) header.from=example.com\r\n";
  EXPECT_EQ(a.header, expected);

  // It reads back as RFC 8601 says.
  const std::string_view value =
      std::string_view(a.header).substr(std::string_view("Authentication-Results:").size());
  const auto parsed = dkim::parse_authentication_results(value);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->authserv_id, "mx.example.org");
  ASSERT_EQ(parsed->methods.size(), 3u);
  EXPECT_EQ(parsed->methods[0].method, "spf");
  EXPECT_EQ(parsed->methods[1].method, "dkim");
  EXPECT_EQ(parsed->methods[2].method, "dmarc");
  EXPECT_EQ(parsed->methods[2].result, "pass");
}

TEST_F(authenticate_test, rsa_signature_and_a_second_one_of_another_domain) {
  std::string msg = signed_by(body_message, "example.com", rsa_key(), "rsa");
  msg = signed_by(msg, "unpublished.example"); // no key: permerror, listed first (topmost)
  const auto a =
      authenticate(zone, msg, params("203.0.113.9", "relay.example", "bounce@example.com"));
  EXPECT_EQ(a.spf.result, spf::result::fail);
  ASSERT_EQ(a.dkim.size(), 2u);
  EXPECT_EQ(a.dkim[0].domain, "unpublished.example");
  EXPECT_EQ(a.dkim[0].result, dkim::result::permerror);
  EXPECT_EQ(a.dkim[1].result, dkim::result::pass);
  EXPECT_EQ(a.dkim[1].key_bits, 1024u);
  EXPECT_EQ(a.dmarc.result, result::pass);
  EXPECT_NE(a.header.find("\tdkim=permerror"), std::string::npos) << a.header;
  EXPECT_NE(a.header.find("\tdkim=pass (1024-bit key) header.d=example.com header.i=@example.com "
                          "header.s=rsa "
                          "header.a=rsa-sha256 header.b="),
            std::string::npos)
      << a.header;
}

TEST_F(authenticate_test, unsigned_and_spf_fail_is_a_dmarc_fail) {
  const auto a = authenticate(zone, body_message,
                              params("203.0.113.9", "relay.example", "bounce@example.com"));
  EXPECT_EQ(a.spf.result, spf::result::fail);
  EXPECT_TRUE(a.dkim.empty());
  EXPECT_EQ(a.dmarc.result, result::fail);
  EXPECT_EQ(a.dmarc.disposition, policy::reject);
  EXPECT_NE(a.header.find("\tspf=fail smtp.mailfrom=example.com;\r\n"), std::string::npos);
  EXPECT_NE(a.header.find("\tdkim=none;\r\n"), std::string::npos);
  EXPECT_NE(a.header.find("\tdmarc=fail (p=reject dis=reject) header.from=example.com\r\n"),
            std::string::npos)
      << a.header;
}

TEST_F(authenticate_test, relay_spf_not_aligned_but_dkim_aligned_passes) {
  // The forwarder's own MAIL FROM passes SPF, but forwarder.net is not aligned with example.com;
  // the author's DKIM signature survived the relay, so DMARC passes.
  const std::string msg = signed_by(body_message, "example.com");
  const auto a = authenticate(
      zone, msg,
      params("198.51.100.7", "mx.forwarder.net", "SRS0=abcd=XY=example.com=bounce@forwarder.net"));
  EXPECT_EQ(a.spf.result, spf::result::pass);
  EXPECT_EQ(a.dmarc.result, result::pass);
  EXPECT_FALSE(a.dmarc.spf_aligned);
  EXPECT_TRUE(a.dmarc.dkim_aligned);
  EXPECT_EQ(a.dmarc.dkim_domain, "example.com");
  EXPECT_NE(a.header.find("spf=pass smtp.mailfrom=forwarder.net;"), std::string::npos);

  // The same relay with the body changed on the way: DKIM fails, and so does DMARC.
  std::string broken = msg;
  broken.replace(broken.find("Hello Bob."), 10, "Hello Eve.");
  const auto b = authenticate(
      zone, broken,
      params("198.51.100.7", "mx.forwarder.net", "SRS0=abcd=XY=example.com=bounce@forwarder.net"));
  ASSERT_EQ(b.dkim.size(), 1u);
  EXPECT_EQ(b.dkim[0].result, dkim::result::fail);
  EXPECT_EQ(b.dmarc.result, result::fail);
  EXPECT_EQ(b.dmarc.disposition, policy::reject);
}

TEST_F(authenticate_test, nothing_published_is_none_everywhere) {
  const std::string msg = "From: x@nothing.example\r\nSubject: s\r\n\r\nbody\r\n";
  const auto a =
      authenticate(zone, msg, params("192.0.2.1", "host.nothing.example", "x@nothing.example"));
  EXPECT_EQ(a.spf.result, spf::result::none);
  EXPECT_TRUE(a.dkim.empty());
  EXPECT_EQ(a.dmarc.result, result::none);
  EXPECT_NE(a.header.find("\tspf=none"), std::string::npos);
  EXPECT_NE(a.header.find("\tdmarc=none"), std::string::npos);
  EXPECT_NE(a.header.find("header.from=nothing.example\r\n"), std::string::npos) << a.header;
}

TEST_F(authenticate_test, temporary_dns_failures_are_temperror) {
  zone.fail("example.com", dns::rtype::txt);
  zone.fail("sel._domainkey.example.com", dns::rtype::txt);
  const std::string msg = signed_by(body_message, "example.com");
  const auto a =
      authenticate(zone, msg, params("192.0.2.10", "mail.example.com", "bounce@example.com"));
  EXPECT_EQ(a.spf.result, spf::result::temperror);
  ASSERT_EQ(a.dkim.size(), 1u);
  EXPECT_EQ(a.dkim[0].result, dkim::result::temperror);
  // An aligned identifier that could have passed: DMARC cannot decide either.
  EXPECT_EQ(a.dmarc.result, result::temperror);
  EXPECT_NE(a.header.find("\tspf=temperror"), std::string::npos);
  EXPECT_NE(a.header.find("\tdkim=temperror"), std::string::npos);
  EXPECT_NE(a.header.find("\tdmarc=temperror"), std::string::npos);
}

TEST_F(authenticate_test, dmarc_discovery_failure_with_spf_and_dkim_pass) {
  zone.fail("_dmarc.example.com", dns::rtype::txt);
  const std::string msg = signed_by(body_message, "example.com");
  const auto a =
      authenticate(zone, msg, params("192.0.2.10", "mail.example.com", "bounce@example.com"));
  EXPECT_EQ(a.spf.result, spf::result::pass);
  EXPECT_EQ(a.dkim.at(0).result, dkim::result::pass);
  EXPECT_EQ(a.dmarc.result, result::temperror);
}

TEST_F(authenticate_test, no_from_field) {
  const std::string msg = "To: bob@example.net\r\nSubject: anonymous\r\n\r\nbody\r\n";
  const auto a =
      authenticate(zone, msg, params("192.0.2.10", "mail.example.com", "bounce@example.com"));
  EXPECT_EQ(a.spf.result, spf::result::pass);
  EXPECT_EQ(a.from_fields, 0u);
  EXPECT_TRUE(a.from_domains.empty());
  EXPECT_EQ(a.dmarc.result, result::none);
  EXPECT_EQ(a.dmarc.problem, "no RFC5322.From domain");
  EXPECT_NE(a.header.find("\tdmarc=none (no RFC5322.From domain)\r\n"), std::string::npos)
      << a.header;
}

TEST_F(authenticate_test, two_from_fields_strictest_failing_policy_wins) {
  const std::string msg = "From: a@lax.example\r\nFrom: b@strict.example\r\n"
                          "Subject: two\r\n\r\nbody\r\n";
  const auto a =
      authenticate(zone, msg, params("192.0.2.10", "mail.example.com", "bounce@example.com"));
  EXPECT_EQ(a.from_fields, 2u);
  EXPECT_EQ(a.from_domains, (std::vector<std::string>{"lax.example", "strict.example"}));
  EXPECT_EQ(a.dmarc.result, result::fail);
  EXPECT_EQ(a.dmarc.from_domain, "strict.example");
  EXPECT_EQ(a.dmarc.disposition, policy::quarantine);

  // One field, two mailboxes of one domain (in different case): one domain, checked once.
  const std::string one = "From: a@Example.com, b@example.COM\r\n\r\nbody\r\n";
  const auto b =
      authenticate(zone, one, params("192.0.2.10", "mail.example.com", "bounce@example.com"));
  EXPECT_EQ(b.from_fields, 1u);
  EXPECT_EQ(b.from_domains, std::vector<std::string>{"example.com"});
  EXPECT_EQ(b.dmarc.result, result::pass);
}

TEST_F(authenticate_test, null_reverse_path_checks_the_helo_identity) {
  const auto a = authenticate(zone, body_message, params("192.0.2.25", "mail.example.com", ""));
  EXPECT_EQ(a.spf_params.id, spf::identity::helo);
  EXPECT_EQ(a.spf_params.sender, "postmaster@mail.example.com");
  EXPECT_EQ(a.spf.result, spf::result::pass);
  EXPECT_NE(a.header.find("\tspf=pass smtp.helo=mail.example.com;\r\n"), std::string::npos)
      << a.header;
  // RFC 7489 §3.1.2 relaxed: mail.example.com is aligned with example.com.
  EXPECT_EQ(a.dmarc.result, result::pass);
  EXPECT_TRUE(a.dmarc.spf_aligned);

  const auto b = authenticate(zone, body_message, params("192.0.2.26", "mail.example.com", "<>"));
  EXPECT_EQ(b.spf.result, spf::result::fail);
  EXPECT_EQ(b.dmarc.result, result::fail);
}

TEST_F(authenticate_test, async_matches_sync_and_parsed_overload) {
  const std::string msg = signed_by(body_message, "example.com");
  const auto p = params("198.51.100.7", "mx.forwarder.net", "bounce@forwarder.net");
  const auto sync = authenticate(zone, msg, p);
  std::optional<authentication> async;
  int calls = 0;
  async_authenticate(zone, msg, p, [&](authentication a) {
    ++calls;
    async = std::move(a);
  });
  ASSERT_EQ(calls, 1); // static_resolver answers inline
  ASSERT_TRUE(async);
  EXPECT_EQ(async->header, sync.header);
  EXPECT_EQ(async->dmarc.result, result::pass);

  auto parsed = mime::parse(msg);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(authenticate(zone, *parsed, p).header, sync.header);

  // Async with no From and nothing to verify completes too.
  int none_calls = 0;
  async_authenticate(zone, "Subject: x\r\n\r\n", p, [&](authentication a) {
    ++none_calls;
    EXPECT_EQ(a.dmarc.result, result::none);
    EXPECT_TRUE(a.dkim.empty());
  });
  EXPECT_EQ(none_calls, 1);
}

TEST_F(authenticate_test, values_are_quoted_where_needed) {
  auto p = params("192.0.2.10", "mail.example.com", "bounce@example.com");
  p.authserv_id = "mx (primary)";
  const auto a = authenticate(zone, body_message, p);
  EXPECT_EQ(a.header.rfind("Authentication-Results: \"mx (primary)\";\r\n", 0), 0u) << a.header;

  // A From domain that is no domain name asks no DMARC question.
  const auto b = authenticate(zone, "From: x@[192.0.2.1]\r\n\r\n", p);
  EXPECT_EQ(b.from_fields, 1u);
  EXPECT_TRUE(b.from_domains.empty());
  EXPECT_EQ(b.dmarc.result, result::none);

  check_result r;
  r.result = result::none;
  r.from_domain = "a;b";
  EXPECT_EQ(authentication_results_part(r), "dmarc=none header.from=\"a;b\"");
}

TEST_F(authenticate_test, lf_line_endings) {
  std::string lf;
  for (char c : signed_by(body_message, "example.com"))
    if (c != '\r') lf.push_back(c);
  const auto a =
      authenticate(zone, lf, params("192.0.2.10", "mail.example.com", "bounce@example.com"));
  EXPECT_EQ(a.from_domains, std::vector<std::string>{"example.com"});
  ASSERT_EQ(a.dkim.size(), 1u);
  EXPECT_EQ(a.dkim[0].result, dkim::result::pass) << a.dkim[0].reason;
  EXPECT_EQ(a.dmarc.result, result::pass);
}

} // namespace
} // namespace mailkit::dmarc
