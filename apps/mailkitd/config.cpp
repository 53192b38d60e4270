// SPDX-License-Identifier: Apache-2.0
// mailkitd's TOML configuration (config.hpp, docs/configuration.md).
#include "config.hpp"
#include "toml_util.hpp"

#include <mailkit/server/mail_server.hpp>

#include <toml++/toml.h>

#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <stdexcept>

namespace mailkitd {

namespace server = mailkit::server;
namespace smtp = mailkit::smtp;

using namespace toml_util;

namespace {

// "0.0.0.0:25", "[::1]:2525", "127.0.0.1:0".
std::pair<std::string, std::uint16_t> parse_listen(const toml::node& n, const std::string& key,
                                                   const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) bad(n, key, "expected address:port, got " + text);
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const std::string p = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc{} || end != p.data() + p.size() || port > 65535)
    bad(n, key, "bad port in " + text);
  return {host, static_cast<std::uint16_t>(port)};
}

mailkit::log_level parse_level(const toml::node& n, const std::string& s) {
  using mailkit::log_level;
  if (s == "debug") return log_level::debug;
  if (s == "info") return log_level::info;
  if (s == "notice") return log_level::notice;
  if (s == "warning") return log_level::warning;
  if (s == "error") return log_level::error;
  bad(n, "log_level", "expected debug, info, notice, warning or error");
}

} // namespace

daemon_config embedded_config(const std::string& data_dir) {
  daemon_config d;
  d.embedded = true;
  d.server = std::make_shared<server::mail_server_config>();
  auto& c = *d.server;
  c.hostname = "mail.example.test";
  c.data_dir = data_dir;
  c.domains = {"example.test"};
  c.self_signed_tls = true;
  c.smtp = {{"127.0.0.1", 2525, smtp::listener_mode::mx},
            {"127.0.0.1", 5587, smtp::listener_mode::submission},
            {"127.0.0.1", 5465, smtp::listener_mode::submission_implicit_tls}};
  c.imap = {{"127.0.0.1", 1143, false, false}, {"127.0.0.1", 1993, true, false}};
  c.https_address = "127.0.0.1";
  c.https_port = 8443;
  // Clients on this machine connect to the loopback ports themselves (autoconfig.hpp).
  c.autoconfig.imap_host = c.autoconfig.smtp_host = "localhost";
  c.autoconfig.imaps_port = 1993;
  c.autoconfig.imap_port = 1143;
  c.autoconfig.submissions_port = 5465;
  c.autoconfig.submission_port = 5587;
  c.admin_address = "127.0.0.1"; // metrics and the operator API (mailkit queue/relay)
  c.admin_port = 9925;
  d.example_user = "user@example.test";
  return d;
}

