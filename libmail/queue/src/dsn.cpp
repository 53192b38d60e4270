// SPDX-License-Identifier: Apache-2.0
// RFC 3464 delivery status notifications.
#include <mailkit/mime/builder.hpp>
#include <mailkit/mime/date.hpp>
#include <mailkit/queue/dsn.hpp>

#include <random>
#include <string>

namespace mailkit::queue {
namespace {

// Peer text in a header value: no CR, LF or other controls (they could end the field).
std::string clean(std::string_view s, std::size_t max = 900) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) break;
    out.push_back(c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c));
  }
  return out;
}

std::string date(std::int64_t t) {
  return mime::date_time::from_unix(t).to_rfc5322();
}

std::string boundary() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string b = "=_mailkit_dsn_";
  for (int i = 0; i < 24; ++i)
    b.push_back(digits[rng() % 36]);
  return b;
}

// The header section of a message: up to and including the blank line (or all of it).
std::string_view header_of(std::string_view m) {
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] != '\n') continue;
    if (i + 1 < m.size() && m[i + 1] == '\n') return m.substr(0, i + 1);
    if (i + 2 < m.size() && m[i + 1] == '\r' && m[i + 2] == '\n') return m.substr(0, i + 1);
  }
  return m;
}

// Lines ending in CRLF (the returned message may mix line endings).
void append_crlf(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out.push_back('\r');
    out.push_back(s[i]);
  }
  if (!s.empty() && s.back() != '\n') out += "\r\n";
}

// The address-type of an RFC 3464 recipient field: utf-8 when it is not ASCII (RFC 6533 §3).
std::string typed_address(std::string_view addr) {
  for (unsigned char c : addr)
    if (c >= 0x80) return "utf-8; " + clean(addr);
  return "rfc822; " + clean(addr);
}

} // namespace

std::string_view to_string(dsn_action a) noexcept {
  switch (a) {
  case dsn_action::failed:
    return "failed";
  case dsn_action::delayed:
    return "delayed";
  case dsn_action::delivered:
    return "delivered";
  case dsn_action::relayed:
    return "relayed";
  case dsn_action::expanded:
    return "expanded";
  }
  return "failed";
}

std::string xtext_encode(std::string_view s) {
  // RFC 3461 §4: xchar is "!" through "~" except "+" and "="; others as "+" HEX.
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x21 && c <= 0x7e && c != '+' && c != '=') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('+');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

bool wants_dsn(const envelope& e, const recipient& r, dsn_action action) noexcept {
  // RFC 5321 §4.5.5: no notification to the null reverse path; RFC 3461 §6.2 and RFC 3464 §1:
  // a DSN is never sent about a DSN (no bounce loops).
  if (e.reverse_path.empty() || e.bounce) return false;
  // RFC 3461 §4.1: NEVER suppresses every DSN.
  if (r.notify & notify::never) return false;
  switch (action) {
  case dsn_action::failed:
    // RFC 3461 §4.1: without NOTIFY, "FAILURE" (or "FAILURE,DELAY") is assumed.
    return r.notify == 0 || (r.notify & notify::failure);
  case dsn_action::delayed:
    return r.notify == 0 || (r.notify & notify::delay);
  case dsn_action::delivered:
  case dsn_action::relayed:
  case dsn_action::expanded:
    return (r.notify & notify::success) != 0;
  }
  return false;
}

