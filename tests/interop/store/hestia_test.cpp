// SPDX-License-Identifier: Apache-2.0
// A HestiaCP server moved to mailkit with the CLI, end to end. Real Dovecot (doveadm, as the
// mail user) writes the mail the way a HestiaCP box holds it: mail_location
// maildir:/home/<user>/mail/<domain>/<account>, a Maildir++ root with cur/new/tmp, the folders
// .Sent .Drafts .Junk .Trash .Archive and a nested .Folder.Sub, flags and keywords in the file
// names, dovecot-keywords, dovecot-uidlist with gaps left by expunges, a subscriptions file,
// and a message Exim has just dropped into new/ that Dovecot has not listed yet. The domain's
// passwd-file (/etc/exim4/domains/<domain>/passwd) holds {SHA512-CRYPT}, {BLF-CRYPT} and
// {ARGON2ID} hashes made by `doveadm pw` now. `mailkit domain add`, `mailkit import passwd` and
// `mailkit import maildir` carry it over; the test checks the counts the CLI prints, every
// message's UID (Dovecot's), flags and keywords, UIDVALIDITY and UIDNEXT, the special-use
// mapping and subscriptions, the old passwords logging in and being rehashed to Argon2id, and
// that a re-run imports nothing. Then `mailkit export maildir` writes the account back out and
// Dovecot reads it: the same mailboxes, messages, flags and keywords.
#include "dovecot_support.hpp"

#include <cstdlib>
#include <set>

using namespace mailkit::store;
using namespace mailkit::store::test;
namespace fs = std::filesystem;

