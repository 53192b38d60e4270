// SPDX-License-Identifier: Apache-2.0
/// @file quota.hpp
/// Quota-aware scheduling for relays: before a transaction goes to a relay, the tracker
/// reserves the units it will use (one per recipient or one per message, as the provider
/// counts) against the relay's daily and per-minute limits. When they are used up the answer
/// is "held until T" (the provider's reset, or the next minute), never a refusal: the queue
/// keeps the message and tries again at T. A quota reply from the provider itself (OCI's
/// `455 Maximum messages sent per day reached`) holds the relay until its next reset, whatever
/// our own count says. Bulk mail may use only `limits::bulk_share` of the daily quota and is
/// released `bulk_release_delay` after interactive mail. Crossing `warn_fraction` logs one
/// warning per window (and calls the warning hook).
///
/// Durability: the counts live in SQLite (WAL, synchronous=FULL), one row per relay and minute
/// of use, so a restart neither forgets what was sent today nor lets a held relay go early.
/// An empty path keeps the state in memory (tests, tools).
///
/// Thread safety: every member may be called from several delivery threads.
/// Security: the database file is ours; what it holds is counts and times, no message data.
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/relay/limits.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mailkit::relay {

using time_point = std::chrono::system_clock::time_point;

/// The answer to a reservation.
struct quota_decision {
  bool granted = false;
  time_point until{};      ///< when not granted: when to try again
  std::string reason;      ///< when not granted: which limit, in words
  std::uint64_t used = 0;  ///< units used in the current window after this reservation
  std::uint64_t limit = 0; ///< the daily limit (0 = none)
  bool warn = false;       ///< this reservation crossed the warning fraction
};

/// What the tracker knows about one relay right now.
struct quota_usage {
  std::uint64_t used_today = 0;  ///< units in the current window
  std::uint64_t used_minute = 0; ///< units in the current minute
  time_point window_reset{};     ///< calendar windows: the next reset; rolling: now + 24h bound
  std::optional<time_point> held_until; ///< set by a provider quota reply
  std::string held_reason;
};

/// Called once per window when a relay's use crosses its warning fraction.
using quota_warning_hook =
    std::function<void(std::string_view relay, std::uint64_t used, std::uint64_t limit)>;

class quota_tracker {
public:
  /// Open (create) the state at `path` ("" = in memory). errc::io_error when SQLite cannot
  /// open or set up the file.
  [[nodiscard]] static expected<std::unique_ptr<quota_tracker>> open(const std::string& path,
                                                                     const clock* clk = nullptr);
  ~quota_tracker();
  quota_tracker(const quota_tracker&) = delete;
  quota_tracker& operator=(const quota_tracker&) = delete;

  /// Reserve `units` for `relay`. A failed write of the state is reported as not granted,
  /// until one minute later (no message is sent uncounted).
  [[nodiscard]] quota_decision reserve(std::string_view relay, const limits& l, std::uint64_t units,
                                       priority p);

  /// Give back units reserved at `reserved_at` that the relay did not accept (refused
  /// recipients, a transaction that failed before the data).
  void refund(std::string_view relay, std::uint64_t units, time_point reserved_at);

  /// The provider said its quota is used up: hold `relay` until `until`.
  void hold(std::string_view relay, time_point until, std::string_view reason);

  /// The next daily reset of `l` after now (calendar windows), or now + 24h (rolling).
  [[nodiscard]] time_point next_reset(const limits& l) const;

  [[nodiscard]] quota_usage usage(std::string_view relay, const limits& l) const;

  void set_warning_hook(quota_warning_hook hook);

private:
  struct impl;
  explicit quota_tracker(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Start of the calendar window that contains `t` (reset offset applied), exposed for tests.
[[nodiscard]] time_point window_start(time_point t, std::chrono::minutes reset_offset);

} // namespace mailkit::relay
