// SPDX-License-Identifier: Apache-2.0
// Maildir++ (as Dovecot under HestiaCP writes it) and mbox import, Maildir export, idempotence.
#include "store_support.hpp"

#include <mailkit/store/maildir.hpp>

#include <sys/stat.h>
#include <sys/time.h>

#include <fstream>

using namespace mailkit::store;
using namespace mailkit::store::test;
namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, std::string_view data, std::int64_t mtime = 0) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
  if (mtime) {
    struct timeval tv[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
    ::utimes(path.c_str(), tv);
  }
}

// A HestiaCP mailbox: /home/<user>/mail/<domain>/<account>/ is a Dovecot Maildir++ root.
void make_hestia_maildir(const std::string& root) {
  for (const char* d : {"cur", "new", "tmp"})
    fs::create_directories(root + "/" + d);
  write_file(root + "/dovecot-keywords", "0 $Junk\n1 NonJunk\n2 Work\n");
  write_file(root + "/dovecot-uidlist", "3 V1600000000 N4 G0123456789abcdef\n"
                                        "2 :1600000002.M2P100.mail,S=120,W=124\n"
                                        "1 :1600000001.M1P100.mail,S=110,W=114\n");
  write_file(root + "/dovecot.index.log", "binary index junk that must be ignored");
  write_file(root + "/subscriptions", "V\t2\n\nArchive\t2023\n&AMQ-rger\n");
  // UID order (2 before 1 by the uidlist is not the name order: the uidlist wins).
  write_file(root + "/cur/1600000002.M2P100.mail,S=120,W=124:2,RS", sample_message(2), 1600000002);
  write_file(root + "/cur/1600000001.M1P100.mail,S=110,W=114:2,FSac", sample_message(1),
             1600000001);
  write_file(root + "/new/1600000003.M3P100.mail,S=130", sample_message(3), 1600000003);
  write_file(root + "/cur/1600000004.M4P100.mail:2,P", sample_message(4), 1600000004);
  write_file(root + "/cur/1600000005.M5P100.mail:2,S", "", 1600000005); // empty: skipped
  write_file(root + "/.Sent/cur/1600000010.M10P1.mail:2,S", sample_message(10), 1600000010);
  write_file(root + "/.Sent/maildirfolder", "");
  write_file(root + "/.Archive.2023/cur/1600000011.M11P1.mail:2,", sample_message(11), 1600000011);
  write_file(root + "/.&AMQ-rger/new/1600000012.M12P1.mail", sample_message(12), 1600000012);
  fs::create_directories(root + "/.Archive.2023/new");
  fs::create_directories(root + "/.Archive.2023/tmp");
}

class import_test : public ::testing::Test {
protected:
  void SetUp() override {
    store = open_store(dir.sub("s"));
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account("bob@example.com", "pw"));
    ASSERT_TRUE(store->add_account("copy@example.com", "pw"));
  }
  temp_dir dir;
  std::unique_ptr<mail_store> store;
  const std::string bob = "bob@example.com";
};

} // namespace

