// SPDX-License-Identifier: Apache-2.0
// mailkitd: the reference mail server, a thin shell over server::mail_server (issue 10).
//
//   mailkitd [--config FILE] [--data-dir DIR] [--print-config] [--check-config]
//
// Without --config it runs on the embedded default (config.hpp): ./var, loopback ports, a
// self-signed certificate, example.test with one user whose password is printed.
// Signals: SIGTERM/SIGINT stop gracefully (sessions drained, queue consistent); SIGHUP reloads
// the certificate and key, and the configuration file (what can change live: domains, the
// outbound relays and DKIM keys, MTA-STS; the rest is logged as needing a restart). Logs go to
// stderr in Postfix's line shape under mailkit/<service> (pflogsumm; fail2ban: contrib/fail2ban),
// or as JSON lines with json_logs = true.
#include "config.hpp"

#include <mailkit/core/log.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/server/mail_server.hpp>
#include <mailkit/server/process_tuning.hpp>

#include <CLI/CLI.hpp>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>

namespace server = mailkit::server;

namespace {

std::string json_escape(std::string_view s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

// "Dec  6 08:44:23 mail mailkit/smtpd[1234]: message" (syslog's shape, as Postfix writes it).
void install_log_sink(const mailkitd::daemon_config& d, const std::string& host) {
  static std::mutex mu;
  const bool json = d.json_logs;
  mailkit::set_log_sink(
      [json, host](mailkit::log_level level, std::string_view comp, std::string_view msg) {
        const std::time_t now = std::time(nullptr);
        std::tm tm{};
        localtime_r(&now, &tm);
        char ts[32];
        std::lock_guard<std::mutex> lock(mu);
        if (json) {
          std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);
          static const char* names[] = {"trace", "debug", "info", "notice", "warning", "error"};
          std::fprintf(stderr,
                       "{\"time\":\"%s\",\"level\":\"%s\",\"service\":\"mailkit/%s\",\"pid\":%d,"
                       "\"message\":\"%s\"}\n",
                       ts, names[static_cast<int>(level)], json_escape(comp).c_str(),
                       static_cast<int>(::getpid()), json_escape(msg).c_str());
        } else {
          std::strftime(ts, sizeof ts, "%b %e %H:%M:%S", &tm);
          std::fprintf(stderr, "%s %s mailkit/%.*s[%d]: %.*s\n", ts, host.c_str(),
                       static_cast<int>(comp.size()), comp.data(), static_cast<int>(::getpid()),
                       static_cast<int>(msg.size()), msg.data());
        }
      },
      d.log_level);
}

void drop_privileges(const std::string& user) {
  if (user.empty() || ::geteuid() != 0) return;
  const struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) throw std::runtime_error("user " + user + " does not exist");
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 ||
      ::setuid(pw->pw_uid) != 0)
    throw std::runtime_error("cannot switch to user " + user);
  mailkit::log(mailkit::log_level::notice, "master", "running as " + user);
}

void print_summary(const server::mail_server& srv, const mailkitd::daemon_config& d,
                   const std::string& password) {
  const auto& c = srv.config();
  std::printf("mailkitd is running (pid %d). Data: %s\n", static_cast<int>(::getpid()),
              std::filesystem::absolute(c.data_dir).c_str());
  std::uint16_t mx = 0, sub = 0, imaps = 0;
  for (const auto& l : srv.endpoints()) {
    std::printf("  %-12s %s:%u\n", l.service.c_str(), l.endpoint.address().to_string().c_str(),
                l.endpoint.port());
    if (l.service == "smtp" && !mx) mx = l.endpoint.port();
    if (l.service == "submission" && !sub) sub = l.endpoint.port();
    if (l.service == "imaps" && !imaps) imaps = l.endpoint.port();
  }
  if (!d.embedded) {
    std::fflush(stdout);
    return;
  }
  const std::string& user = d.example_user;
  std::printf(
      "\nExample account: %s  password: %s\n"
      "The certificate is self-signed (%s/tls/cert.pem): clients must accept it.\n\n"
      "Send a message to it (swaks):\n"
      "  swaks --server 127.0.0.1:%u --to %s --from someone@example.org\n"
      "Submit as the user (STARTTLS + AUTH):\n"
      "  swaks --server 127.0.0.1:%u --tls --auth-user %s --auth-password '%s' \\\n"
      "        --from %s --to %s\n"
      "Read it from Python:\n"
      "  /usr/bin/python3 -c \"import imaplib,ssl; m=imaplib.IMAP4_SSL('127.0.0.1',%u,"
      "ssl_context=ssl._create_unverified_context()); m.login('%s','%s'); print(m.select('INBOX'));"
      " print(m.fetch('1:*','(BODY[HEADER.FIELDS (SUBJECT FROM)])'))\"\n"
      "Thunderbird: IMAP 127.0.0.1 port %u SSL/TLS, SMTP 127.0.0.1 port %u STARTTLS, user %s,\n"
      "  normal password; accept the certificate exception.\n"
      "Thunderbird's autoconfig document (what mail clients read to configure themselves):\n"
      "  curl -k --resolve autoconfig.example.test:8443:127.0.0.1 \\\n"
      "       https://autoconfig.example.test:8443/mail/config-v1.1.xml\n"
      "Stop with Ctrl-C (or SIGTERM); SIGHUP reloads the certificate and the configuration.\n"
      "Queue and metrics: mailkit queue list --data-dir %s; curl http://127.0.0.1:9925/metrics\n",
      user.c_str(), password.c_str(), c.data_dir.c_str(), mx, user.c_str(), sub, user.c_str(),
      password.c_str(), user.c_str(), user.c_str(), imaps, user.c_str(), password.c_str(), imaps,
      sub, user.c_str(), c.data_dir.c_str());
  std::fflush(stdout);
}

