// SPDX-License-Identifier: Apache-2.0
// The IMAP executor over a real store in a temporary directory, driven through imap::server
// with bytes: LOGIN, SELECT/EXAMINE data, LIST (children, special-use, patterns, modified
// UTF-7), STATUS, CREATE/RENAME/DELETE, SUBSCRIBE/LSUB, APPEND with APPENDUID, FETCH items
// (FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY[section]<partial>,
// BODY.PEEK vs \Seen, MODSEQ), STORE (+/-FLAGS, .SILENT, UNCHANGEDSINCE), COPY/MOVE with
// COPYUID, EXPUNGE/UID EXPUNGE, SEARCH (flags, headers, text, dates, ESEARCH), CLOSE,
// UNSELECT, NOOP and IDLE updates from a second session, and names that try to leave the
// account.
#include <mailkit/server/imap_executor.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;
namespace imap = mailkit::imap;
namespace srv = mailkit::server;

namespace {

const char* const simple_message = "From: Alice <alice@example.com>\r\n"
                                   "To: bob@example.com\r\n"
                                   "Subject: Hello there\r\n"
                                   "Date: Tue, 01 Jul 2025 10:52:37 +0200\r\n"
                                   "Message-ID: <m1@example.com>\r\n"
                                   "\r\n"
                                   "First line of the body\r\n"
                                   "Second line with a needle\r\n";

const char* const multipart_message = "From: Carol <carol@example.org>\r\n"
                                      "To: bob@example.com\r\n"
                                      "Subject: Report\r\n"
                                      "Date: Wed, 02 Jul 2025 08:00:00 +0000\r\n"
                                      "MIME-Version: 1.0\r\n"
                                      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
                                      "\r\n"
                                      "--b1\r\n"
                                      "Content-Type: text/plain; charset=utf-8\r\n"
                                      "\r\n"
                                      "The text part\r\n"
                                      "--b1\r\n"
                                      "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
                                      "Content-Transfer-Encoding: base64\r\n"
                                      "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
                                      "\r\n"
                                      "aGVsbG8gd29ybGQ=\r\n"
                                      "--b1--\r\n";

struct session {
  imap::server core;
  srv::imap_executor exec;

  session(std::shared_ptr<mailkit::store::mail_store> st) : core(cfg()), exec(std::move(st)) {
    core.greet();
    take();
  }
  static imap::server_config cfg() {
    imap::server_config c;
    c.hostname = "imap.example.test";
    c.allow_plaintext_auth = true;
    c.capabilities = srv::imap_executor_capabilities();
    return c;
  }
  std::string take() {
    std::string o(core.output());
    core.consume_output(o.size());
    return o;
  }
  /// Feed bytes and run every event they cause; the output so far.
  std::string send(std::string_view bytes) {
    core.feed(bytes);
    for (;;) {
      auto ev = core.next_event();
      using k = imap::server_event::kind;
      if (ev.k == k::authenticate) {
        core.auth_result(exec.authenticate(core.user(), core.password()));
      } else if (ev.k == k::execute) {
        exec.execute(core, ev);
        while (exec.pending())
          exec.resume(core);
        if (std::holds_alternative<imap::cmd_idle>(ev.cmd)) break;
      } else if (ev.k == k::idle_done) {
        exec.finish_idle(core);
      } else {
        break;
      }
    }
    return take();
  }
  void login() {
    const std::string r = send("L LOGIN bob@example.com pw-bob-123\r\n");
    ASSERT_NE(r.find("L OK"), std::string::npos) << r;
  }
};

bool has(const std::string& out, std::string_view what) {
  return out.find(what) != std::string::npos;
}

struct executor_fixture : ::testing::Test {
  fs::path dir;
  std::shared_ptr<mailkit::store::mail_store> store;

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_imap_exec_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    mailkit::store::open_options o;
    o.path = (dir / "store").string();
    o.passwords.opslimit = 1;
    o.passwords.memlimit = 8u << 10 << 10;
    auto st = mailkit::store::open(std::move(o));
    ASSERT_TRUE(st) << st.error().message();
    store = std::move(*st);
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account("bob@example.com", "pw-bob-123"));
    ASSERT_TRUE(store->add_account("eve@example.com", "pw-eve-123"));
  }
  void TearDown() override {
    store.reset();
    fs::remove_all(dir);
  }
  void deliver(const char* msg, std::string_view mailbox = "INBOX") {
    ASSERT_TRUE(store->deliver("bob@example.com", msg, mailbox));
  }
};

} // namespace

TEST_F(executor_fixture, LoginRefusesWrongPassword) {
  session s(store);
  auto r = s.send("a LOGIN bob@example.com wrong\r\n");
  EXPECT_TRUE(has(r, "a NO [AUTHENTICATIONFAILED]")) << r;
  r = s.send("b LOGIN nobody@example.com pw-bob-123\r\n");
  EXPECT_TRUE(has(r, "b NO [AUTHENTICATIONFAILED]")) << r;
  r = s.send("c LOGIN bob@example.com pw-bob-123\r\n");
  EXPECT_TRUE(has(r, "c OK")) << r;
  EXPECT_EQ(s.exec.account(), "bob@example.com");
}

