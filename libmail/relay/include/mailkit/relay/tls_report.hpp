// SPDX-License-Identifier: Apache-2.0
/// @file tls_report.hpp
/// Sending the daily TLS-RPT reports of direct delivery. The transport counts every TLS session
/// it makes with a recipient domain's MX hosts (transport::tls_reports()); once a day, for each
/// domain counted that publishes a `_smtp._tls` record, send_tls_reports() builds the report of
/// the previous UTC day and sends it to every rua URI: by mail for "mailto:" (a multipart/report
/// message with the gzipped JSON as an application/tlsrpt+gzip attachment, TLS-Report-Domain
/// and TLS-Report-Submitter fields, the §5.3 subject; it leaves through the transport, so it
/// is routed and DKIM-signed like any message of ours), by HTTPS POST for "https:".
/// tls_report_scheduler decides when: the first call after a UTC midnight.
///
/// **Standards**: RFC 8460 §3 (the `_smtp._tls` record), §4.1 (one report per UTC day), §4.4
/// (report fields), §5.1-§5.3 (gzip, file name, mail: subject, headers, DKIM), §5.4 (HTTPS
/// POST). §5.5 (retries): a report mail handed to `submit` (the server passes its queue) is
/// retried by the queue; a direct or HTTPS delivery that fails is reported in the result and
/// not retried (the counts are cleared either way, so the next report covers its own day).
///
/// **Security**: the rua URIs come from DNS (the recipient domain's record): a "mailto:" address
/// is checked for what cannot appear in an SMTP path, an "https:" URI for its form; the report
/// carries only what the recipient domain's own MX hosts showed us. Blocking (DNS, SMTP,
/// HTTPS): call from a worker thread.
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/dns/resolver.hpp>
#include <mailkit/http/http.hpp>
#include <mailkit/relay/relay.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace mailkit::relay {

/// Who we are in the reports and how they leave.
struct tls_report_options {
  std::string organization_name; ///< RFC 8460 §4.4 "organization-name"
  std::string contact_info;      ///< §4.4 "contact-info" (an address or URI)
  std::string submitter;         ///< our domain: TLS-Report-Submitter and file names (§5.3)
  std::string from;              ///< From of report mail, a mailbox of `submitter`
  std::string reverse_path;      ///< envelope sender of report mail; "" = `from`
  /// For https: rua URIs (trust anchors, timeout, resolver); the port comes from the URI.
  http::client_options https;
  /// How a report mail leaves: null = transport::deliver() now. The server passes a function
  /// that puts the message into its queue, so that it is retried (RFC 8460 §5.5).
  std::function<expected<void>(const outbound_message&)> submit;
};

/// What happened to one report for one rua URI.
struct tls_report_delivery {
  std::string policy_domain;
  std::string rua;       ///< the URI as published
  std::string report_id; ///< §4.4 "report-id"
  bool sent = false;     ///< handed over (mail accepted by the MX or queued; POST answered 2xx)
  std::string detail;    ///< why not, when !sent
};

/// For every policy domain `t` counted: look up `_smtp._tls.<domain>` (RFC 8460 §3), and when
/// it publishes a valid record, build the report over report_period(now) and send it to each
/// rua URI. The counts of every domain are cleared afterwards (a domain without a record is
/// simply forgotten). @return one entry per (domain, rua); empty when nothing was counted.
[[nodiscard]] std::vector<tls_report_delivery> send_tls_reports(transport& t, dns::resolver& r,
                                                                const tls_report_options& o,
                                                                mailkit::clock::time_point now);

/// Once a day, after UTC midnight (RFC 8460 §4.1: reports cover UTC days). Thread-safe.
class tls_report_scheduler {
public:
  tls_report_scheduler(transport& t, dns::resolver& r, tls_report_options o);

  /// Is a run due at `now` (the UTC day changed since the last run, or there was none)?
  [[nodiscard]] bool due(mailkit::clock::time_point now) const;

  /// Call as often as convenient (the server: every few minutes from a worker thread): sends
  /// the reports when due() and returns what happened; otherwise does nothing. The first call
  /// only marks the day, so that a report never covers a day the process did not see whole.
  std::vector<tls_report_delivery> tick(mailkit::clock::time_point now);

private:
  transport& transport_;
  dns::resolver& resolver_;
  tls_report_options options_;
  mutable std::mutex mutex_;
  long long last_day_ = -1; ///< days since the epoch (UTC) of the last run or first call
};

} // namespace mailkit::relay
