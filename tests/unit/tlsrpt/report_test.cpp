// SPDX-License-Identifier: Apache-2.0
// RFC 8460: TXT records (§3), reports (§4) against the mail-auth vectors, gzip (§5.1), names
// (§5.3) and aggregation.
#include <mailkit/core/base64.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace t = mailkit::tlsrpt;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& name) {
  std::ifstream in(std::string(MAILKIT_TEST_DATA) + "/tlsrpt/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The report part of a multipart/report message: the body after the part's header block,
// base64-decoded and gunzipped when the part says so.
std::string report_part(const std::string& eml) {
  const auto ct = eml.find("Content-Type: application/tlsrpt");
  if (ct == std::string::npos) throw std::runtime_error("no report part");
  auto body = eml.find("\n\n", ct);
  if (body == std::string::npos) throw std::runtime_error("no part body");
  const std::string headers = eml.substr(ct, body - ct);
  body += 2;
  const auto end = eml.find("\n--", body);
  std::string content = eml.substr(body, end - body);
  if (headers.find("base64") == std::string::npos) return content;
  auto raw = mailkit::base64::decode(content, mailkit::base64::mode::ignore_whitespace);
  if (!raw) throw std::runtime_error("bad base64");
  if (headers.find("gzip") == std::string::npos) return *raw;
  auto json = t::gunzip(*raw);
  if (!json) throw std::runtime_error("bad gzip");
  return *json;
}

void expect_same(const t::report& a, const t::report& b) {
  EXPECT_EQ(a.organization_name, b.organization_name);
  EXPECT_EQ(a.start_datetime, b.start_datetime);
  EXPECT_EQ(a.end_datetime, b.end_datetime);
  EXPECT_EQ(a.contact_info, b.contact_info);
  EXPECT_EQ(a.report_id, b.report_id);
  ASSERT_EQ(a.policies.size(), b.policies.size());
  for (std::size_t i = 0; i < a.policies.size(); ++i) {
    const auto& p = a.policies[i];
    const auto& q = b.policies[i];
    EXPECT_EQ(p.policy, q.policy);
    EXPECT_EQ(p.total_successful_session_count, q.total_successful_session_count);
    EXPECT_EQ(p.total_failure_session_count, q.total_failure_session_count);
    ASSERT_EQ(p.failure_details.size(), q.failure_details.size());
    for (std::size_t j = 0; j < p.failure_details.size(); ++j) {
      const auto& x = p.failure_details[j];
      const auto& y = q.failure_details[j];
      EXPECT_EQ(x.result, y.result);
      EXPECT_EQ(x.result_name, y.result_name);
      EXPECT_EQ(x.sending_mta_ip, y.sending_mta_ip);
      EXPECT_EQ(x.receiving_mx_hostname, y.receiving_mx_hostname);
      EXPECT_EQ(x.receiving_ip, y.receiving_ip);
      EXPECT_EQ(x.failed_session_count, y.failed_session_count);
      EXPECT_EQ(x.additional_information, y.additional_information);
      EXPECT_EQ(x.failure_reason_code, y.failure_reason_code);
    }
  }
}

} // namespace

TEST(tlsrpt_txt, parses_and_rejects) {
  auto r = t::parse_txt_record("v=TLSRPTv1; rua=mailto:reports@example.com");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rua.size(), 1u);
  EXPECT_EQ(r->rua[0], "mailto:reports@example.com");
  r = t::parse_txt_record("v=TLSRPTv1;rua=mailto:a@b.example , https://reporting.example.com/v1/;");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rua.size(), 2u);
  EXPECT_EQ(r->rua[1], "https://reporting.example.com/v1/");
  for (const char* bad : {"v=TLSRPTv1;", "v=TLSRPTv2; rua=mailto:a@b", "rua=mailto:a@b; v=TLSRPTv1",
                          "v=TLSRPTv1; rua=http://insecure.example/",
                          "v=TLSRPTv1; rua=", "v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d",
                          "v=TLSRPTv1 rua=mailto:a@b", "v=TLSRPTv1; rua=mailto:a b@c"})
    EXPECT_FALSE(t::parse_txt_record(bad)) << bad;
  EXPECT_TRUE(t::select_txt_record({"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@b"}));
  EXPECT_FALSE(t::select_txt_record({"v=TLSRPTv1; rua=mailto:a@b", "v=TLSRPTv1; rua=mailto:c@d"}));
}

TEST(tlsrpt_report, vectors_from_mail_auth) {
  int cases = 0;
  for (const char* name : {"rpt01", "rpt02"}) {
    SCOPED_TRACE(name);
    auto from_json = t::parse_report(slurp(std::string(name) + ".json"));
    ASSERT_TRUE(from_json);
    auto from_mail = t::parse_report(report_part(slurp(std::string(name) + ".eml")));
    ASSERT_TRUE(from_mail);
    expect_same(*from_json, *from_mail);
    // And the round trip through our own JSON.
    auto again = t::parse_report(t::to_json(*from_json));
    ASSERT_TRUE(again);
    expect_same(*from_json, *again);
    ++cases;
  }
  auto r1 = t::parse_report(slurp("rpt01.json"));
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->policies.size(), 1u);
  EXPECT_EQ(r1->policies[0].policy.type, t::policy_type::sts);
  EXPECT_EQ(r1->policies[0].total_failure_session_count, 303u);
  ASSERT_EQ(r1->policies[0].failure_details.size(), 3u);
  EXPECT_EQ(r1->policies[0].failure_details[1].result, t::result_type::starttls_not_supported);
  EXPECT_EQ(r1->policies[0].failure_details[2].failure_reason_code,
            "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");

  auto r3 = t::parse_report(slurp("rpt03.json"));
  ASSERT_TRUE(r3);
  ASSERT_EQ(r3->policies.size(), 2u);
  EXPECT_EQ(r3->policies[0].policy.type, t::policy_type::no_policy_found);
  EXPECT_EQ(r3->policies[1].policy.type, t::policy_type::other);
  EXPECT_EQ(r3->policies[1].policy.type_name, "invalid-policy-type");
  auto r3b = t::parse_report(t::to_json(*r3));
  ASSERT_TRUE(r3b);
  expect_same(*r3, *r3b);
  ++cases;
  EXPECT_EQ(cases, 3);
}

