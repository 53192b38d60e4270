// SPDX-License-Identifier: Apache-2.0
/// @file dns_servers.hpp
/// Real DNS servers for interop tests: nsd (authoritative) and unbound (validating recursive),
/// started on free loopback ports with their own configuration in a private directory under the
/// build tree, stopped (SIGTERM, then SIGKILL) when the object goes away. Nothing outside that
/// directory is read or written (not /etc, not /var/lib); the children die with the test
/// process (PR_SET_PDEATHSIG) even if it crashes.
///
/// Usage (any module's interop test may use it):
///   auto dir = test_dir("spf");                       // fresh, under the build tree
///   nsd_server nsd(dir, {{"example.test", "/path/example.test.zone"}});
///   cares_options o; o.servers = {nsd.address()};
///
/// DNSSEC: sign_zone() signs a zone file with fresh ECDSA P-256 keys (ldns-keygen,
/// ldns-signzone) and returns the KSK's DS record, for unbound_server's trust anchors.
#pragma once

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef MAILKIT_NSD
#define MAILKIT_NSD "/usr/sbin/nsd"
#endif
#ifndef MAILKIT_UNBOUND
#define MAILKIT_UNBOUND "/usr/sbin/unbound"
#endif
#ifndef MAILKIT_LDNS_KEYGEN
#define MAILKIT_LDNS_KEYGEN "/usr/bin/ldns-keygen"
#endif
#ifndef MAILKIT_LDNS_SIGNZONE
#define MAILKIT_LDNS_SIGNZONE "/usr/bin/ldns-signzone"
#endif

