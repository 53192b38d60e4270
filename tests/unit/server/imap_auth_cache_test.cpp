// SPDX-License-Identifier: Apache-2.0
// The cache of verified credentials (server/auth_cache.hpp) on its own (hit, a different
// password or stored hash misses, TTL expiry with an injected clock, the LRU size bound, off
// at max_entries = 0, forget) and through authenticate_cached() over a real store, counting
// the full checks the store runs: a cached login runs none, a wrong password always runs one
// and never succeeds, a password change makes the old password miss and fail, a rehashed
// imported hash is cached as the new hash, an unknown account is never cached. Last, IMAP
// LOGIN through imap_executor with the cache set.
#include <mailkit/server/auth_cache.hpp>
#include <mailkit/server/imap_executor.hpp>

#include <gtest/gtest.h>

#include <crypt.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;
namespace srv = mailkit::server;
namespace st = mailkit::store;
using namespace std::chrono_literals;

namespace {

struct fake_clock {
  std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
  srv::auth_cache_options options(std::size_t max_entries = 100, std::chrono::seconds ttl = 60s) {
    srv::auth_cache_options o;
    o.max_entries = max_entries;
    o.ttl = ttl;
    o.clock = [this] { return t; };
    return o;
  }
};

TEST(auth_cache, HitAfterRemember) {
  fake_clock c;
  srv::auth_cache cache(c.options());
  EXPECT_FALSE(cache.verified("bob@example.com", "$argon2id$h1", "secret"));
  cache.remember("bob@example.com", "$argon2id$h1", "secret");
  EXPECT_TRUE(cache.verified("bob@example.com", "$argon2id$h1", "secret"));
  EXPECT_TRUE(cache.verified("bob@example.com", "$argon2id$h1", "secret"));
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(auth_cache, WrongPasswordOtherHashOrOtherUserMiss) {
  fake_clock c;
  srv::auth_cache cache(c.options());
  cache.remember("bob@example.com", "$argon2id$h1", "secret");
  EXPECT_FALSE(cache.verified("bob@example.com", "$argon2id$h1", "Secret"));
  EXPECT_FALSE(cache.verified("bob@example.com", "$argon2id$h1", "secret "));
  EXPECT_FALSE(cache.verified("bob@example.com", "$argon2id$h1", ""));
  // The stored hash changed (set_password, rehash): the same password misses.
  EXPECT_FALSE(cache.verified("bob@example.com", "$argon2id$h2", "secret"));
  EXPECT_FALSE(cache.verified("eve@example.com", "$argon2id$h1", "secret"));
  // Field boundaries are part of the keyed hash: shifting octets between fields misses.
  EXPECT_FALSE(cache.verified("bob@example.com", "$argon2id$h1s", "ecret"));
  // A wrong password does not drop the entry.
  EXPECT_TRUE(cache.verified("bob@example.com", "$argon2id$h1", "secret"));
}

TEST(auth_cache, EntriesExpireAfterTheTtl) {
  fake_clock c;
  srv::auth_cache cache(c.options(100, 60s));
  cache.remember("bob@example.com", "h", "pw");
  c.t += 59s;
  EXPECT_TRUE(cache.verified("bob@example.com", "h", "pw"));
  c.t += 1s; // a hit does not extend the TTL: 60 s after remember() it is gone
  EXPECT_FALSE(cache.verified("bob@example.com", "h", "pw"));
  EXPECT_EQ(cache.size(), 0u);
  cache.remember("bob@example.com", "h", "pw");
  c.t += 30s;
  EXPECT_TRUE(cache.verified("bob@example.com", "h", "pw"));
}

TEST(auth_cache, SizeIsBoundedLeastRecentlyUsedFirstOut) {
  fake_clock c;
  srv::auth_cache cache(c.options(3));
  cache.remember("a", "h", "pw");
  cache.remember("b", "h", "pw");
  cache.remember("c", "h", "pw");
  EXPECT_TRUE(cache.verified("a", "h", "pw")); // a is now the most recently used
  cache.remember("d", "h", "pw");              // pushes out b
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.verified("b", "h", "pw"));
  EXPECT_TRUE(cache.verified("a", "h", "pw"));
  EXPECT_TRUE(cache.verified("c", "h", "pw"));
  EXPECT_TRUE(cache.verified("d", "h", "pw"));
  EXPECT_EQ(cache.stats().evictions, 1u);
  // Remembering a known user again replaces its entry: no growth.
  cache.remember("a", "h2", "pw2");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.verified("a", "h", "pw"));
  EXPECT_TRUE(cache.verified("a", "h2", "pw2"));
  // Many users: never more than the bound.
  for (int i = 0; i < 1000; ++i)
    cache.remember("user" + std::to_string(i), "h", "pw");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.verified("user999", "h", "pw"));
  EXPECT_FALSE(cache.verified("user996", "h", "pw"));
}

