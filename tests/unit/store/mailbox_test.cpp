// SPDX-License-Identifier: Apache-2.0
// Mailboxes and messages: UIDs, MODSEQ, flags, copy, move, expunge, notifications, the
// structure cache, and the durability bookkeeping (recovery, check).
#include "store_support.hpp"

#include <mailkit/store/mailbox_name.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>

using namespace mailkit::store;
using namespace mailkit::store::test;

namespace {

class mailbox_test : public ::testing::Test {
protected:
  void SetUp() override {
    store = open_store(dir.sub("s"));
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account("bob@example.com", "pw"));
  }
  temp_dir dir;
  std::unique_ptr<mail_store> store;
  const std::string bob = "bob@example.com";
};

flag_set flags_of(std::initializer_list<std::string_view> names) {
  flag_set f;
  for (auto n : names)
    EXPECT_TRUE(f.add(n));
  return f;
}

} // namespace

TEST_F(mailbox_test, account_gets_special_use_mailboxes_subscribed) {
  auto boxes = store->mailboxes(bob);
  ASSERT_TRUE(boxes);
  std::vector<std::string> names;
  for (const auto& b : *boxes) {
    names.push_back(b.name);
    EXPECT_TRUE(b.subscribed) << b.name;
    EXPECT_EQ(b.uidnext, 1u);
    EXPECT_GT(b.uidvalidity, 0u);
  }
  EXPECT_EQ(names.front(), "INBOX");
  std::vector<std::string> expected{"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"};
  EXPECT_EQ(names, expected);
  auto sent = store->mailbox(bob, "Sent");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->special_use, "\\Sent");
  // Every mailbox has its own UIDVALIDITY.
  std::vector<std::uint32_t> v;
  for (const auto& b : *boxes)
    v.push_back(b.uidvalidity);
  std::sort(v.begin(), v.end());
  EXPECT_EQ(std::unique(v.begin(), v.end()), v.end());
}

TEST_F(mailbox_test, append_assigns_ascending_uids_and_modseq) {
  auto a = store->append(bob, "INBOX", sample_message(1), flags_of({"\\Seen"}), 1000);
  auto b = store->append(bob, "inbox", sample_message(2));
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->uid, 1u);
  EXPECT_EQ(b->uid, 2u);
  EXPECT_LT(a->modseq, b->modseq);
  auto mb = store->mailbox(bob, "INBOX");
  ASSERT_TRUE(mb);
  EXPECT_EQ(mb->uidnext, 3u);
  EXPECT_EQ(mb->highestmodseq, b->modseq);
  EXPECT_EQ(mb->messages, 2u);
  EXPECT_EQ(mb->unseen, 1u);
  auto list = store->messages(bob, "INBOX");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].flags.system, flag_seen);
  EXPECT_EQ((*list)[0].internal_date, 1000);
  EXPECT_EQ((*list)[0].size, sample_message(1).size());
  auto raw = store->fetch(bob, "INBOX", 2);
  ASSERT_TRUE(raw);
  EXPECT_EQ(*raw, sample_message(2));
  auto acc = store->account(bob);
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->used_messages, 2u);
  EXPECT_EQ(acc->used_bytes, sample_message(1).size() + sample_message(2).size());
}

TEST_F(mailbox_test, uids_are_never_reused_after_expunge_and_reopen) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store->append(bob, "INBOX", sample_message(i)));
  std::vector<uid_type> all{1, 2, 3};
  auto gone = store->expunge(bob, "INBOX", std::span<const uid_type>(all));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->size(), 3u);
  store.reset();
  store = open_store(dir.sub("s"));
  ASSERT_TRUE(store);
  auto r = store->append(bob, "INBOX", sample_message(9));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 4u);
  auto probs = store->check();
  ASSERT_TRUE(probs);
  EXPECT_TRUE(probs->empty());
}