namespace {

std::string cli() {
  // MAILKIT_CLI in the environment runs the test against another build of the CLI.
  if (const char* e = std::getenv("MAILKIT_CLI"); e && *e) return e;
  return MAILKIT_CLI_PROGRAM;
}

std::string mail(const std::string& subject) {
  return "From: Old Server <someone@example.org>\nTo: bob@example.com\nSubject: " + subject +
         "\nMessage-ID: <" + std::to_string(std::hash<std::string>{}(subject)) +
         "@example.org>\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n\nbody of " + subject + "\n";
}

std::string subject_of(const std::string& body) {
  auto at = body.find("Subject: ");
  if (at == std::string::npos) return {};
  at += 9;
  return body.substr(at, body.find('\n', at) - at);
}

std::string doveadm_pw(const std::string& scheme, const std::string& password,
                       const std::string& scratch) {
  auto out = run_command(
      std::string(MAILKIT_DOVEADM) + " pw -s " + scheme + " -p '" + password + "'", "", scratch);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

void write_file(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

} // namespace

TEST(hestia_migration, cli_imports_a_hestiacp_server_and_dovecot_reads_the_export) {
  temp_dir tmp;
  const std::string server = tmp.sub("hestia"); // the old server's file system
  const std::string mail_root = server + "/home/admin/mail/example.com";
  fs::create_directories(mail_root);
  dovecot::chown_tree(server);
  dovecot dv(tmp.sub("dv"), mail_root + "/%n");
  dv.user = "bob";

  // bob's mail, written by Dovecot.
  for (int i = 1; i <= 5; ++i)
    dv.run("save -m INBOX", mail("inbox " + std::to_string(i)));
  dv.run("mailbox create Sent Drafts Junk Trash Archive 'Folder/Sub'");
  const std::vector<std::pair<std::string, std::string>> saved = {
      {"Sent", "sent 1"},      {"Sent", "sent 2"},     {"Drafts", "draft 1"},
      {"Junk", "junk 1"},      {"Trash", "trash 1"},   {"Archive", "archive 1"},
      {"Folder/Sub", "sub 1"}, {"Folder/Sub", "sub 2"}};
  for (const auto& [mb, subject] : saved)
    dv.run("save -m '" + mb + "'", mail(subject));
  dv.run("flags add '\\Seen $Forwarded Invoice' mailbox INBOX uid 1");
  dv.run("flags add '\\Answered \\Seen' mailbox INBOX uid 3");
  dv.run("flags add '\\Flagged' mailbox INBOX uid 5");
  dv.run("expunge mailbox INBOX uid 2");
  dv.run("expunge mailbox INBOX uid 4");
  dv.run("flags add '\\Seen' mailbox Sent all");
  dv.run("flags add '\\Draft \\Seen' mailbox Drafts all");
  dv.run("flags add '$Junk' mailbox Junk all");
  dv.run("flags add '\\Deleted \\Seen' mailbox Trash all");
  dv.run("flags add '\\Seen' mailbox Archive all");
  dv.run("flags add 'Project' mailbox 'Folder/Sub' uid 1");
  dv.run("mailbox subscribe Sent Drafts Junk Trash Archive 'Folder/Sub'");
  // alice's, and carol has no mail yet.
  dv.user = "alice";
  dv.run("save -m INBOX", mail("alice 1"));
  dv.user = "bob";

  const std::string bob_dir = mail_root + "/bob";
  for (const char* f : {"dovecot-uidlist", "dovecot-keywords", "subscriptions",
                        ".Folder.Sub/dovecot-keywords", ".Archive/cur", ".Junk/new"})
    ASSERT_TRUE(fs::exists(bob_dir + "/" + f) || fs::exists(bob_dir + "/" + f + "/")) << f;
  const std::vector<std::string> mailboxes = {"INBOX", "Sent",    "Drafts",    "Junk",
                                              "Trash", "Archive", "Folder/Sub"};
  std::map<std::string, std::map<std::string, dovecot::seen_message>> before;
  std::map<std::string, std::map<std::string, std::uint64_t>> status;
  std::size_t listed = 0;
  for (const auto& mb : mailboxes) {
    before[mb] = dv.by_subject(mb);
    status[mb] = dv.status(mb);
    listed += before[mb].size();
  }
  ASSERT_EQ(before["INBOX"].size(), 3u);
  ASSERT_EQ(status["INBOX"]["uidnext"], 6u);
  // Exim has just delivered into new/; Dovecot has not seen it (no uidlist entry).
  write_file(bob_dir + "/new/1700000999.M1P4242.mail.example.com,S=300", mail("exim 1"));
  before["INBOX"]["exim 1"] = {static_cast<uid_type>(status["INBOX"]["uidnext"]), {}};

  // HestiaCP's passwd-file for the domain, hashes made by doveadm now.
  const std::string scratch = tmp.path;
  const auto bob_hash = doveadm_pw("SHA512-CRYPT", "bob old pw", scratch);
  const auto alice_hash = doveadm_pw("BLF-CRYPT", "alice old pw", scratch);
  const auto carol_hash = doveadm_pw("ARGON2ID", "carol old pw", scratch);
  ASSERT_TRUE(bob_hash.starts_with("{SHA512-CRYPT}$6$")) << bob_hash;
  ASSERT_TRUE(alice_hash.starts_with("{BLF-CRYPT}$2")) << alice_hash;
  ASSERT_TRUE(carol_hash.starts_with("{ARGON2ID}$argon2id$")) << carol_hash;
  const std::string passwd = server + "/etc/exim4/domains/example.com/passwd";
  write_file(passwd, "bob:" + bob_hash +
                         ":admin:mail::/home/admin:2048:userdb_quota_rule=*:storage=2048M\n"
                         "alice:" +
                         alice_hash +
                         ":admin:mail::/home/admin:unlimited\n"
                         "carol:" +
                         carol_hash + ":admin:mail::/home/admin:unlimited\n");

  // The migration, through the CLI.
  const std::string store_dir = tmp.sub("store");
  const std::string st = " --store '" + store_dir + "' 2>&1";
  run_command(cli() + " domain add example.com" + st, "", scratch);
  auto created =
      run_command(cli() + " import passwd example.com '" + passwd + "'" + st, "", scratch);
  EXPECT_NE(created.find("created 3, existing 0, refused 0, bad lines 0"), std::string::npos)
      << created;
  auto imported =
      run_command(cli() + " import maildir bob@example.com '" + bob_dir + "'" + st, "", scratch);
  const std::string want = "mailboxes " + std::to_string(mailboxes.size()) + ", imported " +
                           std::to_string(listed + 1) + ", duplicates 0, failed 0, Dovecot UIDs " +
                           "kept for " + std::to_string(listed) + " messages and UIDVALIDITY for " +
                           std::to_string(mailboxes.size()) + " mailboxes";
  EXPECT_NE(imported.find(want), std::string::npos) << imported << "\nwanted: " << want;
  auto alice_out = run_command(
      cli() + " import maildir alice@example.com '" + mail_root + "/alice'" + st, "", scratch);
  EXPECT_NE(alice_out.find("imported 1, duplicates 0"), std::string::npos) << alice_out;
  // Re-running is harmless: everything is a duplicate.
  auto again =
      run_command(cli() + " import maildir bob@example.com '" + bob_dir + "'" + st, "", scratch);
  EXPECT_NE(again.find("imported 0, duplicates " + std::to_string(listed + 1)), std::string::npos)
      << again;
  auto users = run_command(cli() + " user list example.com" + st, "", scratch);
  EXPECT_NE(users.find("bob@example.com\tmessages " + std::to_string(listed + 1)),
            std::string::npos)
      << users;

  {
    auto store = open_store(store_dir);
    ASSERT_TRUE(store);
    const std::string bob = "bob@example.com";
    EXPECT_EQ(store->account(bob)->limit.bytes, 2048ull << 20);
    const std::map<std::string, std::string> special = {
        {"INBOX", ""},        {"Sent", "\\Sent"},       {"Drafts", "\\Drafts"}, {"Junk", "\\Junk"},
        {"Trash", "\\Trash"}, {"Archive", "\\Archive"}, {"Folder/Sub", ""}};
    for (const auto& mb : mailboxes) {
      auto info = store->mailbox(bob, mb);
      ASSERT_TRUE(info) << mb;
      EXPECT_EQ(info->special_use, special.at(mb)) << mb;
      if (mb != "INBOX") {
        EXPECT_TRUE(info->subscribed) << mb;
      }
      // Dovecot's UIDVALIDITY and UIDNEXT carry over, so IMAP clients keep their caches.
      EXPECT_EQ(info->uidvalidity, status[mb]["uidvalidity"]) << mb;
      EXPECT_EQ(info->uidnext, status[mb]["uidnext"] + (mb == "INBOX" ? 1 : 0)) << mb;
      auto msgs = store->messages(bob, mb);
      ASSERT_TRUE(msgs) << mb;
      std::map<std::string, dovecot::seen_message> got;
      for (const auto& m : *msgs) {
        auto body = store->fetch(bob, mb, m.uid);
        ASSERT_TRUE(body);
        got[subject_of(*body)] = {m.uid, sorted_names(m.flags)};
        EXPECT_EQ(*body, mail(subject_of(*body))); // byte for byte
      }
      EXPECT_EQ(got, before[mb]) << mb; // UIDs, flags and keywords, message by message
    }
    EXPECT_TRUE(store->mailbox(bob, "Folder")); // the parent of Folder/Sub (RFC 3501 §6.3.3)
    EXPECT_EQ(store->messages("alice@example.com", "INBOX")->size(), 1u);
    EXPECT_TRUE(store->check()->empty());

    // The old passwords log in, and are rehashed to Argon2id at that first login.
    const std::pair<const char*, const char*> logins[] = {{"bob@example.com", "bob old pw"},
                                                          {"alice@example.com", "alice old pw"},
                                                          {"carol@example.com", "carol old pw"}};
    for (const auto& [user, pw] : logins) {
      EXPECT_FALSE(store->authenticate(user, "wrong")->ok) << user;
      auto first = store->authenticate(user, pw);
      ASSERT_TRUE(first) << user;
      EXPECT_TRUE(first->ok) << user;
      EXPECT_TRUE(first->rehashed) << user;
      auto second = store->authenticate(user, pw);
      EXPECT_TRUE(second->ok) << user;
      EXPECT_FALSE(second->rehashed) << user; // now Argon2id at the store's cost
    }
  }

  // Back out again: Dovecot reads what `mailkit export maildir` writes.
  const std::string exported = tmp.sub("out/bob");
  fs::create_directories(tmp.sub("out"));
  auto out =
      run_command(cli() + " export maildir bob@example.com '" + exported + "'" + st, "", scratch);
  EXPECT_NE(out.find("imported " + std::to_string(listed + 1)), std::string::npos) << out;
  dovecot back(tmp.sub("dv2"), exported);
  dovecot::chown_tree(exported);
  auto list = back.run("mailbox list");
  for (const auto& mb : mailboxes) {
    EXPECT_NE(list.find(mb), std::string::npos) << list;
    auto seen = back.by_subject(mb);
    ASSERT_EQ(seen.size(), before[mb].size()) << mb;
    for (const auto& [subject, m] : before[mb]) {
      ASSERT_TRUE(seen.count(subject)) << mb << ": " << subject;
      EXPECT_EQ(seen[subject].flags, m.flags) << mb << ": " << subject;
    }
  }
  auto subs = back.run("mailbox list -s");
  EXPECT_NE(subs.find("Folder/Sub"), std::string::npos) << subs;
}
