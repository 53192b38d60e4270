// SPDX-License-Identifier: Apache-2.0
// `mailkit relay status`: each outbound relay's quota use, limit, window, next reset and
// provider hold, from a running mailkitd's admin port (GET /api/relay).
#include "commands.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>

namespace mailkit::cli {

namespace json = boost::json;

// Defined in queue_commands.cpp (the admin port client both groups share).
struct admin_target_args {
  std::string config;
  std::string admin;
  std::string token_file;
  std::string data_dir = "./var";
  bool json = false;
};
void add_admin_target_options(CLI::App* cmd, const std::shared_ptr<admin_target_args>& a);
json::value admin_request_json(const admin_target_args& a, std::string_view method,
                               std::string_view target);

namespace {

std::string utc(std::int64_t unix) {
  if (unix <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%SZ", &tm);
  return b;
}

std::int64_t num(const json::object& o, std::string_view key) {
  const auto* p = o.if_contains(key);
  if (!p) return 0;
  if (p->is_int64()) return p->as_int64();
  if (p->is_uint64()) return static_cast<std::int64_t>(p->as_uint64());
  return 0;
}

std::string str(const json::object& o, std::string_view key) {
  const auto* p = o.if_contains(key);
  return p && p->is_string() ? std::string(p->as_string()) : std::string();
}

void print_relays(const json::value& v) {
  const auto& o = v.as_object();
  const auto& relays = o.at("relays").as_array();
  if (relays.empty()) {
    const auto* ob = o.if_contains("outbound");
    std::printf("%s\n", ob && ob->is_bool() && ob->as_bool()
                            ? "No relays configured: outbound mail goes direct to each MX."
                            : "No outbound transport configured ([outbound] in the config): "
                              "mail to other domains stays queued.");
    return;
  }
  for (const auto& rv : relays) {
    const auto& r = rv.as_object();
    const std::int64_t used = num(r, "used"), limit = num(r, "limit");
    std::printf("%s (%s, %s)\n", str(r, "name").c_str(), str(r, "preset").c_str(),
                str(r, "host").c_str());
    if (limit > 0)
      std::printf("  quota:    %lld of %lld used (%lld%%), counted %s over a %s\n",
                  static_cast<long long>(used), static_cast<long long>(limit),
                  static_cast<long long>(used * 100 / limit), str(r, "counting").c_str(),
                  str(r, "window").c_str());
    else
      std::printf("  quota:    %lld used, no daily limit\n", static_cast<long long>(used));
    if (num(r, "limit_minute") > 0)
      std::printf("  minute:   %lld of %lld\n", static_cast<long long>(num(r, "used_minute")),
                  static_cast<long long>(num(r, "limit_minute")));
    std::printf("  resets:   %s\n", utc(num(r, "reset")).c_str());
    const auto* held = r.if_contains("held");
    if (held && held->is_bool() && held->as_bool())
      std::printf("  HELD until %s: %s\n", utc(num(r, "held_until")).c_str(),
                  str(r, "held_reason").c_str());
    else
      std::printf("  held:     no\n");
  }
}

void add_relay_commands(CLI::App& app) {
  auto a = std::make_shared<admin_target_args>();
  auto* relay = app.add_subcommand("relay", "the outbound relays of a running mailkitd");
  relay->require_subcommand(1);
  auto* status = relay->add_subcommand(
      "status", "quota used and limit, window, next reset, and any hold from the provider");
  add_admin_target_options(status, a);
  status->callback([a] {
    const auto v = admin_request_json(*a, "GET", "/api/relay");
    if (a->json)
      std::cout << json::serialize(v) << "\n";
    else
      print_relays(v);
  });
}

const command_registration reg{350, &add_relay_commands};

} // namespace

} // namespace mailkit::cli
