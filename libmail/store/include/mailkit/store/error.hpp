// SPDX-License-Identifier: Apache-2.0
/// @file error.hpp
/// Operational errors of the mail store. Each value says when it happens and whether retrying
/// can help: SMTP delivery turns a transient one into a 4xx reply and a permanent one into 5xx,
/// IMAP into NO. `enhanced_status()` gives the RFC 3463 code a delivery agent should report.
#pragma once

#include <mailkit/core/error.hpp>

#include <string_view>

namespace mailkit::store {

enum class errc {
  ok = 0,
  no_such_domain = 1, ///< the domain is not hosted here (permanent)
  no_such_account,    ///< no account with that address (permanent)
  no_such_mailbox,    ///< the account has no mailbox of that name (permanent)
  no_such_message,    ///< no message with that UID in the mailbox (permanent)
  already_exists,     ///< a domain, account, alias or mailbox of that name exists (permanent)
  invalid_name,       ///< a mailbox name breaks the naming rules (permanent)
  invalid_address,    ///< an address or domain cannot be read (permanent)
  invalid_argument,   ///< a value outside the documented domain (permanent)
  over_quota,         ///< the account is over its quota now; later deliveries may fit
                      ///< (transient, RFC 3463 4.2.2)
  exceeds_quota,      ///< the message alone is larger than the whole quota, or the store
                      ///< is configured to refuse over-quota mail permanently (permanent,
                      ///< 5.2.2 / 5.2.3)
  disk_full,          ///< the file system or database is full (transient, 4.3.1)
  io_error,           ///< a read, write, fsync or rename failed (transient, 4.3.0)
  permission_denied,  ///< the store's files cannot be opened or written (transient: an
                      ///< operator can fix ownership without losing mail)
  busy,               ///< the database stayed locked past the busy timeout (transient)
  corrupt,            ///< a record or file is damaged (transient: the mail stays queued
                      ///< while an operator repairs it)
  schema_too_new,     ///< the database was written by a newer mailkit (permanent)
  unsupported_scheme, ///< a password hash scheme that is refused or unknown (permanent)
  cannot_delete,      ///< INBOX, or a domain that still has accounts (permanent)
  limit_exceeded,     ///< a documented limit (alias fan-out, nesting, sizes) (permanent)
  store_locked,       ///< another process holds the store's lock file (transient)
};

const mailkit::error_category& store_category() noexcept;

inline mailkit::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), store_category()};
}

/// The RFC 3463 enhanced status code a delivery agent reports for a store failure
/// ("4.2.2" over quota, "5.2.2"/"5.2.3" permanent quota, "5.1.1" no such account, "4.3.1" disk
/// full, "4.3.0" other transient, "5.3.0" other permanent).
[[nodiscard]] std::string_view enhanced_status(const mailkit::error_code& ec) noexcept;

} // namespace mailkit::store

template <>
struct boost::system::is_error_code_enum<mailkit::store::errc> : std::true_type {};
