// SPDX-License-Identifier: Apache-2.0
/// @file local_delivery.hpp
/// Local delivery: the queue's delivery target that appends messages into the store (INBOX, or
/// the mailbox the envelope names, "Junk" for DMARC quarantine), adding Return-Path and
/// Delivered-To, with the account's quota checked first.
///
/// Deduplication by queue id: each copy is appended with the store's content-hash uniqueness
/// (append_batch with unique = true) and the message's acceptance time as its internal date.
/// The copy holds our Received field, which names the queue id, so the same queue id delivered
/// again to the same mailbox (a redelivery after a crash between the store's commit and the
/// queue's) is recognized by the store and reported as `duplicate`: logged, not stored twice.
///
/// Standards: RFC 5321 §4.4 (Return-Path added at final delivery), RFC 5233 (subaddress: the
/// tag is kept in Delivered-To), RFC 3463 (4.2.2 over quota, 5.2.2 permanently over quota,
/// 5.1.1 no such account, 4.3.1 disk full).
/// Security: writes into users' mailboxes; the envelope it trusts was validated at RCPT time.
#pragma once

#include <mailkit/queue/queue.hpp>
#include <mailkit/store/store.hpp>

#include <memory>

namespace mailkit::server {

struct local_delivery_options {
  bool over_quota_permanent = false; ///< 552 5.2.2 instead of 452 4.2.2 when the box is full
  bool delivered_to = true;          ///< add a Delivered-To field (loop detection)
};

class local_delivery final : public queue::delivery_target {
public:
  local_delivery(std::shared_ptr<store::mail_store> store, local_delivery_options opts = {});
  /// Items are grouped by account and mailbox; each group is one store transaction.
  void deliver(std::span<queue::delivery_item> items) override;

private:
  std::shared_ptr<store::mail_store> store_;
  local_delivery_options opts_;
};

} // namespace mailkit::server
