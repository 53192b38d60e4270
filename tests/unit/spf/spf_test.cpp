// SPDX-License-Identifier: Apache-2.0
// Unit tests of the SPF module beyond the conformance suites: macro expansion (RFC 7208 §7
// examples), record syntax, the sans-I/O evaluator and its async driver, limits, and the
// Received-SPF / Authentication-Results output.
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/spf/spf.hpp>

#include <gtest/gtest.h>

#include <deque>

using namespace mailkit;

namespace {

spf::macro_values rfc_values() {
  // RFC 7208 §7.4 examples: <sender> strong-bad@email.example.com, <ip> 192.0.2.3.
  spf::macro_values v;
  v.s = "strong-bad@email.example.com";
  v.l = "strong-bad";
  v.o = "email.example.com";
  v.d = "email.example.com";
  v.i = "192.0.2.3";
  v.v = "in-addr";
  v.h = "mx.example.org";
  v.c = "192.0.2.3";
  v.p = "mx.example.org";
  return v;
}

std::string expand(std::string_view s, spf::macro_context ctx = spf::macro_context::domain) {
  auto r = spf::expand_macro(s, rfc_values(), ctx);
  return r ? *r : "ERROR: " + r.error();
}

spf::ip_address ip(std::string_view s) {
  return *spf::parse_ip(s);
}

} // namespace

TEST(SpfMacro, Rfc7208Section74Examples) {
  EXPECT_EQ(expand("%{s}"), "strong-bad@email.example.com");
  EXPECT_EQ(expand("%{o}"), "email.example.com");
  EXPECT_EQ(expand("%{d}"), "email.example.com");
  EXPECT_EQ(expand("%{d4}"), "email.example.com");
  EXPECT_EQ(expand("%{d3}"), "email.example.com");
  EXPECT_EQ(expand("%{d2}"), "example.com");
  EXPECT_EQ(expand("%{d1}"), "com");
  EXPECT_EQ(expand("%{dr}"), "com.example.email");
  EXPECT_EQ(expand("%{d2r}"), "example.email");
  EXPECT_EQ(expand("%{l}"), "strong-bad");
  EXPECT_EQ(expand("%{l-}"), "strong.bad");
  EXPECT_EQ(expand("%{lr}"), "strong-bad");
  EXPECT_EQ(expand("%{lr-}"), "bad.strong");
  EXPECT_EQ(expand("%{l1r-}"), "strong");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}"), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}"),
            "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{d2}.trusted-domains.example.net"), "example.com.trusted-domains.example.net");
}

TEST(SpfMacro, EscapesAndUrlEncoding) {
  EXPECT_EQ(expand("a%%b%_c%-d.example.com"), "a%b c%20d.example.com");
  // RFC 7208 §7.3: upper-case letters are URL-escaped.
  EXPECT_EQ(expand("%{S}", spf::macro_context::explanation), "strong-bad%40email.example.com");
  EXPECT_EQ(expand("%{c} %{r}", spf::macro_context::explanation), "192.0.2.3 unknown");
}

TEST(SpfMacro, SyntaxErrors) {
  // RFC 7208 §7.1: "%" must start a macro; §7.4: c, r, t only in explanations; §7.3: DIGIT > 0.
  for (auto bad : {"%", "a%b", "%{", "%{d", "%{x}", "%{c}", "%{r}", "%{t}", "%{d0}", "%{d2q}"})
    EXPECT_FALSE(spf::check_macro_string(bad, spf::macro_context::domain).empty()) << bad;
  EXPECT_TRUE(spf::check_macro_string("%{c}", spf::macro_context::explanation).empty());
  EXPECT_TRUE(spf::uses_macro("x.%{p2}.y", 'p'));
  EXPECT_FALSE(spf::uses_macro("%%{p}", 'p'));
}

TEST(SpfMacro, TruncatesLongDomains) {
  // RFC 7208 §7.3: labels are removed from the left until 253 octets fit.
  std::string long_label(60, 'a');
  std::string spec;
  for (int i = 0; i < 5; ++i)
    spec += long_label + ".";
  spec += "example.com";
  const std::string out = expand(spec);
  EXPECT_LE(out.size(), 253u);
  EXPECT_EQ(out.substr(out.size() - 11), "example.com");
}

