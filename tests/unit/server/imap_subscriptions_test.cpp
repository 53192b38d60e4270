// SPDX-License-Identifier: Apache-2.0
// Store schema 2 through IMAP: HIGHESTMODSEQ starts at 1 for a new mailbox and the first change
// takes it above (RFC 7162 §3.1: CHANGEDSINCE the value seen on the empty mailbox finds the
// first message), and subscriptions kept apart from mailboxes (RFC 9051 §6.3.7: a subscription
// may name a mailbox that does not exist; DELETE keeps it, LSUB and LIST (SUBSCRIBED) list it as
// \NonExistent / \Noselect, UNSUBSCRIBE removes it; RENAME moves it). Last, the migration of a
// schema-1 store: never-changed mailboxes get 1, subscribed mailbox rows become subscriptions.
#include <mailkit/server/imap_executor.hpp>

#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

namespace fs = std::filesystem;
namespace imap = mailkit::imap;
namespace srv = mailkit::server;

namespace {

const char* const message = "From: Alice <alice@example.com>\r\n"
                            "To: bob@example.com\r\n"
                            "Subject: Hello\r\n"
                            "\r\n"
                            "Body\r\n";

struct session {
  imap::server core;
  srv::imap_executor exec;

  explicit session(std::shared_ptr<mailkit::store::mail_store> st) : core(cfg()), exec(st) {
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
      } else {
        break;
      }
    }
    return take();
  }
};

bool has(const std::string& out, std::string_view what) {
  return out.find(what) != std::string::npos;
}

struct schema_fixture : ::testing::Test {
  fs::path dir;
  std::shared_ptr<mailkit::store::mail_store> store;

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_imap_subs_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    open();
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account("bob@example.com", "pw-bob-123"));
  }
  void open() {
    mailkit::store::open_options o;
    o.path = (dir / "store").string();
    o.passwords.opslimit = 1;
    o.passwords.memlimit = 8u << 10 << 10;
    auto st = mailkit::store::open(std::move(o));
    ASSERT_TRUE(st) << st.error().message();
    store = std::move(*st);
  }
  void TearDown() override {
    store.reset();
    fs::remove_all(dir);
  }
  std::unique_ptr<session> logged_in() {
    auto s = std::make_unique<session>(store);
    EXPECT_TRUE(has(s->send("L LOGIN bob@example.com pw-bob-123\r\n"), "L OK"));
    return s;
  }
};

TEST_F(schema_fixture, HighestModseqStartsAtOneAndTheFirstChangeIsAbove) {
  auto sp = logged_in();
  auto& s = *sp;
  ASSERT_TRUE(has(s.send("a CREATE Fresh\r\n"), "a OK"));
  auto info = store->mailbox("bob@example.com", "Fresh");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->highestmodseq, 1u);
  auto r = s.send("b SELECT Fresh (CONDSTORE)\r\n");
  EXPECT_TRUE(has(r, "* OK [HIGHESTMODSEQ 1]\r\n")) << r;
  // The mailboxes an account starts with, too.
  EXPECT_TRUE(has(s.send("c STATUS Trash (HIGHESTMODSEQ)\r\n"), "(HIGHESTMODSEQ 1)"));
  // The first change: a client that saw 1 finds it with CHANGEDSINCE 1.
  ASSERT_TRUE(store->deliver("bob@example.com", message, "Fresh"));
  r = s.send("d NOOP\r\n");
  EXPECT_TRUE(has(r, "* 1 EXISTS")) << r;
  r = s.send("e FETCH 1:* (FLAGS) (CHANGEDSINCE 1)\r\n");
  EXPECT_TRUE(has(r, "* 1 FETCH (FLAGS () UID 1 MODSEQ (2))")) << r;
  EXPECT_TRUE(has(s.send("f STATUS INBOX (HIGHESTMODSEQ)\r\n"), "(HIGHESTMODSEQ 1)"));
  r = s.send("g STATUS Fresh (HIGHESTMODSEQ)\r\n");
  EXPECT_TRUE(has(r, "(HIGHESTMODSEQ 2)")) << r;
}

