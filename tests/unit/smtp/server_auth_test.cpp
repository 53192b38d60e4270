// SPDX-License-Identifier: Apache-2.0
// Listener modes, STARTTLS (RFC 3207) with the injection case, AUTH PLAIN/LOGIN (RFC 4954,
// RFC 4616) with every failure path and the failure limit.
#include "server_driver.hpp"

#include <mailkit/core/base64.hpp>

#include <gtest/gtest.h>

using namespace mailkit::smtp;
using mailkit::smtp::testing::codes;
using mailkit::smtp::testing::driver;

namespace {

server_config submission() {
  auto c = server_config::for_mode(listener_mode::submission, "smtp.example.org", true);
  c.limits.max_message_size = 1024 * 1024;
  return c;
}

server_config implicit_tls() {
  return server_config::for_mode(listener_mode::submission_implicit_tls, "smtp.example.org", true);
}

std::string plain(std::string_view authz, std::string_view user, std::string_view pass) {
  std::string m(authz);
  m += '\0';
  m += user;
  m += '\0';
  m += pass;
  return mailkit::base64::encode(m);
}

} // namespace

TEST(SmtpServerAuth, SubmissionBeforeTls) {
  driver d(submission());
  const std::string out = d.run("EHLO c\r\nAUTH PLAIN " + plain("", "user@example.org", "secret") +
                                "\r\nMAIL FROM:<user@example.org>\r\n");
  EXPECT_NE(out.find("250-STARTTLS"), std::string::npos);
  EXPECT_EQ(out.find("AUTH PLAIN"), std::string::npos); // not offered before TLS
  // RFC 4954 §6 538; RFC 3207 §4 530.
  EXPECT_EQ(codes(out), (std::vector<int>{220, 250, 538, 530}));
  EXPECT_NE(out.find("538 5.7.11"), std::string::npos);
  EXPECT_TRUE(d.auths.empty()); // the policy never saw the plaintext password
}

TEST(SmtpServerAuth, StartTlsInjectionIsDiscarded) {
  // CVE-2011-0411: commands in the same packet as STARTTLS must never run.
  for (std::size_t piece : {std::string_view::npos, std::size_t{1}}) {
    driver d(submission());
    d.run("EHLO c\r\nSTARTTLS\r\nMAIL FROM:<attacker@example.net>\r\nRCPT TO:<x@example.org>\r\n",
          piece);
    ASSERT_TRUE(d.tls_pending);
    EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 220}));
    if (piece == 1) {
      // Byte by byte, the core stopped reading at the STARTTLS line; the rest never arrived.
    }
    d.s.tls_established();
    d.tls_pending = false;
    // After TLS: state before EHLO; no MAIL has happened.
    const std::string out = d.run("MAIL FROM:<a@example.org>\r\nEHLO c\r\n");
    EXPECT_EQ(codes(out), (std::vector<int>{503, 250}));
    EXPECT_FALSE(d.s.in_transaction());
    EXPECT_EQ(std::count(d.events.begin(), d.events.end(), event_kind::mail), 0);
    EXPECT_NE(out.find("250-AUTH PLAIN LOGIN"), std::string::npos);
    EXPECT_EQ(out.find("STARTTLS"), std::string::npos);
  }
}

