// SPDX-License-Identifier: Apache-2.0
// relay_tool CONFIG.json: builds a relay::transport from the JSON configuration, runs the
// sender checks and delivers the messages it lists, and prints one JSON document with every
// verdict and outcome. The interop tests (test_relay.py) drive it against real peers: nsd for
// MX records, aiosmtpd relays, Postfix as a destination.
//
// {"helo": "...", "dns": "127.0.0.1:5353", "direct_port": 2525, "quota_db": "/path",
//  "relays": [{"name", "preset", "host", "port", "tls", "auth", "addresses": [...],
//              "username", "password" | "password_file", "cafile", "verify", "approved": [...],
//              "null_sender", "failover",
//              "limits": {"per_day", "per_minute", "max_size", "max_recipients",
//                         "counting": "per_message"|"per_recipient"}}],
//  "rules": [{"domain", "sender", "via"}],
//  "dkim": [{"domain", "selector", "key_file"}],
//  "checks": [{"from", "header_from": [...], "rcpt"}],
//  "messages": [{"queue_id", "from", "rcpt": [{"address", "notify", "orcpt"}], "ret", "envid",
//                "priority": "bulk"|"interactive", "data" | "file"}]}
#include "relay_config_json.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

using namespace mailkit_test;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: relay_tool CONFIG.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream s;
  s << in.rdbuf();
  const json::object root = json::parse(s.str()).as_object();

  relay::config cfg = relay_config_from_json(root);
  auto resolver = resolver_from_json(root);
  auto t = relay::transport::create(std::move(cfg), resolver.get());
  if (!t) {
    std::cout << json::serialize(json::object{{"error", t.error().message()}}) << "\n";
    return 1;
  }
  json::object out;
  json::array checks;
  if (auto it = root.find("checks"); it != root.end())
    for (const auto& v : it->value().as_array()) {
      const auto& o = v.as_object();
      const auto hf = strs(o, "header_from");
      auto verdict = (*t)->check_sender(str(o, "from"), hf, str(o, "rcpt"));
      json::object c = reply_json(verdict.reply);
      c["allowed"] = verdict.allowed;
      c["relay"] = verdict.relay;
      checks.push_back(std::move(c));
    }
  out["checks"] = std::move(checks);
  json::array results;
  if (auto it = root.find("messages"); it != root.end())
    for (const auto& v : it->value().as_array()) {
      const auto& o = v.as_object();
      relay::outbound_message m;
      m.queue_id = str(o, "queue_id", "Q");
      m.reverse_path = str(o, "from");
      m.ret = str(o, "ret");
      m.envid = str(o, "envid");
      m.prio = str(o, "priority") == "bulk" ? relay::priority::bulk : relay::priority::interactive;
      for (const auto& r : o.at("rcpt").as_array()) {
        const auto& ro = r.as_object();
        m.recipients.push_back({str(ro, "address"), str(ro, "notify"), str(ro, "orcpt")});
      }
      const std::string data = str(o, "data");
      m.data = data;
      m.file = str(o, "file");
      json::array per;
      for (const auto& oc : (*t)->deliver(m)) {
        json::object j = reply_json(oc.reply);
        j["address"] = oc.address;
        j["status"] = std::string(relay::to_string(oc.status));
        j["route"] = oc.route;
        j["remote_mta"] = oc.remote_mta;
        j["held_until"] = oc.held_until ? std::chrono::duration_cast<std::chrono::seconds>(
                                              oc.held_until->time_since_epoch())
                                              .count()
                                        : 0;
        per.push_back(std::move(j));
      }
      results.push_back(std::move(per));
    }
  out["results"] = std::move(results);
  std::cout << json::serialize(out) << "\n";
  return 0;
}
