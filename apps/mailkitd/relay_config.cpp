// SPDX-License-Identifier: Apache-2.0
// The [outbound] table of mailkitd's configuration as a relay::config (config.hpp). This file
// includes the SMTP client headers and must not include the server's (outbound_factory.hpp).
#include "config.hpp"

#include <mailkit/relay/relay.hpp>
#include <mailkit/server/outbound_factory.hpp>

#include <toml++/toml.h>

#include <stdexcept>

namespace mailkitd {

namespace {

[[noreturn]] void bad(const toml::node& n, const std::string& key, const std::string& why) {
  const auto& src = n.source();
  throw std::runtime_error((src.path ? *src.path : std::string("config")) + ":" +
                           std::to_string(src.begin.line) + ": outbound." + key + ": " + why);
}

std::string str(const toml::table& t, const std::string& key, std::string def = {}) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  auto v = n->value<std::string>();
  if (!v) bad(*n, key, "expected a string");
  return *v;
}

std::vector<std::string> strs(const toml::table& t, const std::string& key) {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (!n) return out;
  const auto* a = n->as_array();
  if (!a) bad(*n, key, "expected a list of strings");
  for (const auto& e : *a) {
    auto v = e.value<std::string>();
    if (!v) bad(e, key, "expected a string");
    out.push_back(*v);
  }
  return out;
}

const toml::array* tables(const toml::table& t, const std::string& key) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  const auto* a = n->as_array();
  if (!a || !a->is_array_of_tables()) bad(*n, key, "expected [[outbound." + key + "]] tables");
  return a;
}

void known(const toml::table& t, std::initializer_list<std::string_view> keys,
           const std::string& where) {
  for (const auto& [k, v] : t) {
    bool ok = false;
    for (auto x : keys)
      ok = ok || x == k.str();
    if (!ok) bad(v, where + std::string(k.str()), "unknown key");
  }
}

} // namespace

std::shared_ptr<mailkit::queue::remote_transport>
load_outbound(const std::string& path, const std::string& hostname, const std::string& data_dir,
              mailkit::dns::resolver* resolver, const std::string& report_domain) {
  const toml::table t = toml::parse_file(path);
  const toml::node* on = t.get("outbound");
  if (!on) return nullptr;
  const toml::table* o = on->as_table();
  if (!o) bad(*on, "", "expected a table");
  known(*o, {"default_route", "relay", "dkim", "route"}, "");
  mailkit::relay::config c;
  c.default_route = str(*o, "default_route", "direct");
  if (const auto* rs = tables(*o, "relay")) {
    for (const auto& e : *rs) {
      const auto& r = *e.as_table();
      known(r,
            {"name", "preset", "host", "port", "addresses", "username", "password_file", "cafile",
             "approved_senders", "null_sender_address", "failover"},
            "relay.");
      mailkit::relay::relay_config rc;
      rc.name = str(r, "name");
      if (rc.name.empty()) bad(e, "relay.name", "required");
      rc.preset = str(r, "preset", "generic");
      rc.host = str(r, "host");
      if (const auto* p = r.get("port")) {
        auto v = p->value<std::int64_t>();
        if (!v || *v < 1 || *v > 65535) bad(*p, "relay.port", "expected 1-65535");
        rc.port = static_cast<std::uint16_t>(*v);
      }
      rc.addresses = strs(r, "addresses");
      rc.username = str(r, "username");
      rc.password_file = str(r, "password_file");
      rc.cafile = str(r, "cafile");
      rc.approved_senders = strs(r, "approved_senders");
      rc.null_sender_address = str(r, "null_sender_address");
      rc.failover = str(r, "failover");
      c.relays.push_back(std::move(rc));
    }
  }
  if (const auto* ks = tables(*o, "dkim")) {
    for (const auto& e : *ks) {
      const auto& k = *e.as_table();
      known(k, {"domain", "selector", "key_file"}, "dkim.");
      c.dkim.push_back({str(k, "domain"), str(k, "selector"), "", str(k, "key_file")});
    }
  }
  if (const auto* rs = tables(*o, "route")) {
    for (const auto& e : *rs) {
      const auto& r = *e.as_table();
      known(r, {"recipient_domain", "sender", "via"}, "route.");
      c.rules.push_back({str(r, "recipient_domain"), str(r, "sender"), str(r, "via")});
    }
  }
  auto out = mailkit::server::make_outbound(c, hostname, data_dir, resolver, report_domain);
  if (!out) throw std::runtime_error(path + ": [outbound]: " + out.error().message());
  return *out;
}

} // namespace mailkitd