TEST(auth_cache, OffAndForget) {
  fake_clock c;
  srv::auth_cache off(c.options(0));
  off.remember("bob", "h", "pw");
  EXPECT_FALSE(off.verified("bob", "h", "pw"));
  EXPECT_EQ(off.size(), 0u);
  srv::auth_cache on(c.options());
  on.remember("bob", "h", "pw");
  on.remember("eve", "h", "pw");
  on.forget("bob");
  EXPECT_FALSE(on.verified("bob", "h", "pw"));
  EXPECT_TRUE(on.verified("eve", "h", "pw"));
  on.clear();
  EXPECT_FALSE(on.verified("eve", "h", "pw"));
}

TEST(auth_cache, KeysDifferPerProcessInstance) {
  // Two caches (two processes) never share a keyed hash: an entry of one is useless to the
  // other. Seen from outside: remembering in one does not make the other hit.
  srv::auth_cache a, b;
  a.remember("bob", "h", "pw");
  EXPECT_TRUE(a.verified("bob", "h", "pw"));
  EXPECT_FALSE(b.verified("bob", "h", "pw"));
}

/// A directory that forwards to the real store and counts the full password checks.
class counting_directory final : public st::directory {
public:
  explicit counting_directory(st::mail_store& s) : s_(s) {}
  int full_checks = 0;

  mailkit::expected<st::auth_result> authenticate(std::string_view a, std::string_view p) override {
    ++full_checks;
    return s_.authenticate(a, p);
  }
  mailkit::expected<std::optional<std::string>> password_hash(std::string_view a) override {
    return s_.password_hash(a);
  }
  mailkit::expected<void> add_domain(std::string_view d) override { return s_.add_domain(d); }
  mailkit::expected<void> remove_domain(std::string_view d, bool c) override {
    return s_.remove_domain(d, c);
  }
  mailkit::expected<std::vector<std::string>> domains() override { return s_.domains(); }
  mailkit::expected<void> add_account(std::string_view a, std::string_view p,
                                      st::quota q) override {
    return s_.add_account(a, p, q);
  }
  mailkit::expected<void> add_account_with_hash(std::string_view a, std::string_view h,
                                                st::quota q) override {
    return s_.add_account_with_hash(a, h, q);
  }
  mailkit::expected<void> remove_account(std::string_view a) override {
    return s_.remove_account(a);
  }
  mailkit::expected<std::vector<st::account_info>> accounts(std::string_view d) override {
    return s_.accounts(d);
  }
  mailkit::expected<st::account_info> account(std::string_view a) override { return s_.account(a); }
  mailkit::expected<void> set_password(std::string_view a, std::string_view p) override {
    return s_.set_password(a, p);
  }
  mailkit::expected<void> set_quota(std::string_view a, st::quota q) override {
    return s_.set_quota(a, q);
  }
  mailkit::expected<void> add_alias(std::string_view s, std::span<const std::string> t) override {
    return s_.add_alias(s, t);
  }
  mailkit::expected<void> remove_alias(std::string_view s, std::string_view t) override {
    return s_.remove_alias(s, t);
  }
  mailkit::expected<std::vector<std::pair<std::string, std::string>>>
  aliases(std::string_view d) override {
    return s_.aliases(d);
  }
  mailkit::expected<st::resolution> resolve_recipient(std::string_view a) override {
    return s_.resolve_recipient(a);
  }

private:
  st::mail_store& s_;
};

struct store_fixture : ::testing::Test {
  fs::path dir;
  std::shared_ptr<st::mail_store> store;

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_auth_cache_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    st::open_options o;
    o.path = (dir / "store").string();
    o.passwords.opslimit = 1;
    o.passwords.memlimit = 8u << 10 << 10;
    auto s = st::open(std::move(o));
    ASSERT_TRUE(s) << s.error().message();
    store = std::move(*s);
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account("bob@example.com", "pw-bob-123"));
  }
  void TearDown() override {
    store.reset();
    fs::remove_all(dir);
  }
  bool login(counting_directory& d, srv::auth_cache& c, std::string_view user,
             std::string_view pw) {
    auto r = srv::authenticate_cached(d, &c, user, pw);
    EXPECT_TRUE(r) << r.error().message();
    return r && r->ok;
  }
};