TEST_F(mailbox_test, flags_add_remove_replace_bump_modseq) {
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(1)));
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(2)));
  std::vector<uid_type> uids{1, 2, 77};
  auto r = store->store_flags(bob, "INBOX", uids, flag_mode::add, flags_of({"\\Flagged", "$Work"}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->changed.size(), 2u); // UID 77 does not exist: ignored
  auto m1 = r->changed[0].modseq;
  EXPECT_EQ(r->changed[0].flags.system, flag_flagged);
  EXPECT_EQ(r->changed[0].flags.keywords, std::vector<std::string>{"$Work"});
  // Unchanged flags do not bump MODSEQ.
  auto again = store->store_flags(bob, "INBOX", uids, flag_mode::add, flags_of({"\\Flagged"}));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->changed.empty());
  std::vector<uid_type> one{1};
  auto rm = store->store_flags(bob, "INBOX", one, flag_mode::remove, flags_of({"$Work"}));
  ASSERT_TRUE(rm);
  ASSERT_EQ(rm->changed.size(), 1u);
  EXPECT_GT(rm->changed[0].modseq, m1);
  EXPECT_TRUE(rm->changed[0].flags.keywords.empty());
  auto rep = store->store_flags(bob, "INBOX", one, flag_mode::replace, flags_of({"\\Seen"}));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->changed[0].flags.system, flag_seen);
  // CHANGEDSINCE sees only message 1.
  auto changed = store->changed_since(bob, "INBOX", m1);
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->size(), 1u);
  EXPECT_EQ(changed->front().uid, 1u);
  // UNCHANGEDSINCE: message 1 was modified after m1, message 2 was not.
  auto cond = store->store_flags(bob, "INBOX", uids, flag_mode::add, flags_of({"\\Answered"}), m1);
  ASSERT_TRUE(cond);
  EXPECT_EQ(cond->modified, std::vector<uid_type>{1});
  ASSERT_EQ(cond->changed.size(), 1u);
  EXPECT_EQ(cond->changed[0].uid, 2u);
  // Invalid keywords are refused.
  flag_set bad;
  bad.keywords.push_back("has space");
  EXPECT_EQ(store->store_flags(bob, "INBOX", uids, flag_mode::add, bad).error(),
            make_error_code(errc::invalid_argument));
}

TEST_F(mailbox_test, copy_and_move_keep_flags_and_share_bodies) {
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(1), flags_of({"\\Seen", "$A"})));
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(2)));
  ASSERT_TRUE(store->create_mailbox(bob, "Projects/2024"));
  std::vector<uid_type> uids{1, 2};
  auto c = store->copy(bob, "INBOX", uids, "Projects/2024");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0], std::make_pair(uid_type{1}, uid_type{1}));
  auto copied = store->messages(bob, "Projects/2024");
  ASSERT_TRUE(copied);
  EXPECT_EQ((*copied)[0].flags, flags_of({"\\Seen", "$A"}));
  EXPECT_EQ((*copied)[0].blob_id, store->messages(bob, "INBOX")->at(0).blob_id);
  auto m = store->move(bob, "INBOX", std::vector<uid_type>{1}, "Archive");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ(store->messages(bob, "INBOX")->size(), 1u);
  EXPECT_EQ(*store->fetch(bob, "Archive", 1), sample_message(1));
  EXPECT_EQ(*store->expunged_since(bob, "INBOX", 0), std::vector<uid_type>{1});
  // Expunging every copy removes the body file.
  auto blob = copied->at(1).blob_id;
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{2}));
  EXPECT_TRUE(store->blobs().get(blob)); // still referenced by the copy
  ASSERT_TRUE(store->expunge(bob, "Projects/2024", std::vector<uid_type>{2}));
  EXPECT_EQ(store->blobs().get(blob).error(), make_error_code(errc::corrupt));
  EXPECT_TRUE(store->check()->empty());
  auto acc = store->account(bob);
  EXPECT_EQ(acc->used_messages, 2u);
}

TEST_F(mailbox_test, expunge_deleted_only) {
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(1), flags_of({"\\Deleted"})));
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(2)));
  auto gone = store->expunge(bob, "INBOX");
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, std::vector<uid_type>{1});
  EXPECT_EQ(store->messages(bob, "INBOX")->size(), 1u);
}

