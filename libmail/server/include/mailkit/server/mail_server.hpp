// SPDX-License-Identifier: Apache-2.0
/// @file mail_server.hpp
/// The whole mail server from one config struct (DESIGN.md §1, issue 10): SMTP (MX, submission
/// with STARTTLS, submission over implicit TLS) with the default inbound policy, the durable
/// queue and local delivery into the store (server::inbound); IMAP over the same store
/// (server::imap_service, STARTTLS and implicit TLS); outbound mail through relay::transport
/// (a relay preset or direct MX delivery, built by make_outbound() of outbound_factory.hpp)
/// with DKIM signing of our domains. One certificate
/// serves every TLS listener and is reloaded on demand (SIGHUP in mailkitd).
///
/// @code
///   server::mail_server_config c;
///   c.hostname = "mail.example.com";
///   c.data_dir = "/var/lib/mailkit";
///   c.domains = {"example.com"};
///   c.smtp = {{"0.0.0.0", 25, smtp::listener_mode::mx}, {"0.0.0.0", 587,
///             smtp::listener_mode::submission}};
///   c.imap = {{"0.0.0.0", 993, true}};
///   auto srv = server::mail_server::create(c).value();
///   srv->start().value();  ...  srv->stop();
/// @endcode
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/dns/resolver.hpp>
#include <mailkit/queue/queue.hpp>
#include <mailkit/server/autoconfig.hpp>
#include <mailkit/server/imap_service.hpp>
#include <mailkit/smtp/server_session.hpp>
#include <mailkit/store/store.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mailkit::server {

struct mail_server_config {
  std::string hostname = "localhost"; ///< HELO/EHLO, Received, certificate name
  std::string data_dir = "var";       ///< store/, queue/, relay state below it
  std::vector<std::string> domains;   ///< created in the store at start (existing ones kept)
  std::vector<smtp::listener_config> smtp;
  std::vector<imap_listener> imap;
  std::string tls_cert, tls_key;        ///< PEM files; empty: <data_dir>/tls/{cert,key}.pem
  bool self_signed_tls = false;         ///< create a self-signed pair when the files are missing
  std::vector<std::string> dns_servers; ///< "127.0.0.1:53" ...; empty: /etc/resolv.conf
  std::uint64_t max_message_size = 35ull << 20;
  /// New mail is refused (452 4.3.1 at MAIL FROM) below this much free disk space, plus twice
  /// a declared SIZE (policy_config::min_free_space); 0: no check.
  std::uint64_t min_free_space = 32ull << 20;
  bool reject_spf_fail = false;
  bool restrict_sender = true;
  /// The resolver for SPF/DKIM/DMARC and delivery; null: a c-ares resolver over dns_servers.
  std::shared_ptr<dns::resolver> resolver;
  /// Outbound delivery (server/outbound_factory.hpp: relays, routes, DKIM keys). Null: remote
  /// recipients stay deferred (4.4.1) until a route is configured; local mail is unaffected.
  std::shared_ptr<queue::remote_transport> outbound;
  std::size_t max_smtp_connections = 1000;
  std::size_t max_smtp_connections_per_ip = 20;
  std::size_t max_imap_connections_per_user = 20;
  std::chrono::milliseconds imap_idle_timeout{std::chrono::minutes(30)};
  bool allow_plaintext_auth = false; ///< AUTH/LOGIN before TLS (tests on loopback only)
  /// HTTPS for the MTA-STS policies of `domains` (RFC 8461 §3.3): GET
  /// https://mta-sts.<domain>/.well-known/mta-sts.txt, and the autoconfig documents below;
  /// 404 otherwise. Empty address: off.
  /// The certificate is the servers' one (it must name every mta-sts.<domain>).
  std::string https_address;
  std::uint16_t https_port = 443;       ///< 0: any free port
  std::string mta_sts_mode = "testing"; ///< enforce, testing or none (RFC 8461 §5)
  std::vector<std::string> mta_sts_mx;  ///< the policy's mx patterns; empty: `hostname`
  std::uint32_t mta_sts_max_age = 604800;
  /// Mail client autoconfiguration on the HTTPS listener (autoconfig.hpp): Thunderbird's
  /// https://autoconfig.<domain>/mail/config-v1.1.xml and the .well-known path on <domain>, with
  /// the public host names and ports. The certificate must name autoconfig.<domain> too.
  autoconfig_config autoconfig;
  /// The admin port (admin.hpp): GET /metrics (Prometheus) and the operator API for the queue
  /// and relays (bearer token from `admin_token_file`). Plain HTTP: keep it on loopback or
  /// behind a firewall. Empty address: off.
  std::string admin_address;
  std::uint16_t admin_port = 9925; ///< 0: any free port
  std::string admin_token_file;    ///< empty: <data_dir>/admin-token (created 0600)
};

