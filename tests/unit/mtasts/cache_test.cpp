// SPDX-License-Identifier: Apache-2.0
// RFC 8461 §3.3 and §5.1: the cached policy, its refresh, and its survival across failures and
// restarts (SQLite).
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/mtasts/cache.hpp>
#include <mailkit/mtasts/dane.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

namespace m = mailkit::mtasts;
using namespace std::chrono_literals;

namespace {

// A scripted source: the TXT id and policy it serves, and counters.
struct fake_source {
  std::optional<std::string> id = "1";
  bool dns_fails = false;
  bool fetch_fails = false;
  std::string body = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n";
  int discovers = 0, fetches = 0;

  m::policy_source source() {
    m::policy_source s;
    s.discover = [this](std::string_view) -> mailkit::expected<std::optional<m::txt_record>> {
      ++discovers;
      if (dns_fails) return mailkit::fail(mailkit::errc::timed_out);
      if (!id) return std::optional<m::txt_record>{};
      return std::optional<m::txt_record>(m::txt_record{*id, {}});
    };
    s.fetch = [this](std::string_view) -> mailkit::expected<m::policy> {
      ++fetches;
      if (fetch_fails) return mailkit::fail(mailkit::errc::io_error);
      return m::parse_policy(body);
    };
    return s;
  }
};

void exercise(m::policy_cache& cache) {
  fake_source src;
  const auto s = src.source();
  mailkit::manual_clock clock(mailkit::clock::time_point(1700000000s));

  auto r = m::resolve(cache, s, "Example.COM.", clock);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->active);
  EXPECT_TRUE(r->fetched);
  EXPECT_EQ(r->active->domain, "example.com");
  EXPECT_EQ(src.fetches, 1);

