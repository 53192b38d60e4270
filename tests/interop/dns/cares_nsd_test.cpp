// SPDX-License-Identifier: Apache-2.0
// cares_resolver over the wire against real servers on loopback: nsd (authoritative) serving
// tests/interop/dns/zones, and a validating unbound in front of it for the DNSSEC cases
// (signed.test validates: AD; bogus.test has a wrong trust anchor: SERVFAIL; example.test is
// unsigned: no AD).
#include "dns_servers.hpp"

#include <mailkit/dns/cache.hpp>
#include <mailkit/dns/cares_resolver.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <gtest/gtest.h>

#include <memory>

namespace dns = mailkit::dns;
namespace t = mailkit::test;
using namespace std::chrono_literals;

namespace {

const t::fs::path zones = t::fs::path(MAILKIT_SOURCE_DIR) / "tests/interop/dns/zones";

class dns_interop : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = t::test_dir("cares");
    const std::string signed_ds = t::sign_zone(dir_, "signed.test", zones / "signed.test.zone");
    (void)t::sign_zone(dir_, "bogus.test", zones / "bogus.test.zone");
    const std::string wrong_ds = t::unrelated_ds(dir_, "bogus.test");
    nsd_ = std::make_unique<t::nsd_server>(
        dir_, std::vector<t::zone_spec>{
                  {"example.test", zones / "example.test.zone"},
                  {"2.0.192.in-addr.arpa", zones / "2.0.192.in-addr.arpa.zone"},
                  {"8.b.d.0.1.0.0.2.ip6.arpa", zones / "8.b.d.0.1.0.0.2.ip6.arpa.zone"},
                  {"signed.test", dir_ / "signed.test.signed"},
                  {"bogus.test", dir_ / "bogus.test.signed"}});
    unbound_ = std::make_unique<t::unbound_server>(
        dir_, std::vector<std::string>{"signed.test", "bogus.test", "example.test"}, nsd_->port(),
        std::vector<std::string>{signed_ds, wrong_ds});
  }
  static void TearDownTestSuite() {
    unbound_.reset();
    nsd_.reset();
    if (::testing::UnitTest::GetInstance()->Passed()) t::fs::remove_all(dir_);
  }

  static dns::cares_options to_nsd() {
    dns::cares_options o;
    o.servers = {nsd_->address()};
    o.timeout = 1000ms;
    return o;
  }
  static dns::cares_options to_unbound() {
    dns::cares_options o;
    o.servers = {unbound_->address()};
    o.timeout = 2000ms;
    return o;
  }

  static inline t::fs::path dir_;
  static inline std::unique_ptr<t::nsd_server> nsd_;
  static inline std::unique_ptr<t::unbound_server> unbound_;
};

dns::answer must(const dns::query_result& r) {
  if (!r) throw std::runtime_error("query failed: " + r.error().message());
  return *r;
}

} // namespace

TEST_F(dns_interop, a_and_aaaa_with_ttl) {
  dns::cares_resolver r(to_nsd());
  ASSERT_FALSE(r.init_error());
  const auto a = must(dns::query(r, "Example.TEST.", dns::rtype::a));
  EXPECT_EQ(a.name, "example.test");
  EXPECT_EQ(a.code, dns::rcode::noerror);
  ASSERT_EQ(a.a().size(), 1u);
  EXPECT_EQ(dns::to_string(a.a()[0]), "192.0.2.1");
  EXPECT_EQ(a.ttl, 600u);
  EXPECT_EQ(a.records.at(0).ttl, 600u);
  EXPECT_FALSE(a.authenticated); // an authoritative server never sets AD
  const auto aaaa = must(dns::query(r, "example.test", dns::rtype::aaaa));
  ASSERT_EQ(aaaa.aaaa().size(), 1u);
  EXPECT_EQ(dns::to_string(aaaa.aaaa()[0]), "2001:db8::1");
  EXPECT_EQ(aaaa.ttl, 3600u);
}

