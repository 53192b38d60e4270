// SPDX-License-Identifier: Apache-2.0
/// @file date.hpp
/// Dates of RFC 5322 §3.3 (Date, Resent-Date, the end of Received), with the obsolete forms of
/// §4.3: two- and three-digit years, alphabetic zones (UT, GMT, EST ... and military letters,
/// read as -0000 as §4.3 says, except "Z"), comments and folding anywhere, missing day of week,
/// missing seconds. Lenient like mail clients where the meaning is clear; anything else is no date.
///
/// **Standards**: RFC 5322 §3.3, §4.3.
/// **Security**: parses untrusted header bytes; pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailkit::mime {

struct date_time {
  int year = 0;  ///< four digits (obsolete two-digit years mapped per RFC 5322 §4.3)
  int month = 0; ///< 1-12
  int day = 0;   ///< 1-31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int tz_offset_minutes = 0; ///< east of UTC; "-0130" is -90
  friend bool operator==(const date_time&, const date_time&) = default;

  /// Seconds since the Unix epoch of this instant (the zone applied).
  [[nodiscard]] std::int64_t to_unix() const noexcept;
  [[nodiscard]] std::chrono::system_clock::time_point to_time_point() const noexcept {
    return std::chrono::system_clock::time_point(std::chrono::seconds(to_unix()));
  }
  /// RFC 5322 §3.3 form: "Tue, 01 Jul 2003 10:52:37 +0200".
  [[nodiscard]] std::string to_rfc5322() const;
  /// The date in a given zone from a Unix time.
  [[nodiscard]] static date_time from_unix(std::int64_t t, int tz_offset_minutes = 0) noexcept;
};

/// Parse a date field value; nullopt when it holds no readable date.
[[nodiscard]] std::optional<date_time> parse_date(std::string_view raw);

} // namespace mailkit::mime