  // Same id, fresh: no fetch.
  clock.advance(1h);
  r = m::resolve(cache, s, "example.com", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_FALSE(r->fetched);
  EXPECT_EQ(src.fetches, 1);

  // New id: fetch (§5.1), with the new body.
  src.id = "2";
  src.body = "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n";
  r = m::resolve(cache, s, "example.com", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_TRUE(r->fetched);
  EXPECT_EQ(r->active->id, "2");
  EXPECT_EQ(r->active->value.policy_mode, m::mode::testing);
  EXPECT_EQ(src.fetches, 2);

  // The attacker blocks DNS, then removes the record, then breaks the fetch: the cached
  // policy stays in force (§5.1, §3.3).
  src.dns_fails = true;
  r = m::resolve(cache, s, "example.com", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_TRUE(r->error);
  src.dns_fails = false;
  src.id.reset();
  r = m::resolve(cache, s, "example.com", clock);
  ASSERT_TRUE(r && r->active);
  src.id = "3";
  src.fetch_fails = true;
  r = m::resolve(cache, s, "example.com", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_EQ(r->active->id, "2");
  EXPECT_TRUE(r->error);
  EXPECT_EQ(src.fetches, 3);

  // Half-way to expiry, the same id is refreshed (capped at a day: max_age here is a day).
  src.fetch_fails = false;
  src.id = "2";
  clock.advance(12h);
  r = m::resolve(cache, s, "example.com", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_TRUE(r->fetched);

  // Past max_age with every source failing: no policy any more.
  src.fetch_fails = true;
  clock.advance(25h);
  r = m::resolve(cache, s, "example.com", clock);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->active);
  auto g = cache.get("example.com");
  ASSERT_TRUE(g);
  EXPECT_FALSE(*g);

  // A domain without a record and nothing cached: no policy, no fetch.
  const int before = src.fetches;
  src.id.reset();
  r = m::resolve(cache, s, "none.example", clock);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->active);
  EXPECT_EQ(src.fetches, before);
}

std::filesystem::path temp_db(const char* tag) {
  auto p = std::filesystem::temp_directory_path() /
           ("mailkit-mtasts-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(p);
  return p;
}

} // namespace

TEST(mtasts_cache, memory_follows_rfc_8461_5_1) {
  m::memory_policy_cache cache;
  exercise(cache);
}

TEST(mtasts_cache, sqlite_follows_rfc_8461_5_1) {
  const auto path = temp_db("rules");
  {
    auto cache = m::sqlite_policy_cache::open(path.string());
    ASSERT_TRUE(cache) << cache.error().message();
    exercise(**cache);
  }
  std::filesystem::remove(path);
}

TEST(mtasts_cache, sqlite_survives_reopen) {
  const auto path = temp_db("reopen");
  m::cached_policy p;
  p.domain = "example.org";
  p.id = "abc";
  p.value = *m::parse_policy("version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 600");
  p.fetched_at = mailkit::clock::time_point(1000s);
  p.expires_at = mailkit::clock::time_point(1600s);
  {
    auto cache = m::sqlite_policy_cache::open(path.string());
    ASSERT_TRUE(cache);
    ASSERT_TRUE((*cache)->put(p));
  }
  {
    auto cache = m::sqlite_policy_cache::open(path.string());
    ASSERT_TRUE(cache);
    auto got = (*cache)->get("EXAMPLE.org");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->id, "abc");
    EXPECT_EQ((*got)->value.mx, p.value.mx);
    EXPECT_EQ((*got)->expires_at, p.expires_at);
    ASSERT_TRUE((*cache)->remove("example.org"));
    got = (*cache)->get("example.org");
    ASSERT_TRUE(got);
    EXPECT_FALSE(*got);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST(mtasts_cache, sqlite_open_fails_cleanly) {
  EXPECT_FALSE(m::sqlite_policy_cache::open("/nonexistent-dir/x/policies.db"));
}

TEST(mtasts_discover, txt_through_resolver) {
  mailkit::dns::static_resolver r;
  ASSERT_TRUE(r.add("_mta-sts.good.test", mailkit::dns::rtype::txt, "v=STSv1; id=42"));
  ASSERT_TRUE(r.add("_mta-sts.two.test", mailkit::dns::rtype::txt, "v=STSv1; id=1"));
  ASSERT_TRUE(r.add("_mta-sts.two.test", mailkit::dns::rtype::txt, "v=STSv1; id=2"));
  auto d = m::discover(r, "good.test.");
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->id, "42");
  d = m::discover(r, "two.test");
  ASSERT_TRUE(d);
  EXPECT_FALSE(*d);
  d = m::discover(r, "missing.test");
  ASSERT_TRUE(d);
  EXPECT_FALSE(*d);
  d = m::discover(r, ".good.test");
  ASSERT_TRUE(d);
  EXPECT_FALSE(*d);
  r.fail("_mta-sts.down.test");
  EXPECT_FALSE(m::discover(r, "down.test"));
}

TEST(mtasts_dane_lookup, ad_bit_required) {
  mailkit::dns::static_resolver r;
  const std::string digest(32, '\x11');
  r.add("_25._tcp.mx.secure.test", mailkit::dns::rtype::tlsa, mailkit::dns::tlsa{3, 1, 1, digest});
  r.add("_25._tcp.mx.secure.test", mailkit::dns::rtype::tlsa,
        mailkit::dns::tlsa{1, 1, 1, digest}); // PKIX-EE: unusable for SMTP
  r.set_authenticated("_25._tcp.mx.secure.test");
  r.add("_25._tcp.mx.insecure.test", mailkit::dns::rtype::tlsa,
        mailkit::dns::tlsa{3, 1, 1, digest});
  r.add("_25._tcp.mx.unusable.test", mailkit::dns::rtype::tlsa,
        mailkit::dns::tlsa{0, 0, 1, digest});
  r.set_authenticated("_25._tcp.mx.unusable.test");

  auto l = m::lookup_tlsa(r, "mx.secure.test");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, m::dane_state::usable);
  ASSERT_EQ(l->records.size(), 1u);
  EXPECT_EQ(l->records[0].usage, 3);
  l = m::lookup_tlsa(r, "mx.insecure.test");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, m::dane_state::none);
  l = m::lookup_tlsa(r, "mx.unusable.test");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, m::dane_state::unusable);
  l = m::lookup_tlsa(r, "mx.nothing.test");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, m::dane_state::none);
  r.fail("_25._tcp.mx.bogus.test", mailkit::dns::errc::servfail);
  EXPECT_FALSE(m::lookup_tlsa(r, "mx.bogus.test"));
}
