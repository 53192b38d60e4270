// SPDX-License-Identifier: Apache-2.0
// mailkit_imap_server: server::imap_service over a store, as a process, for the IMAP interop
// tests (Python imaplib, mbsync, fetchmail, neomutt on loopback). A self-signed certificate is
// made in DIR at the first run, unless --cert and --key name one (the tests' own CA issued it).
//
//   mailkit_imap_server --dir DIR [--hostname H] [--domain D]... [--user ADDR:PASSWORD]...
//       [--plain-login] [--idle-timeout-ms N] [--max-per-user N] [--auth-delay-ms N]
//       [--cert PEM --key PEM] [--ready-file F]
//
// Listens on two free loopback ports: STARTTLS ("imap") and implicit TLS ("imaps"); prints
// {"imap":port,"imaps":port,"pid":pid} to --ready-file (or stdout) when listening.
// --plain-login allows LOGIN before STARTTLS (the listener is loopback).
// Standard input takes "deliver ACCOUNT FILE" lines (delivery into INBOX, as local delivery
// does; the store belongs to this process), each answered "ok UID" or "error TEXT" on stdout.
// SIGTERM/SIGINT: shutdown.
#include <mailkit/server/imap_service.hpp>
#include <mailkit/server/process_tuning.hpp>

#include <boost/asio/io_context.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace server = mailkit::server;

namespace {

[[noreturn]] void usage() {
  std::cerr << "usage: mailkit_imap_server --dir DIR [options]\n";
  std::exit(2);
}

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_signal(int) {
  stop_requested = 1;
}

} // namespace

int main(int argc, char** argv) {
  mailkit::server::tune_allocator(); // message buffers reused, not re-mapped
  std::string dir, ready_file, hostname = "imap.mailkit.test", cert, key;
  std::vector<std::string> domains, users;
  bool plain_login = false;
  long idle_timeout_ms = 30L * 60 * 1000, auth_delay_ms = 1000;
  std::size_t max_per_user = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--dir")
      dir = next();
    else if (a == "--hostname")
      hostname = next();
    else if (a == "--domain")
      domains.push_back(next());
    else if (a == "--user")
      users.push_back(next());
    else if (a == "--plain-login")
      plain_login = true;
    else if (a == "--idle-timeout-ms")
      idle_timeout_ms = std::stol(next());
    else if (a == "--max-per-user")
      max_per_user = std::stoul(next());
    else if (a == "--auth-delay-ms")
      auth_delay_ms = std::stol(next());
    else if (a == "--ready-file")
      ready_file = next();
    else if (a == "--cert")
      cert = next();
    else if (a == "--key")
      key = next();
    else
      usage();
  }
  if (dir.empty() || cert.empty() != key.empty()) usage();
  std::filesystem::create_directories(dir);

  mailkit::store::open_options so;
  so.path = dir + "/store";
  so.passwords.opslimit = 1; // test accounts: cheap hashes
  so.passwords.memlimit = 8u << 20;
  auto st = mailkit::store::open(std::move(so));
  if (!st) {
    std::cerr << "store: " << st.error().message() << "\n";
    return 1;
  }
  std::shared_ptr<mailkit::store::mail_store> store = std::move(*st);
  for (const auto& d : domains)
    (void)store->add_domain(d);
  for (const auto& u : users) {
    const auto colon = u.find(':');
    if (colon == std::string::npos) usage();
    (void)store->add_account(u.substr(0, colon), u.substr(colon + 1));
  }

  if (cert.empty()) {
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    if (auto r = mailkit::tls::ensure_self_signed(cert, key, {hostname, "127.0.0.1"}); !r) {
      std::cerr << "certificate: " << r.error().message() << "\n";
      return 1;
    }
  }
  auto tls = mailkit::tls::reloadable_server_context::create({cert, key});
  if (!tls) {
    std::cerr << "tls: " << tls.error().message() << "\n";
    return 1;
  }

  server::imap_service_options o;
  o.hostname = hostname;
  o.tls = std::move(*tls);
  o.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  o.max_connections_per_user = max_per_user;
  o.auth_failure_delay = std::chrono::milliseconds(auth_delay_ms);
  server::imap_listener plain;
  plain.allow_plaintext_auth = plain_login;
  server::imap_listener implicit;
  implicit.implicit_tls = true;
  o.listeners = {plain, implicit};

  boost::asio::io_context io;
  auto svc = std::make_shared<server::imap_service>(io.get_executor(), o, store);
  if (auto r = svc->listen(); !r) {
    std::cerr << "listen: " << r.error().message() << "\n";
    return 1;
  }
  svc->start();
  const auto eps = svc->endpoints();
  std::ostringstream ready;
  ready << "{\"imap\":" << eps[0].port() << ",\"imaps\":" << eps[1].port()
        << ",\"pid\":" << ::getpid() << "}\n";
  if (ready_file.empty()) {
    std::cout << ready.str() << std::flush;
  } else {
    const std::string tmp = ready_file + ".tmp";
    std::ofstream(tmp) << ready.str();
    std::rename(tmp.c_str(), ready_file.c_str());
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  // Deliveries from standard input, on their own thread (the store is thread-safe).
  std::thread feeder([store] {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::string verb, account, file;
      in >> verb >> account >> file;
      if (verb != "deliver") continue;
      std::ifstream f(file, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      auto r = store->deliver(account, data);
      if (r)
        std::cout << "ok " << r->uid << std::endl;
      else
        std::cout << "error " << r.error().message() << std::endl;
    }
  });
  feeder.detach();

  std::thread runner([&io] { io.run(); });
  while (!stop_requested)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  svc->shutdown();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  io.stop();
  runner.join();
  const auto s = svc->stats();
  std::cerr << "accepted " << s.accepted << " login_failures " << s.login_failures << " timeouts "
            << s.timeouts << " refused_user_limit " << s.refused_user_limit << "\n";
  std::_Exit(0); // the feeder thread may still block on stdin
}
