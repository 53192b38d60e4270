// SPDX-License-Identifier: Apache-2.0
// `mailkit quickstart`: from nothing to a configured server for one domain (issue 10):
//
//   mailkit quickstart --domain example.com --hostname mail.example.com
//       --relay oci:eu-frankfurt-1 --relay-user ocid1.user... --relay-password-file oci.secret
//
// 1. checks every input (nothing is written when one is wrong);
// 2. writes mailkitd.toml (docs/configuration.md keys; refuses to overwrite without --force);
// 3. creates the DKIM key (as `mailkit dkim keygen`: RSA 2048, selector mkYYYYMM, 0600);
// 4. creates the domain and the first account in <data-dir>/store, with a generated password
//    (printed once) or --password-file;
// 5. prints the DNS records (`mailkit dns plan`'s zone file) and the next steps.
//
// --listen-loopback and --port-base put every listener on 127.0.0.1 and/or at <base>+<standard
// port> (25 -> base+25 ...): a trial run on one machine, and the tests.
#include "commands.hpp"

#include <mailkit/dkim/keys.hpp>
#include <mailkit/relay/preset.hpp>
#include <mailkit/server/dns_plan.hpp>
#include <mailkit/store/store.hpp>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace mailkit::cli {

namespace {

namespace fs = std::filesystem;

struct quickstart_args {
  std::string domain, hostname, relay;
  std::string relay_user, relay_password_file;
  std::string data_dir = "/var/lib/mailkit";
  std::string config = "mailkitd.toml";
  std::string account; ///< default postmaster@<domain>
  std::string password_file;
  std::vector<std::string> ipv4, ipv6, dns_servers;
  bool listen_loopback = false;
  std::optional<unsigned> port_base;
  bool force = false;
};

// RFC 1123 §2.1: letters, digits, hyphens; labels 1-63 octets; at least two labels.
bool is_host_name(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.find('.') == std::string_view::npos) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= h.size(); ++i) {
    if (i == h.size() || h[i] == '.') {
      if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(h[i])) || h[i] == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

// A TOML basic string (TOML 1.0 "Basic strings": escape ", \ and control characters).
std::string toml_quote(std::string_view s) {
  std::string o = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += ch;
    }
  }
  return o + "\"";
}

std::string toml_list(const std::vector<std::string>& v) {
  std::string o = "[";
  for (std::size_t i = 0; i < v.size(); ++i)
    o += (i ? ", " : "") + toml_quote(v[i]);
  return o + "]";
}

std::string random_password() {
  static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  unsigned char raw[20];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    throw std::runtime_error("getrandom failed");
  std::string out;
  for (const unsigned char c : raw)
    out += alphabet[c % (sizeof alphabet - 1)];
  return out;
}

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) throw std::runtime_error("cannot read " + path);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
    line.pop_back();
  if (line.empty()) throw std::runtime_error(path + ": empty password refused");
  return line;
}

// Durable write (STYLE.md): temporary file, fsync, rename, fsync the directory.
void write_file(const fs::path& path, const std::string& text, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  const mode_t old = ::umask(077);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  ::umask(old);
  if (!f) throw std::runtime_error("cannot write " + tmp.string());
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                  std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  if (std::fclose(f) != 0 || !ok || ::chmod(tmp.c_str(), mode) != 0) {
    fs::remove(tmp);
    throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); d >= 0) {
    ::fsync(d);
    ::close(d);
  }
}

struct ports {
  std::string address;
  unsigned mx, submission, submissions, imap, imaps, https;
};

ports ports_for(const quickstart_args& a) {
  const unsigned b = a.port_base.value_or(0);
  return {a.listen_loopback ? "127.0.0.1" : "0.0.0.0",
          b + 25,
          b + 587,
          b + 465,
          b + 143,
          b + 993,
          b + 443};
}

std::string listen(const ports& p, unsigned port) {
  return toml_quote(p.address + ":" + std::to_string(port));
}

