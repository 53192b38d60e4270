// SPDX-License-Identifier: Apache-2.0
// `mailkit queue list|flush|hold ID|release ID|delete ID`: the queue of a running mailkitd,
// through its admin port (server/admin.hpp). The port and the token come from mailkitd's TOML
// file (--config: [admin] listen and token_file, data_dir), from --admin and --token-file, or
// from the embedded default (http://127.0.0.1:9925, ./var/admin-token).
#include "commands.hpp"

#include <mailkit/server/admin.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <toml++/toml.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace mailkit::cli {

namespace json = boost::json;

/// Where the admin port is and how to authenticate; shared with relay_commands.cpp.
struct admin_target_args {
  std::string config;     ///< mailkitd.toml
  std::string admin;      ///< http://host:port
  std::string token_file; ///< the bearer token file
  std::string data_dir = "./var";
  bool json = false;
};

/// Add --config, --admin, --token-file, --data-dir and --json to `cmd`.
void add_admin_target_options(CLI::App* cmd, const std::shared_ptr<admin_target_args>& a);

/// One request to the admin port: the parsed JSON answer of a 2xx, else an exception that says
/// what went wrong (mailkitd not running, a bad token, an unknown queue id ...).
json::value admin_request_json(const admin_target_args& a, std::string_view method,
                               std::string_view target);

namespace {

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot read the admin token " + path +
                             " (it is created by mailkitd at its first start; run as a user "
                             "that may read it, or give --token-file)");
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  return token;
}

struct resolved_target {
  std::string url, token_file;
};

resolved_target resolve(const admin_target_args& a) {
  resolved_target r;
  r.url = "http://127.0.0.1:9925";
  r.token_file = a.data_dir + "/admin-token";
  if (!a.config.empty()) {
    toml::table t;
    try {
      t = toml::parse_file(a.config);
    } catch (const toml::parse_error& e) {
      throw std::runtime_error(a.config + ":" + std::to_string(e.source().begin.line) + ": " +
                               std::string(e.description()));
    }
    const std::string data_dir = t["data_dir"].value_or(std::string("./var"));
    r.token_file = data_dir + "/admin-token";
    const auto* admin = t["admin"].as_table();
    if (!admin)
      throw std::runtime_error(a.config +
                               " has no [admin] table: the admin port is off (add [admin] "
                               "listen = \"127.0.0.1:9925\" and restart mailkitd)");
    std::string listen = (*admin)["listen"].value_or(std::string("127.0.0.1:9925"));
    if (listen.empty()) throw std::runtime_error(a.config + ": [admin] listen is empty (off)");
    // A wildcard listener is reached on loopback.
    if (listen.rfind("0.0.0.0:", 0) == 0) listen = "127.0.0.1" + listen.substr(7);
    if (listen.rfind("[::]:", 0) == 0) listen = "[::1]" + listen.substr(4);
    r.url = "http://" + listen;
    const std::string tf = (*admin)["token_file"].value_or(std::string());
    if (!tf.empty()) r.token_file = tf;
  }
  if (!a.admin.empty()) r.url = a.admin;
  if (!a.token_file.empty()) r.token_file = a.token_file;
  return r;
}

