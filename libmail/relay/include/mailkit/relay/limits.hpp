// SPDX-License-Identifier: Apache-2.0
/// @file limits.hpp
/// What a relay allows: messages per day and per minute, message size, recipients per message,
/// and how the provider counts (per recipient or per message, over a calendar day with its own
/// reset time or over a rolling 24 hours). Values, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace mailkit::relay {

/// How the provider counts what is sent against its quota.
enum class count_mode {
  per_recipient, ///< every recipient of every message is one unit (SES, SendGrid, Postmark ...)
  per_message,   ///< every message is one unit whatever its recipients
};

/// Over which window the daily limit is counted.
enum class quota_window {
  calendar_day, ///< resets once a day at `reset_offset` after 00:00 UTC
  rolling_24h,  ///< the last 24 hours at any moment (SES)
};

/// Submission priority: interactive mail goes before bulk and list mail.
enum class priority { interactive, bulk };

[[nodiscard]] std::string_view to_string(count_mode m) noexcept;
[[nodiscard]] std::string_view to_string(quota_window w) noexcept;
[[nodiscard]] std::string_view to_string(priority p) noexcept;

/// The limits of one relay. 0 means "no limit" for every count.
struct limits {
  std::uint64_t per_day = 0;          ///< units per window (see quota_window)
  std::uint64_t per_minute = 0;       ///< units per clock minute
  std::uint64_t max_message_size = 0; ///< octets of one message as sent (CRLF form)
  std::uint32_t max_recipients = 0;   ///< recipients of one transaction; more are split
  count_mode counting = count_mode::per_recipient;
  quota_window window = quota_window::calendar_day;
  /// The provider's daily reset, as an offset from 00:00 UTC (a provider that resets at
  /// midnight US Pacific standard time has +8h). A fixed offset: daylight saving is not
  /// followed; set the offset the provider documents.
  std::chrono::minutes reset_offset{0};
  /// Fraction of per_day after which a warning is logged once per window.
  double warn_fraction = 0.8;
  /// Fraction of per_day that bulk mail may use; the rest is kept for interactive mail.
  double bulk_share = 0.8;
  /// Held bulk mail is released this long after the reset, so that interactive mail held at
  /// the same time goes first.
  std::chrono::seconds bulk_release_delay{std::chrono::minutes(10)};

  [[nodiscard]] bool unlimited() const noexcept { return per_day == 0 && per_minute == 0; }
};

} // namespace mailkit::relay
