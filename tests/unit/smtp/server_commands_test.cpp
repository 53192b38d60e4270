// SPDX-License-Identifier: Apache-2.0
// The server core, command by command: RFC 5321 §4.1.4 sequencing, every reply, extensions,
// limits. Each scenario runs in one feed (pipelined) and byte by byte.
#include "server_driver.hpp"

#include <gtest/gtest.h>

using namespace mailkit::smtp;
using mailkit::smtp::testing::codes;
using mailkit::smtp::testing::driver;

namespace {

// Run `input` both as one piece and byte by byte; both must give the same replies.
std::string both(std::string_view input, driver* keep = nullptr) {
  driver a;
  const std::string whole = a.run(input);
  driver b;
  const std::string bytes = b.run(input, 1);
  EXPECT_EQ(whole, bytes) << "pipelined and byte-by-byte differ for: " << input;
  if (keep) keep->run(input);
  return whole;
}

} // namespace

TEST(SmtpServer, GreetingAndEhlo) {
  driver d;
  const std::string out = d.run("EHLO client.example\r\n");
  EXPECT_EQ(out.substr(0, 24), "220 mx.example.org ESMTP");
  for (auto ext : {"250-PIPELINING\r\n", "250-SIZE 1048576\r\n", "250-8BITMIME\r\n",
                   "250-SMTPUTF8\r\n", "250-ENHANCEDSTATUSCODES\r\n", "250-CHUNKING\r\n",
                   "250-BINARYMIME\r\n", "250-DSN\r\n", "250 HELP\r\n"})
    EXPECT_NE(out.find(ext), std::string::npos) << ext;
  // mx without TLS context: no STARTTLS; mx never offers AUTH; REQUIRETLS only under TLS.
  EXPECT_EQ(out.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(out.find("AUTH"), std::string::npos);
  EXPECT_EQ(out.find("REQUIRETLS"), std::string::npos);
  EXPECT_EQ(d.s.current_envelope().helo, "client.example");
}

TEST(SmtpServer, HeloAndEmptyHelo) {
  EXPECT_EQ(codes(both("HELO\r\nEHLO\r\nEHLO \r\nHELO x.example\r\n")),
            (std::vector<int>{220, 501, 501, 501, 250}));
}

TEST(SmtpServer, FullTransaction) {
  driver d;
  const std::string out = d.run("EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n"
                                "RCPT TO:<b@example.org>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n"
                                ".\r\nQUIT\r\n");
  EXPECT_EQ(codes(out), (std::vector<int>{220, 250, 250, 250, 354, 250, 221}));
  ASSERT_EQ(d.messages.size(), 1U);
  EXPECT_EQ(d.messages[0], "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(d.envelopes[0].reverse_path->to_string(), "a@example.net");
  ASSERT_EQ(d.envelopes[0].recipients.size(), 1U);
  EXPECT_EQ(d.envelopes[0].recipients[0].address.to_string(), "b@example.org");
  EXPECT_TRUE(d.closed());
  EXPECT_EQ(d.s.why_closed(), close_reason::quit);
}

TEST(SmtpServer, SequenceErrors) {
  // RFC 5321 §4.1.4: MAIL needs HELO; RCPT needs MAIL; DATA needs RCPT; no nested MAIL.
  EXPECT_EQ(codes(both("MAIL FROM:<a@example.net>\r\nDATA\r\nRCPT TO:<b@example.org>\r\n"
                       "HELO c\r\nRCPT TO:<b@example.org>\r\nDATA\r\nMAIL FROM:<>\r\n"
                       "MAIL FROM:<>\r\nDATA\r\n")),
            (std::vector<int>{220, 503, 503, 503, 250, 503, 503, 250, 503, 554}));
}

TEST(SmtpServer, SimpleCommands) {
  EXPECT_EQ(codes(both("EHLO c\r\nNOOP\r\nNOOP anything\r\nRSET\r\nRSET x\r\nVRFY user\r\n"
                       "VRFY\r\nEXPN list\r\nHELP\r\nWHATISTHIS\r\n\r\nQUIT\r\n")),
            (std::vector<int>{220, 250, 250, 250, 250, 501, 252, 501, 502, 214, 500, 500, 221}));
}

TEST(SmtpServer, RsetClearsTransaction) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nRSET\r\nDATA\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 250, 503}));
  EXPECT_FALSE(d.s.in_transaction());
}

