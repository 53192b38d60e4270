// SPDX-License-Identifier: Apache-2.0
/// @file drive.hpp
/// Run a sans-I/O DNS-asking state machine (SPF's and DMARC's evaluators) against a resolver,
/// blocking or asynchronously. One driver for every such machine, so that the fast path (an
/// answer the resolver holds at once, dns::resolver::answer_now) and the waiting path are
/// written once.
///
/// The machine's shape (a concept, checked at compile time):
///   const Q* next();                  // the pending question (with .name and .type), or nullptr
///   void feed(dns::query_result);     // the answer to it
///   R take_result();                  // once next() returned nullptr
/// and optionally `void feed_borrowed(const dns::query_result&)` (the answer without a copy; it
/// stays valid as long as the resolver is unchanged, which outlives the evaluation).
#pragma once

#include <mailkit/dns/resolver.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace mailkit::dns {

template <class M>
concept dns_state_machine = requires(M m, query_result r) {
  {m.next()};
  {m.next()->name};
  {m.next()->type};
  m.feed(std::move(r));
  m.take_result();
};

namespace detail {

template <class M>
void feed_now(M& machine, const query_result& answer) {
  if constexpr (requires { machine.feed_borrowed(answer); })
    machine.feed_borrowed(answer);
  else
    machine.feed(query_result(answer));
}

// One answer through async_query, waited for on this thread. An answer given inline (inside
// async_query, on the caller's thread) takes no lock at all.
inline query_result ask_and_wait(resolver& r, std::string_view name, rtype type) {
  struct waiter {
    const std::thread::id caller = std::this_thread::get_id();
    bool inline_answer = false; // touched by the caller's thread only
    std::mutex m;
    std::condition_variable cv;
    std::optional<query_result> answer;
  } w;
  r.async_query(name, type, [p = &w](query_result res) {
    if (std::this_thread::get_id() == p->caller) {
      p->answer.emplace(std::move(res));
      p->inline_answer = true;
      return;
    }
    std::lock_guard lock(p->m);
    p->answer.emplace(std::move(res));
    p->cv.notify_one(); // under the lock: `w` may be gone as soon as it is released
  });
  if (!w.inline_answer) {
    std::unique_lock lock(w.m);
    w.cv.wait(lock, [&] { return w.answer.has_value(); });
  }
  return std::move(*w.answer);
}

template <class M, class Handler>
struct async_drive_op : std::enable_shared_from_this<async_drive_op<M, Handler>> {
  async_drive_op(resolver& r, M m, Handler h)
      : res(r), machine(std::move(m)), handler(std::move(h)) {}
  resolver& res;
  M machine;
  Handler handler;
  bool in_step = false;
  bool answered_inline = false;

  // Inline answers loop here instead of recursing; a later answer calls step() again.
  void step() {
    in_step = true;
    while (const auto* q = machine.next()) {
      if (const query_result* now = res.answer_now(q->name, q->type)) {
        feed_now(machine, *now);
        continue;
      }
      answered_inline = false;
      res.async_query(q->name, q->type, [self = this->shared_from_this()](query_result r) {
        self->machine.feed(std::move(r));
        if (self->in_step)
          self->answered_inline = true;
        else
          self->step();
      });
      if (!answered_inline) {
        in_step = false;
        return;
      }
    }
    in_step = false;
    auto h = std::move(handler);
    h(machine.take_result());
  }
};

} // namespace detail

/// Run `machine` to its result, blocking the calling thread while the resolver works (see
/// resolver.hpp on executors: never call this on the resolver's own executor thread).
template <dns_state_machine M>
auto drive(resolver& r, M& machine) {
  while (const auto* q = machine.next()) {
    if (const query_result* now = r.answer_now(q->name, q->type))
      detail::feed_now(machine, *now); // an in-memory answer: no handler, no copy, no waiting
    else
      machine.feed(detail::ask_and_wait(r, q->name, q->type));
  }
  return machine.take_result();
}

/// Run `machine` asynchronously; `handler(result)` is called once, on the thread of the last
/// answer (inline when every answer was).
template <dns_state_machine M, class Handler>
void async_drive(resolver& r, M machine, Handler handler) {
  auto op = std::make_shared<detail::async_drive_op<M, Handler>>(r, std::move(machine),
                                                                 std::move(handler));
  op->step();
}

} // namespace mailkit::dns