std::string age_text(std::int64_t s) {
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string time_text(std::int64_t unix) {
  if (unix <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%SZ", &tm);
  return b;
}

std::string str(const json::value& v, std::string_view key) {
  const auto* p = v.as_object().if_contains(key);
  return p && p->is_string() ? std::string(p->as_string()) : std::string();
}

std::int64_t num(const json::value& v, std::string_view key) {
  const auto* p = v.as_object().if_contains(key);
  if (!p) return 0;
  if (p->is_int64()) return p->as_int64();
  if (p->is_uint64()) return static_cast<std::int64_t>(p->as_uint64());
  return 0;
}

bool flag(const json::value& v, std::string_view key) {
  const auto* p = v.as_object().if_contains(key);
  return p && p->is_bool() && p->as_bool();
}

void print_queue(const json::value& v) {
  const auto& msgs = v.as_object().at("messages").as_array();
  if (msgs.empty()) {
    std::printf("Mail queue is empty\n");
    return;
  }
  std::printf("%-24s %9s %6s  %s\n", "Queue ID", "Size", "Age", "Sender / recipients");
  for (const auto& m : msgs) {
    std::string mark;
    if (flag(m, "held")) mark = " (held)";
    if (flag(m, "delivering")) mark += " (being delivered)";
    const std::string sender = str(m, "sender");
    std::printf("%-24s %9lld %6s  <%s>%s\n", str(m, "id").c_str(),
                static_cast<long long>(num(m, "size")), age_text(num(m, "age")).c_str(),
                sender.c_str(), mark.c_str());
    for (const auto& r : m.as_object().at("recipients").as_array()) {
      const std::string state = str(r, "state");
      std::string line = "    " + str(r, "address") + "  " + state;
      if (num(r, "attempts") > 0) line += ", " + std::to_string(num(r, "attempts")) + " attempt(s)";
      if (state == "deferred" && !flag(m, "held"))
        line += ", next " + time_text(num(r, "next_attempt"));
      std::printf("%s\n", line.c_str());
      const std::string reply = str(r, "last_reply");
      if (!reply.empty()) std::printf("      (%s)\n", reply.c_str());
    }
  }
  std::printf("-- %lld message(s), %lld octets, %lld held\n",
              static_cast<long long>(num(v, "count")), static_cast<long long>(num(v, "bytes")),
              static_cast<long long>(num(v, "held")));
}

void add_queue_commands(CLI::App& app) {
  auto a = std::make_shared<admin_target_args>();
  auto id = std::make_shared<std::string>();
  auto notify = std::make_shared<bool>(false);
  auto* queue = app.add_subcommand(
      "queue", "the mail queue of a running mailkitd (through its admin port: [admin] in the "
               "config)");
  queue->require_subcommand(1);

  auto* list = queue->add_subcommand("list", "every queued message with its recipients' state");
  add_admin_target_options(list, a);
  list->callback([a] {
    const auto v = admin_request_json(*a, "GET", "/api/queue");
    if (a->json)
      std::cout << json::serialize(v) << "\n";
    else
      print_queue(v);
  });

  auto* flush = queue->add_subcommand("flush", "attempt every deferred recipient now");
  add_admin_target_options(flush, a);
  flush->callback([a] {
    const auto v = admin_request_json(*a, "POST", "/api/queue/flush");
    if (a->json)
      std::cout << json::serialize(v) << "\n";
    else
      std::printf("queue flushed (%lld message(s) queued)\n",
                  static_cast<long long>(num(v, "messages")));
  });

  struct action {
    const char* name;
    const char* help;
    const char* done;
  };
  static const action actions[] = {
      {"hold", "put a message on hold: not attempted until released (kept across restarts)",
       "held"},
      {"release", "release a held message (attempted now)", "released"},
      {"delete", "delete a message (no DSN unless --notify)", "deleted"},
  };
  for (const auto& act : actions) {
    auto* cmd = queue->add_subcommand(act.name, act.help);
    cmd->add_option("id", *id, "queue id (from mailkit queue list)")->required();
    if (std::string_view(act.name) == "delete")
      cmd->add_flag("--notify", *notify,
                    "tell the sender (an RFC 3464 failure DSN for the undelivered recipients)");
    add_admin_target_options(cmd, a);
    cmd->callback([a, id, notify, act] {
      std::string target = "/api/queue/" + *id + "/" + act.name;
      if (*notify) target += "?notify=1";
      const auto v = admin_request_json(*a, "POST", target);
      if (a->json)
        std::cout << json::serialize(v) << "\n";
      else
        std::printf("%s: %s\n", id->c_str(), act.done);
    });
  }
}

const command_registration reg{300, &add_queue_commands};

} // namespace

void add_admin_target_options(CLI::App* cmd, const std::shared_ptr<admin_target_args>& a) {
  cmd->add_option("--config,-c", a->config,
                  "mailkitd's TOML file ([admin] listen and token_file, data_dir)");
  cmd->add_option("--admin", a->admin, "the admin port's URL (default http://127.0.0.1:9925)");
  cmd->add_option("--token-file", a->token_file,
                  "the bearer token file (default <data_dir>/admin-token)");
  cmd->add_option("--data-dir", a->data_dir, "mailkitd's data directory without --config")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print the admin port's JSON answer");
}

json::value admin_request_json(const admin_target_args& a, std::string_view method,
                               std::string_view target) {
  const auto t = resolve(a);
  const std::string token = read_token(t.token_file);
  auto r = server::admin_call(t.url, method, target, token);
  if (!r)
    throw std::runtime_error("cannot reach mailkitd's admin port at " + t.url + " (" +
                             r.error().message() +
                             "): is mailkitd running, with [admin] listen set to this address?");
  json::value v;
  boost::system::error_code ec;
  v = json::parse(r->body, ec);
  if (ec || !v.is_object())
    throw std::runtime_error("the admin port at " + t.url + " answered " +
                             std::to_string(r->status) + " with something that is not JSON");
  if (r->status / 100 != 2) {
    std::string why = str(v, "error");
    if (r->status == 401) why += " (the token in " + t.token_file + " was refused)";
    throw std::runtime_error(std::string(method) + " " + std::string(target) + ": " +
                             std::to_string(r->status) + " " + why);
  }
  return v;
}

} // namespace mailkit::cli