TEST(SmtpServer, EhloResetsTransaction) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<a@example.net>\r\nEHLO c\r\nRCPT TO:<b@example.org>\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 503}));
}

TEST(SmtpServer, MailSyntaxReplies) {
  EXPECT_EQ(codes(both("HELO c\r\nMAIL LALA: <>\r\nMAIL FROM:\r\nMAIL FROM:<pepe>\r\n"
                       "MAIL FROM:<a@xn--->\r\nMAIL FROM:<a@b.example> FOO=1\r\n")),
            (std::vector<int>{220, 250, 500, 501, 501, 501, 555}));
  driver d;
  d.run("HELO c\r\nMAIL FROM:<" + std::string(65, 'a') + "@b.example>\r\n");
  EXPECT_NE(d.out.find("501 5.1.7"), std::string::npos);
}

TEST(SmtpServer, RcptSyntaxReplies) {
  EXPECT_EQ(codes(both("HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT LALA: <>\r\nRCPT TO:\r\n"
                       "RCPT TO:<pepe>\r\nRCPT TO:<a@xn--->\r\nRCPT TO:<>\r\n"
                       "RCPT TO:<Postmaster>\r\n")),
            (std::vector<int>{220, 250, 250, 500, 501, 501, 501, 501, 250}));
}

TEST(SmtpServer, RelayRefusedByPolicy) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<victim@elsewhere.example>\r\n"
        "RCPT TO:<ok@example.org>\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 554, 250}));
  EXPECT_EQ(d.s.current_envelope().recipients.size(), 1U);
}

TEST(SmtpServer, ParametersAfterHeloRefused) {
  // RFC 5321 §4.1.1.11: no ESMTP parameters without EHLO.
  EXPECT_EQ(codes(both("HELO c\r\nMAIL FROM:<a@b.example> SIZE=10\r\n")),
            (std::vector<int>{220, 250, 555}));
}

TEST(SmtpServer, MailParametersCarried) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 "
        "AUTH=<> SMTPUTF8\r\nRCPT TO:<x@example.org> NOTIFY=SUCCESS,FAILURE "
        "ORCPT=rfc822;x+40example.org\r\nRCPT TO:<y@example.org> NOTIFY=NEVER\r\n"
        "DATA\r\nx\r\n.\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 250, 354, 250}));
  ASSERT_EQ(d.envelopes.size(), 1U);
  const envelope& e = d.envelopes[0];
  EXPECT_EQ(*e.declared_size, 1000U);
  EXPECT_EQ(e.body, body_type::eight_bit_mime);
  EXPECT_EQ(e.ret, dsn_ret::hdrs);
  EXPECT_EQ(*e.envid, "QQ+1");
  EXPECT_EQ(*e.auth, "<>");
  EXPECT_TRUE(e.smtputf8);
  EXPECT_TRUE(e.recipients[0].notify->success);
  EXPECT_TRUE(e.recipients[0].notify->failure);
  EXPECT_EQ(e.recipients[0].orcpt->address, "x@example.org");
  EXPECT_TRUE(e.recipients[1].notify->never);
  EXPECT_EQ(e.message_size, 3U);
}

TEST(SmtpServer, BadParameters) {
  EXPECT_EQ(codes(both("EHLO c\r\n"
                       "MAIL FROM:<a@b.example> SIZE=abc\r\n"
                       "MAIL FROM:<a@b.example> SIZE=1 SIZE=2\r\n"
                       "MAIL FROM:<a@b.example> BODY=9BIT\r\n"
                       "MAIL FROM:<a@b.example> RET=ALL\r\n"
                       "MAIL FROM:<a@b.example> ENVID=a+zz\r\n"
                       "MAIL FROM:<a@b.example> SMTPUTF8=yes\r\n"
                       "MAIL FROM:<a@b.example> SIZE=99999999999\r\n")),
            (std::vector<int>{220, 250, 501, 501, 501, 501, 501, 501, 552}));
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<a@b.example> ENVID=" + std::string(101, 'e') + "\r\n" +
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@example.org> NOTIFY=NEVER,DELAY\r\n" +
        "RCPT TO:<x@example.org> ORCPT=rfc822\r\nRCPT TO:<x@example.org> X=1\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 501, 250, 501, 501, 555}));
}

