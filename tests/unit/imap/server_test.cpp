// SPDX-License-Identifier: Apache-2.0
// The IMAP server core: greeting and capabilities per state, LOGIN/AUTHENTICATE only under TLS
// (or when allowed), STARTTLS injection, failed-login limits, states of RFC 9051 §3, IDLE's
// framing, ENABLE, ID, NAMESPACE, LOGOUT, TOOBIG and the error limit.
#include <mailkit/core/base64.hpp>
#include <mailkit/imap/server.hpp>

#include <gtest/gtest.h>

using namespace mailkit::imap;

namespace {

struct harness {
  server s;
  explicit harness(server_config c) : s(std::move(c)) { s.greet(); }
  std::string take() {
    std::string o(s.output());
    s.consume_output(o.size());
    return o;
  }
  server_event send(std::string_view bytes) {
    s.feed(bytes);
    return s.next_event();
  }
};

server_config cfg(bool tls_active = false) {
  server_config c;
  c.hostname = "mx.example.test";
  c.tls_available = true;
  c.tls_active = tls_active;
  c.capabilities = {"IDLE", "UIDPLUS", "MOVE"};
  return c;
}

std::string plain(std::string_view user, std::string_view pw) {
  std::string raw;
  raw += '\0';
  raw.append(user);
  raw += '\0';
  raw.append(pw);
  return mailkit::base64::encode(raw);
}

} // namespace

TEST(ImapServer, GreetingAndLoginBeforeTls) {
  harness h(cfg());
  const std::string greet = h.take();
  EXPECT_EQ(greet.rfind("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ STARTTLS LOGINDISABLED", 0),
            0u)
      << greet;
  // RFC 9051 §6.2.3: no LOGIN before TLS.
  auto ev = h.send("a1 LOGIN bob secret\r\n");
  EXPECT_EQ(ev.k, server_event::kind::need_input);
  EXPECT_EQ(h.take(), "a1 NO [PRIVACYREQUIRED] LOGIN is not allowed before STARTTLS\r\n");
  h.send("a2 AUTHENTICATE PLAIN " + plain("bob", "pw") + "\r\n");
  EXPECT_NE(h.take().find("a2 NO [PRIVACYREQUIRED]"), std::string::npos);
  // Commands of other states are BAD.
  h.send("a3 SELECT INBOX\r\n");
  EXPECT_EQ(h.take(), "a3 BAD Log in first\r\n");
}

