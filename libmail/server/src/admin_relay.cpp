// SPDX-License-Identifier: Apache-2.0
// The relays' quota state for the admin port (admin_relay.hpp).
#include <mailkit/server/admin_relay.hpp>
#include <mailkit/server/outbound.hpp>

#include <chrono>

namespace mailkit::server {

namespace {

std::int64_t unix_seconds(relay::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

} // namespace

std::vector<relay_status> relay_statuses(queue::remote_transport* outbound_transport) {
  std::vector<relay_status> out;
  auto* ob = dynamic_cast<outbound*>(outbound_transport);
  if (!ob) return out;
  const auto& t = ob->transport();
  for (const auto& name : t.relay_names()) {
    relay_status s;
    s.name = name;
    if (const auto* p = t.relay_preset(name)) {
      s.preset = p->name;
      s.host = p->host;
    }
    if (const auto* l = t.relay_limits(name)) {
      s.per_day = l->per_day;
      s.per_minute = l->per_minute;
      s.counting = std::string(relay::to_string(l->counting));
      s.window = std::string(relay::to_string(l->window));
      s.reset_offset_minutes = l->reset_offset.count();
    }
    const auto u = t.quota_usage_of(name);
    s.used_today = u.used_today;
    s.used_minute = u.used_minute;
    s.window_reset = unix_seconds(u.window_reset);
    if (u.held_until) {
      s.held_until = unix_seconds(*u.held_until);
      s.held_reason = u.held_reason;
    }
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace mailkit::server