TEST_F(mailbox_test, notifications_reach_subscribers) {
  auto sub = store->subscribe(bob, "INBOX");
  ASSERT_TRUE(sub);
  std::vector<change> seen_by_callback;
  (*sub)->on_change([&](const change& c) { seen_by_callback.push_back(c); });
  auto other = store->subscribe(bob, "Sent");
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(1)));
  ASSERT_TRUE(store->store_flags(bob, "INBOX", std::vector<uid_type>{1}, flag_mode::add,
                                 flags_of({"\\Seen"})));
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{1}));
  EXPECT_TRUE((*sub)->wait_for(std::chrono::milliseconds(0)));
  auto events = (*sub)->poll();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].what, change::kind::appended);
  EXPECT_EQ(events[1].what, change::kind::flags_changed);
  EXPECT_EQ(events[1].flags.system, flag_seen);
  EXPECT_EQ(events[2].what, change::kind::expunged);
  EXPECT_EQ(events[2].uid, 1u);
  EXPECT_EQ(seen_by_callback.size(), 3u);
  EXPECT_TRUE((*other)->poll().empty());
  EXPECT_FALSE((*sub)->overflowed());
}

TEST_F(mailbox_test, structure_is_cached_at_append) {
  std::string msg = "From: \"Al\" <al@example.org>\r\nTo: a@x.org, Team: b@y.org;\r\n"
                    "Subject: =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <1@x>\r\n"
                    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline1\r\nline2\r\n"
                    "--b\r\nContent-Type: application/pdf; name=a.pdf\r\n"
                    "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
                    "filename=a.pdf\r\n\r\nAAAA\r\n--b--\r\n";
  ASSERT_TRUE(store->append(bob, "INBOX", msg));
  auto s = store->structure(bob, "INBOX", 1);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->size, msg.size());
  EXPECT_EQ(s->env.subject, "=?utf-8?q?caf=C3=A9?=");
  ASSERT_EQ(s->env.from.size(), 1u);
  EXPECT_EQ(s->env.from[0].name, "Al");
  EXPECT_EQ(s->env.from[0].mailbox, "al");
  EXPECT_EQ(s->env.from[0].host, "example.org");
  EXPECT_EQ(s->env.sender, s->env.from); // RFC 3501 default
  // "a@x.org, Team: b@y.org;" -> a, group start, b, group end.
  ASSERT_EQ(s->env.to.size(), 4u);
  EXPECT_EQ(s->env.to[1].mailbox, "Team");
  EXPECT_TRUE(s->env.to[3].mailbox.empty());
  ASSERT_EQ(s->parts.size(), 3u);
  EXPECT_TRUE(s->parts[0].is_multipart);
  EXPECT_EQ(s->parts[0].child_count, 2u);
  EXPECT_EQ(s->parts[1].subtype, "plain");
  EXPECT_EQ(s->parts[1].lines, 2u);
  EXPECT_EQ(msg.substr(s->parts[1].body_offset, s->parts[1].body_size), "line1\r\nline2");
  EXPECT_EQ(s->parts[2].encoding, "BASE64");
  EXPECT_EQ(s->parts[2].disposition, "attachment");
  EXPECT_EQ(store->structure(bob, "INBOX", 9).error(), make_error_code(errc::no_such_message));
  // The range read gives the same records in UID order.
  ASSERT_TRUE(store->append(bob, "INBOX", "Subject: two\r\n\r\nx\r\n"));
  auto all = store->structures(bob, "INBOX");
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].first, 1u);
  EXPECT_EQ((*all)[0].second, *s);
  EXPECT_EQ((*all)[1].first, 2u);
  EXPECT_EQ((*all)[1].second.env.subject, "two");
  auto second = store->structures(bob, "INBOX", 2, 2);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].first, 2u);
  EXPECT_TRUE(store->structures(bob, "INBOX", 3)->empty());
  EXPECT_EQ(store->structures(bob, "Nope").error(), make_error_code(errc::no_such_mailbox));
  std::vector<uid_type> visited;
  ASSERT_TRUE(store->for_each_structure(bob, "INBOX", 1, UINT32_MAX,
                                        [&](uid_type uid, const message_structure& ms) {
                                          visited.push_back(uid);
                                          EXPECT_EQ(ms.size, msg.size());
                                          return false; // stop after the first
                                        }));
  EXPECT_EQ(visited, std::vector<uid_type>{1});
}

