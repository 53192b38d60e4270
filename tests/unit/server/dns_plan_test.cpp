// SPDX-License-Identifier: Apache-2.0
// The DNS plan and check (server/dns_plan.hpp) over an in-memory zone: a zone built from the
// plan checks clean; each record broken in turn gives the matching error.
#include <mailkit/dkim/keys.hpp>
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/server/dns_plan.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

namespace dns = mailkit::dns;
namespace server = mailkit::server;
using server::check_level;

namespace {

server::dns_settings settings(const std::string& dkim_txt) {
  server::dns_settings s;
  s.domain = "example.com";
  s.mail_host = "mail.example.com";
  s.ipv4 = {"192.0.2.25"};
  s.ipv6 = {"2001:db8::25"};
  s.relay = "oci:eu-frankfurt-1";
  s.relay_dkim_selector = "oci1";
  s.dkim = {{"mk202612", dkim_txt}};
  s.dmarc_policy = "quarantine";
  s.mta_sts_mode = "enforce";
  return s;
}

const std::string& key_txt() {
  static const std::string txt =
      mailkit::dkim::private_key::generate(mailkit::dkim::key_type::ed25519).value().dns_txt();
  return txt;
}

// Publish every record of the plan, plus what a correct world has beyond the zone (PTR, the
// relay's SPF include, the CNAME targets' addresses, an empty DNSBL).
void publish(dns::static_resolver& z, const server::dns_plan& p,
             const std::function<bool(const server::planned_record&)>& skip = {}) {
  for (const auto& r : p.records) {
    if (skip && skip(r)) continue;
    auto t = dns::parse_rtype(r.type);
    ASSERT_TRUE(t) << r.type;
    ASSERT_TRUE(z.add(r.name, *t, r.value)) << r.name << " " << r.type << " " << r.value;
  }
  ASSERT_TRUE(z.add("25.2.0.192.in-addr.arpa", dns::rtype::ptr, "mail.example.com"));
  ASSERT_TRUE(z.add(dns::reverse_name(*dns::parse_ipv6("2001:db8::25")), dns::rtype::ptr,
                    "mail.example.com"));
  ASSERT_TRUE(
      z.add("eu.rp.oracleemaildelivery.com", dns::rtype::txt, "v=spf1 ip4:198.51.100.0/24 -all"));
  ASSERT_TRUE(z.add("example.com", dns::rtype::soa,
                    "ns.example.com hostmaster.example.com 1 3600 600 86400 300"));
  z.set_authenticated("example.com");
}

std::string policy_of(const server::dns_plan& p) {
  return p.mta_sts_policy;
}

server::check_options options(const server::dns_plan& p) {
  server::check_options o;
  o.fetch_mta_sts = [body =
                         policy_of(p)](std::string_view) -> tl::expected<std::string, std::string> {
    return body;
  };
  o.dnsbl_zones = {"zen.spamhaus.org"};
  o.approved_senders = {"alice@example.com"};
  return o;
}

std::vector<server::check_item> of_level(const server::check_report& r, check_level l) {
  std::vector<server::check_item> out;
  std::copy_if(r.items.begin(), r.items.end(), std::back_inserter(out),
               [l](const server::check_item& i) { return i.level == l; });
  return out;
}

bool has_error(const server::check_report& r, const std::string& section,
               const std::string& fragment) {
  return std::any_of(r.items.begin(), r.items.end(), [&](const server::check_item& i) {
    return i.level == check_level::error && i.section == section &&
           i.message.find(fragment) != std::string::npos;
  });
}

} // namespace

