// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the store's source files (not installed).
#pragma once

#include <mailkit/store/error.hpp>

#include <cerrno>

namespace mailkit::store::detail {

/// A file-system failure as a store error: disk full, permission, or I/O (all transient).
inline error_code from_errno(int e) noexcept {
  switch (e) {
  case ENOSPC:
  case EDQUOT:
    return make_error_code(errc::disk_full);
  case EACCES:
  case EPERM:
  case EROFS:
    return make_error_code(errc::permission_denied);
  default:
    return make_error_code(errc::io_error);
  }
}

inline error_code from_system(const error_code& ec) noexcept {
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category())
    return from_errno(ec.value());
  return ec;
}

} // namespace mailkit::store::detail