daemon_config load_config(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw std::runtime_error(path + ":" + std::to_string(src.begin.line) + ": " +
                             std::string(e.description()));
  }
  known(t,
        {"hostname", "data_dir", "domains", "log_level", "json_logs", "user", "tls", "smtp", "imap",
         "dns", "https", "mta_sts", "outbound", "admin", "autoconfig"},
        "");
  daemon_config d;
  d.config_file = path;
  d.server = std::make_shared<server::mail_server_config>();
  auto& c = *d.server;
  c.hostname = value<std::string>(t, "hostname", "localhost");
  c.data_dir = value<std::string>(t, "data_dir", "./var");
  c.domains = strings(t, "domains", {});
  if (const auto* n = t.get("log_level")) d.log_level = parse_level(*n, *n->value<std::string>());
  d.json_logs = value<bool>(t, "json_logs", false);
  d.run_as = value<std::string>(t, "user", "");

  if (const auto* tls = sub(t, "tls")) {
    known(*tls, {"cert", "key", "self_signed"}, "tls.");
    c.tls_cert = value<std::string>(*tls, "cert", "");
    c.tls_key = value<std::string>(*tls, "key", "");
    c.self_signed_tls = value<bool>(*tls, "self_signed", false);
  } else {
    c.self_signed_tls = true;
  }

  const toml::table empty;
  const toml::table* s = sub(t, "smtp");
  if (!s) s = &empty;
  known(*s,
        {"listen_mx", "listen_submission", "listen_submissions", "max_message_size",
         "min_free_space", "reject_spf_fail", "restrict_sender", "max_connections",
         "max_connections_per_ip"},
        "smtp.");
  auto add_smtp = [&](const std::string& key, std::vector<std::string> def,
                      smtp::listener_mode mode) {
    for (const auto& l : strings(*s, key, std::move(def))) {
      auto [host, port] = parse_listen(s->get(key) ? *s->get(key) : *s, "smtp." + key, l);
      c.smtp.push_back({host, port, mode});
    }
  };
  add_smtp("listen_mx", {"0.0.0.0:25"}, smtp::listener_mode::mx);
  add_smtp("listen_submission", {"0.0.0.0:587"}, smtp::listener_mode::submission);
  add_smtp("listen_submissions", {"0.0.0.0:465"}, smtp::listener_mode::submission_implicit_tls);
  c.max_message_size = value<std::int64_t>(*s, "max_message_size", 35 << 20);
  if (auto free = value<std::int64_t>(*s, "min_free_space", 32 << 20); free >= 0)
    c.min_free_space = static_cast<std::uint64_t>(free);
  else
    bad(*s->get("min_free_space"), "smtp.min_free_space", "expected 0 or more octets");
  c.reject_spf_fail = value<bool>(*s, "reject_spf_fail", false);
  c.restrict_sender = value<bool>(*s, "restrict_sender", true);
  c.max_smtp_connections = value<std::int64_t>(*s, "max_connections", 1000);
  c.max_smtp_connections_per_ip = value<std::int64_t>(*s, "max_connections_per_ip", 20);

  const toml::table* i = sub(t, "imap");
  if (!i) i = &empty;
  known(*i, {"listen_imap", "listen_imaps", "idle_timeout", "max_connections_per_user"}, "imap.");
  for (const auto& l : strings(*i, "listen_imap", {"0.0.0.0:143"})) {
    auto [host, port] = parse_listen(*i, "imap.listen_imap", l);
    c.imap.push_back({host, port, false, false});
  }
  for (const auto& l : strings(*i, "listen_imaps", {"0.0.0.0:993"})) {
    auto [host, port] = parse_listen(*i, "imap.listen_imaps", l);
    c.imap.push_back({host, port, true, false});
  }
  c.imap_idle_timeout = std::chrono::seconds(value<std::int64_t>(*i, "idle_timeout", 1800));
  c.max_imap_connections_per_user = value<std::int64_t>(*i, "max_connections_per_user", 20);

  if (const auto* dns = sub(t, "dns")) {
    known(*dns, {"servers"}, "dns.");
    c.dns_servers = strings(*dns, "servers", {});
  }
  if (const auto* h = sub(t, "https")) {
    known(*h, {"listen"}, "https.");
    const std::string l = value<std::string>(*h, "listen", "");
    if (!l.empty()) {
      auto [host, port] = parse_listen(*h, "https.listen", l);
      c.https_address = host;
      c.https_port = port;
    }
  }
  if (const auto* m = sub(t, "mta_sts")) {
    known(*m, {"mode", "mx", "max_age"}, "mta_sts.");
    c.mta_sts_mode = value<std::string>(*m, "mode", "testing");
    if (c.mta_sts_mode != "enforce" && c.mta_sts_mode != "testing" && c.mta_sts_mode != "none")
      bad(*m->get("mode"), "mta_sts.mode", "expected enforce, testing or none");
    c.mta_sts_mx = strings(*m, "mx", {});
    const auto age = value<std::int64_t>(*m, "max_age", 604800);
    if (age < 1 || age > 31557600) bad(*m, "mta_sts.max_age", "expected 1-31557600 seconds");
    c.mta_sts_max_age = static_cast<std::uint32_t>(age);
  }
  {
    // [autoconfig]: what mail clients are told (the public names and ports). A service is
    // advertised on its standard port when it has a listener, unless a key says otherwise.
    const toml::table* a = sub(t, "autoconfig");
    if (!a) a = &empty;
    known(*a,
          {"enabled", "display_name", "imap_host", "smtp_host", "imaps_port", "imap_port",
           "submissions_port", "submission_port"},
          "autoconfig.");
    auto& ac = c.autoconfig;
    ac.enabled = value<bool>(*a, "enabled", true);
    ac.display_name = value<std::string>(*a, "display_name", "");
    ac.imap_host = value<std::string>(*a, "imap_host", "");
    ac.smtp_host = value<std::string>(*a, "smtp_host", "");
    auto has = [&](smtp::listener_mode mode) {
      return std::any_of(c.smtp.begin(), c.smtp.end(),
                         [&](const smtp::listener_config& l) { return l.mode == mode; });
    };
    auto has_imap = [&](bool implicit) {
      return std::any_of(c.imap.begin(), c.imap.end(), [&](const server::imap_listener& l) {
        return l.implicit_tls == implicit;
      });
    };
    auto port = [&](const char* key, bool listening, std::int64_t standard) {
      const auto v = value<std::int64_t>(*a, key, listening ? standard : 0);
      if (v < 0 || v > 65535)
        bad(*a->get(key), std::string("autoconfig.") + key, "expected 0-65535");
      return static_cast<std::uint16_t>(v);
    };
    ac.imaps_port = port("imaps_port", has_imap(true), 993);
    ac.imap_port = port("imap_port", has_imap(false), 143);
    ac.submissions_port =
        port("submissions_port", has(smtp::listener_mode::submission_implicit_tls), 465);
    ac.submission_port = port("submission_port", has(smtp::listener_mode::submission), 587);
  }
  if (const auto* a = sub(t, "admin")) {
    known(*a, {"listen", "token_file"}, "admin.");
    const std::string l = value<std::string>(*a, "listen", "127.0.0.1:9925");
    if (!l.empty()) {
      auto [host, port] = parse_listen(*a, "admin.listen", l);
      c.admin_address = host;
      c.admin_port = port;
    }
    c.admin_token_file = value<std::string>(*a, "token_file", "");
  }
  if (c.smtp.empty()) throw std::runtime_error(path + ": no SMTP listener configured");
  return d;
}

