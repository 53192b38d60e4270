// SPDX-License-Identifier: Apache-2.0
// Direct acceptance of local mail into the store, with group commit (inbound_direct.hpp).
#include <mailkit/core/thread_name.hpp>
#include <mailkit/server/inbound_direct.hpp>

#include <algorithm>

namespace mailkit::server {

namespace {

std::vector<queue::delivery_result> all_transient(std::size_t n, std::string_view why) {
  // RFC 3463 4.3.2: system not accepting messages (shutting down).
  return std::vector<queue::delivery_result>(
      n, queue::delivery_result{queue::delivery_result::status::transient, "4.3.2",
                                std::string(why), "", 0});
}

} // namespace

inbound_direct::inbound_direct(std::shared_ptr<queue::delivery_target> local, direct_options o)
    : local_(std::move(local)), o_(o) {
  for (unsigned i = 0; i < std::max(1u, o_.threads); ++i)
    threads_.emplace_back([this] {
      name_this_thread("mk-direct");
      run();
    });
}

inbound_direct::~inbound_direct() {
  stop();
}

bool inbound_direct::eligible(const queue::envelope& e) noexcept {
  if (e.bounce || e.recipients.empty()) return false;
  return std::all_of(e.recipients.begin(), e.recipients.end(), [](const queue::recipient& r) {
    // RFC 3461 §4.1: a SUCCESS notification is the queue's job (it writes the DSN after the
    // delivery commits); such recipients take the queue's path.
    return r.where == queue::route::local && (r.notify & queue::notify::success) == 0;
  });
}

void inbound_direct::async_deliver(queue::envelope e, std::string trace, std::string_view message,
                                   handler done) {
  {
    std::unique_lock lock(mu_);
    if (!stopping_ && busy_ == 0 && pending_.empty()) {
      // Nothing else is being committed: deliver on the calling thread (one thread hand-off
      // less for a lone session). Whatever arrives meanwhile goes to the committer threads.
      ++busy_;
      lock.unlock();
      std::vector<pending> one;
      one.push_back({std::move(e), std::move(trace), message, std::move(done)});
      deliver(one);
      lock.lock();
      --busy_;
      return;
    }
    if (!stopping_) {
      pending_.push_back({std::move(e), std::move(trace), message, std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(all_transient(e.recipients.size(), "local delivery is shutting down"));
}

void inbound_direct::stop() {
  std::vector<std::thread> ts;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    ts.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : ts)
    t.join(); // each thread empties pending_ before it returns
}

void inbound_direct::run() {
  for (;;) {
    std::vector<pending> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return; // stopping, and nothing left
      // Group commit: everything waiting now, up to the batch bounds.
      std::uint64_t bytes = 0;
      while (!pending_.empty() && batch.size() < o_.max_batch &&
             (batch.empty() ||
              bytes + pending_.front().message.size() + pending_.front().trace.size() <=
                  o_.max_batch_bytes)) {
        bytes += pending_.front().message.size() + pending_.front().trace.size();
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      ++busy_;
    }
    deliver(batch);
    std::lock_guard lock(mu_);
    --busy_;
  }
}

void inbound_direct::deliver(std::vector<pending>& batch) {
  std::vector<queue::delivery_item> items;
  for (auto& p : batch)
    for (std::size_t i = 0; i < p.env.recipients.size(); ++i) {
      queue::delivery_item it;
      it.queue_id = p.env.id;
      it.env = &p.env;
      it.index = i;
      it.rcpt = &p.env.recipients[i];
      it.message = p.message;
      it.trace = p.trace;
      it.first_attempt = true; // straight from the SMTP session: no queue file, no retry yet
      items.push_back(it);
    }
  // One call: local_delivery groups the items by account and mailbox, one store transaction
  // (one body directory fsync, one WAL commit) per group, for all the sessions of the batch.
  if (!items.empty()) local_->deliver(items);
  std::uint64_t delivered = 0;
  for (const auto& it : items)
    if (it.result.outcome == queue::delivery_result::status::delivered ||
        it.result.outcome == queue::delivery_result::status::duplicate)
      ++delivered;
  {
    std::lock_guard lock(mu_);
    stats_.messages += batch.size();
    stats_.delivered += delivered;
    stats_.to_queue += items.size() - delivered;
    ++stats_.batches;
  }
  std::size_t k = 0;
  for (auto& p : batch) {
    std::vector<queue::delivery_result> rs;
    rs.reserve(p.env.recipients.size());
    for (std::size_t i = 0; i < p.env.recipients.size(); ++i)
      rs.push_back(std::move(items[k++].result));
    p.done(std::move(rs));
  }
}

inbound_direct::counters inbound_direct::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

} // namespace mailkit::server