std::string config_text(const quickstart_args& a, const std::string& data_dir,
                        const std::string& selector, const std::string& key_file) {
  const ports p = ports_for(a);
  std::ostringstream t;
  t << "# mailkitd configuration written by `mailkit quickstart` (docs/configuration.md lists\n"
    << "# every key). Check it with: mailkitd --config FILE --check-config\n"
    << "hostname = " << toml_quote(a.hostname) << "\n"
    << "data_dir = " << toml_quote(data_dir) << "\n"
    << "domains = " << toml_list({a.domain}) << "\n"
    << "log_level = \"info\"\n\n"
    << "[tls]\n"
    << "# A self-signed certificate for the host name is made at first start. Replace it with a\n"
    << "# CA-issued one naming " << a.hostname << ", mta-sts." << a.domain << " and autoconfig."
    << a.domain << ",\n# then `kill -HUP` mailkitd.\n"
    << "cert = \"\"\nkey = \"\"\nself_signed = true\n\n"
    << "[smtp]\n"
    << "listen_mx = [" << listen(p, p.mx) << "]\n"
    << "listen_submission = [" << listen(p, p.submission) << "]\n"
    << "listen_submissions = [" << listen(p, p.submissions) << "]\n\n"
    << "[imap]\n"
    << "listen_imap = [" << listen(p, p.imap) << "]\n"
    << "listen_imaps = [" << listen(p, p.imaps) << "]\n\n";
  if (!a.dns_servers.empty()) t << "[dns]\nservers = " << toml_list(a.dns_servers) << "\n\n";
  t << "[https]\n"
    << "listen = " << listen(p, p.https) << "   # MTA-STS policy and client autoconfiguration\n\n"
    << "[mta_sts]\nmode = \"testing\"                 # enforce once the TLS reports are clean\n\n"
    << "[admin]\n"
    << "# Metrics (/metrics) and the queue API of `mailkit queue` and `mailkit relay status`:\n"
    << "# keep it on loopback (docs/configuration.md).\n"
    << "listen = " << toml_quote("127.0.0.1:" + std::to_string(a.port_base.value_or(0) + 9925))
    << "\n\n";
  if (a.port_base || a.listen_loopback) {
    // Clients must be told the names and ports actually listening (autoconfig.hpp).
    t << "[autoconfig]\n";
    if (a.listen_loopback) t << "imap_host = \"localhost\"\nsmtp_host = \"localhost\"\n";
    t << "imaps_port = " << p.imaps << "\nimap_port = " << p.imap
      << "\nsubmissions_port = " << p.submissions << "\nsubmission_port = " << p.submission
      << "\n\n";
  }
  t << "[outbound]\n";
  if (a.relay == "direct") {
    t << "default_route = \"direct\"            # MX delivery on port 25 (MTA-STS, DANE)\n";
  } else {
    const std::string name = a.relay.substr(0, a.relay.find(':'));
    t << "default_route = " << toml_quote(name) << "\n\n"
      << "[[outbound.relay]]\n"
      << "name = " << toml_quote(name) << "\n"
      << "preset = " << toml_quote(a.relay) << "\n";
    if (!a.relay_user.empty())
      t << "username = " << toml_quote(a.relay_user) << "\n";
    else
      t << "# username = \"...\"                # the relay's SMTP user name\n";
    if (!a.relay_password_file.empty())
      t << "password_file = " << toml_quote(fs::absolute(a.relay_password_file).string()) << "\n";
    else
      t << "# password_file = \"/etc/mailkit/relay.secret\"\n";
  }
  t << "\n[[outbound.dkim]]\n"
    << "domain = " << toml_quote(a.domain) << "\n"
    << "selector = " << toml_quote(selector) << "\n"
    << "key_file = " << toml_quote(key_file) << "\n";
  return t.str();
}

