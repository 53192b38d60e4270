// SPDX-License-Identifier: Apache-2.0
// mailkit_inbound_server: server::inbound (SMTP + queue + local delivery into the store) as a
// process, for the inbound interop tests (kill -9 under load, disk full, swaks end to end) and
// the inbound benchmark. DNS is a static in-memory zone (--txt), so nothing leaves loopback.
//
//   mailkit_inbound_server --dir DIR [--hostname H] [--domain D]... [--user ADDR:PASSWORD]...
//       [--alias SRC=TARGET]... [--txt NAME=TEXT]... [--mx-port N] [--submission-port N]
//       [--delivery-threads N] [--sync-threads N] [--max-size N] [--quota BYTES]
//       [--user-quota ADDR=BYTES]... [--dns HOST:PORT] [--reject-spf-fail]
//       [--no-restrict-sender] [--no-direct] [--direct-threads N] [--ready-file F]
//   mailkit_inbound_server --dir DIR --dump ACCOUNT MAILBOX   (JSON lines: uid, size, data)
//   mailkit_inbound_server --dir DIR --count ACCOUNT MAILBOX
//
// --txt fills a static in-memory zone; --dns uses a real DNS server instead (c-ares, e.g. the
// tests' nsd on loopback), and then --txt is ignored. --alias '*@DOMAIN=TARGET' is a catch-all.
// Prints {"mx":port,"submission":port,"pid":pid} to --ready-file (or stdout) when listening.
// SIGTERM/SIGINT: graceful stop, then a stats line on stderr. SIGUSR1: retry deferred now.
#include <mailkit/core/log.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/server/inbound.hpp>
#include <mailkit/server/process_tuning.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace server = mailkit::server;
namespace smtp = mailkit::smtp;

namespace {

std::string json_escape(std::string_view s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

[[noreturn]] void usage() {
  std::cerr << "usage: mailkit_inbound_server --dir DIR [options] | --dir DIR --dump|--count "
               "ACCOUNT MAILBOX\n";
  std::exit(2);
}

volatile std::sig_atomic_t stop_requested = 0;
volatile std::sig_atomic_t flush_requested = 0;
extern "C" void on_signal(int) {
  stop_requested = 1;
}
extern "C" void on_usr1(int) {
  flush_requested = 1;
}

} // namespace

int main(int argc, char** argv) {
  mailkit::server::tune_allocator(); // message buffers reused, not re-mapped
  std::string dir, ready_file, hostname = "mx.mailkit.test";
  std::vector<std::string> domains, users, aliases, txts, user_quotas;
  std::string dns_server;
  bool reject_spf_fail = false, restrict_sender = true;
  int mx_port = 0, submission_port = 0;
  unsigned delivery_threads = 4, sync_threads = 8;
  std::uint64_t max_size = 35ull << 20, quota = 0;
  std::optional<std::uint64_t> min_free_space; // the library's default unless given
  std::string dump_mode, dump_account, dump_mailbox;
  bool verbose = false;
  bool direct = true;
  unsigned direct_threads = 2;
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
    else if (a == "--alias")
      aliases.push_back(next());
    else if (a == "--txt")
      txts.push_back(next());
    else if (a == "--mx-port")
      mx_port = std::stoi(next());
    else if (a == "--submission-port")
      submission_port = std::stoi(next());
    else if (a == "--delivery-threads")
      delivery_threads = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--sync-threads")
      sync_threads = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--max-size")
      max_size = std::stoull(next());
    else if (a == "--min-free-space")
      min_free_space = std::stoull(next());
    else if (a == "--quota")
      quota = std::stoull(next());
    else if (a == "--user-quota")
      user_quotas.push_back(next());
    else if (a == "--dns")
      dns_server = next();
    else if (a == "--reject-spf-fail")
      reject_spf_fail = true;
    else if (a == "--no-restrict-sender")
      restrict_sender = false;
    else if (a == "--ready-file")
      ready_file = next();
    else if (a == "--no-direct")
      direct = false;
    else if (a == "--direct-threads")
      direct_threads = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--verbose")
      verbose = true;
    else if (a == "--dump" || a == "--count") {
      dump_mode = a;
      dump_account = next();
      dump_mailbox = next();
    } else
      usage();
  }
  if (dir.empty()) usage();
  std::filesystem::create_directories(dir);

  if (!dump_mode.empty()) {
    mailkit::store::open_options so;
    so.path = dir + "/store";
    auto st = mailkit::store::open(so);
    if (!st) {
      std::cerr << "store: " << st.error().message() << "\n";
      return 1;
    }
    auto msgs = (*st)->messages(dump_account, dump_mailbox);
    if (!msgs) {
      std::cerr << "messages: " << msgs.error().message() << "\n";
      return 1;
    }
    if (dump_mode == "--count") {
      std::cout << msgs->size() << "\n";
      return 0;
    }
    for (const auto& m : *msgs) {
      auto data = (*st)->fetch(dump_account, dump_mailbox, m.uid);
      if (!data) return 1;
      std::cout << "{\"uid\":" << m.uid << ",\"size\":" << m.size << ",\"data\":\""
                << json_escape(*data) << "\"}\n";
    }
    return 0;
  }

  if (verbose)
    mailkit::set_log_sink([](mailkit::log_level, std::string_view comp,
                             std::string_view msg) { std::cerr << comp << ": " << msg << "\n"; },
                          mailkit::log_level::info);
  else
    mailkit::set_log_sink([](mailkit::log_level, std::string_view comp,
                             std::string_view msg) { std::cerr << comp << ": " << msg << "\n"; },
                          mailkit::log_level::notice);

