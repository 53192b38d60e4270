// SPDX-License-Identifier: Apache-2.0
// smtp_harness_server: the mailkit SMTP server with a small test policy, for the interop tests
// (swaks, Python smtplib, Postfix, chasquid dialogs) and the benchmark (smtp-source).
//
// Policy: recipients at the --domain list are accepted from anyone; other recipients only from
// an authenticated client (else 554 5.7.1, no open relay); AUTH accepts the one --user with its
// --password. Each accepted message is written durably to --dir: <id>.eml (the message) and
// <id>.json (its envelope), each written to tmp/, fsynced, renamed into new/, directory
// fsynced, and only then is the 250 sent (DESIGN.md §4). The fsyncs run on a thread pool, never
// on the I/O thread. With --discard the bytes are counted and dropped (the benchmark).
//
// Prints one JSON line {"mx":port,"submission":port,"tls":port} to --ready-file (or stdout) once
// listening. SIGTERM/SIGINT: graceful shutdown (--grace-ms), SIGHUP: reload the certificate.
#include <mailkit/smtp/server_session.hpp>
#include <mailkit/tls/tls.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace smtp = mailkit::smtp;

namespace {

struct options {
  std::string dir;
  bool discard = false;
  std::string hostname = "testserver";
  std::set<std::string> domains{"testserver"};
  std::string user = "user@testserver";
  std::string password = "secretpassword";
  int mx_port = 0, submission_port = 0, tls_port = 0;
  bool no_submission = false, no_tls = false;
  std::uint64_t max_size = 35ULL << 20;
  unsigned max_errors = 10, max_auth_failures = 3;
  std::size_t max_rcpt = 100, max_conn = 1000, max_conn_ip = 200;
  long command_timeout_ms = 300000, data_timeout_ms = 180000, session_ms = 1800000;
  long auth_delay_ms = 100, grace_ms = 5000;
  std::string ready_file;
};

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

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

class file_sink : public smtp::message_sink {
public:
  file_sink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~file_sink() override { abort(); }
  mailkit::expected<void> write(std::string_view chunk) override {
    if (!write_all(fd_, chunk)) return mailkit::fail(mailkit::errc::io_error);
    return {};
  }
  mailkit::expected<void> finish() override { return {}; }
  void abort() noexcept override {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(path_.c_str());
    }
  }
  // Called on the pool: fsync and close; the file stays in tmp/ until renamed.
  bool commit() {
    const bool ok = ::fsync(fd_) == 0;
    ::close(fd_);
    fd_ = -1;
    return ok;
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
  int fd_;
};

class discard_sink : public smtp::message_sink {
public:
  mailkit::expected<void> write(std::string_view chunk) override {
    bytes_ += chunk.size();
    return {};
  }
  mailkit::expected<void> finish() override { return {}; }
  void abort() noexcept override {}

private:
  std::size_t bytes_ = 0;
};

class harness_policy : public smtp::policy {
public:
  harness_policy(const options& o, asio::thread_pool& pool) : o_(o), pool_(pool) {}

  void on_rcpt(const smtp::session_info&, const smtp::envelope& e, const smtp::recipient& r,
               smtp::decision_handler done) override {
    std::string domain = r.address.domain;
    for (auto& c : domain)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (r.address.domain.empty() || o_.domains.count(domain) || !e.authenticated_as.empty()) {
      done(smtp::decision::accept());
      return;
    }
    // No open relay: a stranger may only send to our domains.
    done(smtp::decision::respond(smtp::make_reply(554, "5.7.1", "relay access denied")));
  }

  void on_auth(const smtp::session_info&, const smtp::credentials& c,
               smtp::decision_handler done) override {
    const bool ok = c.authcid == o_.user && c.password == o_.password &&
                    (c.authzid.empty() || c.authzid == c.authcid);
    if (ok) {
      done(smtp::decision::accept());
    } else {
      done(smtp::decision::respond(smtp::make_reply(535, "5.7.8", "incorrect user or password")));
    }
  }

  mailkit::expected<std::unique_ptr<smtp::message_sink>>
  open_message(const smtp::session_info&, const smtp::envelope&) override {
    if (o_.discard) return std::make_unique<discard_sink>();
    const std::string id = next_id();
    const std::string path = o_.dir + "/tmp/" + id + ".eml";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return mailkit::fail(mailkit::errc::io_error);
    return std::make_unique<file_sink>(path, fd);
  }

