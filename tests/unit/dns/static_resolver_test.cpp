// SPDX-License-Identifier: Apache-2.0
#include <mailkit/dns/static_resolver.hpp>

#include <gtest/gtest.h>

namespace dns = mailkit::dns;

namespace {

dns::static_resolver zone() {
  dns::static_resolver z;
  EXPECT_TRUE(z.add("example.com", dns::rtype::soa,
                    "ns.example.com hostmaster.example.com 1 3600 600 86400 120", 3600));
  EXPECT_TRUE(z.add("example.com", dns::rtype::a, "192.0.2.1", 600));
  EXPECT_TRUE(z.add("example.com", dns::rtype::aaaa, "2001:db8::1"));
  EXPECT_TRUE(z.add("example.com", dns::rtype::mx, "20 mx2.example.com."));
  EXPECT_TRUE(z.add("example.com", dns::rtype::mx, "10 mx1.example.com"));
  EXPECT_TRUE(z.add("example.com", dns::rtype::txt, "v=spf1 ip4:192.0.2.0/24 -all"));
  EXPECT_TRUE(z.add("example.com", dns::rtype::ns, "ns.example.com"));
  EXPECT_TRUE(z.add("nullmx.example.com", dns::rtype::mx, "0 ."));
  EXPECT_TRUE(z.add("www.example.com", dns::rtype::cname, "web.example.com", 100));
  EXPECT_TRUE(z.add("web.example.com", dns::rtype::a, "192.0.2.80", 50));
  EXPECT_TRUE(z.add("_dmarc.example.com", dns::rtype::txt, "v=DMARC1; p=reject"));
  EXPECT_TRUE(z.add("a.b.deep.example.com", dns::rtype::a, "192.0.2.2"));
  EXPECT_TRUE(z.add("*.wild.example.com", dns::rtype::a, "192.0.2.99"));
  EXPECT_TRUE(z.add("own.wild.example.com", dns::rtype::txt, "mine"));
  EXPECT_TRUE(z.add("1.2.0.192.in-addr.arpa", dns::rtype::ptr, "host.example.com"));
  EXPECT_TRUE(z.add("_25._tcp.mx1.example.com", dns::rtype::tlsa, "3 1 1 0aFF"));
  EXPECT_TRUE(z.add("_submission._tcp.example.com", dns::rtype::srv, "0 1 587 mail.example.com."));
  EXPECT_TRUE(z.add("_imap._tcp.example.com", dns::rtype::srv, "0 0 0 ."));
  EXPECT_TRUE(z.add("example.com", dns::rtype::caa, "0 issue \"letsencrypt.org\""));
  EXPECT_TRUE(z.add("example.com", dns::rtype::caa, "0 iodef \"mailto:ca@example.com\""));
  return z;
}

} // namespace

TEST(dns_static, records_of_every_type) {
  auto z = zone();
  auto a = z.lookup("EXAMPLE.com.", dns::rtype::a);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "example.com");
  EXPECT_EQ(a->code, dns::rcode::noerror);
  ASSERT_EQ(a->a().size(), 1u);
  EXPECT_EQ(dns::to_string(a->a()[0]), "192.0.2.1");
  EXPECT_EQ(a->ttl, 600u);
  EXPECT_EQ(dns::to_string(z.lookup("example.com", dns::rtype::aaaa)->aaaa().at(0)), "2001:db8::1");
  auto mx = z.lookup("example.com", dns::rtype::mx)->mx_records();
  ASSERT_EQ(mx.size(), 2u);
  EXPECT_EQ(mx[0], (dns::mx{10, "mx1.example.com"}));
  EXPECT_EQ(mx[1], (dns::mx{20, "mx2.example.com"}));
  EXPECT_EQ(z.lookup("nullmx.example.com", dns::rtype::mx)->mx_records().at(0), (dns::mx{0, ""}));
  EXPECT_EQ(z.lookup("example.com", dns::rtype::txt)->txt_joined(),
            std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all"});
  EXPECT_EQ(z.lookup("example.com", dns::rtype::ns)->names(),
            std::vector<std::string>{"ns.example.com"});
  EXPECT_EQ(z.lookup("1.2.0.192.in-addr.arpa", dns::rtype::ptr)->names(),
            std::vector<std::string>{"host.example.com"});
  auto tlsa = z.lookup("_25._tcp.mx1.example.com", dns::rtype::tlsa);
  ASSERT_TRUE(tlsa);
  EXPECT_EQ(std::get<dns::tlsa>(tlsa->records.at(0).data),
            (dns::tlsa{3, 1, 1, std::string("\x0a\xff", 2)}));
  EXPECT_EQ(z.lookup("_submission._tcp.example.com", dns::rtype::srv)->srv_records().at(0),
            (dns::srv{0, 1, 587, "mail.example.com"}));
  EXPECT_EQ(z.lookup("_imap._tcp.example.com", dns::rtype::srv)->srv_records().at(0).target, "");
  const auto caa = z.lookup("example.com", dns::rtype::caa)->caa_records();
  ASSERT_EQ(caa.size(), 2u);
  EXPECT_EQ(caa[0], (dns::caa{0, "issue", "letsencrypt.org"}));
  EXPECT_EQ(caa[1].value, "mailto:ca@example.com");
  EXPECT_FALSE(z.add("bad.example.com", dns::rtype::caa, "0 thistagiswaytoolong x"));
  EXPECT_FALSE(z.add("bad.example.com", dns::rtype::srv, "0 1 mail.example.com"));
  auto soa = z.lookup("example.com", dns::rtype::soa);
  EXPECT_EQ(std::get<dns::soa>(soa->records.at(0).data).minimum, 120u);
}

