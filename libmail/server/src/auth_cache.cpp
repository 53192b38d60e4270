// SPDX-License-Identifier: Apache-2.0
#include <mailkit/server/auth_cache.hpp>

#include <sodium.h>

#include <cstdlib>

namespace mailkit::server {
namespace {

// Each field is length-prefixed, so that ("ab", "c") and ("a", "bc") never share a keyed hash.
void update_field(crypto_auth_hmacsha256_state& st, std::string_view field) {
  const auto n = static_cast<std::uint64_t>(field.size());
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>(n >> (8 * i));
  crypto_auth_hmacsha256_update(&st, len, sizeof len);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(field.data()),
                                field.size());
}

} // namespace

auth_cache::auth_cache(auth_cache_options opts) : opts_(std::move(opts)) {
  // libsodium's generator needs sodium_init(); without it there is no safe key, and a cache
  // keyed with a guessable key must not exist: fail loudly at construction, not at a login.
  if (sodium_init() < 0) std::abort();
  randombytes_buf(key_.data(), key_.size());
}

std::chrono::steady_clock::time_point auth_cache::now() const {
  return opts_.clock ? opts_.clock() : std::chrono::steady_clock::now();
}

auth_cache::digest auth_cache::mac_of(std::string_view user, std::string_view stored_hash,
                                      std::string_view password) const {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key_.data(), key_.size());
  update_field(st, user);
  update_field(st, stored_hash);
  update_field(st, password);
  digest out;
  crypto_auth_hmacsha256_final(&st, out.data());
  sodium_memzero(&st, sizeof st);
  return out;
}

bool auth_cache::verified(std::string_view user, std::string_view stored_hash,
                          std::string_view password) {
  if (opts_.max_entries == 0) return false;
  const digest mac = mac_of(user, stored_hash, password); // outside the lock: HMAC is the work
  const auto t = now();
  std::lock_guard lock(mutex_);
  auto it = by_user_.find(user);
  if (it == by_user_.end()) {
    ++stats_.misses;
    return false;
  }
  auto e = it->second;
  if (t >= e->expires) {
    by_user_.erase(it);
    lru_.erase(e);
    ++stats_.misses;
    return false;
  }
  if (sodium_memcmp(e->mac.data(), mac.data(), mac.size()) != 0) {
    // A wrong password, or the stored hash changed: the entry stays (the right password may
    // follow); a successful full check replaces it.
    ++stats_.misses;
    return false;
  }
  lru_.splice(lru_.begin(), lru_, e);
  ++stats_.hits;
  return true;
}

void auth_cache::remember(std::string_view user, std::string_view stored_hash,
                          std::string_view password) {
  if (opts_.max_entries == 0) return;
  const digest mac = mac_of(user, stored_hash, password);
  const auto expires = now() + opts_.ttl;
  std::lock_guard lock(mutex_);
  if (auto it = by_user_.find(user); it != by_user_.end()) {
    auto e = it->second;
    e->mac = mac;
    e->expires = expires;
    lru_.splice(lru_.begin(), lru_, e);
    return;
  }
  while (lru_.size() >= opts_.max_entries) {
    by_user_.erase(std::string_view(lru_.back().user));
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(entry{std::string(user), mac, expires});
  by_user_.emplace(std::string_view(lru_.front().user), lru_.begin());
}

void auth_cache::forget(std::string_view user) {
  std::lock_guard lock(mutex_);
  if (auto it = by_user_.find(user); it != by_user_.end()) {
    auto e = it->second;
    by_user_.erase(it);
    lru_.erase(e);
  }
}

void auth_cache::clear() {
  std::lock_guard lock(mutex_);
  by_user_.clear();
  lru_.clear();
}

std::size_t auth_cache::size() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

auth_cache_stats auth_cache::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

expected<store::auth_result> authenticate_cached(store::directory& dir, auth_cache* cache,
                                                 std::string_view user, std::string_view password) {
  if (cache && cache->options().max_entries > 0) {
    auto stored = dir.password_hash(user);
    if (!stored) return make_unexpected(stored.error());
    // An unknown account has no hash and never hits: the full check below costs the same
    // Argon2 work as for a real account.
    if (*stored && cache->verified(user, **stored, password))
      return store::auth_result{true, false, std::move(**stored)};
  }
  auto r = dir.authenticate(user, password);
  // The hash the check verified against (the new one after a rehash), not one read before or
  // after it: a password changed in between can never pair the old password with the new hash.
  if (cache && r && r->ok && !r->verified_hash.empty())
    cache->remember(user, r->verified_hash, password);
  return r;
}

} // namespace mailkit::server
