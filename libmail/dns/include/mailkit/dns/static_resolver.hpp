// SPDX-License-Identifier: Apache-2.0
/// @file static_resolver.hpp
/// An in-memory zone that answers inline: the resolver of unit tests, conformance suites
/// (RFC 7208 test suite zones) and benchmarks. Names match case-insensitively (RFC 1035 §2.3.3);
/// a CNAME at a name is followed (at most 8 links, then SERVFAIL as a loop) for other types; a
/// name with no entry at all is NXDOMAIN; a name with entries but none of the asked type is
/// NODATA. A name, or one type at a name, can be set to fail with an error (timeout, servfail)
/// to test temperror paths. Wildcards ("*.example.com") answer for names with no entry of
/// their own beneath them (RFC 4592, simplified: the closest enclosing "*" label).
///
/// As a real authoritative server does: a name that has no records but has names beneath it (an
/// "empty non-terminal", e.g. "example.com" when only "_dmarc.example.com" was added) is NODATA,
/// not NXDOMAIN (RFC 8020); the negative TTL of NXDOMAIN/NODATA comes from the closest enclosing
/// SOA record that was added (RFC 2308 §5), and is 0 (not cacheable) when there is none.
/// Names given to add() and to queries go through to_ascii(), so Unicode names work.
/// Not synchronized: fill the zone first, then query it from any number of threads.
#pragma once

#include <mailkit/core/bytes.hpp>
#include <mailkit/dns/resolver.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

namespace mailkit::dns {

class static_resolver final : public resolver {
public:
  static_resolver() = default;

  /// Add one record. Text forms: A "192.0.2.1", AAAA "2001:db8::1", MX "10 mx.example.com",
  /// TXT the whole record (split into 255-octet strings when longer), PTR/CNAME/NS a host name,
  /// SOA "mname rname serial refresh retry expire minimum", TLSA "usage selector mtype hexdata".
  /// Returns invalid_argument when the text does not parse.
  expected<void> add(std::string_view name, rtype type, std::string_view text,
                     std::uint32_t ttl = 300);
  /// Add a record given as data (e.g. a TXT with explicit string boundaries).
  void add(std::string_view name, rtype type, rdata data, std::uint32_t ttl = 300);
  /// Every query for `name` (any type) fails with `error`.
  void fail(std::string_view name, errc error = errc::timed_out);
  /// Queries for `name` and `type` fail with `error`.
  void fail(std::string_view name, rtype type, errc error = errc::timed_out);
  /// Answers for `name` carry the AD bit.
  void set_authenticated(std::string_view name, bool ad = true);
  /// Remove everything at `name`.
  void erase(std::string_view name);

  void async_query(std::string_view name, rtype type, query_handler handler) override;
  /// The same answer, synchronously (no handler).
  [[nodiscard]] query_result lookup(std::string_view name, rtype type) const;
  /// The answer from a memo of earlier lookups (made on first use; cleared by every change to
  /// the zone). Thread-safe. At most `max_memo` distinct questions are remembered; beyond that
  /// this returns nullptr for new ones and callers fall back to async_query().
  [[nodiscard]] const query_result* answer_now(std::string_view name, rtype type) override;
  static constexpr std::size_t max_memo = 1u << 16;

  /// How many questions were asked (for tests of lookup limits and caching).
  [[nodiscard]] std::size_t queries() const noexcept { return queries_; }

private:
  struct node {
    std::vector<std::pair<rtype, record>> records;
    std::optional<errc> fail_all;
    std::map<rtype, errc> fail_type;
    bool authenticated = false;
  };
  std::map<std::string, node, std::less<>> zone_; // key: lower case, no trailing dot
  std::set<std::string, std::less<>> interior_;   // proper ancestors of names with records
  [[nodiscard]] const node* find(std::string_view name, bool& exists) const;
  void rebuild_interior();
  mutable std::size_t queries_ = 0;

  // answer_now(): question (name as asked, NUL, type) -> the lookup() result. Node-based, so
  // the pointers handed out stay valid while entries are added.
  // Copies and moves of the resolver start with an empty memo (answers are recomputed).
  struct memo_box {
    std::unordered_map<std::string, query_result, fast_string_hash, std::equal_to<>> map;
    std::mutex mutex;
    memo_box() = default;
    memo_box(const memo_box&) {}
    memo_box& operator=(const memo_box&) {
      std::lock_guard lock(mutex);
      map.clear();
      return *this;
    }
  };
  memo_box memo_;
  void clear_memo();
};

} // namespace mailkit::dns