TEST(SpfRecord, ParsesEveryMechanismAndModifier) {
  auto r = spf::parse_record(
      "v=spf1 +all -include:a.example ~a ?a:b.example/24//64 mx mx:c.example/16 ptr "
      "ptr:d.example ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.e.example "
      "redirect=f.example exp=g.example other=thing");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->mechanisms.size(), 11u);
  EXPECT_EQ(r->mechanisms[1].qual, spf::qualifier::fail);
  EXPECT_EQ(r->mechanisms[3].cidr4, 24);
  EXPECT_EQ(r->mechanisms[3].cidr6, 64);
  EXPECT_EQ(r->mechanisms[3].domain_spec, "b.example");
  EXPECT_EQ(r->mechanisms[8].network[0], 192);
  EXPECT_EQ(*r->redirect, "f.example");
  EXPECT_EQ(*r->exp, "g.example");
  ASSERT_EQ(r->unknown_modifiers.size(), 1u);
  EXPECT_TRUE(r->has_all);
}

TEST(SpfRecord, SyntaxErrorsArePermerrors) {
  // Each is a permerror under RFC 7208 §4.6 / §5 / §6 / §12 ABNF.
  for (auto bad : {"v=spf1 foo", "v=spf1 all:x", "v=spf1 ip4:1.2.3", "v=spf1 ip4:1.2.3.4/33",
                   "v=spf1 ip4:01.2.3.4", "v=spf1 ip6:1::/129", "v=spf1 a:foo", "v=spf1 a/",
                   "v=spf1 include", "v=spf1 exists", "v=spf1 ptr/24",
                   "v=spf1 redirect=a.com "
                   "redirect=b.com",
                   "v=spf1 exp=", "v=spf1 a:b.com\t-all", "v=spf1 -a:é.com", "v=spf1 mx/24/64",
                   "v=spf1 =all", "v=spf1 x=%"})
    EXPECT_FALSE(spf::parse_record(bad)) << bad;
  EXPECT_TRUE(spf::parse_record("v=spf1"));
  EXPECT_TRUE(spf::parse_record("v=spf1   -all   "));
  EXPECT_FALSE(spf::is_spf_record("v=spf10 -all"));
  EXPECT_TRUE(spf::is_spf_record("V=SPF1 -all"));
}

TEST(SpfEvaluator, AsksQuestionsOneAtATime) {
  spf::evaluator ev(spf::check_params::mail_from(ip("192.0.2.10"), "a@example.com", "h"));
  const spf::question* q = ev.next();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->name, "example.com");
  EXPECT_EQ(q->type, dns::rtype::txt);
  dns::answer a;
  a.name = "example.com";
  a.type = dns::rtype::txt;
  a.records.push_back({dns::txt{{"v=spf1 a:mail.example.com -all"}}, 300});
  ev.feed(a);
  q = ev.next();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->name, "mail.example.com");
  EXPECT_EQ(q->type, dns::rtype::a);
  dns::answer b;
  b.name = "mail.example.com";
  b.type = dns::rtype::a;
  b.records.push_back({dns::ipv4{{192, 0, 2, 10}}, 300});
  ev.feed(b);
  EXPECT_EQ(ev.next(), nullptr);
  EXPECT_TRUE(ev.done());
  EXPECT_EQ(ev.result().result, spf::result::pass);
  EXPECT_EQ(ev.result().mechanism, "a:mail.example.com");
  EXPECT_EQ(ev.result().dns_lookups, 1u);
  EXPECT_EQ(ev.result().queries, 2u);
}

namespace {

// A resolver that completes later, from a queue: the async driver must not need inline answers.
class deferred_resolver final : public dns::resolver {
public:
  explicit deferred_resolver(dns::static_resolver& z) : zone_(z) {}
  void async_query(std::string_view name, dns::rtype type, dns::query_handler h) override {
    pending_.emplace_back(zone_.lookup(name, type), std::move(h));
  }
  bool run_one() {
    if (pending_.empty()) return false;
    auto [r, h] = std::move(pending_.front());
    pending_.pop_front();
    h(std::move(r));
    return true;
  }

private:
  dns::static_resolver& zone_;
  std::deque<std::pair<dns::query_result, dns::query_handler>> pending_;
};

} // namespace