TEST_F(executor_fixture, SelectAndExamine) {
  deliver(simple_message);
  deliver(multipart_message);
  session s(store);
  s.login();
  auto r = s.send("s SELECT INBOX\r\n");
  EXPECT_TRUE(has(r, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")) << r;
  EXPECT_TRUE(has(r, "* 2 EXISTS\r\n")) << r;
  EXPECT_TRUE(has(r, "* OK [UNSEEN 1]")) << r;
  EXPECT_TRUE(has(r, "* OK [PERMANENTFLAGS (")) << r;
  EXPECT_TRUE(has(r, "* OK [UIDVALIDITY ")) << r;
  EXPECT_TRUE(has(r, "* OK [UIDNEXT 3]")) << r;
  EXPECT_TRUE(has(r, "* OK [HIGHESTMODSEQ ")) << r;
  EXPECT_TRUE(has(r, "s OK [READ-WRITE]")) << r;
  r = s.send("e EXAMINE inbox\r\n");
  EXPECT_TRUE(has(r, "e OK [READ-ONLY]")) << r;
  r = s.send("f STORE 1 +FLAGS (\\Seen)\r\n");
  EXPECT_TRUE(has(r, "f NO [READ-ONLY]")) << r;
  r = s.send("g SELECT Nonexistent\r\n");
  EXPECT_TRUE(has(r, "g NO [NONEXISTENT]")) << r;
  // A failed SELECT leaves the selected state (RFC 9051 §6.3.2).
  r = s.send("h FETCH 1 FLAGS\r\n");
  EXPECT_TRUE(has(r, "h BAD")) << r;
}

TEST_F(executor_fixture, ListPatternsChildrenSpecialUseAndUtf7) {
  session s(store);
  s.login();
  auto r = s.send("c1 CREATE Work/Projects\r\n");
  EXPECT_TRUE(has(r, "c1 OK")) << r;
  // "Entwürfe" in modified UTF-7 (RFC 3501 §5.1.3).
  r = s.send("c2 CREATE Entw&APw-rfe\r\n");
  EXPECT_TRUE(has(r, "c2 OK")) << r;
  r = s.send("l1 LIST \"\" *\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\HasNoChildren) \"/\" INBOX")) << r;
  EXPECT_TRUE(has(r, "* LIST (\\HasChildren) \"/\" Work\r\n")) << r;
  EXPECT_TRUE(has(r, "* LIST (\\HasNoChildren) \"/\" Work/Projects")) << r;
  EXPECT_TRUE(has(r, "\\Sent) \"/\" Sent")) << r;
  EXPECT_TRUE(has(r, "\\Trash) \"/\" Trash")) << r;
  EXPECT_TRUE(has(r, "\"/\" Entw&APw-rfe")) << r;
  r = s.send("l2 LIST \"\" %\r\n");
  EXPECT_TRUE(has(r, "\"/\" Work\r\n")) << r;
  EXPECT_FALSE(has(r, "Work/Projects")) << r;
  r = s.send("l3 LIST \"Work/\" %\r\n");
  EXPECT_TRUE(has(r, "\"/\" Work/Projects")) << r;
  EXPECT_FALSE(has(r, "INBOX")) << r;
  r = s.send("l4 LIST \"\" \"\"\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\Noselect) \"/\" \"\"")) << r;
  r = s.send("l5 LIST \"\" inbox\r\n");
  EXPECT_TRUE(has(r, "\"/\" INBOX")) << r;
  // Many wildcards cost time linear in the pattern (no exponential backtracking).
  std::string many;
  for (int i = 0; i < 200; ++i)
    many += "*%";
  r = s.send("l7 LIST \"\" \"" + many + "x\"\r\n");
  EXPECT_TRUE(has(r, "l7 OK")) << r;
  EXPECT_FALSE(has(r, "* LIST")) << r;
  r = s.send("l8 LIST \"\" \"*o*/*r%\"\r\n");
  EXPECT_TRUE(has(r, "\"/\" Work/Projects")) << r;
  // RFC 9051 §6.3.4: CREATE with a trailing delimiter.
  EXPECT_TRUE(has(s.send("c3 CREATE Trail/\r\n"), "c3 OK"));
  EXPECT_TRUE(has(s.send("l9 LIST \"\" Trail\r\n"), "\"/\" Trail"));
  // After ENABLE UTF8=ACCEPT names go out as UTF-8 (RFC 6855 §3).
  r = s.send("en ENABLE UTF8=ACCEPT\r\n");
  r = s.send("l6 LIST \"\" Entw*\r\n");
  EXPECT_TRUE(has(r, "\"/\" \"Entwürfe\"")) << r;
}

TEST_F(executor_fixture, CreateRenameDeleteSubscribeStatus) {
  deliver(simple_message);
  session s(store);
  s.login();
  EXPECT_TRUE(has(s.send("a CREATE Old\r\n"), "a OK"));
  EXPECT_TRUE(has(s.send("b CREATE Old\r\n"), "b NO [ALREADYEXISTS]"));
  EXPECT_TRUE(has(s.send("c RENAME Old New\r\n"), "c OK"));
  EXPECT_TRUE(has(s.send("d SUBSCRIBE New\r\n"), "d OK"));
  auto r = s.send("e LSUB \"\" *\r\n");
  EXPECT_TRUE(has(r, "* LSUB (\\HasNoChildren) \"/\" New")) << r;
  // RFC 5258 §3.5: RECURSIVEMATCH reports the unsubscribed parent with CHILDINFO.
  EXPECT_TRUE(has(s.send("d2 CREATE Par/Kid\r\n"), "d2 OK"));
  EXPECT_TRUE(has(s.send("d3 SUBSCRIBE Par/Kid\r\n"), "d3 OK"));
  r = s.send("d4 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\HasChildren) \"/\" Par (\"CHILDINFO\" (\"SUBSCRIBED\"))")) << r;
  EXPECT_FALSE(has(r, "Par/Kid")) << r;
  r = s.send("d5 LIST (SUBSCRIBED) \"\" *\r\n");
  EXPECT_TRUE(has(r, "\\Subscribed) \"/\" Par/Kid")) << r;
  EXPECT_FALSE(has(r, "\"/\" Par\r\n")) << r;
  EXPECT_TRUE(has(s.send("f UNSUBSCRIBE New\r\n"), "f OK"));
  r = s.send("g LSUB \"\" *\r\n");
  EXPECT_FALSE(has(r, "New")) << r;
  EXPECT_TRUE(has(s.send("h DELETE New\r\n"), "h OK"));
  // RFC 9051 §6.3.6: RENAME INBOX moves the messages and leaves an empty INBOX.
  EXPECT_TRUE(has(s.send("h2 RENAME INBOX Old-Inbox\r\n"), "h2 OK"));
  EXPECT_TRUE(has(s.send("h3 STATUS Old-Inbox (MESSAGES)\r\n"), "(MESSAGES 1)"));
  EXPECT_TRUE(has(s.send("h4 STATUS INBOX (MESSAGES)\r\n"), "(MESSAGES 0)"));
  EXPECT_TRUE(has(s.send("h5 MOVE 1 INBOX\r\n"), "h5 BAD")); // nothing selected
  EXPECT_TRUE(has(s.send("h6 SELECT Old-Inbox\r\n"), "h6 OK"));
  EXPECT_TRUE(has(s.send("h7 MOVE 1 INBOX\r\n"), "h7 OK"));
  EXPECT_TRUE(has(s.send("h8 UNSELECT\r\n"), "h8 OK"));
  EXPECT_TRUE(has(s.send("i DELETE INBOX\r\n"), "i NO"));
  r = s.send("j STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE)\r\n");
  EXPECT_TRUE(has(r, "* STATUS INBOX (MESSAGES 1 UIDNEXT 3 UIDVALIDITY ")) << r;
  EXPECT_TRUE(has(r, "UNSEEN 1 DELETED 0 SIZE " + std::to_string(std::strlen(simple_message))))
      << r;
  r = s.send("k LIST (SPECIAL-USE) \"\" * RETURN (STATUS (MESSAGES))\r\n");
  EXPECT_TRUE(has(r, "\\Sent) \"/\" Sent")) << r;
  EXPECT_FALSE(has(r, "INBOX")) << r;
  EXPECT_TRUE(has(r, "* STATUS Sent (MESSAGES 0)")) << r;
}

