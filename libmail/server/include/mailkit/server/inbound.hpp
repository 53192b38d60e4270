// SPDX-License-Identifier: Apache-2.0
/// @file inbound.hpp
/// server::inbound: the receiving half of a mail server from one config struct. It opens the
/// store (<data_dir>/store) and the queue (<data_dir>/queue), plugs the default inbound policy
/// into an smtp::service on its own I/O thread, and runs the queue's delivery workers with
/// local delivery into the store (and a remote transport, when one is given, for alias targets
/// outside our domains and authenticated relaying; without one those recipients stay deferred).
/// Mail for local recipients only skips the queue (inbound_direct.hpp, `direct_delivery`): it
/// is appended into the mailboxes, group-committed across sessions, before the 250.
///
/// @code
///   server::inbound_config cfg;
///   cfg.hostname = "mx.example.org";
///   cfg.data_dir = "/var/lib/mailkit";
///   cfg.listeners = {{"0.0.0.0", 25, smtp::listener_mode::mx}};
///   auto srv = server::inbound::create(cfg);   // expected<unique_ptr<inbound>>
///   (*srv)->start();
///   ...
///   (*srv)->stop(std::chrono::seconds(10));
/// @endcode
///
/// Standards: see inbound_policy.hpp, local_delivery.hpp, queue.hpp, smtp/server_session.hpp.
/// Security: opens network listeners and the data directory; the caller binds privileged
/// ports and drops privileges (DESIGN.md §5) before start().
#pragma once

#include <mailkit/dns/resolver.hpp>
#include <mailkit/queue/queue.hpp>
#include <mailkit/server/inbound_direct.hpp>
#include <mailkit/server/inbound_policy.hpp>
#include <mailkit/server/local_delivery.hpp>
#include <mailkit/smtp/server_session.hpp>
#include <mailkit/store/store.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace mailkit::server {

struct inbound_config {
  std::string hostname = "localhost";
  std::string data_dir;                         ///< store/ and queue/ are created below it
  std::vector<smtp::listener_config> listeners; ///< empty: one mx listener on 127.0.0.1:any
  std::string tls_cert, tls_key;                ///< PEM files; empty: no TLS
  bool self_signed_tls = false;      ///< create a self-signed pair at tls_cert/tls_key when missing
  bool allow_plaintext_auth = false; ///< AUTH before TLS (tests only)
  policy_config policy;              ///< hostname is taken from `hostname`
  local_delivery_options delivery;
  queue::limits queue_limits;
  queue::retry_schedule retry;
  unsigned queue_sync_threads = 8;
  unsigned delivery_threads = 4;
  std::size_t delivery_batch = 64;
  std::chrono::milliseconds delivery_wait{20}; ///< see queue::options::delivery_wait
  /// Local-only mail goes straight into the store before the 250 (inbound_direct.hpp): one
  /// durable write instead of queue file + record + store. false: everything is queued first.
  bool direct_delivery = true;
  direct_options direct; ///< its committer threads and batch bounds
  std::size_t max_connections = 1000;
  std::size_t max_connections_per_ip = 100;
  smtp::session_timeouts timeouts;
  /// DNS for SPF, DKIM and DMARC; null: the system's resolvers (c-ares, /etc/resolv.conf).
  std::shared_ptr<dns::resolver> resolver;
  /// Remote recipients: usually a server::outbound (the relay), which start() attaches to the
  /// queue so that mail held for a relay quota leaves as soon as the hold ends.
  std::shared_ptr<queue::remote_transport> remote;
  const clock* clk = nullptr;
};

class inbound {
public:
  /// Open the store and the queue (running their recovery scans) and build the service.
  [[nodiscard]] static expected<std::unique_ptr<inbound>> create(inbound_config cfg);
  ~inbound();

  /// Listen, start the I/O thread and the delivery workers.
  [[nodiscard]] expected<void> start();
  /// The bound endpoints, in listener order.
  [[nodiscard]] std::vector<boost::asio::ip::tcp::endpoint> endpoints() const;
  /// Graceful stop: SMTP sessions finish (up to `grace`), then the delivery workers stop.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  [[nodiscard]] store::mail_store& store() noexcept;
  [[nodiscard]] queue::queue& mail_queue() noexcept;
  [[nodiscard]] smtp::service& service() noexcept;
  [[nodiscard]] std::shared_ptr<store::mail_store> shared_store() const noexcept;
  /// The direct path (null when inbound_config::direct_delivery is off).
  [[nodiscard]] inbound_direct* direct() noexcept;
  /// The default policy (its counters for the metrics).
  [[nodiscard]] const inbound_policy& policy() const noexcept;

private:
  inbound() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace mailkit::server
