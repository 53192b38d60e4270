// SPDX-License-Identifier: Apache-2.0
// Faults: a failure injected at every write, fsync, rename and directory fsync of an append;
// a real 1 MiB file system filling up; a process killed with SIGKILL in the middle of appends.
// After each, the store must be consistent, reuse no UID, show no half message, and the caller
// must have had a clear transient error.
#include "store_support.hpp"

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <random>
#include <set>

using namespace mailkit::store;
using namespace mailkit::store::test;

namespace {

void expect_consistent(mail_store& s, const std::string& account) {
  auto problems = s.check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << (problems->empty() ? "" : problems->front());
  auto msgs = s.messages(account, "INBOX");
  ASSERT_TRUE(msgs);
  auto mb = s.mailbox(account, "INBOX");
  ASSERT_TRUE(mb);
  uid_type last = 0;
  for (const auto& m : *msgs) {
    EXPECT_GT(m.uid, last);
    last = m.uid;
    // No half message: every visible body is complete and matches its recorded size.
    auto body = s.fetch(account, "INBOX", m.uid);
    ASSERT_TRUE(body);
    EXPECT_EQ(body->size(), m.size);
    EXPECT_TRUE(body->ends_with("\r\n")) << m.uid;
  }
  EXPECT_GT(mb->uidnext, last);
  auto blobs = s.blobs().list();
  ASSERT_TRUE(blobs);
  EXPECT_EQ(blobs->size(), msgs->size()); // no orphan left behind by a failed append
}

} // namespace

class injected_fault : public ::testing::TestWithParam<int> {};

TEST_P(injected_fault, every_step_of_an_append) {
  const int err = GetParam();
  temp_dir dir;
  auto ops = std::make_shared<faulty_file_ops>(posix_file_ops());
  auto o = options_for(dir.sub("s"));
  o.files = ops;
  auto opened = open(o);
  ASSERT_TRUE(opened);
  auto& s = **opened;
  ASSERT_TRUE(s.add_domain("example.com"));
  ASSERT_TRUE(s.add_account("bob@example.com", "pw"));
  // Count the failable operations of one append.
  ops->fail_at(UINT64_MAX, 0);
  ASSERT_TRUE(s.append("bob@example.com", "INBOX", sample_message(0)));
  const auto steps = ops->count();
  ASSERT_GE(steps, 5u); // create, write, fsync, rename, fsync_dir (+ a new subdirectory)
  int appended = 1;
  std::size_t failures = 0;
  for (std::uint64_t n = 1; n <= steps + 2; ++n) {
    ops->fail_at(n, err);
    auto before = s.mailbox("bob@example.com", "INBOX");
    auto r = s.append("bob@example.com", "INBOX", sample_message(appended));
    ops->fail_at(0, 0);
    if (r) {
      ++appended;
      EXPECT_GT(r->uid, before->uidnext - 1);
    } else {
      ++failures;
      auto want = err == ENOSPC   ? errc::disk_full
                  : err == EACCES ? errc::permission_denied
                                  : errc::io_error;
      EXPECT_EQ(r.error(), make_error_code(want)) << "step " << n;
      EXPECT_FALSE(mailkit::is_permanent(r.error()));
      EXPECT_EQ(s.mailbox("bob@example.com", "INBOX")->messages, before->messages);
    }
    expect_consistent(s, "bob@example.com");
  }
  EXPECT_GE(failures, 5u);
  // Afterwards the store works and UIDs keep ascending.
  auto r = s.append("bob@example.com", "INBOX", sample_message(99));
  ASSERT_TRUE(r);
  EXPECT_EQ(s.messages("bob@example.com", "INBOX")->size(), static_cast<std::size_t>(appended + 1));
}

INSTANTIATE_TEST_SUITE_P(errnos, injected_fault, ::testing::Values(ENOSPC, EIO, EACCES));

