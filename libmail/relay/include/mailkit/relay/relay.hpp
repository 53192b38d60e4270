// SPDX-License-Identifier: Apache-2.0
/// @file relay.hpp
/// Outbound delivery. A `transport` takes one queued message (envelope and bytes, or a file)
/// and delivers it, returning one outcome per recipient: delivered (with the remote reply),
/// transient or permanent failure (with the reply that decided it), or held until a time
/// (quota used up: never bounced). The queue (libmail/queue) calls `deliver()` from its worker
/// threads and keeps, retries or bounces each recipient according to the outcome.
///
/// Each recipient is routed by the first matching rule (recipient domain and/or sender) to
/// direct MX delivery or to a named relay. Direct delivery looks up the MX hosts (mx.hpp) and
/// tries them in order with opportunistic STARTTLS on port 25. A relay route uses its preset
/// (preset.hpp) and configuration: host, port, TLS mode, AUTH mechanism, credentials (from the
/// configuration or a file, never logged), approved senders, limits and an optional failover
/// relay. Before a transaction goes to a relay the quota tracker (quota.hpp) reserves its
/// units; when a limit is used up, or the provider answers with a quota reply, the recipients
/// are held until the reset (or go to the failover relay when one is configured).
///
/// Messages whose header From is one of our DKIM domains are signed (libmail/dkim) before they
/// leave, once, whatever their route.
///
/// Standards: RFC 5321 §5 (MX), RFC 7505 (null MX), RFC 3461 (DSN parameters passed on),
/// RFC 6376 (DKIM signing), RFC 3463 (enhanced status codes in outcomes), RFC 7435
/// (opportunistic TLS for direct delivery), RFC 8314 / RFC 3207 (relay TLS), RFC 7672 §2.2
/// and §3 (DANE for SMTP), RFC 8461 §4 and §5 (MTA-STS application), RFC 8460 §4.3 (TLS-RPT
/// result types).
///
/// Security: credentials are smtp::secret (redacted in every text); approved-sender checks
/// refuse at SMTP time what a relay would refuse later (check_sender()); a relay that refuses
/// the null reverse path gets DSNs from `null_sender_address` or they fail here (no loop: the
/// queue never bounces a bounce). Authentication failures at a relay are transient (a
/// configuration error must not bounce users' mail).
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/dns/resolver.hpp>
#include <mailkit/mtasts/mtasts.hpp>
#include <mailkit/relay/limits.hpp>
#include <mailkit/relay/mx.hpp>
#include <mailkit/relay/preset.hpp>
#include <mailkit/relay/quota.hpp>
#include <mailkit/smtp/client_session.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::relay {

/// One named relay (smarthost).
struct relay_config {
  std::string name;                         ///< how rules and failover refer to it
  std::string preset = "generic";           ///< find_preset() name; the fields below override it
  std::string host;                         ///< "" = the preset's
  std::uint16_t port = 0;                   ///< 0 = the preset's
  std::optional<smtp::tls_mode> tls;        ///< unset = the preset's
  std::optional<smtp::auth_mechanism> auth; ///< unset = the preset's
  std::vector<std::string> addresses;       ///< IP literals to connect to instead of resolving host
  std::string username;
  smtp::secret password;
  std::string password_file;   ///< read at create(); its first line is the secret
  std::string cafile;          ///< trust anchors ("" = system store)
  bool verify = true;          ///< verify the certificate and its name (RFC 6125)
  std::optional<limits> quota; ///< unset = the preset's defaults
  /// Approved senders: "user@example.com" or "@example.com" / "example.com" for a domain.
  /// Empty = any sender.
  std::vector<std::string> approved_senders;
  /// The sender used for a null reverse path (DSNs) when the relay refuses MAIL FROM:<>;
  /// "" = such messages fail here (permanent) instead of going through this relay.
  std::string null_sender_address;
  std::optional<bool> refuses_null_sender; ///< unset = the preset's
  std::string failover; ///< another relay to use when this one is held or unreachable
  std::vector<std::string> quota_replies; ///< more lower-case quota reply texts
  /// deliver(span): messages of one call to this relay share a connection, up to this many
  /// transactions each (RFC 5321 §3.3); 0 or 1: a new connection per message.
  unsigned max_messages_per_connection = 100;
};

/// Route rule: the first rule that matches a recipient decides its route.
struct route_rule {
  /// "example.com" (that domain), ".example.com" (its subdomains), "*" or "" (any).
  std::string recipient_domain;
  /// "user@example.com", "@example.com" / "example.com" (a domain), "*" or "" (any).
  std::string sender;
  std::string via; ///< "direct" or a relay name
};

/// A DKIM key for one of our domains.
struct dkim_domain {
  std::string domain;
  std::string selector;
  std::string private_key_pem; ///< or:
  std::string private_key_file;
};

/// Direct (MX) delivery settings.
struct direct_options {
  std::uint16_t port = 25;
  smtp::tls_mode tls = smtp::tls_mode::starttls_opportunistic; ///< RFC 7435
  /// Verify MX certificates even without a policy (a policy asks for it where it applies).
  bool verify = false;
  /// Trust anchors for MX certificates (MTA-STS validation); "" = the system store.
  std::string cafile;
  bool ipv6 = true;
  /// RFC 7672: look up `_<port>._tcp.<mx>` TLSA records (believed only with the AD bit of a
  /// validating resolver); usable ones make TLS authenticated by them mandatory for that MX,
  /// and a failed lookup makes the MX unusable (§2.2.1).
  bool dane = true;
  /// RFC 8461: discover, fetch and cache the recipient domain's MTA-STS policy and apply it
  /// to the MX hosts without usable TLSA records.
  bool mta_sts = true;
  /// The MTA-STS policy cache: a SQLite file kept across restarts (RFC 8461 §5.1: a policy
  /// must outlive a restart, or an attacker gets a window); "" = memory only.
  std::string mta_sts_cache;
  /// How policies are fetched (trust anchors, port, timeout; tests use a local CA and port).
  mtasts::fetch_options mta_sts_fetch;
};