TEST(dns_static, long_txt_is_split) {
  dns::static_resolver z;
  const std::string big(600, 'x');
  ASSERT_TRUE(z.add("t.example", dns::rtype::txt, big));
  auto a = z.lookup("t.example", dns::rtype::txt);
  ASSERT_TRUE(a);
  const auto& t = std::get<dns::txt>(a->records.at(0).data);
  ASSERT_EQ(t.strings.size(), 3u); // RFC 1035 §3.3: 255 + 255 + 90
  EXPECT_EQ(t.strings[0].size(), 255u);
  EXPECT_EQ(t.strings[2].size(), 90u);
  EXPECT_EQ(a->txt_joined().at(0), big);
  z.add("u.example", dns::rtype::txt, dns::txt{{"v=spf1 ", "-all"}});
  EXPECT_EQ(z.lookup("u.example", dns::rtype::txt)->txt_joined().at(0), "v=spf1 -all");
}

TEST(dns_static, nxdomain_nodata_and_negative_ttl) {
  auto z = zone();
  auto nx = z.lookup("missing.example.com", dns::rtype::a);
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->code, dns::rcode::nxdomain);
  EXPECT_TRUE(nx->empty());
  EXPECT_EQ(nx->ttl, 120u); // RFC 2308 §5: min(3600, 120)
  auto nodata = z.lookup("example.com", dns::rtype::tlsa);
  ASSERT_TRUE(nodata);
  EXPECT_EQ(nodata->code, dns::rcode::noerror);
  EXPECT_TRUE(nodata->empty());
  // Empty non-terminals exist (RFC 8020): NODATA, not NXDOMAIN.
  EXPECT_EQ(z.lookup("b.deep.example.com", dns::rtype::a)->code, dns::rcode::noerror);
  EXPECT_EQ(z.lookup("deep.example.com", dns::rtype::a)->code, dns::rcode::noerror);
  EXPECT_EQ(z.lookup("c.deep.example.com", dns::rtype::a)->code, dns::rcode::nxdomain);
  // Outside any SOA: not cacheable.
  EXPECT_EQ(z.lookup("nothing.test", dns::rtype::a)->ttl, 0u);
}

TEST(dns_static, cname_following) {
  auto z = zone();
  auto a = z.lookup("www.example.com", dns::rtype::a);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->canonical_name, "web.example.com");
  EXPECT_EQ(dns::to_string(a->a().at(0)), "192.0.2.80");
  EXPECT_EQ(a->ttl, 50u);
  auto c = z.lookup("www.example.com", dns::rtype::cname);
  EXPECT_EQ(c->names(), std::vector<std::string>{"web.example.com"});
  // Dangling CNAME: NXDOMAIN at the target (RFC 6604).
  z.add("dangling.example.com", dns::rtype::cname, "gone.example.com");
  auto d = z.lookup("dangling.example.com", dns::rtype::a);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, dns::rcode::nxdomain);
  EXPECT_EQ(d->canonical_name, "gone.example.com");
  // A loop ends as SERVFAIL.
  z.add("l1.example.com", dns::rtype::cname, "l2.example.com");
  z.add("l2.example.com", dns::rtype::cname, "l1.example.com");
  auto l = z.lookup("l1.example.com", dns::rtype::a);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error(), dns::make_error_code(dns::errc::servfail));
}

TEST(dns_static, wildcards) {
  auto z = zone();
  auto w = z.lookup("anything.wild.example.com", dns::rtype::a);
  ASSERT_TRUE(w);
  EXPECT_EQ(dns::to_string(w->a().at(0)), "192.0.2.99");
  EXPECT_EQ(w->name, "anything.wild.example.com");
  EXPECT_EQ(dns::to_string(z.lookup("x.y.wild.example.com", dns::rtype::a)->a().at(0)),
            "192.0.2.99");
  EXPECT_EQ(z.lookup("anything.wild.example.com", dns::rtype::mx)->code, dns::rcode::noerror);
  // A name with its own records does not match the wildcard (RFC 4592 §2.2.1).
  auto own = z.lookup("own.wild.example.com", dns::rtype::a);
  EXPECT_TRUE(own->empty());
  EXPECT_EQ(own->code, dns::rcode::noerror);
  // Nor does a name beneath an existing name.
  EXPECT_EQ(z.lookup("x.own.wild.example.com", dns::rtype::a)->code, dns::rcode::nxdomain);
}

