// SPDX-License-Identifier: Apache-2.0
// The relay's direct delivery under the outbound TLS policy, against real peers on loopback:
//  - nsd serves "sts.test" (MTA-STS domains, unsigned) and "dane.test" (DNSSEC-signed with
//    ldns-signzone, TLSA records) behind the validating unbound, the transport's only resolver;
//  - mailkit's own http::server publishes the MTA-STS policies (mtasts::serve_policies) with a
//    certificate of a test CA, which the transport's policy fetch trusts;
//  - aiosmtpd sinks (python3-aiosmtpd, -d and the Debugging handler: the log shows the whole
//    dialogue and every message) stand in for the MX hosts, one loopback address each: a man in
//    the middle who strips STARTTLS, one with a self-signed certificate, one with a trusted
//    certificate for another name, the genuine MX, DANE hosts, the TLS-RPT mailbox;
//  - relay::transport::deliver() is the code under test; its outcomes, the sinks' logs and the
//    TLS-RPT counts (transport::tls_reports()) are checked; relay::send_tls_reports() then mails
//    the day's report to the mailto: rua (parsed back from the sink's log) and POSTs it to the
//    https: rua.
// Peers: nsd, unbound, ldnsutils, /usr/bin/python3 with aiosmtpd; a missing one fails the test.
#include "../dns/dns_servers.hpp"

#include <mailkit/core/base64.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/http/http.hpp>
#include <mailkit/mtasts/cache.hpp>
#include <mailkit/mtasts/serve.hpp>
#include <mailkit/relay/relay.hpp>
#include <mailkit/relay/tls_report.hpp>
#include <mailkit/tls/dane.hpp>
#include <mailkit/tls/tls.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace dns = mailkit::dns;
namespace http = mailkit::http;
namespace m = mailkit::mtasts;
namespace relay = mailkit::relay;
namespace smtp = mailkit::smtp;
namespace rpt = mailkit::tlsrpt;
namespace t = mailkit::test;
namespace tls = mailkit::tls;
using namespace std::chrono_literals;

