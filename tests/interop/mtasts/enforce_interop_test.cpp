// SPDX-License-Identifier: Apache-2.0
// MTA-STS enforcement against a man in the middle, with real peers on loopback:
//  - aiosmtpd sinks stand in for the MX as an attacker would present it: one that does not
//    offer STARTTLS (stripped), one that offers it with a certificate the sender cannot validate
//    (intercepted), and the genuine MX with a certificate for its name;
//  - mailkit's SMTP client (smtp::deliver) is driven the way the relay's direct delivery is:
//    mtasts::requirements() before connecting, mtasts::enforce() after the TLS step,
//    mtasts::record() into a TLS-RPT aggregator;
//  - the sinks' logs (aiosmtpd -d, the Debugging handler) prove what reached them: under enforce,
//    no envelope and no content; under testing, the message (the positive control);
//  - the day's TLS-RPT report is POSTed gzipped to a local http::server (RFC 8460 §5.4), and
//    what the server received parses back to the counts recorded; the same report as mail
//    (§5.3) reaches the genuine sink over verified TLS.
// Peers: /usr/bin/python3 with aiosmtpd (Debian python3-aiosmtpd); a missing one fails the test.
#include "../dns/dns_servers.hpp"

#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/http/http.hpp>
#include <mailkit/mtasts/enforce.hpp>
#include <mailkit/mtasts/serve.hpp>
#include <mailkit/smtp/client_session.hpp>
#include <mailkit/tls/tls.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <gtest/gtest.h>

namespace dns = mailkit::dns;
namespace http = mailkit::http;
namespace m = mailkit::mtasts;
namespace rpt = mailkit::tlsrpt;
namespace smtp = mailkit::smtp;
namespace t = mailkit::test;
namespace tls = mailkit::tls;
using namespace std::chrono_literals;

