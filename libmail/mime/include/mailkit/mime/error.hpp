// SPDX-License-Identifier: Apache-2.0
/// @file error.hpp
/// Operational errors of the MIME module. A malformed message is not an error: it parses into
/// the tree a mail client would show, with `message::problems()` saying what was wrong. These
/// values are for what cannot be parsed at all under the configured limits.
#pragma once

#include <mailkit/core/error.hpp>

namespace mailkit::mime {

enum class errc {
  ok = 0,
  message_too_large = 1, ///< the input exceeds limits::max_message_size (permanent)
  limit_exceeded,        ///< a structural limit was hit while limits::on_limit is fail (permanent)
  unknown_charset,       ///< no converter exists for the named charset (permanent)
  conversion_failed,     ///< the converter rejected the input in strict mode (permanent)
  invalid_argument,      ///< a builder input cannot be represented (e.g. CR/LF in a header value)
};

const mailkit::error_category& mime_category() noexcept;

inline mailkit::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), mime_category()};
}

} // namespace mailkit::mime

template <>
struct boost::system::is_error_code_enum<mailkit::mime::errc> : std::true_type {};