TEST_F(dns_interop, mx_and_null_mx) {
  dns::cares_resolver r(to_nsd());
  const auto mx = must(dns::query(r, "example.test", dns::rtype::mx)).mx_records();
  ASSERT_EQ(mx.size(), 2u);
  EXPECT_EQ(mx[0], (dns::mx{10, "mx1.example.test"}));
  EXPECT_EQ(mx[1], (dns::mx{20, "mx2.example.test"}));
  const auto null = must(dns::query(r, "null.example.test", dns::rtype::mx)).mx_records();
  ASSERT_EQ(null.size(), 1u);
  EXPECT_EQ(null[0], (dns::mx{0, ""})); // RFC 7505
}

TEST_F(dns_interop, txt_split_and_truncated_over_tcp) {
  dns::cares_resolver r(to_nsd());
  EXPECT_EQ(must(dns::query(r, "example.test", dns::rtype::txt)).txt_joined(),
            std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all"});
  const auto long_txt = must(dns::query(r, "long.example.test", dns::rtype::txt));
  ASSERT_EQ(long_txt.records.size(), 1u);
  const auto& strings = std::get<dns::txt>(long_txt.records[0].data).strings;
  ASSERT_EQ(strings.size(), 3u);
  EXPECT_EQ(strings[0], std::string(255, 'a'));
  EXPECT_EQ(strings[1], std::string(255, 'b'));
  EXPECT_EQ(strings[2], "tail");
  EXPECT_EQ(long_txt.txt_joined().at(0).size(), 514u);
  // 8 x 250 octets do not fit a 1232-octet UDP answer: TC, then the same question over TCP.
  const auto big = must(dns::query(r, "big.example.test", dns::rtype::txt));
  EXPECT_EQ(big.records.size(), 8u);
}

TEST_F(dns_interop, cname_chain_and_dangling_cname) {
  dns::cares_resolver r(to_nsd());
  const auto a = must(dns::query(r, "www.example.test", dns::rtype::a));
  EXPECT_EQ(a.canonical_name, "host.example.test");
  ASSERT_EQ(a.a().size(), 1u);
  EXPECT_EQ(dns::to_string(a.a()[0]), "192.0.2.80");
  EXPECT_EQ(a.ttl, 120u); // lowest of 3600 (www), 300 (web), 120 (host)
  EXPECT_EQ(must(dns::query(r, "www.example.test", dns::rtype::cname)).names(),
            std::vector<std::string>{"web.example.test"});
  const auto out = must(dns::query(r, "out.example.test", dns::rtype::a));
  EXPECT_EQ(out.code, dns::rcode::nxdomain); // RFC 6604: the rcode of the last name
  EXPECT_EQ(out.canonical_name, "nowhere.example.test");
}

TEST_F(dns_interop, tlsa_ns_soa_ptr) {
  dns::cares_resolver r(to_nsd());
  const auto tlsa = must(dns::query(r, "_25._tcp.mx1.example.test", dns::rtype::tlsa));
  ASSERT_EQ(tlsa.records.size(), 1u);
  const auto& t = std::get<dns::tlsa>(tlsa.records[0].data);
  EXPECT_EQ(t.usage, 3);
  EXPECT_EQ(t.selector, 1);
  EXPECT_EQ(t.matching_type, 1);
  ASSERT_EQ(t.data.size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(t.data[0]), 0x0c);
  EXPECT_EQ(static_cast<unsigned char>(t.data[31]), 0xd6);
  EXPECT_EQ(must(dns::query(r, "example.test", dns::rtype::ns)).names(),
            std::vector<std::string>{"ns1.example.test"});
  const auto soa = must(dns::query(r, "example.test", dns::rtype::soa));
  const auto& s = std::get<dns::soa>(soa.records.at(0).data);
  EXPECT_EQ(s.mname, "ns1.example.test");
  EXPECT_EQ(s.rname, "hostmaster.example.test");
  EXPECT_EQ(s.serial, 2024010101u);
  EXPECT_EQ(s.minimum, 300u);
  auto ptr =
      must(dns::query(r, dns::reverse_name(dns::parse_ipv4("192.0.2.25").value()), dns::rtype::ptr))
          .names();
  std::sort(ptr.begin(), ptr.end());
  EXPECT_EQ(ptr, (std::vector<std::string>{"mail.example.test", "mx1.example.test"}));
  EXPECT_EQ(must(dns::query(r, dns::reverse_name(dns::parse_ipv6("2001:db8::1").value()),
                            dns::rtype::ptr))
                .names(),
            std::vector<std::string>{"example.test"});
}

TEST_F(dns_interop, nxdomain_nodata_wildcard_ent) {
  dns::cares_resolver r(to_nsd());
  const auto nx = must(dns::query(r, "missing.example.test", dns::rtype::a));
  EXPECT_EQ(nx.code, dns::rcode::nxdomain);
  EXPECT_TRUE(nx.empty());
  EXPECT_EQ(nx.ttl, 300u); // RFC 2308 §5: min(SOA TTL 3600, MINIMUM 300)
  const auto nodata = must(dns::query(r, "nodata.example.test", dns::rtype::a));
  EXPECT_EQ(nodata.code, dns::rcode::noerror);
  EXPECT_TRUE(nodata.empty());
  EXPECT_EQ(nodata.ttl, 300u);
  const auto ent = must(dns::query(r, "b.ent.example.test", dns::rtype::a));
  EXPECT_EQ(ent.code, dns::rcode::noerror);
  EXPECT_TRUE(ent.empty());
  const auto wild = must(dns::query(r, "anything.wild.example.test", dns::rtype::a));
  ASSERT_EQ(wild.a().size(), 1u);
  EXPECT_EQ(dns::to_string(wild.a()[0]), "192.0.2.99");
  const auto idn = must(dns::query(r, "bücher.example.test", dns::rtype::a));
  ASSERT_EQ(idn.a().size(), 1u);
  EXPECT_EQ(dns::to_string(idn.a()[0]), "192.0.2.42");
  EXPECT_EQ(idn.name, "xn--bcher-kva.example.test");
}

TEST_F(dns_interop, refused_and_bad_name) {
  dns::cares_resolver r(to_nsd());
  auto refused = dns::query(r, "not-served.invalid", dns::rtype::a);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), dns::make_error_code(dns::errc::refused));
  EXPECT_FALSE(mailkit::is_permanent(refused.error()));
  auto bad = dns::query(r, "a..example.test", dns::rtype::a);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), dns::make_error_code(dns::errc::bad_name));
}