TEST(server_dns_plan, records_for_a_relay_setup) {
  const auto p = server::plan_dns(settings(key_txt()));
  ASSERT_TRUE(p) << p.error();
  auto find = [&](const std::string& name, const std::string& type) -> std::string {
    for (const auto& r : p->records)
      if (r.name == name && r.type == type) return r.value;
    return "<none>";
  };
  EXPECT_EQ(find("example.com", "MX"), "10 mail.example.com");
  EXPECT_EQ(find("mail.example.com", "A"), "192.0.2.25");
  // Relay only: the host's addresses are not in SPF, the relay's include is; DMARC enforced: -all.
  EXPECT_EQ(find("example.com", "TXT"), "v=spf1 include:eu.rp.oracleemaildelivery.com -all");
  EXPECT_EQ(find("mk202612._domainkey.example.com", "TXT"), key_txt());
  EXPECT_EQ(find("oci1._domainkey.example.com", "CNAME"),
            "oci1.example.com.dkim.fra.oracleemaildelivery.com");
  EXPECT_EQ(find("_dmarc.example.com", "TXT"),
            "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com; adkim=r; aspf=r");
  EXPECT_EQ(find("_smtp._tls.example.com", "TXT"),
            "v=TLSRPTv1; rua=mailto:dmarc-reports@example.com");
  EXPECT_EQ(find("example.com", "CAA"), "0 issue \"letsencrypt.org\"");
  EXPECT_EQ(find("_submissions._tcp.example.com", "SRV"), "0 1 465 mail.example.com");
  EXPECT_EQ(p->mta_sts_policy, "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: "
                               "604800\n");
  EXPECT_EQ(find("_mta-sts.example.com", "TXT").rfind("v=STSv1; id=", 0), 0u);
  // The PTR, approved senders, DNSSEC and BIMI are instructions.
  const auto& ins = p->instructions;
  EXPECT_TRUE(std::any_of(ins.begin(), ins.end(), [](const std::string& i) {
    return i.find("PTR") != std::string::npos && i.find("192.0.2.25") != std::string::npos;
  }));
  EXPECT_TRUE(std::any_of(ins.begin(), ins.end(), [](const std::string& i) {
    return i.find("approved sender") != std::string::npos;
  }));
  // The zone file quotes TXT values, makes host names absolute and names relative.
  const std::string zone = server::to_zone_file(*p);
  EXPECT_NE(zone.find("$ORIGIN example.com."), std::string::npos);
  EXPECT_NE(zone.find("@\tIN\tMX\t10 mail.example.com."), std::string::npos);
  EXPECT_NE(zone.find("_dmarc\tIN\tTXT\t\"v=DMARC1; p=quarantine;"), std::string::npos);
  EXPECT_NE(server::to_json(*p).find("\"section\":\"mx\""), std::string::npos);
  EXPECT_NE(server::to_table(*p).find("mta-sts.example.com"), std::string::npos);
}

TEST(server_dns_plan, direct_delivery_and_bad_settings) {
  auto s = settings(key_txt());
  s.relay.clear();
  s.dmarc_policy = "none";
  const auto p = server::plan_dns(s);
  ASSERT_TRUE(p);
  bool spf = false, helo = false;
  for (const auto& r : p->records) {
    if (r.name == "example.com" && r.type == "TXT") {
      EXPECT_EQ(r.value, "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all");
      spf = true;
    }
    if (r.name == "mail.example.com" && r.type == "TXT") helo = true;
  }
  EXPECT_TRUE(spf);
  EXPECT_TRUE(helo);
  // The policy id follows the policy: another mode, another id.
  auto s2 = s;
  s2.mta_sts_mode = "testing";
  auto id = [](const server::dns_plan& x) {
    for (const auto& r : x.records)
      if (r.name == "_mta-sts.example.com") return r.value;
    return std::string();
  };
  EXPECT_NE(id(*p), id(*server::plan_dns(s2)));
  EXPECT_EQ(id(*p), id(*server::plan_dns(s)));

  for (auto bad : std::vector<std::function<void(server::dns_settings&)>>{
           [](auto& x) { x.domain = ""; }, [](auto& x) { x.domain = "localhost"; },
           [](auto& x) { x.relay = "nosuchrelay"; }, [](auto& x) { x.ipv4 = {"192.0.2"}; },
           [](auto& x) { x.dmarc_policy = "block"; }, [](auto& x) { x.mta_sts_mode = "on"; },
           [](auto& x) { x.mta_sts_max_age = 0; }}) {
    auto b = settings(key_txt());
    bad(b);
    EXPECT_FALSE(server::plan_dns(b));
  }
}

