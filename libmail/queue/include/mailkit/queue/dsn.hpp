// SPDX-License-Identifier: Apache-2.0
/// @file dsn.hpp
/// Delivery status notifications (bounces, delay warnings, success notices) as RFC 3464
/// messages: multipart/report; report-type=delivery-status, with a human-readable part, the
/// message/delivery-status part (per-message and per-recipient fields) and the returned
/// message (message/rfc822 for RET=FULL, text/rfc822-headers for RET=HDRS).
///
/// Standards: RFC 3464 §2 (fields: Reporting-MTA, Original-Envelope-Id, Arrival-Date;
/// Original-Recipient, Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
/// Last-Attempt-Date, Will-Retry-Until), RFC 3461 §4 (NOTIFY decides which DSNs are sent; RET
/// what is returned; ENVID and ORCPT echoed), RFC 6462 / RFC 3462 (multipart/report), RFC 6533
/// (message/global-delivery-status and message/global for SMTPUTF8 messages), RFC 3834 §5
/// (Auto-Submitted: auto-replied), RFC 5321 §4.5.5 (a DSN is sent with the null reverse path and
/// never to the null reverse path).
/// Security: the returned message and the diagnostic texts come from peers; they are copied,
/// never interpreted. Header values taken from peers are stripped of CR and LF.
#pragma once

#include <mailkit/queue/envelope.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::queue {

/// RFC 3464 §2.3.3 Action.
enum class dsn_action { failed, delayed, delivered, relayed, expanded };
[[nodiscard]] std::string_view to_string(dsn_action a) noexcept;

/// One recipient's report.
struct dsn_recipient {
  const recipient* rcpt = nullptr;
  dsn_action action = dsn_action::failed;
  std::string status;            ///< RFC 3463 "5.1.1"
  std::string diagnostic;        ///< the reply text ("550 5.1.1 no such user"), "" when none
  std::string remote_mta;        ///< "" when none
  std::int64_t last_attempt = 0; ///< Unix seconds, 0 when none
  std::int64_t retry_until = 0;  ///< Unix seconds, delayed only
};

struct dsn_params {
  std::string reporting_mta;                ///< our host name
  std::string postmaster = "MAILER-DAEMON"; ///< local part of the From address
  std::int64_t now = 0;                     ///< Unix seconds (Date)
  std::size_t max_returned = 1u << 20;      ///< RET=FULL returns headers only above this size
};

/// Should a DSN with `action` be sent for this recipient of this message? RFC 3461 §4.1:
/// NOTIFY=NEVER never; absent NOTIFY means FAILURE (and DELAY); RFC 5321 §4.5.5 / RFC 3461 §6.2:
/// never for a null reverse path or for a message that is itself a DSN.
[[nodiscard]] bool wants_dsn(const envelope& e, const recipient& r, dsn_action action) noexcept;

/// Build the DSN for `original` (its envelope `e`, its bytes as stored: our trace fields and
/// the message). The result is a complete message to enqueue from <> to e.reverse_path.
/// RET=HDRS returns the header only; RET=FULL (or absent, for failures) the whole message up
/// to params.max_returned; delay and success notices return the header only (RFC 3461 §4.3).
[[nodiscard]] std::string make_dsn(const envelope& e, std::string_view original,
                                   const std::vector<dsn_recipient>& recipients,
                                   const dsn_params& params);

/// RFC 3461 §4 xtext encoding, for Original-Envelope-Id and Original-Recipient.
[[nodiscard]] std::string xtext_encode(std::string_view s);

} // namespace mailkit::queue
