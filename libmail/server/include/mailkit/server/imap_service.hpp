// SPDX-License-Identifier: Apache-2.0
/// @file imap_service.hpp
/// The IMAP server on the network: listeners (143 with STARTTLS, 993 with implicit TLS; any
/// ports), one C++20 coroutine per connection on Boost.Asio moving bytes between the socket and
/// the sans-I/O core (imap/server.hpp), commands carried out by an imap_executor over the
/// store on a small worker pool (SQLite, file reads and Argon2 never run on the I/O thread),
/// and IDLE updates pushed as soon as the store reports a change.
///
/// Standards: RFC 9051 §5.4 (autologout after at least 30 minutes of inactivity), §6.2.1
/// (STARTTLS), §6.2.3 (LOGIN refused before TLS), RFC 8314 §3.3 (implicit TLS on 993),
/// RFC 2177 (IDLE), RFC 5530 (LIMIT).
/// Security: accepts connections from anyone. Bounded by: the inactivity timeout, a TLS
/// handshake and a write timeout, a global connection limit, a per-user connection limit
/// (checked at login), failed-login throttling (a delay growing with the failures of the
/// client's IP address, across its connections, before the NO), the core's line and literal
/// limits and its failed-login and error counts, and a fixed read buffer. LOGIN and
/// AUTHENTICATE without TLS only on a loopback listener configured for it.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/imap/reader.hpp>
#include <mailkit/server/auth_cache.hpp>
#include <mailkit/store/store.hpp>
#include <mailkit/tls/tls.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mailkit::server {

struct imap_listener {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;    ///< 0: any free port (see imap_service::endpoints())
  bool implicit_tls = false; ///< 993 style: TLS from the first octet
  /// LOGIN/AUTHENTICATE before TLS: honoured only when `address` is a loopback address.
  bool allow_plaintext_auth = false;
};

struct imap_service_options {
  std::string hostname = "localhost";
  std::vector<imap_listener> listeners;
  imap::reader_limits limits;
  /// RFC 9051 §5.4: at least 30 minutes of inactivity before the autologout.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(30)};
  std::chrono::milliseconds tls_handshake{std::chrono::minutes(1)};
  std::chrono::milliseconds write{std::chrono::minutes(5)};
  std::size_t max_connections = 5000;
  std::size_t max_connections_per_user = 20; ///< over it: BYE [LIMIT] after the login
  /// Delay before a failed login answer: this times the failures of the IP address in the last
  /// `auth_failure_window` (capped at 30 times).
  std::chrono::milliseconds auth_failure_delay{1000};
  std::chrono::milliseconds auth_failure_window{std::chrono::minutes(10)};
  std::size_t read_buffer = 16 * 1024;
  /// Store work (SQLite, message files). These threads mostly wait on the disk (an APPEND,
  /// STORE or EXPUNGE fsyncs): with too few, reads of other sessions (LIST, FETCH) queue behind
  /// those waits; writes still go one at a time (the store's writer lock).
  std::size_t worker_threads = 8;
  /// Password verification (Argon2id) runs here, apart from the store workers.
  std::size_t auth_threads = 2;
  /// The cache of verified credentials (auth_cache.hpp): a login with the password verified
  /// less than `ttl` ago against the same stored hash skips Argon2id. max_entries = 0: off.
  auth_cache_options credentials_cache;
  /// A cache shared with other login paths (SMTP AUTH); when set, `credentials_cache` is unused.
  std::shared_ptr<auth_cache> shared_credentials_cache;
  /// Certificates for STARTTLS and implicit TLS; without them STARTTLS is not offered and an
  /// implicit-TLS listener cannot be opened.
  std::shared_ptr<tls::reloadable_server_context> tls;
};

struct imap_service_stats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_limits = 0; ///< over max_connections
  std::uint64_t refused_user_limit = 0;
  std::uint64_t login_failures = 0;
  std::uint64_t timeouts = 0;
  std::size_t active = 0;
};

class imap_session;

/// Create, listen(), start(), run the io_context on ONE thread (like smtp::service).
class imap_service : public std::enable_shared_from_this<imap_service> {
public:
  imap_service(boost::asio::any_io_executor ex, imap_service_options opts,
               std::shared_ptr<store::mail_store> store);
  ~imap_service();

  [[nodiscard]] expected<void> listen();
  [[nodiscard]] std::vector<boost::asio::ip::tcp::endpoint> endpoints() const;
  void start();
  /// Stop accepting and close every session with "* BYE shutting down".
  void shutdown();

  [[nodiscard]] imap_service_stats stats() const;
  [[nodiscard]] const imap_service_options& options() const noexcept { return opts_; }
  /// The cache of verified credentials the sessions use (never null; may be switched off).
  [[nodiscard]] const std::shared_ptr<auth_cache>& credentials_cache() const noexcept {
    return auth_cache_;
  }

private:
  friend class imap_session;
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<imap_service> self, std::size_t index);
  void session_ended(const std::shared_ptr<imap_session>& s, const std::string& user);
  /// Count a login of `user`; false when over the per-user limit (nothing counted then).
  bool add_user(const std::string& user);
  /// Record a failed login from `ip`; the delay to apply before answering.
  std::chrono::milliseconds login_failed(const std::string& ip);

  boost::asio::any_io_executor ex_;
  imap_service_options opts_;
  std::shared_ptr<store::mail_store> store_;
  std::shared_ptr<auth_cache> auth_cache_;
  boost::asio::thread_pool workers_;
  boost::asio::thread_pool auth_workers_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<imap_session>> sessions_;
  std::unordered_map<std::string, std::size_t> per_user_;
  struct failures {
    unsigned count = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::unordered_map<std::string, failures> per_ip_failures_;
  imap_service_stats stats_;
};

} // namespace mailkit::server
