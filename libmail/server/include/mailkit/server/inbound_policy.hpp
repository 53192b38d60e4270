// SPDX-License-Identifier: Apache-2.0
/// @file inbound_policy.hpp
/// The default inbound policy: what mailkit's SMTP server answers when it runs as a mail server
/// for its own domains. It implements smtp::policy with the store (recipients, credentials),
/// the sender authentication modules (SPF, DKIM, DMARC through dmarc::authenticate) and the
/// queue (durable acceptance).
///
/// - MAIL: refused with 452 4.3.1 while the disk is short of space (min_free_space). Then
///   unauthenticated clients get an SPF check of the reverse path (RFC 7208 §2.4; a
///   `fail` is refused with 550 5.7.23 when `reject_spf_fail`); authenticated users may use
///   only their own addresses (their account or an alias that resolves to it) when
///   `restrict_sender` (553 5.7.1).
/// - RCPT: the store resolves the recipient (aliases, catch-all, subaddress). Unknown users of
///   our domains: 550 5.1.1. Other domains: relaying, only for authenticated clients (no open
///   relay: 554 5.7.1 otherwise). Full mailboxes: 452 4.2.2 (or 552 5.2.2 when over-quota
///   mail is refused permanently).
/// - End of data: DKIM and DMARC (with SPF again, through dmarc::authenticate); DMARC p=reject
///   failures are refused with 550 5.7.1; p=quarantine failures go to the Junk mailbox. Our
///   Received field (RFC 5321 §4.4, naming the queue id) and Authentication-Results field
///   (RFC 8601) are stored before the message; Authentication-Results fields that claim our
///   authserv-id are removed first (RFC 8601 §5). Then the queue makes the message durable and
///   the 250 names the queue id. Queue failures: 452 4.3.1 (disk or queue full), 451 4.3.0.
///   With set_direct(), a message for local recipients only is appended into their mailboxes
///   first (one durable write instead of queue + store); the 250 follows the store's commit,
///   and recipients it could not take (full mailbox, store error) are queued as before.
///
/// Standards: RFC 5321 §3.9, §4.4, §4.5.1 (Postmaster); RFC 7208; RFC 6376; RFC 7489 §6.6;
/// RFC 8601 §5; RFC 3848 (WITH protocol types); RFC 7372 (5.7.23); RFC 3463.
/// Security: decides relaying and sender ownership; everything here comes from the peer.
/// Blocking work (store lookups, the DKIM/DMARC checks, reading spilled messages) runs on the
/// policy's own thread pool, never on the SMTP I/O thread.
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/dns/resolver.hpp>
#include <mailkit/queue/queue.hpp>
#include <mailkit/server/auth_cache.hpp>
#include <mailkit/server/inbound_direct.hpp>
#include <mailkit/smtp/policy.hpp>
#include <mailkit/store/store.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mailkit::server {

struct policy_config {
  std::string hostname = "localhost"; ///< Received "by" and the authserv-id
  bool check_spf = true;              ///< SPF at MAIL FROM for unauthenticated clients
  bool reject_spf_fail = false;       ///< refuse SPF fail at MAIL FROM (else DMARC decides)
  bool check_dmarc = true;            ///< DKIM + DMARC at end of data (unauthenticated)
  bool reject_dmarc = true;           ///< honour p=reject (550 5.7.1)
  bool quarantine_to_junk = true;     ///< honour p=quarantine (deliver to Junk)
  bool restrict_sender = true;        ///< authenticated users send only as their own addresses
  bool over_quota_permanent = false;  ///< 552 5.2.2 instead of 452 4.2.2 at RCPT
  unsigned threads = 4;               ///< the policy's worker threads
  /// Approved senders of the outbound relays (server::outbound::check_sender): for an
  /// authenticated client's remote recipients, at RCPT (envelope sender only, `message` empty)
  /// and at the end of the data (`message` given: its header From fields are checked too). A
  /// reply refuses (550 5.7.1 ...), so mail a relay would refuse is never accepted and bounced
  /// later. server::inbound sets it from its outbound (server::sender_approval).
  std::function<std::optional<smtp::reply>(std::string_view envelope_from, std::string_view message,
                                           std::span<const std::string> remote_recipients)>
      approve_sender;
  const clock* clk = nullptr; ///< DKIM/Received time; default_clock() when null
  /// Free space kept for the mail already accepted: new mail is refused at MAIL FROM with
  /// 452 4.3.1 (RFC 1870 §6.1, RFC 3463) while a file system of `space_paths` has less than
  /// this many octets free, or less than this plus twice the size the client declared (SIZE=).
  /// What stays free is for messages in flight, the queue's retries and bounces, and IMAP
  /// users deleting mail (an expunge needs room in the store's log). 0: no check.
  std::uint64_t min_free_space = 32ull << 20;
  /// Directories whose file systems are watched (server::inbound: its store and its queue).
  std::vector<std::string> space_paths;
  /// Verified credentials shared with the IMAP service (auth_cache.hpp): AUTH with a password
  /// verified within the TTL skips the Argon2id check. Null: every AUTH is a full check.
  std::shared_ptr<auth_cache> credentials_cache;
};

/// What the policy counts, for the admin port's metrics.
struct policy_stats {
  std::uint64_t auth_failures = 0;     ///< AUTH answered 535 (wrong credentials)
  std::uint64_t refused_for_space = 0; ///< MAIL answered 452 4.3.1 (policy_config::min_free_space)
  /// End of data to the final reply of each accepted message (the DKIM/DMARC checks and the
  /// durable write: queue commit or direct store commit).
  queue::latency_histogram end_of_data;
};

class inbound_policy final : public smtp::policy {
public:
  inbound_policy(policy_config cfg, std::shared_ptr<store::mail_store> store,
                 std::shared_ptr<queue::queue> q, std::shared_ptr<dns::resolver> resolver);
  ~inbound_policy() override;

  /// Local-only messages go straight into the store through `direct` (inbound_direct.hpp)
  /// instead of through the queue; null (the default): everything goes through the queue.
  /// Call before the service starts.
  void set_direct(std::shared_ptr<inbound_direct> direct);

  void on_mail(const smtp::session_info& s, const smtp::envelope& e,
               smtp::decision_handler done) override;
  void on_rcpt(const smtp::session_info& s, const smtp::envelope& e, const smtp::recipient& r,
               smtp::decision_handler done) override;
  void on_auth(const smtp::session_info& s, const smtp::credentials& c,
               smtp::decision_handler done) override;
  expected<std::unique_ptr<smtp::message_sink>> open_message(const smtp::session_info& s,
                                                             const smtp::envelope& e) override;
  void on_message(const smtp::session_info& s, const smtp::envelope& e,
                  std::unique_ptr<smtp::message_sink> sink, smtp::decision_handler done) override;
  void on_close(const smtp::session_info& s, smtp::close_reason why) override;

  [[nodiscard]] policy_stats stats() const;

  /// The Received field for a message (exposed for tests): RFC 5321 §4.4 with the RFC 3848
  /// protocol type, the queue id and, for one recipient, its address.
  [[nodiscard]] static std::string
  received_field(const smtp::session_info& s, const smtp::envelope& e, std::string_view hostname,
                 std::string_view queue_id, std::int64_t unix_time);
  /// Remove the Authentication-Results fields whose authserv-id is `authserv_id` (RFC 8601
  /// §5: a forged claim of our own results). Returns nullopt when there is none.
  [[nodiscard]] static std::optional<std::string>
  strip_own_authentication_results(std::string_view message, std::string_view authserv_id);

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace mailkit::server
