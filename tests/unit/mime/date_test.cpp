// SPDX-License-Identifier: Apache-2.0
// parse_date and date_time arithmetic (RFC 5322 §3.3, §4.3).
#include <mailkit/mime/date.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace mime = mailkit::mime;
using mime::date_time;

namespace {

date_time dt(int y, int mo, int d, int h, int mi, int s, int tz) {
  date_time r;
  r.year = y;
  r.month = mo;
  r.day = d;
  r.hour = h;
  r.minute = mi;
  r.second = s;
  r.tz_offset_minutes = tz;
  return r;
}

struct parse_case {
  const char* rule;
  const char* raw;
  std::optional<date_time> expected;
};

const parse_case parse_cases[] = {
    {"RFC 5322 §3.3 full form", "Tue, 1 Jul 2003 10:52:37 +0200", dt(2003, 7, 1, 10, 52, 37, 120)},
    {"RFC 5322 §3.3 negative zone with minutes", "Thu, 13 Feb 1969 23:32:54 -0330",
     dt(1969, 2, 13, 23, 32, 54, -210)},
    {"RFC 5322 §3.3 day of week optional, seconds optional", "1 Jul 2003 10:52 +0000",
     dt(2003, 7, 1, 10, 52, 0, 0)},
    {"RFC 5322 §3.2.2 comments and folding anywhere",
     "Thu,\r\n 13 (a (nested) comment)\r\n Feb 1969 23:32 -0330 (NST)",
     dt(1969, 2, 13, 23, 32, 0, -210)},
    {"RFC 5322 §4.3 two-digit year below 50", "1 Jan 21 00:00:00 +0000",
     dt(2021, 1, 1, 0, 0, 0, 0)},
    {"RFC 5322 §4.3 two-digit year 50 and above", "21 Nov 97 09:55:06 GMT",
     dt(1997, 11, 21, 9, 55, 6, 0)},
    {"RFC 5322 §4.3 three-digit year", "1 Jan 103 00:00:00 +0000", dt(2003, 1, 1, 0, 0, 0, 0)},
    {"RFC 5322 §4.3 EST", "Sun, 27 Oct 2002 23:57:07 EST", dt(2002, 10, 27, 23, 57, 7, -300)},
    {"RFC 5322 §4.3 PDT", "Sun, 27 Oct 2002 23:57:07 PDT", dt(2002, 10, 27, 23, 57, 7, -420)},
    {"RFC 5322 §4.3 UT", "Sun, 27 Oct 2002 23:57:07 UT", dt(2002, 10, 27, 23, 57, 7, 0)},
    {"RFC 5322 §4.3 military letters read as -0000", "Thu, 10 Jul 1997 14:53:31 A",
     dt(1997, 7, 10, 14, 53, 31, 0)},
    {"lenient: \"EST5EDT\" (POSIX TZ)", "Thu, 10 Jul 1997 14:53:31 EST5EDT",
     dt(1997, 7, 10, 14, 53, 31, -300)},
    {"lenient: no zone", "30 Apr 2003 15:06:29", dt(2003, 4, 30, 15, 6, 29, 0)},
    {"lenient: full month name, lower case", "2 february 2021 09:55:06 +0200",
     dt(2021, 2, 2, 9, 55, 6, 120)},
    {"lenient: numeric month", "20 11 79 05:34:27 -0300", dt(1979, 11, 20, 5, 34, 27, -180)},
    {"lenient: asctime", "Fri Feb  7 10:18:12 2003", dt(2003, 2, 7, 10, 18, 12, 0)},
    {"lenient: asctime with zone before year", "Fri Sep 14 14:36:56 EDT 2018",
     dt(2018, 9, 14, 14, 36, 56, -240)},
    {"lenient: fractional seconds", "Thu, 02 Apr 2020 07:53:55.516 +0000",
     dt(2020, 4, 2, 7, 53, 55, 0)},
    {"RFC 5322 §3.6.7 Received: the date after the last ';'",
     "by x id y; 1 Jul 2003 10:52:37 +0200", dt(2003, 7, 1, 10, 52, 37, 120)},
    {"RFC 5322 §3.3 leap day in a leap year", "29 Feb 2024 00:00:00 +0000",
     dt(2024, 2, 29, 0, 0, 0, 0)},
    {"RFC 5322 §3.3 leap second", "31 Dec 2016 23:59:60 +0000", dt(2016, 12, 31, 23, 59, 60, 0)},
    // No date.
    {"empty", "", std::nullopt},
    {"unknown month", "13 zzz 2021 09:55:06 +0200", std::nullopt},
    {"month 0", "Tue, 7 00 2026 19:14:51 +0000", std::nullopt},
    {"words only", " some numbers 0 1 2 but invalid ", std::nullopt},
    {"no time", "1 Jul 2003", std::nullopt},
    {"RFC 5322 §3.3 day out of range", "31 Apr 2003 10:00:00 +0000", std::nullopt},
    {"RFC 5322 §3.3 29 Feb in a common year", "29 Feb 2023 10:00:00 +0000", std::nullopt},
    {"RFC 5322 §3.3 hour out of range", "1 Jul 2003 24:00:00 +0000", std::nullopt},
    {"RFC 5322 §3.3 minute out of range", "1 Jul 2003 10:60:00 +0000", std::nullopt},
    {"RFC 5322 §2.2.3 a line break without WSP ends the field",
     "Tue, 1 Jul 2003 (x\ncomment) 10:52:37 +0200", std::nullopt},
    {"hostile: huge numbers", "99999999999999999999 Jul 2003 10:00:00 +0000", std::nullopt},
};

TEST(date, parse) {
  for (const auto& c : parse_cases) {
    EXPECT_EQ(mime::parse_date(c.raw), c.expected) << c.rule << ": " << c.raw;
  }
}

TEST(date, unix_time) {
  struct unix_case {
    date_time d;
    std::int64_t t;
  };
  const unix_case cases[] = {
      {dt(1970, 1, 1, 0, 0, 0, 0), 0},
      {dt(1970, 1, 1, 1, 0, 0, 60), 0}, // the zone is applied
      {dt(2003, 7, 1, 10, 52, 37, 120), 1057049557},
      {dt(1969, 12, 31, 23, 59, 59, 0), -1},
      {dt(2000, 2, 29, 12, 0, 0, 0), 951825600},
      {dt(2038, 1, 19, 3, 14, 8, 0), 2147483648LL},
      {dt(1900, 3, 1, 0, 0, 0, 0), -2203891200LL},
      {dt(2400, 2, 29, 0, 0, 0, 0), 13574563200LL},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.d.to_unix(), c.t) << c.d.to_rfc5322();
    const date_time back = date_time::from_unix(c.t, c.d.tz_offset_minutes);
    EXPECT_EQ(back, c.d) << c.t;
  }
  // Round trip across a wide range, a day and a bit at a time, in a negative zone.
  for (std::int64_t t = -5000000000LL; t < 5000000000LL; t += 90061) {
    const date_time d = date_time::from_unix(t, -210);
    ASSERT_EQ(d.to_unix(), t);
    ASSERT_EQ(mime::parse_date(d.to_rfc5322()), d) << d.to_rfc5322();
  }
}