namespace {

constexpr const char* python = "/usr/bin/python3";
constexpr const char* domain = "example.test";
constexpr const char* good_mx = "mx.example.test";

struct pem_files {
  std::string cert, key, pem;
};

pem_files make_cert(const t::fs::path& dir, const std::string& tag,
                    const std::vector<std::string>& names) {
  auto pair = tls::make_self_signed(names);
  if (!pair) throw std::runtime_error("make_self_signed failed");
  pem_files f{(dir / (tag + ".pem")).string(), (dir / (tag + ".key")).string(),
              pair->certificate_pem};
  std::ofstream(f.cert) << pair->certificate_pem;
  std::ofstream(f.key) << pair->private_key_pem;
  return f;
}

// One aiosmtpd on loopback; its log records the dialogue (-d) and each message (Debugging).
class sink {
public:
  sink(const t::fs::path& dir, const std::string& name, const pem_files* cert)
      : log_(dir / (name + ".log")), port_(t::free_port()) {
    t::require_program(python);
    std::vector<std::string> argv = {python, "-u",
                                     "-m",   "aiosmtpd",
                                     "-n",   "-d",
                                     "-c",   "aiosmtpd.handlers.Debugging",
                                     "-l",   "127.0.0.1:" + std::to_string(port_)};
    if (cert != nullptr) {
      argv.insert(argv.end(), {"--tlscert", cert->cert, "--tlskey", cert->key, "--no-requiretls"});
    }
    process_ = std::make_unique<t::child_process>(argv, log_);
    t::wait_listening(port_, *process_, log_, ("aiosmtpd " + name).c_str());
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string log() const { return t::read_file(log_); }
  // Wait (bounded) for `text` to show up in the log.
  [[nodiscard]] bool wait_for(const std::string& text) const {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

private:
  t::fs::path log_;
  int port_;
  std::unique_ptr<t::child_process> process_;
};

// What the relay's direct delivery does for one MX, with smtp::deliver as the transport.
struct attempt {
  m::enforcement result;
  smtp::delivery_report report;
  bool connected = false;
  bool delivered = false;
};

attempt deliver_to(const m::resolution& sts, const std::string& mx_host, int port,
                   const std::string& ca_file, const std::string& marker) {
  attempt a;
  const m::policy* policy = sts.active ? &sts.active->value : nullptr;
  const auto req = m::requirements(policy, mx_host, m::dane_state::none);
  const m::tlsa_lookup no_dane;
  m::tls_outcome outcome;
  if (req.skip) {
    a.result = m::enforce(domain, sts, mx_host, no_dane, outcome);
    return a;
  }
  smtp::session_options o;
  o.host = mx_host;
  o.port = static_cast<std::uint16_t>(port);
  o.addresses = {"127.0.0.1"};
  o.tls =
      req.require_tls ? smtp::tls_mode::starttls_required : smtp::tls_mode::starttls_opportunistic;
  o.tls_options.verify_peer = req.verify_pkix;
  o.tls_options.ca_file = ca_file;
  o.verify_host = req.verify_pkix;
  o.timeouts = smtp::session_timeouts::all(10s);
  o.client.helo_name = "sender.test";
  smtp::outgoing_message msg;
  msg.env.mail_from = "alice@sender.test";
  msg.env.recipients = {{"bob@example.test", {}, {}}};
  msg.data = "From: alice@sender.test\r\nTo: bob@example.test\r\nSubject: " + marker +
             "\r\n\r\nbody " + marker + "\r\n";

  a.connected = true;
  a.report = smtp::deliver(o, {msg});
  const auto& ec = a.report.error;
  // The TLS step's outcome as the session saw it (the relay has the same facts).
  if (!ec) {
    outcome.tls_established = a.report.tls;
    outcome.pkix_valid = a.report.tls && req.verify_pkix;
  } else if (ec == smtp::client_errc::tls_failed) {
    outcome.tls_established = true; // offered and attempted; the certificate did not validate
  }
  a.result = m::enforce(domain, sts, mx_host, no_dane, outcome);
  if (!ec && !a.report.results.empty()) a.delivered = a.report.results.front().all_delivered();

  // RFC 8461 §5 testing: the validated attempt failed; deliver anyway without validation.
  if (ec && req.report_only) {
    o.tls_options.verify_peer = false;
    o.verify_host = false;
    o.tls = smtp::tls_mode::starttls_opportunistic;
    a.report = smtp::deliver(o, {msg});
    a.delivered =
        !a.report.error && !a.report.results.empty() && a.report.results.front().all_delivered();
  }
  return a;
}

m::resolution resolution_for(const std::string& policy_text) {
  m::resolution r;
  auto p = m::parse_policy(policy_text);
  if (!p) throw std::runtime_error("bad test policy");
  m::cached_policy c;
  c.domain = domain;
  c.id = "20261206";
  c.value = *p;
  r.active = c;
  return r;
}

class enforce_interop : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = t::test_dir("enforce");
    const auto good = make_cert(dir_, "good", {good_mx});
    const auto evil = make_cert(dir_, "evil", {good_mx}); // the right name, an untrusted key
    std::ofstream(dir_ / "ca.pem") << good.pem;
    ca_file_ = (dir_ / "ca.pem").string();
    stripped_ = std::make_unique<sink>(dir_, "stripped", nullptr);
    intercepted_ = std::make_unique<sink>(dir_, "intercepted", &evil);
    genuine_ = std::make_unique<sink>(dir_, "genuine", &good);
  }
  static void TearDownTestSuite() {
    stripped_.reset();
    intercepted_.reset();
    genuine_.reset();
    if (::testing::UnitTest::GetInstance()->Passed()) t::fs::remove_all(dir_);
  }

  static inline t::fs::path dir_;
  static inline std::string ca_file_;
  static inline std::unique_ptr<sink> stripped_, intercepted_, genuine_;
};

const std::string enforce_policy =
    "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 86400\n";
const std::string testing_policy =
    "version: STSv1\nmode: testing\nmx: mx.example.test\nmax_age: 86400\n";

} // namespace

TEST_F(enforce_interop, requirements_per_mode) {
  const auto enforce = *m::parse_policy(enforce_policy);
  auto r = m::requirements(&enforce, good_mx, m::dane_state::none);
  EXPECT_TRUE(r.require_tls && r.verify_pkix && !r.skip && !r.report_only);
  r = m::requirements(&enforce, "mx.elsewhere.test", m::dane_state::none);
  EXPECT_TRUE(r.skip);
  const auto testing = *m::parse_policy(testing_policy);
  r = m::requirements(&testing, good_mx, m::dane_state::none);
  EXPECT_TRUE(!r.require_tls && r.verify_pkix && r.report_only);
  // RFC 8461 §2: usable TLSA records decide; the MTA-STS policy is not consulted.
  r = m::requirements(&enforce, "mx.elsewhere.test", m::dane_state::usable);
  EXPECT_TRUE(r.require_tls && r.verify_dane && !r.verify_pkix && !r.skip);
  r = m::requirements(nullptr, good_mx, m::dane_state::none);
  EXPECT_FALSE(r.require_tls || r.verify_pkix || r.skip);
}

