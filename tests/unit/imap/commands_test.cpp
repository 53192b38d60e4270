// SPDX-License-Identifier: Apache-2.0
// Typed IMAP commands: each command's grammar (RFC 9051 §6 and the extensions) and the states
// of RFC 9051 §3 in which it is allowed.
#include <mailkit/imap/commands.hpp>

#include <gtest/gtest.h>

using namespace mailkit::imap;

namespace {

mailkit::expected<typed_command> typed(std::string line) {
  auto c = parse_command(line + "\r\n");
  if (!c) return mailkit::make_unexpected(c.error());
  return parse_typed(*c);
}

template <class T>
T as(const std::string& line) {
  auto t = typed(line);
  EXPECT_TRUE(t) << line << ": " << (t ? "" : t.error().message());
  if (!t || !std::holds_alternative<T>(*t)) {
    ADD_FAILURE() << line << " is not the expected command";
    return T{};
  }
  return std::get<T>(*t);
}

} // namespace

TEST(ImapCommands, NoArgumentCommandsAndStates) {
  using st = session_state;
  auto cap = typed("a CAPABILITY");
  ASSERT_TRUE(cap);
  EXPECT_TRUE(allowed_in(*cap, st::not_authenticated));
  EXPECT_TRUE(allowed_in(*cap, st::selected));
  EXPECT_FALSE(allowed_in(*cap, st::logout));
  auto login = typed("a LOGIN bob pw");
  ASSERT_TRUE(login);
  EXPECT_TRUE(allowed_in(*login, st::not_authenticated));
  EXPECT_FALSE(allowed_in(*login, st::authenticated)); // RFC 9051 §6.2
  auto sel = typed("a SELECT INBOX");
  ASSERT_TRUE(sel);
  EXPECT_FALSE(allowed_in(*sel, st::not_authenticated));
  EXPECT_TRUE(allowed_in(*sel, st::authenticated));
  EXPECT_TRUE(allowed_in(*sel, st::selected));
  auto fetch = typed("a FETCH 1 FLAGS");
  ASSERT_TRUE(fetch);
  EXPECT_FALSE(allowed_in(*fetch, st::authenticated)); // RFC 9051 §6.4
  EXPECT_TRUE(allowed_in(*fetch, st::selected));
  for (const char* bad :
       {"a NOOP x", "a LOGOUT now", "a UID NOOP", "a UID SELECT INBOX", "a CHECK 1", "a XYZZY"})
    EXPECT_FALSE(typed(bad)) << bad;
  auto unknown = typed("a XYZZY");
  EXPECT_EQ(unknown.error(), make_error_code(errc::unknown_command));
}

TEST(ImapCommands, LoginAuthenticateEnableId) {
  auto l = as<cmd_login>("a LOGIN \"bob@example.com\" {2+}\r\npw");
  EXPECT_EQ(l.user, "bob@example.com");
  EXPECT_EQ(l.password, "pw");
  auto au = as<cmd_authenticate>("a AUTHENTICATE plain AGJvYgBwdw==");
  EXPECT_EQ(au.mechanism, "PLAIN");
  EXPECT_EQ(au.initial_response, "AGJvYgBwdw==");
  EXPECT_FALSE(as<cmd_authenticate>("a AUTHENTICATE PLAIN").initial_response);
  EXPECT_EQ(as<cmd_enable>("a ENABLE imap4rev2 CONDSTORE").capabilities,
            (std::vector<std::string>{"IMAP4REV2", "CONDSTORE"}));
  auto id = as<cmd_id>("a ID (\"name\" \"Thunderbird\" \"version\" NIL)");
  ASSERT_EQ(id.fields.size(), 2u);
  EXPECT_EQ(id.fields[0].second, "Thunderbird");
  EXPECT_FALSE(id.fields[1].second);
  EXPECT_TRUE(as<cmd_id>("a ID NIL").fields.empty());
  // RFC 2971 §3.3: at most 30 pairs, fields at most 30 octets.
  std::string many = "a ID (";
  for (int i = 0; i < 31; ++i)
    many += "\"f" + std::to_string(i) + "\" \"v\" ";
  many.back() = ')';
  EXPECT_FALSE(typed(many));
  EXPECT_FALSE(typed("a ID (\"" + std::string(31, 'f') + "\" \"v\")"));
  for (const char* bad : {"a LOGIN bob", "a LOGIN (bob) pw", "a ENABLE", "a ID (\"odd\")",
                          "a AUTHENTICATE", "a AUTHENTICATE PLAIN \"x\""})
    EXPECT_FALSE(typed(bad)) << bad;
}

TEST(ImapCommands, SelectWithCondstoreAndQresync) {
  auto s = as<cmd_select>("a EXAMINE \"Sent\" (CONDSTORE)");
  EXPECT_EQ(s.mailbox, "Sent");
  EXPECT_TRUE(s.read_only);
  EXPECT_TRUE(s.condstore);
  auto q = as<cmd_select>("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211 "
                          "(1,3:5 41,43:45)))");
  ASSERT_TRUE(q.qresync);
  EXPECT_TRUE(q.condstore);
  EXPECT_EQ(q.qresync->uidvalidity, 67890007u);
  EXPECT_EQ(q.qresync->modseq, 20050715194045000u);
  ASSERT_TRUE(q.qresync->known_uids);
  ASSERT_TRUE(q.qresync->seq_match);
  EXPECT_TRUE(q.qresync->seq_match->first.contains(4, 10));
  for (const char* bad :
       {"a SELECT", "a SELECT INBOX ()", "a SELECT INBOX (FOO)", "a SELECT INBOX (QRESYNC (0 5))",
        "a SELECT INBOX (QRESYNC (1))", "a SELECT INBOX (QRESYNC (1 2 3 (4)))"})
    EXPECT_FALSE(typed(bad)) << bad;
}

