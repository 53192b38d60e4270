// SPDX-License-Identifier: Apache-2.0
// Fuzz target for mailkit::mime::parse_date (RFC 5322 §3.3 and the obsolete forms of §4.3) and
// the date_time conversions. A parsed date has fields in range; when it names a real instant,
// from_unix(to_unix()) gives it back, and its RFC 5322 form parses to the same value. The first
// eight bytes, read as a Unix time, must survive to_unix(from_unix(t)) too.
#include "fuzz_support.hpp"

#include <mailkit/mime/date.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

namespace mime = mailkit::mime;

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// An instant the calendar knows: no 30 February, no leap second (which Unix time cannot hold),
// a year with four digits, a zone offset below a day.
bool is_real_instant(const mime::date_time& d) {
  return d.year >= 1000 && d.year <= 9999 && d.day <= days_in_month(d.year, d.month) &&
         d.hour <= 23 && d.minute <= 59 && d.second <= 59 && d.tz_offset_minutes > -24 * 60 &&
         d.tz_offset_minutes < 24 * 60;
}

void check_parsed(std::string_view in) {
  const auto d = mime::parse_date(in);
  if (!d) return;
  MAILKIT_FUZZ_CHECK(d->month >= 1 && d->month <= 12);
  MAILKIT_FUZZ_CHECK(d->day >= 1 && d->day <= 31);
  MAILKIT_FUZZ_CHECK(d->hour >= 0 && d->minute >= 0 && d->second >= 0);
  MAILKIT_FUZZ_CHECK(d->year >= 0);
  (void)d->to_rfc5322();
  if (!is_real_instant(*d)) return;
  const std::int64_t t = d->to_unix();
  MAILKIT_FUZZ_CHECK(mime::date_time::from_unix(t, d->tz_offset_minutes) == *d);
  const auto again = mime::parse_date(d->to_rfc5322());
  MAILKIT_FUZZ_CHECK(again && *again == *d);
}

void check_unix(std::string_view in) {
  if (in.size() < 10) return;
  std::int64_t t = 0;
  std::memcpy(&t, in.data(), sizeof t);
  std::int16_t tz = 0;
  std::memcpy(&tz, in.data() + 8, sizeof tz);
  // Years 1 to 9999 and offsets below a day: the range the RFC 5322 form can write.
  constexpr std::int64_t lo = -62135596800LL; // 0001-01-01T00:00:00Z
  constexpr std::int64_t hi = 253402300799LL; // 9999-12-31T23:59:59Z
  t = lo + static_cast<std::int64_t>(static_cast<std::uint64_t>(t) %
                                     static_cast<std::uint64_t>(hi - lo + 1));
  const int offset = tz % (24 * 60);
  const mime::date_time d = mime::date_time::from_unix(t, offset);
  MAILKIT_FUZZ_CHECK(d.tz_offset_minutes == offset);
  MAILKIT_FUZZ_CHECK(d.to_unix() == t);
  MAILKIT_FUZZ_CHECK(d.month >= 1 && d.month <= 12 && d.day >= 1 &&
                     d.day <= days_in_month(d.year, d.month));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  check_parsed(in);
  check_unix(in);
  return 0;
}