TEST_F(enforce_interop, stripped_starttls_never_gets_the_message_under_enforce) {
  const auto sts = resolution_for(enforce_policy);
  const std::string marker = "MITM-STRIPPED-ENFORCE-4711";
  rpt::aggregator agg;
  const auto a = deliver_to(sts, good_mx, stripped_->port(), ca_file_, marker);
  m::record(agg, a.result);
  EXPECT_TRUE(a.connected);
  EXPECT_FALSE(a.delivered);
  EXPECT_EQ(a.report.error, smtp::client_errc::starttls_unavailable);
  EXPECT_TRUE(a.report.results.empty());
  EXPECT_EQ(a.result.decision.action, m::verdict::refuse);
  EXPECT_EQ(a.result.decision.reason, m::failure::starttls_not_supported);
  // The sink saw the EHLO (the session reached it) but no envelope and no content.
  ASSERT_TRUE(stripped_->wait_for("sender.test"));
  const auto log = stripped_->log();
  EXPECT_EQ(log.find(marker), std::string::npos) << log;
  EXPECT_EQ(log.find("alice@sender.test"), std::string::npos) << log;
  EXPECT_EQ(log.find("MAIL FROM"), std::string::npos) << log;
  // The TLS-RPT failure (RFC 8460 §4.3.1 starttls-not-supported, policy type sts).
  const auto report = agg.make_report(domain, "sender.test", "tlsrpt@sender.test", "r1",
                                      mailkit::clock::time_point(1700000000s),
                                      mailkit::clock::time_point(1700086399s));
  ASSERT_TRUE(report);
  ASSERT_EQ(report->policies.size(), 1u);
  const auto& p = report->policies.front();
  EXPECT_EQ(p.policy.type, rpt::policy_type::sts);
  EXPECT_EQ(p.policy.mx_host, std::vector<std::string>{good_mx});
  EXPECT_EQ(p.total_failure_session_count, 1u);
  EXPECT_EQ(p.total_successful_session_count, 0u);
  ASSERT_EQ(p.failure_details.size(), 1u);
  EXPECT_EQ(p.failure_details.front().result, rpt::result_type::starttls_not_supported);
  EXPECT_EQ(p.failure_details.front().receiving_mx_hostname, good_mx);
}

TEST_F(enforce_interop, intercepted_tls_never_gets_the_message_under_enforce) {
  const auto sts = resolution_for(enforce_policy);
  const std::string marker = "MITM-INTERCEPTED-ENFORCE-4712";
  const auto a = deliver_to(sts, good_mx, intercepted_->port(), ca_file_, marker);
  EXPECT_FALSE(a.delivered);
  EXPECT_EQ(a.report.error, smtp::client_errc::tls_failed);
  EXPECT_EQ(a.result.decision.action, m::verdict::refuse);
  EXPECT_EQ(a.result.decision.reason, m::failure::certificate_invalid);
  ASSERT_TRUE(a.result.failure);
  EXPECT_EQ(a.result.failure->result, rpt::result_type::validation_failure);
  // The sink saw STARTTLS, then nothing it could read: no envelope, no content.
  ASSERT_TRUE(intercepted_->wait_for("STARTTLS"));
  const auto log = intercepted_->log();
  EXPECT_EQ(log.find(marker), std::string::npos) << log;
  EXPECT_EQ(log.find("alice@sender.test"), std::string::npos) << log;
}

