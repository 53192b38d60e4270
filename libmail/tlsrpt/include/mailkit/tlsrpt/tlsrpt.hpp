// SPDX-License-Identifier: Apache-2.0
/// @file tlsrpt.hpp
/// SMTP TLS Reporting (TLS-RPT): how a sending MTA tells recipient domains about the TLS
/// sessions it made (or failed to make) with their MX hosts, once a day, as gzipped JSON.
///  - parse_txt_record(): the `_smtp._tls.<domain>` TXT record (`v=TLSRPTv1; rua=...`);
///  - aggregator: per policy domain, counts of successful sessions and of failures by result
///    type, sending IP, receiving MX (the §4.3 failure details);
///  - make_report() / to_json() / gzip(): the daily report and its bytes, with the file name
///    and mail subject of §5.3 (report_period() gives the UTC day to report);
///  - post_report(): delivery to an https: rua by POST (§5.4); make_report_mail(): the message
///    for a mailto: rua (§5.3), which the relay signs and sends;
///  - parse_report() / gunzip(): reports we receive, for the operator's CLI.
///
/// **Standards**: RFC 8460 §3 (TXT record), §4 (report JSON, §4.3 result types, §4.4 fields),
/// §5.1-§5.3 (gzip, file name, subject), §5.4 (HTTPS POST). Not here: sending reports by mail
/// (§5.3: the relay's, with DKIM signing), and retrying failed deliveries (§5.5: the caller's,
/// guided by is_permanent()).
///
/// **Security**: parse_report() and gunzip() read untrusted input (reports from anyone who
/// knows our rua): JSON depth and size are bounded (1 MiB JSON, nesting 16), gunzip stops at
/// a caller-given output limit (a gzip bomb costs at most that).
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/http/http.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace mailkit::tlsrpt {

enum class errc {
  ok = 0,
  bad_record = 1, ///< the TXT record breaks RFC 8460 §3 (permanent)
  bad_report,     ///< the report is not JSON or lacks a required field of §4.4 (permanent)
  bad_gzip,       ///< the data is not gzip, or is truncated (permanent)
  too_large,      ///< the input or its decompressed form exceeds the limit (permanent)
  bad_uri,        ///< an rua URI is not https://host[:port]/path (permanent)
  rejected,       ///< the report server answered other than 2xx (RFC 8460 §5.4) (transient)
};

const error_category& category() noexcept;
inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

// ---- RFC 8460 §3: the TXT record ----------------------------------------------------------

struct txt_record {
  /// RFC 8460 §3: "mailto:" and "https:" URIs, in the order given (at least one).
  std::vector<std::string> rua;
  std::vector<std::pair<std::string, std::string>> extensions;
};

/// Parse one record: "v=TLSRPTv1" first, then fields separated by ";"; rua required.
[[nodiscard]] expected<txt_record> parse_txt_record(std::string_view text);
/// RFC 8460 §3: of the TXT strings at `_smtp._tls.<domain>`, those not starting with
/// "v=TLSRPTv1" are ignored; unless exactly one remains and parses, there is no reporting.
[[nodiscard]] std::optional<txt_record> select_txt_record(const std::vector<std::string>& txts);

// ---- RFC 8460 §4.3: result types ----------------------------------------------------------

enum class result_type {
  starttls_not_supported,    ///< §4.3.1
  certificate_host_mismatch, ///< §4.3.1
  certificate_expired,       ///< §4.3.1
  certificate_not_trusted,   ///< §4.3.1
  validation_failure,        ///< §4.3.1
  tlsa_invalid,              ///< §4.3.2
  dnssec_invalid,            ///< §4.3.2
  dane_required,             ///< §4.3.2
  sts_policy_fetch_error,    ///< §4.3.3
  sts_policy_invalid,        ///< §4.3.3
  sts_webpki_invalid,        ///< §4.3.3
  other,                     ///< a name this version does not know (kept in result_name)
};
[[nodiscard]] std::string_view to_string(result_type r) noexcept;
/// The enum for a §4.3 name; `other` for any other string.
[[nodiscard]] result_type parse_result_type(std::string_view s) noexcept;

/// RFC 8460 §4.4 policy-type.
enum class policy_type { tlsa, sts, no_policy_found, other };
[[nodiscard]] std::string_view to_string(policy_type p) noexcept;
[[nodiscard]] policy_type parse_policy_type(std::string_view s) noexcept;

// ---- RFC 8460 §4.4: the report --------------------------------------------------------------

/// The policy applied to a domain's sessions.
struct policy_description {
  policy_type type = policy_type::no_policy_found;
  std::string type_name;                  ///< as received, when type == other
  std::vector<std::string> policy_string; ///< the policy, one string per line (or TLSA record)
  std::string domain;                     ///< policy-domain
  std::vector<std::string> mx_host;       ///< mx patterns (sts), optional
  friend auto operator<=>(const policy_description&, const policy_description&) = default;
};

/// One kind of failure and how often it happened.
struct failure_detail {
  result_type result = result_type::validation_failure;
  std::string result_name; ///< as received, when result == other
  std::string sending_mta_ip;
  std::string receiving_mx_hostname;
  std::string receiving_mx_helo;
  std::string receiving_ip;
  std::uint64_t failed_session_count = 0;
  std::string additional_information;
  std::string failure_reason_code;
};

struct policy_result {
  policy_description policy;
  std::uint64_t total_successful_session_count = 0;
  std::uint64_t total_failure_session_count = 0;
  std::vector<failure_detail> failure_details;
};

struct report {
  std::string organization_name;
  std::string start_datetime; ///< RFC 3339 date-time, as in the JSON
  std::string end_datetime;
  std::string contact_info;
  std::string report_id;
  std::vector<policy_result> policies;
};

/// Parse a report (RFC 8460 §4.4). Required: organization-name, date-range, contact-info,
/// report-id, policies; each policy needs policy.policy-type and summary. Absent counts are 0;
/// unknown fields are ignored; unknown policy and result types are kept by name.
[[nodiscard]] expected<report> parse_report(std::string_view json);
/// The JSON of a report (RFC 8460 §4.4 field names; optional fields omitted when empty).
[[nodiscard]] std::string to_json(const report& r);

// ---- RFC 8460 §5.1-5.3: bytes, names ------------------------------------------------------

/// gzip (RFC 1952) at the default level, as §5.1 asks ("application/tlsrpt+gzip").
[[nodiscard]] expected<std::string> gzip(std::string_view data);
/// Decompress gzip data, failing with too_large beyond `max_output` octets.
[[nodiscard]] expected<std::string> gunzip(std::string_view data,
                                           std::size_t max_output = 16 * 1024 * 1024);

/// RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" in UTC.
[[nodiscard]] std::string format_datetime(mailkit::clock::time_point t);

/// RFC 8460 §5.3 file name: sender "!" policy-domain "!" begin "!" end ["!" unique-id] "."
/// extension, with begin/end as seconds since the epoch; extension "json.gz" or "json".
[[nodiscard]] std::string report_filename(std::string_view submitter,
                                          std::string_view policy_domain,
                                          mailkit::clock::time_point begin,
                                          mailkit::clock::time_point end,
                                          std::string_view unique_id = {}, bool gzipped = true);

/// RFC 8460 §5.3 Subject: "Report Domain: <domain> Submitter: <submitter> Report-ID: <<id>>".
[[nodiscard]] std::string report_subject(std::string_view policy_domain, std::string_view submitter,
                                         std::string_view report_id);

/// RFC 8460 §4.1: reports cover one UTC day. The day before the one containing `now`:
/// [00:00:00, 23:59:59] (the end as the report's end-datetime shows it).
[[nodiscard]] std::pair<mailkit::clock::time_point, mailkit::clock::time_point>
report_period(mailkit::clock::time_point now);

/// The parts of an https: rua URI (RFC 8460 §3 "https:" URIs, RFC 9110 §4.2.2).
struct https_uri {
  std::string host;
  std::uint16_t port = 443;
  std::string target; ///< path and query, starting with "/"
};
/// Split "https://host[:port][/path]"; anything else (mailto:, http:, userinfo, a fragment,
/// an IPv6 literal) is errc::bad_uri.
[[nodiscard]] expected<https_uri> parse_https_uri(std::string_view uri);

/// POST one report to an https: rua (RFC 8460 §5.4): the JSON gzipped, Content-Type
/// "application/tlsrpt+gzip". Blocking (http::post): call from a worker thread.
/// `options.port` is replaced by the URI's port. 2xx: done; another status: errc::rejected
/// (transient, RFC 8460 §5.4 leaves retrying to the sender); transport failures: http::errc.
[[nodiscard]] expected<void> post_report(std::string_view rua, const report& r,
                                         http::client_options options = {});

/// The address of a "mailto:" rua URI (RFC 8460 §3, RFC 6068): the scheme is case-insensitive,
/// hfields after "?" are dropped, %XX escapes decoded. errc::bad_uri for anything else, or an
/// address with no "@" or with octets that cannot appear in an SMTP path (CR, LF, SP, "<", ">").
[[nodiscard]] expected<std::string> parse_mailto_uri(std::string_view uri);

/// What the report mail says about its sender (RFC 8460 §5.3).
struct mail_options {
  std::string from;      ///< the From address (a mailbox of the submitter)
  std::string to;        ///< the rua address (parse_mailto_uri())
  std::string submitter; ///< the reporting MTA's domain: TLS-Report-Submitter, file name
  std::string unique_id; ///< optional: appended to the file name (§5.1)
  mailkit::clock::time_point date;
};

/// The report as a message for the relay to sign and send (RFC 8460 §5.3): multipart/report;
/// report-type="tlsrpt" (RFC 6522) with a short text/plain part and the gzipped report as a
/// base64 application/tlsrpt+gzip attachment named by report_filename(); Subject by
/// report_subject(); TLS-Report-Domain and TLS-Report-Submitter fields. CRLF line endings. The
/// relay adds DKIM (§5.3 asks for it). errc::bad_report when a value that goes into a header
/// field contains CR, LF or NUL, or the report has no policy.
[[nodiscard]] expected<std::string> make_report_mail(const report& r, const mail_options& o);

// ---- aggregation ----------------------------------------------------------------------------

/// Counts sessions per policy domain as the relay makes them, and turns one domain's counts
/// into a report. Thread-safe. Failure details with the same result type, addresses, MX, HELO
/// and reason code are merged (their counts add up).
class aggregator {
public:
  /// One (or `count`) successful TLS session(s) under `policy`.
  void add_success(const policy_description& policy, std::uint64_t count = 1);
  /// One failed session under `policy`; detail.failed_session_count is ignored (counted as 1).
  void add_failure(const policy_description& policy, const failure_detail& detail);

  /// The policy domains with counts.
  [[nodiscard]] std::vector<std::string> domains() const;

  /// The report for `policy_domain` over [begin, end] (RFC 8460 §4.1: normally one UTC day), or
  /// std::nullopt when nothing was counted for it.
  [[nodiscard]] std::optional<report>
  make_report(std::string_view policy_domain, std::string_view organization_name,
              std::string_view contact_info, std::string_view report_id,
              mailkit::clock::time_point begin, mailkit::clock::time_point end) const;

  /// Forget the counts for `policy_domain` (after its report is sent).
  void clear(std::string_view policy_domain);

private:
  using failure_key =
      std::tuple<int, std::string, std::string, std::string, std::string, std::string, std::string>;
  struct counts {
    std::uint64_t success = 0;
    std::uint64_t failure = 0;
    std::map<failure_key, failure_detail> details;
  };
  mutable std::mutex mutex_;
  std::map<std::string, std::map<policy_description, counts>, std::less<>> by_domain_;
};

} // namespace mailkit::tlsrpt

template <>
struct boost::system::is_error_code_enum<mailkit::tlsrpt::errc> : std::true_type {};