TEST(ImapServer, StartTlsDiscardsPipelinedPlaintext) {
  harness h(cfg());
  h.take();
  // The LOGIN pipelined behind STARTTLS in the same packet is never run (CVE-2011-0411).
  auto ev = h.send("t1 STARTTLS\r\nt2 LOGIN bob secret\r\n");
  EXPECT_EQ(ev.k, server_event::kind::starttls);
  EXPECT_EQ(h.take(), "t1 OK Begin TLS negotiation now\r\n");
  EXPECT_EQ(h.s.next_event().k, server_event::kind::need_input); // nothing read meanwhile
  h.s.tls_established();
  EXPECT_EQ(h.s.next_event().k, server_event::kind::need_input);
  EXPECT_EQ(h.take(), "");
  h.send("t3 CAPABILITY\r\n");
  const std::string caps = h.take();
  EXPECT_NE(caps.find("AUTH=PLAIN SASL-IR"), std::string::npos);
  EXPECT_EQ(caps.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(caps.find("LOGINDISABLED"), std::string::npos);
  h.send("t4 STARTTLS\r\n");
  EXPECT_EQ(h.take(), "t4 BAD TLS is already active\r\n");
}

TEST(ImapServer, LoginAuthenticateAndFailureLimit) {
  harness h(cfg(true));
  h.take();
  auto ev = h.send("a1 LOGIN bob wrong\r\n");
  ASSERT_EQ(ev.k, server_event::kind::authenticate);
  EXPECT_EQ(h.s.user(), "bob");
  EXPECT_EQ(h.s.password(), "wrong");
  h.s.auth_result(std::nullopt);
  EXPECT_EQ(h.take(), "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
  EXPECT_TRUE(h.s.password().empty());
  // AUTHENTICATE PLAIN with a continuation, then cancelled.
  h.send("a2 AUTHENTICATE PLAIN\r\n");
  EXPECT_EQ(h.take(), "+ \r\n");
  h.send("*\r\n");
  EXPECT_EQ(h.take(), "a2 BAD Authentication cancelled\r\n");
  h.send("a3 AUTHENTICATE PLAIN\r\n");
  h.take();
  ev = h.send(plain("bob", "pw2") + "\r\n");
  ASSERT_EQ(ev.k, server_event::kind::authenticate);
  EXPECT_EQ(h.s.password(), "pw2");
  h.s.auth_result(std::nullopt);
  h.take();
  // The third failure ends the connection.
  ev = h.send("a4 AUTHENTICATE PLAIN " + plain("bob", "pw3") + "\r\n");
  ASSERT_EQ(ev.k, server_event::kind::authenticate);
  h.s.auth_result(std::nullopt);
  EXPECT_EQ(h.s.next_event().k, server_event::kind::close);
  EXPECT_NE(h.take().find("* BYE Too many authentication failures"), std::string::npos);
}

TEST(ImapServer, StatesSelectIdleLogout) {
  harness h(cfg(true));
  h.take();
  auto ev = h.send("a1 AUTHENTICATE PLAIN " + plain("bob", "pw") + "\r\n");
  ASSERT_EQ(ev.k, server_event::kind::authenticate);
  h.s.auth_result("bob@example.test");
  EXPECT_EQ(h.s.state(), session_state::authenticated);
  const std::string ok = h.take();
  EXPECT_EQ(ok.rfind("a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE ID NAMESPACE IDLE", 0),
            0u)
      << ok;
  h.send("a2 LOGIN bob pw\r\n");
  EXPECT_EQ(h.take(), "a2 BAD Already authenticated\r\n");
  h.send("a3 FETCH 1 FLAGS\r\n");
  EXPECT_EQ(h.take(), "a3 BAD No mailbox selected\r\n");
  ev = h.send("a4 SELECT INBOX\r\na5 NOOP\r\n");
  ASSERT_EQ(ev.k, server_event::kind::execute);
  ASSERT_TRUE(std::holds_alternative<cmd_select>(ev.cmd));
  // Nothing else is read until the command completes.
  EXPECT_EQ(h.s.next_event().k, server_event::kind::need_input);
  h.s.untagged("3 EXISTS");
  h.s.complete("OK", "READ-WRITE", "SELECT completed");
  EXPECT_EQ(h.take(), "* 3 EXISTS\r\na4 OK [READ-WRITE] SELECT completed\r\n");
  EXPECT_EQ(h.s.state(), session_state::selected);
  ev = h.s.next_event(); // the pipelined NOOP: in the selected state it goes to the session
  ASSERT_EQ(ev.k, server_event::kind::execute);
  EXPECT_TRUE(std::holds_alternative<cmd_noop>(ev.cmd));
  h.s.complete("OK", "", "NOOP completed");
  h.take();
  // IDLE: "+ idling", DONE, then the session completes.
  ev = h.send("a6 IDLE\r\n");
  ASSERT_EQ(ev.k, server_event::kind::execute);
  EXPECT_EQ(h.take(), "+ idling\r\n");
  EXPECT_EQ(h.send("done\r\n").k, server_event::kind::idle_done);
  h.s.complete("OK", "", "IDLE terminated");
  EXPECT_EQ(h.take(), "a6 OK IDLE terminated\r\n");
  ev = h.send("a7 UID FETCH 1:* (FLAGS)\r\n");
  ASSERT_EQ(ev.k, server_event::kind::execute);
  EXPECT_TRUE(ev.uid);
  h.s.complete("OK", "", "FETCH completed");
  h.take();
  ev = h.send("a8 CLOSE\r\n");
  h.s.complete("OK", "", "CLOSE completed");
  EXPECT_EQ(h.s.state(), session_state::authenticated);
  h.take();
  // A failed SELECT leaves no mailbox selected.
  ev = h.send("a9 SELECT Nope\r\n");
  h.s.complete("NO", "NONEXISTENT", "No such mailbox");
  EXPECT_EQ(h.s.state(), session_state::authenticated);
  h.take();
  ev = h.send("b1 LOGOUT\r\n");
  EXPECT_EQ(ev.k, server_event::kind::close);
  EXPECT_EQ(h.take(), "* BYE Logging out\r\nb1 OK Logout completed\r\n");
}

TEST(ImapServer, EnableIdNamespace) {
  harness h(cfg(true));
  h.take();
  h.send("a ENABLE CONDSTORE\r\n"); // not authenticated: ENABLE is an authenticated command
  EXPECT_EQ(h.take(), "a BAD Log in first\r\n");
  h.send("b LOGIN bob pw\r\n");
  h.s.auth_result("bob");
  h.take();
  h.send("c ENABLE QRESYNC X-UNKNOWN UTF8=ACCEPT\r\n");
  EXPECT_EQ(h.take(), "* ENABLED QRESYNC UTF8=ACCEPT\r\nc OK Enabled\r\n");
  EXPECT_TRUE(h.s.enabled("CONDSTORE")); // RFC 7162 §3.2.3
  h.send("d ID (\"name\" \"test\")\r\n");
  EXPECT_EQ(h.take(), "* ID (\"name\" \"mailkit\")\r\nd OK ID completed\r\n");
  EXPECT_EQ(h.s.client_id().size(), 1u);
  h.send("e NAMESPACE\r\n");
  EXPECT_EQ(h.take(), "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\ne OK Namespace completed\r\n");
}

TEST(ImapServer, TooBigAndErrorLimit) {
  server_config c = cfg(true);
  c.limits.literal = 100;
  c.max_errors = 3;
  harness h(c);
  h.take();
  h.send("a LOGIN {101}\r\n");
  EXPECT_EQ(h.take(), "a NO [TOOBIG] Literal of 101 octets too large\r\n");
  h.send("b LOGIN {5}\r\n");
  EXPECT_EQ(h.take(), "+ Ready for literal data\r\n");
  h.send("xxxxx\r\n"); // LOGIN without a password: BAD, the first error
  EXPECT_EQ(h.take(), "b BAD syntax error\r\n");
  h.send("b1 FOO\r\nb2 FOO\r\n");
  EXPECT_EQ(h.s.next_event().k, server_event::kind::close);
  EXPECT_NE(h.take().find("* BYE Too many invalid commands"), std::string::npos);
}

TEST(ImapServer, DecodePlain) {
  auto c = decode_plain(plain("bob", "pw"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->authcid, "bob");
  EXPECT_EQ(c->password, "pw");
  EXPECT_FALSE(decode_plain("="));
  EXPECT_FALSE(decode_plain("!!"));
  EXPECT_FALSE(decode_plain(mailkit::base64::encode(std::string("a\0b\0c\0d", 7))));
  EXPECT_FALSE(decode_plain(plain(std::string(256, 'u'), "pw")));
}
