// SPDX-License-Identifier: Apache-2.0
// mtasts::requirements() and mtasts::enforce(): what the relay asks of one MX connection and
// what it decides and records for TLS-RPT afterwards, as a table over policy mode, DANE state and
// TLS outcome; then the TLS-RPT entries through an aggregator into a report.
#include <mailkit/http/http.hpp>
#include <mailkit/mtasts/enforce.hpp>

#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>

namespace m = mailkit::mtasts;
namespace rpt = mailkit::tlsrpt;
using namespace std::chrono_literals;

namespace {

m::resolution with_policy(std::string_view text) {
  m::resolution r;
  auto p = m::parse_policy(text);
  EXPECT_TRUE(p);
  m::cached_policy c;
  c.domain = "example.com";
  c.id = "1";
  c.value = *p;
  r.active = c;
  return r;
}

const char* enforce_text = "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n";
const char* testing_text = "version: STSv1\nmode: testing\nmx: *.example.com\nmax_age: 86400\n";
const char* none_text = "version: STSv1\nmode: none\nmax_age: 86400\n";

m::tlsa_lookup dane(m::dane_state s) {
  m::tlsa_lookup l;
  l.state = s;
  if (s == m::dane_state::usable) l.records.push_back({3, 1, 1, std::string(32, '\x01')});
  return l;
}

struct row {
  const char* name;
  const char* policy; // nullptr: no policy
  const char* mx;
  m::dane_state dane_state;
  m::tls_outcome outcome;
  m::verdict action;
  m::failure reason;
  rpt::policy_type reported_as;
  std::optional<rpt::result_type> failure; // std::nullopt: a success (or nothing) to count
};

const m::tls_outcome plaintext{false, false, false};
const m::tls_outcome unvalidated{true, false, false};
const m::tls_outcome pkix{true, true, false};
const m::tls_outcome dane_ok{true, false, true};

const row rows[] = {
    {"enforce, valid TLS", enforce_text, "mx1.example.com", m::dane_state::none, pkix,
     m::verdict::deliver, m::failure::none, rpt::policy_type::sts, std::nullopt},
    {"enforce, STARTTLS stripped", enforce_text, "mx1.example.com", m::dane_state::none, plaintext,
     m::verdict::refuse, m::failure::starttls_not_supported, rpt::policy_type::sts,
     rpt::result_type::starttls_not_supported},
    {"enforce, bad certificate", enforce_text, "mx1.example.com", m::dane_state::none, unvalidated,
     m::verdict::refuse, m::failure::certificate_invalid, rpt::policy_type::sts,
     rpt::result_type::validation_failure},
    {"enforce, MX outside the policy", enforce_text, "mx.evil.test", m::dane_state::none, pkix,
     m::verdict::refuse, m::failure::mx_not_in_policy, rpt::policy_type::sts,
     rpt::result_type::validation_failure},
    {"testing, STARTTLS stripped", testing_text, "mx1.example.com", m::dane_state::none, plaintext,
     m::verdict::deliver_and_report, m::failure::starttls_not_supported, rpt::policy_type::sts,
     rpt::result_type::starttls_not_supported},
    {"none: deliver, nothing enforced", none_text, "mx1.example.com", m::dane_state::none,
     unvalidated, m::verdict::deliver, m::failure::none, rpt::policy_type::no_policy_found,
     std::nullopt},
    {"no policy", nullptr, "mx1.example.com", m::dane_state::none, unvalidated, m::verdict::deliver,
     m::failure::none, rpt::policy_type::no_policy_found, std::nullopt},
    {"DANE matches, MTA-STS would refuse the MX", enforce_text, "mx.evil.test",
     m::dane_state::usable, dane_ok, m::verdict::deliver, m::failure::none, rpt::policy_type::tlsa,
     std::nullopt},
    {"DANE mismatch is not overridden by a valid PKIX chain", enforce_text, "mx1.example.com",
     m::dane_state::usable, pkix, m::verdict::refuse, m::failure::dane_mismatch,
     rpt::policy_type::tlsa, rpt::result_type::tlsa_invalid},
    {"unusable TLSA: TLS required", nullptr, "mx1.example.com", m::dane_state::unusable, plaintext,
     m::verdict::refuse, m::failure::starttls_not_supported, rpt::policy_type::tlsa,
     rpt::result_type::starttls_not_supported},
};

} // namespace

TEST(mtasts_enforce, decision_and_tlsrpt_entry_table) {
  int ran = 0;
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const m::resolution sts = r.policy ? with_policy(r.policy) : m::resolution{};
    const auto e = m::enforce("example.com", sts, r.mx, dane(r.dane_state), r.outcome);
    EXPECT_EQ(e.decision.action, r.action);
    EXPECT_EQ(e.decision.reason, r.reason);
    EXPECT_EQ(e.policy.type, r.reported_as);
    EXPECT_EQ(e.policy.domain, "example.com");
    EXPECT_EQ(e.failure.has_value(), r.failure.has_value());
    if (e.failure && r.failure) {
      EXPECT_EQ(e.failure->result, *r.failure);
      EXPECT_EQ(e.failure->receiving_mx_hostname, r.mx);
    }
    // A relay that follows requirements() never reaches a refused transaction over a
    // connection it made: under enforce the TLS step itself would have failed (or the MX been
    // skipped); for DANE the handshake fails on a mismatch.
    const auto req = m::requirements(sts.active ? &sts.active->value : nullptr, r.mx, r.dane_state);
    if (r.action == m::verdict::refuse) {
      EXPECT_TRUE(req.skip || req.require_tls) << "refusal without a requirement";
    }
    ++ran;
  }
  EXPECT_EQ(ran, static_cast<int>(std::size(rows)));
}