// SIGHUP: read the file again and apply what can change while running
// (mail_server::reload); a file that no longer parses changes nothing.
void reload_config(server::mail_server& srv, const std::string& path,
                   mailkit::dns::resolver* resolver) {
  try {
    mailkitd::daemon_config d = mailkitd::load_config(path);
    auto& next = *d.server;
    next.resolver = srv.config().resolver;
    next.outbound = mailkitd::load_outbound(path, next.hostname, next.data_dir, resolver,
                                            next.domains.empty() ? std::string() : next.domains[0]);
    auto notes = srv.reload(std::move(next));
    if (!notes) {
      mailkit::log(mailkit::log_level::error, "master",
                   "reload: configuration not fully applied: " + notes.error().message());
      return;
    }
    for (const auto& n : *notes)
      mailkit::log(mailkit::log_level::notice, "master", "reload: " + n);
    mailkit::log(mailkit::log_level::notice, "master", "reload: configuration " + path + " read");
  } catch (const std::exception& e) {
    mailkit::log(mailkit::log_level::error, "master",
                 std::string("reload: configuration kept, the file has an error: ") + e.what());
  }
}

} // namespace

int main(int argc, char** argv) {
  mailkit::server::tune_allocator(); // message buffers reused, not re-mapped
  CLI::App app{"mailkitd: the mailkit mail server (SMTP, IMAP, outbound relay)"};
  std::string config_file, data_dir = "./var";
  bool print_config = false, check_config = false;
  app.add_option("--config,-c", config_file, "TOML configuration (docs/configuration.md)");
  app.add_option("--data-dir", data_dir, "data directory of the embedded default")
      ->capture_default_str();
  app.add_flag("--print-config", print_config, "print the embedded default as TOML and exit");
  app.add_flag("--check-config", check_config, "read the configuration, report, exit");
  CLI11_PARSE(app, argc, argv);
  if (print_config) {
    std::cout << mailkitd::default_config_text();
    return 0;
  }
  try {
    mailkitd::daemon_config d = config_file.empty() ? mailkitd::embedded_config(data_dir)
                                                    : mailkitd::load_config(config_file);
    auto& sc = *d.server;
    install_log_sink(d, sc.hostname);
    // One resolver for inbound checks and outbound delivery.
    mailkit::dns::cares_options ro;
    ro.servers = sc.dns_servers;
    auto resolver = std::make_shared<mailkit::dns::cares_resolver>(ro);
    if (auto ec = resolver->init_error()) throw std::runtime_error("DNS resolver: " + ec.message());
    sc.resolver = resolver;
    if (!config_file.empty())
      sc.outbound = mailkitd::load_outbound(config_file, sc.hostname, sc.data_dir, resolver.get(),
                                            sc.domains.empty() ? std::string() : sc.domains[0]);
    if (check_config) {
      std::printf("%s: OK (%zu SMTP and %zu IMAP listeners, outbound %s)\n", config_file.c_str(),
                  sc.smtp.size(), sc.imap.size(), sc.outbound ? "configured" : "none");
      return 0;
    }

    // Signals are taken by sigwait() in this thread; every other thread inherits the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    auto srv = server::mail_server::create(sc);
    if (!srv) throw std::runtime_error("cannot start: " + srv.error().message());
    // The server holds the transport now; a SIGHUP may replace it, and the old one (with its
    // TLS-RPT and hold-release threads) must then go.
    sc.outbound.reset();
    if (auto r = (*srv)->start(); !r)
      throw std::runtime_error("cannot listen: " + r.error().message());
    drop_privileges(d.run_as);
    const std::string password =
        d.embedded ? mailkitd::ensure_example_account((*srv)->store(), d.example_user, sc.data_dir)
                         .value_or("(set earlier; see mailkit user --help to reset it)")
                   : std::string();
    print_summary(**srv, d, password);

    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        if (auto r = (*srv)->reload_tls(); r)
          mailkit::log(mailkit::log_level::notice, "master", "reload: certificate reloaded");
        else
          mailkit::log(mailkit::log_level::error, "master",
                       "reload: certificate kept, the new one failed: " + r.error().message());
        if (!config_file.empty()) reload_config(**srv, config_file, resolver.get());
        continue;
      }
      mailkit::log(mailkit::log_level::notice, "master",
                   "stopping (signal " + std::to_string(sig) + ")");
      (*srv)->stop(std::chrono::seconds(10));
      const auto st = (*srv)->stats();
      mailkit::log(mailkit::log_level::notice, "master",
                   "stopped: smtp connections " + std::to_string(st.smtp_accepted) + ", messages " +
                       std::to_string(st.smtp_messages) + ", delivered " +
                       std::to_string(st.delivered) + ", queued " +
                       std::to_string(st.queue_messages));
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailkitd: %s\n", e.what());
    return 1;
  }
}
