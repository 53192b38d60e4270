// SPDX-License-Identifier: Apache-2.0
/// @file error.hpp
/// Errors of the IMAP protocol core. Each names a reason a command is refused; the session turns
/// it into a tagged BAD or NO (with a response code such as TOOBIG) or, when `fatal`, a BYE.
#pragma once

#include <mailkit/core/error.hpp>

namespace mailkit::imap {

enum class errc {
  ok = 0,
  syntax = 1,        ///< the command does not follow the RFC 9051 §9 grammar (BAD)
  line_too_long,     ///< a command line (between literals) is over reader_limits::line (BAD)
  literal_too_large, ///< a literal is over the limit for its command (NO [TOOBIG])
  too_many_tokens,   ///< more tokens than reader_limits::tokens in one command (BAD)
  too_deep,          ///< parenthesized lists nested deeper than reader_limits::depth (BAD)
  command_too_large, ///< the whole command (text and literals) is over the limit (BAD)
  unknown_command,   ///< a command name this server does not know (BAD)
  bad_sequence,      ///< a sequence set that does not parse or is out of range (BAD)
  bad_date,          ///< a date or date-time that does not parse (BAD)
  bad_charset,       ///< a SEARCH CHARSET other than US-ASCII or UTF-8 (NO [BADCHARSET])
};

const mailkit::error_category& imap_category() noexcept;

inline mailkit::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), imap_category()};
}

} // namespace mailkit::imap

template <>
struct boost::system::is_error_code_enum<mailkit::imap::errc> : std::true_type {};