TEST_F(schema_fixture, SubscriptionOutlivesDelete) {
  auto sp = logged_in();
  auto& s = *sp;
  ASSERT_TRUE(has(s.send("a CREATE Gone\r\n"), "a OK"));
  ASSERT_TRUE(has(s.send("b SUBSCRIBE Gone\r\n"), "b OK"));
  ASSERT_TRUE(has(s.send("c DELETE Gone\r\n"), "c OK"));
  // RFC 9051 §6.3.7: DELETE does not remove the subscription.
  auto subs = store->subscriptions("bob@example.com");
  ASSERT_TRUE(subs);
  EXPECT_NE(std::find(subs->begin(), subs->end(), "Gone"), subs->end());
  auto r = s.send("d LIST (SUBSCRIBED) \"\" *\r\n");
  EXPECT_TRUE(has(r, "* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \"/\" Gone\r\n")) << r;
  EXPECT_TRUE(has(r, "\\Subscribed \\Trash) \"/\" Trash\r\n")) << r;
  r = s.send("e LSUB \"\" *\r\n");
  EXPECT_TRUE(has(r, "* LSUB (\\Noselect \\HasNoChildren) \"/\" Gone\r\n")) << r;
  // Plain LIST shows mailboxes only, also with the SUBSCRIBED return option (RFC 5258 §3.2).
  r = s.send("f LIST \"\" *\r\n");
  EXPECT_FALSE(has(r, "Gone")) << r;
  r = s.send("f2 LIST \"\" * RETURN (SUBSCRIBED)\r\n");
  EXPECT_FALSE(has(r, "Gone")) << r;
  EXPECT_TRUE(has(r, "\\Subscribed \\Trash) \"/\" Trash\r\n")) << r;
  // Recreating the mailbox finds it subscribed.
  ASSERT_TRUE(has(s.send("g CREATE Gone\r\n"), "g OK"));
  r = s.send("h LSUB \"\" Gone\r\n");
  EXPECT_TRUE(has(r, "* LSUB (\\HasNoChildren) \"/\" Gone\r\n")) << r;
  ASSERT_TRUE(has(s.send("i DELETE Gone\r\n"), "i OK"));
  // UNSUBSCRIBE takes the name without a mailbox; a second time there is nothing to remove.
  EXPECT_TRUE(has(s.send("j UNSUBSCRIBE Gone\r\n"), "j OK"));
  r = s.send("k LSUB \"\" *\r\n");
  EXPECT_FALSE(has(r, "Gone")) << r;
  EXPECT_TRUE(has(s.send("l UNSUBSCRIBE Gone\r\n"), "l NO [NONEXISTENT]"));
  // SUBSCRIBE checks that the mailbox exists (RFC 9051 §6.3.7 allows it).
  EXPECT_TRUE(has(s.send("m SUBSCRIBE Never\r\n"), "m NO [NONEXISTENT]"));
}

TEST_F(schema_fixture, SubscriptionsFollowRename) {
  auto sp = logged_in();
  auto& s = *sp;
  ASSERT_TRUE(has(s.send("a CREATE Top/Kid\r\n"), "a OK"));
  ASSERT_TRUE(has(s.send("b SUBSCRIBE Top\r\n"), "b OK"));
  ASSERT_TRUE(has(s.send("c SUBSCRIBE Top/Kid\r\n"), "c OK"));
  ASSERT_TRUE(has(s.send("d RENAME Top Moved\r\n"), "d OK"));
  auto r = s.send("e LSUB \"\" *\r\n");
  EXPECT_TRUE(has(r, "\"/\" Moved\r\n")) << r;
  EXPECT_TRUE(has(r, "\"/\" Moved/Kid\r\n")) << r;
  EXPECT_FALSE(has(r, "Top")) << r;
  // A stale subscription to the target name is taken over, not duplicated.
  ASSERT_TRUE(has(s.send("f CREATE Other\r\n"), "f OK"));
  ASSERT_TRUE(has(s.send("g SUBSCRIBE Other\r\n"), "g OK"));
  ASSERT_TRUE(has(s.send("h DELETE Other\r\n"), "h OK"));
  ASSERT_TRUE(has(s.send("i RENAME Moved/Kid Other\r\n"), "i OK"));
  auto subs = store->subscriptions("bob@example.com");
  ASSERT_TRUE(subs);
  EXPECT_EQ(std::count(subs->begin(), subs->end(), "Other"), 1);
  EXPECT_EQ(std::count(subs->begin(), subs->end(), "Moved/Kid"), 0);
}

TEST_F(schema_fixture, SchemaOneStoreIsMigrated) {
  // Make the store look like schema 1: subscriptions on the mailbox rows, counters at 0, and
  // no later migration applied (schema 3 keeps small bodies in a table of their own).
  store.reset();
  const auto db_path = (dir / "store" / "store.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db,
                              "DROP TABLE subscriptions;"
                              "DROP TABLE IF EXISTS bodies;"
                              "DELETE FROM schema_migrations WHERE version>=2;"
                              "UPDATE mailboxes SET highestmodseq=0, subscribed=0;"
                              "UPDATE mailboxes SET subscribed=1 WHERE name IN ('INBOX','Junk');",
                              nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
  open();
  auto subs = store->subscriptions("bob@example.com");
  ASSERT_TRUE(subs);
  EXPECT_EQ(*subs, (std::vector<std::string>{"INBOX", "Junk"}));
  auto all = store->mailboxes("bob@example.com");
  ASSERT_TRUE(all);
  for (const auto& mb : *all) {
    EXPECT_EQ(mb.highestmodseq, 1u) << mb.name;
    EXPECT_EQ(mb.subscribed, mb.name == "INBOX" || mb.name == "Junk") << mb.name;
  }
}

} // namespace