TEST(tlsrpt_report, rejects_broken_reports) {
  for (const char* bad : {"", "[]", "{", "{\"organization-name\":\"x\"}",
                          "{\"organization-name\":\"x\",\"date-range\":{},\"report-id\":\"r\","
                          "\"policies\":[]}",
                          "{\"organization-name\":\"x\",\"date-range\":{\"start-datetime\":\"a\","
                          "\"end-datetime\":\"b\"},\"report-id\":\"r\",\"policies\":[{}]}"})
    EXPECT_FALSE(t::parse_report(bad)) << bad;
  std::string deep(100, '[');
  EXPECT_FALSE(t::parse_report(deep));
}

TEST(tlsrpt_gzip, round_trip_and_limits) {
  const std::string text(100000, 'a');
  auto z = t::gzip(text);
  ASSERT_TRUE(z);
  EXPECT_LT(z->size(), 1000u);
  EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f); // RFC 1952 §2.3.1 ID1 ID2
  EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
  auto back = t::gunzip(*z);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, text);
  EXPECT_EQ(t::gunzip(*z, 1000).error(), t::errc::too_large);
  EXPECT_FALSE(t::gunzip(z->substr(0, z->size() / 2)));
  EXPECT_FALSE(t::gunzip("not gzip"));
}

TEST(tlsrpt_names, filename_and_subject) {
  const auto begin = mailkit::clock::time_point(1013662812s);
  const auto end = mailkit::clock::time_point(1013749130s);
  EXPECT_EQ(t::report_filename("mail.sender.example", "example.com", begin, end),
            "mail.sender.example!example.com!1013662812!1013749130.json.gz");
  EXPECT_EQ(t::report_filename("s", "d", begin, end, "id1", false),
            "s!d!1013662812!1013749130!id1.json");
  EXPECT_EQ(t::report_subject("example.net", "mail.sender.example.com", "735ff.e317@x"),
            "Report Domain: example.net Submitter: mail.sender.example.com "
            "Report-ID: <735ff.e317@x>");
  EXPECT_EQ(t::format_datetime(mailkit::clock::time_point(1459468800s)), "2016-04-01T00:00:00Z");
}

TEST(tlsrpt_aggregator, daily_report_per_policy_domain) {
  t::aggregator agg;
  t::policy_description sts;
  sts.type = t::policy_type::sts;
  sts.domain = "company-y.example";
  sts.policy_string = {"version: STSv1", "mode: testing", "mx: *.mail.company-y.example",
                       "max_age: 86400"};
  sts.mx_host = {"*.mail.company-y.example"};
  t::policy_description none;
  none.type = t::policy_type::no_policy_found;
  none.domain = "other.example";

  agg.add_success(sts, 5326);
  t::failure_detail f;
  f.result = t::result_type::certificate_expired;
  f.sending_mta_ip = "2001:db8:abcd:0012::1";
  f.receiving_mx_hostname = "mx1.mail.company-y.example";
  for (int i = 0; i < 100; ++i)
    agg.add_failure(sts, f);
  f.result = t::result_type::starttls_not_supported;
  f.receiving_ip = "203.0.113.56";
  for (int i = 0; i < 200; ++i)
    agg.add_failure(sts, f);
  agg.add_success(none);

  EXPECT_EQ(agg.domains(), (std::vector<std::string>{"company-y.example", "other.example"}));
  const auto day = mailkit::clock::time_point(1459468800s);
  auto r = agg.make_report("company-y.example", "Company-X", "sts-reporting@company-x.example",
                           "5065427c", day, day + 24h - 1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start_datetime, "2016-04-01T00:00:00Z");
  EXPECT_EQ(r->end_datetime, "2016-04-01T23:59:59Z");
  ASSERT_EQ(r->policies.size(), 1u);
  EXPECT_EQ(r->policies[0].total_successful_session_count, 5326u);
  EXPECT_EQ(r->policies[0].total_failure_session_count, 300u);
  ASSERT_EQ(r->policies[0].failure_details.size(), 2u);
  std::uint64_t sum = 0;
  for (const auto& d : r->policies[0].failure_details)
    sum += d.failed_session_count;
  EXPECT_EQ(sum, 300u);

  // The bytes that go out: gzipped JSON that parses back to the same report.
  auto gz = t::gzip(t::to_json(*r));
  ASSERT_TRUE(gz);
  auto back = t::parse_report(*t::gunzip(*gz));
  ASSERT_TRUE(back);
  expect_same(*r, *back);

  agg.clear("company-y.example");
  EXPECT_FALSE(agg.make_report("company-y.example", "o", "c", "i", day, day));
  EXPECT_TRUE(agg.make_report("other.example", "o", "c", "i", day, day));
}
