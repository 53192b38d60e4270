// SPDX-License-Identifier: Apache-2.0
/// @file mailbox_name.hpp
/// Mailbox names: "/"-separated hierarchy, UTF-8, validated so that no name can escape the
/// user's store or confuse IMAP LIST. Also the modified UTF-7 of RFC 3501 §5.1.3, which
/// Dovecot uses for Maildir++ folder names on disk.
///
/// **Standards**: RFC 3501 §5.1 (INBOX case-insensitive, hierarchy), §5.1.3 (modified UTF-7),
/// RFC 6154 (special-use attributes).
/// **Security**: names come from IMAP clients and imported folder names (untrusted).
#pragma once

#include <mailkit/core/expected.hpp>

#include <string>
#include <string_view>

namespace mailkit::store {

/// Limits on names (each tested).
inline constexpr std::size_t max_mailbox_name = 1024;  ///< bytes, whole name
inline constexpr std::size_t max_name_component = 255; ///< bytes, one level
inline constexpr std::size_t max_name_depth = 32;      ///< levels

/// Validate a name and return its canonical form ("inbox" -> "INBOX", also as the first
/// component "Inbox/x" -> "INBOX/x"). Rejects (errc::invalid_name): empty names or components,
/// leading or trailing "/", "." and ".." components, control characters, invalid UTF-8, the
/// IMAP wildcards "*" and "%", and names over the limits above.
[[nodiscard]] expected<std::string> normalize_mailbox_name(std::string_view name);

/// RFC 3501 §5.1.3 modified UTF-7 to UTF-8 (Dovecot folder names on disk, "&AOQ-" -> "ä").
/// errc::invalid_name for malformed input.
[[nodiscard]] expected<std::string> decode_mutf7(std::string_view in);
/// UTF-8 to modified UTF-7.
[[nodiscard]] std::string encode_mutf7(std::string_view utf8);

} // namespace mailkit::store
