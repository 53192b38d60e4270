// SPDX-License-Identifier: Apache-2.0
// The outbound transport without a network: configuration checks, routing rules, approved
// senders, and every outcome decided before a connection (held for quota, null sender refused,
// too large for the relay, unreadable message file, null MX, unknown domain).
#include <mailkit/relay/relay.hpp>

#include <mailkit/dns/static_resolver.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace mailkit;
using namespace mailkit::relay;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using time_point = mailkit::relay::time_point;

namespace {

relay_config oci_relay() {
  relay_config r;
  r.name = "oci";
  r.preset = "oci:eu-frankfurt-1";
  r.username = "ocid1.user.oc1..aaaa";
  r.password = smtp::secret("s3cret");
  r.approved_senders = {"alice@example.org", "@news.example.org"};
  return r;
}

config base_config() {
  config c;
  c.relays.push_back(oci_relay());
  relay_config b;
  b.name = "brevo";
  b.preset = "brevo";
  c.relays.push_back(std::move(b));
  c.rules = {{"partner.test", "", "direct"}, {"", "@news.example.org", "brevo"}, {"*", "", "oci"}};
  return c;
}

} // namespace

TEST(relay_transport, create_validates) {
  EXPECT_TRUE(transport::create(base_config(), nullptr));
  {
    auto c = base_config();
    c.relays[0].preset = "nosuch";
    EXPECT_FALSE(transport::create(std::move(c), nullptr));
  }
  {
    auto c = base_config();
    c.rules.push_back({"x.test", "", "missing"});
    EXPECT_FALSE(transport::create(std::move(c), nullptr));
  }
  {
    auto c = base_config();
    c.relays[0].failover = "oci"; // itself
    EXPECT_FALSE(transport::create(std::move(c), nullptr));
  }
  {
    auto c = base_config();
    c.relays.push_back(oci_relay()); // duplicate name
    EXPECT_FALSE(transport::create(std::move(c), nullptr));
  }
  {
    auto c = base_config();
    c.relays[0].password_file = "/nonexistent/password";
    auto t = transport::create(std::move(c), nullptr);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error(), make_error_code(errc::io_error));
  }
  {
    auto c = base_config();
    c.dkim.push_back({"example.org", "s1", "not a key", ""});
    EXPECT_FALSE(transport::create(std::move(c), nullptr));
  }
}

TEST(relay_transport, routes) {
  auto t = *transport::create(base_config(), nullptr);
  EXPECT_EQ(t->route_for("alice@example.org", "bob@partner.test"), "direct");
  EXPECT_EQ(t->route_for("list@news.example.org", "bob@gmail.test"), "brevo");
  EXPECT_EQ(t->route_for("alice@example.org", "bob@gmail.test"), "oci");
  EXPECT_EQ(t->route_for("", "BOB@PARTNER.TEST"), "direct");
  const preset* p = t->relay_preset("oci");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->host, "smtp.email.eu-frankfurt-1.oci.oraclecloud.com");
  EXPECT_EQ(t->relay_preset("nosuch"), nullptr);
}

