// SPDX-License-Identifier: Apache-2.0
/// @file clock.hpp
/// An injectable wall clock. Code that compares against "now" (DKIM x=, MTA-STS max_age, queue
/// retry schedules) takes a `const clock&`, so tests pin time instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>

namespace mailkit {

class clock {
public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~clock() = default;
  [[nodiscard]] virtual time_point now() const noexcept = 0;
};

/// The real clock (std::chrono::system_clock).
class system_clock final : public clock {
public:
  [[nodiscard]] time_point now() const noexcept override {
    return std::chrono::system_clock::now();
  }
};

/// A clock that moves only when told; safe to read from several threads.
class manual_clock final : public clock {
public:
  explicit manual_clock(time_point start = time_point{}) : now_(start.time_since_epoch().count()) {}
  [[nodiscard]] time_point now() const noexcept override {
    return time_point(time_point::duration(now_.load(std::memory_order_acquire)));
  }
  void set(time_point t) noexcept {
    now_.store(t.time_since_epoch().count(), std::memory_order_release);
  }
  void advance(std::chrono::system_clock::duration d) noexcept {
    now_.fetch_add(d.count(), std::memory_order_acq_rel);
  }

private:
  std::atomic<time_point::duration::rep> now_;
};

/// The process-wide system clock, for callers that were not given one.
const clock& default_clock() noexcept;

} // namespace mailkit