TEST_F(dns_interop, many_concurrent_queries_on_callers_io_context) {
  boost::asio::io_context ioc;
  auto r = std::make_unique<dns::cares_resolver>(boost::asio::any_io_executor(ioc.get_executor()),
                                                 to_nsd());
  int done = 0, ok = 0;
  const char* names[] = {"example.test", "mx1.example.test", "host.example.test",
                         "missing.example.test"};
  for (int i = 0; i < 200; ++i)
    r->async_query(names[i % 4], dns::rtype::a, [&](dns::query_result res) {
      ++done;
      if (res) ++ok;
    });
  EXPECT_EQ(done, 0); // never inline
  ioc.run_for(20s);   // one thread drives every query
  EXPECT_EQ(done, 200);
  EXPECT_EQ(ok, 200);
  // The destructor posts the channel's release to the caller's executor, which must run it
  // (the header's contract; ASan's leak check holds the test to it).
  r.reset();
  ioc.restart();
  ioc.run_for(5s);
}

TEST_F(dns_interop, cache_in_front_of_cares) {
  dns::cares_resolver r(to_nsd());
  dns::caching_resolver c(r);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(dns::query(c, "example.test", dns::rtype::mx));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(dns::query(c, "missing.example.test", dns::rtype::a));
  const auto s = c.stats();
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.hits, 8u);
}

TEST_F(dns_interop, timeout_and_cancel) {
  // A UDP socket that never answers.
  boost::asio::io_context sink_ctx;
  boost::asio::ip::udp::socket sink(sink_ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
  dns::cares_options o;
  o.servers = {"127.0.0.1:" + std::to_string(sink.local_endpoint().port())};
  o.timeout = 200ms;
  o.tries = 1;
  {
    dns::cares_resolver r(o);
    const auto start = std::chrono::steady_clock::now();
    auto res = dns::query(r, "example.test", dns::rtype::a);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error(), dns::make_error_code(dns::errc::timed_out));
    EXPECT_LT(took, 5s);
    EXPECT_GE(took, 150ms);
  }
  // Destroying the resolver cancels what is pending.
  boost::asio::io_context ioc;
  std::optional<dns::query_result> got;
  {
    o.timeout = 10000ms;
    dns::cares_resolver r(boost::asio::any_io_executor(ioc.get_executor()), o);
    r.async_query("example.test", dns::rtype::a, [&](dns::query_result res) { got = res; });
    ioc.run_for(100ms);
    EXPECT_FALSE(got);
  }
  ioc.run_for(2s);
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error(), dns::make_error_code(dns::errc::cancelled));
}