namespace mailkit::test {

namespace fs = std::filesystem;

/// A fresh directory for one test run: <build>/interop-dns/<tag>-<pid>-<n>.
inline fs::path test_dir(const std::string& tag) {
  static int counter = 0;
  const fs::path base = fs::current_path() / "interop-dns";
  fs::path d = base / (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline void require_program(const char* path) {
  if (::access(path, X_OK) != 0)
    throw std::runtime_error(std::string(path) +
                             " is missing: install the test peers with scripts/bootstrap.sh "
                             "(Debian packages nsd, unbound, ldnsutils)");
}

/// A loopback port that is free for both UDP and TCP right now.
inline int free_port() {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int port = 20000 + static_cast<int>(rng() % 40000);
    bool ok = true;
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
      const int fd = ::socket(AF_INET, type, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ok = false;
      ::close(fd);
    }
    if (ok) return port;
  }
  throw std::runtime_error("no free loopback port");
}

/// Is something accepting TCP connections on 127.0.0.1:port?
inline bool tcp_listening(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// A child process, killed with its parent, stopped on destruction.
class child_process {
public:
  child_process(std::vector<std::string> argv, const fs::path& log, const fs::path& cwd = {}) {
    // Everything the child needs is prepared before fork(): only async-signal-safe calls after.
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    const std::string log_path = log.string();
    const std::string dir = cwd.string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(126);
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(); }

  [[nodiscard]] bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

private:
  pid_t pid_ = -1;
};

/// Run a program to completion (bounded by `timeout`); returns its standard output.
inline std::string run(std::vector<std::string> argv, const fs::path& cwd,
                       std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const fs::path out = cwd / ".run-output";
  fs::remove(out);
  {
    child_process p(argv, out, cwd);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (p.running()) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("timed out: " + argv[0]);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::ifstream in(out);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

/// Sign `zone_file` (origin `zone`) into `dir`/<zone>.signed with a fresh KSK and ZSK; returns
/// the KSK's DS record (one line, presentation form).
inline std::string sign_zone(const fs::path& dir, const std::string& zone,
                             const fs::path& zone_file) {
  require_program(MAILKIT_LDNS_KEYGEN);
  require_program(MAILKIT_LDNS_SIGNZONE);
  const std::string ksk =
      trim(run({MAILKIT_LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", zone}, dir));
  const std::string zsk = trim(run({MAILKIT_LDNS_KEYGEN, "-a", "ECDSAP256SHA256", zone}, dir));
  const fs::path signed_file = dir / (zone + ".signed");
  run({MAILKIT_LDNS_SIGNZONE, "-f", signed_file.string(), zone_file.string(), ksk, zsk}, dir);
  if (!fs::exists(signed_file)) throw std::runtime_error("ldns-signzone failed for " + zone);
  return trim(read_file(dir / (ksk + ".ds")));
}

/// The DS of a fresh key that signs nothing: a trust anchor that makes a zone bogus.
inline std::string unrelated_ds(const fs::path& dir, const std::string& zone) {
  require_program(MAILKIT_LDNS_KEYGEN);
  const std::string k = trim(run({MAILKIT_LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", zone}, dir));
  return trim(read_file(dir / (k + ".ds")));
}

inline void wait_listening(int port, child_process& p, const fs::path& log, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!tcp_listening(port)) {
    if (!p.running())
      throw std::runtime_error(std::string(what) + " exited early:\n" + read_file(log));
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(std::string(what) + " did not start:\n" + read_file(log));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

struct zone_spec {
  std::string name;
  fs::path file;
};

/// nsd serving `zones` on 127.0.0.1:<port> (UDP and TCP).
class nsd_server {
public:
  nsd_server(const fs::path& dir, const std::vector<zone_spec>& zones) : dir_(dir / "nsd") {
    require_program(MAILKIT_NSD);
    fs::create_directories(dir_);
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      std::ofstream conf(dir_ / "nsd.conf");
      conf << "server:\n"
           << "  ip-address: 127.0.0.1@" << port_ << "\n"
           << "  port: " << port_ << "\n"
           << "  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  database: \"\"\n"
           << "  zonesdir: \"" << dir_.string() << "\"\n"
           << "  pidfile: \"" << (dir_ / "nsd.pid").string() << "\"\n"
           << "  xfrdfile: \"" << (dir_ / "xfrd.state").string() << "\"\n"
           << "  zonelistfile: \"" << (dir_ / "zone.list").string() << "\"\n"
           << "  logfile: \"" << (dir_ / "nsd.log").string() << "\"\n"
           << "  server-count: 1\n  verbosity: 1\n"
           << "remote-control:\n  control-enable: no\n";
      for (const auto& z : zones)
        conf << "zone:\n  name: \"" << z.name << "\"\n  zonefile: \"" << z.file.string() << "\"\n";
      conf.close();
      proc_ = std::make_unique<child_process>(
          std::vector<std::string>{MAILKIT_NSD, "-d", "-c", (dir_ / "nsd.conf").string()},
          dir_ / "nsd.out");
      try {
        wait_listening(port_, *proc_, dir_ / "nsd.log", "nsd");
        return;
      } catch (...) {
        proc_.reset();
        if (attempt == 2) throw; // a port race three times is not a race
      }
    }
  }
  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<child_process> proc_;
};

/// A validating unbound on 127.0.0.1:<port> whose only sources are stub zones on nsd and whose
/// trust anchors are the DS records given.
class unbound_server {
public:
  unbound_server(const fs::path& dir, const std::vector<std::string>& stub_zones, int nsd_port,
                 const std::vector<std::string>& trust_anchors)
      : dir_(dir / "unbound") {
    require_program(MAILKIT_UNBOUND);
    fs::create_directories(dir_);
    {
      std::ofstream anchors(dir_ / "anchors");
      for (const auto& a : trust_anchors)
        anchors << a << "\n";
    }
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      std::ofstream conf(dir_ / "unbound.conf");
      conf << "server:\n"
           << "  interface: 127.0.0.1@" << port_ << "\n"
           << "  port: " << port_ << "\n"
           << "  do-ip6: no\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
           << "  directory: \"" << dir_.string() << "\"\n"
           << "  pidfile: \"" << (dir_ / "unbound.pid").string() << "\"\n"
           << "  use-syslog: no\n"
           << "  logfile: \"" << (dir_ / "unbound.log").string() << "\"\n"
           << "  verbosity: 1\n  num-threads: 1\n  so-reuseport: no\n"
           << "  do-not-query-localhost: no\n  qname-minimisation: no\n"
           // RFC 6761 §6.2: unbound answers .test itself by default; these tests serve it.
           << "  local-zone: \"test.\" nodefault\n"
           << "  access-control: 127.0.0.0/8 allow\n"
           << "  module-config: \"validator iterator\"\n  val-log-level: 2\n"
           << "  trust-anchor-file: \"" << (dir_ / "anchors").string() << "\"\n"
           << "remote-control:\n  control-enable: no\n";
      for (const auto& z : stub_zones)
        conf << "stub-zone:\n  name: \"" << z << "\"\n  stub-addr: 127.0.0.1@" << nsd_port << "\n";
      conf.close();
      proc_ = std::make_unique<child_process>(
          std::vector<std::string>{MAILKIT_UNBOUND, "-d", "-c", (dir_ / "unbound.conf").string()},
          dir_ / "unbound.out");
      try {
        wait_listening(port_, *proc_, dir_ / "unbound.log", "unbound");
        return;
      } catch (...) {
        proc_.reset();
        if (attempt == 2) throw;
      }
    }
  }
  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<child_process> proc_;
};

} // namespace mailkit::test
