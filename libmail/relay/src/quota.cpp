// SPDX-License-Identifier: Apache-2.0
// Quota tracker (quota.hpp): counts per relay and minute in SQLite.
#include <mailkit/relay/quota.hpp>

#include <mailkit/core/log.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

namespace mailkit::relay {

namespace {

using namespace std::chrono;

std::int64_t unix_minutes(time_point t) {
  return duration_cast<minutes>(t.time_since_epoch()).count();
}
std::int64_t unix_seconds(time_point t) {
  return duration_cast<seconds>(t.time_since_epoch()).count();
}
time_point from_minutes(std::int64_t m) {
  return time_point(duration_cast<time_point::duration>(minutes(m)));
}
time_point from_seconds(std::int64_t s) {
  return time_point(duration_cast<time_point::duration>(seconds(s)));
}

// A prepared statement that finalizes itself.
class statement {
public:
  statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) st_ = nullptr;
  }
  ~statement() { sqlite3_finalize(st_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  [[nodiscard]] bool ok() const noexcept { return st_ != nullptr; }
  statement& bind(int i, std::string_view s) {
    if (st_) sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind(int i, std::int64_t v) {
    if (st_) sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  /// SQLITE_ROW, SQLITE_DONE or an error.
  int step() { return st_ ? sqlite3_step(st_) : SQLITE_ERROR; }
  [[nodiscard]] std::int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }
  [[nodiscard]] std::string text(int col) const {
    const auto* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
  }

private:
  sqlite3_stmt* st_ = nullptr;
};

} // namespace

time_point window_start(time_point t, std::chrono::minutes reset_offset) {
  // The window runs from reset to reset: shift by the offset, floor to a day, shift back.
  const std::int64_t m = unix_minutes(t) - reset_offset.count();
  const std::int64_t day = 24 * 60;
  const std::int64_t floored = (m >= 0 ? m / day : (m - day + 1) / day) * day;
  return from_minutes(floored + reset_offset.count());
}

struct quota_tracker::impl {
  sqlite3* db = nullptr;
  const clock* clk = nullptr;
  mutable std::mutex mu;
  quota_warning_hook hook;

  ~impl() { sqlite3_close(db); }

  bool exec(const char* sql) const {
    return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  }

  std::uint64_t sum_since(std::string_view relay, std::int64_t first_minute) const {
    statement st(db, "SELECT COALESCE(SUM(units),0) FROM usage WHERE relay=?1 AND minute>=?2");
    st.bind(1, relay).bind(2, first_minute);
    return st.step() == SQLITE_ROW ? static_cast<std::uint64_t>(st.integer(0)) : 0;
  }

  std::optional<std::pair<time_point, std::string>> held(std::string_view relay,
                                                         time_point now) const {
    statement st(db, "SELECT until, reason FROM holds WHERE relay=?1");
    st.bind(1, relay);
    if (st.step() != SQLITE_ROW) return std::nullopt;
    const time_point until = from_seconds(st.integer(0));
    if (until <= now) return std::nullopt;
    return std::make_pair(until, st.text(1));
  }

  // First minute of the window that counts against the daily limit at `now`.
  static std::int64_t window_first_minute(const limits& l, time_point now) {
    if (l.window == quota_window::rolling_24h) return unix_minutes(now) - 24 * 60 + 1;
    return unix_minutes(window_start(now, l.reset_offset));
  }

  time_point next_reset(const limits& l, time_point now) const {
    if (l.window == quota_window::rolling_24h) return now + hours(24);
    return window_start(now, l.reset_offset) + hours(24);
  }

  // Rolling window: the moment enough old units leave the window for `units` more to fit.
  time_point rolling_release(std::string_view relay, time_point now, std::uint64_t used,
                             std::uint64_t cap, std::uint64_t units) const {
    statement st(db, "SELECT minute, units FROM usage WHERE relay=?1 AND minute>=?2 "
                     "ORDER BY minute");
    st.bind(1, relay).bind(2, unix_minutes(now) - 24 * 60 + 1);
    std::uint64_t left = used;
    while (st.step() == SQLITE_ROW) {
      const std::int64_t minute = st.integer(0);
      const auto n = static_cast<std::uint64_t>(st.integer(1));
      left = left > n ? left - n : 0;
      if (left + units <= cap) return from_minutes(minute + 24 * 60);
    }
    return now + hours(24);
  }
};

quota_tracker::quota_tracker(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
quota_tracker::~quota_tracker() = default;

expected<std::unique_ptr<quota_tracker>> quota_tracker::open(const std::string& path,
                                                             const clock* clk) {
  auto p = std::make_unique<impl>();
  p->clk = clk ? clk : &default_clock();
  const std::string file = path.empty() ? std::string(":memory:") : path;
  if (sqlite3_open_v2(file.c_str(), &p->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return fail(errc::io_error);
  sqlite3_busy_timeout(p->db, 5000);
  // DESIGN.md §4: WAL with synchronous=FULL, so a committed count survives a crash.
  if (!p->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") ||
      !p->exec("CREATE TABLE IF NOT EXISTS usage(relay TEXT NOT NULL, minute INTEGER NOT NULL, "
               "units INTEGER NOT NULL, PRIMARY KEY(relay, minute));"
               "CREATE TABLE IF NOT EXISTS holds(relay TEXT PRIMARY KEY, until INTEGER NOT NULL,"
               " reason TEXT NOT NULL);"
               "CREATE TABLE IF NOT EXISTS warned(relay TEXT PRIMARY KEY, window INTEGER NOT "
               "NULL);"))
    return fail(errc::io_error);
  return std::unique_ptr<quota_tracker>(new quota_tracker(std::move(p)));
}

void quota_tracker::set_warning_hook(quota_warning_hook hook) {
  std::lock_guard lock(impl_->mu);
  impl_->hook = std::move(hook);
}

time_point quota_tracker::next_reset(const limits& l) const {
  return impl_->next_reset(l, impl_->clk->now());
}

quota_decision quota_tracker::reserve(std::string_view relay, const limits& l, std::uint64_t units,
                                      priority p) {
  impl& s = *impl_;
  std::unique_lock lock(s.mu);
  const time_point now = s.clk->now();
  quota_decision d;
  d.limit = l.per_day;
  if (auto h = s.held(relay, now)) {
    d.until = h->first;
    d.reason = "held after the provider's quota reply: " + h->second;
    if (p == priority::bulk) d.until += l.bulk_release_delay;
    return d;
  }
  if (l.unlimited()) {
    d.granted = true;
    return d;
  }
  const std::int64_t now_min = unix_minutes(now);
  const std::uint64_t day_used =
      l.per_day ? s.sum_since(relay, impl::window_first_minute(l, now)) : 0;
  d.used = day_used;
  if (l.per_day) {
    // Bulk mail leaves (1 - bulk_share) of the day to interactive mail.
    const std::uint64_t cap =
        p == priority::bulk
            ? std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::floor(
                                             static_cast<double>(l.per_day) * l.bulk_share)))
            : l.per_day;
    if (day_used + units > cap) {
      d.until = l.window == quota_window::rolling_24h
                    ? s.rolling_release(relay, now, day_used, cap, units)
                    : s.next_reset(l, now);
      if (p == priority::bulk) d.until += l.bulk_release_delay;
      d.reason = std::string(p == priority::bulk ? "bulk share of the " : "") + "daily quota of " +
                 std::to_string(l.per_day) + " (" + std::string(to_string(l.counting)) +
                 ") is used: " + std::to_string(day_used) + " sent";
      return d;
    }
  }
  if (l.per_minute) {
    statement st(s.db, "SELECT COALESCE(SUM(units),0) FROM usage WHERE relay=?1 AND minute=?2");
    st.bind(1, relay).bind(2, now_min);
    const auto minute_used =
        st.step() == SQLITE_ROW ? static_cast<std::uint64_t>(st.integer(0)) : 0;
    if (minute_used + units > l.per_minute) {
      d.until = from_minutes(now_min + 1);
      d.reason = "per-minute limit of " + std::to_string(l.per_minute) + " reached";
      return d;
    }
  }
  // Count it durably before anything is sent.
  {
    statement st(s.db, "INSERT INTO usage(relay, minute, units) VALUES(?1, ?2, ?3) "
                       "ON CONFLICT(relay, minute) DO UPDATE SET units = units + excluded.units");
    st.bind(1, relay).bind(2, now_min).bind(3, static_cast<std::int64_t>(units));
    if (st.step() != SQLITE_DONE) {
      d.until = from_minutes(now_min + 1);
      d.reason = std::string("cannot record the quota use: ") + sqlite3_errmsg(s.db);
      return d;
    }
  }
  d.granted = true;
  d.used = day_used + units;
  if (l.per_day &&
      static_cast<double>(d.used) >= l.warn_fraction * static_cast<double>(l.per_day)) {
    // One warning per window, remembered across restarts.
    const std::int64_t window = unix_minutes(window_start(now, l.reset_offset));
    statement st(s.db, "SELECT window FROM warned WHERE relay=?1");
    st.bind(1, relay);
    const bool already = st.step() == SQLITE_ROW && st.integer(0) == window;
    if (!already) {
      statement up(s.db, "INSERT INTO warned(relay, window) VALUES(?1, ?2) "
                         "ON CONFLICT(relay) DO UPDATE SET window = excluded.window");
      up.bind(1, relay).bind(2, window);
      (void)up.step();
      d.warn = true;
    }
  }
  // Clean rows no window can need any more (older than two days).
  if (now_min % 60 == 0) {
    statement del(s.db, "DELETE FROM usage WHERE minute < ?1");
    del.bind(1, now_min - 2 * 24 * 60);
    (void)del.step();
  }
  if (d.warn) {
    const quota_warning_hook hook = s.hook;
    lock.unlock();
    log(log_level::warning, "relay",
        "relay " + std::string(relay) + " has used " + std::to_string(d.used) + " of its " +
            std::to_string(l.per_day) + " daily quota");
    if (hook) hook(relay, d.used, l.per_day);
  }
  return d;
}

void quota_tracker::refund(std::string_view relay, std::uint64_t units, time_point reserved_at) {
  if (units == 0) return;
  std::lock_guard lock(impl_->mu);
  statement st(impl_->db, "UPDATE usage SET units = MAX(units - ?3, 0) WHERE relay=?1 AND "
                          "minute=?2");
  st.bind(1, relay).bind(2, unix_minutes(reserved_at)).bind(3, static_cast<std::int64_t>(units));
  (void)st.step();
}

void quota_tracker::hold(std::string_view relay, time_point until, std::string_view reason) {
  std::lock_guard lock(impl_->mu);
  statement st(impl_->db, "INSERT INTO holds(relay, until, reason) VALUES(?1, ?2, ?3) "
                          "ON CONFLICT(relay) DO UPDATE SET until = MAX(until, excluded.until), "
                          "reason = excluded.reason");
  st.bind(1, relay).bind(2, unix_seconds(until)).bind(3, reason.substr(0, 512));
  (void)st.step();
  log(log_level::warning, "relay",
      "relay " + std::string(relay) + " reported its quota used up; holding its mail");
}

quota_usage quota_tracker::usage(std::string_view relay, const limits& l) const {
  const impl& s = *impl_;
  std::lock_guard lock(s.mu);
  const time_point now = s.clk->now();
  quota_usage u;
  u.used_today = s.sum_since(relay, impl::window_first_minute(l, now));
  u.used_minute = s.sum_since(relay, unix_minutes(now));
  u.window_reset = s.next_reset(l, now);
  if (auto h = s.held(relay, now)) {
    u.held_until = h->first;
    u.held_reason = h->second;
  }
  return u;
}

} // namespace mailkit::relay
