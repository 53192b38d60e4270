// SPDX-License-Identifier: Apache-2.0
// The JSON form of relay::config shared by the interop tools (relay_tool, outbound_tool):
//
// {"helo": "...", "dns": "127.0.0.1:5353", "direct_port": 2525, "quota_db": "/path",
//  "relays": [{"name", "preset", "host", "port", "tls", "auth", "addresses": [...],
//              "username", "password" | "password_file", "cafile", "verify", "approved": [...],
//              "null_sender", "failover", "max_per_connection",
//              "limits": {"per_day", "per_minute", "max_size", "max_recipients",
//                         "counting": "per_message"|"per_recipient"}}],
//  "rules": [{"domain", "sender", "via"}], "default_route": "direct" | relay name,
//  "timeout_s": 15,
//  "dkim": [{"domain", "selector", "key_file"}]}
#pragma once

#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/relay/relay.hpp>

#include <boost/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mailkit_test {

namespace json = boost::json;
using namespace mailkit;

inline std::string str(const json::object& o, const char* k, std::string def = {}) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : def;
}
inline std::int64_t num(const json::object& o, const char* k, std::int64_t def = 0) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_int64() ? it->value().as_int64() : def;
}
inline std::vector<std::string> strs(const json::object& o, const char* k) {
  std::vector<std::string> out;
  if (auto it = o.find(k); it != o.end() && it->value().is_array())
    for (const auto& v : it->value().as_array())
      out.emplace_back(v.as_string());
  return out;
}

inline json::object reply_json(const smtp::reply& r) {
  json::object o;
  o["code"] = r.code;
  o["enhanced"] = r.enhanced ? r.enhanced->to_string() : "";
  o["text"] = r.text();
  return o;
}

/// relay::config from the JSON above (clk: the clock of the transport, null = system).
inline relay::config relay_config_from_json(const json::object& root,
                                            const mailkit::clock* clk = nullptr) {
  relay::config cfg;
  cfg.clk = clk;
  cfg.helo_name = str(root, "helo", "mailkit.test");
  cfg.quota_db = str(root, "quota_db");
  cfg.direct.port = static_cast<std::uint16_t>(num(root, "direct_port", 25));
  cfg.direct.ipv6 = false;
  cfg.mx.ipv6 = false;
  cfg.timeouts = smtp::session_timeouts::all(std::chrono::seconds(num(root, "timeout_s", 15)));
  if (auto it = root.find("relays"); it != root.end())
    for (const auto& v : it->value().as_array()) {
      const auto& o = v.as_object();
      relay::relay_config r;
      r.name = str(o, "name");
      r.preset = str(o, "preset", "generic");
      r.host = str(o, "host");
      r.port = static_cast<std::uint16_t>(num(o, "port"));
      if (auto t = str(o, "tls"); !t.empty()) r.tls = smtp::parse_tls_mode(t);
      if (auto a = str(o, "auth"); !a.empty()) r.auth = smtp::parse_auth_mechanism(a);
      r.addresses = strs(o, "addresses");
      r.username = str(o, "username");
      r.password = smtp::secret(str(o, "password"));
      r.password_file = str(o, "password_file");
      r.cafile = str(o, "cafile");
      if (auto it2 = o.find("verify"); it2 != o.end()) r.verify = it2->value().as_bool();
      r.approved_senders = strs(o, "approved");
      r.null_sender_address = str(o, "null_sender");
      r.failover = str(o, "failover");
      if (o.contains("max_per_connection"))
        r.max_messages_per_connection = static_cast<unsigned>(num(o, "max_per_connection"));
      if (auto it2 = o.find("limits"); it2 != o.end()) {
        const auto& l = it2->value().as_object();
        relay::limits lim;
        lim.per_day = static_cast<std::uint64_t>(num(l, "per_day"));
        lim.per_minute = static_cast<std::uint64_t>(num(l, "per_minute"));
        lim.max_message_size = static_cast<std::uint64_t>(num(l, "max_size"));
        lim.max_recipients = static_cast<std::uint32_t>(num(l, "max_recipients"));
        lim.counting = str(l, "counting") == "per_message" ? relay::count_mode::per_message
                                                           : relay::count_mode::per_recipient;
        r.quota = lim;
      }
      cfg.relays.push_back(std::move(r));
    }
  if (auto it = root.find("rules"); it != root.end())
    for (const auto& v : it->value().as_array()) {
      const auto& o = v.as_object();
      cfg.rules.push_back({str(o, "domain"), str(o, "sender"), str(o, "via")});
    }
  cfg.default_route = str(root, "default_route", "direct");
  if (auto it = root.find("dkim"); it != root.end())
    for (const auto& v : it->value().as_array()) {
      const auto& o = v.as_object();
      cfg.dkim.push_back({str(o, "domain"), str(o, "selector"), "", str(o, "key_file")});
    }

  return cfg;
}

/// The DNS resolver of "dns" (null when absent).
inline std::unique_ptr<dns::cares_resolver> resolver_from_json(const json::object& root) {
  std::unique_ptr<dns::cares_resolver> resolver;
  if (auto d = str(root, "dns"); !d.empty()) {
    dns::cares_options o;
    o.servers = {d};
    o.timeout = std::chrono::milliseconds(1000);
    resolver = std::make_unique<dns::cares_resolver>(o);
  }
  return resolver;
}

} // namespace mailkit_test
