// SPDX-License-Identifier: Apache-2.0
/// @file cares_resolver.hpp
/// The network resolver: c-ares 1.18 moves the bytes (UDP with retries and server rotation,
/// TCP when an answer is truncated), driven by a Boost.Asio executor: c-ares tells which
/// sockets to watch (its socket-state callback), Asio waits on them and on one timer set from
/// ares_timeout(); there is no thread per query. Queries and responses are built and parsed by
/// message.hpp (sans I/O), not by c-ares.
///
/// DNSSEC: mailkit does not validate; it asks a validating resolver (a local unbound) and
/// reports that resolver's AD bit. Every query carries AD=1 (RFC 6840 §5.7) and, by default,
/// an EDNS OPT record (RFC 6891); the AD bit is only meaningful when the path to the validating
/// resolver is trusted (loopback), RFC 4035 §4.9.3 / RFC 6698 §1.3 for DANE.
///
/// **Standards**: RFC 1035 (transport, §4.2), RFC 6891 (EDNS), RFC 6840 §5.7 (AD in
/// queries), RFC 7766 (TCP fallback, by c-ares).
///
/// **Security**: talks to the network; responses are untrusted and parsed by message.hpp with
/// bounds checks; c-ares checks the query id and question of each response (RFC 5452 §9.1),
/// and so does message.hpp's to_answer().
///
/// Asio stays out of this header: the executor is forward-declared and only the source file
/// includes Boost.Asio.
#pragma once

#include <mailkit/dns/resolver.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boost::asio {
class any_io_executor;
} // namespace boost::asio

namespace mailkit::dns {

struct cares_options {
  /// "192.0.2.53", "127.0.0.1:5353", "::1", "[::1]:53". Empty: the nameservers of
  /// /etc/resolv.conf (or `resolv_conf`), as c-ares reads them. With one server its SERVFAIL,
  /// REFUSED, FORMERR or NOTIMP is reported as such; with several, such an answer moves the
  /// query on to the next server, and when all of them fail c-ares 1.18 only says that no
  /// server could be used (errc::network, transient like the others).
  std::vector<std::string> servers;
  /// Per try, per server (c-ares doubles it for later rounds).
  std::chrono::milliseconds timeout{2000};
  int tries = 2;        ///< rounds over all servers before timed_out
  bool rotate = false;  ///< spread queries over the servers instead of always trying the first
  bool use_tcp = false; ///< always TCP (otherwise UDP, TCP when truncated)
  bool edns = true;     ///< send an OPT record (RFC 6891); c-ares retries without it on FORMERR
  std::uint16_t udp_payload = 1232; ///< advertised EDNS UDP payload size
  bool dnssec_ok = false;           ///< set DO (RFC 3225); not needed to see the AD bit
  std::string resolv_conf;          ///< read this file instead of /etc/resolv.conf
};

/// @note Thread safety: async_query() may be called from any thread; handlers run on the
/// resolver's executor (a strand of the executor given, or the private I/O thread).
class cares_resolver final : public resolver {
public:
  /// Run on the caller's executor (an io_context's, typically). The executor must be running
  /// for queries to complete; destroy the resolver before stopping it to have pending
  /// handlers called with errc::cancelled. The destructor posts the release of the c-ares
  /// channel and its sockets to that executor: it must run once more after the resolver is
  /// destroyed, or they are not released.
  cares_resolver(const boost::asio::any_io_executor& executor, cares_options options = {});
  /// Own a private io_context and one I/O thread: for blocking use (query(), Python, CLI).
  explicit cares_resolver(cares_options options = {});
  /// Pending queries complete with errc::cancelled. With a private I/O thread this waits for
  /// that thread, so it must not run on it (not from inside one of this resolver's handlers).
  ~cares_resolver() override;
  cares_resolver(const cares_resolver&) = delete;
  cares_resolver& operator=(const cares_resolver&) = delete;

  /// Start one query. `name` may be Unicode (to_ascii() converts it; errc::bad_name when that
  /// fails, reported through the handler). Completion: `void(query_result)`, called exactly
  /// once, on the resolver's executor; never inline.
  void async_query(std::string_view name, rtype type, query_handler handler) override;

  /// The servers in use ("127.0.0.1:5353" form), for diagnostics.
  [[nodiscard]] std::vector<std::string> servers() const;

  /// Could the channel be set up? When not (unreadable resolv.conf, bad server string), every
  /// query fails with this error.
  [[nodiscard]] error_code init_error() const noexcept;

  struct impl;

private:
  std::shared_ptr<impl> impl_;
  struct owned_context;
  std::unique_ptr<owned_context> owned_;
};

/// Parse one server string of cares_options::servers into c-ares' "host:port" / "[v6]:port"
/// form (a port is added only when given). Exposed for tests.
[[nodiscard]] expected<std::string> normalize_server(std::string_view server);

} // namespace mailkit::dns