TEST(server_dns_check, a_zone_from_the_plan_is_clean) {
  const auto s = settings(key_txt());
  const auto p = server::plan_dns(s).value();
  dns::static_resolver z;
  publish(z, p);
  const auto r = server::check_dns(z, s, options(p));
  EXPECT_TRUE(r.ok()) << server::to_text(r);
  EXPECT_TRUE(of_level(r, check_level::warning).empty()) << server::to_text(r);
  for (const char* section : {"mx", "a", "ptr", "spf", "dkim", "dmarc", "mta-sts", "tls-rpt", "caa",
                              "dnssec", "srv", "dnsbl", "relay"})
    EXPECT_TRUE(std::any_of(
        r.items.begin(), r.items.end(),
        [&](const auto& i) { return i.section == section && i.level == check_level::ok; }))
        << section << "\n"
        << server::to_text(r);
  EXPECT_NE(server::to_json(r).find("\"errors\":0"), std::string::npos);
}

TEST(server_dns_check, each_broken_record_gives_its_error) {
  const auto s = settings(key_txt());
  const auto p = server::plan_dns(s).value();
  struct breakage {
    const char* what;
    std::function<bool(const server::planned_record&)> skip;
    std::function<void(dns::static_resolver&)> extra;
    const char* section;
    const char* fragment;
  };
  const auto other_key =
      mailkit::dkim::private_key::generate(mailkit::dkim::key_type::ed25519).value().dns_txt();
  const std::vector<breakage> cases = {
      {"no MX", [](auto& r) { return r.type == "MX"; }, {}, "mx", "no MX record"},
      {"MX elsewhere", [](auto& r) { return r.type == "MX"; },
       [](auto& z) {
         (void)z.add("example.com", dns::rtype::mx, "10 mx.elsewhere.example");
         (void)z.add("mx.elsewhere.example", dns::rtype::a, "198.51.100.1");
       },
       "mx", "not to mail.example.com"},
      {"null MX", [](auto& r) { return r.type == "MX"; },
       [](auto& z) { (void)z.add("example.com", dns::rtype::mx, "0 ."); }, "mx", "null MX"},
      {"no A", [](auto& r) { return r.type == "A"; }, {}, "a", "no A record 192.0.2.25"},
      {"A elsewhere", [](auto& r) { return r.type == "A"; },
       [](auto& z) { (void)z.add("mail.example.com", dns::rtype::a, "192.0.2.99"); }, "a",
       "no A record 192.0.2.25"},
      {"no SPF", [](auto& r) { return r.section == "spf"; }, {}, "spf", "no SPF record"},
      {"two SPF",
       {},
       [](auto& z) { (void)z.add("example.com", dns::rtype::txt, "v=spf1 -all"); },
       "spf",
       "2 SPF records"},
      {"SPF without the relay", [](auto& r) { return r.section == "spf"; },
       [](auto& z) { (void)z.add("example.com", dns::rtype::txt, "v=spf1 mx -all"); }, "spf",
       "lacks include:eu.rp.oracleemaildelivery.com"},
      {"SPF over 10 lookups", [](auto& r) { return r.section == "spf"; },
       [](auto& z) {
         (void)z.add("example.com", dns::rtype::txt,
                     "v=spf1 a:a1.example.com a:a2.example.com a:a3.example.com "
                     "a:a4.example.com a:a5.example.com a:a6.example.com a:a7.example.com "
                     "a:a8.example.com a:a9.example.com a:a10.example.com a:a11.example.com "
                     "include:eu.rp.oracleemaildelivery.com -all");
         for (int i = 1; i <= 11; ++i)
           (void)z.add("a" + std::to_string(i) + ".example.com", dns::rtype::a, "198.51.100.9");
       },
       "spf", "evaluating the SPF record fails"},
      {"DKIM missing",
       [](auto& r) { return r.name.rfind("mk202612.", 0) == 0; },
       {},
       "dkim",
       "no DKIM key at mk202612._domainkey.example.com"},
      {"DKIM other key", [](auto& r) { return r.name.rfind("mk202612.", 0) == 0; },
       [&](auto& z) { (void)z.add("mk202612._domainkey.example.com", dns::rtype::txt, other_key); },
       "dkim", "is not ours"},
      {"relay DKIM CNAME missing",
       [](auto& r) { return r.name.rfind("oci1.", 0) == 0; },
       {},
       "dkim",
       "oci1._domainkey.example.com has no CNAME"},
      {"no DMARC", [](auto& r) { return r.section == "dmarc"; }, {}, "dmarc", "no DMARC record"},
      {"bad DMARC", [](auto& r) { return r.section == "dmarc"; },
       [](auto& z) { (void)z.add("_dmarc.example.com", dns::rtype::txt, "v=DMARC1; p=bogus"); },
       "dmarc", "invalid"},
      {"no aligned path",
       [](auto& r) { return r.section == "dkim"; },
       {},
       "dmarc",
       "no aligned path"},
      {"bad MTA-STS TXT", [](auto& r) { return r.name == "_mta-sts.example.com"; },
       [](auto& z) { (void)z.add("_mta-sts.example.com", dns::rtype::txt, "v=STSv1; id=bad id!"); },
       "mta-sts", "invalid"},
      {"CAA for another CA", [](auto& r) { return r.type == "CAA"; },
       [](auto& z) { (void)z.add("example.com", dns::rtype::caa, "0 issue \"other-ca.example\""); },
       "caa", "does not allow letsencrypt.org"},
      {"no PTR",
       {},
       [](auto& z) { z.erase("25.2.0.192.in-addr.arpa"); },
       "ptr",
       "192.0.2.25 has no PTR"},
      {"PTR not confirmed",
       {},
       [](auto& z) {
         z.erase("25.2.0.192.in-addr.arpa");
         (void)z.add("25.2.0.192.in-addr.arpa", dns::rtype::ptr, "host.other.example");
       },
       "ptr",
       "does not resolve back"},
      {"listed in a DNSBL",
       {},
       [](auto& z) { (void)z.add("25.2.0.192.zen.spamhaus.org", dns::rtype::a, "127.0.0.2"); },
       "dnsbl",
       "is listed in zen.spamhaus.org"},
  };
  for (const auto& c : cases) {
    dns::static_resolver z;
    publish(z, p, c.skip);
    if (c.extra) c.extra(z);
    const auto r = server::check_dns(z, s, options(p));
    EXPECT_TRUE(has_error(r, c.section, c.fragment)) << c.what << "\n" << server::to_text(r);
  }
}