  void on_message(const smtp::session_info& s, const smtp::envelope& e,
                  std::unique_ptr<smtp::message_sink> sink, smtp::decision_handler done) override {
    if (o_.discard) {
      done(smtp::decision::respond(smtp::make_reply(250, "2.0.0", "discarded")));
      return;
    }
    std::unique_ptr<file_sink> f(static_cast<file_sink*>(sink.release()));
    std::string env = envelope_json(s, e);
    // Durability off the I/O thread; the 250 is sent only after the renames are fsynced.
    asio::post(pool_, [this, f = std::move(f), env = std::move(env), done = std::move(done)] {
      const std::string eml = f->path();
      const std::string base = std::filesystem::path(eml).stem().string();
      const std::string tmp_json = o_.dir + "/tmp/" + base + ".json";
      bool ok = f->commit();
      if (ok) {
        const int fd = ::open(tmp_json.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ok = fd >= 0 && write_all(fd, env) && ::fsync(fd) == 0;
        if (fd >= 0) ::close(fd);
      }
      // The envelope first, the message last: a .eml in new/ always has its .json.
      ok = ok && ::rename(tmp_json.c_str(), (o_.dir + "/new/" + base + ".json").c_str()) == 0;
      ok = ok && ::rename(eml.c_str(), (o_.dir + "/new/" + base + ".eml").c_str()) == 0;
      ok = ok && fsync_dir(o_.dir + "/new");
      if (!ok) {
        ::unlink(eml.c_str());
        ::unlink(tmp_json.c_str());
        done(smtp::decision::respond(
            smtp::make_reply(451, "4.3.0", "local error writing the message")));
        return;
      }
      done(smtp::decision::respond(smtp::make_reply(250, "2.0.0", "queued as " + base)));
    });
  }

private:
  std::string next_id() {
    char b[64];
    std::snprintf(b, sizeof b, "%d-%08llu", static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(counter_++));
    return b;
  }

  static std::string envelope_json(const smtp::session_info& s, const smtp::envelope& e) {
    std::ostringstream j;
    j << "{\"mail_from\":\"" << (e.reverse_path ? json_escape(e.reverse_path->to_string()) : "")
      << "\",\"rcpt_to\":[";
    for (std::size_t i = 0; i < e.recipients.size(); ++i) {
      const auto& r = e.recipients[i];
      j << (i ? "," : "") << "{\"address\":\"" << json_escape(r.address.to_string()) << "\"";
      if (r.notify) {
        j << ",\"notify\":\"" << (r.notify->never ? "NEVER" : "")
          << (r.notify->success ? "SUCCESS," : "") << (r.notify->failure ? "FAILURE," : "")
          << (r.notify->delay ? "DELAY," : "") << "\"";
      }
      if (r.orcpt)
        j << ",\"orcpt\":\"" << json_escape(r.orcpt->addr_type + ";" + r.orcpt->address) << "\"";
      j << "}";
    }
    j << "],\"helo\":\"" << json_escape(e.helo) << "\",\"esmtp\":" << (e.esmtp ? "true" : "false")
      << ",\"tls\":" << (e.tls ? "true" : "false") << ",\"auth\":\""
      << json_escape(e.authenticated_as) << "\",\"smtputf8\":" << (e.smtputf8 ? "true" : "false")
      << ",\"body\":\""
      << (e.body == smtp::body_type::eight_bit_mime ? "8BITMIME"
          : e.body == smtp::body_type::binary_mime  ? "BINARYMIME"
          : e.body == smtp::body_type::seven_bit    ? "7BIT"
                                                    : "")
      << "\",\"chunked\":" << (e.chunked ? "true" : "false") << ",\"size\":" << e.message_size
      << ",\"ret\":\""
      << (e.ret == smtp::dsn_ret::full   ? "FULL"
          : e.ret == smtp::dsn_ret::hdrs ? "HDRS"
                                         : "")
      << "\",\"envid\":\"" << json_escape(e.envid.value_or(""))
      << "\",\"requiretls\":" << (e.requiretls ? "true" : "false") << ",\"peer\":\""
      << json_escape(s.peer_address) << "\",\"mode\":" << static_cast<int>(s.mode) << "}\n";
    return j.str();
  }

  const options& o_;
  asio::thread_pool& pool_;
  std::atomic<unsigned long long> counter_{0};
};

[[noreturn]] void usage() {
  std::cerr << "usage: smtp_harness_server --dir DIR | --discard [--mx-port N] "
               "[--submission-port N] [--tls-port N] [--no-submission] [--no-tls] "
               "[--hostname H] [--domain D]... [--user U --password P] [--max-size N] "
               "[--max-errors N] [--max-auth-failures N] [--max-rcpt N] [--max-conn N] "
               "[--max-conn-ip N] [--command-timeout-ms N] [--data-timeout-ms N] "
               "[--session-ms N] [--auth-delay-ms N] [--grace-ms N] "
               "[--ready-file F]\n";
  std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  bool domains_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--dir")
      o.dir = next();
    else if (a == "--discard")
      o.discard = true;
    else if (a == "--hostname")
      o.hostname = next();
    else if (a == "--domain") {
      if (!domains_given) o.domains.clear();
      domains_given = true;
      o.domains.insert(next());
    } else if (a == "--user")
      o.user = next();
    else if (a == "--password")
      o.password = next();
    else if (a == "--mx-port")
      o.mx_port = std::stoi(next());
    else if (a == "--submission-port")
      o.submission_port = std::stoi(next());
    else if (a == "--tls-port")
      o.tls_port = std::stoi(next());
    else if (a == "--no-submission")
      o.no_submission = true;
    else if (a == "--no-tls")
      o.no_tls = true;
    else if (a == "--max-size")
      o.max_size = std::stoull(next());
    else if (a == "--max-errors")
      o.max_errors = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--max-auth-failures")
      o.max_auth_failures = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--max-rcpt")
      o.max_rcpt = std::stoul(next());
    else if (a == "--max-conn")
      o.max_conn = std::stoul(next());
    else if (a == "--max-conn-ip")
      o.max_conn_ip = std::stoul(next());
    else if (a == "--command-timeout-ms")
      o.command_timeout_ms = std::stol(next());
    else if (a == "--data-timeout-ms")
      o.data_timeout_ms = std::stol(next());
    else if (a == "--session-ms")
      o.session_ms = std::stol(next());
    else if (a == "--auth-delay-ms")
      o.auth_delay_ms = std::stol(next());
    else if (a == "--grace-ms")
      o.grace_ms = std::stol(next());
    else if (a == "--ready-file")
      o.ready_file = next();
    else
      usage();
  }
  if (o.dir.empty()) usage();
  std::filesystem::create_directories(o.dir + "/tmp");
  std::filesystem::create_directories(o.dir + "/new");