int run_quickstart(quickstart_args& a) {
  // 1. Inputs, before anything is written.
  for (auto* s : {&a.domain, &a.hostname})
    while (!s->empty() && s->back() == '.')
      s->pop_back();
  if (!is_host_name(a.domain)) throw CLI::ValidationError("--domain", "not a domain: " + a.domain);
  if (!is_host_name(a.hostname))
    throw CLI::ValidationError("--hostname", "not a host name: " + a.hostname);
  if (a.relay != "direct") {
    if (!relay::find_preset(a.relay))
      throw CLI::ValidationError("--relay", "unknown preset " + a.relay +
                                                " (oci:<region>, brevo, ses:<region>, mailgun-us,"
                                                " mailgun-eu, sendgrid, postmark, smtp2go, generic"
                                                " or direct)");
    if (!a.relay_password_file.empty()) (void)read_first_line(a.relay_password_file);
  }
  if (a.port_base && *a.port_base + 9925 > 65535)
    throw CLI::ValidationError("--port-base", "at most 55610");
  if (a.account.empty()) a.account = "postmaster@" + a.domain;
  const auto at = a.account.rfind('@');
  if (at == std::string::npos || at == 0 || a.account.substr(at + 1) != a.domain)
    throw CLI::ValidationError("--account", "expected an address in " + a.domain);
  const std::string password =
      a.password_file.empty() ? random_password() : read_first_line(a.password_file);
  const fs::path config = fs::absolute(a.config).lexically_normal();
  if (fs::exists(config) && !a.force)
    throw std::runtime_error(config.string() + " exists: refusing to overwrite it (--force)");

  // 2. The data directory, the DKIM key (kept when this month's key already exists).
  const fs::path data = fs::absolute(a.data_dir).lexically_normal();
  fs::create_directories(data / "dkim");
  const std::string selector = dkim::selector_for(std::chrono::system_clock::now());
  const fs::path key_file = data / "dkim" / (a.domain + "." + selector + ".pem");
  std::optional<dkim::private_key> key;
  if (fs::exists(key_file)) {
    std::ifstream in(key_file, std::ios::binary);
    std::ostringstream pem;
    pem << in.rdbuf();
    auto k = dkim::private_key::from_pem(pem.str());
    if (!k) throw std::runtime_error(key_file.string() + ": " + k.error().message());
    key = std::move(*k);
  } else {
    auto k = dkim::private_key::generate(dkim::key_type::rsa, 2048);
    if (!k) throw std::runtime_error("key generation failed: " + k.error().message());
    write_file(key_file, k->to_pem(), 0600);
    key = std::move(*k);
  }

  // 3. The domain and the first account (the store is mailkitd's: it must not be running).
  auto st = store::open((data / "store").string());
  if (!st)
    throw std::runtime_error("cannot open the store at " + (data / "store").string() + ": " +
                             st.error().message() + " (is mailkitd running?)");
  auto domains = (*st)->domains();
  if (!domains) throw std::runtime_error("store: " + domains.error().message());
  if (std::find(domains->begin(), domains->end(), a.domain) == domains->end())
    if (auto r = (*st)->add_domain(a.domain); !r)
      throw std::runtime_error("domain add: " + r.error().message());
  bool created = false;
  if (!(*st)->account(a.account)) {
    if (auto r = (*st)->add_account(a.account, password); !r)
      throw std::runtime_error("user add " + a.account + ": " + r.error().message());
    created = true;
  }
  st->reset();

  // 4. The configuration.
  if (config.has_parent_path()) fs::create_directories(config.parent_path());
  write_file(config, config_text(a, data.string(), selector, key_file.string()), 0640);

  // 5. What to publish and what to do next.
  server::dns_settings ds;
  ds.domain = a.domain;
  ds.mail_host = a.hostname;
  ds.ipv4 = a.ipv4;
  ds.ipv6 = a.ipv6;
  ds.relay = a.relay == "direct" ? "" : a.relay;
  ds.relay_only = a.relay != "direct";
  ds.dkim.push_back({selector, key->dns_txt()});
  auto plan = server::plan_dns(ds);
  if (!plan) throw std::runtime_error("dns plan: " + plan.error());

  std::printf("Wrote %s\n", config.c_str());
  std::printf("DKIM key %s (selector %s)\n", key_file.c_str(), selector.c_str());
  if (created)
    std::printf("Account %s  password: %s%s\n", a.account.c_str(),
                a.password_file.empty() ? password.c_str() : "(from ",
                a.password_file.empty() ? "" : (a.password_file + ")").c_str());
  else
    std::printf("Account %s exists: password unchanged (mailkit user passwd to reset it)\n",
                a.account.c_str());
  std::printf("\n%s\n", server::to_zone_file(*plan).c_str());
  const ports p = ports_for(a);
  std::printf("Next steps:\n");
  std::printf("  1. Publish the records above at your DNS host (and set the PTR record).\n");
  if (a.relay != "direct" && (a.relay_user.empty() || a.relay_password_file.empty()))
    std::printf("  -  Fill in username and password_file of [[outbound.relay]] in %s.\n",
                config.c_str());
  std::printf("  2. Start the server:   mailkitd --config %s\n", config.c_str());
  std::string check_args;
  for (const auto& v : a.ipv4)
    check_args += " --ipv4 " + v;
  for (const auto& v : a.ipv6)
    check_args += " --ipv6 " + v;
  if (!ds.relay.empty()) check_args += " --relay " + ds.relay;
  std::printf("  3. Check DNS:          mailkit check %s --host %s%s --dkim %s=%s\n",
              a.domain.c_str(), a.hostname.c_str(), check_args.c_str(), selector.c_str(),
              key_file.c_str());
  // On loopback the host name does not lead here; until a CA certificate is installed, the
  // self-signed one (made at first start) is the trust anchor.
  const std::string host = a.listen_loopback ? "localhost" : a.hostname;
  std::printf("  4. Send a test:        mailkit send --host %s --port %u --starttls --cafile %s "
              "--user %s --password-file FILE --from %s --to you@elsewhere.example --body hello\n",
              host.c_str(), p.submission, (data / "tls" / "cert.pem").c_str(), a.account.c_str(),
              a.account.c_str());
  std::printf("  5. Mail clients: IMAP %s:%u (TLS), SMTP %s:%u (STARTTLS), user %s; Thunderbird "
              "finds these by itself (autoconfig.%s).\n",
              host.c_str(), p.imaps, host.c_str(), p.submission, a.account.c_str(),
              a.domain.c_str());
  std::printf("  6. Get a CA certificate for %s, mta-sts.%s and autoconfig.%s, set [tls] cert "
              "and key, then kill -HUP mailkitd.\n",
              a.hostname.c_str(), a.domain.c_str(), a.domain.c_str());
  std::fflush(stdout);
  return 0;
}