struct config {
  std::string helo_name = "localhost";
  std::vector<relay_config> relays;
  std::vector<route_rule> rules;
  std::string default_route = "direct"; ///< for recipients no rule matches
  direct_options direct;
  std::vector<dkim_domain> dkim;
  std::string quota_db; ///< SQLite file for quota state ("" = memory only)
  smtp::session_timeouts timeouts = smtp::session_timeouts::all(std::chrono::seconds(60));
  bool use_pipelining = true;
  bool use_chunking = true;
  const clock* clk = nullptr; ///< default_clock() when null
  mx_options mx;
};

/// One recipient of an outbound message.
struct outbound_recipient {
  std::string address;
  std::string notify; ///< RFC 3461 NOTIFY value to pass on ("" = none)
  std::string orcpt;  ///< RFC 3461 ORCPT address ("" = none)
};

/// One message to deliver.
struct outbound_message {
  std::string queue_id;     ///< for logs
  std::string reverse_path; ///< "" = null reverse path
  std::vector<outbound_recipient> recipients;
  std::string ret;   ///< RFC 3461 RET ("FULL", "HDRS", "")
  std::string envid; ///< RFC 3461 ENVID ("" = none)
  priority prio = priority::interactive;
  std::string_view data; ///< the message; when empty, `file` is read
  std::string file;
};

enum class outcome_status { delivered, transient, permanent, held };
[[nodiscard]] std::string_view to_string(outcome_status s) noexcept;

/// What happened to one recipient.
struct recipient_outcome {
  std::string address;
  outcome_status status = outcome_status::transient;
  smtp::reply reply;      ///< the remote reply, or one made up locally (its text says so)
  std::string route;      ///< "direct" or the relay's name
  std::string remote_mta; ///< "host [ip]:port" when a server was reached
  std::optional<time_point> held_until; ///< for held
  std::string detail;                   ///< a sentence for logs and DSNs (never credentials)
};

/// The verdict of check_sender().
struct sender_verdict {
  bool allowed = true;
  std::string relay; ///< the route that would refuse
  smtp::reply reply; ///< what to answer the SMTP client when not allowed (550 5.7.1 ...)
};

class transport {
public:
  /// Validate the configuration, read key and password files, open the quota state.
  /// errc::invalid_argument for an unknown preset, relay, route or a bad key; errc::io_error
  /// for unreadable files or quota database. `resolver` must outlive the transport (used only
  /// for direct delivery; may be null when every route is a relay with addresses or a host the
  /// system resolver knows).
  [[nodiscard]] static expected<std::unique_ptr<transport>> create(config cfg,
                                                                   dns::resolver* resolver);
  ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Deliver one message: one outcome per recipient, in order. Blocking; thread-safe.
  [[nodiscard]] std::vector<recipient_outcome> deliver(const outbound_message& msg);

  /// Deliver several messages (a queue batch): the outcomes of each, in order, as deliver()
  /// gives them, except that messages to the same relay share one connection for the duration
  /// of the call (relay_config::max_messages_per_connection transactions at most; a 421 to
  /// MAIL on a kept connection retries that message once on a new one). Direct MX delivery
  /// still uses a connection per message. Blocking; thread-safe.
  [[nodiscard]] std::vector<std::vector<recipient_outcome>>
  deliver(std::span<const outbound_message> msgs);

  /// The route of a recipient for a sender: "direct" or a relay name.
  [[nodiscard]] std::string route_for(std::string_view sender, std::string_view recipient) const;

  /// Would the route of `recipient` accept this sender? For the SMTP server's policy: call it
  /// at RCPT with the envelope sender (header_from empty), and at the end of the data with
  /// every header From address. Relays without approved senders allow everything.
  [[nodiscard]] sender_verdict check_sender(std::string_view envelope_from,
                                            std::span<const std::string> header_from,
                                            std::string_view recipient) const;

  /// The relay's resolved settings (preset plus overrides), nullptr for an unknown name.
  [[nodiscard]] const preset* relay_preset(std::string_view relay) const;
  [[nodiscard]] quota_tracker& quotas() noexcept;
  [[nodiscard]] quota_usage quota_usage_of(std::string_view relay) const;
  /// The configured relays' names, in name order (the admin port's relay status).
  [[nodiscard]] std::vector<std::string> relay_names() const;
  /// A relay's effective limits (the preset's defaults with the configuration's overrides),
  /// nullptr for an unknown name.
  [[nodiscard]] const limits* relay_limits(std::string_view relay) const;

  /// The TLS-RPT counts of direct delivery (RFC 8460 §4): per recipient (policy) domain, the
  /// successful TLS sessions and the failures with their §4.3 result types.
  /// send_tls_reports() (tls_report.hpp) turns them into the daily reports. Thread-safe.
  [[nodiscard]] tlsrpt::aggregator& tls_reports() noexcept;

private:
  struct impl;
  explicit transport(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Is `address` covered by the approved list (address, "@domain" or "domain" entries;
/// case-insensitive)?
[[nodiscard]] bool sender_approved(std::string_view address,
                                   const std::vector<std::string>& approved) noexcept;

/// The addresses of the header From field(s) of `message` (RFC 5322 §3.6.2).
[[nodiscard]] std::vector<std::string> header_from_addresses(std::string_view message);

} // namespace mailkit::relay
