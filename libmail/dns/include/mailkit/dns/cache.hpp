// SPDX-License-Identifier: Apache-2.0
/// @file cache.hpp
/// A caching resolver in front of any other: answers are kept for their TTL, negative answers
/// (NXDOMAIN and NODATA) for their negative TTL, identical questions asked while one is on the
/// wire share its answer, and the cache holds at most a fixed number of entries (least recently
/// used go first). Time comes from an injectable mailkit::clock, so tests move it by hand.
///
/// **Standards**: RFC 1035 §7.4 (cache by TTL); RFC 2181 §8 (TTL range, already applied by the
/// parser) ; RFC 2308 §5 (negative caching with the SOA minimum; answers without a negative TTL
/// are not cached) and §7.1 (SERVFAIL may be cached for at most 5 minutes); RFC 8767 §4 (cap on
/// TTLs; we cap lower, one day by default).
///
/// **Errors** (timeout, SERVFAIL, network) are not cached by default: every caller that gets one
/// asked the upstream itself, except callers that were coalesced onto that same query. Set
/// `error_ttl` to remember them briefly (at most 300 s are honoured, RFC 2308 §7.1); bad_name and
/// cancelled are never cached.
///
/// **Security**: holds untrusted data in memory, bounded by `max_entries` (each entry at most
/// one 64 KiB message's worth of records).
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/dns/resolver.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace mailkit::dns {

struct cache_options {
  std::size_t max_entries = 10000;        ///< bound on (name, type) entries, LRU eviction
  std::uint32_t min_ttl = 0;              ///< positive answers are kept at least this long
  std::uint32_t max_ttl = 86400;          ///< and at most this long (seconds)
  std::uint32_t max_negative_ttl = 10800; ///< RFC 2308 §5: one to three hours is reasonable
  std::chrono::milliseconds error_ttl{0}; ///< 0: errors are not cached (see above)
};

/// @note Thread safety: async_query() may be called from any thread. A cache hit completes
/// inline; a miss completes where the upstream completes (its executor), and so do the callers
/// that were coalesced onto it.
class caching_resolver final : public resolver {
public:
  /// `upstream` and `clock` must outlive this object and every query started through it.
  explicit caching_resolver(resolver& upstream, cache_options options = {},
                            const clock& clock = default_clock());
  ~caching_resolver() override;
  caching_resolver(const caching_resolver&) = delete;
  caching_resolver& operator=(const caching_resolver&) = delete;

  /// Answers from the cache carry the remaining TTL (records and `answer::ttl` count down).
  void async_query(std::string_view name, rtype type, query_handler handler) override;

  struct statistics {
    std::uint64_t hits = 0;      ///< answered from the cache
    std::uint64_t misses = 0;    ///< sent upstream
    std::uint64_t coalesced = 0; ///< joined a query already on the wire
    std::uint64_t evictions = 0; ///< dropped to stay within max_entries
    std::size_t entries = 0;     ///< entries held now (expired ones included until touched)
  };
  [[nodiscard]] statistics stats() const;
  /// Forget every entry (queries on the wire still complete and are cached).
  void clear();

  struct state;

private:
  std::shared_ptr<state> state_;
};

} // namespace mailkit::dns