std::string make_dsn(const envelope& e, std::string_view original,
                     const std::vector<dsn_recipient>& recipients, const dsn_params& params) {
  bool any_failed = false, any_delayed = false;
  for (const auto& r : recipients) {
    any_failed |= r.action == dsn_action::failed;
    any_delayed |= r.action == dsn_action::delayed;
  }
  const std::string b = boundary();
  const std::string host = params.reporting_mta.empty() ? "localhost" : params.reporting_mta;
  std::string m;
  m += "From: Mail Delivery System <" + params.postmaster + "@" + host + ">\r\n";
  m += "To: <" + clean(e.reverse_path) + ">\r\n";
  m += any_failed    ? "Subject: Undelivered Mail Returned to Sender\r\n"
       : any_delayed ? "Subject: Delayed Mail (still being retried)\r\n"
                     : "Subject: Successful Mail Delivery Report\r\n";
  m += "Date: " + date(params.now) + "\r\n";
  m += "Message-ID: <" + mime::make_message_id(host) + ">\r\n";
  // RFC 3834 §5: automatic responses are marked so that responders do not answer them.
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  // RFC 3462 §1 (RFC 6522): multipart/report with report-type.
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + b +
       "\"\r\n";
  m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

  // 1. The human-readable part (RFC 3464 §2.1.1 leaves its content to the MTA).
  m += "--" + b +
       "\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n";
  m += "This is the mail system at host " + host + ".\r\n\r\n";
  if (any_failed)
    m += "Your message could not be delivered to one or more recipients.\r\n"
         "It is attached below.\r\n\r\n";
  else if (any_delayed)
    m += "Your message has not been delivered yet to one or more recipients.\r\n"
         "The mail system will keep trying; you do not need to send it again.\r\n\r\n";
  else
    m += "Your message was delivered to the recipients below.\r\n\r\n";
  for (const auto& r : recipients) {
    m += "<" + clean(r.rcpt->original.empty() ? r.rcpt->address : r.rcpt->original) +
         ">: " + std::string(to_string(r.action));
    if (!r.diagnostic.empty()) m += ": " + clean(r.diagnostic);
    m += "\r\n";
  }

  // 2. The machine-readable part. RFC 6533 §3: for an SMTPUTF8 message the report may carry
  // UTF-8 addresses and is labelled message/global-delivery-status.
  m += "\r\n--" + b + "\r\nContent-Type: " +
       std::string(e.smtputf8 ? "message/global-delivery-status" : "message/delivery-status") +
       "\r\n\r\n";
  // RFC 3464 §2.2: per-message fields.
  m += "Reporting-MTA: dns; " + clean(host) + "\r\n";
  if (!e.envid.empty()) // RFC 3464 §2.2.1: ENVID echoed, xtext as it was given
    m += "Original-Envelope-Id: " + xtext_encode(e.envid) + "\r\n";
  if (!e.client.empty())
    m += "Received-From-MTA: dns; " + clean(e.helo.empty() ? e.client : e.helo) + " (" +
         clean(e.client) + ")\r\n";
  m += "Arrival-Date: " + date(e.received / 1000000) + "\r\n";
  // RFC 3464 §2.3: one group per recipient, each preceded by a blank line.
  for (const auto& r : recipients) {
    m += "\r\n";
    if (!r.rcpt->orcpt.empty()) {
      // RFC 3464 §2.3.1: Original-Recipient is the ORCPT parameter (addr-type ";" xtext).
      const auto semi = r.rcpt->orcpt.find(';');
      if (semi != std::string::npos)
        m += "Original-Recipient: " + clean(r.rcpt->orcpt.substr(0, semi)) + ";" +
             xtext_encode(r.rcpt->orcpt.substr(semi + 1)) + "\r\n";
    }
    // RFC 3464 §2.3.2: Final-Recipient, the address as given to us in RCPT TO.
    m += "Final-Recipient: " +
         typed_address(r.rcpt->original.empty() ? r.rcpt->address : r.rcpt->original) + "\r\n";
    m += "Action: " + std::string(to_string(r.action)) + "\r\n";
    m += "Status: " +
         clean(r.status.empty() ? std::string(any_failed ? "5.0.0" : "4.0.0") : r.status) + "\r\n";
    if (!r.remote_mta.empty()) m += "Remote-MTA: dns; " + clean(r.remote_mta) + "\r\n";
    if (!r.diagnostic.empty()) m += "Diagnostic-Code: smtp; " + clean(r.diagnostic) + "\r\n";
    if (r.last_attempt) m += "Last-Attempt-Date: " + date(r.last_attempt) + "\r\n";
    if (r.action == dsn_action::delayed && r.retry_until)
      m += "Will-Retry-Until: " + date(r.retry_until) + "\r\n";
  }

  // 3. The returned message (RFC 3464 §2.1: optional). RFC 3461 §4.3: RET=HDRS the header only,
  // RET=FULL the whole message; success and delay reports return headers only.
  if (!original.empty()) {
    const bool full =
        any_failed && e.ret != ret_type::hdrs && original.size() <= params.max_returned;
    if (full) {
      m += "\r\n--" + b +
           "\r\nContent-Type: " + std::string(e.smtputf8 ? "message/global" : "message/rfc822") +
           "\r\n";
      if (e.eightbitmime || e.smtputf8) m += "Content-Transfer-Encoding: 8bit\r\n";
      if (e.binarymime) m += "Content-Transfer-Encoding: binary\r\n";
      m += "\r\n";
      if (e.binarymime)
        m.append(original);
      else
        append_crlf(m, original);
    } else {
      // RFC 6533 §3: message/global-headers for SMTPUTF8 messages.
      m += "\r\n--" + b + "\r\nContent-Type: " +
           std::string(e.smtputf8 ? "message/global-headers" : "text/rfc822-headers") + "\r\n";
      if (e.smtputf8) m += "Content-Transfer-Encoding: 8bit\r\n";
      m += "\r\n";
      append_crlf(m, header_of(original));
    }
  }
  m += "\r\n--" + b + "--\r\n";
  return m;
}

} // namespace mailkit::queue
