// SPDX-License-Identifier: Apache-2.0
// TLS-RPT reports as mail (RFC 8460 §5.3, RFC 6522 multipart/report).
#include <mailkit/core/base64.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <cctype>
#include <cstdint>
#include <ctime>

namespace mailkit::tlsrpt {

namespace {

bool header_safe(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 5322 §3.3 date-time in UTC.
std::string rfc5322_date(mailkit::clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// FNV-1a, for a boundary and Message-ID that differ per report without a random source.
std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

} // namespace

expected<std::string> parse_mailto_uri(std::string_view uri) {
  constexpr std::string_view scheme = "mailto:";
  if (uri.size() <= scheme.size()) return fail(errc::bad_uri);
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(uri[i]))) != scheme[i])
      return fail(errc::bad_uri);
  uri.remove_prefix(scheme.size());
  uri = uri.substr(0, uri.find('?')); // RFC 6068 §2: hfields are not ours to apply
  std::string out;
  for (std::size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%') {
      if (i + 2 >= uri.size()) return fail(errc::bad_uri);
      const int hi = hex_value(uri[i + 1]);
      const int lo = hex_value(uri[i + 2]);
      if (hi < 0 || lo < 0) return fail(errc::bad_uri);
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += uri[i];
    }
  }
  // RFC 5321 §4.1.2: what a Path cannot carry.
  const auto at = out.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == out.size() ||
      out.find_first_of(std::string_view("\r\n <>\0", 6)) != std::string::npos || out.size() > 254)
    return fail(errc::bad_uri);
  return out;
}

expected<std::string> make_report_mail(const report& r, const mail_options& o) {
  if (r.policies.empty()) return fail(errc::bad_report);
  const std::string& domain = r.policies.front().policy.domain;
  for (const std::string_view v :
       {std::string_view(o.from), std::string_view(o.to), std::string_view(o.submitter),
        std::string_view(o.unique_id), std::string_view(domain), std::string_view(r.report_id)})
    if (!header_safe(v)) return fail(errc::bad_report);
  if (o.from.empty() || o.to.empty() || o.submitter.empty() || domain.empty())
    return fail(errc::bad_report);

  auto body = gzip(to_json(r));
  if (!body) return unexpected(body.error());
  const std::uint64_t h = fnv1a(r.report_id + '\n' + domain + '\n' + o.submitter);
  const std::string tag = std::to_string(h);
  const std::string boundary = "=_mailkit_tlsrpt_" + tag;

  // RFC 8460 §5.1: the file name carries the report's own date range.
  const auto parse_time = [](const std::string& s) {
    std::tm tm{};
    if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr)
      return mailkit::clock::time_point{};
    return std::chrono::system_clock::from_time_t(timegm(&tm));
  };
  const std::string filename = report_filename(o.submitter, domain, parse_time(r.start_datetime),
                                               parse_time(r.end_datetime), o.unique_id, true);

  std::string m;
  m += "From: " + o.from + "\r\n";
  m += "To: " + o.to + "\r\n";
  m += "Date: " + rfc5322_date(o.date) + "\r\n";
  // RFC 8460 §5.3: Subject, folded before "Submitter:" and "Report-ID:" (RFC 5322 §2.2.3).
  std::string subject = report_subject(domain, o.submitter, r.report_id);
  for (const std::string_view key : {" Submitter: ", " Report-ID: "})
    if (const auto pos = subject.find(key); pos != std::string::npos) subject.insert(pos, "\r\n");
  m += "Subject: " + subject + "\r\n";
  m += "Message-ID: <tlsrpt." + tag + "@" + o.submitter + ">\r\n";
  m += "TLS-Report-Domain: " + domain + "\r\n";
  m += "TLS-Report-Submitter: " + o.submitter + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  // RFC 6522 §3: multipart/report with report-type; RFC 8460 §5.3: report-type "tlsrpt".
  m += "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n\tboundary=\"" + boundary +
       "\"\r\n\r\n";
  m += "This is a multipart message in MIME format.\r\n\r\n";
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n";
  m += "This is an aggregate TLS report from " + o.submitter + " for " + domain + ".\r\n\r\n";
  m += "--" + boundary + "\r\n";
  m += "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n";
  m += "Content-Disposition: attachment;\r\n\tfilename=\"" + filename + "\"\r\n\r\n";
  m += base64::encode_lines(*body);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

} // namespace mailkit::tlsrpt