TEST(dns_static, failures_and_ad) {
  auto z = zone();
  z.fail("slow.example");
  z.fail("example.com", dns::rtype::txt, dns::errc::servfail);
  z.set_authenticated("example.com");
  auto s = z.lookup("slow.example", dns::rtype::a);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), dns::make_error_code(dns::errc::timed_out));
  auto t = z.lookup("example.com", dns::rtype::txt);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), dns::make_error_code(dns::errc::servfail));
  EXPECT_TRUE(z.lookup("example.com", dns::rtype::a)->authenticated);
  EXPECT_FALSE(z.lookup("www.example.com", dns::rtype::a)->authenticated);
  auto bad = z.lookup("a..b", dns::rtype::a);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), dns::make_error_code(dns::errc::bad_name));
}

TEST(dns_static, async_and_counting) {
  auto z = zone();
  const auto before = z.queries();
  bool called = false;
  z.async_query("example.com", dns::rtype::a, [&](dns::query_result r) {
    called = true;
    EXPECT_TRUE(r);
  });
  EXPECT_TRUE(called); // inline
  auto q = dns::query(z, "example.com", dns::rtype::mx);
  ASSERT_TRUE(q);
  EXPECT_EQ(z.queries(), before + 2);
}

TEST(dns_static, unicode_names_and_erase) {
  dns::static_resolver z;
  z.add("bücher.example", dns::rtype::a, "192.0.2.5");
  EXPECT_EQ(z.lookup("xn--bcher-kva.example", dns::rtype::a)->a().size(), 1u);
  EXPECT_EQ(z.lookup("BÜCHER.example", dns::rtype::a)->a().size(), 1u);
  z.erase("bücher.example");
  EXPECT_EQ(z.lookup("bücher.example", dns::rtype::a)->code, dns::rcode::nxdomain);
  EXPECT_EQ(z.lookup("example", dns::rtype::a)->code, dns::rcode::nxdomain); // ENT gone too
}

// The lookup's ASCII fast path (no IDNA, stack buffer) must read every name as to_ascii does.
TEST(dns_static, query_names_read_as_to_ascii_reads_them) {
  dns::static_resolver z;
  z.add("www.example.com", dns::rtype::a, "192.0.2.1");
  z.add("*.wild.example", dns::rtype::a, "192.0.2.2");
  const std::string l63(63, 'a'), l64(64, 'a');
  z.add(l63 + ".example", dns::rtype::a, "192.0.2.3");
  const std::string names[] = {"www.example.com",
                               "WWW.Example.COM.",
                               "www.example.com..",
                               ".www.example.com",
                               "",
                               ".",
                               "x.wild.example",
                               "A.B.WILD.example",
                               l63 + ".example",
                               l64 + ".example",
                               std::string("a\0b.example", 11),
                               std::string(250, 'a') + ".com",
                               "bücher.example",
                               "_dmarc.Ex-1.org"};
  for (const auto& n : names) {
    const auto expected_key = dns::to_ascii(n);
    const auto r = z.lookup(n, dns::rtype::a);
    ASSERT_EQ(r.has_value(), expected_key.has_value()) << n;
    if (!r) {
      EXPECT_EQ(r.error(), dns::make_error_code(dns::errc::bad_name)) << n;
      continue;
    }
    EXPECT_EQ(r->name, *expected_key) << n;
    EXPECT_EQ(r->canonical_name, *expected_key) << n;
  }
  EXPECT_EQ(z.lookup("WWW.Example.COM.", dns::rtype::a)->a().size(), 1u);
  EXPECT_EQ(z.lookup("A.B.WILD.example", dns::rtype::a)->a().size(), 1u);
  EXPECT_EQ(z.lookup(l63 + ".EXAMPLE", dns::rtype::a)->a().size(), 1u);
}

TEST(dns_static, bad_text_forms) {
  dns::static_resolver z;
  EXPECT_FALSE(z.add("x", dns::rtype::a, "300.1.1.1"));
  EXPECT_FALSE(z.add("x", dns::rtype::aaaa, "192.0.2.1"));
  EXPECT_FALSE(z.add("x", dns::rtype::mx, "mx.example.com"));
  EXPECT_FALSE(z.add("x", dns::rtype::soa, "a b 1 2 3"));
  EXPECT_FALSE(z.add("x", dns::rtype::tlsa, "3 1 1 abc"));
  EXPECT_FALSE(z.add("x", dns::rtype::ptr, "two names"));
}