TEST(mtasts_enforce, policy_string_and_mx_host_for_tlsrpt) {
  const auto e = m::enforce("example.com", with_policy(enforce_text), "mx1.example.com",
                            dane(m::dane_state::none), pkix);
  EXPECT_EQ(e.policy.policy_string,
            (std::vector<std::string>{"version: STSv1", "mode: enforce", "mx: *.example.com",
                                      "max_age: 86400"}));
  EXPECT_EQ(e.policy.mx_host, std::vector<std::string>{"*.example.com"});
  const auto d =
      m::enforce("example.com", {}, "mx1.example.com", dane(m::dane_state::usable), dane_ok);
  ASSERT_EQ(d.policy.policy_string.size(), 1u);
  std::string hex;
  for (int i = 0; i < 32; ++i)
    hex += "01";
  EXPECT_EQ(d.policy.policy_string.front(), "3 1 1 " + hex);
}

TEST(mtasts_enforce, fetch_errors_are_reported_as_sts_failures) {
  struct {
    mailkit::error_code ec;
    rpt::result_type want;
  } cases[] = {
      {mailkit::http::errc::certificate_invalid, rpt::result_type::sts_webpki_invalid},
      {m::errc::bad_policy, rpt::result_type::sts_policy_invalid},
      {m::errc::bad_content_type, rpt::result_type::sts_policy_invalid},
      {m::errc::http_status, rpt::result_type::sts_policy_fetch_error},
      {mailkit::http::errc::timed_out, rpt::result_type::sts_policy_fetch_error},
  };
  for (const auto& c : cases) {
    m::resolution r;
    r.error = c.ec;
    const auto e =
        m::enforce("example.com", r, "mx1.example.com", dane(m::dane_state::none), unvalidated);
    // RFC 8461 §3.3: without a policy, deliver as before; RFC 8460 §4.3 (MTA-STS policy failures):
    // report the failure.
    EXPECT_EQ(e.decision.action, m::verdict::deliver);
    EXPECT_EQ(e.policy.type, rpt::policy_type::sts);
    ASSERT_TRUE(e.failure) << c.ec.message();
    EXPECT_EQ(e.failure->result, c.want) << c.ec.message();
  }
}

TEST(mtasts_enforce, record_counts_sessions_into_a_report) {
  rpt::aggregator agg;
  const auto sts = with_policy(enforce_text);
  for (int i = 0; i < 3; ++i)
    m::record(agg,
              m::enforce("example.com", sts, "mx1.example.com", dane(m::dane_state::none), pkix));
  m::session_info info;
  info.sending_mta_ip = "192.0.2.1";
  info.receiving_ip = "198.51.100.7";
  for (int i = 0; i < 2; ++i)
    m::record(agg, m::enforce("example.com", sts, "mx1.example.com", dane(m::dane_state::none),
                              plaintext, info));
  // Plaintext delivery nobody asked to protect is not a TLS session: nothing to count.
  const auto plain =
      m::enforce("other.example", {}, "mx.other.example", dane(m::dane_state::none), plaintext);
  EXPECT_TRUE(plain.nothing_to_report);
  m::record(agg, plain);
  EXPECT_EQ(agg.domains(), std::vector<std::string>{"example.com"});

  const auto [begin, end] = rpt::report_period(mailkit::clock::time_point(1700050000s));
  const auto rep = agg.make_report("example.com", "sender.example", "mailto:tlsrpt@sender.example",
                                   "id-1", begin, end);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->start_datetime, "2023-11-14T00:00:00Z");
  EXPECT_EQ(rep->end_datetime, "2023-11-14T23:59:59Z");
  ASSERT_EQ(rep->policies.size(), 1u);
  EXPECT_EQ(rep->policies[0].total_successful_session_count, 3u);
  EXPECT_EQ(rep->policies[0].total_failure_session_count, 2u);
  ASSERT_EQ(rep->policies[0].failure_details.size(), 1u);
  const auto& d = rep->policies[0].failure_details[0];
  EXPECT_EQ(d.failed_session_count, 2u);
  EXPECT_EQ(d.sending_mta_ip, "192.0.2.1");
  EXPECT_EQ(d.receiving_ip, "198.51.100.7");
  // The JSON round-trips through the parser operators use for received reports.
  const auto back = rpt::parse_report(rpt::to_json(*rep));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->policies[0].total_failure_session_count, 2u);
}

TEST(mtasts_enforce, certificate_problem_from_the_verify_result) {
  // RFC 8460 §4.3.1 / §4.3.2 result types from OpenSSL's X509_V_ERR_* values.
  EXPECT_EQ(m::certificate_problem_of(X509_V_ERR_HOSTNAME_MISMATCH),
            rpt::result_type::certificate_host_mismatch);
  EXPECT_EQ(m::certificate_problem_of(X509_V_ERR_CERT_HAS_EXPIRED),
            rpt::result_type::certificate_expired);
  EXPECT_EQ(m::certificate_problem_of(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
            rpt::result_type::certificate_not_trusted);
  EXPECT_EQ(m::certificate_problem_of(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
            rpt::result_type::certificate_not_trusted);
  EXPECT_EQ(m::certificate_problem_of(X509_V_ERR_DANE_NO_MATCH), rpt::result_type::tlsa_invalid);
  EXPECT_EQ(m::certificate_problem_of(X509_V_ERR_CERT_SIGNATURE_FAILURE),
            rpt::result_type::validation_failure);
  EXPECT_EQ(m::verify_reason(X509_V_OK), "");
  EXPECT_EQ(m::verify_reason(-1), "");
  EXPECT_EQ(m::verify_reason(X509_V_ERR_CERT_HAS_EXPIRED), "certificate has expired");
}
