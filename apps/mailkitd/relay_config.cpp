// SPDX-License-Identifier: Apache-2.0
// The [outbound] table of mailkitd's configuration as a relay::config (config.hpp). This file
// includes the SMTP client headers and must not include the server's (outbound_factory.hpp).
#include "config.hpp"
#include "toml_util.hpp"

#include <mailkit/relay/relay.hpp>
#include <mailkit/server/outbound_factory.hpp>

#include <toml++/toml.h>

#include <stdexcept>

namespace mailkitd {

using namespace toml_util;

namespace {

const std::string pre = "outbound.";

std::string out_str(const toml::table& t, const std::string& key, std::string def = {}) {
  return toml_util::str(t, key, std::move(def), pre);
}

std::vector<std::string> out_strs(const toml::table& t, const std::string& key) {
  return toml_util::strings(t, key, {}, pre);
}

const toml::array* tables(const toml::table& t, const std::string& key) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  const auto* a = n->as_array();
  if (!a || !a->is_array_of_tables())
    bad(*n, pre + key, "expected [[outbound." + key + "]] tables");
  return a;
}

} // namespace

std::shared_ptr<mailkit::queue::remote_transport>
load_outbound(const std::string& path, const std::string& hostname, const std::string& data_dir,
              mailkit::dns::resolver* resolver, const std::string& report_domain) {
  const toml::table t = toml::parse_file(path);
  const toml::node* on = t.get("outbound");
  if (!on) return nullptr;
  const toml::table* o = on->as_table();
  if (!o) bad(*on, pre, "expected a table");
  known(*o, {"default_route", "relay", "dkim", "route"}, pre);
  mailkit::relay::config c;
  c.default_route = out_str(*o, "default_route", "direct");
  if (const auto* rs = tables(*o, "relay")) {
    for (const auto& e : *rs) {
      const auto& r = *e.as_table();
      known(r,
            {"name", "preset", "host", "port", "addresses", "username", "password_file", "cafile",
             "approved_senders", "null_sender_address", "failover"},
            pre + "relay.");
      mailkit::relay::relay_config rc;
      rc.name = out_str(r, "name");
      if (rc.name.empty()) bad(e, pre + "relay.name", "required");
      rc.preset = out_str(r, "preset", "generic");
      rc.host = out_str(r, "host");
      if (const auto* p = r.get("port")) {
        auto v = p->value<std::int64_t>();
        if (!v || *v < 1 || *v > 65535) bad(*p, pre + "relay.port", "expected 1-65535");
        rc.port = static_cast<std::uint16_t>(*v);
      }
      rc.addresses = out_strs(r, "addresses");
      rc.username = out_str(r, "username");
      rc.password_file = out_str(r, "password_file");
      rc.cafile = out_str(r, "cafile");
      rc.approved_senders = out_strs(r, "approved_senders");
      rc.null_sender_address = out_str(r, "null_sender_address");
      rc.failover = out_str(r, "failover");
      c.relays.push_back(std::move(rc));
    }
  }
  if (const auto* ks = tables(*o, "dkim")) {
    for (const auto& e : *ks) {
      const auto& k = *e.as_table();
      known(k, {"domain", "selector", "key_file"}, pre + "dkim.");
      c.dkim.push_back({out_str(k, "domain"), out_str(k, "selector"), "", out_str(k, "key_file")});
    }
  }
  if (const auto* rs = tables(*o, "route")) {
    for (const auto& e : *rs) {
      const auto& r = *e.as_table();
      known(r, {"recipient_domain", "sender", "via"}, pre + "route.");
      c.rules.push_back({out_str(r, "recipient_domain"), out_str(r, "sender"), out_str(r, "via")});
    }
  }
  auto out = mailkit::server::make_outbound(c, hostname, data_dir, resolver, report_domain);
  if (!out) throw std::runtime_error(path + ": [outbound]: " + out.error().message());
  return *out;
}

} // namespace mailkitd