/// What a listener is for, and where it listens (port 0 in the config: the port chosen).
struct listening {
  std::string service; ///< "smtp", "submission", "submissions", "imap", "imaps", "https",
                       ///< "admin"
  boost::asio::ip::tcp::endpoint endpoint;
};

/// Counters for the admin port and logs.
struct mail_server_stats {
  std::uint64_t smtp_accepted = 0, smtp_active = 0;
  std::uint64_t imap_accepted = 0, imap_active = 0, imap_login_failures = 0;
  std::uint64_t smtp_messages = 0; ///< messages answered 2xx at end of data
  std::uint64_t queue_messages = 0, delivered = 0, deferred = 0, bounced = 0;
  std::uint64_t smtp_refused = 0, imap_refused = 0; ///< connections over the limits
  std::uint64_t queue_bytes = 0, queue_held = 0, dsns = 0;
  std::uint64_t delivered_direct = 0;   ///< of `delivered`: committed into the store before the 250
  std::uint64_t smtp_auth_failures = 0; ///< SMTP AUTH answered 535
  std::uint64_t smtp_refused_space = 0; ///< MAIL answered 452 4.3.1: the disk short of space
  queue::latency_histogram smtp_end_of_data; ///< end of data to the 2xx, accepted messages
};

class mail_server {
public:
  /// Open the store and queue (running the queue's recovery), create the domains, load the
  /// certificate (making a self-signed one when asked), build the outbound transport. Nothing
  /// listens yet.
  [[nodiscard]] static expected<std::unique_ptr<mail_server>> create(mail_server_config cfg);
  ~mail_server();
  mail_server(const mail_server&) = delete;
  mail_server& operator=(const mail_server&) = delete;

  /// Bind every listener and start serving. Fails (nothing left listening) when a port cannot
  /// be bound.
  [[nodiscard]] expected<void> start();
  /// Stop accepting, let sessions finish within `grace`, then close them; the queue is left
  /// consistent (DESIGN.md §4).
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  /// Reload the certificate and key files; new TLS sessions use them, open ones keep theirs.
  /// On failure the old certificate stays in use.
  [[nodiscard]] expected<void> reload_tls();

  /// Apply a re-read configuration (SIGHUP in mailkitd) to the running server. Applied live:
  /// new `domains` are created in the store; a different `outbound` replaces the queue's
  /// remote transport (relays, routes, quotas, DKIM keys) and the submission policy's
  /// approved-sender check, and deferred mail is retried with it; the MTA-STS and autoconfig
  /// settings and the domain list are republished on the HTTPS listener. Everything else
  /// (listeners, host name, data directory, certificate paths, DNS servers, SMTP limits and
  /// policy switches, the admin port) keeps its old value until a restart, and says so.
  /// @return one line per change, applied or kept, for the log; an error (nothing after the
  /// failing step applied) when a domain cannot be created or the HTTPS hosts cannot be built
  [[nodiscard]] expected<std::vector<std::string>> reload(mail_server_config next);
  /// The remote transport in use now (reload() may replace it).
  [[nodiscard]] std::shared_ptr<queue::remote_transport> outbound() const;

  [[nodiscard]] std::vector<listening> endpoints() const;
  [[nodiscard]] store::mail_store& store() noexcept;
  /// The queue (the admin port's queue operations).
  [[nodiscard]] queue::queue& mail_queue() noexcept;
  [[nodiscard]] std::shared_ptr<store::mail_store> shared_store() const noexcept;
  [[nodiscard]] mail_server_stats stats() const;
  [[nodiscard]] const mail_server_config& config() const noexcept;

private:
  mail_server() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace mailkit::server
