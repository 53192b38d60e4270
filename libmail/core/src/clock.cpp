// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/clock.hpp>

namespace mailkit {

const clock& default_clock() noexcept {
  static const system_clock instance;
  return instance;
}

} // namespace mailkit