  smtp::service_options so;
  so.hostname = o.hostname;
  so.limits.max_message_size = o.max_size;
  so.limits.max_errors = o.max_errors;
  so.limits.max_auth_failures = o.max_auth_failures;
  so.limits.max_recipients = o.max_rcpt;
  so.max_connections = o.max_conn;
  so.max_connections_per_ip = o.max_conn_ip;
  so.timeouts.command = std::chrono::milliseconds(o.command_timeout_ms);
  so.timeouts.data_block = std::chrono::milliseconds(o.data_timeout_ms);
  so.timeouts.session = std::chrono::milliseconds(o.session_ms);
  so.auth_failure_delay = std::chrono::milliseconds(o.auth_delay_ms);
  if (!o.no_tls) {
    const std::string cert = o.dir + "/cert.pem", key = o.dir + "/key.pem";
    auto made = mailkit::tls::ensure_self_signed(cert, key, {o.hostname, "localhost", "127.0.0.1"});
    if (!made) {
      std::cerr << "certificate: " << made.error().message() << "\n";
      return 1;
    }
    auto ctx = mailkit::tls::reloadable_server_context::create({cert, key});
    if (!ctx) {
      std::cerr << "tls: " << ctx.error().message() << "\n";
      return 1;
    }
    so.tls = std::move(*ctx);
  }
  so.listeners.push_back(
      {"127.0.0.1", static_cast<std::uint16_t>(o.mx_port), smtp::listener_mode::mx});
  if (!o.no_submission && !o.no_tls)
    so.listeners.push_back({"127.0.0.1", static_cast<std::uint16_t>(o.submission_port),
                            smtp::listener_mode::submission});
  if (!o.no_tls)
    so.listeners.push_back({"127.0.0.1", static_cast<std::uint16_t>(o.tls_port),
                            smtp::listener_mode::submission_implicit_tls});

  asio::io_context io;
  asio::thread_pool pool(2);
  auto pol = std::make_shared<harness_policy>(o, pool);
  auto svc = std::make_shared<smtp::service>(io.get_executor(), so, pol);
  if (auto r = svc->listen(); !r) {
    std::cerr << "listen: " << r.error().message() << "\n";
    return 1;
  }
  svc->start();
  {
    const auto eps = svc->endpoints();
    std::ostringstream j;
    j << "{\"mx\":" << eps[0].port();
    std::size_t k = 1;
    if (!o.no_submission && !o.no_tls) j << ",\"submission\":" << eps[k++].port();
    if (!o.no_tls) j << ",\"tls\":" << eps[k++].port();
    j << ",\"pid\":" << ::getpid() << "}\n";
    if (o.ready_file.empty()) {
      std::cout << j.str() << std::flush;
    } else {
      const std::string tmp = o.ready_file + ".tmp";
      FILE* f = std::fopen(tmp.c_str(), "w");
      if (!f) return 1;
      std::fputs(j.str().c_str(), f);
      std::fclose(f);
      std::rename(tmp.c_str(), o.ready_file.c_str());
    }
  }
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          if (so.tls) (void)so.tls->reload();
          signals.async_wait(on_signal);
          return;
        }
        svc->shutdown(std::chrono::milliseconds(o.grace_ms), [&] {
          signals.cancel();
          io.stop();
        });
      };
  signals.async_wait(on_signal);
  io.run();
  pool.join();
  const auto st = svc->stats();
  std::cerr << "smtp_harness_server: accepted " << st.accepted << " messages " << st.messages
            << " refused_limits " << st.refused_limits << " timeouts " << st.timeouts << "\n";
  return 0;
}