TEST(relay_transport, approved_senders) {
  EXPECT_TRUE(sender_approved("Alice@Example.org", {"alice@example.org"}));
  EXPECT_TRUE(sender_approved("x@news.example.org", {"@news.example.org"}));
  EXPECT_TRUE(sender_approved("x@news.example.org", {"news.example.org"}));
  EXPECT_FALSE(sender_approved("x@sub.news.example.org", {"news.example.org"}));
  EXPECT_FALSE(sender_approved("bob@example.org", {"alice@example.org"}));
  EXPECT_FALSE(sender_approved("", {"alice@example.org"}));

  auto t = *transport::create(base_config(), nullptr);
  const std::vector<std::string> good{"alice@example.org"};
  const std::vector<std::string> bad{"mallory@example.org"};
  EXPECT_TRUE(t->check_sender("alice@example.org", good, "x@gmail.test").allowed);
  auto v = t->check_sender("bob@example.org", {}, "x@gmail.test");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.relay, "oci");
  EXPECT_EQ(v.reply.code, 550);
  ASSERT_TRUE(v.reply.enhanced);
  EXPECT_EQ(v.reply.enhanced->to_string(), "5.7.1");
  // OCI checks the header From too.
  v = t->check_sender("alice@example.org", bad, "x@gmail.test");
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.reply.text().find("mallory@example.org"), std::string::npos);
  // Direct routes and relays without a list accept anyone.
  EXPECT_TRUE(t->check_sender("bob@example.org", bad, "x@partner.test").allowed);
  // OCI refuses the null sender unless a replacement is configured.
  EXPECT_FALSE(t->check_sender("", {}, "x@gmail.test").allowed);
}

TEST(relay_transport, header_from) {
  EXPECT_EQ(header_from_addresses("Subject: x\r\nFrom: \"A\" <a@example.org>,\r\n b@example.org\r\n"
                                  "\r\nFrom: body@example.org\r\n"),
            (std::vector<std::string>{"a@example.org", "b@example.org"}));
  EXPECT_EQ(header_from_addresses("from : c@example.org\n\n"),
            std::vector<std::string>{"c@example.org"});
  EXPECT_TRUE(header_from_addresses("Subject: none\r\n\r\n").empty());
}

TEST(relay_transport, held_when_quota_used_never_bounced) {
  manual_clock clk(time_point(seconds(1773138600)));
  auto c = base_config();
  limits l;
  l.per_day = 1;
  l.counting = count_mode::per_message;
  c.relays[0].quota = l;
  c.clk = &clk;
  auto t = *transport::create(std::move(c), nullptr);
  ASSERT_TRUE(t->quotas().reserve("oci", l, 1, priority::interactive).granted); // used up
  outbound_message m;
  m.queue_id = "Q1";
  m.reverse_path = "alice@example.org";
  m.recipients = {{"x@gmail.test", "", ""}, {"y@gmail.test", "", ""}};
  const std::string data = "From: alice@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
  m.data = data;
  auto out = t->deliver(m);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& o : out) {
    EXPECT_EQ(o.status, outcome_status::held);
    EXPECT_EQ(o.route, "oci");
    ASSERT_TRUE(o.held_until);
    EXPECT_EQ(*o.held_until, time_point(seconds(1773100800 + 86400)));
    EXPECT_EQ(o.reply.code / 100, 4);
  }
  EXPECT_EQ(t->quota_usage_of("oci").used_today, 1u);
}

TEST(relay_transport, failover_when_held) {
  manual_clock clk(time_point(seconds(1773138600)));
  auto c = base_config();
  limits l;
  l.per_day = 1;
  c.relays[0].quota = l;
  c.relays[0].failover = "brevo";
  c.relays[1].quota = l;
  c.clk = &clk;
  auto t = *transport::create(std::move(c), nullptr);
  ASSERT_TRUE(t->quotas().reserve("oci", l, 1, priority::interactive).granted);
  ASSERT_TRUE(t->quotas().reserve("brevo", l, 1, priority::interactive).granted);
  outbound_message m;
  m.reverse_path = "alice@example.org";
  m.recipients = {{"x@gmail.test", "", ""}};
  m.data = "From: alice@example.org\r\n\r\nx\r\n";
  auto out = t->deliver(m);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, outcome_status::held);
  EXPECT_EQ(out[0].route, "brevo"); // tried the failover, held there too
}