TEST(store_faults, real_small_filesystem_fills_up) {
  temp_dir dir;
  std::string mnt = dir.sub("mnt");
  std::filesystem::create_directories(mnt);
  // A real 1 MiB tmpfs (the tests run as root in CI). Without the privilege, the injected
  // ENOSPC of injected_fault covers the same code path; the failure message says so.
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m"), 0)
      << "mount tmpfs failed (errno " << errno << "): run as root, or rely on injected_fault";
  struct unmount {
    std::string path;
    ~unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{mnt};
  // Ballast the "operator" deletes once the disk is full: even an expunge needs room in the
  // SQLite WAL, so space must come from somewhere else first.
  std::string ballast = mnt + "/ballast";
  {
    std::FILE* f = std::fopen(ballast.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(256 * 1024, 'b');
    ASSERT_EQ(std::fwrite(block.data(), 1, block.size(), f), block.size());
    std::fclose(f);
  }
  {
    auto s = open_store(mnt + "/s");
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account("bob@example.com", "pw"));
    std::string filler(8000, 'x');
    filler += "\r\n";
    mailkit::error_code last;
    int ok = 0;
    for (int i = 0; i < 2000; ++i) { // bounded: 1 MiB holds far fewer than 2000 of these
      auto r = s->deliver("bob@example.com", sample_message(i, filler));
      if (!r) {
        last = r.error();
        break;
      }
      ++ok;
    }
    ASSERT_TRUE(last) << "the file system never filled";
    EXPECT_GT(ok, 10);
    EXPECT_EQ(last, make_error_code(errc::disk_full)) << last.message();
    EXPECT_FALSE(mailkit::is_permanent(last));
    EXPECT_EQ(enhanced_status(last), "4.3.1");
    expect_consistent(*s, "bob@example.com");
    // Freeing space makes delivery work again.
    ASSERT_EQ(::unlink(ballast.c_str()), 0);
    std::vector<uid_type> first_half;
    for (int u = 1; u <= ok / 2; ++u)
      first_half.push_back(static_cast<uid_type>(u));
    ASSERT_TRUE(s->expunge("bob@example.com", "INBOX", std::span<const uid_type>(first_half)));
    auto r = s->deliver("bob@example.com", sample_message(5000, filler));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_GT(r->uid, static_cast<uid_type>(ok));
  }
  // And it reopens consistent.
  auto s = open_store(mnt + "/s");
  ASSERT_TRUE(s);
  expect_consistent(*s, "bob@example.com");
}

TEST(store_faults, permission_denied_is_transient) {
  temp_dir dir;
  {
    auto s = open_store(dir.sub("s"));
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account("bob@example.com", "pw"));
  }
  // Root ignores file modes, so the denial is injected at the blob store's first create.
  auto ops = std::make_shared<faulty_file_ops>(posix_file_ops());
  auto o = options_for(dir.sub("s"));
  o.files = ops;
  auto s = open(o);
  ASSERT_TRUE(s);
  ops->fail_at(1, EACCES);
  auto r = (*s)->deliver("bob@example.com", sample_message(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::permission_denied));
  EXPECT_FALSE(mailkit::is_permanent(r.error()));
  EXPECT_EQ(enhanced_status(r.error()), "4.3.0");
}

