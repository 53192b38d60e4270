// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/date.hpp>
#include <mailkit/imap/error.hpp>

#include <array>
#include <cstdio>

namespace mailkit::imap {
namespace {

constexpr std::array<std::string_view, 12> months = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days from 1970-01-01 to a civil date (proleptic Gregorian), after H. Hinnant's public
// description of the algorithm.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool leap(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : dm[m - 1];
}

bool digits(std::string_view s, unsigned& out) noexcept {
  if (s.empty()) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}

int month_of(std::string_view s) noexcept {
  if (s.size() != 3) return 0;
  char u[3];
  for (int i = 0; i < 3; ++i) {
    char c = s[static_cast<std::size_t>(i)];
    u[i] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  for (std::size_t i = 0; i < months.size(); ++i)
    if (std::string_view(u, 3) == months[i]) return static_cast<int>(i) + 1;
  return 0;
}

// RFC 9051 §9: date-text = date-day "-" date-month "-" date-year.
bool parse_date_text(std::string_view s, std::int64_t& days) noexcept {
  const auto d1 = s.find('-');
  if (d1 == std::string_view::npos || d1 + 4 >= s.size() || s[d1 + 4] != '-') return false;
  unsigned day = 0, year = 0;
  std::string_view day_text = s.substr(0, d1);
  if (!day_text.empty() && day_text[0] == ' ') day_text.remove_prefix(1); // date-day-fixed
  if (day_text.size() > 2 || !digits(day_text, day)) return false;
  const int month = month_of(s.substr(d1 + 1, 3));
  const std::string_view year_text = s.substr(d1 + 5);
  if (month == 0 || year_text.size() != 4 || !digits(year_text, year)) return false;
  if (day < 1 || day > days_in_month(year, static_cast<unsigned>(month))) return false;
  days = days_from_civil(year, static_cast<unsigned>(month), day);
  return true;
}

} // namespace

mailkit::expected<std::int64_t> parse_search_date(std::string_view text) {
  std::int64_t days = 0;
  if (!parse_date_text(text, days)) return mailkit::fail(errc::bad_date);
  return days;
}

mailkit::expected<std::int64_t> parse_date_time(std::string_view s) {
  // RFC 9051 §9: date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone
  // DQUOTE (the reader has removed the quotes). date-day-fixed = (SP DIGIT) / 2DIGIT.
  if (s.size() != 26 || s[11] != ' ' || s[20] != ' ') return mailkit::fail(errc::bad_date);
  std::int64_t days = 0;
  if (!parse_date_text(s.substr(0, 11), days)) return mailkit::fail(errc::bad_date);
  unsigned hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
  if (s[14] != ':' || s[17] != ':' || !digits(s.substr(12, 2), hh) ||
      !digits(s.substr(15, 2), mm) || !digits(s.substr(18, 2), ss) || hh > 23 || mm > 59 || ss > 60)
    return mailkit::fail(errc::bad_date);
  const char sign = s[21];
  if ((sign != '+' && sign != '-') || !digits(s.substr(22, 2), zh) ||
      !digits(s.substr(24, 2), zm) || zm > 59)
    return mailkit::fail(errc::bad_date);
  const std::int64_t offset = (static_cast<std::int64_t>(zh) * 60 + zm) * 60;
  std::int64_t t = days * 86400 + hh * 3600 + mm * 60 + ss;
  return sign == '+' ? t - offset : t + offset;
}

std::int64_t days_of(std::int64_t unix_seconds, int zone_minutes) noexcept {
  std::int64_t local = unix_seconds + static_cast<std::int64_t>(zone_minutes) * 60;
  return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

std::string format_date_time(std::int64_t unix_seconds, int zone_minutes) {
  const std::int64_t local = unix_seconds + static_cast<std::int64_t>(zone_minutes) * 60;
  const std::int64_t days = days_of(unix_seconds, zone_minutes);
  std::int64_t secs = local - days * 86400;
  std::int64_t y = 0;
  unsigned m = 1, d = 1;
  civil_from_days(days, y, m, d);
  const int z = zone_minutes < 0 ? -zone_minutes : zone_minutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%2u-%.3s-%04lld %02lld:%02lld:%02lld %c%02d%02d", d,
                month_names[m - 1].data(), static_cast<long long>(y),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60), zone_minutes < 0 ? '-' : '+', z / 60, z % 60);
  return buf;
}

} // namespace mailkit::imap
