// SPDX-License-Identifier: Apache-2.0
// The daily TLS-RPT reports of direct delivery (tls_report.hpp, RFC 8460 §5).
#include <mailkit/relay/tls_report.hpp>

#include <mailkit/core/log.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <openssl/rand.h>

#include <chrono>

namespace mailkit::relay {

namespace {

// RFC 8460 §4.4 "report-id": unique per report; 128 random bits, as a UUID-like hex string.
std::string new_report_id() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1)
    for (auto& c : b)
      c = 0;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < sizeof b; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 15];
  }
  return out;
}

long long utc_day(mailkit::clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() / 86400;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

tls_report_delivery send_one(transport& t, const tls_report_options& o, const tlsrpt::report& rep,
                             const std::string& domain, const std::string& rua,
                             mailkit::clock::time_point now) {
  tls_report_delivery d;
  d.policy_domain = domain;
  d.rua = rua;
  d.report_id = rep.report_id;
  if (starts_with_ci(rua, "https:")) {
    // RFC 8460 §5.4: POST the gzipped report, application/tlsrpt+gzip.
    auto posted = tlsrpt::post_report(rua, rep, o.https);
    d.sent = posted.has_value();
    if (!posted) d.detail = "POST to " + rua + " failed: " + posted.error().message();
    return d;
  }
  auto address = tlsrpt::parse_mailto_uri(rua);
  if (!address) {
    d.detail = "unusable rua URI: " + address.error().message();
    return d;
  }
  // RFC 8460 §5.3: the report as a multipart/report message with the gzipped JSON attached.
  tlsrpt::mail_options mo;
  mo.from = o.from;
  mo.to = *address;
  mo.submitter = o.submitter;
  mo.date = now;
  auto mail = tlsrpt::make_report_mail(rep, mo);
  if (!mail) {
    d.detail = "cannot build the report mail: " + mail.error().message();
    return d;
  }
  outbound_message m;
  m.queue_id = "tlsrpt-" + rep.report_id;
  m.reverse_path = o.reverse_path.empty() ? o.from : o.reverse_path;
  m.recipients = {{*address, "", ""}};
  m.prio = priority::bulk;
  m.data = *mail;
  if (o.submit) {
    auto s = o.submit(m);
    d.sent = s.has_value();
    if (!s) d.detail = "cannot queue the report mail: " + s.error().message();
    return d;
  }
  // RFC 8460 §5.3: the transport DKIM-signs it with our key for the From domain.
  const auto outcome = t.deliver(m);
  d.sent = !outcome.empty() && outcome.front().status == outcome_status::delivered;
  if (!d.sent && !outcome.empty())
    d.detail = "the report mail to " + *address +
               " was not delivered: " + std::to_string(outcome.front().reply.code) + " " +
               outcome.front().reply.text();
  return d;
}

} // namespace

std::vector<tls_report_delivery> send_tls_reports(transport& t, dns::resolver& r,
                                                  const tls_report_options& o,
                                                  mailkit::clock::time_point now) {
  std::vector<tls_report_delivery> out;
  tlsrpt::aggregator& agg = t.tls_reports();
  // RFC 8460 §4.1: the report covers the UTC day before the one containing `now`.
  const auto [begin, end] = tlsrpt::report_period(now);
  for (const std::string& domain : agg.domains()) {
    // RFC 8460 §3: the policy is at "_smtp._tls.<domain>"; exactly one valid v=TLSRPTv1.
    const auto ans = dns::query(r, "_smtp._tls." + domain, dns::rtype::txt);
    std::optional<tlsrpt::txt_record> rec;
    if (ans) rec = tlsrpt::select_txt_record(ans->txt_joined());
    if (!rec) {
      agg.clear(domain);
      continue;
    }
    const auto rep =
        agg.make_report(domain, o.organization_name, o.contact_info, new_report_id(), begin, end);
    agg.clear(domain);
    if (!rep) continue;
    for (const std::string& rua : rec->rua) {
      tls_report_delivery d = send_one(t, o, *rep, domain, rua, now);
      log(d.sent ? log_level::info : log_level::warning, "relay",
          "TLS-RPT report " + d.report_id + " for " + domain + " to " + rua +
              (d.sent ? std::string(": sent") : ": " + d.detail));
      out.push_back(std::move(d));
    }
  }
  return out;
}

tls_report_scheduler::tls_report_scheduler(transport& t, dns::resolver& r, tls_report_options o)
    : transport_(t), resolver_(r), options_(std::move(o)) {}

bool tls_report_scheduler::due(mailkit::clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return last_day_ >= 0 && utc_day(now) > last_day_;
}

std::vector<tls_report_delivery> tls_report_scheduler::tick(mailkit::clock::time_point now) {
  {
    std::lock_guard lock(mutex_);
    const long long today = utc_day(now);
    if (last_day_ < 0 || today <= last_day_) {
      if (last_day_ < 0) last_day_ = today;
      return {};
    }
    last_day_ = today;
  }
  return send_tls_reports(transport_, resolver_, options_, now);
}

} // namespace mailkit::relay
