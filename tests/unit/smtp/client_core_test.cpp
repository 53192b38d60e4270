// SPDX-License-Identifier: Apache-2.0
// smtp::client driven with scripted server bytes: every branch of the dialogue (HELO fallback,
// STARTTLS and the EHLO after it, AUTH PLAIN/LOGIN/forced/absent, pipelining order,
// per-recipient failures, SIZE/SMTPUTF8/8BITMIME refusals, CHUNKING, DSN parameters, several
// transactions on one connection) and hostile servers.
#include <mailkit/smtp/client.hpp>

#include <mailkit/core/base64.hpp>

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace smtp = mailkit::smtp;
using action = smtp::client::action;

namespace {

struct outgoing {
  smtp::envelope env;
  std::string message;
};

struct run_result {
  std::vector<std::string> writes; // each take_output(), in order
  std::string sent;                // all of them, with "<TLS>\r\n" where the handshake happened
  std::vector<smtp::transaction_result> results;
  mailkit::error_code error;
  std::optional<smtp::reply> error_reply;
  std::string detail;
  bool closed = false;
  int handshakes = 0;
  smtp::capabilities caps;
  bool authenticated = false;
};

// Feed `server` one chunk per receive action; EOF when it runs out.
run_result drive(smtp::client_options opts, std::deque<std::string> server,
                 std::deque<outgoing> messages) {
  smtp::client c(std::move(opts));
  run_result out;
  for (int guard = 0; guard < 100000; ++guard) {
    switch (c.step()) {
    case action::send: {
      std::string w = c.take_output();
      out.sent += w;
      out.writes.push_back(std::move(w));
      break;
    }
    case action::receive:
      if (server.empty()) {
        c.connection_closed();
      } else {
        c.feed(server.front());
        server.pop_front();
      }
      break;
    case action::start_tls:
      ++out.handshakes;
      out.sent += "<TLS>\r\n";
      c.tls_started();
      break;
    case action::ready:
      out.caps = c.server_capabilities();
      out.authenticated = c.authenticated();
      if (!messages.empty()) {
        outgoing m = std::move(messages.front());
        messages.pop_front();
        c.start(std::move(m.env), m.message);
      } else {
        c.quit();
      }
      break;
    case action::transaction_done:
      out.results.push_back(c.take_result());
      break;
    case action::closed:
      out.closed = true;
      return out;
    case action::failed:
      out.error = c.error();
      out.error_reply = c.error_reply();
      out.detail = c.error_detail();
      return out;
    }
  }
  ADD_FAILURE() << "the client did not finish";
  return out;
}

smtp::envelope env(std::string from, std::vector<std::string> to) {
  smtp::envelope e;
  e.mail_from = std::move(from);
  for (auto& t : to)
    e.recipients.push_back({std::move(t), "", ""});
  return e;
}

const std::string greeting = "220 mx.test ESMTP\r\n";
const std::string msg = "From: a@x.test\r\nTo: b@y.test\r\nSubject: hi\r\n\r\nHello\r\n";

smtp::client_options plain_opts() {
  smtp::client_options o;
  o.helo_name = "client.test";
  return o;
}

} // namespace

