// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/log.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

namespace mailkit {
namespace {

struct sink_state {
  std::mutex mutex;
  std::shared_ptr<const log_sink> sink;
  // Above every level while no sink is installed, so log_enabled() is one relaxed load.
  std::atomic<int> min_level{static_cast<int>(log_level::error) + 1};
};

sink_state& state() {
  static sink_state s;
  return s;
}

} // namespace

void set_log_sink(log_sink sink, log_level min_level) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (sink) {
    s.sink = std::make_shared<const log_sink>(std::move(sink));
    s.min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
  } else {
    s.sink.reset();
    s.min_level.store(static_cast<int>(log_level::error) + 1, std::memory_order_relaxed);
  }
}

bool log_enabled(log_level level) noexcept {
  return static_cast<int>(level) >= state().min_level.load(std::memory_order_relaxed);
}

void log(log_level level, std::string_view component, std::string_view message) {
  if (!log_enabled(level)) return;
  std::shared_ptr<const log_sink> sink;
  {
    std::lock_guard lock(state().mutex);
    sink = state().sink;
  }
  if (sink) (*sink)(level, component, message);
}

std::string log_safe(std::string_view value, std::size_t max) {
  std::string out;
  out.reserve(std::min(value.size(), max) + 3);
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (i == max) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const bool delimiter =
        c == '<' || c == '>' || c == '[' || c == ']' || c == '(' || c == ')' || c == ',';
    out += (c < 0x21 || c > 0x7e || delimiter) ? '?' : static_cast<char>(c);
  }
  return out;
}

} // namespace mailkit