TEST_F(executor_fixture, MailboxNamesCannotLeaveTheAccount) {
  session s(store);
  s.login();
  // Security table: traversal and wildcard names are refused by the store, never created.
  for (const char* bad : {"../eve@example.com/INBOX", "a/../../b", "/etc", "x/./y", "%", "a*b"}) {
    auto r = s.send(std::string("t CREATE \"") + bad + "\"\r\n");
    EXPECT_TRUE(has(r, "t NO") || has(r, "t BAD")) << bad << ": " << r;
  }
  // Another account's mailbox cannot be named at all: names are per account.
  ASSERT_TRUE(store->create_mailbox("eve@example.com", "Secret"));
  auto r = s.send("u SELECT Secret\r\n");
  EXPECT_TRUE(has(r, "u NO [NONEXISTENT]")) << r;
  r = s.send("v LIST \"\" *\r\n");
  EXPECT_FALSE(has(r, "Secret")) << r;
  // 8-bit octets are not modified UTF-7.
  r = s.send("w CREATE \"caf\xc3\xa9\"\r\n");
  EXPECT_TRUE(has(r, "w BAD")) << r;
}

TEST_F(executor_fixture, AppendWithAppendUid) {
  session s(store);
  s.login();
  const std::string msg = simple_message;
  auto r = s.send("a APPEND INBOX (\\Seen $Work) \" 7-Jul-2025 09:10:11 +0000\" {" +
                  std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n");
  EXPECT_TRUE(has(r, "a OK [APPENDUID ")) << r;
  EXPECT_TRUE(has(r, " 1] APPEND completed")) << r;
  r = s.send("b APPEND Missing {3+}\r\nabc\r\n");
  EXPECT_TRUE(has(r, "b NO [TRYCREATE]")) << r;
  r = s.send("c SELECT INBOX\r\n");
  r = s.send("d FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID)\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (FLAGS (\\Seen $Work) INTERNALDATE \" 7-Jul-2025 09:10:11 +0000\" "
                     "RFC822.SIZE " +
                         std::to_string(msg.size()) + " UID 1)"))
      << r;
  // APPEND to the selected mailbox reports the new message.
  r = s.send("e APPEND INBOX {3+}\r\nabc\r\n");
  EXPECT_TRUE(has(r, "* 2 EXISTS\r\ne OK [APPENDUID ")) << r;
}

TEST_F(executor_fixture, FetchEnvelopeStructureSectionsAndSeen) {
  deliver(simple_message);
  deliver(multipart_message);
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  auto r = s.send("f1 FETCH 1 ENVELOPE\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (ENVELOPE (\"Tue, 01 Jul 2025 10:52:37 +0200\" \"Hello there\" "
                     "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" "
                     "\"example.com\")) ((\"Alice\" NIL \"alice\" \"example.com\")) ((NIL NIL "
                     "\"bob\" \"example.com\")) NIL NIL NIL \"<m1@example.com>\"))"))
      << r;
  r = s.send("f2 FETCH 2 BODYSTRUCTURE\r\n");
  EXPECT_TRUE(has(r, "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 13 1")) << r;
  EXPECT_TRUE(has(r, "(\"application\" \"octet-stream\" (\"name\" \"a.bin\") NIL NIL \"BASE64\" 16 "
                     "NIL (\"attachment\" (\"filename\" \"a.bin\")) NIL NIL)"))
      << r;
  EXPECT_TRUE(has(r, " \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL))")) << r;
  r = s.send("f3 FETCH 2 BODY\r\n");
  EXPECT_TRUE(has(r, "\"BASE64\" 16) \"mixed\"))")) << r;
  // PEEK leaves \Seen alone.
  r = s.send("f4 FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] FLAGS)\r\n");
  EXPECT_TRUE(has(r, "BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: Hello there\r\n\r\n FLAGS ()"))
      << r;
  r = s.send("f5 FETCH 1 BODY.PEEK[TEXT]<6.4>\r\n");
  EXPECT_TRUE(has(r, "BODY[TEXT]<6> {4}\r\nline)")) << r;
  r = s.send("f6 FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.PEEK[2] BINARY.SIZE[2])\r\n");
  EXPECT_TRUE(has(r, "BODY[1] {13}\r\nThe text part")) << r;
  EXPECT_TRUE(has(r, "BODY[2.MIME] {")) << r;
  EXPECT_TRUE(has(r, "Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\n")) << r;
  EXPECT_TRUE(has(r, "BINARY[2] {11}\r\nhello world")) << r;
  EXPECT_TRUE(has(r, "BINARY.SIZE[2] 11")) << r;
  r = s.send("f7 FETCH 1 FLAGS\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (FLAGS ())")) << r;
  // BODY[] without PEEK sets \Seen and reports it.
  r = s.send("f8 FETCH 1 BODY[]\r\n");
  EXPECT_TRUE(has(r, std::string("BODY[] {") + std::to_string(std::strlen(simple_message)) +
                         "}\r\n" + simple_message + " FLAGS (\\Seen))"))
      << r;
  r = s.send("f9 UID FETCH 1:* (FLAGS MODSEQ)\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (FLAGS (\\Seen) UID 1 MODSEQ (")) << r;
  EXPECT_TRUE(has(r, "* 2 FETCH (FLAGS () UID 2 MODSEQ (")) << r;
  r = s.send("fa FETCH 2 BODY.PEEK[3]\r\n");
  EXPECT_TRUE(has(r, "BODY[3] {0}\r\n")) << r;
}

TEST_F(executor_fixture, StoreSilentAndUnchangedSince) {
  deliver(simple_message);
  deliver(simple_message);
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  auto r = s.send("a STORE 1:2 +FLAGS (\\Flagged $Label)\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (FLAGS (\\Flagged $Label))")) << r;
  EXPECT_TRUE(has(r, "* 2 FETCH (FLAGS (\\Flagged $Label))")) << r;
  // Messages already as asked are reported too (RFC 9051 §6.4.6).
  r = s.send("a2 STORE 1 +FLAGS (\\Flagged)\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (FLAGS (\\Flagged $Label))\r\na2 OK")) << r;
  // A sequence number past the last message is BAD; a UID that does not exist is not.
  EXPECT_TRUE(has(s.send("a3 STORE 3 +FLAGS (\\Seen)\r\n"), "a3 BAD"));
  EXPECT_TRUE(has(s.send("a4 FETCH 1:5 FLAGS\r\n"), "a4 BAD"));
  EXPECT_EQ(s.send("a5 UID FETCH 7:9 FLAGS\r\n"), "a5 OK FETCH completed\r\n");
  r = s.send("b STORE 1 -FLAGS.SILENT (\\Flagged)\r\n");
  EXPECT_EQ(r, "b OK STORE completed\r\n");
  r = s.send("c UID STORE 2 FLAGS (\\Seen)\r\n");
  EXPECT_TRUE(has(r, "* 2 FETCH (FLAGS (\\Seen) UID 2)")) << r;
  // The session's own changes do not come back as updates.
  r = s.send("d NOOP\r\n");
  EXPECT_EQ(r, "d OK NOOP completed\r\n");
  r = s.send("e STORE 1:2 (UNCHANGEDSINCE 1) +FLAGS (\\Answered)\r\n");
  EXPECT_TRUE(has(r, "e OK [MODIFIED 1:2]")) << r;
  EXPECT_TRUE(has(s.send("f STORE 1 +FLAGS (\\\\Bogus\\)\r\n"), "f BAD"));
}

