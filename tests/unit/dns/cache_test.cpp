// SPDX-License-Identifier: Apache-2.0
// caching_resolver with a manual clock and a static (or hand-completed) upstream.
#include <mailkit/dns/cache.hpp>
#include <mailkit/dns/static_resolver.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace dns = mailkit::dns;
using namespace std::chrono_literals;

namespace {

dns::static_resolver zone() {
  dns::static_resolver z;
  EXPECT_TRUE(z.add("example.com", dns::rtype::soa,
                    "ns.example.com hostmaster.example.com 1 3600 600 86400 60", 3600));
  EXPECT_TRUE(z.add("example.com", dns::rtype::a, "192.0.2.1", 300));
  EXPECT_TRUE(z.add("example.com", dns::rtype::txt, "short", 10));
  EXPECT_TRUE(z.add("zero.example.com", dns::rtype::a, "192.0.2.2", 0));
  EXPECT_TRUE(z.add("huge.example.com", dns::rtype::a, "192.0.2.3", 1000000));
  return z;
}

// An upstream whose queries complete only when the test says so.
class manual_upstream final : public dns::resolver {
public:
  void async_query(std::string_view name, dns::rtype, dns::query_handler h) override {
    names.emplace_back(name);
    handlers.push_back(std::move(h));
  }
  std::vector<std::string> names;
  std::vector<dns::query_handler> handlers;
};

dns::query_result sync(dns::resolver& r, std::string_view name, dns::rtype t) {
  return dns::query(r, name, t);
}

} // namespace

TEST(dns_cache, positive_answers_live_for_their_ttl) {
  auto z = zone();
  mailkit::manual_clock clock;
  dns::caching_resolver c(z, {}, clock);
  auto a = sync(c, "example.com", dns::rtype::a);
  ASSERT_TRUE(a);
  EXPECT_EQ(z.queries(), 1u);
  clock.advance(100s);
  auto b = sync(c, "EXAMPLE.com.", dns::rtype::a);
  ASSERT_TRUE(b);
  EXPECT_EQ(z.queries(), 1u);
  EXPECT_EQ(b->ttl, 200u); // counted down
  EXPECT_EQ(b->records.at(0).ttl, 200u);
  clock.advance(200s);
  ASSERT_TRUE(sync(c, "example.com", dns::rtype::a));
  EXPECT_EQ(z.queries(), 2u); // expired at 300 s
  const auto s = c.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
}

TEST(dns_cache, types_are_separate_and_ttl_zero_is_not_kept) {
  auto z = zone();
  mailkit::manual_clock clock;
  dns::caching_resolver c(z, {}, clock);
  ASSERT_TRUE(sync(c, "example.com", dns::rtype::a));
  ASSERT_TRUE(sync(c, "example.com", dns::rtype::txt));
  EXPECT_EQ(z.queries(), 2u);
  ASSERT_TRUE(sync(c, "zero.example.com", dns::rtype::a));
  ASSERT_TRUE(sync(c, "zero.example.com", dns::rtype::a));
  EXPECT_EQ(z.queries(), 4u);
}

TEST(dns_cache, ttl_bounds) {
  auto z = zone();
  mailkit::manual_clock clock;
  dns::cache_options o;
  o.max_ttl = 3600;
  o.min_ttl = 30;
  dns::caching_resolver c(z, o, clock);
  ASSERT_TRUE(sync(c, "huge.example.com", dns::rtype::a));
  clock.advance(3599s);
  ASSERT_TRUE(sync(c, "huge.example.com", dns::rtype::a));
  EXPECT_EQ(z.queries(), 1u);
  clock.advance(1s);
  ASSERT_TRUE(sync(c, "huge.example.com", dns::rtype::a));
  EXPECT_EQ(z.queries(), 2u);
  // min_ttl stretches the 10 s TXT to 30 s.
  ASSERT_TRUE(sync(c, "example.com", dns::rtype::txt));
  clock.advance(20s);
  ASSERT_TRUE(sync(c, "example.com", dns::rtype::txt));
  EXPECT_EQ(z.queries(), 3u);
}

TEST(dns_cache, negative_caching_rfc2308) {
  auto z = zone();
  mailkit::manual_clock clock;
  dns::caching_resolver c(z, {}, clock);
  auto nx = sync(c, "nope.example.com", dns::rtype::a);
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->code, dns::rcode::nxdomain);
  clock.advance(59s);
  auto again = sync(c, "nope.example.com", dns::rtype::a);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, dns::rcode::nxdomain);
  EXPECT_EQ(again->ttl, 1u);
  EXPECT_EQ(z.queries(), 1u);
  clock.advance(1s);
  ASSERT_TRUE(sync(c, "nope.example.com", dns::rtype::a));
  EXPECT_EQ(z.queries(), 2u);
  // NODATA too.
  ASSERT_TRUE(sync(c, "example.com", dns::rtype::mx));
  ASSERT_TRUE(sync(c, "example.com", dns::rtype::mx));
  EXPECT_EQ(z.queries(), 3u);
  // Without an SOA the negative answer is not cached (RFC 2308 §5).
  ASSERT_TRUE(sync(c, "nothing.test", dns::rtype::a));
  ASSERT_TRUE(sync(c, "nothing.test", dns::rtype::a));
  EXPECT_EQ(z.queries(), 5u);
}

