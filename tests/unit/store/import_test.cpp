// SPDX-License-Identifier: Apache-2.0
// Maildir++ (as Dovecot under HestiaCP writes it) and mbox import, Maildir export, idempotence.
#include "store_support.hpp"

#include <mailkit/store/maildir.hpp>

#include <sys/stat.h>
#include <sys/time.h>

#include <cstdio>
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

namespace {

// `doveadm pw` (dovecot-core): a real Dovecot hash.
std::string doveadm_pw(const std::string& scheme, const std::string& password) {
  std::string cmd = "doveadm pw -s " + scheme + " -p '" + password + "' 2>/dev/null";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {};
  char buf[512];
  std::string out;
  while (std::fgets(buf, sizeof buf, p))
    out += buf;
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

std::vector<uid_type> uids_of(mail_store& s, const std::string& account, const std::string& mb) {
  std::vector<uid_type> out;
  auto msgs = s.messages(account, mb);
  EXPECT_TRUE(msgs) << mb;
  if (msgs)
    for (const auto& m : *msgs)
      out.push_back(m.uid);
  return out;
}

} // namespace

// A mailbox laid out as a HestiaCP server keeps it: /home/<user>/mail/<domain>/<local>/ is the
// Dovecot Maildir++ root (Exim delivers into new/, Dovecot indexes and renames into cur/), with
// the folders Hestia's Dovecot creates (.Sent .Drafts .Junk .Trash), a nested user folder, a
// dovecot-uidlist per folder with gaps left by expunges and messages it has not listed yet,
// dovecot-keywords, Dovecot's index files, a half-written file in tmp/, and the accounts' passwd-
// file as Hestia writes it (/etc/exim4/domains/<domain>/passwd: "{MD5}$1$..." hashes, quotas).
TEST_F(import_test, hestiacp_home_mail_tree_keeps_uids_flags_and_passwords) {
  const std::string home = dir.sub("home/admin");
  const std::string root = home + "/mail/example.com/bob";
  for (const char* d : {"cur", "new", "tmp"})
    fs::create_directories(root + "/" + d);
  // INBOX: Dovecot handed out UIDs 1..11; 3, 7 and 9 remain; one message in new/ is unlisted.
  write_file(root + "/dovecot-uidlist", "3 V1700000000 N12 G3f1c2b00aa\n"
                                        "3 :1700000103.M3P9.hestia,S=300,W=310\n"
                                        "7 :1700000107.M7P9.hestia,S=300,W=310\n"
                                        "9 :1700000109.M9P9.hestia,S=300,W=310\n");
  write_file(root + "/dovecot-keywords", "0 $label1\n1 Invoice\n");
  for (const char* junk : {"dovecot.index", "dovecot.index.cache", "dovecot.index.log",
                           "dovecot-uidvalidity", "dovecot-uidvalidity.6553f100", "maildirsize"})
    write_file(root + "/" + junk, "Dovecot's own state: not mail");
  write_file(root + "/cur/1700000103.M3P9.hestia,S=300,W=310:2,S", sample_message(3), 1700000103);
  write_file(root + "/cur/1700000107.M7P9.hestia,S=300,W=310:2,RSb", sample_message(7), 1700000107);
  write_file(root + "/cur/1700000109.M9P9.hestia,S=300,W=310:2,FS", sample_message(9), 1700000109);
  write_file(root + "/new/1700000200.M20P77.hestia,S=300", sample_message(20), 1700000200);
  write_file(root + "/tmp/1700000201.M21P77.hestia", "From: half", 1700000201); // being written
  // The folders Hestia's Dovecot auto-creates, each with its own uidlist.
  struct folder {
    const char* dir;
    const char* mailbox;
    const char* uidlist;
    const char* file;
    int n;
  } folders[] = {
      {".Sent", "Sent", "3 V1700000001 N3\n2 :1700000302.M2P9.hestia\n",
       "cur/1700000302.M2P9.hestia:2,S", 32},
      {".Drafts", "Drafts", "3 V1700000002 N2\n1 :1700000401.M1P9.hestia\n",
       "cur/1700000401.M1P9.hestia:2,DS", 41},
      {".Junk", "Junk", "3 V1700000003 N6\n5 :1700000505.M5P9.hestia\n",
       "cur/1700000505.M5P9.hestia:2,a", 55},
      {".Trash", "Trash", "3 V1700000004 N1\n", "cur/1700000601.M1P9.hestia:2,ST", 61},
  };
  for (const auto& f : folders) {
    std::string d = root + "/" + f.dir;
    for (const char* sub : {"cur", "new", "tmp"})
      fs::create_directories(d + "/" + sub);
    write_file(d + "/maildirfolder", "");
    write_file(d + "/dovecot-uidlist", f.uidlist);
    write_file(d + "/" + f.file, sample_message(f.n), 1700000000 + f.n);
  }
  write_file(root + "/.Junk/dovecot-keywords", "0 NonJunk\n");
  // A nested user folder without a uidlist (never opened by an IMAP client).
  write_file(root + "/.Projects.2024/cur/1700000701.M1P9.hestia:2,", sample_message(71),
             1700000701);
  write_file(root + "/subscriptions", "Sent\nDrafts\nJunk\nTrash\nProjects.2024\n");

  // The domain's passwd-file as Hestia writes it ("{MD5}" is MD5-CRYPT there), with a quota.
  auto md5 = doveadm_pw("MD5-CRYPT", "hestia pw");
  ASSERT_TRUE(md5.starts_with("{MD5-CRYPT}$1$")) << "doveadm pw failed: " << md5;
  std::string hestia_hash = "{MD5}" + md5.substr(md5.find('}') + 1);
  const std::string passwd = dir.sub("etc/exim4/domains/example.com/passwd");
  write_file(passwd, "# written by HestiaCP\n"
                     "hestia:" +
                         hestia_hash +
                         ":admin:mail::/home/admin:100:userdb_quota_rule=*:storage=100M\n"
                         "legacy:{PLAIN}secret:admin:mail::/home/admin:unlimited:\n"
                         "stranger@other.org:" +
                         hestia_hash +
                         ":admin:mail::/home/admin\n"
                         "garbage line without fields\n");
  auto accounts = import_passwd(*store, "example.com", passwd);
  ASSERT_TRUE(accounts) << accounts.error().message();
  EXPECT_EQ(accounts->created, 1u);
  EXPECT_EQ(accounts->bad_lines, 1u);
  ASSERT_EQ(accounts->refused.size(), 2u); // plaintext kept nowhere; another domain's user
  EXPECT_TRUE(accounts->refused[0].starts_with("legacy: ")) << accounts->refused[0];
  EXPECT_TRUE(accounts->refused[1].starts_with("stranger@other.org: ")) << accounts->refused[1];
  const std::string acc = "hestia@example.com";
  EXPECT_EQ(store->account(acc)->limit.bytes, 100u << 20);
  EXPECT_EQ(import_passwd(*store, "example.com", passwd)->existing, 1u); // re-runnable
  EXPECT_EQ(import_passwd(*store, "example.org", passwd).error(),
            make_error_code(errc::no_such_domain));

  auto rep = import_maildir(*store, acc, root);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(rep->mailboxes, 6u);
  EXPECT_EQ(rep->imported, 9u);
  EXPECT_EQ(rep->failed, 0u);             // tmp/ and Dovecot's files are not mail
  EXPECT_EQ(rep->uids_kept, 6u);          // every message Dovecot had listed
  EXPECT_EQ(rep->uidvalidities_kept, 5u); // INBOX, Sent, Drafts, Junk, Trash

  // INBOX keeps Dovecot's UIDVALIDITY and UIDs (gaps included); the unlisted message gets the
  // UID Dovecot would have given it next.
  auto inbox = store->mailbox(acc, "INBOX");
  ASSERT_TRUE(inbox);
  EXPECT_EQ(inbox->uidvalidity, 1700000000u);
  EXPECT_EQ(uids_of(*store, acc, "INBOX"), (std::vector<uid_type>{3, 7, 9, 12}));
  EXPECT_EQ(inbox->uidnext, 13u);
  EXPECT_EQ(*store->fetch(acc, "INBOX", 7), sample_message(7));
  auto msgs = store->messages(acc, "INBOX");
  EXPECT_EQ((*msgs)[0].flags.system, flag_seen);
  EXPECT_EQ((*msgs)[1].flags.system, flag_answered | flag_seen);
  EXPECT_EQ((*msgs)[1].flags.keywords, std::vector<std::string>{"Invoice"});
  EXPECT_EQ((*msgs)[2].flags.system, flag_flagged | flag_seen);
  EXPECT_EQ((*msgs)[3].flags.system, 0); // new/: not yet seen
  EXPECT_EQ((*msgs)[1].internal_date, 1700000107);
  EXPECT_EQ(inbox->unseen, 1u);

  // Hestia's default folders keep their special use, UIDVALIDITY and UIDs.
  const std::pair<const char*, const char*> uses[] = {
      {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}, {"Junk", "\\Junk"}, {"Trash", "\\Trash"}};
  for (const auto& [name, use] : uses) {
    auto mb = store->mailbox(acc, name);
    ASSERT_TRUE(mb) << name;
    EXPECT_EQ(mb->special_use, use) << name;
    EXPECT_TRUE(mb->subscribed) << name;
    EXPECT_EQ(mb->messages, 1u) << name;
  }
  EXPECT_EQ(store->mailbox(acc, "Sent")->uidvalidity, 1700000001u);
  EXPECT_EQ(uids_of(*store, acc, "Sent"), std::vector<uid_type>{2});
  EXPECT_EQ(store->mailbox(acc, "Sent")->uidnext, 3u);
  EXPECT_EQ(uids_of(*store, acc, "Drafts"), std::vector<uid_type>{1});
  EXPECT_EQ(store->messages(acc, "Drafts")->at(0).flags.system, flag_draft | flag_seen);
  EXPECT_EQ(uids_of(*store, acc, "Junk"), std::vector<uid_type>{5});
  EXPECT_EQ(store->messages(acc, "Junk")->at(0).flags.keywords,
            std::vector<std::string>{"NonJunk"}); // the folder's own dovecot-keywords
  // Trash's uidlist lists nothing: the message is new to Dovecot and gets UID 1 (N1).
  EXPECT_EQ(uids_of(*store, acc, "Trash"), std::vector<uid_type>{1});
  EXPECT_EQ(store->messages(acc, "Trash")->at(0).flags.system, flag_seen | flag_deleted);
  // The nested folder had no uidlist: new UIDVALIDITY, UIDs from 1, subscribed as Dovecot had.
  auto projects = store->mailbox(acc, "Projects/2024");
  ASSERT_TRUE(projects);
  EXPECT_TRUE(projects->subscribed);
  EXPECT_NE(projects->uidvalidity, 0u);
  EXPECT_EQ(uids_of(*store, acc, "Projects/2024"), std::vector<uid_type>{1});
  EXPECT_TRUE(store->mailbox(acc, "Projects")); // the parent exists (RFC 3501 §6.3.3)

  // Re-running changes nothing. Then, as at the final sync of a cut-over, Dovecot has since
  // listed the message from new/ (as UID 12, the number the import gave it) and received one
  // more (UID 13): only that one is added, with Dovecot's UID.
  auto again = import_maildir(*store, acc, root);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->duplicates, 9u);
  write_file(root + "/dovecot-uidlist", "3 V1700000000 N14 G3f1c2b00aa\n"
                                        "3 :1700000103.M3P9.hestia,S=300,W=310\n"
                                        "7 :1700000107.M7P9.hestia,S=300,W=310\n"
                                        "9 :1700000109.M9P9.hestia,S=300,W=310\n"
                                        "12 :1700000200.M20P77.hestia,S=300\n"
                                        "13 :1700000300.M30P77.hestia,S=300\n");
  fs::rename(root + "/new/1700000200.M20P77.hestia,S=300",
             root + "/cur/1700000200.M20P77.hestia,S=300:2,S");
  write_file(root + "/cur/1700000300.M30P77.hestia,S=300:2,", sample_message(30), 1700000300);
  auto third = import_maildir(*store, acc, root);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->imported, 1u);
  EXPECT_EQ(third->uids_kept, 1u);
  EXPECT_EQ(uids_of(*store, acc, "INBOX"), (std::vector<uid_type>{3, 7, 9, 12, 13}));
  EXPECT_EQ(store->mailbox(acc, "INBOX")->uidnext, 14u);

  // Mailboxes created later get a UIDVALIDITY above every adopted one; UIDs keep ascending.
  ASSERT_TRUE(store->create_mailbox(acc, "Later"));
  EXPECT_GT(store->mailbox(acc, "Later")->uidvalidity, 1700000004u);
  auto next = store->append(acc, "INBOX", sample_message(40));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->uid, 14u);
  EXPECT_TRUE(store->check()->empty());

  // The imported "{MD5}$1$" hash logs in, and is replaced by Argon2id at that first login.
  auto login = store->authenticate(acc, "hestia pw");
  ASSERT_TRUE(login);
  EXPECT_TRUE(login->ok);
  EXPECT_TRUE(login->rehashed);
  EXPECT_FALSE(store->authenticate(acc, "hestia pw")->rehashed);
  EXPECT_FALSE(store->authenticate(acc, "wrong")->ok);
}

