// SPDX-License-Identifier: Apache-2.0
/// @file task.hpp
/// A minimal lazily started coroutine task with symmetric transfer, private to the SPF
/// evaluator. It lets check_host() be written as the straight recursive procedure of
/// RFC 7208 §4-§6 while staying sans-I/O: a DNS question suspends the whole chain of tasks and
/// control returns to whoever resumed it (evaluator::feed), which later resumes the leaf.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

namespace mailkit::spf::detail {

/// A bump allocator for the frames of one evaluation's coroutines: they are many and small, and
/// all die with the evaluation, so freeing one is a no-op and the arena is released at the end.
class frame_arena {
public:
  frame_arena() = default;
  frame_arena(const frame_arena&) = delete;
  frame_arena& operator=(const frame_arena&) = delete;
  ~frame_arena() {
    for (void* p : blocks_)
      ::operator delete(p);
  }
  void* allocate(std::size_t n) {
    n = (n + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1);
    if (n > left_) {
      const std::size_t size = n > block_size ? n : block_size;
      blocks_.push_back(::operator new(size));
      next_ = static_cast<std::byte*>(blocks_.back());
      left_ = size;
    }
    void* p = next_;
    next_ += n;
    left_ -= n;
    return p;
  }

private:
  static constexpr std::size_t block_size = 8192;
  alignas(std::max_align_t) std::byte inline_[4096];
  std::byte* next_ = inline_;
  std::size_t left_ = sizeof inline_;
  std::vector<void*> blocks_;
};

template <class T>
class task {
public:
  struct promise_type {
    std::optional<T> value;
    std::exception_ptr error;
    std::coroutine_handle<> continuation;

    // Frames of coroutines that are members of an object with an `arena` member (the
    // evaluator's impl: C++20 passes the object as the first argument) come from that arena.
    template <class Owner, class... Args>
    static void* operator new(std::size_t n, Owner& owner, Args&&...) {
      return owner.arena.allocate(n);
    }
    static void operator delete(void*, std::size_t) noexcept {}

    task get_return_object() noexcept {
      return task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        auto next = h.promise().continuation;
        return next ? next : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    template <class U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  task() = default;
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  // Awaiting a task starts it and resumes the awaiter when it finishes.
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    h_.promise().continuation = awaiter;
    return h_;
  }
  T await_resume() {
    if (h_.promise().error) std::rethrow_exception(h_.promise().error);
    return std::move(*h_.promise().value);
  }

  /// For the top-level driver.
  [[nodiscard]] std::coroutine_handle<promise_type> handle() const noexcept { return h_; }

private:
  std::coroutine_handle<promise_type> h_;
};

} // namespace mailkit::spf::detail