TEST(server_dns_check, warnings_and_refusals) {
  const auto s = settings(key_txt());
  const auto p = server::plan_dns(s).value();
  dns::static_resolver z;
  publish(z, p, [](auto& r) { return r.section == "tls-rpt"; });
  // Spamhaus answers 127.255.255.254 to queries through public resolvers: not a listing.
  (void)z.add("25.2.0.192.zen.spamhaus.org", dns::rtype::a, "127.255.255.254");
  z.set_authenticated("example.com", false);
  auto o = options(p);
  o.fetch_mta_sts = [](std::string_view) -> tl::expected<std::string, std::string> {
    return "version: STSv1\nmode: enforce\nmx: other.example.net\nmax_age: 86400\n";
  };
  const auto r = server::check_dns(z, s, o);
  auto warned = [&](const std::string& section) {
    return std::any_of(r.items.begin(), r.items.end(), [&](const auto& i) {
      return i.section == section && i.level == check_level::warning;
    });
  };
  EXPECT_TRUE(warned("tls-rpt")) << server::to_text(r);
  EXPECT_TRUE(warned("dnsbl")) << server::to_text(r);
  EXPECT_TRUE(warned("dnssec")) << server::to_text(r);
  EXPECT_FALSE(has_error(r, "dnsbl", "listed")) << server::to_text(r);
  EXPECT_TRUE(has_error(r, "mta-sts", "do not match the MX mail.example.com"))
      << server::to_text(r);
  EXPECT_EQ(server::classify_dnsbl("zen.spamhaus.org", dns::ipv4{{127, 0, 0, 4}}),
            server::dnsbl_answer::listed);
  EXPECT_EQ(server::classify_dnsbl("zen.spamhaus.org", dns::ipv4{{127, 255, 255, 255}}),
            server::dnsbl_answer::refused);
}

TEST(server_dns_check, dns_failure_is_an_error_not_a_pass) {
  const auto s = settings(key_txt());
  const auto p = server::plan_dns(s).value();
  dns::static_resolver z;
  publish(z, p);
  z.fail("_dmarc.example.com", dns::rtype::txt, dns::errc::servfail);
  const auto r = server::check_dns(z, s, options(p));
  EXPECT_TRUE(has_error(r, "dmarc", "query for _dmarc.example.com failed")) << server::to_text(r);
}