TEST(date, to_rfc5322) {
  // RFC 5322 §3.3: day-of-week "," day month year time zone, two-digit day.
  EXPECT_EQ(dt(2003, 7, 1, 10, 52, 37, 120).to_rfc5322(), "Tue, 01 Jul 2003 10:52:37 +0200");
  EXPECT_EQ(dt(1969, 2, 13, 23, 32, 54, -210).to_rfc5322(), "Thu, 13 Feb 1969 23:32:54 -0330");
  EXPECT_EQ(dt(1970, 1, 1, 0, 0, 0, 0).to_rfc5322(), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(dt(2024, 2, 29, 8, 5, 3, 330).to_rfc5322(), "Thu, 29 Feb 2024 08:05:03 +0530");
  EXPECT_EQ(dt(2024, 2, 29, 8, 5, 3, 0).to_time_point().time_since_epoch(),
            std::chrono::seconds(1709193903));
}

TEST(date, hostile_input_is_bounded) {
  const std::string deep = std::string(200000, '(') + std::string(200000, ')');
  EXPECT_EQ(mime::parse_date(deep + "1 Jul 2003 10:00:00 +0000"), dt(2003, 7, 1, 10, 0, 0, 0));
  EXPECT_EQ(mime::parse_date(std::string(300000, '1')), std::nullopt);
  EXPECT_EQ(mime::parse_date(std::string(300000, ';')), std::nullopt);
}

} // namespace