TEST_F(dns_interop, server_options) {
  dns::cares_options o;
  o.servers = {"127.0.0.1:5353", "[::1]:53", "::1", "192.0.2.53"};
  dns::cares_resolver r(o);
  ASSERT_FALSE(r.init_error());
  EXPECT_EQ(r.servers(),
            (std::vector<std::string>{"127.0.0.1:5353", "[::1]:53", "[::1]:53", "192.0.2.53:53"}));
  o.servers = {"not an address"};
  dns::cares_resolver bad(o);
  EXPECT_TRUE(bad.init_error());
  EXPECT_FALSE(dns::query(bad, "example.test", dns::rtype::a));
  EXPECT_EQ(dns::normalize_server("[2001:db8::53]:5353").value(), "[2001:db8::53]:5353");
  EXPECT_FALSE(dns::normalize_server("127.0.0.1:0"));
  EXPECT_FALSE(dns::normalize_server("[127.0.0.1]:53"));
  // A resolv.conf of our own.
  const auto conf = dir_ / "resolv.conf";
  std::ofstream(conf) << "nameserver 127.0.0.1\nnameserver 192.0.2.1\n";
  dns::cares_options rc;
  rc.resolv_conf = conf.string();
  dns::cares_resolver from_file(rc);
  EXPECT_EQ(from_file.servers(), (std::vector<std::string>{"127.0.0.1:53", "192.0.2.1:53"}));
}

// ---- DNSSEC through a validating unbound ----------------------------------------------------

TEST_F(dns_interop, signed_zone_answers_carry_ad) {
  dns::cares_resolver r(to_unbound());
  for (auto type : {dns::rtype::a, dns::rtype::mx, dns::rtype::txt, dns::rtype::tlsa}) {
    const std::string name = type == dns::rtype::tlsa ? "_25._tcp.mx.signed.test" : "signed.test";
    const auto a = must(dns::query(r, name, type));
    EXPECT_FALSE(a.empty()) << dns::to_string(type);
    EXPECT_TRUE(a.authenticated) << dns::to_string(type); // RFC 4035 §3.2.3
  }
  // Authenticated denial of existence (NSEC) is also secure.
  const auto nx = must(dns::query(r, "missing.signed.test", dns::rtype::a));
  EXPECT_EQ(nx.code, dns::rcode::nxdomain);
  EXPECT_TRUE(nx.authenticated);
}

TEST_F(dns_interop, ad_needs_no_edns_and_survives_do) {
  auto o = to_unbound();
  o.edns = false; // RFC 6840 §5.7: the AD bit in the query is enough
  dns::cares_resolver plain(o);
  EXPECT_TRUE(must(dns::query(plain, "signed.test", dns::rtype::a)).authenticated);
  o.edns = true;
  o.dnssec_ok = true; // RRSIGs come along and are skipped
  dns::cares_resolver with_do(o);
  const auto a = must(dns::query(with_do, "signed.test", dns::rtype::a));
  EXPECT_TRUE(a.authenticated);
  EXPECT_EQ(a.records.size(), 1u);
}

TEST_F(dns_interop, unsigned_zone_has_no_ad) {
  dns::cares_resolver r(to_unbound());
  const auto a = must(dns::query(r, "example.test", dns::rtype::a));
  EXPECT_EQ(dns::to_string(a.a().at(0)), "192.0.2.1");
  EXPECT_FALSE(a.authenticated);
}

TEST_F(dns_interop, bogus_zone_is_servfail) {
  dns::cares_resolver r(to_unbound());
  auto a = dns::query(r, "bogus.test", dns::rtype::a);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), dns::make_error_code(dns::errc::servfail));
  EXPECT_FALSE(mailkit::is_permanent(a.error()));
}