TEST(relay_transport, refusals_before_connecting) {
  auto c = base_config();
  limits l;
  l.max_message_size = 100;
  c.relays[1].quota = l;
  auto t = *transport::create(std::move(c), nullptr);
  // OCI refuses <> and no null_sender_address: permanent, never sent.
  outbound_message dsn;
  dsn.recipients = {{"x@gmail.test", "", ""}};
  dsn.data = "From: MAILER-DAEMON@example.org\r\n\r\nbounce\r\n";
  auto out = t->deliver(dsn);
  EXPECT_EQ(out[0].status, outcome_status::permanent);
  EXPECT_NE(out[0].reply.text().find("null sender"), std::string::npos);
  // Too large for Brevo's configured limit.
  outbound_message big;
  big.reverse_path = "list@news.example.org";
  big.recipients = {{"x@gmail.test", "", ""}};
  const std::string data = "From: list@news.example.org\r\n\r\n" + std::string(200, 'x') + "\r\n";
  big.data = data;
  out = t->deliver(big);
  EXPECT_EQ(out[0].status, outcome_status::permanent);
  EXPECT_EQ(out[0].reply.code, 552);
  // A queued file that cannot be read: transient.
  outbound_message missing;
  missing.reverse_path = "alice@example.org";
  missing.recipients = {{"x@gmail.test", "", ""}};
  missing.file = "/nonexistent/queue/file";
  out = t->deliver(missing);
  EXPECT_EQ(out[0].status, outcome_status::transient);
}

TEST(relay_transport, direct_without_destination) {
  dns::static_resolver z;
  z.add("nomail.test", dns::rtype::mx, dns::mx{0, ""});
  z.fail("slow.test", dns::errc::timed_out);
  config c;
  auto t = *transport::create(std::move(c), &z);
  outbound_message m;
  m.reverse_path = "a@example.org";
  m.recipients = {{"x@nomail.test", "", ""},
                  {"y@missing.test", "", ""},
                  {"z@slow.test", "", ""},
                  {"nodomain", "", ""}};
  m.data = "From: a@example.org\r\n\r\nx\r\n";
  auto out = t->deliver(m);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].status, outcome_status::permanent);
  EXPECT_EQ(out[0].reply.code, 556); // RFC 7505 §4.2
  EXPECT_EQ(out[0].reply.enhanced->to_string(), "5.1.10");
  EXPECT_EQ(out[1].status, outcome_status::permanent);
  EXPECT_EQ(out[2].status, outcome_status::transient);
  EXPECT_EQ(out[3].status, outcome_status::permanent);
  for (const auto& o : out)
    EXPECT_EQ(o.route, "direct");
}

TEST(relay_transport, password_file_is_read_and_never_printed) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mailkit-relay-pw-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "secret";
  std::ofstream(file) << "file-secret\n";
  auto c = base_config();
  c.relays[0].password = smtp::secret();
  c.relays[0].password_file = file.string();
  EXPECT_TRUE(transport::create(std::move(c), nullptr));
  smtp::secret s("file-secret");
  EXPECT_EQ(s.redacted(), "<redacted>");
  std::filesystem::remove_all(dir);
}

