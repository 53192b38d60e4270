// SPDX-License-Identifier: Apache-2.0
#include <mailkit/dns/cache.hpp>

#include <algorithm>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace mailkit::dns {

struct caching_resolver::state {
  struct entry {
    query_result result;
    clock::time_point stored;
    clock::time_point expires;
    std::list<std::string>::iterator lru; // position in `order`
  };

  state(resolver& u, cache_options o, const clock& c) : upstream(u), options(o), time(c) {}

  resolver& upstream;
  const cache_options options;
  const clock& time;

  mutable std::mutex mutex;
  std::list<std::string> order; // most recently used first
  std::unordered_map<std::string, entry> entries;
  std::unordered_map<std::string, std::vector<query_handler>> in_flight;
  statistics counters;

  // How long to keep a result, or zero for "do not cache".
  [[nodiscard]] std::chrono::milliseconds lifetime(const query_result& r) const {
    if (!r) {
      const auto e = r.error();
      if (e == make_error_code(errc::bad_name) || e == make_error_code(errc::cancelled)) return {};
      // RFC 2308 §7.1: a server failure MUST NOT be cached for longer than five minutes.
      return std::min<std::chrono::milliseconds>(options.error_ttl, std::chrono::minutes(5));
    }
    if (r->empty()) {
      // RFC 2308 §5: negative answers live for min(SOA TTL, SOA MINIMUM), which the resolver
      // put in answer::ttl; 0 (no SOA) means not cacheable.
      return std::chrono::seconds(std::min(r->ttl, options.max_negative_ttl));
    }
    if (r->ttl == 0 && options.min_ttl == 0) return {}; // RFC 1035 §3.2.1: TTL 0, use once
    return std::chrono::seconds(std::clamp(r->ttl, options.min_ttl, options.max_ttl));
  }

  // Caller holds the mutex.
  void store(const std::string& key, const query_result& r, clock::time_point now) {
    const auto keep = lifetime(r);
    if (keep <= std::chrono::milliseconds::zero()) return;
    if (auto it = entries.find(key); it != entries.end()) {
      order.erase(it->second.lru);
      entries.erase(it);
    }
    order.push_front(key);
    entries.emplace(key, entry{r, now, now + keep, order.begin()});
    while (entries.size() > options.max_entries && !order.empty()) {
      entries.erase(order.back());
      order.pop_back();
      ++counters.evictions;
    }
  }

  // Caller holds the mutex. A hit, with TTLs counted down, or nothing.
  std::optional<query_result> find(const std::string& key, clock::time_point now) {
    auto it = entries.find(key);
    if (it == entries.end()) return std::nullopt;
    if (now >= it->second.expires) {
      order.erase(it->second.lru);
      entries.erase(it);
      return std::nullopt;
    }
    order.splice(order.begin(), order, it->second.lru);
    query_result r = it->second.result;
    if (r) {
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::seconds>(now - it->second.stored).count();
      const auto age = static_cast<std::uint32_t>(std::clamp<std::int64_t>(elapsed, 0, UINT32_MAX));
      auto down = [age](std::uint32_t ttl) { return ttl > age ? ttl - age : 0u; };
      r->ttl = down(r->ttl);
      for (auto& rec : r->records)
        rec.ttl = down(rec.ttl);
    }
    return r;
  }

  void complete(const std::string& key, query_result r) {
    std::vector<query_handler> waiters;
    {
      const std::lock_guard lock(mutex);
      store(key, r, time.now());
      if (auto it = in_flight.find(key); it != in_flight.end()) {
        waiters = std::move(it->second);
        in_flight.erase(it);
      }
    }
    // Outside the lock: a handler may ask again.
    for (std::size_t i = 0; i < waiters.size(); ++i) {
      if (i + 1 == waiters.size())
        waiters[i](std::move(r));
      else
        waiters[i](r);
    }
  }
};

caching_resolver::caching_resolver(resolver& upstream, cache_options options, const clock& clock)
    : state_(std::make_shared<state>(upstream, options, clock)) {}

caching_resolver::~caching_resolver() = default;

void caching_resolver::async_query(std::string_view name, rtype type, query_handler handler) {
  auto ascii = to_ascii(name);
  if (!ascii) {
    handler(unexpected(ascii.error()));
    return;
  }
  std::string key = *ascii;
  key.push_back('/');
  key += std::to_string(static_cast<unsigned>(type));

  std::optional<query_result> hit;
  {
    const std::lock_guard lock(state_->mutex);
    hit = state_->find(key, state_->time.now());
    if (hit) {
      ++state_->counters.hits;
    } else if (auto it = state_->in_flight.find(key); it != state_->in_flight.end()) {
      ++state_->counters.coalesced;
      it->second.push_back(std::move(handler));
      return;
    } else {
      ++state_->counters.misses;
      state_->in_flight[key].push_back(std::move(handler));
    }
  }
  if (hit) {
    handler(std::move(*hit));
    return;
  }
  // The state stays alive while the upstream holds this handler, even if the cache goes away.
  state_->upstream.async_query(*ascii, type, [st = state_, key = std::move(key)](query_result r) {
    st->complete(key, std::move(r));
  });
}

caching_resolver::statistics caching_resolver::stats() const {
  const std::lock_guard lock(state_->mutex);
  statistics s = state_->counters;
  s.entries = state_->entries.size();
  return s;
}

void caching_resolver::clear() {
  const std::lock_guard lock(state_->mutex);
  state_->entries.clear();
  state_->order.clear();
}

} // namespace mailkit::dns