TEST(SmtpServer, RequireTlsOnlyUnderTls) {
  // RFC 8689 §4: REQUIRETLS on a plaintext session is refused.
  EXPECT_EQ(codes(both("EHLO c\r\nMAIL FROM:<a@b.example> REQUIRETLS\r\n")),
            (std::vector<int>{220, 250, 530}));
  server_config cfg = driver::make_default();
  cfg.tls_active = true;
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<a@b.example> REQUIRETLS\r\nRCPT TO:<x@example.org>\r\n"
        "DATA\r\nx\r\n.\r\n");
  ASSERT_EQ(d.envelopes.size(), 1U);
  EXPECT_TRUE(d.envelopes[0].requiretls);
  EXPECT_TRUE(d.envelopes[0].tls);
  EXPECT_NE(d.out.find("250-REQUIRETLS"), std::string::npos);
}

TEST(SmtpServer, Smtputf8) {
  const std::string from = "<j\xC3\xB6rg@b\xC3\xBC"
                           "cher.example>";
  EXPECT_EQ(codes(both("EHLO c\r\nMAIL FROM:" + from + "\r\n")), (std::vector<int>{220, 250, 553}));
  EXPECT_EQ(
      codes(
          both("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<henry\xE2\x85\xA3@example.org>\r\n")),
      (std::vector<int>{220, 250, 250, 553}));
  driver d;
  d.run("EHLO c\r\nMAIL FROM:" + from +
        " SMTPUTF8\r\nRCPT TO:<\xC3\xA9@example.org>\r\nDATA\r\n"
        "Subject: \xC3\xA9t\xC3\xA9\r\n\r\n\xE2\x82\xAC\r\n.\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 354, 250}));
  ASSERT_EQ(d.messages.size(), 1U);
  EXPECT_EQ(d.messages[0], "Subject: \xC3\xA9t\xC3\xA9\r\n\r\n\xE2\x82\xAC\r\n");
}

TEST(SmtpServer, RecipientLimit) {
  // RFC 5321 §4.5.3.1.8: 100 buffered by default; the 101st gets 452 4.5.3.
  std::string in = "EHLO c\r\nMAIL FROM:<a@b.example>\r\n";
  for (int i = 0; i < 105; ++i)
    in += "RCPT TO:<r" + std::to_string(i) + "@example.org>\r\n";
  in += "DATA\r\nx\r\n.\r\n";
  driver d;
  d.run(in);
  const auto c = codes(d.out);
  EXPECT_EQ(std::count(c.begin(), c.end(), 452), 5);
  ASSERT_EQ(d.envelopes.size(), 1U);
  EXPECT_EQ(d.envelopes[0].recipients.size(), 100U);
  EXPECT_NE(d.out.find("452 4.5.3"), std::string::npos);
}

TEST(SmtpServer, HundredThousandRecipientsStayBounded) {
  server_config cfg = driver::make_default();
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  std::string batch;
  for (int i = 0; i < 100000; ++i) {
    batch += "RCPT TO:<r" + std::to_string(i) + "@example.org>\r\n";
    if (batch.size() > 60000) {
      d.run(batch);
      batch.clear();
      d.out.clear();
    }
  }
  d.run(batch + "QUIT\r\n");
  EXPECT_EQ(d.s.current_envelope().recipients.size(), 0U); // QUIT ended the transaction
  EXPECT_TRUE(d.closed());
  EXPECT_EQ(d.s.why_closed(), close_reason::quit); // 452s are not errors: no 421
}

TEST(SmtpServer, RecipientLimitConfigurable) {
  server_config cfg = driver::make_default();
  cfg.limits.max_recipients = 2;
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<a@example.org>\r\n"
        "RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 250, 452}));
}

TEST(SmtpServer, CommandLineLimits) {
  // RFC 5321 §4.5.3.1.4: 512 octets for a command; MAIL/RCPT after EHLO up to 4096.
  const std::string noop510 = "NOOP " + std::string(505, 'x'); // 510 + CRLF = 512
  EXPECT_EQ(codes(both("EHLO c\r\n" + noop510 + "\r\n" + noop510 + "y\r\n")),
            (std::vector<int>{220, 250, 250, 500}));
  const std::string local(60, 'l');
  std::string big = "MAIL FROM:<" + local + "@b.example> ENVID=" + std::string(100, 'e') +
                    " RET=FULL SIZE=10 BODY=8BITMIME SMTPUTF8";
  EXPECT_GT(big.size(), 200U);
  std::string rcpt = "RCPT TO:<x@example.org> ORCPT=rfc822;" + std::string(480, 'o');
  EXPECT_GT(rcpt.size() + 2, 512U); // over 512, under 4096: accepted after EHLO
  EXPECT_EQ(codes(both("EHLO c\r\n" + big + "\r\n" + rcpt + "\r\n")),
            (std::vector<int>{220, 250, 250, 250}));
  EXPECT_EQ(codes(both("HELO c\r\nMAIL FROM:<a@b.example>\r\n" +
                       std::string("RCPT TO:<x@example.org>") + std::string(600, ' ') + "\r\n")),
            (std::vector<int>{220, 250, 250, 500}));
  const std::string over = "RCPT TO:<x@example.org> ORCPT=rfc822;" + std::string(4100, 'o');
  EXPECT_EQ(codes(both("EHLO c\r\nMAIL FROM:<a@b.example>\r\n" + over + "\r\n")),
            (std::vector<int>{220, 250, 250, 500}));
}

TEST(SmtpServer, MegabyteLineIsDiscardedNotBuffered) {
  driver d;
  d.run("EHLO c\r\n");
  const std::string chunk(16 * 1024, 'A');
  for (int i = 0; i < 64; ++i)
    d.run(chunk); // 1 MiB without a line end
  d.run("\r\nNOOP\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 500, 250}));
  EXPECT_NE(d.out.find("500 5.5.2"), std::string::npos);
}

TEST(SmtpServer, TooManyErrorsDisconnect) {
  server_config cfg = driver::make_default();
  cfg.limits.max_errors = 3;
  driver d(cfg);
  d.run("EHLO c\r\nFOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 500, 500, 421}));
  EXPECT_TRUE(d.closed());
  EXPECT_EQ(d.s.why_closed(), close_reason::too_many_errors);
}

TEST(SmtpServer, HttpIsRefusedAndClosed) {
  for (auto req : {"GET /evil HTTP/1.1\r\n", "POST /evil HTTP/1.1\r\n",
                   "CONNECT www.evil.com:80 HTTP/1.1\r\n"}) {
    driver d;
    d.run(std::string(req) + "Host: x\r\n\r\n");
    EXPECT_EQ(codes(d.out), (std::vector<int>{220, 502})) << req;
    EXPECT_TRUE(d.closed());
  }
}

TEST(SmtpServer, RefusedGreetingWaitsForQuit) {
  driver d;
  d.override_decision = [](event_kind k) -> std::optional<decision> {
    if (k == event_kind::connect)
      return decision::respond(make_reply(554, "5.7.1", "no service for you"));
    return std::nullopt;
  };
  d.run("EHLO c\r\nMAIL FROM:<>\r\nQUIT\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{554, 503, 503, 221}));
}

TEST(SmtpServer, Policy421Closes) {
  driver d;
  d.override_decision = [](event_kind k) -> std::optional<decision> {
    if (k == event_kind::mail) return decision::respond(make_reply(421, "4.7.0", "go away"));
    return std::nullopt;
  };
  d.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@example.org>\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 421}));
  EXPECT_TRUE(d.closed());
}

TEST(SmtpServer, EndOfDataDecisionIsTheReply) {
  // DESIGN.md §4: the reply to the end of data is whatever the acceptor says after it made the
  // message durable: here a queue id, or a temporary failure.
  driver d;
  d.override_decision = [](event_kind k) -> std::optional<decision> {
    if (k == event_kind::message_complete)
      return decision::respond(make_reply(250, "2.0.0", "queued as 0123ABCD"));
    return std::nullopt;
  };
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.org>\r\nDATA\r\nx\r\n.\r\n");
  EXPECT_NE(d.out.find("250 2.0.0 queued as 0123ABCD\r\n"), std::string::npos);
  driver e;
  e.override_decision = [](event_kind k) -> std::optional<decision> {
    if (k == event_kind::message_complete)
      return decision::respond(make_reply(452, "4.3.1", "insufficient system storage"));
    return std::nullopt;
  };
  e.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.org>\r\nDATA\r\nx\r\n.\r\nRCPT "
        "TO:<y@example.org>\r\n");
  EXPECT_EQ(codes(e.out), (std::vector<int>{220, 250, 250, 250, 354, 452, 503}));
  EXPECT_TRUE(e.messages.empty());
}