TEST(relay_transport, failed_tlsa_lookup_makes_the_mx_unusable) {
  // RFC 7672 §2.2.1: a TLSA lookup that fails (SERVFAIL from a validating resolver may be a
  // forged answer) means no delivery to that MX, not even opportunistically: the message is
  // deferred before any connection, and TLS-RPT counts dnssec-invalid (RFC 8460 §4.3.2).
  dns::static_resolver z;
  z.add("dane.test", dns::rtype::mx, dns::mx{10, "mx.dane.test"});
  z.add("mx.dane.test", dns::rtype::a, "192.0.2.1"); // never contacted
  z.fail("_25._tcp.mx.dane.test", dns::rtype::tlsa, dns::errc::servfail);
  z.set_authenticated("dane.test");    // RFC 7672 §2.2.1: a secure MX RRset ...
  z.set_authenticated("mx.dane.test"); // ... and secure address records
  config c;
  c.mx.ipv6 = false;
  c.direct.ipv6 = false;
  c.timeouts = smtp::session_timeouts::all(seconds(1));
  auto t = *transport::create(std::move(c), &z);
  outbound_message m;
  m.reverse_path = "a@example.org";
  m.recipients = {{"x@dane.test", "", ""}};
  m.data = "From: a@example.org\r\n\r\nx\r\n";
  const auto out = t->deliver(m);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, outcome_status::transient);
  EXPECT_NE(out[0].detail.find("TLSA"), std::string::npos) << out[0].detail;
  EXPECT_TRUE(out[0].remote_mta.empty());
  const auto r = t->tls_reports().make_report("dane.test", "o", "c", "id", time_point(seconds(0)),
                                              time_point(seconds(86399)));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->policies.size(), 1u);
  EXPECT_EQ(r->policies[0].policy.type, tlsrpt::policy_type::tlsa);
  ASSERT_EQ(r->policies[0].failure_details.size(), 1u);
  EXPECT_EQ(r->policies[0].failure_details[0].result, tlsrpt::result_type::dnssec_invalid);
  EXPECT_EQ(r->policies[0].failure_details[0].receiving_mx_hostname, "mx.dane.test");
}

TEST(relay_transport, dane_and_mta_sts_can_be_switched_off) {
  // With both off, the failing TLSA name is never asked for: the MX is tried (and, here,
  // cannot be reached: nothing listens on the discard port of loopback).
  dns::static_resolver z;
  z.add("plain.test", dns::rtype::mx, dns::mx{10, "mx.plain.test"});
  z.add("mx.plain.test", dns::rtype::a, "127.0.0.1");
  z.fail("_9._tcp.mx.plain.test", dns::rtype::tlsa, dns::errc::servfail);
  z.fail("_mta-sts.plain.test", dns::rtype::txt, dns::errc::servfail);
  config c;
  c.mx.ipv6 = false;
  c.direct.ipv6 = false;
  c.direct.port = 9;
  c.direct.dane = false;
  c.direct.mta_sts = false;
  c.timeouts = smtp::session_timeouts::all(seconds(2));
  auto t = *transport::create(std::move(c), &z);
  outbound_message m;
  m.reverse_path = "a@example.org";
  m.recipients = {{"x@plain.test", "", ""}};
  m.data = "From: a@example.org\r\n\r\nx\r\n";
  const auto out = t->deliver(m);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, outcome_status::transient);
  EXPECT_EQ(out[0].detail.find("TLSA"), std::string::npos) << out[0].detail;
  EXPECT_TRUE(t->tls_reports().domains().empty());
}

TEST(relay_transport, no_dane_for_an_insecure_mx) {
  // RFC 7672 §2.2.1: an MX RRset without the AD bit could be forged; its hosts' TLSA records
  // are not even looked up (the failing TLSA name would otherwise defer the message).
  dns::static_resolver z;
  z.add("insecure.test", dns::rtype::mx, dns::mx{10, "mx.insecure.test"});
  z.add("mx.insecure.test", dns::rtype::a, "127.0.0.1");
  z.set_authenticated("mx.insecure.test");
  z.fail("_9._tcp.mx.insecure.test", dns::rtype::tlsa, dns::errc::servfail);
  config c;
  c.mx.ipv6 = false;
  c.direct.ipv6 = false;
  c.direct.port = 9; // nothing listens: the MX is tried and cannot be reached
  c.timeouts = smtp::session_timeouts::all(seconds(2));
  auto t = *transport::create(std::move(c), &z);
  outbound_message m;
  m.reverse_path = "a@example.org";
  m.recipients = {{"x@insecure.test", "", ""}};
  m.data = "From: a@example.org\r\n\r\nx\r\n";
  const auto out = t->deliver(m);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, outcome_status::transient);
  EXPECT_EQ(out[0].detail.find("TLSA"), std::string::npos) << out[0].detail;
  EXPECT_TRUE(t->tls_reports().domains().empty());
}