TEST_F(executor_fixture, CopyMoveExpunge) {
  deliver(simple_message);
  deliver(simple_message);
  deliver(simple_message);
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  auto r = s.send("a COPY 1:2 Archive\r\n");
  EXPECT_TRUE(has(r, "a OK [COPYUID ")) << r;
  EXPECT_TRUE(has(r, " 1,2 1,2] COPY completed")) << r;
  r = s.send("b COPY 1 NoSuch\r\n");
  EXPECT_TRUE(has(r, "b NO [TRYCREATE]")) << r;
  r = s.send("c UID MOVE 2 Trash\r\n");
  EXPECT_TRUE(has(r, "* OK [COPYUID ")) << r;
  EXPECT_TRUE(has(r, "* 2 EXPUNGE\r\nc OK")) << r;
  r = s.send("d STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n");
  // UID EXPUNGE removes only the listed \Deleted messages (RFC 4315 §2.1).
  r = s.send("e UID EXPUNGE 3\r\n");
  EXPECT_EQ(r, "* 2 EXPUNGE\r\ne OK EXPUNGE completed\r\n");
  r = s.send("f EXPUNGE\r\n");
  EXPECT_EQ(r, "* 1 EXPUNGE\r\nf OK EXPUNGE completed\r\n");
  r = s.send("g STATUS Archive (MESSAGES)\r\n");
  EXPECT_TRUE(has(r, "(MESSAGES 2)")) << r;
  r = s.send("h STATUS Trash (MESSAGES)\r\n");
  EXPECT_TRUE(has(r, "(MESSAGES 1)")) << r;
}

