// SPDX-License-Identifier: Apache-2.0
/// @file outbound.hpp
/// server::outbound: the queue's remote transport (queue::remote_transport) on top of
/// relay::transport. The queue hands it a batch of recipients whose route is remote; it groups
/// them by message, lets the relay module deliver the batch in one call (direct MX delivery or
/// a named relay, DKIM signing, quota reservation; messages to the same relay share a
/// connection) and turns each recipient's outcome into the queue's delivery_result:
///
///   relay outcome   queue result   what the queue does
///   delivered       delivered      done (a success DSN when NOTIFY=SUCCESS: Action relayed)
///   permanent       permanent      bounced: an RFC 3464 DSN to the sender (never to <>)
///   transient       transient      retried (5 min doubling up to 4 h; expired after 5 days)
///   held (quota)    transient      kept; the reply says "held until T"; at T this adapter
///                                  wakes the queue (queue::flush) so the message leaves at
///                                  the reset, not at the next back-off step
///
/// A held recipient is never bounced by the relay module (a provider's quota reply, 4xx or 5xx,
/// is a hold). The queue itself has no held state yet: it counts a hold as a failed attempt,
/// sends its delay warning after retry_schedule::delay_warning and expires anything older than
/// retry_schedule::give_up, so a backlog of more than five days of quota is the one case where
/// a held message would still bounce (see docs/relay.md).
///
/// Null-sender messages (our DSNs): a relay that refuses MAIL FROM:<> (OCI) gets them from its
/// configured null_sender_address (an approved postmaster address, relay_config); without one,
/// or with null_sender_policy::keep_local, the DSN is delivered to the local postmaster account
/// instead of leaving, so a bounce is never lost and never loops.
///
/// Bulk and list mail (Precedence: bulk/list/junk, List-Id, List-Unsubscribe) is scheduled with
/// relay::priority::bulk, everything else (submissions) as interactive.
///
/// check_sender() is the approved-sender check for the submission policy: it answers, at RCPT
/// and at the end of the data, whether the relay a recipient is routed to would accept the
/// envelope sender and every header From, so that a message the relay would refuse is refused
/// at SMTP time (550 5.7.1) instead of being accepted and bounced later.
///
/// Standards: RFC 5321 §4.5.4.1 (retries, via the queue), §4.5.5 and RFC 3461 §6.2 (no DSN to
/// the null path; no DSN about a DSN), RFC 3463 (status codes of the results), RFC 3464 (the
/// DSNs the queue sends from these results), RFC 2076 §3.9 / RFC 2369 (Precedence, List-*).
/// Security: the relay's credentials stay in relay::transport; results carry reply texts from
/// peers (copied into logs and DSNs, never interpreted).
#pragma once

#include <mailkit/queue/queue.hpp>
#include <mailkit/relay/relay.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mailkit::server {

/// What happens to a DSN (null reverse path) whose route is a relay that refuses the null
/// sender.
enum class null_sender_policy {
  /// Send it through the relay from the relay's null_sender_address; when the relay has none,
  /// keep it local (as below).
  via_relay,
  /// Never send such DSNs through the relay: deliver them to `postmaster` locally.
  keep_local,
};

struct outbound_options {
  null_sender_policy null_sender = null_sender_policy::via_relay;
  /// The local account (queue route::local address) that receives DSNs kept local.
  std::string postmaster = "postmaster";
  /// Where DSNs kept local are delivered (the server's local_delivery); without it they fail
  /// here as the relay module says (permanent, and the queue never bounces a bounce).
  std::shared_ptr<queue::delivery_target> local;
  /// attach(): held mail is woken this long after its hold ends, so that the delivery pass
  /// that reported the hold has committed it (the queue does not retry a message a worker
  /// holds at that moment).
  std::chrono::milliseconds release_delay{2000};
};

class outbound final : public queue::remote_transport {
public:
  /// @param transport the relay module's transport (routes, relays, quotas, DKIM keys)
  outbound(std::shared_ptr<relay::transport> transport, outbound_options opts = {});
  ~outbound() override;
  outbound(const outbound&) = delete;
  outbound& operator=(const outbound&) = delete;

  /// Deliver every item (they may belong to several messages): one relay transaction set per
  /// message. Called on queue worker threads; blocking; thread-safe.
  void deliver(std::span<queue::delivery_item> items) override;

  /// The approved-sender check for the submission policy (see the file comment): the first
  /// recipient whose relay would refuse `envelope_from` or one of `header_from` decides.
  /// @return allowed, or the relay's name and the reply to give (550 5.7.1 ...)
  [[nodiscard]] relay::sender_verdict check_sender(std::string_view envelope_from,
                                                   std::span<const std::string> header_from,
                                                   std::span<const std::string> recipients) const;

  /// Wake `q` (queue::flush) whenever a hold this adapter reported ends, from a thread of its
  /// own, until the adapter is destroyed. Without it held recipients wait for the queue's next
  /// back-off step after the reset.
  void attach(std::weak_ptr<queue::queue> q);

  /// When the queue will next be woken: the earliest end of a hold reported and not yet
  /// released, plus release_delay (tests, tools).
  [[nodiscard]] std::optional<relay::time_point> next_release() const;

  [[nodiscard]] relay::transport& transport() noexcept { return *transport_; }

private:
  void note_hold(relay::time_point until);
  void release_loop();
  [[nodiscard]] bool keep_local(const queue::envelope& env, std::string_view recipient) const;

  std::shared_ptr<relay::transport> transport_;
  outbound_options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<relay::time_point> holds_; // release times not yet reached, sorted
  std::weak_ptr<queue::queue> queue_;
  bool stop_ = false;
  std::thread releaser_;
};

/// relay::priority for a message: bulk for Precedence bulk/list/junk or a List-Id or
/// List-Unsubscribe field (RFC 2076 §3.9, RFC 2369, RFC 2919), else interactive.
[[nodiscard]] relay::priority priority_of(std::string_view message);

/// The queue result of a relay outcome (the table in the file comment).
[[nodiscard]] queue::delivery_result to_delivery_result(const relay::recipient_outcome& o);

} // namespace mailkit::server
