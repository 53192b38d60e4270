// SPDX-License-Identifier: Apache-2.0
/// @file thread_name.hpp
/// Names for the threads libmail starts, so that `top -H`, `ps -L`, perf and gdb show what each
/// one is ("mk-smtp-io", "mk-checkpoint", ...) instead of the program's name on every line.
#pragma once

#include <string>
#include <string_view>

namespace mailkit {

/// Name the calling thread. Linux keeps 15 bytes of a name: longer names are cut there.
/// Returns false where the system has no thread names or refused the name.
bool name_this_thread(std::string_view name) noexcept;

/// For the threads of a pool that runs posted jobs (asio::thread_pool, whose threads start
/// without a hook): names the calling thread at the first job it runs, then costs the check of
/// a thread-local flag. Call it at the start of each job posted to the pool.
void name_pool_thread(std::string_view name) noexcept;

/// The calling thread's name as the system holds it ("" where there are no thread names).
[[nodiscard]] std::string this_thread_name();

} // namespace mailkit