TEST(SmtpServer, DecisionWaitsForResolve) {
  // Asynchronous policy: nothing is answered and nothing more is read until resolve().
  server s(driver::make_default());
  EXPECT_EQ(s.next_event().kind, event_kind::connect);
  EXPECT_EQ(s.next_event().kind, event_kind::awaiting);
  s.resolve(decision::accept());
  EXPECT_EQ(s.next_event().kind, event_kind::need_input);
  s.feed("EHLO a\r\nNOOP\r\n");
  EXPECT_EQ(s.next_event().kind, event_kind::helo);
  EXPECT_EQ(s.next_event().kind, event_kind::awaiting);
  const std::size_t before = s.output().size();
  EXPECT_EQ(codes(s.output()), (std::vector<int>{220}));
  s.resolve(decision::accept());
  EXPECT_GT(s.output().size(), before);
  EXPECT_EQ(s.next_event().kind, event_kind::need_input);
  EXPECT_EQ(codes(s.output()), (std::vector<int>{220, 250, 250}));
}

TEST(SmtpServer, CloseWithWritesAndCloses) {
  server s(driver::make_default());
  (void)s.next_event();
  s.resolve(decision::accept());
  s.close_with(make_reply(421, "4.4.2", "timeout"));
  EXPECT_EQ(s.next_event().kind, event_kind::close);
  EXPECT_TRUE(s.closed());
  EXPECT_NE(s.output().find("421 4.4.2 timeout\r\n"), std::string_view::npos);
}