TEST_F(import_test, hestiacp_maildir_tree) {
  make_hestia_maildir(dir.sub("maildir"));
  auto rep = import_maildir(*store, bob, dir.sub("maildir"));
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(rep->mailboxes, 4u);
  EXPECT_EQ(rep->imported, 7u);
  EXPECT_EQ(rep->failed, 1u);
  EXPECT_EQ(rep->uids_kept, 2u);
  auto inbox = store->messages(bob, "INBOX");
  ASSERT_TRUE(inbox);
  ASSERT_EQ(inbox->size(), 4u);
  // uidlist order: UID 1 is the uidlist's 1.
  EXPECT_EQ(*store->fetch(bob, "INBOX", 1), sample_message(1));
  EXPECT_EQ((*inbox)[0].flags.system, flag_flagged | flag_seen);
  EXPECT_EQ((*inbox)[0].flags.keywords, (std::vector<std::string>{"$Junk", "Work"}));
  EXPECT_EQ((*inbox)[0].internal_date, 1600000001);
  EXPECT_EQ((*inbox)[1].flags.system, flag_answered | flag_seen);
  EXPECT_EQ((*inbox)[2].flags.system, 0);                                        // new/
  EXPECT_EQ((*inbox)[3].flags.keywords, std::vector<std::string>{"$Forwarded"}); // P
  EXPECT_EQ(store->messages(bob, "Sent")->size(), 1u);
  EXPECT_EQ(store->messages(bob, "Archive/2023")->size(), 1u);
  auto umlaut = store->mailbox(bob, "Ärger");
  ASSERT_TRUE(umlaut);
  EXPECT_EQ(umlaut->messages, 1u);
  EXPECT_TRUE(umlaut->subscribed);
  EXPECT_TRUE(store->mailbox(bob, "Archive/2023")->subscribed);
  EXPECT_FALSE(store->mailbox(bob, "Archive/2023")->special_use.size());

  // Re-running imports nothing new.
  auto again = import_maildir(*store, bob, dir.sub("maildir"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->duplicates, 7u);
  EXPECT_EQ(store->messages(bob, "INBOX")->size(), 4u);
  EXPECT_TRUE(store->check()->empty());
  EXPECT_FALSE(import_maildir(*store, bob, dir.sub("missing")));
}

TEST_F(import_test, mbox_import_is_idempotent) {
  std::string mbox = "From alice@example.org Thu Nov 24 18:22:48 1986\n"
                     "From: alice@example.org\nSubject: one\nStatus: RO\n\n>From here\n\n"
                     "From bob@example.org Fri Jan  2 03:04:05 2004\n"
                     "From: bob@example.org\nSubject: two\nX-Status: A\n\nbody\n";
  write_file(dir.sub("box.mbox"), mbox);
  auto rep = import_mbox(*store, bob, dir.sub("box.mbox"), "Old/Mail");
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(rep->imported, 2u);
  auto msgs = store->messages(bob, "Old/Mail");
  ASSERT_EQ(msgs->size(), 2u);
  EXPECT_EQ((*msgs)[0].flags.system, flag_seen);
  EXPECT_EQ((*msgs)[0].internal_date, 533240568);
  EXPECT_EQ((*msgs)[1].flags.system, flag_answered);
  EXPECT_EQ(*store->fetch(bob, "Old/Mail", 1),
            "From: alice@example.org\nSubject: one\n\nFrom here\n");
  auto again = import_mbox(*store, bob, dir.sub("box.mbox"), "Old/Mail");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->duplicates, 2u);
  write_file(dir.sub("bad.mbox"), "not an mbox\n");
  EXPECT_FALSE(import_mbox(*store, bob, dir.sub("bad.mbox")));
  EXPECT_FALSE(import_mbox(*store, bob, dir.sub("missing.mbox")));
}

TEST_F(import_test, export_then_reimport_round_trips) {
  make_hestia_maildir(dir.sub("maildir"));
  ASSERT_TRUE(import_maildir(*store, bob, dir.sub("maildir")));
  ASSERT_TRUE(store->create_mailbox(bob, "dots.in/name"));
  ASSERT_TRUE(store->append(bob, "dots.in/name", sample_message(20)));
  auto out = export_maildir(*store, bob, dir.sub("export"));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->imported, 8u);
  EXPECT_TRUE(fs::exists(dir.sub("export") + "/dovecot-keywords"));
  EXPECT_TRUE(fs::is_directory(dir.sub("export") + "/.&AMQ-rger/cur"));
  EXPECT_TRUE(fs::is_directory(dir.sub("export") + "/.dots_in.name/cur"));
  // A non-empty target is refused.
  EXPECT_EQ(export_maildir(*store, bob, dir.sub("export")).error(),
            make_error_code(errc::already_exists));
  auto back = import_maildir(*store, "copy@example.com", dir.sub("export"));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->imported, 8u);
  for (const char* mb : {"INBOX", "Sent", "Archive/2023", "Ärger"}) {
    auto a = store->messages(bob, mb);
    auto b = store->messages("copy@example.com", mb);
    ASSERT_TRUE(a && b) << mb;
    ASSERT_EQ(a->size(), b->size()) << mb;
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].flags, (*b)[i].flags) << mb << i;
      EXPECT_EQ((*a)[i].internal_date, (*b)[i].internal_date) << mb << i;
      EXPECT_EQ(*store->fetch(bob, mb, (*a)[i].uid),
                *store->fetch("copy@example.com", mb, (*b)[i].uid));
    }
  }
}