namespace {

constexpr const char* python = "/usr/bin/python3";

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

// RFC 6698 §2.1: the "3 1 1" association data (SHA-256 of the SubjectPublicKeyInfo), in hex.
std::string spki_sha256_hex(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (x == nullptr) throw std::runtime_error("bad PEM");
  unsigned char* der = nullptr;
  const int n = i2d_X509(x, &der);
  X509_free(x);
  std::string d(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  auto data = tls::dane::association_data(d, tls::dane::selector::subject_public_key_info,
                                          tls::dane::matching_type::sha256);
  if (!data) throw std::runtime_error("association_data failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : *data) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

bool listening(const std::string& ip, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// One aiosmtpd on ip:port; its log records the dialogue (-d) and each message (Debugging).
class sink {
public:
  sink(const t::fs::path& dir, const std::string& name, const std::string& ip, int port,
       const pem_files* cert)
      : log_(dir / (name + ".log")) {
    t::require_program(python);
    std::vector<std::string> argv = {python, "-u",
                                     "-m",   "aiosmtpd",
                                     "-n",   "-d",
                                     "-c",   "aiosmtpd.handlers.Debugging",
                                     "-l",   ip + ":" + std::to_string(port)};
    if (cert != nullptr)
      argv.insert(argv.end(), {"--tlscert", cert->cert, "--tlskey", cert->key, "--no-requiretls"});
    process_ = std::make_unique<t::child_process>(argv, log_);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!listening(ip, port)) {
      if (!process_->running() || std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("aiosmtpd " + name + " did not start:\n" + t::read_file(log_));
      std::this_thread::sleep_for(50ms);
    }
  }
  [[nodiscard]] std::string log() const { return t::read_file(log_); }
  // Wait (bounded) for `text` in the log.
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
  std::unique_ptr<t::child_process> process_;
};

// The MX hosts: name, loopback address, certificate kind.
enum class cert_kind { none, trusted, untrusted, wrong_name };
struct mx_spec {
  std::string key;    // scenario
  std::string domain; // recipient domain
  std::string ip;
  cert_kind cert;
};
const std::vector<mx_spec> mx_hosts = {
    {"strip", "strip.sts.test", "127.0.0.11", cert_kind::none},
    {"mitm", "mitm.sts.test", "127.0.0.12", cert_kind::untrusted},
    {"wrongname", "wrongname.sts.test", "127.0.0.13", cert_kind::wrong_name},
    {"mxout", "mxout.sts.test", "127.0.0.14", cert_kind::none},
    {"testing", "testing.sts.test", "127.0.0.15", cert_kind::none},
    {"good", "good.sts.test", "127.0.0.16", cert_kind::trusted},
    {"daneok", "ok.dane.test", "127.0.0.17", cert_kind::untrusted},
    {"danebad", "bad.dane.test", "127.0.0.18", cert_kind::trusted},
    {"rua", "rua.sts.test", "127.0.0.19", cert_kind::none},
    {"testingtls", "testingtls.sts.test", "127.0.0.20", cert_kind::untrusted},
};

std::string policy_text(const std::string& mode, const std::string& mx) {
  return "version: STSv1\nmode: " + mode + "\nmx: " + mx + "\nmax_age: 86400\n";
}

class relay_tls_policy : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = t::test_dir("relay-tls");
    port_ = t::free_port();
    std::string mx_ca;
    for (const auto& h : mx_hosts) {
      const std::string mx = "mx." + h.domain;
      pem_files cert;
      if (h.cert == cert_kind::wrong_name)
        cert = make_cert(dir_, h.key, {"other.sts.test"});
      else if (h.cert != cert_kind::none)
        cert = make_cert(dir_, h.key, {mx});
      if (h.cert == cert_kind::trusted || h.cert == cert_kind::wrong_name) mx_ca += cert.pem;
      if (h.key == "daneok") dane_ok_spki_ = spki_sha256_hex(cert.pem);
      sinks_[h.key] = std::make_unique<sink>(dir_, h.key, h.ip, port_,
                                             h.cert == cert_kind::none ? nullptr : &cert);
    }
    std::ofstream(dir_ / "mx-ca.pem") << mx_ca;
    const auto other_key = make_cert(dir_, "unrelated", {"mx.bad.dane.test"});

    // The policies, served by our own HTTPS server (RFC 8461 §3.3) on 127.0.0.1.
    std::vector<std::pair<std::string, std::string>> policies = {
        {"strip.sts.test", policy_text("enforce", "mx.strip.sts.test")},
        {"mitm.sts.test", policy_text("enforce", "mx.mitm.sts.test")},
        {"wrongname.sts.test", policy_text("enforce", "*.wrongname.sts.test")},
        {"mxout.sts.test", policy_text("enforce", "mx.elsewhere.sts.test")},
        {"testing.sts.test", policy_text("testing", "mx.testing.sts.test")},
        {"testingtls.sts.test", policy_text("testing", "mx.testingtls.sts.test")},
        {"good.sts.test", policy_text("enforce", "mx.good.sts.test")},
        // RFC 8461 §2: DANE decides; this policy (no matching mx) is not consulted.
        {"ok.dane.test", policy_text("enforce", "mx.elsewhere.dane.test")},
    };
    std::vector<std::string> names;
    for (const auto& p : policies)
      names.push_back("mta-sts." + p.first);
    const auto web = make_cert(dir_, "mta-sts", names);
    std::ofstream(dir_ / "web-ca.pem") << web.pem;
    auto ctx = tls::make_server_context({web.cert, web.key});
    if (!ctx) throw std::runtime_error("server context");
    m::policy_server_config sc;
    sc.address = "127.0.0.1";
    sc.port = 0;
    sc.context = *ctx;
    for (const auto& p : policies)
      sc.domains.push_back({p.first, *m::parse_policy(p.second), nullptr});
    auto srv = m::serve_policies(sc);
    if (!srv) throw std::runtime_error("serve_policies: " + srv.error().message());
    policy_server_ = std::move(*srv);

    // The TLS-RPT report server (RFC 8460 §5.4).
    const auto rcert = make_cert(dir_, "reports", {"reports.sts.test"});
    std::ofstream(dir_ / "reports-ca.pem") << rcert.pem;
    auto rctx = tls::make_server_context({rcert.cert, rcert.key});
    if (!rctx) throw std::runtime_error("report server context");
    http::server_options ro;
    ro.address = "127.0.0.1";
    http::virtual_host vh{"reports.sts.test", *rctx, {}};
    http::route accept;
    accept.status = 201;
    accept.max_request_body = 1024 * 1024;
    vh.routes["/v1/tlsrpt"] = accept;
    ro.hosts.push_back(std::move(vh));
    auto rs = http::server::start(std::move(ro));
    if (!rs) throw std::runtime_error("report server");
    report_server_ = std::move(*rs);

    // The zones.
    const std::string port = std::to_string(port_);
    std::ofstream sts(dir_ / "sts.test.zone");
    sts << "$ORIGIN sts.test.\n$TTL 300\n"
        << "@ IN SOA ns.sts.test. admin.sts.test. 1 3600 600 86400 300\n"
        << "@ IN NS ns.sts.test.\nns IN A 127.0.0.1\n"
        << "reports IN A 127.0.0.1\n";
    for (const auto& h : mx_hosts) {
      if (h.domain.find(".sts.test") == std::string::npos) continue;
      const std::string d = h.domain.substr(0, h.domain.size() - 9); // relative name
      sts << d << " IN MX 10 mx." << d << "\n"
          << "mx." << d << " IN A " << h.ip << "\n";
    }
    for (const auto& p : policies) {
      if (p.first.find(".sts.test") == std::string::npos) continue;
      const std::string d = p.first.substr(0, p.first.size() - 9);
      sts << "_mta-sts." << d << " IN TXT \"v=STSv1; id=20261206;\"\n"
          << "mta-sts." << d << " IN A 127.0.0.1\n";
    }
    sts << "_smtp._tls.strip IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@rua.sts.test,"
        << "https://reports.sts.test:" << report_server_->port() << "/v1/tlsrpt\"\n";
    sts.close();
    std::ofstream dane(dir_ / "dane.test.zone");
    dane << "$ORIGIN dane.test.\n$TTL 300\n"
         << "@ IN SOA ns.dane.test. admin.dane.test. 1 3600 600 86400 300\n"
         << "@ IN NS ns.dane.test.\nns IN A 127.0.0.1\n"
         << "ok IN MX 10 mx.ok\nmx.ok IN A 127.0.0.17\n"
         << "_" << port << "._tcp.mx.ok IN TLSA 3 1 1 " << dane_ok_spki_ << "\n"
         << "_mta-sts.ok IN TXT \"v=STSv1; id=20261206;\"\nmta-sts.ok IN A 127.0.0.1\n"
         << "bad IN MX 10 mx.bad\nmx.bad IN A 127.0.0.18\n"
         // The record pins another key: the MX's own (PKIX-valid) certificate must not pass.
         << "_" << port << "._tcp.mx.bad IN TLSA 3 1 1 " << spki_sha256_hex(other_key.pem) << "\n";
    dane.close();
    const std::string ds = t::sign_zone(dir_, "dane.test", dir_ / "dane.test.zone");
    nsd_ = std::make_unique<t::nsd_server>(
        dir_, std::vector<t::zone_spec>{{"sts.test", dir_ / "sts.test.zone"},
                                        {"dane.test", dir_ / "dane.test.signed"}});
    unbound_ =
        std::make_unique<t::unbound_server>(dir_, std::vector<std::string>{"sts.test", "dane.test"},
                                            nsd_->port(), std::vector<std::string>{ds});
    dns::cares_options o;
    o.servers = {unbound_->address()};
    o.timeout = 3000ms;
    resolver_ = std::make_unique<dns::cares_resolver>(o);

    relay::config c;
    c.helo_name = "sender.test";
    c.direct.port = static_cast<std::uint16_t>(port_);
    c.direct.ipv6 = false;
    c.direct.cafile = (dir_ / "mx-ca.pem").string();
    c.direct.mta_sts_fetch.ca_file = (dir_ / "web-ca.pem").string();
    c.direct.mta_sts_fetch.port = policy_server_->port();
    c.direct.mta_sts_fetch.timeout = 10s;
    c.direct.mta_sts_cache = (dir_ / "mta-sts.sqlite").string();
    c.mx.ipv6 = false;
    c.mx.shuffle = [](auto, auto) {};
    c.timeouts = smtp::session_timeouts::all(10s);
    auto tr = relay::transport::create(std::move(c), resolver_.get());
    if (!tr) throw std::runtime_error("transport: " + tr.error().message());
    transport_ = std::move(*tr);
  }
  static void TearDownTestSuite() {
    transport_.reset();
    resolver_.reset();
    unbound_.reset();
    nsd_.reset();
    report_server_.reset();
    policy_server_.reset();
    sinks_.clear();
    if (::testing::UnitTest::GetInstance()->Passed()) t::fs::remove_all(dir_);
  }

  // One message to `rcpt`, marked so that the sink's log shows whether it arrived.
  static relay::recipient_outcome send(const std::string& rcpt, const std::string& marker) {
    relay::outbound_message msg;
    msg.queue_id = marker;
    msg.reverse_path = "alice@sender.test";
    msg.recipients = {{rcpt, "", ""}};
    const std::string data = "From: alice@sender.test\r\nTo: " + rcpt + "\r\nSubject: " + marker +
                             "\r\n\r\nbody " + marker + "\r\n";
    msg.data = data;
    auto out = transport_->deliver(msg);
    if (out.size() != 1) throw std::runtime_error("one outcome expected");
    return out.front();
  }

  // The day's TLS-RPT counts for `domain` so far.
  static std::optional<rpt::policy_result> counts(const std::string& domain) {
    const auto r = transport_->tls_reports().make_report(
        domain, "sender.test", "mailto:tlsrpt@sender.test", "test",
        mailkit::clock::time_point(1700000000s), mailkit::clock::time_point(1700086399s));
    if (!r || r->policies.size() != 1) return std::nullopt;
    return r->policies.front();
  }

  // A sink that must not have seen the envelope or the content.
  static void expect_nothing_sent(const std::string& key, const std::string& marker) {
    const std::string log = sinks_.at(key)->log();
    EXPECT_EQ(log.find(marker), std::string::npos) << log;
    EXPECT_EQ(log.find("alice@sender.test"), std::string::npos) << log;
    EXPECT_EQ(log.find("MAIL FROM"), std::string::npos) << log;
  }

  static inline t::fs::path dir_;
  static inline int port_ = 0;
  static inline std::string dane_ok_spki_;
  static inline std::map<std::string, std::unique_ptr<sink>> sinks_;
  static inline std::unique_ptr<http::server> policy_server_, report_server_;
  static inline std::unique_ptr<t::nsd_server> nsd_;
  static inline std::unique_ptr<t::unbound_server> unbound_;
  static inline std::unique_ptr<dns::cares_resolver> resolver_;
  static inline std::unique_ptr<relay::transport> transport_;
};

} // namespace

TEST_F(relay_tls_policy, enforce_stripped_starttls_defers_and_reports) {
  const std::string marker = "RELAY-STRIP-ENFORCE-5101";
  const auto o = send("bob@strip.sts.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::transient) << o.detail;
  EXPECT_NE(o.detail.find("MTA-STS"), std::string::npos) << o.detail;
  // The session reached the man in the middle (EHLO) and ended there.
  ASSERT_TRUE(sinks_.at("strip")->wait_for("sender.test"));
  expect_nothing_sent("strip", marker);
  const auto c = counts("strip.sts.test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->policy.type, rpt::policy_type::sts);
  EXPECT_EQ(c->policy.mx_host, std::vector<std::string>{"mx.strip.sts.test"});
  EXPECT_EQ(c->total_failure_session_count, 1u);
  EXPECT_EQ(c->total_successful_session_count, 0u);
  ASSERT_EQ(c->failure_details.size(), 1u);
  EXPECT_EQ(c->failure_details.front().result, rpt::result_type::starttls_not_supported);
  EXPECT_EQ(c->failure_details.front().receiving_mx_hostname, "mx.strip.sts.test");
}

TEST_F(relay_tls_policy, enforce_untrusted_certificate_defers_and_reports) {
  const std::string marker = "RELAY-MITM-ENFORCE-5102";
  const auto o = send("bob@mitm.sts.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::transient) << o.detail;
  ASSERT_TRUE(sinks_.at("mitm")->wait_for("STARTTLS"));
  expect_nothing_sent("mitm", marker);
  const auto c = counts("mitm.sts.test");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->failure_details.size(), 1u);
  // RFC 8460 §4.3.1: a self-signed certificate is not trusted.
  EXPECT_EQ(c->failure_details.front().result, rpt::result_type::certificate_not_trusted);
  EXPECT_EQ(c->failure_details.front().receiving_ip, "127.0.0.12");
  EXPECT_EQ(c->failure_details.front().sending_mta_ip.rfind("127.", 0), 0u);
  EXPECT_FALSE(c->failure_details.front().failure_reason_code.empty());
}

TEST_F(relay_tls_policy, enforce_certificate_for_another_name_defers_and_reports) {
  const std::string marker = "RELAY-WRONGNAME-ENFORCE-5103";
  const auto o = send("bob@wrongname.sts.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::transient) << o.detail;
  ASSERT_TRUE(sinks_.at("wrongname")->wait_for("STARTTLS"));
  expect_nothing_sent("wrongname", marker);
  const auto c = counts("wrongname.sts.test");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->failure_details.size(), 1u);
  EXPECT_EQ(c->failure_details.front().result, rpt::result_type::certificate_host_mismatch);
}

TEST_F(relay_tls_policy, enforce_mx_outside_the_policy_is_never_contacted) {
  const std::string marker = "RELAY-MXOUT-ENFORCE-5104";
  const auto o = send("bob@mxout.sts.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::transient) << o.detail;
  // RFC 8461 §4.1: not even a connection.
  std::this_thread::sleep_for(200ms);
  const std::string log = sinks_.at("mxout")->log();
  EXPECT_EQ(log.find("EHLO"), std::string::npos) << log;
  EXPECT_EQ(log.find(marker), std::string::npos) << log;
  const auto c = counts("mxout.sts.test");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->failure_details.size(), 1u);
  EXPECT_EQ(c->failure_details.front().result, rpt::result_type::validation_failure);
}

TEST_F(relay_tls_policy, testing_mode_delivers_and_reports) {
  const std::string marker = "RELAY-TESTING-5105";
  const auto o = send("bob@testing.sts.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::delivered) << o.detail;
  EXPECT_TRUE(sinks_.at("testing")->wait_for(marker));
  const auto c = counts("testing.sts.test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->policy.type, rpt::policy_type::sts);
  ASSERT_EQ(c->failure_details.size(), 1u);
  EXPECT_EQ(c->failure_details.front().result, rpt::result_type::starttls_not_supported);
}

TEST_F(relay_tls_policy, testing_mode_delivers_over_unverified_tls_and_reports) {
  // RFC 8461 §5: the certificate is verified, the failure reported, the message still sent
  // (over the TLS session that was made, not in plaintext).
  const std::string marker = "RELAY-TESTING-TLS-5110";
  const auto o = send("bob@testingtls.sts.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::delivered) << o.detail;
  EXPECT_TRUE(sinks_.at("testingtls")->wait_for(marker));
  EXPECT_TRUE(sinks_.at("testingtls")->wait_for("STARTTLS"));
  const auto c = counts("testingtls.sts.test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->total_failure_session_count, 1u);
  ASSERT_EQ(c->failure_details.size(), 1u);
  EXPECT_EQ(c->failure_details.front().result, rpt::result_type::certificate_not_trusted);
}

TEST_F(relay_tls_policy, enforce_genuine_mx_delivers_over_verified_tls) {
  const std::string marker = "RELAY-GOOD-ENFORCE-5106";
  const auto o = send("bob@good.sts.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::delivered) << o.detail;
  EXPECT_TRUE(sinks_.at("good")->wait_for(marker));
  const auto c = counts("good.sts.test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->policy.type, rpt::policy_type::sts);
  EXPECT_EQ(c->total_successful_session_count, 1u);
  EXPECT_EQ(c->total_failure_session_count, 0u);
  // The policy was cached durably (RFC 8461 §5.1): a new cache on the same file has it.
  auto cache = m::sqlite_policy_cache::open((dir_ / "mta-sts.sqlite").string());
  ASSERT_TRUE(cache);
  auto entry = (*cache)->get("good.sts.test");
  ASSERT_TRUE(entry && *entry);
  EXPECT_EQ((*entry)->value.policy_mode, m::mode::enforce);
}

TEST_F(relay_tls_policy, dane_match_delivers_without_web_pki) {
  // The certificate is self-signed (no PKIX path) and the MTA-STS policy names another MX:
  // the DNSSEC-validated TLSA record decides (RFC 7672 §3, RFC 8461 §2).
  const std::string marker = "RELAY-DANE-OK-5107";
  const auto o = send("bob@ok.dane.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::delivered) << o.detail;
  EXPECT_TRUE(sinks_.at("daneok")->wait_for(marker));
  const auto c = counts("ok.dane.test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->policy.type, rpt::policy_type::tlsa);
  EXPECT_EQ(c->total_successful_session_count, 1u);
  ASSERT_EQ(c->policy.policy_string.size(), 1u);
  EXPECT_EQ(c->policy.policy_string.front(), "3 1 1 " + dane_ok_spki_);
}

TEST_F(relay_tls_policy, dane_mismatch_never_gets_the_message) {
  // The MX's certificate is valid for its name under the web PKI, but pins nothing in DNS.
  const std::string marker = "RELAY-DANE-BAD-5108";
  const auto o = send("bob@bad.dane.test", marker);
  EXPECT_EQ(o.status, relay::outcome_status::transient) << o.detail;
  ASSERT_TRUE(sinks_.at("danebad")->wait_for("STARTTLS"));
  expect_nothing_sent("danebad", marker);
  const auto c = counts("bad.dane.test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->policy.type, rpt::policy_type::tlsa);
  ASSERT_EQ(c->failure_details.size(), 1u);
  EXPECT_EQ(c->failure_details.front().result, rpt::result_type::tlsa_invalid);
}

// Last: send_tls_reports() clears the counts.
TEST_F(relay_tls_policy, zz_daily_report_is_mailed_and_posted) {
  (void)send("carol@strip.sts.test", "RELAY-STRIP-REPORT-5109");
  relay::tls_report_options ro;
  ro.organization_name = "sender.test";
  ro.contact_info = "mailto:tlsrpt@sender.test";
  ro.submitter = "sender.test";
  ro.from = "tlsrpt-noreply@sender.test";
  ro.https.ca_file = (dir_ / "reports-ca.pem").string();
  ro.https.timeout = 10s;
  ro.https.resolver = resolver_.get();
  // The scheduler: the first tick marks the day, the next one after midnight UTC sends.
  relay::tls_report_scheduler sched(*transport_, *resolver_, ro);
  const auto day1 = mailkit::clock::time_point(1765000000s); // 2025-12-06T05:46:40Z
  EXPECT_TRUE(sched.tick(day1).empty());
  EXPECT_FALSE(sched.due(day1 + 1h));
  const auto day2 = day1 + 24h;
  EXPECT_TRUE(sched.due(day2));
  const auto sent = sched.tick(day2);
  ASSERT_EQ(sent.size(), 2u); // strip.sts.test publishes _smtp._tls: mailto and https
  for (const auto& d : sent) {
    EXPECT_EQ(d.policy_domain, "strip.sts.test");
    EXPECT_TRUE(d.sent) << d.rua << ": " << d.detail;
  }
  EXPECT_TRUE(sched.tick(day2 + 1h).empty());
  EXPECT_TRUE(transport_->tls_reports().domains().empty()); // every domain was cleared

  // HTTPS (RFC 8460 §5.4).
  const auto got = report_server_->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.front().content_type, "application/tlsrpt+gzip");
  const auto posted = rpt::parse_report(*rpt::gunzip(got.front().body));
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->start_datetime, "2025-12-06T00:00:00Z");

  // Mail (RFC 8460 §5.3), parsed back from what the sink received.
  const sink& box = *sinks_.at("rua");
  ASSERT_TRUE(box.wait_for("END MESSAGE"));
  const std::string log = box.log();
  EXPECT_NE(log.find("TLS-Report-Domain: strip.sts.test"), std::string::npos) << log;
  EXPECT_NE(log.find("TLS-Report-Submitter: sender.test"), std::string::npos) << log;
  // RFC 8460 §5.3 Subject (folded before "Submitter:" and "Report-ID:").
  EXPECT_NE(log.find("Subject: Report Domain: strip.sts.test"), std::string::npos) << log;
  EXPECT_NE(log.find("Report-ID: <" + posted->report_id + ">"), std::string::npos) << log;
  EXPECT_NE(log.find("multipart/report"), std::string::npos);
  const auto message = log.find("MESSAGE FOLLOWS");
  ASSERT_NE(message, std::string::npos) << log;
  const auto at = log.find("Content-Type: application/tlsrpt+gzip", message);
  ASSERT_NE(at, std::string::npos) << log;
  const auto body = log.find("\n\n", at);
  ASSERT_NE(body, std::string::npos);
  const auto end = log.find("\n--", body);
  ASSERT_NE(end, std::string::npos);
  const std::string gz = mailkit::base64::decode_mime(log.substr(body + 2, end - body - 2));
  const auto json = rpt::gunzip(gz);
  ASSERT_TRUE(json);
  const auto mailed = rpt::parse_report(*json);
  ASSERT_TRUE(mailed) << *json;
  EXPECT_EQ(mailed->report_id, posted->report_id);
  EXPECT_EQ(mailed->organization_name, "sender.test");
  EXPECT_EQ(mailed->start_datetime, "2025-12-06T00:00:00Z");
  EXPECT_EQ(mailed->end_datetime, "2025-12-06T23:59:59Z");
  ASSERT_EQ(mailed->policies.size(), 1u);
  const auto& p = mailed->policies.front();
  EXPECT_EQ(p.policy.domain, "strip.sts.test");
  EXPECT_EQ(p.policy.type, rpt::policy_type::sts);
  EXPECT_GE(p.total_failure_session_count, 2u);
  ASSERT_FALSE(p.failure_details.empty());
  EXPECT_EQ(p.failure_details.front().result, rpt::result_type::starttls_not_supported);
}