TEST(ImapCommands, MailboxCommandsAndList) {
  EXPECT_EQ(as<cmd_create>("a CREATE Archive/2024").mailbox, "Archive/2024");
  EXPECT_EQ(as<cmd_create>("a CREATE Mine (USE (\\Archive))").special_use,
            (std::vector<std::string>{"\\Archive"}));
  EXPECT_EQ(as<cmd_rename>("a RENAME a b").to, "b");
  EXPECT_FALSE(as<cmd_subscribe>("a UNSUBSCRIBE x").subscribe);
  auto l = as<cmd_list>("a LIST \"\" *");
  EXPECT_FALSE(l.extended);
  EXPECT_EQ(l.patterns, (std::vector<std::string>{"*"}));
  auto x = as<cmd_list>("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX Sent/%) RETURN "
                        "(CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))");
  EXPECT_TRUE(x.extended && x.subscribed && x.recursive_match);
  EXPECT_EQ(x.patterns.size(), 2u);
  EXPECT_TRUE(x.return_children && x.return_special_use);
  EXPECT_EQ(x.return_status, (std::vector<std::string>{"MESSAGES", "UNSEEN"}));
  EXPECT_TRUE(as<cmd_list>("a LSUB \"\" %").lsub);
  auto st = as<cmd_status>("a STATUS INBOX (MESSAGES UIDNEXT HIGHESTMODSEQ SIZE)");
  EXPECT_EQ(st.items.size(), 4u);
  for (const char* bad : {"a LIST (RECURSIVEMATCH) \"\" *", "a LIST \"\" () ", "a LIST \"\"",
                          "a LSUB (SUBSCRIBED) \"\" *", "a STATUS INBOX (FOO)", "a STATUS INBOX",
                          "a CREATE x (USE (Archive))", "a DELETE", "a RENAME a"})
    EXPECT_FALSE(typed(bad)) << bad;
}

TEST(ImapCommands, AppendAndMultiappend) {
  auto a = as<cmd_append>("a APPEND Sent (\\Seen $Label) \" 7-Jul-1996 02:44:25 +0000\" "
                          "{7+}\r\nhello\r\n (\\Draft) ~{3+}\r\na\nb");
  ASSERT_EQ(a.messages.size(), 2u);
  EXPECT_EQ(a.messages[0].flags, (std::vector<std::string>{"\\Seen", "$Label"}));
  EXPECT_EQ(a.messages[0].internal_date, 836707465);
  EXPECT_EQ(a.messages[0].data, "hello\r\n");
  EXPECT_TRUE(a.messages[1].binary);
  EXPECT_FALSE(a.messages[1].internal_date);
  for (const char* bad : {"a APPEND INBOX", "a APPEND INBOX (\\Recent) {1+}\r\nx",
                          "a APPEND INBOX \"bad date\" {1+}\r\nx", "a APPEND INBOX \"x\""})
    EXPECT_FALSE(typed(bad)) << bad;
}

TEST(ImapCommands, SelectedStateCommands) {
  auto st = as<cmd_store>("a UID STORE 1:* (UNCHANGEDSINCE 12) +FLAGS.SILENT (\\Deleted)");
  EXPECT_EQ(st.how, cmd_store::mode::add);
  EXPECT_TRUE(st.silent);
  EXPECT_EQ(st.unchanged_since, 12u);
  EXPECT_EQ(st.flags, (std::vector<std::string>{"\\Deleted"}));
  auto st2 = as<cmd_store>("a STORE 2 -FLAGS \\Seen $Junk");
  EXPECT_EQ(st2.how, cmd_store::mode::remove);
  EXPECT_EQ(st2.flags.size(), 2u);
  EXPECT_TRUE(as<cmd_copy>("a UID MOVE 4:7 Trash").move);
  EXPECT_TRUE(as<cmd_expunge>("a UID EXPUNGE 3:5").uids);
  EXPECT_FALSE(as<cmd_expunge>("a EXPUNGE").uids);
  EXPECT_EQ(as<cmd_fetch>("a FETCH 1:3 (FLAGS UID)").fetch.items.size(), 2u);
  EXPECT_TRUE(as<cmd_search>("a UID SEARCH RETURN (SAVE) UNSEEN").search.ret.save);
  auto sq = as<cmd_setquota>("a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)");
  EXPECT_EQ(sq.limits.size(), 2u);
  for (const char* bad :
       {"a STORE 1 FLAGS", "a STORE 0 FLAGS (\\Seen)", "a STORE 1 LABELS (x)",
        "a STORE 1 FLAGS (\\Recent)", "a STORE 1 (UNCHANGEDSINCE) FLAGS (\\Seen)", "a COPY 1",
        "a EXPUNGE 1", "a UID EXPUNGE", "a FETCH 1", "a FETCH x FLAGS", "a SETQUOTA r (STORAGE)"})
    EXPECT_FALSE(typed(bad)) << bad;
}