TEST_F(enforce_interop, mx_outside_the_policy_is_not_contacted_under_enforce) {
  const auto sts = resolution_for(enforce_policy);
  const auto before = genuine_->log();
  const auto a = deliver_to(sts, "mx.elsewhere.test", genuine_->port(), ca_file_, "MITM-MX-4713");
  EXPECT_FALSE(a.connected);
  EXPECT_EQ(a.result.decision.action, m::verdict::refuse);
  EXPECT_EQ(a.result.decision.reason, m::failure::mx_not_in_policy);
  ASSERT_TRUE(a.result.failure);
  EXPECT_EQ(a.result.failure->result, rpt::result_type::validation_failure);
  std::this_thread::sleep_for(200ms);
  // Nothing our client would say reached the sink. (Not "the log did not change": another
  // test's free-port probe, running in parallel, may connect and close without a word.)
  const auto after = genuine_->log();
  ASSERT_GE(after.size(), before.size());
  const auto added = after.substr(before.size());
  for (const char* said : {"EHLO", "HELO", "STARTTLS", "MAIL FROM", "MITM-MX-4713"})
    EXPECT_EQ(added.find(said), std::string::npos) << said << " in " << added;
}

TEST_F(enforce_interop, testing_mode_delivers_and_reports) {
  // The positive control: the same stripped sink does receive (and log) a message when the
  // policy only asks for reports.
  const auto sts = resolution_for(testing_policy);
  const std::string marker = "MITM-STRIPPED-TESTING-4714";
  const auto a = deliver_to(sts, good_mx, stripped_->port(), ca_file_, marker);
  EXPECT_TRUE(a.delivered) << a.report.error_detail;
  EXPECT_EQ(a.result.decision.action, m::verdict::deliver_and_report);
  ASSERT_TRUE(a.result.failure);
  EXPECT_EQ(a.result.failure->result, rpt::result_type::starttls_not_supported);
  EXPECT_TRUE(stripped_->wait_for(marker));
}

