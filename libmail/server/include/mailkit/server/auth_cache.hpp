// SPDX-License-Identifier: Apache-2.0
/// @file auth_cache.hpp
/// A cache of verified credentials, so that a client logging in again and again (a phone
/// polling every minute, webmail opening an IMAP connection per page) pays the Argon2id check
/// once per TTL instead of every time, as Dovecot's auth_cache does. After a successful check
/// it keeps, per user, a keyed hash HMAC-SHA-256(k, user, stored hash, password) with a
/// per-process random key k; a later login whose keyed hash is equal, within the TTL, is
/// verified without Argon2. The stored hash is part of the key, so a password change (or the
/// rehash of an imported hash) makes the entry miss; a failed check is never remembered, so a
/// wrong password always costs a full check (and the caller's throttling stays as it is).
/// Shared by the IMAP service and, through authenticate_cached(), any other login path (SMTP
/// AUTH): one instance per process, thread-safe.
///
/// **Standards**: none (a local optimisation). RFC 2104 / FIPS 198-1 HMAC with SHA-256.
/// **Security**: holds secrets. No password and no stored hash is kept: only the keyed hash,
/// whose key is random per process and never leaves it, so the cache's memory does not help an
/// offline guess. Comparisons are constant time. Bounded: at most `max_entries` users (least
/// recently used first out), each entry at most `ttl` old.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/store/store.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mailkit::server {

struct auth_cache_options {
  /// How long a verified password stays verified (Dovecot's auth_cache_ttl, also 1 hour).
  std::chrono::seconds ttl{std::chrono::hours(1)};
  /// Users remembered at once (about 150 octets each); 0 turns the cache off.
  std::size_t max_entries = 10000;
  /// The clock (tests inject one); steady_clock::now when empty.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

struct auth_cache_stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;    ///< no entry, an expired one, or a different keyed hash
  std::uint64_t evictions = 0; ///< least recently used entries pushed out by the size bound
};

class auth_cache {
public:
  explicit auth_cache(auth_cache_options opts = {});
  auth_cache(const auth_cache&) = delete;
  auth_cache& operator=(const auth_cache&) = delete;

  /// True when `password` was verified for `user` against exactly `stored_hash` less than the
  /// TTL ago (counts a hit or a miss; an expired entry is dropped).
  [[nodiscard]] bool verified(std::string_view user, std::string_view stored_hash,
                              std::string_view password);
  /// Remember that `password` verified against `stored_hash` for `user`: call only after a
  /// successful full check. Replaces the user's previous entry.
  void remember(std::string_view user, std::string_view stored_hash, std::string_view password);
  /// Drop the entry of `user` (an operator disabled the account, say).
  void forget(std::string_view user);
  void clear();

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] auth_cache_stats stats() const;
  [[nodiscard]] const auth_cache_options& options() const noexcept { return opts_; }

private:
  using digest = std::array<unsigned char, 32>;
  struct entry {
    std::string user;
    digest mac;
    std::chrono::steady_clock::time_point expires;
  };
  [[nodiscard]] digest mac_of(std::string_view user, std::string_view stored_hash,
                              std::string_view password) const;
  [[nodiscard]] std::chrono::steady_clock::time_point now() const;

  auth_cache_options opts_;
  std::array<unsigned char, 32> key_{}; ///< random per process (per instance)
  mutable std::mutex mutex_;
  std::list<entry> lru_; ///< most recently used first
  std::unordered_map<std::string_view, std::list<entry>::iterator> by_user_; ///< views lru_
  auth_cache_stats stats_;
};

/// Verify a login through `cache`: read the account's stored hash (one database read), answer
/// from the cache when the keyed hash of (user, that hash, password) is there, otherwise run
/// the directory's full check (Argon2id, the same cost for unknown accounts, rehashing imported
/// hashes) and remember a success. `cache` may be null (no caching). An unknown account and a
/// wrong password are `ok == false`; store failures are errors, as from
/// store::directory::authenticate.
[[nodiscard]] expected<store::auth_result> authenticate_cached(store::directory& dir,
                                                               auth_cache* cache,
                                                               std::string_view user,
                                                               std::string_view password);

} // namespace mailkit::server