TEST(ClientCore, MinimalDialogueWithoutExtensions) {
  auto r = drive(plain_opts(),
                 {greeting, "250 mx.test\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
                  "250 queued\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_EQ(r.sent, "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" +
                        msg + ".\r\nQUIT\r\n");
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_TRUE(r.results[0].all_delivered());
  EXPECT_EQ(r.results[0].final_reply->text(), "queued");
}

TEST(ClientCore, HeloFallbackOn500And502) {
  for (const char* refusal : {"500 what?\r\n", "502 not implemented\r\n"}) {
    auto r = drive(plain_opts(),
                   {greeting, refusal, "250 mx.test\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
                    "250 ok\r\n", "221 bye\r\n"},
                   {{env("a@x.test", {"b@y.test"}), msg}});
    EXPECT_TRUE(r.closed) << r.detail;
    EXPECT_NE(r.sent.find("EHLO client.test\r\nHELO client.test\r\n"), std::string::npos);
    EXPECT_FALSE(r.caps.esmtp);
  }
}

TEST(ClientCore, GreetingAndHelloRefusals) {
  auto a = drive(plain_opts(), {"554 go away\r\n"}, {});
  EXPECT_EQ(a.error, smtp::client_errc::greeting_rejected_permanent);
  EXPECT_TRUE(mailkit::is_permanent(a.error));
  ASSERT_TRUE(a.error_reply);
  EXPECT_EQ(a.error_reply->code, 554);
  auto b = drive(plain_opts(), {"421 busy\r\n"}, {});
  EXPECT_EQ(b.error, smtp::client_errc::greeting_rejected);
  EXPECT_FALSE(mailkit::is_permanent(b.error));
  auto c = drive(plain_opts(), {greeting, "421 later\r\n"}, {});
  EXPECT_EQ(c.error, smtp::client_errc::hello_rejected);
  auto d = drive(plain_opts(), {greeting, "550 no\r\n"}, {});
  EXPECT_EQ(d.error, smtp::client_errc::hello_rejected_permanent);
  auto e = drive(plain_opts(), {greeting, "500 eh\r\n", "501 no\r\n"}, {});
  EXPECT_EQ(e.error, smtp::client_errc::hello_rejected_permanent);
}

TEST(ClientCore, StartTlsThenEhloAgainAndForgetEverything) {
  auto o = plain_opts();
  o.starttls = true;
  o.require_starttls = true;
  o.auth = smtp::credentials{"user", smtp::secret("pw")};
  // Before TLS the server lists PLAIN; after TLS only LOGIN. The client must use LOGIN.
  auto r = drive(o,
                 {greeting, "250-mx.test\r\n250-AUTH PLAIN\r\n250-SIZE 10\r\n250 STARTTLS\r\n",
                  "220 go ahead\r\n", "250-mx.test\r\n250 AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n",
                  "334 UGFzc3dvcmQ6\r\n", "235 ok\r\n", "221 bye\r\n"},
                 {});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_EQ(r.handshakes, 1);
  EXPECT_EQ(r.sent, "EHLO client.test\r\nSTARTTLS\r\n<TLS>\r\nEHLO client.test\r\nAUTH LOGIN\r\n"
                    "dXNlcg==\r\ncHc=\r\nQUIT\r\n");
  EXPECT_FALSE(r.caps.size); // SIZE 10 was learned before TLS and forgotten
  EXPECT_TRUE(r.authenticated);
}

TEST(ClientCore, StartTlsRequiredButNotOffered) {
  auto o = plain_opts();
  o.starttls = o.require_starttls = true;
  auto r = drive(o, {greeting, "250 mx.test\r\n"}, {});
  EXPECT_EQ(r.error, smtp::client_errc::starttls_unavailable);
  EXPECT_EQ(r.sent, "EHLO client.test\r\n"); // nothing else said in plaintext
}

TEST(ClientCore, StartTlsOpportunisticFallsBackToPlaintext) {
  auto o = plain_opts();
  o.starttls = true;
  auto r = drive(
      o, {greeting, "250-mx.test\r\n250 STARTTLS\r\n", "454 TLS not available\r\n", "221 bye\r\n"},
      {});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_EQ(r.handshakes, 0);
  auto o2 = o;
  o2.require_starttls = true;
  auto r2 = drive(o2, {greeting, "250-mx.test\r\n250 STARTTLS\r\n", "454 no\r\n"}, {});
  EXPECT_EQ(r2.error, smtp::client_errc::starttls_rejected);
}

TEST(ClientCore, StartTlsResponseInjectionIsRefused) {
  auto o = plain_opts();
  o.starttls = o.require_starttls = true;
  // The 220 and a forged EHLO reply arrive together, before any handshake.
  auto r = drive(
      o, {greeting, "250-mx.test\r\n250 STARTTLS\r\n", "220 go\r\n250-evil\r\n250 AUTH PLAIN\r\n"},
      {});
  EXPECT_EQ(r.error, smtp::client_errc::starttls_injection);
  EXPECT_EQ(r.handshakes, 0);
}

TEST(ClientCore, AuthPlainWithInitialResponse) {
  auto o = plain_opts();
  o.auth = smtp::credentials{"user@x.test", smtp::secret("s3cret")};
  o.auth_without_tls = true;
  auto r = drive(
      o, {greeting, "250-mx.test\r\n250 AUTH LOGIN PLAIN\r\n", "235 ok\r\n", "221 bye\r\n"}, {});
  EXPECT_TRUE(r.closed) << r.detail;
  const std::string expected = mailkit::base64::encode(std::string("\0user@x.test\0s3cret", 19));
  EXPECT_EQ(r.sent, "EHLO client.test\r\nAUTH PLAIN " + expected + "\r\nQUIT\r\n");
}

TEST(ClientCore, AuthPlainLongUserNameGoesAfterTheChallenge) {
  auto o = plain_opts();
  // An OCI-style user name: long enough that "AUTH PLAIN <base64>" passes 512 octets.
  const std::string user = "ocid1.user.oc1.." + std::string(400, 'a') + "@ocid1.tenancy.oc1..x";
  o.auth = smtp::credentials{user, smtp::secret("pw")};
  o.auth_without_tls = true;
  auto r = drive(
      o, {greeting, "250-mx.test\r\n250 AUTH PLAIN\r\n", "334 \r\n", "235 ok\r\n", "221 bye\r\n"},
      {});
  EXPECT_TRUE(r.closed) << r.detail;
  const std::string response = smtp::sasl_plain_response(*o.auth);
  EXPECT_GT(response.size() + 13, smtp::max_command_line);
  EXPECT_EQ(r.sent, "EHLO client.test\r\nAUTH PLAIN\r\n" + response + "\r\nQUIT\r\n");

  // A 150-character user name still fits the initial response.
  auto o2 = o;
  o2.auth = smtp::credentials{std::string(150, 'u'), smtp::secret("password-20-chars..")};
  auto r2 =
      drive(o2, {greeting, "250-mx.test\r\n250 AUTH PLAIN\r\n", "235 ok\r\n", "221 x\r\n"}, {});
  EXPECT_NE(r2.sent.find("AUTH PLAIN " + smtp::sasl_plain_response(*o2.auth) + "\r\n"),
            std::string::npos);
}

TEST(ClientCore, AuthForcedPlainWhenOnlyLoginListed) {
  auto o = plain_opts();
  o.auth = smtp::credentials{"u", smtp::secret("p")};
  o.auth_without_tls = true;
  o.mechanism = smtp::auth_mechanism::plain;
  auto r = drive(o, {greeting, "250-mx.test\r\n250 AUTH LOGIN\r\n", "235 ok\r\n", "221 x\r\n"}, {});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_NE(r.sent.find("AUTH PLAIN "), std::string::npos);
  auto o2 = o;
  o2.mechanism = smtp::auth_mechanism::login;
  auto r2 = drive(o2,
                  {greeting, "250-mx.test\r\n250 AUTH PLAIN\r\n", "334 VXNlcm5hbWU6\r\n",
                   "334 UGFzc3dvcmQ6\r\n", "235 ok\r\n", "221 x\r\n"},
                  {});
  EXPECT_TRUE(r2.closed) << r2.detail;
  EXPECT_NE(r2.sent.find("AUTH LOGIN\r\ndQ==\r\ncA==\r\n"), std::string::npos);
}

TEST(ClientCore, AuthAbsentOrRefused) {
  auto o = plain_opts();
  o.auth = smtp::credentials{"u", smtp::secret("p")};
  o.auth_without_tls = true;
  auto none = drive(o, {greeting, "250 mx.test\r\n"}, {});
  EXPECT_EQ(none.error, smtp::client_errc::auth_unavailable);
  auto other = drive(o, {greeting, "250-mx.test\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n"}, {});
  EXPECT_EQ(other.error, smtp::client_errc::auth_unavailable);
  EXPECT_NE(other.detail.find("CRAM-MD5"), std::string::npos);
  auto bad = drive(o,
                   {greeting, "250-mx.test\r\n250 AUTH PLAIN\r\n",
                    "535 5.7.8 Authentication credentials invalid\r\n"},
                   {});
  EXPECT_EQ(bad.error, smtp::client_errc::auth_failed);
  EXPECT_TRUE(mailkit::is_permanent(bad.error));
  ASSERT_TRUE(bad.error_reply);
  EXPECT_EQ(bad.error_reply->enhanced->to_string(), "5.7.8");
  EXPECT_EQ(bad.detail.find("p\r"), std::string::npos);
  auto later = drive(o, {greeting, "250-mx.test\r\n250 AUTH PLAIN\r\n", "454 4.7.0 later\r\n"}, {});
  EXPECT_EQ(later.error, smtp::client_errc::auth_failed_transient);
  EXPECT_FALSE(mailkit::is_permanent(later.error));
}

TEST(ClientCore, AuthRefusedWithoutTls) {
  auto o = plain_opts();
  o.auth = smtp::credentials{"u", smtp::secret("p")};
  auto r = drive(o, {greeting, "250-mx.test\r\n250 AUTH PLAIN\r\n"}, {});
  EXPECT_EQ(r.error, smtp::client_errc::auth_unavailable);
  EXPECT_EQ(r.sent.find("AUTH"), std::string::npos); // the credentials never went out
}

TEST(ClientCore, AuthUnexpectedChallengeIsCancelled) {
  auto o = plain_opts();
  o.auth = smtp::credentials{"u", smtp::secret("p")};
  o.auth_without_tls = true;
  auto r = drive(
      o, {greeting, "250-mx.test\r\n250 AUTH PLAIN\r\n", "334 more?\r\n", "501 cancelled\r\n"}, {});
  EXPECT_EQ(r.error, smtp::client_errc::protocol_violation);
  EXPECT_NE(r.sent.find("\r\n*\r\n"), std::string::npos);
}

TEST(ClientCore, PipeliningGroupsAndReadsRepliesInOrder) {
  auto r = drive(plain_opts(),
                 {greeting, "250-mx.test\r\n250 PIPELINING\r\n",
                  "250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n",
                  "250 2.0.0 queued\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test", "nobody@y.test", "c@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  ASSERT_GE(r.writes.size(), 3u);
  EXPECT_EQ(r.writes[1], "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<nobody@y.test>\r\n"
                         "RCPT TO:<c@y.test>\r\nDATA\r\n");
  EXPECT_EQ(r.writes[2], msg + ".\r\n");
  ASSERT_EQ(r.results.size(), 1u);
  const auto& t = r.results[0];
  ASSERT_EQ(t.recipients.size(), 3u);
  EXPECT_TRUE(t.recipients[0].delivered());
  EXPECT_TRUE(t.recipients[1].permanent());
  EXPECT_EQ(t.recipients[1].reply.enhanced->to_string(), "5.1.1");
  EXPECT_TRUE(t.recipients[2].delivered());
  EXPECT_EQ(t.recipients[2].reply.text(), "queued");
  EXPECT_FALSE(t.all_delivered());
  EXPECT_TRUE(t.any_delivered());
}

TEST(ClientCore, PipeliningOneReplyPerRead) {
  auto r = drive(plain_opts(),
                 {greeting, "250-mx.test\r\n250 PIPELINING\r\n", "250 ok\r\n", "250 ok\r\n",
                  "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_TRUE(r.results[0].all_delivered());
}

TEST(ClientCore, PipeliningAllRecipientsRefused) {
  auto r = drive(plain_opts(),
                 {greeting, "250-mx.test\r\n250 PIPELINING\r\n",
                  "250 ok\r\n550 no\r\n450 later\r\n554 no valid recipients\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test", "c@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_EQ(r.sent.find("Hello"), std::string::npos); // no message data
  const auto& t = r.results.at(0);
  EXPECT_TRUE(t.recipients[0].permanent());
  EXPECT_TRUE(t.recipients[1].transient());
  EXPECT_FALSE(t.final_reply);
}

TEST(ClientCore, PipeliningDataAcceptedAfterAllRefusedSendsLoneDot) {
  auto r = drive(plain_opts(),
                 {greeting, "250-mx.test\r\n250 PIPELINING\r\n", "250 ok\r\n550 no\r\n354 go\r\n",
                  "554 no recipients\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_NE(r.sent.find("DATA\r\n.\r\nQUIT"), std::string::npos);
  EXPECT_EQ(r.sent.find("Hello"), std::string::npos);
}

TEST(ClientCore, MailRefusedEveryRecipientCarriesItsReply) {
  auto r = drive(plain_opts(),
                 {greeting, "250 mx.test\r\n", "553 5.7.1 sender not approved\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test", "c@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  const auto& t = r.results.at(0);
  for (const auto& rc : t.recipients) {
    EXPECT_EQ(rc.reply.code, 553);
    EXPECT_EQ(rc.reply.text(), "sender not approved");
  }
  EXPECT_EQ(r.sent.find("RCPT"), std::string::npos);
}

TEST(ClientCore, PipelinedMailRefusedConsumesTheOtherReplies) {
  auto r = drive(plain_opts(),
                 {greeting, "250-mx.test\r\n250 PIPELINING\r\n",
                  "550 no\r\n503 need MAIL\r\n503 need MAIL\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_EQ(r.results.at(0).recipients.at(0).reply.code, 550);
}

TEST(ClientCore, NonPipelinedPartialAndDataRefused) {
  auto r = drive(plain_opts(),
                 {greeting, "250 mx.test\r\n", "250 ok\r\n", "250 ok\r\n", "550 no\r\n",
                  "354 go\r\n", "554 5.7.1 spam\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test", "c@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  const auto& t = r.results.at(0);
  EXPECT_EQ(t.recipients[0].reply.code, 554); // accepted, then the data was refused
  EXPECT_EQ(t.recipients[1].reply.code, 550);
}

TEST(ClientCore, QuotaReplyReachesEveryRecipient) {
  // OCI answers an exhausted daily quota at MAIL; the queue reads it per recipient.
  auto r = drive(plain_opts(),
                 {greeting, "250 mx.test\r\n",
                  "455 Maximum messages sent per day reached : limit is 100\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), msg}});
  const auto& rc = r.results.at(0).recipients.at(0);
  EXPECT_TRUE(rc.transient());
  EXPECT_NE(rc.reply.text().find("limit is 100"), std::string::npos);
}

TEST(ClientCore, SizeParameterAndLocalRefusal) {
  auto ok = drive(plain_opts(),
                  {greeting, "250-mx.test\r\n250 SIZE 1000\r\n", "250 ok\r\n", "250 ok\r\n",
                   "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                  {{env("a@x.test", {"b@y.test"}), msg}});
  EXPECT_NE(ok.sent.find("MAIL FROM:<a@x.test> SIZE=" + std::to_string(msg.size()) + "\r\n"),
            std::string::npos);
  const std::string big = "Subject: big\r\n\r\n" + std::string(2000, 'x') + "\r\n";
  auto r = drive(plain_opts(), {greeting, "250-mx.test\r\n250 SIZE 1000\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), big}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_EQ(r.sent.find("MAIL"), std::string::npos);
  const auto& t = r.results.at(0);
  EXPECT_EQ(t.refused, smtp::local_refusal::size_exceeded);
  EXPECT_EQ(t.recipients.at(0).reply.code, 552);
  EXPECT_EQ(t.recipients.at(0).reply.enhanced->to_string(), "5.3.4");
  EXPECT_NE(t.reason.find("at most 1000"), std::string::npos);
  // SIZE 0: no fixed limit.
  auto unlimited = drive(plain_opts(),
                         {greeting, "250-mx.test\r\n250 SIZE 0\r\n", "250 ok\r\n", "250 ok\r\n",
                          "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                         {{env("a@x.test", {"b@y.test"}), big}});
  EXPECT_TRUE(unlimited.results.at(0).all_delivered());
}

TEST(ClientCore, SmtpUtf8RequiredButNotOffered) {
  const std::string utf8_header = "From: j\xc3\xb6rg@x.test\r\nSubject: x\r\n\r\nhi\r\n";
  auto r = drive(plain_opts(), {greeting, "250-mx.test\r\n250 8BITMIME\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), utf8_header}});
  const auto& t = r.results.at(0);
  EXPECT_EQ(t.refused, smtp::local_refusal::smtputf8_required);
  EXPECT_EQ(t.recipients.at(0).reply.code, 553);
  EXPECT_NE(t.reason.find("SMTPUTF8"), std::string::npos);
  auto addr = drive(plain_opts(), {greeting, "250-mx.test\r\n250 8BITMIME\r\n", "221 bye\r\n"},
                    {{env("a@x.test", {"j\xc3\xb6rg@y.test"}), msg}});
  EXPECT_EQ(addr.results.at(0).refused, smtp::local_refusal::smtputf8_required);
  EXPECT_NE(addr.results.at(0).reason.find("envelope"), std::string::npos);
}

TEST(ClientCore, SmtpUtf8OfferedAddsParameters) {
  const std::string utf8 = "From: j\xc3\xb6rg@x.test\r\n\r\nbody \xc3\xa9\r\n";
  auto r = drive(plain_opts(),
                 {greeting, "250-mx.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n", "250 ok\r\n",
                  "250 ok\r\n", "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                 {{env("j\xc3\xb6rg@x.test", {"b@y.test"}), utf8}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_NE(r.sent.find("MAIL FROM:<j\xc3\xb6rg@x.test> BODY=8BITMIME SMTPUTF8\r\n"),
            std::string::npos);
  EXPECT_TRUE(r.results.at(0).used_smtputf8);
}

TEST(ClientCore, EightBitBodyWithoutEightBitMime) {
  const std::string body8 = "Subject: x\r\n\r\ncaf\xc3\xa9\r\n";
  auto r = drive(plain_opts(), {greeting, "250 mx.test\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), body8}});
  const auto& t = r.results.at(0);
  EXPECT_EQ(t.refused, smtp::local_refusal::eightbit_required);
  EXPECT_EQ(t.recipients.at(0).reply.enhanced->to_string(), "5.6.3");
  auto ok = drive(plain_opts(),
                  {greeting, "250-mx.test\r\n250 8BITMIME\r\n", "250 ok\r\n", "250 ok\r\n",
                   "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                  {{env("a@x.test", {"b@y.test"}), body8}});
  EXPECT_NE(ok.sent.find("MAIL FROM:<a@x.test> BODY=8BITMIME\r\n"), std::string::npos);
  EXPECT_TRUE(ok.results.at(0).all_delivered());
}

TEST(ClientCore, ChunkingSendsBdatInChunks) {
  auto o = plain_opts();
  o.chunk_size = 16;
  const std::string bare_lf = "Subject: x\n\n.line one\nline two\n";
  const std::string canonical = "Subject: x\r\n\r\n.line one\r\nline two\r\n";
  ASSERT_EQ(canonical.size(), 35u);
  auto r = drive(o,
                 {greeting, "250-mx.test\r\n250-CHUNKING\r\n250 PIPELINING\r\n",
                  "250 ok\r\n250 ok\r\n", "250 2.0.0 16 octets\r\n", "250 2.0.0 16 octets\r\n",
                  "250 2.0.0 queued\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), bare_lf}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_NE(r.sent.find("BDAT 16\r\n" + canonical.substr(0, 16) + "BDAT 16\r\n" +
                        canonical.substr(16, 16) + "BDAT 3 LAST\r\n" + canonical.substr(32)),
            std::string::npos);
  EXPECT_EQ(r.sent.find("DATA"), std::string::npos);
  EXPECT_TRUE(r.results.at(0).used_bdat);
  EXPECT_EQ(r.results.at(0).final_reply->text(), "queued");
}

TEST(ClientCore, ChunkRefusedEndsTransactionAndNextOneResets) {
  auto o = plain_opts();
  o.chunk_size = 16; // the 52-octet message goes in 4 chunks; the first one is refused
  auto r = drive(o,
                 {greeting, "250-mx.test\r\n250 CHUNKING\r\n", "250 ok\r\n", "250 ok\r\n",
                  "552 5.3.4 too big\r\n", "250 reset\r\n", "250 ok\r\n", "250 ok\r\n",
                  "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), msg}, {env("a@x.test", {"c@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.results[0].recipients[0].reply.code, 552);
  EXPECT_TRUE(r.results[1].all_delivered());
  EXPECT_NE(r.sent.find("RSET\r\nMAIL FROM:<a@x.test>"), std::string::npos) << r.sent;
}

TEST(ClientCore, DsnParametersOnlyWhenOffered) {
  smtp::envelope e = env("a@x.test", {"b@y.test"});
  e.ret = "hdrs";
  e.envid = "id+1=2 x";
  e.recipients[0].notify = "SUCCESS,FAILURE";
  e.recipients[0].orcpt = "b+tag@y.test";
  auto with = drive(plain_opts(),
                    {greeting, "250-mx.test\r\n250 DSN\r\n", "250 ok\r\n", "250 ok\r\n",
                     "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                    {{e, msg}});
  EXPECT_NE(with.sent.find("MAIL FROM:<a@x.test> RET=HDRS ENVID=id+2B1+3D2+20x\r\n"),
            std::string::npos);
  EXPECT_NE(
      with.sent.find("RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Btag@y.test\r\n"),
      std::string::npos);
  auto without = drive(plain_opts(),
                       {greeting, "250 mx.test\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
                        "250 ok\r\n", "221 bye\r\n"},
                       {{e, msg}});
  EXPECT_NE(without.sent.find("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"), std::string::npos);
}

TEST(ClientCore, InvalidEnvelopeNeverReachesTheWire) {
  struct bad {
    smtp::envelope e;
  };
  std::vector<smtp::envelope> cases;
  cases.push_back(env("a@x.test>\r\nRCPT TO:<evil@z", {"b@y.test"}));
  cases.push_back(env("a@x.test", {"b@y.test>\r\nDATA"}));
  cases.push_back(env("a@x.test", {""}));
  cases.push_back(env("a@x.test", {}));
  auto notify = env("a@x.test", {"b@y.test"});
  notify.recipients[0].notify = "ALWAYS";
  cases.push_back(notify);
  auto ret = env("a@x.test", {"b@y.test"});
  ret.ret = "ALL";
  cases.push_back(ret);
  for (auto& e : cases) {
    auto r = drive(plain_opts(), {greeting, "250 mx.test\r\n", "221 bye\r\n"}, {{e, msg}});
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.sent, "EHLO client.test\r\nQUIT\r\n");
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_NE(r.results[0].refused, smtp::local_refusal::none);
  }
}

TEST(ClientCore, NullSenderAndTwoTransactions) {
  auto r =
      drive(plain_opts(),
            {greeting, "250 mx.test\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n",
             "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
            {{env("", {"b@y.test"}), msg}, {env("a@x.test", {"c@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_NE(r.sent.find("MAIL FROM:<>\r\n"), std::string::npos);
  EXPECT_EQ(r.sent.find("RSET"), std::string::npos); // the first ended cleanly
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_TRUE(r.results[1].all_delivered());
}

TEST(ClientCore, AllRecipientsRefusedThenRsetBeforeTheNext) {
  auto r = drive(plain_opts(),
                 {greeting, "250 mx.test\r\n", "250 ok\r\n", "550 no\r\n", "250 reset\r\n",
                  "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                 {{env("a@x.test", {"b@y.test"}), msg}, {env("a@x.test", {"c@y.test"}), msg}});
  EXPECT_TRUE(r.closed) << r.detail;
  EXPECT_NE(r.sent.find("RCPT TO:<b@y.test>\r\nRSET\r\nMAIL"), std::string::npos);
}

TEST(ClientCore, ServiceClosingDuringRecipients) {
  auto r = drive(plain_opts(),
                 {greeting, "250 mx.test\r\n", "250 ok\r\n", "421 4.3.2 shutting down\r\n"},
                 {{env("a@x.test", {"b@y.test", "c@y.test"}), msg}});
  ASSERT_EQ(r.results.size(), 1u);
  for (const auto& rc : r.results[0].recipients)
    EXPECT_EQ(rc.reply.code, 421);
  EXPECT_EQ(r.error, smtp::client_errc::connection_closed);
}

TEST(ClientCore, ConnectionDroppedAfterTheDot) {
  auto r =
      drive(plain_opts(), {greeting, "250 mx.test\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"},
            {{env("a@x.test", {"b@y.test"}), msg}});
  EXPECT_EQ(r.error, smtp::client_errc::connection_closed);
  EXPECT_FALSE(mailkit::is_permanent(r.error));
  EXPECT_TRUE(r.results.empty()); // unknown outcome: the queue keeps the message (retry)
}

TEST(ClientCore, HostileReplies) {
  auto huge = drive(plain_opts(), {greeting, "250 " + std::string(10 * 1024 * 1024, 'x')}, {});
  EXPECT_EQ(huge.error, smtp::client_errc::reply_line_too_long);
  std::string endless;
  for (int i = 0; i < 100000; ++i)
    endless += "250-x\r\n";
  auto many = drive(plain_opts(), {greeting, endless}, {});
  EXPECT_EQ(many.error, smtp::client_errc::reply_too_long);
  auto garbage = drive(plain_opts(), {"SSH-2.0-OpenSSH_9.2\r\n"}, {});
  EXPECT_EQ(garbage.error, smtp::client_errc::malformed_reply);
  auto out_of_sequence = drive(plain_opts(), {greeting, "354 go ahead\r\n"}, {});
  EXPECT_EQ(out_of_sequence.error, smtp::client_errc::protocol_violation);
}

TEST(ClientCore, ServerClosesBeforeQuitReply) {
  auto r = drive(plain_opts(), {greeting, "250 mx.test\r\n"}, {});
  EXPECT_TRUE(r.closed);
}

TEST(ClientCore, ParseEhloKeywords) {
  auto rep = smtp::parse_reply(
      "250-mx.example.org greets you\r\n250-SIZE 35882577\r\n250-8bitmime\r\n250-PIPELINING\r\n"
      "250-AUTH PLAIN LOGIN XOAUTH2\r\n250-AUTH=LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n"
      "250-CHUNKING\r\n250-BINARYMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-REQUIRETLS\r\n"
      "250-X-UNKNOWN a b\r\n250 STARTTLS\r\n");
  ASSERT_TRUE(rep);
  const auto c = smtp::parse_ehlo(*rep);
  EXPECT_EQ(c.domain, "mx.example.org");
  EXPECT_EQ(c.size, 35882577u);
  EXPECT_TRUE(c.eightbitmime && c.pipelining && c.enhancedstatuscodes && c.chunking &&
              c.binarymime && c.smtputf8 && c.dsn && c.requiretls && c.starttls);
  EXPECT_EQ(c.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2", "CRAM-MD5"}));
  EXPECT_EQ(c.keywords.size(), 13u);
  auto bad_size = smtp::parse_reply("250-x\r\n250 SIZE 12abc\r\n");
  EXPECT_FALSE(smtp::parse_ehlo(*bad_size).size);
  auto overflow = smtp::parse_reply("250-x\r\n250 SIZE 99999999999999999999999\r\n");
  EXPECT_FALSE(smtp::parse_ehlo(*overflow).size);
}

TEST(ClientCore, ParseEhloBoundsKeywordsAndMechanisms) {
  smtp::reply r;
  r.code = 250;
  r.lines.push_back("mx");
  for (int i = 0; i < 1000; ++i)
    r.lines.push_back("X" + std::to_string(i));
  std::string auth = "AUTH";
  for (int i = 0; i < 1000; ++i)
    auth += " M" + std::to_string(i);
  r.lines.insert(r.lines.begin() + 1, auth);
  const auto c = smtp::parse_ehlo(r);
  EXPECT_EQ(c.keywords.size(), smtp::max_ehlo_keywords);
  EXPECT_EQ(c.auth.size(), smtp::max_auth_mechanisms);
}

TEST(MessageHelpers, CanonicalFormAndDotStuffing) {
  EXPECT_EQ(smtp::canonicalize("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(smtp::canonical_size("a\nb\rc\r\nd"), 12u);
  EXPECT_EQ(smtp::canonicalize(""), "");
  EXPECT_EQ(smtp::dot_stuff(""), ".\r\n");
  EXPECT_EQ(smtp::dot_stuff(".\r\n..x\n.\r\nend"), "..\r\n...x\r\n..\r\nend\r\n.\r\n");
  EXPECT_EQ(smtp::dot_stuff("a.b\r\n"), "a.b\r\n.\r\n");
  // A smuggling attempt (bare LF dot bare LF) becomes a harmless stuffed line.
  EXPECT_EQ(smtp::dot_stuff("x\n.\nMAIL FROM:<e@v>\n"), "x\r\n..\r\nMAIL FROM:<e@v>\r\n.\r\n");
}

TEST(MessageHelpers, XtextAndInspect) {
  EXPECT_EQ(smtp::xtext_encode("a+b=c d\x7f\xc3"), "a+2Bb+3Dc+20d+7F+C3");
  auto n = smtp::inspect_message("Subject: x\r\n\r\n\xc3\xa9");
  EXPECT_TRUE(n.eightbit);
  EXPECT_FALSE(n.utf8_headers);
  auto h = smtp::inspect_message("Subject: \xc3\xa9\n\nx");
  EXPECT_TRUE(h.utf8_headers);
  EXPECT_FALSE(smtp::inspect_message("a: b\r\n\r\nc").eightbit);
  EXPECT_TRUE(smtp::safe_in_command("user+tag@example.org"));
  EXPECT_FALSE(smtp::safe_in_command(std::string_view("a\0b", 3)));
  EXPECT_FALSE(smtp::safe_in_command("a>b"));
}

TEST(Secret, NeverPrintsItself) {
  smtp::secret s("hunter2");
  EXPECT_EQ(s.redacted(), "<redacted>");
  EXPECT_EQ(s.reveal(), "hunter2");
  smtp::secret moved(std::move(s));
  EXPECT_TRUE(s.empty()); // NOLINT(bugprone-use-after-move): the moved-from value is wiped
  EXPECT_EQ(moved.reveal(), "hunter2");
  EXPECT_EQ(smtp::parse_auth_mechanism("PLAIN"), smtp::auth_mechanism::plain);
  EXPECT_EQ(smtp::parse_auth_mechanism("Login"), smtp::auth_mechanism::login);
  EXPECT_EQ(smtp::parse_auth_mechanism("auto"), smtp::auth_mechanism::automatic);
  EXPECT_FALSE(smtp::parse_auth_mechanism("cram-md5"));
}
