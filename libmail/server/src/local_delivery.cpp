// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/core/log.hpp>
#include <mailkit/server/local_delivery.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace mailkit::server {
namespace {

using queue::delivery_result;

delivery_result from_store_error(const mailkit::error_code& ec) {
  delivery_result r;
  r.outcome = mailkit::is_permanent(ec) ? delivery_result::status::permanent
                                        : delivery_result::status::transient;
  r.enhanced = std::string(store::enhanced_status(ec));
  r.reply = ec.message();
  return r;
}

std::string local_address(const queue::recipient& r) {
  if (r.tag.empty()) return r.address;
  const auto at = r.address.rfind('@');
  if (at == std::string::npos) return r.address + "+" + r.tag;
  return r.address.substr(0, at) + "+" + r.tag + r.address.substr(at);
}

} // namespace

local_delivery::local_delivery(std::shared_ptr<store::mail_store> store,
                               local_delivery_options opts)
    : store_(std::move(store)), opts_(opts) {}

void local_delivery::deliver(std::span<queue::delivery_item> items) {
  // Group by (account, mailbox): one append_batch, one transaction, one set of fsyncs each.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& env = *items[i].env;
    groups[{items[i].rcpt->address, env.mailbox.empty() ? "INBOX" : env.mailbox}].push_back(i);
  }
  for (auto& group : groups) {
    // Plain references (clang 14 does not let lambdas capture structured bindings).
    const std::string& account = group.first.first;
    const std::string& mailbox = group.first.second;
    const std::vector<std::size_t>& idx = group.second;
    // The usage is read only for an account with a quota (the limits come from memory).
    auto limits = store_->account_quota(account);
    expected<store::account_info> usage = store::account_info{account, {}, 0, 0};
    if (!limits)
      usage = make_unexpected(limits.error());
    else if (limits->bytes || limits->messages)
      usage = store_->account(account);
    if (!usage) {
      for (auto i : idx)
        items[i].result = from_store_error(usage.error());
      continue;
    }
    const store::account_info* info = &*usage;
    // Bodies as stored: RFC 5321 §4.4 Return-Path at final delivery, Delivered-To, then the
    // queued message (our Received field, naming the queue id, is at its top).
    std::vector<std::string> bodies;
    std::vector<std::size_t> to_store;
    std::uint64_t batch_bytes = 0;
    std::uint64_t batch_count = 0;
    for (auto i : idx) {
      const auto& it = items[i];
      std::string b = "Return-Path: <" + it.env->reverse_path + ">\r\n";
      if (opts_.delivered_to) b += "Delivered-To: " + local_address(*it.rcpt) + "\r\n";
      b.reserve(b.size() + it.trace.size() + it.message.size());
      b += it.trace;
      append_bytes(b, it.message);
      // Quota, checked against the account's usage before this batch (deliver() of the
      // store checks one message; a batch is checked here, message by message).
      const auto& q = info->limit;
      const bool too_big_ever = (q.bytes && b.size() > q.bytes);
      const bool full_now = (q.bytes && info->used_bytes + batch_bytes + b.size() > q.bytes) ||
                            (q.messages && info->used_messages + batch_count + 1 > q.messages);
      if (too_big_ever || (full_now && opts_.over_quota_permanent)) {
        // RFC 3463 5.2.2: mailbox full (permanently, by configuration or because the message
        // alone exceeds the quota).
        items[i].result = {delivery_result::status::permanent, "5.2.2",
                           "552 5.2.2 mailbox full: message exceeds the quota", ""};
        continue;
      }
      if (full_now) {
        // RFC 3463 4.2.2: mailbox full; later deliveries may fit.
        items[i].result = {delivery_result::status::transient, "4.2.2", "452 4.2.2 mailbox full",
                           ""};
        continue;
      }
      batch_bytes += b.size();
      ++batch_count;
      bodies.push_back(std::move(b));
      to_store.push_back(i);
    }
    if (to_store.empty()) continue;
    auto run =
        [&](const std::string& box, std::size_t from,
            std::size_t count) -> expected<std::vector<std::optional<store::append_result>>> {
      std::vector<store::mail_store::batch_item> batch;
      for (std::size_t k = from; k < from + count; ++k)
        batch.push_back({bodies[k], {}, items[to_store[k]].env->received / 1000000});
      // A retry may meet a copy an earlier attempt delivered before a crash (then the queue
      // id in our Received field and the arrival time make the same content and date): the
      // store skips it. A first attempt cannot, and skips the content hash and the lookup.
      const bool unique = std::any_of(to_store.begin() + static_cast<std::ptrdiff_t>(from),
                                      to_store.begin() + static_cast<std::ptrdiff_t>(from + count),
                                      [&](std::size_t i) { return !items[i].first_attempt; });
      auto r = store_->append_batch(account, box, batch, unique);
      if (!r && r.error() == make_error_code(store::errc::no_such_mailbox) && box != "INBOX") {
        // The user deleted the target mailbox (Junk): INBOX rather than a bounce.
        return store_->append_batch(account, "INBOX", batch, unique);
      }
      return r;
    };
    auto set = [&](std::size_t k,
                   const expected<std::vector<std::optional<store::append_result>>>& r,
                   std::size_t pos) {
      auto& res = items[to_store[k]].result;
      if (!r) {
        res = from_store_error(r.error());
        return;
      }
      if (!(*r)[pos]) {
        res = {delivery_result::status::duplicate, "2.0.0",
               "250 2.0.0 already in " + mailbox + " (queue id " +
                   std::string(items[to_store[k]].queue_id) + ")",
               ""};
      } else {
        res = {delivery_result::status::delivered, "2.0.0",
               "250 2.0.0 delivered to " + mailbox + " uid " + std::to_string((*r)[pos]->uid), ""};
      }
    };
    auto r = run(mailbox, 0, to_store.size());
    if (r || to_store.size() == 1) {
      for (std::size_t k = 0; k < to_store.size(); ++k)
        set(k, r, k);
      continue;
    }
    // One bad message fails a whole batch (append_batch is all or nothing): deliver one by one
    // so that the others are not held back by it.
    for (std::size_t k = 0; k < to_store.size(); ++k)
      set(k, run(mailbox, k, 1), 0);
  }
}

} // namespace mailkit::server