TEST_F(enforce_interop, genuine_mx_delivers_and_the_day_report_is_posted) {
  const auto sts = resolution_for(enforce_policy);
  rpt::aggregator agg;
  const std::string marker = "GENUINE-ENFORCE-4715";
  auto a = deliver_to(sts, good_mx, genuine_->port(), ca_file_, marker);
  EXPECT_TRUE(a.delivered) << a.report.error_detail;
  EXPECT_TRUE(a.report.tls);
  EXPECT_EQ(a.result.decision.action, m::verdict::deliver);
  EXPECT_FALSE(a.result.failure);
  m::record(agg, a.result);
  EXPECT_TRUE(genuine_->wait_for(marker));
  a = deliver_to(sts, good_mx, stripped_->port(), ca_file_, "MITM-STRIPPED-4716");
  m::record(agg, a.result);

  // The report server: https://tlsrpt.sender.test:<port>/v1/tlsrpt on loopback.
  const auto cert = make_cert(dir_, "tlsrpt", {"tlsrpt.sender.test"});
  auto ctx = tls::make_server_context({cert.cert, cert.key});
  ASSERT_TRUE(ctx);
  http::server_options so;
  http::virtual_host vh{"tlsrpt.sender.test", *ctx, {}};
  http::route accept;
  accept.status = 201;
  accept.body = "stored\n";
  accept.max_request_body = 1024 * 1024;
  vh.routes["/v1/tlsrpt"] = accept;
  so.hosts.push_back(std::move(vh));
  auto srv = http::server::start(std::move(so));
  ASSERT_TRUE(srv);
  std::ofstream(dir_ / "tlsrpt-ca.pem") << cert.pem;

  // RFC 8460 §4.1: the day before "now", 00:00:00-23:59:59 UTC.
  const auto [begin, end] = rpt::report_period(mailkit::clock::time_point(1700050000s));
  EXPECT_EQ(rpt::format_datetime(begin), "2023-11-14T00:00:00Z");
  EXPECT_EQ(rpt::format_datetime(end), "2023-11-14T23:59:59Z");
  const auto report = agg.make_report(domain, "sender.test", "mailto:tlsrpt@sender.test",
                                      "2023-11-14-example.test", begin, end);
  ASSERT_TRUE(report);
  // The report host's name maps to loopback in a test zone; the certificate is checked
  // against that name.
  dns::static_resolver names;
  ASSERT_TRUE(names.add("tlsrpt.sender.test", dns::rtype::a, "127.0.0.1"));
  http::client_options co;
  co.ca_file = (dir_ / "tlsrpt-ca.pem").string();
  co.timeout = 10s;
  co.resolver = &names;
  const std::string rua =
      "https://tlsrpt.sender.test:" + std::to_string((*srv)->port()) + "/v1/tlsrpt";
  auto uri = rpt::parse_https_uri(rua);
  ASSERT_TRUE(uri);
  EXPECT_EQ(uri->host, "tlsrpt.sender.test");
  EXPECT_EQ(uri->target, "/v1/tlsrpt");

  auto posted = rpt::post_report(rua, *report, co);
  ASSERT_TRUE(posted) << posted.error().message();
  const auto got = (*srv)->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.front().content_type, "application/tlsrpt+gzip");
  EXPECT_EQ(got.front().target, "/v1/tlsrpt");
  const auto json = rpt::gunzip(got.front().body);
  ASSERT_TRUE(json);
  const auto parsed = rpt::parse_report(*json);
  ASSERT_TRUE(parsed) << *json;
  EXPECT_EQ(parsed->report_id, "2023-11-14-example.test");
  EXPECT_EQ(parsed->start_datetime, "2023-11-14T00:00:00Z");
  ASSERT_EQ(parsed->policies.size(), 1u);
  EXPECT_EQ(parsed->policies.front().total_successful_session_count, 1u);
  EXPECT_EQ(parsed->policies.front().total_failure_session_count, 1u);
  ASSERT_EQ(parsed->policies.front().failure_details.size(), 1u);
  EXPECT_EQ(parsed->policies.front().failure_details.front().result,
            rpt::result_type::starttls_not_supported);

  // The same report by mail (RFC 8460 §5.3) to a mailto: rua, over verified TLS to the sink.
  rpt::mail_options mo;
  mo.from = "tlsrpt@sender.test";
  mo.to = *rpt::parse_mailto_uri("mailto:tlsrpt@example.test");
  mo.submitter = "sender.test";
  mo.date = mailkit::clock::time_point(1700050000s);
  const auto mail = rpt::make_report_mail(*report, mo);
  ASSERT_TRUE(mail);
  smtp::session_options so2;
  so2.host = good_mx;
  so2.port = static_cast<std::uint16_t>(genuine_->port());
  so2.addresses = {"127.0.0.1"};
  so2.tls = smtp::tls_mode::starttls_required;
  so2.tls_options.ca_file = ca_file_;
  so2.timeouts = smtp::session_timeouts::all(10s);
  smtp::outgoing_message report_mail;
  report_mail.env.mail_from = mo.from;
  report_mail.env.recipients = {{mo.to, {}, {}}};
  report_mail.data = *mail;
  const auto sent = smtp::deliver(so2, {report_mail});
  ASSERT_FALSE(sent.error) << sent.error_detail;
  ASSERT_EQ(sent.results.size(), 1u);
  EXPECT_TRUE(sent.results.front().all_delivered());
  EXPECT_TRUE(genuine_->wait_for("TLS-Report-Domain: example.test"));
  EXPECT_TRUE(genuine_->wait_for("Report-ID: <2023-11-14-example.test>"));

  // A report server that refuses: errc::rejected (transient: the sender may retry).
  const std::string wrong_path =
      "https://tlsrpt.sender.test:" + std::to_string((*srv)->port()) + "/elsewhere";
  posted = rpt::post_report(wrong_path, *report, co);
  ASSERT_FALSE(posted);
  EXPECT_EQ(posted.error(), rpt::errc::rejected);
  EXPECT_FALSE(mailkit::is_permanent(posted.error()));
}

