// SPDX-License-Identifier: Apache-2.0
// Policy caches (memory, SQLite) and the RFC 8461 §5.1 resolution.
#include <mailkit/dns/resolver.hpp>
#include <mailkit/mtasts/cache.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cctype>

namespace mailkit::mtasts {

namespace {

std::string normalize(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  std::string out(domain);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::int64_t to_seconds(mailkit::clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
mailkit::clock::time_point from_seconds(std::int64_t s) {
  return mailkit::clock::time_point(std::chrono::seconds(s));
}

struct stmt_deleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_deleter>;

// SQLITE_BUSY/LOCKED/IOERR/FULL may pass; the rest (corruption, misuse) will not.
error_code sqlite_error(int rc) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
      primary == SQLITE_FULL || primary == SQLITE_NOMEM)
    return make_error_code(mailkit::errc::io_error);
  return make_error_code(mailkit::errc::malformed_input);
}

} // namespace

// ---- memory ------------------------------------------------------------------------------

expected<std::optional<cached_policy>> memory_policy_cache::get(std::string_view domain) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(normalize(domain));
  if (it == entries_.end()) return std::optional<cached_policy>{};
  return std::optional<cached_policy>(it->second);
}

expected<void> memory_policy_cache::put(const cached_policy& p) {
  std::lock_guard lock(mutex_);
  auto copy = p;
  copy.domain = normalize(p.domain);
  entries_[copy.domain] = std::move(copy);
  return {};
}

expected<void> memory_policy_cache::remove(std::string_view domain) {
  std::lock_guard lock(mutex_);
  entries_.erase(normalize(domain));
  return {};
}

// ---- SQLite ------------------------------------------------------------------------------

struct sqlite_policy_cache::impl {
  sqlite3* db = nullptr;
  std::mutex mutex;
  ~impl() {
    if (db != nullptr) sqlite3_close(db);
  }
  expected<stmt_ptr> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    if (rc != SQLITE_OK) return unexpected(sqlite_error(rc));
    return stmt_ptr(s);
  }
};

