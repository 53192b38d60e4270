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
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/relay/relay.hpp>

#include <boost/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace json = boost::json;
using namespace mailkit;

namespace {

std::string str(const json::object& o, const char* k, std::string def = {}) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : def;
}
std::int64_t num(const json::object& o, const char* k, std::int64_t def = 0) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_int64() ? it->value().as_int64() : def;
}
std::vector<std::string> strs(const json::object& o, const char* k) {
  std::vector<std::string> out;
  if (auto it = o.find(k); it != o.end() && it->value().is_array())
    for (const auto& v : it->value().as_array())
      out.emplace_back(v.as_string());
  return out;
}

json::object reply_json(const smtp::reply& r) {
  json::object o;
  o["code"] = r.code;
  o["enhanced"] = r.enhanced ? r.enhanced->to_string() : "";
  o["text"] = r.text();
  return o;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: relay_tool CONFIG.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream s;
  s << in.rdbuf();
  const json::object root = json::parse(s.str()).as_object();

  relay::config cfg;
  cfg.helo_name = str(root, "helo", "mailkit.test");
  cfg.quota_db = str(root, "quota_db");
  cfg.direct.port = static_cast<std::uint16_t>(num(root, "direct_port", 25));
  cfg.direct.ipv6 = false;
  cfg.mx.ipv6 = false;
  cfg.timeouts = smtp::session_timeouts::all(std::chrono::seconds(15));
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

  std::unique_ptr<dns::cares_resolver> resolver;
  if (auto d = str(root, "dns"); !d.empty()) {
    dns::cares_options o;
    o.servers = {d};
    o.timeout = std::chrono::milliseconds(1000);
    resolver = std::make_unique<dns::cares_resolver>(o);
  }
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