TEST_F(executor_fixture, SearchKeys) {
  deliver(simple_message);
  deliver(multipart_message);
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  s.send("x STORE 2 +FLAGS (\\Flagged)\r\n");
  EXPECT_TRUE(has(s.send("a SEARCH ALL\r\n"), "* SEARCH 1 2\r\n"));
  EXPECT_TRUE(has(s.send("b SEARCH FLAGGED\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("c SEARCH UNFLAGGED\r\n"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(s.send("d SEARCH SUBJECT hello\r\n"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(s.send("e SEARCH FROM carol\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("f SEARCH BODY NEEDLE\r\n"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(s.send("g SEARCH TEXT report\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("h SEARCH OR FLAGGED SUBJECT hello\r\n"), "* SEARCH 1 2\r\n"));
  EXPECT_TRUE(has(s.send("i SEARCH NOT FLAGGED\r\n"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(s.send("j SEARCH SENTON 2-Jul-2025\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("k SEARCH SENTBEFORE 2-Jul-2025\r\n"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(s.send("l SEARCH SINCE 1-Jan-2000\r\n"), "* SEARCH 1 2\r\n"));
  EXPECT_TRUE(has(s.send("m SEARCH LARGER 300\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("n UID SEARCH UID 2\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("o SEARCH HEADER Message-ID m1@\r\n"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(s.send("p SEARCH 2:*\r\n"), "* SEARCH 2\r\n"));
  auto r = s.send("q SEARCH RETURN (MIN MAX COUNT ALL) ALL\r\n");
  EXPECT_TRUE(has(r, "* ESEARCH (TAG \"q\") MIN 1 MAX 2 ALL 1:2 COUNT 2")) << r;
  r = s.send("r UID SEARCH RETURN (SAVE) FLAGGED\r\n");
  r = s.send("t UID FETCH $ FLAGS\r\n");
  EXPECT_TRUE(has(r, "* 2 FETCH (FLAGS (\\Flagged) UID 2)")) << r;
  EXPECT_TRUE(has(s.send("u SEARCH SUBJECT nothing-like-this\r\n"), "* SEARCH\r\n"));
  // RFC 7162 §3.1.5: the MODSEQ key adds the highest mod-sequence of the results.
  r = s.send("v SEARCH MODSEQ 1\r\n");
  EXPECT_TRUE(has(r, "* SEARCH 1 2 (MODSEQ ")) << r;
}

TEST_F(executor_fixture, CloseExpungesUnselectDoesNot) {
  deliver(simple_message);
  deliver(simple_message);
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  s.send("a STORE 1 +FLAGS (\\Deleted)\r\n");
  auto r = s.send("b UNSELECT\r\n");
  EXPECT_EQ(r, "b OK UNSELECT completed\r\n");
  EXPECT_TRUE(has(s.send("c STATUS INBOX (MESSAGES)\r\n"), "(MESSAGES 2)"));
  s.send("d SELECT INBOX\r\n");
  r = s.send("e CLOSE\r\n");
  EXPECT_EQ(r, "e OK CLOSE completed\r\n"); // silently, RFC 9051 §6.4.1
  EXPECT_TRUE(has(s.send("f STATUS INBOX (MESSAGES)\r\n"), "(MESSAGES 1)"));
  EXPECT_TRUE(has(s.send("g FETCH 1 FLAGS\r\n"), "g BAD"));
}

TEST_F(executor_fixture, NoopAndIdleReportOtherSessions) {
  deliver(simple_message);
  deliver(simple_message);
  session a(store), b(store);
  a.login();
  b.login();
  a.send("s SELECT INBOX\r\n");
  b.send("s SELECT INBOX\r\n");
  // Delivery and another session's STORE and EXPUNGE reach session a at NOOP.
  deliver(simple_message);
  b.send("x STORE 1 +FLAGS (\\Deleted)\r\n");
  auto r = a.send("n NOOP\r\n");
  EXPECT_TRUE(has(r, "* 3 EXISTS\r\n")) << r;
  EXPECT_TRUE(has(r, "* 1 FETCH (UID 1 FLAGS (\\Deleted))")) << r;
  b.send("y EXPUNGE\r\n");
  // Not during FETCH by sequence number (RFC 9051 §7.5.1) ...
  r = a.send("f FETCH 1 UID\r\n");
  EXPECT_FALSE(has(r, "EXPUNGE")) << r;
  // ... but at the next NOOP.
  r = a.send("n2 NOOP\r\n");
  EXPECT_TRUE(has(r, "* 1 EXPUNGE\r\n")) << r;
  // IDLE: pending updates go out at once, later ones as push_updates() is called.
  r = a.send("i IDLE\r\n");
  EXPECT_EQ(r, "+ idling\r\n");
  deliver(simple_message);
  ASSERT_TRUE(a.exec.changes());
  EXPECT_TRUE(a.exec.changes()->wait_for(std::chrono::milliseconds(2000)));
  a.exec.push_updates(a.core);
  r = a.take();
  EXPECT_EQ(r, "* 3 EXISTS\r\n");
  r = a.send("DONE\r\n");
  EXPECT_EQ(r, "i OK IDLE terminated\r\n");
}

TEST_F(executor_fixture, QuotaAndCondstoreStatus) {
  ASSERT_TRUE(store->set_quota("bob@example.com", {1024 * 1024, 100}));
  deliver(simple_message);
  session s(store);
  s.login();
  auto r = s.send("q GETQUOTAROOT INBOX\r\n");
  EXPECT_TRUE(has(r, "* QUOTAROOT INBOX \"\"")) << r;
  EXPECT_TRUE(has(r, "* QUOTA \"\" (STORAGE 0 1024 MESSAGE 1 100)")) << r;
  r = s.send("r SETQUOTA \"\" (STORAGE 10)\r\n");
  EXPECT_TRUE(has(r, "r NO")) << r;
  r = s.send("t STATUS INBOX (HIGHESTMODSEQ)\r\n");
  EXPECT_TRUE(has(r, "* STATUS INBOX (HIGHESTMODSEQ ")) << r;
}

TEST_F(executor_fixture, QresyncVanished) {
  deliver(simple_message);
  deliver(simple_message);
  deliver(simple_message);
  session s(store);
  s.login();
  // RFC 7162 §3.2.5: BAD before ENABLE QRESYNC.
  EXPECT_TRUE(has(s.send("z SELECT INBOX (QRESYNC (1 1))\r\n"), "z BAD"));
  auto r = s.send("a ENABLE QRESYNC\r\n");
  EXPECT_TRUE(has(r, "* ENABLED QRESYNC")) << r;
  r = s.send("b SELECT INBOX\r\n");
  const auto at = r.find("UIDVALIDITY ");
  ASSERT_NE(at, std::string::npos) << r;
  const std::string uidvalidity = r.substr(at + 12, r.find(']', at) - at - 12);
  s.send("c STORE 2 +FLAGS.SILENT (\\Deleted)\r\n");
  // RFC 7162 §3.2.10: VANISHED instead of EXPUNGE.
  r = s.send("d EXPUNGE\r\n");
  EXPECT_EQ(r, "* VANISHED 2\r\nd OK EXPUNGE completed\r\n");
  // Every FETCH response carries the UID (RFC 7162 §3.2.4).
  r = s.send("e FETCH 2 FLAGS\r\n");
  EXPECT_TRUE(has(r, "* 2 FETCH (FLAGS () UID 3 MODSEQ (")) << r;
  r = s.send("f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n");
  EXPECT_TRUE(has(r, "* VANISHED (EARLIER) 2\r\n")) << r;
  r = s.send("g SELECT INBOX (QRESYNC (" + uidvalidity + " 1))\r\n");
  EXPECT_TRUE(has(r, "* OK [CLOSED]")) << r;
  EXPECT_TRUE(has(r, "* VANISHED (EARLIER) 2\r\n")) << r;
  EXPECT_TRUE(has(r, "g OK [READ-WRITE]")) << r;
}

TEST_F(executor_fixture, QresyncKnownUidsAndSeqMatch) {
  for (int i = 0; i < 6; ++i)
    deliver(simple_message); // UIDs 1 to 6
  session s(store);
  s.login();
  s.send("a ENABLE QRESYNC\r\n");
  auto r = s.send("b SELECT INBOX\r\n");
  const auto at = r.find("UIDVALIDITY ");
  ASSERT_NE(at, std::string::npos) << r;
  const std::string uv = r.substr(at + 12, r.find(']', at) - at - 12);
  s.send("c UID STORE 2,5 +FLAGS.SILENT (\\Deleted)\r\n");
  EXPECT_EQ(s.send("d EXPUNGE\r\n"), "* VANISHED 2\r\n* VANISHED 5\r\nd OK EXPUNGE completed\r\n");
  // RFC 7162 §3.2.5.2: without known-uids every vanished UID is reported.
  r = s.send("e SELECT INBOX (QRESYNC (" + uv + " 1))\r\n");
  EXPECT_TRUE(has(r, "* VANISHED (EARLIER) 2,5\r\n")) << r;
  // known-uids: only UIDs the client names.
  r = s.send("f SELECT INBOX (QRESYNC (" + uv + " 1 1:4))\r\n");
  EXPECT_TRUE(has(r, "* VANISHED (EARLIER) 2\r\n")) << r;
  r = s.send("g SELECT INBOX (QRESYNC (" + uv + " 1 6:7))\r\n");
  EXPECT_FALSE(has(r, "VANISHED")) << r;
  // seq-match: the client's view after 2 went but before 5 did (1->1, 2->3, 3->4) still holds,
  // so nothing at or below UID 4 vanished since: only 5 is reported.
  r = s.send("h SELECT INBOX (QRESYNC (" + uv + " 1 1:* (1:3 1,3:4)))\r\n");
  EXPECT_TRUE(has(r, "* VANISHED (EARLIER) 5\r\n")) << r;
  // A view from before both expunges (3->3) no longer holds at sequence number 3.
  r = s.send("i SELECT INBOX (QRESYNC (" + uv + " 1 1:* (1,3 1,3)))\r\n");
  EXPECT_TRUE(has(r, "* VANISHED (EARLIER) 2,5\r\n")) << r;
  // Sequence numbers past the mailbox end match nothing.
  r = s.send("j SELECT INBOX (QRESYNC (" + uv + " 1 1:* (9 9)))\r\n");
  EXPECT_TRUE(has(r, "* VANISHED (EARLIER) 2,5\r\n")) << r;
  EXPECT_TRUE(has(r, "j OK [READ-WRITE]")) << r;
}

TEST_F(executor_fixture, HighestModseqOfAnUntouchedMailbox) {
  session s(store);
  s.login();
  ASSERT_TRUE(has(s.send("a CREATE Empty\r\n"), "a OK"));
  // RFC 7162 §3.1.2.1: a positive HIGHESTMODSEQ for every mailbox, even one never changed.
  auto r = s.send("b SELECT Empty (CONDSTORE)\r\n");
  EXPECT_TRUE(has(r, "* OK [HIGHESTMODSEQ 1]\r\n")) << r;
  r = s.send("c STATUS Empty (HIGHESTMODSEQ)\r\n");
  EXPECT_TRUE(has(r, "* STATUS Empty (HIGHESTMODSEQ 1)\r\n")) << r;
  r = s.send("d LIST \"\" Empty RETURN (STATUS (HIGHESTMODSEQ))\r\n");
  EXPECT_TRUE(has(r, "* STATUS Empty (HIGHESTMODSEQ 1)\r\n")) << r;
}

TEST_F(executor_fixture, ListNonExistentParentAndRemote) {
  session s(store);
  s.login();
  ASSERT_TRUE(has(s.send("a CREATE Projects/2025\r\n"), "a OK"));
  // RFC 9051 §6.3.4: the parent may go while its child stays; it is then only a level of
  // hierarchy.
  ASSERT_TRUE(has(s.send("b DELETE Projects\r\n"), "b OK"));
  auto r = s.send("c LIST \"\" %\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\Noselect \\HasChildren) \"/\" Projects\r\n")) << r;
  r = s.send("d LIST \"\" *\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\Noselect \\HasChildren) \"/\" Projects\r\n")) << r;
  EXPECT_TRUE(has(r, "* LIST (\\HasNoChildren) \"/\" Projects/2025\r\n")) << r;
  // RFC 5258 §3: \NonExistent in the extended syntax; no STATUS for it (RFC 5819 §2).
  r = s.send("e LIST \"\" % RETURN (CHILDREN STATUS (MESSAGES))\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\NonExistent \\HasChildren) \"/\" Projects\r\n")) << r;
  EXPECT_FALSE(has(r, "STATUS Projects ")) << r;
  EXPECT_TRUE(has(r, "* STATUS INBOX (MESSAGES 0)")) << r;
  // RFC 5258 §3.5: RECURSIVEMATCH reports it as the parent of a subscribed mailbox.
  ASSERT_TRUE(has(s.send("f SUBSCRIBE Projects/2025\r\n"), "f OK"));
  r = s.send("g LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\NonExistent \\HasChildren) \"/\" Projects "
                     "(\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"))
      << r;
  r = s.send("h LIST (SUBSCRIBED) \"\" *\r\n");
  EXPECT_FALSE(has(r, "\" Projects\r\n")) << r;
  EXPECT_TRUE(has(r, "\" Projects/2025\r\n")) << r;
  // RFC 5258 §3.1: REMOTE adds remote mailboxes, of which there are none here.
  r = s.send("i LIST (REMOTE) \"\" INBOX\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\HasNoChildren) \"/\" INBOX\r\ni OK")) << r;
  // Selecting the level of hierarchy fails.
  EXPECT_TRUE(has(s.send("j SELECT Projects\r\n"), "j NO")) << r;
}

TEST_F(executor_fixture, IdleResyncReadsTheStoreBeforeWriting) {
  deliver(simple_message);
  deliver(simple_message);
  session a(store), b(store);
  a.login();
  b.login();
  a.send("s SELECT INBOX\r\n");
  b.send("s SELECT INBOX\r\n");
  EXPECT_EQ(a.send("i IDLE\r\n"), "+ idling\r\n");
  auto sub = a.exec.changes();
  ASSERT_TRUE(sub);
  mailkit::store::change filler;
  filler.what = mailkit::store::change::kind::flags_changed;
  filler.uid = 999;
  for (std::size_t i = 0; i <= mailkit::store::subscription::max_queued; ++i)
    sub->push(filler);
  b.send("x STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
  b.send("y EXPUNGE\r\n");
  ASSERT_TRUE(a.exec.resync_needed());
  // What the Asio session runs on a worker: store reads only, nothing for the client yet.
  a.exec.prepare_resync();
  EXPECT_EQ(a.take(), "");
  EXPECT_EQ(a.exec.changes(), sub);
  // Then, on the I/O thread, the updates from the listing already read.
  deliver(simple_message); // after the listing: comes through the new subscription
  a.exec.push_updates(a.core);
  EXPECT_EQ(a.take(), "* 1 EXPUNGE\r\n* 1 FETCH (UID 2 FLAGS ())\r\n");
  EXPECT_FALSE(a.exec.resync_needed());
  EXPECT_NE(a.exec.changes(), sub);
  EXPECT_EQ(a.send("DONE\r\n"), "* 2 EXISTS\r\ni OK IDLE terminated\r\n");
}

TEST_F(executor_fixture, Imap4rev2SelectAndSearch) {
  deliver(simple_message);
  session s(store);
  s.login();
  EXPECT_TRUE(has(s.send("a ENABLE IMAP4rev2\r\n"), "* ENABLED IMAP4REV2"));
  auto r = s.send("b SELECT INBOX\r\n");
  // RFC 9051 §6.3.2: no RECENT, no UNSEEN.
  EXPECT_FALSE(has(r, "RECENT")) << r;
  EXPECT_FALSE(has(r, "[UNSEEN")) << r;
  r = s.send("c SEARCH ALL\r\n");
  EXPECT_TRUE(has(r, "* ESEARCH (TAG \"c\") ALL 1\r\n")) << r;
  r = s.send("d UID SEARCH SUBJECT nothing\r\n");
  EXPECT_TRUE(has(r, "* ESEARCH (TAG \"d\") UID\r\n")) << r;
}

TEST_F(executor_fixture, FetchRangeReadsStructuresInOneBatch) {
  for (int i = 0; i < 12; ++i)
    deliver(i % 2 ? simple_message : multipart_message);
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  auto r = s.send("a FETCH 1:* (UID ENVELOPE BODYSTRUCTURE)\r\n");
  std::size_t envelopes = 0, mixed = 0;
  for (auto at = r.find("ENVELOPE ("); at != std::string::npos; at = r.find("ENVELOPE (", at + 1))
    ++envelopes;
  for (auto at = r.find("\"mixed\""); at != std::string::npos; at = r.find("\"mixed\"", at + 1))
    ++mixed;
  EXPECT_EQ(envelopes, 12u) << r;
  EXPECT_EQ(mixed, 6u) << r;
  EXPECT_TRUE(has(r, "* 12 FETCH (ENVELOPE (\"Tue, 01 Jul 2025")) << r;
  // A sparse set reads message by message and gives the same data.
  r = s.send("b UID FETCH 1,12 BODYSTRUCTURE\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\"")) << r;
  EXPECT_TRUE(has(r, "* 12 FETCH (BODYSTRUCTURE (\"text\" \"plain\"")) << r;
}

TEST_F(executor_fixture, LargeFetchIsWrittenInChunks) {
  std::string big = std::string(simple_message) + std::string(400 * 1024, 'x') + "\r\n";
  for (int i = 0; i < 5; ++i)
    deliver(big.c_str());
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  s.core.feed("f FETCH 1:* BODY.PEEK[]\r\n");
  auto ev = s.core.next_event();
  ASSERT_EQ(ev.k, imap::server_event::kind::execute);
  s.exec.execute(s.core, ev);
  // Memory per connection: the first chunk stops past fetch_chunk_bytes.
  std::size_t chunks = 1;
  std::string out = s.take();
  EXPECT_TRUE(s.exec.pending());
  EXPECT_LT(out.size(), srv::imap_executor::fetch_chunk_bytes + big.size() + 1024);
  EXPECT_FALSE(has(out, "f OK")) << out.size();
  while (s.exec.pending()) {
    s.exec.resume(s.core);
    out += s.take();
    ++chunks;
  }
  EXPECT_GE(chunks, 2u);
  std::size_t fetches = 0;
  for (auto at = out.find(" FETCH (BODY[] {"); at != std::string::npos;
       at = out.find(" FETCH (BODY[] {", at + 1))
    ++fetches;
  EXPECT_EQ(fetches, 5u);
  EXPECT_TRUE(has(out, "f OK FETCH completed\r\n"));
}

TEST_F(executor_fixture, OverflowedSubscriptionResynchronizes) {
  deliver(simple_message);
  deliver(simple_message);
  session a(store), b(store);
  a.login();
  b.login();
  a.send("s SELECT INBOX\r\n");
  b.send("s SELECT INBOX\r\n");
  // Fill session a's queue past its limit, so that the real changes below are dropped.
  auto sub = a.exec.changes();
  ASSERT_TRUE(sub);
  mailkit::store::change filler;
  filler.what = mailkit::store::change::kind::flags_changed;
  filler.uid = 999;
  for (std::size_t i = 0; i <= mailkit::store::subscription::max_queued; ++i)
    sub->push(filler);
  ASSERT_TRUE(sub->overflowed());
  deliver(simple_message);
  b.send("x STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
  b.send("y EXPUNGE\r\n");
  // Not during FETCH by sequence number ...
  auto r = a.send("f FETCH 1 UID\r\n");
  EXPECT_FALSE(has(r, "EXPUNGE")) << r;
  // ... at NOOP: the differences from the mailbox as it is now.
  r = a.send("n NOOP\r\n");
  EXPECT_TRUE(has(r, "* 1 EXPUNGE\r\n* 2 EXISTS\r\n")) << r;
  EXPECT_TRUE(has(r, "* 1 FETCH (UID 2 FLAGS ())\r\n* 2 FETCH (UID 3 FLAGS ())\r\nn OK")) << r;
  EXPECT_NE(a.exec.changes(), sub);
  // The new subscription works as before.
  deliver(simple_message);
  r = a.send("n2 NOOP\r\n");
  EXPECT_EQ(r, "* 3 EXISTS\r\nn2 OK NOOP completed\r\n");
}

// The session's own list of its messages (FLAGS, MODSEQ, sizes, dates without a row read):
// after every change, from another session, from delivery or from the session itself, a FETCH
// answers what a session that has just selected the mailbox (and so read every row) answers.
TEST_F(executor_fixture, KnownMessagesFollowEveryChange) {
  for (int i = 0; i < 4; ++i)
    deliver(i % 2 ? simple_message : multipart_message);
  session a(store), b(store);
  a.login();
  b.login();
  a.send("s ENABLE CONDSTORE\r\n");
  a.send("s SELECT INBOX\r\n");
  b.send("s SELECT INBOX\r\n");
  const char* const fetch = "f FETCH 1:* (UID FLAGS MODSEQ RFC822.SIZE INTERNALDATE)\r\n";
  // What a fresh session (a new SELECT, every row read now) answers.
  const auto fresh = [&] {
    session c(store);
    c.login();
    c.send("s ENABLE CONDSTORE\r\n");
    c.send("s EXAMINE INBOX\r\n");
    return c.send(fetch);
  };
  const auto same = [&](const char* step) {
    a.send("n NOOP\r\n"); // EXISTS and EXPUNGE go out here, not during FETCH
    const auto mine = a.send(fetch);
    EXPECT_EQ(mine, fresh()) << step;
  };
  same("at SELECT");
  // Another session's flag changes, in several steps on the same messages.
  b.send("x STORE 2 +FLAGS (\\Flagged $Work)\r\n");
  b.send("x STORE 2:3 -FLAGS ($Work)\r\n");
  // Seen by a FETCH before any NOOP: the feed's changes count at once.
  auto r = a.send("f0 FETCH 2 FLAGS\r\n");
  EXPECT_TRUE(has(r, "* 2 FETCH (FLAGS (\\Flagged)")) << r;
  // A STORE that changes nothing reports the flags as they are, the other session's included.
  b.send("x2 STORE 3 +FLAGS (\\Answered)\r\n");
  r = a.send("w STORE 3 -FLAGS (\\Draft)\r\n");
  EXPECT_TRUE(has(r, "* 3 FETCH (FLAGS (\\Answered) MODSEQ (")) << r;
  same("after STORE of another session");
  // The session's own STORE, then an older change of the other session arriving later
  // through the feed must not undo it (the higher MODSEQ wins).
  b.send("y STORE 1 +FLAGS (\\Answered)\r\n");
  a.send("z STORE 1 FLAGS (\\Seen)\r\n");
  same("after STORE of both sessions");
  // Delivery and APPEND: rows read at the next FETCH.
  deliver(simple_message);
  r = b.send("p APPEND INBOX (\\Draft) {" + std::to_string(std::strlen(simple_message)) + "+}\r\n" +
             simple_message + "\r\n");
  ASSERT_TRUE(has(r, "p OK [APPENDUID")) << r;
  same("after delivery and APPEND");
  // EXPUNGE by the other session: gone from the list once reported.
  b.send("d STORE 1,3 +FLAGS.SILENT (\\Deleted)\r\n");
  b.send("e EXPUNGE\r\n");
  // During FETCH by sequence number the expunged messages are still shown (RFC 9051 §7.5.1),
  // their data from the list.
  r = a.send("g FETCH 1:* (UID FLAGS)\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (UID 1 FLAGS (\\Seen \\Deleted)")) << r;
  EXPECT_FALSE(has(r, "EXPUNGE")) << r;
  same("after EXPUNGE of another session");
  // The session's own EXPUNGE and BODY[] setting \Seen.
  a.send("h STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
  r = a.send("i EXPUNGE\r\n");
  EXPECT_TRUE(has(r, "* 1 EXPUNGE\r\n")) << r;
  r = a.send("j FETCH 2 BODY[]\r\n");
  EXPECT_TRUE(has(r, "FLAGS (\\Seen)")) << r;
  same("after the session's own EXPUNGE and \\Seen");
}

// execute_without_io(): a FETCH that the session's list and the text cache answer is done on
// the calling thread; anything needing the store is left to execute() or resume().
TEST_F(executor_fixture, FetchWithoutStoreAccess) {
  for (int i = 0; i < 3; ++i)
    deliver(multipart_message);
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  const auto inline_fetch = [&](std::string_view bytes, bool& pending) {
    s.core.feed(bytes);
    auto ev = s.core.next_event();
    EXPECT_EQ(ev.k, imap::server_event::kind::execute);
    const bool done = s.exec.execute_without_io(s.core, ev);
    pending = s.exec.pending();
    if (!done) {
      EXPECT_EQ(s.core.output(), "");
      s.exec.execute(s.core, ev);
    }
    while (s.exec.pending())
      s.exec.resume(s.core);
    return done;
  };
  bool pending = false;
  // FLAGS and sizes: no store access at all.
  EXPECT_TRUE(inline_fetch("a FETCH 1:* (FLAGS RFC822.SIZE)\r\n", pending));
  EXPECT_FALSE(pending);
  auto r = s.take();
  EXPECT_TRUE(has(r, "* 3 FETCH (FLAGS () RFC822.SIZE ")) << r;
  EXPECT_TRUE(has(r, "a OK FETCH completed")) << r;
  // BODYSTRUCTURE of bodies never encoded in this process may need the store: then the job
  // stops before the first message not cached, and resume() (a worker) finishes it.
  std::string big = std::string(multipart_message) + "X-Unique: " + std::to_string(::getpid()) +
                    "-" + std::to_string(std::rand()) + "\r\n";
  deliver(big.c_str());
  s.send("n NOOP\r\n");
  EXPECT_FALSE(inline_fetch("b0 FETCH 4 (FLAGS)\r\n", pending)); // its row first
  s.take();
  EXPECT_TRUE(inline_fetch("b FETCH 4 (BODYSTRUCTURE)\r\n", pending));
  EXPECT_TRUE(pending);
  EXPECT_FALSE(s.exec.resumable_without_io());
  r = s.take();
  EXPECT_TRUE(has(r, "* 4 FETCH (BODYSTRUCTURE ((\"text\" \"plain\"")) << r;
  EXPECT_TRUE(has(r, "b OK FETCH completed")) << r;
  EXPECT_TRUE(inline_fetch("c0 FETCH 1:3 (BODYSTRUCTURE)\r\n", pending));
  s.take();
  // Cached now: all of it on the calling thread.
  EXPECT_TRUE(inline_fetch("c FETCH 1:* (UID BODYSTRUCTURE)\r\n", pending));
  EXPECT_FALSE(pending);
  r = s.take();
  EXPECT_TRUE(has(r, "* 4 FETCH (BODYSTRUCTURE ((\"text\" \"plain\"")) << r;
  EXPECT_TRUE(has(r, "\"mixed\" (\"boundary\" \"b1\") NIL NIL NIL) UID 4)\r\n")) << r;
  // The text of a few small messages is read on the calling thread (direct_text_messages,
  // direct_text_bytes), with the same responses as execute() gives; more messages, or \Seen
  // to set, are the store workers'.
  session other(store);
  other.login();
  other.send("s SELECT INBOX\r\n");
  EXPECT_TRUE(inline_fetch("d FETCH 1 BODY.PEEK[1]\r\n", pending));
  EXPECT_FALSE(pending);
  r = s.take();
  EXPECT_TRUE(has(r, "BODY[1] {13}\r\nThe text part")) << r;
  EXPECT_EQ(r, other.send("d FETCH 1 BODY.PEEK[1]\r\n"));
  EXPECT_TRUE(inline_fetch("d2 UID FETCH 1:4 (BODY.PEEK[HEADER] BINARY.SIZE[1])\r\n", pending));
  r = s.take();
  EXPECT_EQ(r, other.send("d2 UID FETCH 1:4 (BODY.PEEK[HEADER] BINARY.SIZE[1])\r\n"));
  EXPECT_TRUE(inline_fetch("d3 FETCH 1:4,1 BODY.PEEK[]\r\n", pending)); // four messages
  r = s.take();
  EXPECT_EQ(r, other.send("d3 FETCH 1:4,1 BODY.PEEK[]\r\n"));
  EXPECT_FALSE(inline_fetch("e FETCH 1 BODY[]\r\n", pending));
  r = s.take();
  EXPECT_TRUE(has(r, "FLAGS (\\Seen)")) << r;
  // A message appended since the last FETCH: its row first.
  deliver(multipart_message);
  s.send("n2 NOOP\r\n");
  EXPECT_FALSE(inline_fetch("f FETCH 5 (FLAGS)\r\n", pending));
  r = s.take();
  EXPECT_TRUE(has(r, "* 5 FETCH (FLAGS ())")) << r;
  // Now known: on the calling thread again.
  EXPECT_TRUE(inline_fetch("g FETCH 5 (UID FLAGS)\r\n", pending));
  r = s.take();
  EXPECT_TRUE(has(r, "* 5 FETCH (FLAGS () UID 5)")) << r;
  // Five messages, or a message larger than direct_text_bytes: a worker's.
  EXPECT_FALSE(inline_fetch("h FETCH 1:5 BODY.PEEK[1]\r\n", pending));
  r = s.take();
  EXPECT_TRUE(has(r, "* 5 FETCH (BODY[1] {13}")) << r;
  std::string large = "Subject: large\r\n\r\n";
  while (large.size() <= mailkit::server::imap_executor::direct_text_bytes)
    large += std::string(76, 'x') + "\r\n";
  deliver(large.c_str());
  s.send("n3 NOOP\r\n");
  EXPECT_FALSE(inline_fetch("i0 FETCH 6 (RFC822.SIZE)\r\n", pending)); // its row first
  s.take();
  EXPECT_FALSE(inline_fetch("i FETCH 6 BODY.PEEK[TEXT]\r\n", pending));
  r = s.take();
  EXPECT_TRUE(has(r, "i OK FETCH completed")) << r;
}

// Without the store, a FETCH writes at most inline_chunk_bytes at a time; the session writes
// them and goes on (resume_without_io) until the end, with the same responses as execute().
TEST_F(executor_fixture, FetchWithoutStoreAccessGoesOnInChunks) {
  // Envelopes of about 20 KiB (a long Subject): 20 messages are more than one chunk.
  std::string subject(20 * 1024, 's');
  std::string msg = std::string("Subject: ") + subject + "\r\nFrom: a@example.com\r\n\r\nBody\r\n";
  for (int i = 0; i < 20; ++i)
    deliver(msg.c_str());
  session s(store);
  s.login();
  s.send("s SELECT INBOX\r\n");
  const std::string expected = s.send("a FETCH 1:* (UID ENVELOPE)\r\n"); // caches the texts
  ASSERT_TRUE(has(expected, "a OK FETCH completed")) << expected.substr(0, 200);
  s.core.feed("a FETCH 1:* (UID ENVELOPE)\r\n");
  auto ev = s.core.next_event();
  ASSERT_EQ(ev.k, imap::server_event::kind::execute);
  ASSERT_TRUE(s.exec.execute_without_io(s.core, ev));
  std::string out = s.take();
  std::size_t chunks = 1;
  EXPECT_LT(out.size(), srv::imap_executor::inline_chunk_bytes + 64 * 1024);
  while (s.exec.pending()) {
    ASSERT_TRUE(s.exec.resumable_without_io());
    s.exec.resume_without_io(s.core);
    const auto part = s.take();
    EXPECT_LT(part.size(), srv::imap_executor::inline_chunk_bytes + 64 * 1024);
    out += part;
    ++chunks;
  }
  EXPECT_GE(chunks, 2u);
  EXPECT_EQ(out, expected);
}