TEST_F(store_fixture, CachedLoginRunsNoFullCheck) {
  counting_directory d(*store);
  srv::auth_cache cache;
  EXPECT_TRUE(login(d, cache, "bob@example.com", "pw-bob-123"));
  EXPECT_EQ(d.full_checks, 1);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(login(d, cache, "bob@example.com", "pw-bob-123"));
  EXPECT_EQ(d.full_checks, 1);
  EXPECT_EQ(cache.stats().hits, 5u);
}

TEST_F(store_fixture, WrongPasswordNeverHitsAndIsNeverCached) {
  counting_directory d(*store);
  srv::auth_cache cache;
  EXPECT_FALSE(login(d, cache, "bob@example.com", "wrong"));
  EXPECT_FALSE(login(d, cache, "bob@example.com", "wrong"));
  EXPECT_EQ(d.full_checks, 2);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(login(d, cache, "bob@example.com", "pw-bob-123"));
  // With the right password cached, a wrong one still costs the full check and fails.
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(login(d, cache, "bob@example.com", "pw-bob-12"));
  EXPECT_EQ(d.full_checks, 6);
  EXPECT_EQ(cache.stats().hits, 0u);
}

TEST_F(store_fixture, PasswordChangeMisses) {
  counting_directory d(*store);
  srv::auth_cache cache;
  EXPECT_TRUE(login(d, cache, "bob@example.com", "pw-bob-123"));
  ASSERT_TRUE(store->set_password("bob@example.com", "new-password-456"));
  EXPECT_FALSE(login(d, cache, "bob@example.com", "pw-bob-123"));
  EXPECT_EQ(d.full_checks, 2);
  EXPECT_TRUE(login(d, cache, "bob@example.com", "new-password-456"));
  EXPECT_EQ(d.full_checks, 3);
  EXPECT_TRUE(login(d, cache, "bob@example.com", "new-password-456"));
  EXPECT_EQ(d.full_checks, 3);
  EXPECT_FALSE(login(d, cache, "bob@example.com", "pw-bob-123"));
}

TEST_F(store_fixture, RehashedImportIsCachedAsTheNewHash) {
  crypt_data data{};
  const char* h = crypt_r("imported-pw", "$6$saltsaltsalt$", &data);
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE(
      store->add_account_with_hash("carol@example.com", std::string("{SHA512-CRYPT}") + h, {}));
  counting_directory d(*store);
  srv::auth_cache cache;
  EXPECT_TRUE(login(d, cache, "carol@example.com", "imported-pw")); // verifies, rehashes
  auto now = store->password_hash("carol@example.com");
  ASSERT_TRUE(now && *now);
  EXPECT_TRUE((*now)->starts_with("$argon2id$")) << **now;
  EXPECT_TRUE(login(d, cache, "carol@example.com", "imported-pw"));
  EXPECT_EQ(d.full_checks, 1);
}

TEST_F(store_fixture, UnknownAccountIsNeverCached) {
  counting_directory d(*store);
  srv::auth_cache cache;
  EXPECT_FALSE(login(d, cache, "nobody@example.com", "pw"));
  EXPECT_FALSE(login(d, cache, "nobody@example.com", "pw"));
  EXPECT_EQ(d.full_checks, 2);
  EXPECT_EQ(cache.size(), 0u);
  // Removing the account: the cached entry has no stored hash to match any more.
  EXPECT_TRUE(login(d, cache, "bob@example.com", "pw-bob-123"));
  ASSERT_TRUE(store->remove_account("bob@example.com"));
  EXPECT_FALSE(login(d, cache, "bob@example.com", "pw-bob-123"));
}

TEST_F(store_fixture, ImapLoginUsesTheCache) {
  auto cache = std::make_shared<srv::auth_cache>();
  for (int i = 0; i < 3; ++i) {
    srv::imap_executor exec(store);
    exec.set_auth_cache(cache);
    auto who = exec.authenticate("bob@example.com", "pw-bob-123");
    ASSERT_TRUE(who);
    EXPECT_EQ(*who, "bob@example.com");
    EXPECT_FALSE(exec.authenticate("bob@example.com", "wrong"));
  }
  EXPECT_EQ(cache->stats().hits, 2u);
  EXPECT_EQ(cache->size(), 1u);
}

} // namespace