TEST_F(enforce_interop, our_policy_is_served_and_fetched_back) {
  // What mailkitd publishes (RFC 8461 §3.1-§3.3), read by the same fetch a sender uses.
  const auto cert = make_cert(dir_, "mta-sts", {"mta-sts.example.test"});
  auto ctx = tls::make_server_context({cert.cert, cert.key});
  ASSERT_TRUE(ctx);
  const auto published = *m::parse_policy(enforce_policy);
  auto host = m::policy_host("example.test", published, *ctx);
  ASSERT_TRUE(host);
  EXPECT_EQ(host->name, "mta-sts.example.test");
  http::server_options so;
  so.hosts.push_back(std::move(*host));
  auto srv = http::server::start(std::move(so));
  ASSERT_TRUE(srv);
  std::ofstream(dir_ / "mta-sts-ca.pem") << cert.pem;

  dns::static_resolver zone;
  const auto txt = m::make_txt_record("2026-12-06");
  EXPECT_FALSE(txt); // RFC 8461 §3.1: alphanumerics only
  const auto record = m::make_txt_record("20261206");
  ASSERT_TRUE(record);
  ASSERT_TRUE(zone.add("_mta-sts.example.test", dns::rtype::txt, *record));
  ASSERT_TRUE(zone.add("mta-sts.example.test", dns::rtype::a, "127.0.0.1"));
  m::fetch_options fo;
  fo.ca_file = (dir_ / "mta-sts-ca.pem").string();
  fo.port = (*srv)->port();
  fo.timeout = 10s;
  auto got = m::fetch(zone, "example.test", fo);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->id, "20261206");
  EXPECT_EQ((*got)->value.policy_mode, m::mode::enforce);
  EXPECT_EQ((*got)->value.mx, published.mx);
  EXPECT_EQ((*got)->value.max_age, published.max_age);

  EXPECT_FALSE(m::policy_host("", published, *ctx));
  EXPECT_FALSE(m::policy_host("bad domain.test", published, *ctx));
}

TEST_F(enforce_interop, policies_of_every_configured_domain_are_served) {
  // mailkitd's composition: the policies of its domains from the configuration, one server.
  const auto cert =
      make_cert(dir_, "mta-sts-all", {"mta-sts.one.test", "mta-sts.two.test", "www.one.test"});
  auto ctx = tls::make_server_context({cert.cert, cert.key});
  ASSERT_TRUE(ctx);
  m::policy_server_config sc;
  sc.address = "127.0.0.1";
  sc.port = 0;
  sc.context = *ctx;
  sc.domains.push_back({"one.test", *m::parse_policy(enforce_policy), nullptr});
  sc.domains.push_back({"two.test", *m::parse_policy(testing_policy), nullptr});
  auto srv = m::serve_policies(sc);
  ASSERT_TRUE(srv) << srv.error().message();
  std::ofstream(dir_ / "mta-sts-all-ca.pem") << cert.pem;

  dns::static_resolver zone;
  for (const char* d : {"one.test", "two.test"}) {
    ASSERT_TRUE(zone.add(std::string("_mta-sts.") + d, dns::rtype::txt, *m::make_txt_record("1")));
    ASSERT_TRUE(zone.add(std::string("mta-sts.") + d, dns::rtype::a, "127.0.0.1"));
  }
  ASSERT_TRUE(zone.add("www.one.test", dns::rtype::a, "127.0.0.1"));
  m::fetch_options fo;
  fo.ca_file = (dir_ / "mta-sts-all-ca.pem").string();
  fo.port = (*srv)->port();
  fo.timeout = 10s;
  // The Host header picks the domain's policy.
  auto one = m::fetch(zone, "one.test", fo);
  ASSERT_TRUE(one && *one) << (one ? "no policy" : one.error().message());
  EXPECT_EQ((*one)->value.policy_mode, m::mode::enforce);
  auto two = m::fetch(zone, "two.test", fo);
  ASSERT_TRUE(two && *two) << (two ? "no policy" : two.error().message());
  EXPECT_EQ((*two)->value.policy_mode, m::mode::testing);
  // Any other host, or another path, is 404 (RFC 9110 §15.5.5).
  http::client_options co;
  co.ca_file = fo.ca_file;
  co.port = (*srv)->port();
  co.timeout = 10s;
  co.resolver = &zone;
  auto other = http::get("www.one.test", m::well_known_path, co);
  ASSERT_TRUE(other) << other.error().message();
  EXPECT_EQ(other->status, 404u);
  auto path = http::get("mta-sts.one.test", "/index.html", co);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(path->status, 404u);

  // A domain twice, or a bad one, is refused before anything is served.
  sc.domains.push_back({"ONE.test", *m::parse_policy(enforce_policy), nullptr});
  EXPECT_FALSE(m::policy_hosts(sc));
  sc.domains.pop_back();
  sc.domains.push_back({"bad domain", *m::parse_policy(enforce_policy), nullptr});
  EXPECT_FALSE(m::serve_policies(sc));
}