TEST_F(mailbox_test, mailbox_create_rename_delete) {
  ASSERT_TRUE(store->create_mailbox(bob, "a/b/c"));
  EXPECT_TRUE(store->mailbox(bob, "a"));
  EXPECT_TRUE(store->mailbox(bob, "a/b"));
  EXPECT_EQ(store->create_mailbox(bob, "a/b").error(), make_error_code(errc::already_exists));
  ASSERT_TRUE(store->append(bob, "a/b/c", sample_message(1)));
  ASSERT_TRUE(store->rename_mailbox(bob, "a", "z/y"));
  EXPECT_TRUE(store->mailbox(bob, "z/y/b/c"));
  EXPECT_TRUE(store->mailbox(bob, "z"));
  EXPECT_EQ(store->mailbox(bob, "a/b").error(), make_error_code(errc::no_such_mailbox));
  EXPECT_EQ(*store->fetch(bob, "z/y/b/c", 1), sample_message(1));
  EXPECT_EQ(store->rename_mailbox(bob, "z", "z/q").error(), make_error_code(errc::invalid_name));
  EXPECT_EQ(store->delete_mailbox(bob, "INBOX").error(), make_error_code(errc::cannot_delete));
  EXPECT_EQ(store->rename_mailbox(bob, "INBOX", "x").error(), make_error_code(errc::cannot_delete));
  auto before = store->mailbox(bob, "z/y/b/c")->uidvalidity;
  ASSERT_TRUE(store->delete_mailbox(bob, "z/y/b/c"));
  EXPECT_EQ(store->account(bob)->used_messages, 0u);
  ASSERT_TRUE(store->create_mailbox(bob, "z/y/b/c"));
  // RFC 3501 §2.3.1.1: a recreated name gets a larger UIDVALIDITY.
  EXPECT_GT(store->mailbox(bob, "z/y/b/c")->uidvalidity, before);
  ASSERT_TRUE(store->set_subscribed(bob, "z", true));
  EXPECT_TRUE(store->mailbox(bob, "z")->subscribed);
  EXPECT_TRUE(store->check()->empty());
}

TEST_F(mailbox_test, invalid_names_and_missing_things) {
  for (const char* bad :
       {"", "/a", "a/", "a//b", "..", "a/../b", "a/./b", "a\x01", "a*", "b%", "\xff\xfe"})
    EXPECT_EQ(store->create_mailbox(bob, bad).error(), make_error_code(errc::invalid_name)) << bad;
  EXPECT_EQ(store->append(bob, "Nope", sample_message(1)).error(),
            make_error_code(errc::no_such_mailbox));
  EXPECT_EQ(store->append("nobody@example.com", "INBOX", sample_message(1)).error(),
            make_error_code(errc::no_such_account));
  EXPECT_EQ(store->fetch(bob, "INBOX", 5).error(), make_error_code(errc::no_such_message));
  EXPECT_EQ(store->append(bob, "INBOX", "").error(), make_error_code(errc::invalid_argument));
}

TEST_F(mailbox_test, recovery_removes_orphans_only) {
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(1)));
  // An orphan: a body whose row never committed (as after a crash), and a temp file.
  auto orphan = store->blobs().put("orphan body");
  ASSERT_TRUE(orphan);
  std::FILE* f = std::fopen((dir.sub("s") + "/blobs/tmp/leftover").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  store.reset();
  auto opened = open(options_for(dir.sub("s")));
  ASSERT_TRUE(opened);
  store = std::move(*opened);
  EXPECT_EQ(store->blobs().get(*orphan).error(), make_error_code(errc::corrupt));
  EXPECT_EQ(*store->fetch(bob, "INBOX", 1), sample_message(1));
  auto rep = store->recover();
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->orphan_blobs_removed, 0u);
  EXPECT_TRUE(store->check()->empty());
}

TEST_F(mailbox_test, second_open_of_the_same_directory_is_refused) {
  auto again = open(options_for(dir.sub("s")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), make_error_code(errc::store_locked));
  EXPECT_FALSE(mailkit::is_permanent(again.error()));
}

TEST_F(mailbox_test, schema_is_versioned) {
  store.reset();
  // Pretend a newer mailkit wrote the database.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.sub("s") + "/store.db").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(
      sqlite3_exec(db, "INSERT INTO schema_migrations VALUES(99, 0)", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto s = open(options_for(dir.sub("s")));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), make_error_code(errc::schema_too_new));
  EXPECT_TRUE(mailkit::is_permanent(s.error()));
}