std::string default_config_text() {
  return R"(# mailkitd configuration (docs/configuration.md lists every key).
# Without --config, mailkitd runs on the embedded default shown here.
hostname = "mail.example.test"     # HELO name, certificate name, Received fields
data_dir = "./var"                  # store/, queue/, tls/ and relay state
domains = ["example.test"]          # created in the store at start
log_level = "info"                  # debug, info, notice, warning, error
json_logs = false                   # one JSON object per line instead of Postfix-style lines
# user = "mailkit"                  # switch to this user after binding the ports (as root)

[tls]
cert = ""                           # PEM; empty: <data_dir>/tls/cert.pem
key = ""
self_signed = true                  # make a self-signed pair when the files are missing

[smtp]
listen_mx = ["127.0.0.1:2525"]            # production: ["0.0.0.0:25"]
listen_submission = ["127.0.0.1:5587"]    # STARTTLS, then AUTH (587)
listen_submissions = ["127.0.0.1:5465"]   # implicit TLS, then AUTH (465)
max_message_size = 36700160
min_free_space = 33554432           # refuse new mail (452 4.3.1) below this much free disk
reject_spf_fail = false             # refuse SPF fail at MAIL FROM (else DMARC decides)
restrict_sender = true              # authenticated users send only as their own addresses
max_connections = 1000
max_connections_per_ip = 20

[imap]
listen_imap = ["127.0.0.1:1143"]    # STARTTLS (143)
listen_imaps = ["127.0.0.1:1993"]   # implicit TLS (993)
idle_timeout = 1800                 # seconds (RFC 9051 §5.4: at least 30 minutes)
max_connections_per_user = 20

[dns]
servers = []                        # empty: /etc/resolv.conf; e.g. ["127.0.0.1:53"] (unbound)

[https]
listen = "127.0.0.1:8443"           # MTA-STS policies (production: "0.0.0.0:443"); "" = off

[mta_sts]
mode = "testing"                    # enforce, testing or none (RFC 8461 §5)
mx = []                             # the policy's mx patterns; empty: [hostname]
max_age = 604800                    # seconds (at most 31557600)

[autoconfig]                        # mail client set-up, served on the HTTPS listener
enabled = true                      # autoconfig.<domain>/mail/config-v1.1.xml (Thunderbird ...)
display_name = ""                   # empty: the domain
imap_host = "localhost"             # the names clients connect to; default: hostname
smtp_host = "localhost"
imaps_port = 1993                   # public ports (production: 993, 143, 465, 587); 0 = not
imap_port = 1143                    # offered; default: the standard port when listening
submissions_port = 5465
submission_port = 5587

[admin]
listen = "127.0.0.1:9925"           # GET /metrics (Prometheus, no token) and the operator API
                                    # (mailkit queue ..., mailkit relay status); plain HTTP:
                                    # keep it on loopback. "" or no [admin] table = off
token_file = ""                     # bearer token; empty: <data_dir>/admin-token (made 0600)

# Outbound mail. Without this table, mail to other domains stays queued (4.4.1).
# [outbound]
# default_route = "oci"             # "direct" (MX delivery, port 25) or a relay name
# [[outbound.relay]]
# name = "oci"
# preset = "oci:eu-frankfurt-1"     # oci:<region>, brevo, ses:<region>, mailgun-us, mailgun-eu,
#                                   # sendgrid, postmark, smtp2go, generic
# host = ""                         # override the preset's host
# port = 587
# addresses = []                    # connect to these IPs instead of resolving host
# cafile = ""                       # trust anchors for the relay's certificate (default: system)
# username = "ocid1.user.oc1..."
# password_file = "/etc/mailkit/oci.secret"
# approved_senders = ["alice@example.com"]
# [[outbound.dkim]]
# domain = "example.com"
# selector = "mk202612"
# key_file = "/var/lib/mailkit/dkim/example.com.pem"
)";
}

namespace {

// A password from the kernel's CSPRNG, without look-alike characters.
std::string random_password() {
  static constexpr std::string_view alphabet =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  unsigned char raw[16];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    throw std::runtime_error("getrandom failed");
  std::string out;
  for (unsigned char c : raw)
    out += alphabet[c % alphabet.size()];
  return out;
}

} // namespace

std::optional<std::string> ensure_example_account(mailkit::store::mail_store& store,
                                                  const std::string& address,
                                                  const std::string& data_dir) {
  const std::string file = data_dir + "/example-password";
  if (store.account(address)) {
    std::ifstream in(file);
    std::string pw;
    std::getline(in, pw);
    if (pw.empty()) return std::nullopt;
    return pw;
  }
  const std::string pw = random_password();
  if (auto r = store.add_account(address, pw); !r)
    throw std::runtime_error("cannot create " + address + ": " + r.error().message());
  const mode_t old = ::umask(077);
  std::ofstream(file) << pw << "\n";
  ::umask(old);
  return pw;
}

} // namespace mailkitd