TEST(SpfAsync, InlineAndDeferredResolversAgree) {
  dns::static_resolver zone;
  zone.add("example.com", dns::rtype::txt, dns::txt{{"v=spf1 include:_spf.example.com ~all"}});
  zone.add("_spf.example.com", dns::rtype::txt, dns::txt{{"v=spf1 mx:example.com -all"}});
  zone.add("example.com", dns::rtype::mx, dns::mx{10, "mx.example.com"});
  zone.add("mx.example.com", dns::rtype::aaaa, *dns::parse_ipv6("2001:db8::25"));
  auto p = spf::check_params::mail_from(ip("2001:db8::25"), "x@example.com", "h");
  std::optional<spf::check_result> inline_res;
  spf::async_check_host(zone, p, [&](spf::check_result r) { inline_res = std::move(r); });
  ASSERT_TRUE(inline_res);
  EXPECT_EQ(inline_res->result, spf::result::pass);

  deferred_resolver later(zone);
  std::optional<spf::check_result> later_res;
  spf::async_check_host(later, p, [&](spf::check_result r) { later_res = std::move(r); });
  EXPECT_FALSE(later_res);
  while (later.run_one()) {
  }
  ASSERT_TRUE(later_res);
  EXPECT_EQ(later_res->result, spf::result::pass);
  EXPECT_EQ(later_res->mechanism, "include:_spf.example.com");
}

TEST(SpfLimits, TenTermsAndTwoVoids) {
  // RFC 7208 §4.6.4.
  dns::static_resolver zone;
  std::string rec = "v=spf1";
  for (int i = 0; i < 11; ++i)
    rec += " a:h" + std::to_string(i) + ".example.com";
  zone.add("example.com", dns::rtype::txt, dns::txt{{rec + " -all"}});
  for (int i = 0; i < 11; ++i)
    zone.add("h" + std::to_string(i) + ".example.com", dns::rtype::a, dns::ipv4{{192, 0, 2, 1}});
  auto r =
      spf::check_host(zone, spf::check_params::mail_from(ip("198.51.100.1"), "a@example.com", "h"));
  EXPECT_EQ(r.result, spf::result::permerror);
  EXPECT_EQ(r.dns_lookups, 11u);

  spf::check_params p = spf::check_params::mail_from(ip("198.51.100.1"), "a@example.com", "h");
  p.limits.dns_terms = 20;
  EXPECT_EQ(spf::check_host(zone, p).result, spf::result::fail);

  dns::static_resolver voids;
  voids.add("example.org", dns::rtype::txt,
            dns::txt{{"v=spf1 a:n1.example.org a:n2.example.org a:n3.example.org -all"}});
  auto v = spf::check_host(voids,
                           spf::check_params::mail_from(ip("198.51.100.1"), "a@example.org", "h"));
  EXPECT_EQ(v.result, spf::result::permerror);
  EXPECT_EQ(v.void_lookups, 3u);
}

TEST(SpfOutput, ReceivedSpfAndAuthenticationResults) {
  dns::static_resolver zone;
  zone.add("example.com", dns::rtype::txt, dns::txt{{"v=spf1 ip4:192.0.2.0/24 -all"}});
  auto p = spf::check_params::mail_from(ip("192.0.2.1"), "myname@example.com", "foo.example.com");
  p.receiver = "mybox.example.org";
  auto r = spf::check_host(zone, p);
  // RFC 7208 §9.1 example shape.
  EXPECT_EQ(spf::received_spf(r, p),
            "Received-SPF: pass (mybox.example.org: domain of myname@example.com designates "
            "192.0.2.1 as permitted sender) client-ip=192.0.2.1; "
            "envelope-from=\"myname@example.com\"; helo=foo.example.com; "
            "receiver=mybox.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";");
  EXPECT_EQ(spf::authentication_results_part(r, p), "spf=pass smtp.mailfrom=example.com");
  // A problem cannot break out of the comment or the quoted value.
  spf::check_result bad;
  bad.result = spf::result::permerror;
  bad.problem = "x) y\"\r\nInjected: 1";
  const auto h = spf::received_spf(bad, p);
  EXPECT_EQ(h.find('\n'), std::string::npos);
  EXPECT_NE(h.find("problem=\"x) y\\\"Injected: 1\";"), std::string::npos);
}

TEST(SpfParams, Identities) {
  auto m = spf::check_params::mail_from(ip("::ffff:192.0.2.1"), "", "helo.example.com");
  EXPECT_EQ(m.sender, "postmaster@helo.example.com"); // RFC 7208 §2.4
  EXPECT_EQ(m.domain, "helo.example.com");
  EXPECT_TRUE(std::holds_alternative<dns::ipv4>(m.ip)); // RFC 7208 §5: mapped is IPv4
  auto h = spf::check_params::helo_identity(ip("2001:db8::1"), "helo.example.com");
  EXPECT_EQ(h.id, spf::identity::helo);
  EXPECT_EQ(spf::to_string(h.ip), "2001:db8::1");
}