void add_quickstart_commands(CLI::App& app) {
  auto a = std::make_shared<quickstart_args>();
  auto* c = app.add_subcommand(
      "quickstart", "write mailkitd.toml, a DKIM key, the domain and its first account, and "
                    "print the DNS records to publish");
  c->add_option("--domain", a->domain, "the mail domain (example.com)")->required();
  c->add_option("--hostname", a->hostname, "the server's host name (mail.example.com)")->required();
  c->add_option("--relay", a->relay,
                "outbound relay preset (oci:<region>, brevo, ses:<region>, ...) or direct")
      ->required();
  c->add_option("--relay-user", a->relay_user, "the relay's SMTP user name");
  c->add_option("--relay-password-file", a->relay_password_file,
                "file whose first line is the relay's password or API key");
  c->add_option("--data-dir", a->data_dir, "mailkitd's data directory")->capture_default_str();
  c->add_option("--config", a->config, "the configuration file to write")->capture_default_str();
  c->add_option("--account", a->account, "the first account (default postmaster@<domain>)");
  c->add_option("--password-file", a->password_file,
                "its password (first line); default: generated and printed");
  c->add_option("--ipv4", a->ipv4, "the server's public IPv4 address(es), for the DNS records");
  c->add_option("--ipv6", a->ipv6, "the server's public IPv6 address(es)");
  c->add_option("--dns-server", a->dns_servers, "resolvers for mailkitd ([dns] servers)");
  c->add_flag("--listen-loopback", a->listen_loopback, "listen on 127.0.0.1 only (a trial run)");
  c->add_option("--port-base", a->port_base,
                "listen on <base>+25, +587, +465, +143, +993, +443 (unprivileged ports)");
  c->add_flag("--force", a->force, "overwrite an existing configuration file");
  c->callback([a] {
    const int rc = run_quickstart(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

const command_registration registration{50, &add_quickstart_commands};

} // namespace

} // namespace mailkit::cli
