// SPDX-License-Identifier: Apache-2.0
/// @file admin_relay.hpp
/// The outbound relays' quota state as the admin port reports it (GET /api/relay, the
/// mailkit_relay_* metrics). Kept apart from admin.hpp because reading it needs the relay
/// module's headers, which include the SMTP client's, and those cannot meet the SMTP server's
/// headers in one translation unit (see outbound_factory.hpp).
/// Security: read-only; no credentials are copied out.
#pragma once

#include <mailkit/queue/queue.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mailkit::server {

struct relay_status {
  std::string name;                      ///< the relay's name in the configuration
  std::string preset;                    ///< e.g. "oci:eu-frankfurt-1"
  std::string host;                      ///< where it connects
  std::uint64_t used_today = 0;          ///< units in the current window
  std::uint64_t used_minute = 0;         ///< units in the current minute
  std::uint64_t per_day = 0;             ///< the daily limit (0 = none)
  std::uint64_t per_minute = 0;          ///< the per-minute limit (0 = none)
  std::string counting;                  ///< "per_recipient" or "per_message"
  std::string window;                    ///< "calendar_day" or "rolling_24h"
  std::int64_t reset_offset_minutes = 0; ///< calendar windows: the reset after 00:00 UTC
  std::int64_t window_reset = 0;         ///< Unix seconds of the next reset
  std::int64_t held_until = 0;           ///< Unix seconds; 0 = not held by a provider quota reply
  std::string held_reason;
};

/// The relays of `outbound` (a server::outbound; anything else, or null, has none), in name
/// order. Reads the quota database (blocking).
[[nodiscard]] std::vector<relay_status> relay_statuses(queue::remote_transport* outbound);

} // namespace mailkit::server
