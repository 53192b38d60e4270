// SPDX-License-Identifier: Apache-2.0
// Dates of RFC 5322 §3.3 with the obsolete forms of §4.3, and civil-calendar arithmetic.
//
//   date-time = [ day-of-week "," ] date time [CFWS]
//   date      = day month year
//   time      = time-of-day zone ; time-of-day = hour ":" minute [ ":" second ]
//   zone      = (FWS ( "+" / "-" ) 4DIGIT) / obs-zone
//
// The reader tokenizes (comments dropped, commas and colons as separators) and then walks the
// tokens: what mail clients accept beyond the grammar (numeric months, spaces instead of colons,
// asctime order "Fri Feb  7 10:18:12 2003", fractional seconds, "EST5EDT") is read where the
// meaning is unambiguous; anything else gives no date.
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/date.hpp>
#include <mailkit/mime/field.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

namespace mailkit::mime {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date. The year is shifted to start in March so
// the leap day is the last day of a shifted year; eras of 400 years repeat exactly.
std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;                         // [0, 399]
  const int mp = (m + 9) % 12;                                    // March = 0
  const std::int64_t doy = (153 * mp + 2) / 5 + d - 1;            // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
  return era * 146097 + doe - 719468;                             // 719468: 0000-03-01 to epoch
}

struct civil {
  std::int64_t year;
  int month;
  int day;
};

// The inverse of days_from_civil.
civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {era * 400 + yoe + (m <= 2 ? 1 : 0), m, d};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

constexpr std::array<std::string_view, 12> month_names = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> day_names = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

struct token {
  enum class kind { number, word, signed_number } type;
  std::string_view text; ///< digits (without the sign) or letters
  bool negative = false;
  bool after_colon = false; ///< a ':' came right before: part of a time-of-day
};

// RFC 5322 §3.2.2: comments may appear anywhere and nest; a depth counter (no recursion) keeps
// hostile nesting linear. Digits, letters and signed numbers are tokens; everything else (",",
// ":", ".", stray punctuation) separates.
std::vector<token> tokenize(std::string_view s) {
  std::vector<token> out;
  std::size_t i = 0;
  bool colon = false;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '(') {
      std::size_t depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\')
          ++i;
        else if (s[i] == '(')
          ++depth;
        else if (s[i] == ')' && --depth == 0)
          break;
      }
      ++i;
      continue;
    }
    if (is_digit(c) || ((c == '+' || c == '-') && i + 1 < s.size() && is_digit(s[i + 1]))) {
      const bool sign = !is_digit(c);
      const std::size_t start = sign ? i + 1 : i;
      std::size_t j = start;
      while (j < s.size() && is_digit(s[j]))
        ++j;
      out.push_back({sign ? token::kind::signed_number : token::kind::number,
                     s.substr(start, j - start), c == '-', colon});
      // Fractional seconds ("07:53:55.516") are not part of RFC 5322 but some MTAs write them.
      if (!sign && colon && j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
        ++j;
        while (j < s.size() && is_digit(s[j]))
          ++j;
      }
      colon = false;
      i = j;
      continue;
    }
    if (is_alpha(c)) {
      std::size_t j = i;
      while (j < s.size() && is_alpha(s[j]))
        ++j;
      out.push_back({token::kind::word, s.substr(i, j - i), false, false});
      colon = false;
      i = j;
      continue;
    }
    colon = (c == ':');
    ++i;
  }
  return out;
}

// A number token's value; -1 when it has more digits than any date field can use.
int value_of(const token& t) noexcept {
  if (t.text.size() > 9) return -1;
  int v = 0;
  for (char c : t.text)
    v = v * 10 + (c - '0');
  return v;
}

int month_of(const token& t) noexcept {
  if (t.type == token::kind::number) {
    // Numeric months are not RFC 5322, but "20 11 79" style dates exist in old mail.
    const int v = value_of(t);
    return (v >= 1 && v <= 12) ? v : 0;
  }
  if (t.type != token::kind::word || t.text.size() < 3) return 0;
  // "Jul", "July" and "jul" are the same month; "Julx" or "All" are not months.
  for (std::size_t m = 0; m < month_names.size(); ++m) {
    const std::string_view full = month_names[m];
    if (t.text.size() <= full.size() && iequals(t.text, full.substr(0, t.text.size())))
      return static_cast<int>(m) + 1;
  }
  return 0;
}

bool is_day_name(const token& t) noexcept {
  if (t.type != token::kind::word || t.text.size() < 3) return false;
  for (auto d : day_names)
    if (iequals(t.text.substr(0, 3), d)) return true;
  return false;
}

// RFC 5322 §4.3: obs-zone. The US zones have fixed offsets; "UT", "GMT" and "Z" are +0000; the
// other military letters "SHOULD all be considered equivalent to -0000" and unknown names are
// read the same way: no offset information.
int zone_word_minutes(std::string_view w) noexcept {
  struct named {
    std::string_view name;
    int minutes;
  };
  static constexpr std::array<named, 8> zones = {{{"EST", -300},
                                                  {"EDT", -240},
                                                  {"CST", -360},
                                                  {"CDT", -300},
                                                  {"MST", -420},
                                                  {"MDT", -360},
                                                  {"PST", -480},
                                                  {"PDT", -420}}};
  for (const auto& z : zones)
    if (iequals(w, z.name)) return z.minutes;
  return 0;
}

// RFC 5322 §4.3: a two-digit year is 2000+ below 50, 1900+ otherwise; three digits add 1900.
int full_year(const token& t) noexcept {
  const int v = value_of(t);
  if (t.text.size() <= 2) return v < 50 ? 2000 + v : 1900 + v;
  if (t.text.size() == 3) return 1900 + v;
  return v;
}

