// SPDX-License-Identifier: Apache-2.0
/// @file server_session.hpp
/// The SMTP server on the network: listeners (25 mx, 587 submission with STARTTLS, 465
/// implicit TLS; any ports), one C++20 coroutine per connection on Boost.Asio that moves bytes
/// between the socket and the sans-I/O core (server.hpp) and asks the policy (policy.hpp).
///
/// Standards: RFC 5321 §4.5.3.2 (timeouts: 5 minutes for a command, 3 minutes per data block;
/// both configurable), RFC 5321 §3.8 (421 before closing), RFC 3207 (STARTTLS), RFC 8314 §3.3
/// (implicit TLS on 465).
/// Security: accepts connections from anyone. Bounded by: a whole-session deadline and per-step
/// timeouts (slow clients), global and per-IP connection limits (421 4.7.0), a growing delay
/// after each failed AUTH and a disconnect after limits.max_auth_failures, a fixed read buffer
/// and the core's line and chunk limits. Graceful shutdown: stop accepting, let transactions
/// finish until a deadline, then 421 4.3.2.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/smtp/policy.hpp>
#include <mailkit/smtp/server.hpp>
#include <mailkit/tls/tls.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mailkit::smtp {

/// One listening socket.
struct listener_config {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0; ///< 0: any free port (see service::endpoints())
  listener_mode mode = listener_mode::mx;
};

/// Per-step timeouts and the whole-session deadline.
inline namespace server_types {
struct session_timeouts {
  /// RFC 5321 §4.5.3.2.7: the server waits 5 minutes for each command.
  std::chrono::milliseconds command{std::chrono::minutes(5)};
  /// RFC 5321 §4.5.3.2.5 (the client's 3 minutes per data block, mirrored): each read in DATA.
  std::chrono::milliseconds data_block{std::chrono::minutes(3)};
  /// The TLS handshake (implicit or after STARTTLS).
  std::chrono::milliseconds tls_handshake{std::chrono::minutes(1)};
  /// Writing replies to a client that does not read.
  std::chrono::milliseconds write{std::chrono::minutes(5)};
  /// The whole connection, however busy: slow-drip clients end here.
  std::chrono::milliseconds session{std::chrono::minutes(30)};
  /// After a timeout or shutdown, how long the 421 may take to write before a hard close.
  std::chrono::milliseconds final_write{std::chrono::seconds(10)};
};
} // namespace server_types

struct service_options {
  std::string hostname = "localhost";
  std::vector<listener_config> listeners;
  server_limits limits;
  session_timeouts timeouts;
  std::size_t max_connections = 1000;                 ///< over it: 421 4.7.0 and close
  std::size_t max_connections_per_ip = 20;            ///< over it: 421 4.7.0 and close
  std::chrono::milliseconds auth_failure_delay{1000}; ///< times the failure count, before 535
  bool allow_plaintext_auth = false;                  ///< AUTH before TLS (tests only)
  std::size_t read_buffer = 16 * 1024;                ///< octets read per socket read
  /// Octets read per socket read while a message's content arrives (DATA or BDAT): fewer
  /// reads for large messages; the buffer goes back to `read_buffer` after the message, so
  /// idle connections keep the small one.
  std::size_t data_read_buffer = 64 * 1024;
  /// Certificates for STARTTLS and implicit TLS; without them STARTTLS is not offered and an
  /// implicit-TLS listener cannot be opened.
  std::shared_ptr<tls::reloadable_server_context> tls;
};

/// Counters for tests, benchmarks and monitoring.
struct service_stats {
  std::uint64_t accepted = 0;       ///< connections given a session
  std::uint64_t refused_limits = 0; ///< connections refused by the connection limits
  std::uint64_t messages = 0;       ///< messages answered 2xx at end of data
  std::uint64_t timeouts = 0;       ///< sessions ended by a timeout
  std::size_t active = 0;           ///< sessions now
};

class session;

/// The SMTP server: listeners plus sessions. Create, listen(), start(), run the io_context.
/// The io_context of a service runs on ONE thread (every session uses the service's executor,
/// no strands: with Boost 1.81 and GCC 12, co_spawn on a strand<any_io_executor> double-frees
/// the executor under valgrind). Policies may answer from other threads (the answer is posted
/// back), and shutdown()/stats() may be called from any thread. More cores: one service per
/// thread, each with its own listeners.
class service : public std::enable_shared_from_this<service> {
public:
  service(boost::asio::any_io_executor ex, service_options opts, std::shared_ptr<policy> pol);
  ~service();

  /// Bind and listen on every configured listener.
  [[nodiscard]] expected<void> listen();
  /// The bound endpoints, in listener order (resolves port 0).
  [[nodiscard]] std::vector<boost::asio::ip::tcp::endpoint> endpoints() const;
  /// Start accepting. Needs listen() first. The service must be owned by a shared_ptr.
  void start();
  /// Graceful shutdown: stop accepting, close idle sessions with 421 4.3.2, let sessions in a
  /// transaction finish until `grace`, then close them with 421 4.3.2. `done` runs (on the
  /// service's executor) when the last session has ended.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done = {});

  [[nodiscard]] service_stats stats() const;
  [[nodiscard]] bool draining() const noexcept { return draining_.load(); }
  [[nodiscard]] const service_options& options() const noexcept { return opts_; }
  [[nodiscard]] policy& get_policy() const noexcept { return *policy_; }

private:
  friend class session;
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<service> self, std::size_t index);
  void session_ended(const std::shared_ptr<session>& s, const std::string& ip, bool message_ok);
  void count_message();
  void count_timeout();

  boost::asio::any_io_executor ex_;
  service_options opts_;
  std::shared_ptr<policy> policy_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<session>> sessions_;
  std::unordered_map<std::string, std::size_t> per_ip_;
  service_stats stats_;
  std::atomic<std::uint64_t> next_id_{1};
  std::function<void()> on_drained_;
  std::unique_ptr<boost::asio::steady_timer> grace_timer_;
};

} // namespace mailkit::smtp
