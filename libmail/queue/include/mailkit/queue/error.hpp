// SPDX-License-Identifier: Apache-2.0
/// @file error.hpp
/// Operational errors of the queue. Each value says when it happens and whether it is
/// transient; `reply_status()` gives the SMTP reply an end-of-data hook should send for it
/// (DESIGN.md §4: disk full and I/O errors are temporary, the client keeps the message).
#pragma once

#include <mailkit/core/error.hpp>

#include <string_view>

namespace mailkit::queue {

enum class errc {
  ok = 0,
  disk_full = 1,       ///< ENOSPC or EDQUOT while writing or committing (transient, 452 4.3.1)
  io_error,            ///< any other failed write, fsync, rename or database step (transient,
                       ///< 451 4.3.0)
  queue_full,          ///< limits.max_messages or max_bytes reached (transient, 452 4.3.1)
  message_too_large,   ///< over limits.max_message_size (permanent, 552 5.3.4)
  too_many_recipients, ///< over limits.max_recipients (permanent, 452 4.5.3 per RCPT)
  no_recipients,       ///< an envelope without recipients (permanent, a caller's bug)
  corrupt,             ///< a queue record or file cannot be read (transient: kept for an operator)
  closed,              ///< the queue is shutting down (transient, 421/451)
  not_found,           ///< no message with that queue id (permanent)
  locked,              ///< another process holds the queue directory (transient)
  busy, ///< an operator action on a message a worker is delivering right now (transient: the
        ///< attempt ends within the transport's timeouts; try again then)
};

const mailkit::error_category& queue_category() noexcept;

inline mailkit::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), queue_category()};
}

/// The SMTP reply for an acceptance failure: code and RFC 3463 enhanced status.
struct reply_status {
  int code = 451;
  std::string_view status = "4.3.0";
};
[[nodiscard]] reply_status reply_for(const mailkit::error_code& ec) noexcept;

/// errno to a queue error (ENOSPC/EDQUOT: disk_full; else io_error).
[[nodiscard]] mailkit::error_code from_errno(int e) noexcept;

} // namespace mailkit::queue

template <>
struct boost::system::is_error_code_enum<mailkit::queue::errc> : std::true_type {};