TEST_F(mailbox_test, small_bodies_live_in_the_database_large_ones_in_files) {
  const std::string small = sample_message(1);
  const std::string large = sample_message(2, std::string(200 * 1024, 'L') + "\r\n");
  ASSERT_LE(small.size(), open_options{}.inline_body_max);
  ASSERT_GT(large.size(), open_options{}.inline_body_max);
  ASSERT_TRUE(store->append(bob, "INBOX", small));
  ASSERT_TRUE(store->append(bob, "INBOX", large));
  // The batch path (local delivery) makes the same choice, message by message.
  const std::string small2 = sample_message(3);
  const std::string large2 = sample_message(4, std::string(150 * 1024, 'M') + "\r\n");
  std::vector<mail_store::batch_item> batch{{small2, {}, 1000}, {large2, {}, 1000}};
  auto b = store->append_batch(bob, "INBOX", batch, true);
  ASSERT_TRUE(b) << b.error().message();
  auto msgs = store->messages(bob, "INBOX");
  ASSERT_TRUE(msgs);
  ASSERT_EQ(msgs->size(), 4u);
  namespace fs = std::filesystem;
  const std::string blobs = dir.sub("s") + "/blobs/";
  for (std::size_t i : {0u, 2u}) {
    const auto& id = (*msgs)[i].blob_id;
    EXPECT_EQ(id.size(), 33u);
    EXPECT_EQ(id[0], 'i');
    EXPECT_FALSE(fs::exists(blobs + id.substr(1, 2) + "/" + id)) << id;
  }
  for (std::size_t i : {1u, 3u}) {
    const auto& id = (*msgs)[i].blob_id;
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(fs::exists(blobs + id.substr(0, 2) + "/" + id)) << id;
  }
  EXPECT_EQ(*store->fetch(bob, "INBOX", 1), small);
  EXPECT_EQ(*store->fetch(bob, "INBOX", 2), large);
  EXPECT_EQ(*store->fetch(bob, "INBOX", 3), small2);
  EXPECT_EQ(*store->fetch(bob, "INBOX", 4), large2);
  // The same batch again is recognised as already delivered (nothing new written).
  auto again = store->append_batch(bob, "INBOX", batch, true);
  ASSERT_TRUE(again);
  EXPECT_FALSE((*again)[0]);
  EXPECT_FALSE((*again)[1]);
  auto listed = store->blobs().list();
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 4u);
  // Expunge removes an inline body with its row, in the same transaction.
  const auto gone = (*msgs)[0].blob_id;
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{1}));
  EXPECT_EQ(store->blobs().get(gone).error(), make_error_code(errc::corrupt));
  EXPECT_EQ(store->blobs().list()->size(), 3u);
  EXPECT_TRUE(store->check()->empty());
  // A body row no message names (as left by a tool) goes at the next open's recovery; a row
  // whose body was deleted behind the store's back is reported by check().
  store.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.sub("s") + "/store.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO bodies(blob, data) VALUES("
                         "'i0123456789abcdef0123456789abcdef', x'41')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, ("DELETE FROM bodies WHERE blob='" + (*msgs)[2].blob_id + "'").c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto opened = open(options_for(dir.sub("s")));
  ASSERT_TRUE(opened);
  store = std::move(*opened);
  EXPECT_EQ(store->blobs().get("i0123456789abcdef0123456789abcdef").error(),
            make_error_code(errc::corrupt));
  auto problems = store->check();
  ASSERT_TRUE(problems);
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_EQ((*problems)[0], "missing body: " + (*msgs)[2].blob_id);
  EXPECT_EQ(store->fetch(bob, "INBOX", 3).error(), make_error_code(errc::corrupt));
}

TEST_F(mailbox_test, inline_limit_zero_keeps_every_body_in_a_file) {
  store.reset();
  auto o = options_for(dir.sub("s"));
  o.inline_body_max = 0;
  auto opened = open(o);
  ASSERT_TRUE(opened);
  store = std::move(*opened);
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(1)));
  auto msgs = store->messages(bob, "INBOX");
  ASSERT_TRUE(msgs);
  EXPECT_EQ(msgs->at(0).blob_id.size(), 32u);
  EXPECT_EQ(*store->fetch(bob, "INBOX", 1), sample_message(1));
}
