// SPDX-License-Identifier: Apache-2.0
// TLS-RPT delivery helpers: the https: and mailto: rua URIs (RFC 8460 §3), the report period
// (§4.1) and the report mail (§5.3). The POST itself runs against a real HTTPS server, and the
// mail reaches a real SMTP sink, in tests/interop/mtasts (mtasts_enforce_interop).
#include <mailkit/core/base64.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <gtest/gtest.h>

namespace rpt = mailkit::tlsrpt;
using namespace std::chrono_literals;

TEST(tlsrpt_delivery, https_uri_parsing) {
  auto u = rpt::parse_https_uri("https://reports.example.net:8443/v1/tlsrpt?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "reports.example.net");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/v1/tlsrpt?x=1");
  u = rpt::parse_https_uri("HTTPS://r.example");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  for (const char* bad :
       {"mailto:tlsrpt@example.net", "http://r.example/", "https://", "https://u@r.example/",
        "https://r.example:0/", "https://r.example:70000/", "https://r.example/a#frag",
        "https://[2001:db8::1]/", "https://r.example/a b", "https://:443/",
        // Fuzz regression (tests/fuzz/corpus/tlsrpt_report_fuzz/regression-https-uri-fragment):
        // a fragment first once hid later spaces from the octet check.
        "https://#x?a b",
        "https://r.ex\xff"
        "ample/",
        "https://r_x.example/"}) {
    EXPECT_FALSE(rpt::parse_https_uri(bad)) << bad;
  }
}

TEST(tlsrpt_delivery, report_period_is_the_previous_utc_day) {
  // 2023-11-15T12:06:40Z -> 2023-11-14, whole day.
  auto [begin, end] = rpt::report_period(mailkit::clock::time_point(1700050000s));
  EXPECT_EQ(rpt::format_datetime(begin), "2023-11-14T00:00:00Z");
  EXPECT_EQ(rpt::format_datetime(end), "2023-11-14T23:59:59Z");
  // Exactly midnight: the day that just ended.
  std::tie(begin, end) = rpt::report_period(mailkit::clock::time_point(1700006400s));
  EXPECT_EQ(rpt::format_datetime(begin), "2023-11-14T00:00:00Z");
  EXPECT_EQ(rpt::format_datetime(end), "2023-11-14T23:59:59Z");
}

TEST(tlsrpt_delivery, mailto_uri_parsing) {
  auto a = rpt::parse_mailto_uri("mailto:tlsrpt@example.net");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, "tlsrpt@example.net");
  a = rpt::parse_mailto_uri("MAILTO:tls%2Brpt@example.net?subject=x");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, "tls+rpt@example.net");
  for (const char* bad :
       {"https://r.example/", "mailto:", "mailto:nobody", "mailto:@example.net", "mailto:a@",
        "mailto:a%0d%0aRCPT%20TO:x@example.net", "mailto:a%2", "mailto:<a@example.net>"}) {
    EXPECT_FALSE(rpt::parse_mailto_uri(bad)) << bad;
  }
}

TEST(tlsrpt_delivery, report_mail_round_trip) {
  rpt::aggregator agg;
  rpt::policy_description p;
  p.type = rpt::policy_type::sts;
  p.domain = "example.net";
  p.policy_string = {"version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 86400"};
  p.mx_host = {"mx.example.net"};
  agg.add_success(p, 7);
  rpt::failure_detail d;
  d.result = rpt::result_type::starttls_not_supported;
  d.receiving_mx_hostname = "mx.example.net";
  agg.add_failure(p, d);
  const auto [begin, end] = rpt::report_period(mailkit::clock::time_point(1700050000s));
  const auto report = agg.make_report("example.net", "sender.example", "mailto:x@sender.example",
                                      "r-42", begin, end);
  ASSERT_TRUE(report);
  rpt::mail_options o;
  o.from = "tlsrpt@sender.example";
  o.to = *rpt::parse_mailto_uri("mailto:tlsrpt@example.net");
  o.submitter = "sender.example";
  o.date = mailkit::clock::time_point(1700050000s);
  const auto mail = rpt::make_report_mail(*report, o);
  ASSERT_TRUE(mail) << mail.error().message();
  // RFC 8460 §5.3 header fields and media types.
  for (const char* want :
       {"TLS-Report-Domain: example.net\r\n", "TLS-Report-Submitter: sender.example\r\n",
        "Subject: Report Domain: example.net\r\n Submitter: sender.example\r\n Report-ID: <r-42>",
        "Content-Type: multipart/report; report-type=\"tlsrpt\";",
        "Content-Type: application/tlsrpt+gzip\r\n", "Date: Wed, 15 Nov 2023 12:06:40 +0000\r\n",
        "filename=\"sender.example!example.net!1699920000!1700006399.json.gz\""}) {
    EXPECT_NE(mail->find(want), std::string::npos) << want << "\n" << *mail;
  }
  EXPECT_EQ(mail->find("\n", 0) - 1, mail->find("\r\n", 0)); // CRLF line endings
  // The attachment decodes back to the report.
  const auto start = mail->find("\r\n\r\n", mail->find("application/tlsrpt+gzip")) + 4;
  const auto stop = mail->find("\r\n--", start);
  auto gz = mailkit::base64::decode(mail->substr(start, stop - start),
                                    mailkit::base64::mode::ignore_whitespace);
  ASSERT_TRUE(gz);
  auto json = rpt::gunzip(*gz);
  ASSERT_TRUE(json);
  auto back = rpt::parse_report(*json);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->report_id, "r-42");
  ASSERT_EQ(back->policies.size(), 1u);
  EXPECT_EQ(back->policies[0].total_successful_session_count, 7u);
  EXPECT_EQ(back->policies[0].total_failure_session_count, 1u);
  // Header injection through any field is refused.
  auto evil = o;
  evil.to = "x@example.net\r\nBcc: y@example.net";
  EXPECT_EQ(rpt::make_report_mail(*report, evil).error(), rpt::errc::bad_report);
  auto evil_report = *report;
  evil_report.report_id = "id\r\nX-Evil: 1";
  EXPECT_EQ(rpt::make_report_mail(evil_report, o).error(), rpt::errc::bad_report);
}