// feed_borrowed() reads message content in place (the session's read buffer); it must give
// exactly what feed() gives: the same replies, messages and events, for content split at any
// point, dot-stuffing across pieces, content longer than a data chunk, BDAT chunks, commands
// pipelined after the end of the data, and content refused for a bare line ending.
TEST(SmtpServerCore, BorrowedInputGivesWhatCopiedInputGives) {
  std::string big;
  for (int i = 0; i < 3000; ++i)
    big += (i % 7 == 0 ? ".." : "") + std::string(60, static_cast<char>('a' + i % 26)) + "\r\n";
  const std::string head = "EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n";
  const std::vector<std::string> sessions = {
      head + "DATA\r\nSubject: x\r\n\r\n..stuffed\r\n.\r\nMAIL FROM:<c@example.net>\r\n"
             "RCPT TO:<d@example.org>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n",
      head + "DATA\r\n" + big + ".\r\nNOOP\r\nQUIT\r\n",
      head + "BDAT 10\r\n0123456789BDAT 5 LAST\r\nabcdeNOOP\r\nQUIT\r\n",
      head + "DATA\r\nSubject: y\r\n\r\nbare\nlf\r\n.\r\nNOOP\r\n",
      head + "DATA\r\n" + big + ".\r\n" +
          "MAIL FROM:<e@example.net>\r\nRCPT TO:<f@example.org>\r\n" + "BDAT " +
          std::to_string(big.size()) + " LAST\r\n" + big + "QUIT\r\n",
  };
  for (std::size_t k = 0; k < sessions.size(); ++k) {
    for (std::size_t piece : {std::string_view::npos, std::size_t{1}, std::size_t{2},
                              std::size_t{7}, std::size_t{4096}, std::size_t{65536}}) {
      SCOPED_TRACE("session " + std::to_string(k) + " piece " + std::to_string(piece));
      driver copied;
      driver borrowed;
      borrowed.borrow = true;
      copied.run(sessions[k], piece);
      borrowed.run(sessions[k], piece);
      EXPECT_EQ(borrowed.out, copied.out);
      EXPECT_EQ(borrowed.messages, copied.messages);
      EXPECT_EQ(borrowed.events, copied.events);
      EXPECT_EQ(borrowed.aborted, copied.aborted);
      EXPECT_EQ(borrowed.sink_bytes, copied.sink_bytes);
      EXPECT_EQ(borrowed.closed(), copied.closed());
    }
  }
  // What the copied run accepted, for the record: both messages of the first session.
  driver d;
  d.borrow = true;
  d.run(sessions[0], 3);
  ASSERT_EQ(d.messages.size(), 2U);
  EXPECT_EQ(d.messages[0], "Subject: x\r\n\r\n.stuffed\r\n");
  EXPECT_EQ(d.messages[1], "second\r\n");
}
