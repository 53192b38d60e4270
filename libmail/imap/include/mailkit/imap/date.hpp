// SPDX-License-Identifier: Apache-2.0
/// @file date.hpp
/// IMAP dates: "d-Mon-yyyy" in SEARCH (BEFORE, ON, SINCE, SENT*) and the date-time of APPEND and
/// INTERNALDATE, "dd-Mon-yyyy hh:mm:ss +zzzz".
///
/// Standards: RFC 9051 §9 (date, date-day, date-month, date-year, date-time, zone; month names
/// are case-insensitive), §6.4.4 (SEARCH dates disregard time and time zone).
/// Security: parses client input of bounded, fixed shapes; no locale, no libc time parsing.
#pragma once

#include <mailkit/core/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace mailkit::imap {

/// A SEARCH date as days since 1970-01-01 (a civil date, no time zone). Accepts the unquoted
/// form the reader gives ("1-Feb-1994" or "01-Feb-1994"). errc::bad_date otherwise.
[[nodiscard]] mailkit::expected<std::int64_t> parse_search_date(std::string_view text);

/// An APPEND date-time ("17-Jul-1996 02:44:25 -0700", day may be " 7") as seconds since the
/// epoch (UTC). errc::bad_date otherwise.
[[nodiscard]] mailkit::expected<std::int64_t> parse_date_time(std::string_view text);

/// INTERNALDATE as RFC 9051 §9 date-time, in the given zone offset (minutes east of UTC):
/// "17-Jul-1996 09:44:25 +0000" (day padded with a space to two characters).
[[nodiscard]] std::string format_date_time(std::int64_t unix_seconds, int zone_minutes = 0);

/// The civil date of a time in a zone, as days since 1970-01-01 (SEARCH compares these).
[[nodiscard]] std::int64_t days_of(std::int64_t unix_seconds, int zone_minutes = 0) noexcept;

} // namespace mailkit::imap
