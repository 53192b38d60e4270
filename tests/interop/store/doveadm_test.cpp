// SPDX-License-Identifier: Apache-2.0
// Dovecot writes, mailkit reads; mailkit writes, Dovecot reads. doveadm runs as the mail user
// "nobody" (Dovecot refuses root) on a Maildir++ tree under a temporary directory, with the same
// layout HestiaCP configures (maildir, "." separated folders, modified UTF-7 names,
// dovecot-keywords, dovecot-uidlist).
#include "dovecot_support.hpp"

#include <map>

using namespace mailkit::store;
using namespace mailkit::store::test;
namespace fs = std::filesystem;

namespace {

std::string msg(int n) {
  return "From: Dovecot Test <dt@example.org>\nTo: bob@example.com\nSubject: via doveadm " +
         std::to_string(n) + "\nMessage-ID: <d" + std::to_string(n) + "@example.org>\n\nbody " +
         std::to_string(n) + "\n";
}

} // namespace

TEST(doveadm_interop, dovecot_maildir_imports_with_flags_keywords_and_folders) {
  temp_dir tmp;
  dovecot dv(tmp.sub("dv"), tmp.sub("dv") + "/Maildir");
  for (int i = 1; i <= 3; ++i)
    dv.run("save -m INBOX", msg(i));
  dv.run("mailbox create 'Archive/2023' 'Ärger' Sent");
  dv.run("save -m 'Archive/2023'", msg(4));
  dv.run("save -m 'Ärger'", msg(5));
  dv.run("save -m Sent", msg(6));
  dv.run("flags add '\\Seen $Junk Work' mailbox INBOX uid 1");
  dv.run("flags add '\\Answered \\Flagged' mailbox INBOX uid 2");
  dv.run("flags add '\\Deleted \\Draft NonJunk' mailbox 'Archive/2023' all");
  dv.run("mailbox subscribe 'Archive/2023' 'Ärger'");
  ASSERT_TRUE(fs::exists(dv.maildir + "/dovecot-keywords"));
  ASSERT_TRUE(fs::exists(dv.maildir + "/.&AMQ-rger"));

  auto store = open_store(tmp.sub("s"));
  ASSERT_TRUE(store->add_domain("example.com"));
  ASSERT_TRUE(store->add_account("bob@example.com", "pw"));
  auto rep = import_maildir(*store, "bob@example.com", dv.maildir);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(rep->imported, 6u);
  EXPECT_EQ(rep->failed, 0u);
  EXPECT_GE(rep->uids_kept, 3u);
  auto inbox = store->messages("bob@example.com", "INBOX");
  ASSERT_EQ(inbox->size(), 3u);
  EXPECT_EQ(sorted_names((*inbox)[0].flags), (std::vector<std::string>{"$Junk", "Work", "\\Seen"}));
  EXPECT_EQ(sorted_names((*inbox)[1].flags), (std::vector<std::string>{"\\Answered", "\\Flagged"}));
  EXPECT_TRUE((*inbox)[2].flags.names().empty());
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(*store->fetch("bob@example.com", "INBOX", static_cast<uid_type>(i)), msg(i));
  auto archive = store->messages("bob@example.com", "Archive/2023");
  ASSERT_EQ(archive->size(), 1u);
  EXPECT_EQ(sorted_names((*archive)[0].flags),
            (std::vector<std::string>{"NonJunk", "\\Deleted", "\\Draft"}));
  auto umlaut = store->mailbox("bob@example.com", "Ärger");
  ASSERT_TRUE(umlaut);
  EXPECT_EQ(umlaut->messages, 1u);
  EXPECT_TRUE(umlaut->subscribed);
  EXPECT_EQ(store->mailbox("bob@example.com", "Sent")->messages, 1u);
  // Idempotent.
  auto again = import_maildir(*store, "bob@example.com", dv.maildir);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->duplicates, 6u);
  EXPECT_TRUE(store->check()->empty());
}

TEST(doveadm_interop, dovecot_reads_the_exported_maildir) {
  temp_dir tmp;
  auto store = open_store(tmp.sub("s"));
  ASSERT_TRUE(store->add_domain("example.com"));
  ASSERT_TRUE(store->add_account("bob@example.com", "pw"));
  ASSERT_TRUE(store->create_mailbox("bob@example.com", "Projekte/Größe"));
  flag_set a, b;
  a.add("\\Seen");
  a.add("$Label1");
  b.add("\\Answered");
  b.add("\\Flagged");
  b.add("Work");
  ASSERT_TRUE(store->append("bob@example.com", "INBOX", msg(1), a, 1700000000));
  ASSERT_TRUE(store->append("bob@example.com", "INBOX", msg(2), b, 1700000100));
  ASSERT_TRUE(store->append("bob@example.com", "Projekte/Größe", msg(3), a, 1700000200));
  std::string out = tmp.sub("dv") + "/Maildir";
  fs::create_directories(tmp.sub("dv"));
  auto rep = export_maildir(*store, "bob@example.com", out);
  ASSERT_TRUE(rep) << rep.error().message();
  dovecot dv(tmp.sub("dv"), out);

  auto list = dv.run("mailbox list");
  EXPECT_NE(list.find("Projekte/Größe"), std::string::npos) << list;
  EXPECT_NE(list.find("Sent"), std::string::npos) << list;
  auto inbox = dv.flags("INBOX");
  ASSERT_EQ(inbox.size(), 2u);
  std::vector<std::vector<std::string>> got;
  for (auto& [k, v] : inbox)
    got.push_back(v);
  std::sort(got.begin(), got.end());
  std::vector<std::vector<std::string>> want{sorted_names(a), sorted_names(b)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  auto sub = dv.flags("Projekte/Größe");
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub.begin()->second, sorted_names(a));
  // Dovecot takes the received date from the file mtime mailkit set.
  auto dates = dv.run("fetch 'date.received' mailbox INBOX all");
  EXPECT_NE(dates.find("2023-11-14 22:13:20"), std::string::npos) << dates;
  auto text = dv.run("fetch 'text' mailbox INBOX all");
  EXPECT_NE(text.find("Subject: via doveadm 2"), std::string::npos);
}