TEST_F(import_test, uids_are_not_taken_over_into_a_used_mailbox) {
  // bob's INBOX already holds mail: Dovecot's UIDVALIDITY and UIDs cannot be adopted, the
  // imported messages get new UIDs after the existing ones.
  ASSERT_TRUE(store->append(bob, "INBOX", sample_message(1)));
  const std::string root = dir.sub("md");
  write_file(root + "/dovecot-uidlist", "3 V1700000000 N50\n40 :1700000040.M1P1.x\n");
  write_file(root + "/cur/1700000040.M1P1.x:2,S", sample_message(40), 1700000040);
  fs::create_directories(root + "/new");
  auto before = store->mailbox(bob, "INBOX");
  auto rep = import_maildir(*store, bob, root);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->imported, 1u);
  EXPECT_EQ(rep->uids_kept, 0u);
  EXPECT_EQ(rep->uidvalidities_kept, 0u);
  EXPECT_EQ(store->mailbox(bob, "INBOX")->uidvalidity, before->uidvalidity);
  EXPECT_EQ(uids_of(*store, bob, "INBOX"), (std::vector<uid_type>{1, 2}));
  // And a fresh mailbox that already took the value reports it as kept, idempotently.
  ASSERT_TRUE(store->create_mailbox(bob, "Fresh"));
  EXPECT_TRUE(*store->adopt_uidvalidity(bob, "Fresh", 1234));
  EXPECT_TRUE(*store->adopt_uidvalidity(bob, "Fresh", 1234));
  ASSERT_TRUE(store->append(bob, "Fresh", sample_message(2)));
  EXPECT_FALSE(*store->adopt_uidvalidity(bob, "Fresh", 999));
  EXPECT_EQ(store->adopt_uidvalidity(bob, "Fresh", 0).error(),
            make_error_code(errc::invalid_argument));
  ASSERT_TRUE(store->raise_uidnext(bob, "Fresh", 100));
  ASSERT_TRUE(store->raise_uidnext(bob, "Fresh", 10)); // never lowers
  EXPECT_EQ(store->mailbox(bob, "Fresh")->uidnext, 100u);
  EXPECT_EQ(store->append(bob, "Fresh", sample_message(3))->uid, 100u);
}