TEST(dns_cache, errors_not_cached_by_default_then_briefly) {
  auto z = zone();
  z.fail("down.example.com", dns::errc::servfail);
  mailkit::manual_clock clock;
  {
    dns::caching_resolver c(z, {}, clock);
    EXPECT_FALSE(sync(c, "down.example.com", dns::rtype::a));
    EXPECT_FALSE(sync(c, "down.example.com", dns::rtype::a));
    EXPECT_EQ(z.queries(), 2u);
  }
  dns::cache_options o;
  o.error_ttl = 1h; // honoured up to five minutes (RFC 2308 §7.1)
  dns::caching_resolver c(z, o, clock);
  EXPECT_FALSE(sync(c, "down.example.com", dns::rtype::a));
  clock.advance(299s);
  auto e = sync(c, "down.example.com", dns::rtype::a);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), dns::make_error_code(dns::errc::servfail));
  EXPECT_EQ(z.queries(), 3u);
  clock.advance(1s);
  EXPECT_FALSE(sync(c, "down.example.com", dns::rtype::a));
  EXPECT_EQ(z.queries(), 4u);
  // bad_name never reaches the upstream.
  EXPECT_FALSE(sync(c, "a..b", dns::rtype::a));
  EXPECT_EQ(z.queries(), 4u);
}

TEST(dns_cache, lru_bound) {
  dns::static_resolver z;
  for (int i = 0; i < 10; ++i)
    z.add("h" + std::to_string(i) + ".example", dns::rtype::a, "192.0.2.1");
  mailkit::manual_clock clock;
  dns::cache_options o;
  o.max_entries = 3;
  dns::caching_resolver c(z, o, clock);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(sync(c, "h" + std::to_string(i) + ".example", dns::rtype::a));
  ASSERT_TRUE(sync(c, "h0.example", dns::rtype::a)); // h0 becomes most recent
  ASSERT_TRUE(sync(c, "h3.example", dns::rtype::a)); // evicts h1
  EXPECT_EQ(c.stats().entries, 3u);
  EXPECT_EQ(c.stats().evictions, 1u);
  const auto before = z.queries();
  ASSERT_TRUE(sync(c, "h0.example", dns::rtype::a));
  EXPECT_EQ(z.queries(), before);
  ASSERT_TRUE(sync(c, "h1.example", dns::rtype::a));
  EXPECT_EQ(z.queries(), before + 1);
  c.clear();
  EXPECT_EQ(c.stats().entries, 0u);
}

TEST(dns_cache, concurrent_identical_queries_are_coalesced) {
  manual_upstream up;
  mailkit::manual_clock clock;
  dns::caching_resolver c(up, {}, clock);
  std::vector<dns::query_result> got;
  for (int i = 0; i < 3; ++i)
    c.async_query(i == 1 ? "Example.com" : "example.com", dns::rtype::a,
                  [&](dns::query_result r) { got.push_back(std::move(r)); });
  c.async_query("example.com", dns::rtype::aaaa,
                [&](dns::query_result r) { got.push_back(std::move(r)); });
  ASSERT_EQ(up.handlers.size(), 2u);
  EXPECT_EQ(up.names.at(0), "example.com");
  EXPECT_EQ(c.stats().coalesced, 2u);
  dns::answer a;
  a.name = "example.com";
  a.records.push_back({dns::ipv4{{192, 0, 2, 1}}, 60});
  a.ttl = 60;
  up.handlers[0](a);
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got)
    EXPECT_EQ(r->a().size(), 1u);
  // Now cached: no new upstream query.
  c.async_query("example.com", dns::rtype::a,
                [&](dns::query_result r) { got.push_back(std::move(r)); });
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(up.handlers.size(), 2u);
  up.handlers[1](mailkit::unexpected(dns::make_error_code(dns::errc::timed_out)));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_FALSE(got.back());
}

TEST(dns_cache, outlived_by_upstream_query) {
  manual_upstream up;
  bool called = false;
  {
    dns::caching_resolver c(up);
    c.async_query("example.com", dns::rtype::a, [&](dns::query_result) { called = true; });
  }
  up.handlers.at(0)(mailkit::unexpected(dns::make_error_code(dns::errc::cancelled)));
  EXPECT_TRUE(called);
}

TEST(dns_cache, threads) {
  auto z = zone();
  dns::caching_resolver c(z);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        auto r = dns::query(c, i % 2 ? "example.com" : "nope.example.com", dns::rtype::a);
        EXPECT_TRUE(r);
      }
    });
  for (auto& t : ts)
    t.join();
  const auto s = c.stats();
  EXPECT_EQ(s.hits + s.misses + s.coalesced, 2000u);
}