  std::shared_ptr<mailkit::dns::resolver> resolver;
  if (!dns_server.empty()) {
    mailkit::dns::cares_options o;
    o.servers = {dns_server};
    auto cares = std::make_shared<mailkit::dns::cares_resolver>(o);
    if (cares->init_error()) {
      std::cerr << "bad --dns " << dns_server << ": " << cares->init_error().message() << "\n";
      return 2;
    }
    resolver = std::move(cares);
  } else {
    auto zone = std::make_shared<mailkit::dns::static_resolver>();
    for (const auto& t : txts) {
      const auto eq = t.find('=');
      if (eq == std::string::npos) usage();
      if (auto r = zone->add(t.substr(0, eq), mailkit::dns::rtype::txt, t.substr(eq + 1)); !r) {
        std::cerr << "bad --txt " << t << "\n";
        return 2;
      }
    }
    resolver = std::move(zone);
  }

  server::inbound_config cfg;
  cfg.hostname = hostname;
  cfg.data_dir = dir;
  cfg.resolver = resolver;
  cfg.policy.reject_spf_fail = reject_spf_fail;
  if (min_free_space) cfg.policy.min_free_space = *min_free_space;
  cfg.policy.restrict_sender = restrict_sender;
  cfg.delivery_threads = delivery_threads;
  cfg.queue_sync_threads = sync_threads;
  cfg.direct_delivery = direct;
  cfg.direct.threads = direct_threads;
  cfg.queue_limits.max_message_size = max_size;
  cfg.max_connections_per_ip = 1000;
  cfg.listeners.push_back(
      {"127.0.0.1", static_cast<std::uint16_t>(mx_port), smtp::listener_mode::mx});
  cfg.tls_cert = dir + "/cert.pem";
  cfg.tls_key = dir + "/key.pem";
  cfg.self_signed_tls = true;
  cfg.listeners.push_back(
      {"127.0.0.1", static_cast<std::uint16_t>(submission_port), smtp::listener_mode::submission});
  auto srv = server::inbound::create(cfg);
  if (!srv) {
    std::cerr << "inbound: " << srv.error().message() << "\n";
    return 1;
  }
  auto& store = (*srv)->store();
  for (const auto& d : domains)
    (void)store.add_domain(d);
  for (const auto& u : users) {
    const auto colon = u.find(':');
    if (colon == std::string::npos) usage();
    const std::string addr = u.substr(0, colon);
    if (!store.account(addr)) {
      mailkit::store::quota q;
      q.bytes = quota;
      if (auto r = store.add_account(addr, u.substr(colon + 1), q); !r) {
        std::cerr << "account " << addr << ": " << r.error().message() << "\n";
        return 1;
      }
    }
  }
  for (const auto& uq : user_quotas) {
    const auto eq = uq.find('=');
    if (eq == std::string::npos) usage();
    mailkit::store::quota q;
    q.bytes = std::stoull(uq.substr(eq + 1));
    if (auto r = store.set_quota(uq.substr(0, eq), q); !r) {
      std::cerr << "quota " << uq << ": " << r.error().message() << "\n";
      return 1;
    }
  }
  for (const auto& a : aliases) {
    const auto eq = a.find('=');
    if (eq == std::string::npos) usage();
    std::vector<std::string> t{a.substr(eq + 1)};
    (void)store.add_alias(a.substr(0, eq), t);
  }
  const auto& rec = (*srv)->mail_queue().recovery();
  std::cerr << "queue recovery: messages " << rec.messages << " temp_removed "
            << rec.temp_files_removed << " orphans_removed " << rec.orphan_files_removed
            << " missing " << rec.missing_files << " corrupt " << rec.corrupt_records << "\n";
  if (auto r = (*srv)->start(); !r) {
    std::cerr << "start: " << r.error().message() << "\n";
    return 1;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGUSR1, on_usr1); // retry deferred deliveries now
  {
    const auto eps = (*srv)->endpoints();
    std::ostringstream j;
    j << "{\"mx\":" << eps[0].port() << ",\"submission\":" << eps[1].port()
      << ",\"pid\":" << ::getpid() << "}\n";
    if (ready_file.empty()) {
      std::cout << j.str() << std::flush;
    } else {
      const std::string tmp = ready_file + ".tmp";
      FILE* f = std::fopen(tmp.c_str(), "w");
      if (!f) return 1;
      std::fputs(j.str().c_str(), f);
      std::fclose(f);
      std::rename(tmp.c_str(), ready_file.c_str());
    }
  }
  while (!stop_requested) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (flush_requested) {
      flush_requested = 0;
      (*srv)->mail_queue().flush();
    }
  }
  // Let queued mail drain briefly so that a stop after a test leaves a tidy queue.
  for (int i = 0; i < 100 && (*srv)->mail_queue().stats().messages > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  (*srv)->stop(std::chrono::seconds(5));
  const auto st = (*srv)->mail_queue().stats();
  std::cerr << "inbound stats: accepted " << st.accepted << " group_commits " << st.group_commits
            << " delivered " << st.delivered << " duplicates " << st.duplicates << " deferred "
            << st.deferred << " bounced " << st.bounced << " queued " << st.messages << "\n";
  if (auto* d = (*srv)->direct()) {
    const auto ds = d->stats();
    std::cerr << "direct stats: messages " << ds.messages << " delivered " << ds.delivered
              << " to_queue " << ds.to_queue << " group_commits " << ds.batches << "\n";
  }
  return 0;
}
