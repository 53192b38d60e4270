// SPDX-License-Identifier: Apache-2.0
/// @file expected.hpp
/// `mailkit::expected<T>`: a value or a `mailkit::error_code`. GCC 12 in C++20 mode has no
/// `std::expected`, so this is tl::expected (libexpected-dev) behind our own name; when the
/// toolchain moves to C++23 only this file changes.
#pragma once

#include <boost/system/error_code.hpp>
#include <tl/expected.hpp>

namespace mailkit {

/// Operational failures. Protocol outcomes (an SPF fail, an SMTP 550) are values, never this.
using error_code = boost::system::error_code;

template <class T>
using expected = tl::expected<T, error_code>;

using tl::make_unexpected;
using tl::unexpected;

/// Shorthand for `return mailkit::fail(errc::x);` in functions returning expected<T>.
template <class E>
[[nodiscard]] inline tl::unexpected<error_code> fail(E e) {
  return tl::unexpected<error_code>(make_error_code(e));
}

} // namespace mailkit
