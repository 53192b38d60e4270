// SPDX-License-Identifier: Apache-2.0
/// @file error.hpp
/// Error categories and the one question retry logic asks: is this failure permanent?
///
/// Every module declares an `errc` enum and a category derived from `mailkit::error_category`,
/// which says for each value whether it is permanent. `is_permanent()` answers for those and for
/// the system category (errno values), so a queue can decide to retry without knowing which
/// module failed.
#pragma once

#include <mailkit/core/expected.hpp>

#include <boost/system/error_category.hpp>
#include <string>
#include <type_traits>

namespace mailkit {

/// Base of every mailkit error category: adds the transient/permanent classification.
class error_category : public boost::system::error_category {
public:
  /// @return true when retrying the same operation cannot succeed (bad input, a limit, policy).
  [[nodiscard]] virtual bool permanent(int value) const noexcept = 0;

protected:
  ~error_category() = default;
};

/// Core errors. Each value says when it happens.
enum class errc {
  ok = 0,
  invalid_argument = 1, ///< a caller passed a value outside the documented domain (permanent)
  malformed_input,      ///< input bytes do not follow the grammar and cannot be read (permanent)
  limit_exceeded,       ///< a configured limit (size, count, depth, length) was reached (permanent)
  truncated_input,      ///< input ended before a complete item was read (permanent)
  unsupported,          ///< a valid feature that this build does not implement (permanent)
  io_error,             ///< a read, write or fsync failed for a reason that may pass (transient)
  timed_out,            ///< an operation ran past its deadline (transient)
  resource_exhausted,   ///< memory, descriptors or disk ran out (transient)
};

/// The category of mailkit::errc.
const error_category& core_category() noexcept;

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), core_category()};
}

/// Is retrying pointless? mailkit categories answer for themselves; errno values are classed
/// here (ENOSPC, EAGAIN, ETIMEDOUT, ECONNREFUSED ... transient; EINVAL, ENOENT ... permanent).
/// An unknown category is treated as transient: retrying a permanent failure costs a delay,
/// bouncing a transient one loses mail.
[[nodiscard]] bool is_permanent(const error_code& ec) noexcept;

} // namespace mailkit

template <>
struct boost::system::is_error_code_enum<mailkit::errc> : std::true_type {};
