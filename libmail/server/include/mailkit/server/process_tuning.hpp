// SPDX-License-Identifier: Apache-2.0
#pragma once
/// Process-wide settings for a long-running mail server process (mailkitd and the benchmark
/// servers call this at the start of main; a library user embedding the server decides for
/// their own process).

#include <cstddef>

namespace mailkit::server {

struct allocator_tuning {
  /// Allocations up to this size come from the heap instead of a fresh mapping each time.
  std::size_t mmap_threshold = 4u << 20;
  /// Free memory kept at the top of a heap before it is given back to the system.
  std::size_t trim_threshold = 32u << 20;
};

/// Message buffers (the DATA buffer, the copy with trace fields, the store's parse) are a few
/// hundred kilobytes and live for one message. With glibc's defaults each of them is a fresh
/// mapping or a heap top that is trimmed and faulted in again: about 60 page faults per
/// 100 KB message on the SMTP path, against 6 with these settings (perf stat on
/// mailkit_inbound_server, 1 session of 100 KB messages), and a third less CPU per message.
/// The cost: up to `trim_threshold` of freed memory stays mapped after a burst. Returns false
/// where the C library does not take the settings (not glibc).
bool tune_allocator(const allocator_tuning& t = {}) noexcept;

} // namespace mailkit::server