expected<std::unique_ptr<sqlite_policy_cache>> sqlite_policy_cache::open(const std::string& path) {
  auto p = std::make_unique<impl>();
  int rc =
      sqlite3_open_v2(path.c_str(), &p->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return unexpected(sqlite_error(rc));
  sqlite3_busy_timeout(p->db, 5000);
  // DESIGN.md §4: WAL with synchronous=FULL, so a put() that returned survives a crash.
  const char* setup = "PRAGMA journal_mode=WAL;"
                      "PRAGMA synchronous=FULL;"
                      "CREATE TABLE IF NOT EXISTS mtasts_policy ("
                      "  domain TEXT PRIMARY KEY,"
                      "  id TEXT NOT NULL,"
                      "  policy TEXT NOT NULL,"
                      "  fetched_at INTEGER NOT NULL,"
                      "  expires_at INTEGER NOT NULL);";
  rc = sqlite3_exec(p->db, setup, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return unexpected(sqlite_error(rc));
  return std::unique_ptr<sqlite_policy_cache>(new sqlite_policy_cache(std::move(p)));
}

sqlite_policy_cache::sqlite_policy_cache(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
sqlite_policy_cache::~sqlite_policy_cache() = default;

expected<std::optional<cached_policy>> sqlite_policy_cache::get(std::string_view domain) {
  std::lock_guard lock(impl_->mutex);
  const std::string key = normalize(domain);
  auto s = impl_->prepare(
      "SELECT id, policy, fetched_at, expires_at FROM mtasts_policy WHERE domain = ?1");
  if (!s) return unexpected(s.error());
  sqlite3_bind_text(s->get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  const int rc = sqlite3_step(s->get());
  if (rc == SQLITE_DONE) return std::optional<cached_policy>{};
  if (rc != SQLITE_ROW) return unexpected(sqlite_error(rc));
  cached_policy out;
  out.domain = key;
  const auto text = [&](int col) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s->get(), col));
    return t == nullptr ? std::string() : std::string(t);
  };
  out.id = text(0);
  auto parsed = parse_policy(text(1));
  out.fetched_at = from_seconds(sqlite3_column_int64(s->get(), 2));
  out.expires_at = from_seconds(sqlite3_column_int64(s->get(), 3));
  if (!parsed) {
    // A row we cannot read back is worth nothing: forget it and fetch again.
    s->reset();
    auto del = impl_->prepare("DELETE FROM mtasts_policy WHERE domain = ?1");
    if (del) {
      sqlite3_bind_text(del->get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
      (void)sqlite3_step(del->get());
    }
    return std::optional<cached_policy>{};
  }
  out.value = std::move(*parsed);
  return std::optional<cached_policy>(std::move(out));
}

expected<void> sqlite_policy_cache::put(const cached_policy& p) {
  std::lock_guard lock(impl_->mutex);
  const std::string key = normalize(p.domain);
  const std::string text = p.value.to_text();
  auto s = impl_->prepare("INSERT INTO mtasts_policy (domain, id, policy, fetched_at, expires_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(domain) DO UPDATE SET"
                          " id = excluded.id, policy = excluded.policy,"
                          " fetched_at = excluded.fetched_at, expires_at = excluded.expires_at");
  if (!s) return unexpected(s.error());
  sqlite3_bind_text(s->get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s->get(), 2, p.id.data(), static_cast<int>(p.id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s->get(), 3, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s->get(), 4, to_seconds(p.fetched_at));
  sqlite3_bind_int64(s->get(), 5, to_seconds(p.expires_at));
  const int rc = sqlite3_step(s->get());
  if (rc != SQLITE_DONE) return unexpected(sqlite_error(rc));
  return {};
}

expected<void> sqlite_policy_cache::remove(std::string_view domain) {
  std::lock_guard lock(impl_->mutex);
  const std::string key = normalize(domain);
  auto s = impl_->prepare("DELETE FROM mtasts_policy WHERE domain = ?1");
  if (!s) return unexpected(s.error());
  sqlite3_bind_text(s->get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  const int rc = sqlite3_step(s->get());
  if (rc != SQLITE_DONE) return unexpected(sqlite_error(rc));
  return {};
}

// ---- resolution --------------------------------------------------------------------------

policy_source network_source(dns::resolver& r, fetch_options options) {
  policy_source s;
  s.discover = [&r](std::string_view domain) { return mtasts::discover(r, domain); };
  s.fetch = [&r, options = std::move(options)](std::string_view domain) {
    return fetch_policy(domain, r, options);
  };
  return s;
}

bool needs_refresh(const cached_policy& p, mailkit::clock::time_point now) {
  const auto lifetime = p.expires_at - p.fetched_at;
  const auto interval =
      std::min<std::chrono::system_clock::duration>(lifetime / 2, std::chrono::hours(24));
  return now >= p.fetched_at + interval;
}

expected<resolution> resolve(policy_cache& cache, const policy_source& source,
                             std::string_view domain_in, const mailkit::clock& clock) {
  const std::string domain = normalize(domain_in);
  const auto now = clock.now();
  resolution out;
  auto cached = cache.get(domain);
  if (!cached) return unexpected(cached.error());
  if (*cached && now >= (*cached)->expires_at) {
    // RFC 8461 §5: a policy is applied only until max_age has passed since it was fetched.
    if (auto ok = cache.remove(domain); !ok) return unexpected(ok.error());
    cached->reset();
  }
  auto record = source.discover(domain);
  if (!record) {
    // RFC 8461 §5.1: a failed lookup leaves the cached policy in force.
    out.error = record.error();
    out.active = std::move(*cached);
    return out;
  }
  if (!*record) {
    // RFC 8461 §3.1, §5.1: without a record the cached (unexpired) policy still applies; a
    // domain ends its policy by publishing "mode: none" (§10.3), not by removing the record.
    out.active = std::move(*cached);
    return out;
  }
  const bool changed = !*cached || (*cached)->id != (*record)->id;
  if (!changed && !needs_refresh(**cached, now)) {
    out.active = std::move(*cached);
    return out;
  }
  // RFC 8461 §5.1: fetch when the id changed or before the cached policy expires.
  auto fetched = source.fetch(domain);
  if (!fetched) {
    // RFC 8461 §3.3: "If a valid TXT record is found but no policy can be fetched via HTTPS
    // (for any reason), and there is no valid (non-expired) previously cached policy, senders
    // MUST continue with delivery as though the domain has not implemented MTA-STS."
    out.error = fetched.error();
    out.active = std::move(*cached);
    return out;
  }
  cached_policy fresh;
  fresh.domain = domain;
  fresh.id = (*record)->id;
  fresh.fetched_at = now;
  fresh.expires_at = now + std::chrono::seconds(fetched->max_age);
  fresh.value = std::move(*fetched);
  if (auto ok = cache.put(fresh); !ok) return unexpected(ok.error());
  out.fetched = true;
  out.active = std::move(fresh);
  return out;
}

} // namespace mailkit::mtasts