TEST(SmtpServerAuth, StartTlsRules) {
  driver d(submission());
  d.run("STARTTLS\r\nEHLO c\r\nSTARTTLS now\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 503, 250, 501}));
  driver m; // mx without a TLS context
  m.run("EHLO c\r\nSTARTTLS\r\n");
  EXPECT_EQ(codes(m.out), (std::vector<int>{220, 250, 502}));
  driver t(implicit_tls());
  t.run("EHLO c\r\nSTARTTLS\r\n");
  EXPECT_EQ(codes(t.out), (std::vector<int>{220, 250, 503}));
}

TEST(SmtpServerAuth, StartTlsResetsHeloAndTransaction) {
  auto cfg = server_config::for_mode(listener_mode::mx, "mx.example.org", true);
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nSTARTTLS\r\n");
  ASSERT_TRUE(d.tls_pending);
  d.s.tls_established();
  d.tls_pending = false;
  d.run("RCPT TO:<b@example.org>\r\nEHLO c\r\nMAIL FROM:<a@example.net> REQUIRETLS\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 220, 503, 250, 250}));
  EXPECT_TRUE(d.s.tls_active());
}

TEST(SmtpServerAuth, StartTlsDuringBdatAbortsTheMessage) {
  auto cfg = server_config::for_mode(listener_mode::mx, "mx.example.org", true);
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nBDAT 3\r\nabcSTARTTLS\r\n");
  EXPECT_TRUE(d.tls_pending);
  EXPECT_EQ(d.aborted, 1U);
}

TEST(SmtpServerAuth, PlainWithInitialResponse) {
  driver d(implicit_tls());
  d.run("EHLO c\r\nAUTH PLAIN " + plain("", "user@example.org", "secret") +
        "\r\nMAIL FROM:<user@example.org>\r\nRCPT TO:<someone@elsewhere.example>\r\n"
        "DATA\r\nx\r\n.\r\nAUTH PLAIN\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 235, 250, 250, 354, 250, 503}));
  ASSERT_EQ(d.envelopes.size(), 1U);
  EXPECT_EQ(d.envelopes[0].authenticated_as, "user@example.org"); // relaying allowed after AUTH
  EXPECT_TRUE(d.envelopes[0].tls);
  ASSERT_EQ(d.auths.size(), 1U);
  EXPECT_EQ(d.auths[0].mechanism, "PLAIN");
}

TEST(SmtpServerAuth, PlainWithChallenge) {
  driver d(implicit_tls());
  const std::string out = d.run("EHLO c\r\nAUTH PLAIN\r\n" +
                                plain("user@example.org", "user@example.org", "secret") + "\r\n");
  EXPECT_NE(out.find("334 \r\n"), std::string::npos); // RFC 4954 §4: empty challenge
  EXPECT_EQ(codes(out), (std::vector<int>{220, 250, 334, 235}));
  EXPECT_EQ(d.auths[0].authzid, "user@example.org");
}

TEST(SmtpServerAuth, Login) {
  driver d(implicit_tls());
  const std::string out =
      d.run("EHLO c\r\nAUTH LOGIN\r\n" + mailkit::base64::encode("user@example.org") + "\r\n" +
            mailkit::base64::encode("secret") + "\r\n");
  EXPECT_NE(out.find("334 VXNlcm5hbWU6\r\n"), std::string::npos);
  EXPECT_NE(out.find("334 UGFzc3dvcmQ6\r\n"), std::string::npos);
  EXPECT_EQ(codes(out), (std::vector<int>{220, 250, 334, 334, 235}));
  driver e(implicit_tls()); // LOGIN with the user name as initial response
  e.run("EHLO c\r\nAUTH LOGIN " + mailkit::base64::encode("user@example.org") + "\r\n" +
        mailkit::base64::encode("secret") + "\r\n");
  EXPECT_EQ(codes(e.out), (std::vector<int>{220, 250, 334, 235}));
}

TEST(SmtpServerAuth, FailurePaths) {
  driver d(implicit_tls());
  d.run("EHLO c\r\nAUTH SOMETHINGELSE\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n!!notbase64\r\n"
        "AUTH PLAIN =\r\nAUTH PLAIN " +
        mailkit::base64::encode("no-nul-here") + "\r\n");
  // 504 unknown mechanism; "*" cancels with 501; bad base64 501; "=" (empty) is not a PLAIN
  // message: 501; a message without NULs: 501.
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 504, 334, 501, 334, 501, 501, 501}));
  EXPECT_TRUE(d.auths.empty());
  EXPECT_TRUE(d.s.authenticated_as().empty());
}

TEST(SmtpServerAuth, WrongPasswordThenRight) {
  driver d(implicit_tls());
  d.run("EHLO c\r\nAUTH PLAIN " + plain("", "user@example.org", "wrong") + "\r\nAUTH PLAIN " +
        plain("", "user@example.org", "secret") + "\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 535, 235}));
  EXPECT_NE(d.out.find("535 5.7.8"), std::string::npos);
}

TEST(SmtpServerAuth, TooManyFailuresDisconnect) {
  driver d(implicit_tls());
  std::string in = "EHLO c\r\n";
  for (int i = 0; i < 5; ++i)
    in += "AUTH PLAIN " + plain("", "user@example.org", "bad") + "\r\n";
  d.run(in);
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 535, 535, 421}));
  EXPECT_TRUE(d.closed());
  EXPECT_EQ(d.s.why_closed(), close_reason::too_many_auth_failures);
}

TEST(SmtpServerAuth, AuthNotOnMxAndNotInTransaction) {
  driver d;
  d.run("EHLO c\r\nAUTH PLAIN " + plain("", "user@example.org", "secret") + "\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 502}));
  driver e(implicit_tls());
  e.run("HELO c\r\nAUTH PLAIN x\r\nEHLO c\r\nAUTH PLAIN " +
        plain("", "user@example.org", "secret") +
        "\r\nMAIL FROM:<user@example.org>\r\nAUTH LOGIN\r\n");
  EXPECT_EQ(codes(e.out), (std::vector<int>{220, 250, 503, 250, 235, 250, 503}));
}

TEST(SmtpServerAuth, SubmissionNeedsAuthForMail) {
  driver d(implicit_tls());
  d.run("EHLO c\r\nMAIL FROM:<user@example.org>\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 530}));
  EXPECT_NE(d.out.find("530 5.7.0"), std::string::npos);
}

TEST(SmtpServerAuth, SaslFieldLimits) {
  // RFC 4616 §2: each field at most 255 octets.
  driver d(implicit_tls());
  d.run("EHLO c\r\nAUTH PLAIN " + plain("", std::string(256, 'u'), "secret") + "\r\nAUTH PLAIN " +
        plain("", std::string(255, 'u'), "secret") + "\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 501, 535}));
}

TEST(SmtpServerAuth, AuthLineLimit) {
  // RFC 4954 §4: AUTH lines up to 12288 octets are read; longer ones are refused.
  driver d(implicit_tls());
  d.run("EHLO c\r\nAUTH PLAIN\r\n" + std::string(12286, 'A') + "\r\nAUTH PLAIN\r\n" +
        std::string(12287, 'A') + "\r\nNOOP\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 334, 501, 334, 500, 250}));
}

TEST(SmtpServerAuth, PlaintextAuthWhenAllowed) {
  auto cfg = submission();
  cfg.allow_plaintext_auth = true;
  cfg.require_tls_for_mail = false;
  driver d(cfg);
  d.run("EHLO c\r\nAUTH PLAIN " + plain("", "user@example.org", "secret") +
        "\r\nMAIL FROM:<user@example.org>\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 235, 250}));
}
