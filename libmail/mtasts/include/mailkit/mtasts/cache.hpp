// SPDX-License-Identifier: Apache-2.0
/// @file cache.hpp
/// The MTA-STS policy cache and the resolution a relay asks for before delivering to a domain.
///
/// A policy protects against a downgrade only if the sender remembers it: a man in the middle
/// who strips the TXT record or blocks the HTTPS fetch must not switch protection off (RFC 8461
/// §5, §10.2). So policies are kept until their max_age runs out, in a durable cache
/// (sqlite_policy_cache, a SQLite database in WAL mode with synchronous=FULL), and resolve()
/// applies the rules of RFC 8461 §3.3 and §5.1: refresh when the TXT id changes or the policy
/// is half-way to expiry, keep using an unexpired cached policy when discovery or fetch fails.
///
/// **Standards**: RFC 8461 §3.3 (fetch failure handling), §5 and §5.1 (caching, refresh).
///
/// **Security**: the cache file holds only public policies; it is written by this process
/// only. Blocking (SQLite, network): run on a worker thread, never on an I/O thread.
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/mtasts/mtasts.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace mailkit::mtasts {

/// A policy as remembered.
struct cached_policy {
  std::string domain; ///< the Policy Domain, A-labels, lower case
  std::string id;     ///< the TXT record id it was fetched under
  policy value;
  mailkit::clock::time_point fetched_at;
  mailkit::clock::time_point expires_at; ///< fetched_at + max_age (RFC 8461 §3.2)
};

/// Where resolved policies are kept. Implementations are thread-safe.
class policy_cache {
public:
  virtual ~policy_cache() = default;
  /// The entry for `domain`, expired or not, or std::nullopt.
  [[nodiscard]] virtual expected<std::optional<cached_policy>> get(std::string_view domain) = 0;
  /// Insert or replace the entry for p.domain; durable when this returns (sqlite).
  [[nodiscard]] virtual expected<void> put(const cached_policy& p) = 0;
  [[nodiscard]] virtual expected<void> remove(std::string_view domain) = 0;
};

/// In memory, for tests and short-lived tools.
class memory_policy_cache final : public policy_cache {
public:
  [[nodiscard]] expected<std::optional<cached_policy>> get(std::string_view domain) override;
  [[nodiscard]] expected<void> put(const cached_policy& p) override;
  [[nodiscard]] expected<void> remove(std::string_view domain) override;

private:
  std::mutex mutex_;
  std::map<std::string, cached_policy, std::less<>> entries_;
};

/// Durable: one SQLite database file (WAL, synchronous=FULL). A corrupt or unreadable file is
/// an error from open(); a corrupt row is dropped on read (the policy is fetched again).
class sqlite_policy_cache final : public policy_cache {
public:
  /// Open or create the database at `path` (the directory must exist).
  [[nodiscard]] static expected<std::unique_ptr<sqlite_policy_cache>> open(const std::string& path);
  ~sqlite_policy_cache() override;
  sqlite_policy_cache(const sqlite_policy_cache&) = delete;
  sqlite_policy_cache& operator=(const sqlite_policy_cache&) = delete;

  [[nodiscard]] expected<std::optional<cached_policy>> get(std::string_view domain) override;
  [[nodiscard]] expected<void> put(const cached_policy& p) override;
  [[nodiscard]] expected<void> remove(std::string_view domain) override;

  struct impl;

private:
  explicit sqlite_policy_cache(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Where resolve() gets fresh data: the TXT lookup and the HTTPS fetch. network_source() wires
/// them to discover() and fetch_policy(); tests may give functions of their own.
struct policy_source {
  std::function<expected<std::optional<txt_record>>(std::string_view domain)> discover;
  std::function<expected<policy>(std::string_view domain)> fetch;
};
/// The real source. `r` must outlive the returned functions.
[[nodiscard]] policy_source network_source(dns::resolver& r, fetch_options options = {});

/// The outcome of resolve().
struct resolution {
  std::optional<cached_policy> active; ///< the policy to apply, or none (deliver as before)
  bool fetched = false;                ///< a fetch was made and succeeded (the cache was updated)
  /// Set when discovery or a fetch failed (whether or not a cached policy stood in); TLS-RPT
  /// reports it as sts-policy-fetch-error / sts-policy-invalid / sts-webpki-invalid.
  error_code error;
};

/// When to fetch again although the TXT id is unchanged: after half of max_age, and at least
/// daily (RFC 8461 §5.1 asks senders to refresh "well before" expiry).
[[nodiscard]] bool needs_refresh(const cached_policy& p, mailkit::clock::time_point now);

/// The policy to apply to `domain` now (RFC 8461 §3.3, §5.1):
///  1. an expired cache entry is dropped;
///  2. discover the TXT record; when there is none or DNS fails, the cached policy (if any) stays
///     in force;
///  3. with a record whose id differs from the cached one, or a cached policy due for refresh
///     (needs_refresh()), or nothing cached: fetch; store a fetched policy;
///  4. when the fetch fails, the unexpired cached policy stays in force; with none, there is no
///     policy ("as though the domain has not implemented MTA-STS", §3.3).
/// Only a failure of the cache itself is an error.
[[nodiscard]] expected<resolution> resolve(policy_cache& cache, const policy_source& source,
                                           std::string_view domain,
                                           const mailkit::clock& clock = default_clock());

} // namespace mailkit::mtasts