TEST(store_faults, sigkill_during_appends) {
  temp_dir dir;
  {
    auto s = open_store(dir.sub("s"));
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account("bob@example.com", "pw"));
  }
  std::mt19937 rng(4242); // deterministic kill points
  uid_type highest_seen = 0;
  constexpr int rounds = 12;
  for (int round = 0; round < rounds; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = open(options_for(dir.sub("s")));
      if (!s) ::_exit(3);
      for (int i = 0; i < 400; ++i) { // bounded; the parent kills long before the end
        flag_set f;
        f.system = flag_seen;
        if (!(*s)->append("bob@example.com", "INBOX", sample_message(round * 1000 + i))) ::_exit(4);
        if (i % 3 == 0)
          (void)(*s)->store_flags("bob@example.com", "INBOX",
                                  std::vector<uid_type>{static_cast<uid_type>(i + 1)},
                                  flag_mode::add, f);
        if (i % 5 == 0)
          (void)(*s)->expunge("bob@example.com", "INBOX",
                              std::vector<uid_type>{static_cast<uid_type>(i)});
      }
      ::_exit(0);
    }
    std::uniform_int_distribution<int> delay_us(5000, 150000);
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) > 0)
        << "child failed: " << WEXITSTATUS(status);
    auto s = open_store(dir.sub("s")); // recovery runs here
    ASSERT_TRUE(s);
    expect_consistent(*s, "bob@example.com");
    auto mb = s->mailbox("bob@example.com", "INBOX");
    ASSERT_TRUE(mb);
    EXPECT_GE(mb->uidnext, highest_seen + 1);
    // A new append gets a UID above every UID ever handed out (committed rows only can have
    // been seen by anyone, and uidnext covers them all).
    auto r = s->append("bob@example.com", "INBOX", sample_message(-1 - round));
    ASSERT_TRUE(r);
    EXPECT_GT(r->uid, highest_seen);
    highest_seen = r->uid;
    // Every visible message is one the child wrote, whole.
    auto visible = s->messages("bob@example.com", "INBOX");
    ASSERT_TRUE(visible);
    for (const auto& m : *visible) {
      auto body = s->fetch("bob@example.com", "INBOX", m.uid);
      ASSERT_TRUE(body);
      auto subj = body->find("Subject: message ");
      ASSERT_NE(subj, std::string::npos);
      int n = std::stoi(body->substr(subj + 17));
      EXPECT_EQ(*body, sample_message(n));
    }
  }
}

TEST_P(injected_fault, every_step_of_a_batch_append) {
  const int err = GetParam();
  temp_dir dir;
  auto ops = std::make_shared<faulty_file_ops>(posix_file_ops());
  auto o = options_for(dir.sub("s"));
  o.files = ops;
  auto opened = open(o);
  ASSERT_TRUE(opened);
  auto& s = **opened;
  ASSERT_TRUE(s.add_domain("example.com"));
  ASSERT_TRUE(s.add_account("bob@example.com", "pw"));
  std::vector<std::string> data;
  for (int i = 0; i < 8; ++i)
    data.push_back(sample_message(i));
  std::vector<mail_store::batch_item> items;
  for (int i = 0; i < 8; ++i)
    items.push_back({data[static_cast<std::size_t>(i)], {}, 1600000000 + i});
  ops->fail_at(UINT64_MAX, 0);
  {
    // Count the steps on a throwaway mailbox.
    ASSERT_TRUE(s.create_mailbox("bob@example.com", "count"));
    ASSERT_TRUE(s.append_batch("bob@example.com", "count", items, true));
  }
  const auto steps = ops->count();
  ASSERT_GE(steps, 8u * 4);
  for (std::uint64_t n = 1; n <= steps; ++n) {
    ops->fail_at(n, err);
    auto r = s.append_batch("bob@example.com", "INBOX", items, true);
    ops->fail_at(0, 0);
    if (r) {
      // Succeeded only when the failing step came after the batch (none here): then all in.
      EXPECT_EQ(s.mailbox("bob@example.com", "INBOX")->messages, 8u);
      break;
    }
    EXPECT_FALSE(mailkit::is_permanent(r.error())) << n;
    // All or nothing: no message of the failed batch is visible, no body is left behind.
    EXPECT_EQ(s.mailbox("bob@example.com", "INBOX")->messages, 0u) << n;
    auto problems = s.check();
    ASSERT_TRUE(problems);
    EXPECT_TRUE(problems->empty());
    EXPECT_EQ(s.blobs().list()->size(), 8u) << n; // the "count" mailbox's bodies only
  }
  auto done = s.append_batch("bob@example.com", "INBOX", items, true);
  ASSERT_TRUE(done);
  EXPECT_EQ(s.mailbox("bob@example.com", "INBOX")->messages, 8u);
  // Re-running the same batch is idempotent.
  auto again = s.append_batch("bob@example.com", "INBOX", items, true);
  ASSERT_TRUE(again);
  for (const auto& r : *again)
    EXPECT_FALSE(r);
}
