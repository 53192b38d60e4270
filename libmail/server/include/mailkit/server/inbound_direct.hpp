// SPDX-License-Identifier: Apache-2.0
/// @file inbound_direct.hpp
/// Direct acceptance of local mail: a message whose recipients are all our own users is
/// appended into their mailboxes at the end of the data, before the 250, instead of being
/// written to the queue first and delivered from it afterwards. The message is then made
/// durable once (the store's body file, its directory and its row: temp file, fsync, rename,
/// fsync the directory, WAL commit) instead of twice (queue file and record, then the store),
/// and no delivery worker has to pick it up.
///
/// Group commit: sessions hand their messages to a few committer threads; each takes every
/// message waiting at that moment and delivers them together through the local delivery
/// target (one store transaction and one directory fsync per account and mailbox), so
/// concurrent sessions share the fsyncs. No timer: a committer takes what is there as soon as
/// it is free, and each handler is called only once its own copies are durable (or failed).
///
/// What is not delivered here (a full mailbox, a store error, a recipient that asked for a
/// SUCCESS DSN, remote recipients) is not this class's business: the inbound policy hands
/// those recipients to the queue, which retries and bounces as usual (docs/queue.md).
///
/// Standards: RFC 5321 §4.5.5 and §6.1 (the 250 takes responsibility: it follows the durable
/// commit); RFC 3461 §4.1 (NOTIFY=SUCCESS needs the queue's DSN, so such mail is not direct).
/// Security: writes into users' mailboxes through local_delivery (quota, Return-Path,
/// Delivered-To); the envelope was validated at RCPT time.
#pragma once

#include <mailkit/queue/queue.hpp>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mailkit::server {

struct direct_options {
  unsigned threads = 2; ///< committer threads (one batch each at a time)
  /// Bounds of one batch (one group commit): messages, and octets of their data.
  std::size_t max_batch = 256;
  std::uint64_t max_batch_bytes = 64ull << 20;
};

class inbound_direct {
public:
  /// One result per recipient of the envelope, in order.
  using handler = std::function<void(std::vector<queue::delivery_result>)>;

  /// @param local the local delivery target (server::local_delivery over the store).
  explicit inbound_direct(std::shared_ptr<queue::delivery_target> local, direct_options o = {});
  ~inbound_direct();
  inbound_direct(const inbound_direct&) = delete;
  inbound_direct& operator=(const inbound_direct&) = delete;

  /// Whether a message may skip the queue: every recipient local, none asking for a SUCCESS
  /// notification (RFC 3461 §4.1: the queue writes DSNs), not a DSN itself.
  [[nodiscard]] static bool eligible(const queue::envelope& e) noexcept;

  /// Deliver `trace` (our trace fields) followed by `message` (the data as received) to every
  /// recipient of `e`, as the queue would hand them to local delivery. `message` is not
  /// copied: it must stay valid until `done` has been called. `e.id` names the message (its
  /// Received field carries it) and `e.received` (microseconds) is the internal date. `done` is
  /// called with one result per recipient after the delivered copies are durable: on a committer
  /// thread, or on the calling thread before this returns when nothing else was being delivered
  /// (then the caller does the store's work itself); at once with transient results ("4.3.2") when
  /// stopped. May block (the store's fsyncs): never call it on an I/O thread.
  void async_deliver(queue::envelope e, std::string trace, std::string_view message, handler done);

  /// Finish what was handed over (every handler is called), then stop the threads. Further
  /// calls of async_deliver answer at once with transient results.
  void stop();

  struct counters {
    std::uint64_t messages = 0;  ///< messages handed over
    std::uint64_t delivered = 0; ///< recipients delivered (or recognized as already there)
    std::uint64_t to_queue = 0;  ///< recipients not delivered here (left to the queue)
    std::uint64_t batches = 0;   ///< group commits (local_delivery calls)
  };
  [[nodiscard]] counters stats() const;

private:
  struct pending {
    queue::envelope env;
    std::string trace;
    std::string_view message;
    handler done;
  };
  void run();
  void deliver(std::vector<pending>& batch);

  std::shared_ptr<queue::delivery_target> local_;
  direct_options o_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  counters stats_;
  std::deque<pending> pending_;
  bool stopping_ = false;
  unsigned busy_ = 0; ///< batches being delivered now (committers and callers)
  std::vector<std::thread> threads_;
};

} // namespace mailkit::server
