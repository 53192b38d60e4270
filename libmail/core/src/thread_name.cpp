// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/thread_name.hpp>

#include <algorithm>
#include <cstring>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace mailkit {

bool name_this_thread(std::string_view name) noexcept {
#if defined(__linux__)
  // The kernel's task name holds 16 bytes with the terminating NUL (TASK_COMM_LEN);
  // pthread_setname_np refuses longer names with ERANGE rather than cutting them.
  char buf[16];
  const std::size_t n = std::min(name.size(), sizeof buf - 1);
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  return pthread_setname_np(pthread_self(), buf) == 0;
#else
  (void)name;
  return false;
#endif
}

void name_pool_thread(std::string_view name) noexcept {
  thread_local bool named = false;
  if (named) return;
  named = true;
  (void)name_this_thread(name);
}

std::string this_thread_name() {
#if defined(__linux__)
  char buf[16] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) return {};
  return buf;
#else
  return {};
#endif
}

} // namespace mailkit