// An hhmm zone: "+0200" is 120 minutes, "-0330" is -210. Returns false for minutes >= 60.
bool hhmm_minutes(const token& t, int& out) noexcept {
  const int v = value_of(t);
  if (v < 0 || v % 100 >= 60) return false;
  out = (v / 100) * 60 + v % 100;
  if (t.negative) out = -out;
  return true;
}

} // namespace

std::int64_t date_time::to_unix() const noexcept {
  const std::int64_t days = days_from_civil(year, month, day);
  return days * 86400 + hour * 3600 + minute * 60 + second -
         static_cast<std::int64_t>(tz_offset_minutes) * 60;
}

date_time date_time::from_unix(std::int64_t t, int tz_offset_minutes) noexcept {
  const std::int64_t local = t + static_cast<std::int64_t>(tz_offset_minutes) * 60;
  const std::int64_t days = floor_div(local, 86400);
  const std::int64_t secs = local - days * 86400;
  const civil c = civil_from_days(days);
  date_time d;
  d.year = static_cast<int>(c.year);
  d.month = c.month;
  d.day = c.day;
  d.hour = static_cast<int>(secs / 3600);
  d.minute = static_cast<int>(secs / 60 % 60);
  d.second = static_cast<int>(secs % 60);
  d.tz_offset_minutes = tz_offset_minutes;
  return d;
}

std::string date_time::to_rfc5322() const {
  static constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed",
                                                      "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // 1970-01-01 was a Thursday (index 4).
  const std::int64_t dn = days_from_civil(year, month, day);
  const auto wd = static_cast<std::size_t>(((dn % 7) + 7 + 4) % 7);
  const int mi = (month >= 1 && month <= 12) ? month - 1 : 0;
  const int off = tz_offset_minutes < 0 ? -tz_offset_minutes : tz_offset_minutes;
  char buf[64];
  // RFC 5322 §3.3: day-of-week "," day month year hour ":" minute ":" second zone.
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", days[wd], day,
                months[static_cast<std::size_t>(mi)], year, hour, minute, second,
                tz_offset_minutes < 0 ? '-' : '+', off / 60 % 100, off % 60);
  return buf;
}

std::optional<date_time> parse_date(std::string_view raw) {
  std::string_view v = detail::field_body(raw);
  // A Received field ends in "; date" (RFC 5322 §3.6.7): the date is what follows the last ';'.
  if (const auto semi = v.rfind(';'); semi != std::string_view::npos) v = v.substr(semi + 1);
  const std::vector<token> t = tokenize(v);
  std::size_t i = 0;
  auto number_at = [&](std::size_t k) { return k < t.size() && t[k].type == token::kind::number; };

  date_time d;
  // RFC 5322 §3.3: [ day-of-week "," ]; the name is informational and not checked.
  bool asctime = false;
  if (i < t.size() && is_day_name(t[i])) {
    ++i;
    // asctime order (ctime(3), written by old sendmail and qmail): "Fri Feb 07 10:18:12 2003".
    asctime = i < t.size() && t[i].type == token::kind::word && month_of(t[i]) != 0;
  }
  if (asctime) {
    d.month = month_of(t[i++]);
    if (!number_at(i)) return std::nullopt;
    d.day = value_of(t[i++]);
  } else {
    if (!number_at(i)) return std::nullopt;
    d.day = value_of(t[i++]);
    if (i >= t.size()) return std::nullopt;
    d.month = month_of(t[i++]);
    if (d.month == 0) return std::nullopt;
    if (!number_at(i)) return std::nullopt;
    d.year = full_year(t[i++]);
  }
  // time-of-day = hour ":" minute [ ":" second ]; spaces for colons are read the same way.
  if (!number_at(i) || !number_at(i + 1)) return std::nullopt;
  d.hour = value_of(t[i++]);
  d.minute = value_of(t[i++]);
  if (number_at(i) && (t[i].after_colon || t[i].text.size() <= 2)) d.second = value_of(t[i++]);
  bool zone_done = false;
  auto read_zone = [&] {
    if (zone_done || i >= t.size()) return;
    const token& z = t[i];
    if (z.type == token::kind::signed_number || (z.type == token::kind::number && !asctime)) {
      int m = 0;
      if (hhmm_minutes(z, m)) d.tz_offset_minutes = m;
      ++i;
      zone_done = true;
    } else if (z.type == token::kind::word) {
      d.tz_offset_minutes = zone_word_minutes(z.text);
      ++i;
      zone_done = true;
    }
  };
  if (asctime) {
    read_zone(); // "Fri Sep 14 14:36:56 EDT 2018": some write the zone before the year
    if (!number_at(i)) return std::nullopt;
    d.year = full_year(t[i++]);
  }
  read_zone();

  // RFC 5322 §3.3: day 1-31 (checked against the month), hour 0-23, minute 0-59, second 0-60
  // (a leap second is representable).
  static constexpr std::array<int, 12> month_days = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  if (d.month < 1 || d.month > 12 || d.year < 0 || d.year > 9999) return std::nullopt;
  const bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
  const int last = month_days[static_cast<std::size_t>(d.month - 1)] + (d.month == 2 && leap);
  if (d.day < 1 || d.day > last || d.hour < 0 || d.hour > 23 || d.minute < 0 || d.minute > 59 ||
      d.second < 0 || d.second > 60) {
    return std::nullopt;
  }
  return d;
}

} // namespace mailkit::mime
