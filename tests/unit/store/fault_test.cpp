// SPDX-License-Identifier: Apache-2.0
// Faults: a failure injected at every write, fsync, rename and directory fsync of an append;
// a real 1 MiB file system filling up (and the same scenario on a capacity-limited file layer,
// which is also the fallback where mounting is not permitted); real permission errors (a
// directory the store's user cannot write); a process killed with SIGKILL in the middle of
// appends. After each, the store must be consistent, reuse no UID, show no half message, and
// the caller must have had a clear transient error.
#include "store_support.hpp"

#include <mailkit/store/text_index.hpp>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <iostream>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

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

/// A file layer with a fixed capacity: every create costs a block, every write its bytes; an
/// operation that does not fit fails with ENOSPC, as a full file system does. Unlinks give the
/// space back. Stands in for a small file system where mount(2) is not permitted, and runs
/// beside the real tmpfs where it is.
class capacity_file_ops final : public file_ops {
public:
  capacity_file_ops(std::shared_ptr<file_ops> inner, std::uint64_t capacity)
      : inner_(std::move(inner)), capacity_(capacity) {}
  void grow(std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    capacity_ += bytes;
  }
  mailkit::expected<int> create(const std::string& path) override {
    if (!charge(path, block)) return enospc();
    auto fd = inner_->create(path);
    std::lock_guard lock(mutex_);
    if (fd)
      paths_[*fd] = path;
    else
      release_locked(path);
    return fd;
  }
  mailkit::expected<void> write(int fd, std::string_view data) override {
    std::string path;
    {
      std::lock_guard lock(mutex_);
      path = paths_[fd];
    }
    if (!charge(path, data.size())) return enospc();
    return inner_->write(fd, data);
  }
  mailkit::expected<void> fsync(int fd) override { return inner_->fsync(fd); }
  mailkit::expected<void> close(int fd) override {
    {
      std::lock_guard lock(mutex_);
      paths_.erase(fd);
    }
    return inner_->close(fd);
  }
  mailkit::expected<void> rename(const std::string& from, const std::string& to) override {
    auto r = inner_->rename(from, to);
    std::lock_guard lock(mutex_);
    if (r) {
      auto it = sizes_.find(from);
      if (it != sizes_.end()) {
        sizes_[to] = it->second;
        sizes_.erase(from);
      }
    }
    return r;
  }
  mailkit::expected<void> fsync_dir(const std::string& path) override {
    return inner_->fsync_dir(path);
  }
  mailkit::expected<void> unlink(const std::string& path) override {
    auto r = inner_->unlink(path);
    std::lock_guard lock(mutex_);
    if (r) release_locked(path);
    return r;
  }
  mailkit::expected<void> mkdir(const std::string& path) override { return inner_->mkdir(path); }
  mailkit::expected<std::string> read_file(const std::string& path) override {
    return inner_->read_file(path);
  }
  mailkit::expected<std::vector<std::string>> list_dir(const std::string& path) override {
    return inner_->list_dir(path);
  }

private:
  static constexpr std::uint64_t block = 4096;
  static tl::unexpected<mailkit::error_code> enospc() {
    return tl::unexpected<mailkit::error_code>(
        mailkit::error_code(ENOSPC, boost::system::system_category()));
  }
  bool charge(const std::string& path, std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    if (used_ + bytes > capacity_) return false;
    used_ += bytes;
    sizes_[path] += bytes;
    return true;
  }
  void release_locked(const std::string& path) {
    auto it = sizes_.find(path);
    if (it == sizes_.end()) return;
    used_ -= it->second;
    sizes_.erase(it);
  }
  std::shared_ptr<file_ops> inner_;
  std::mutex mutex_;
  std::uint64_t capacity_, used_ = 0;
  std::map<int, std::string> paths_;
  std::map<std::string, std::uint64_t> sizes_;
};

/// Deliver until the disk is full, check the error and the store, free space (`free_space`),
/// expunge half, deliver again, reopen (`reopen`) and check again.
void fill_the_disk(const std::function<std::unique_ptr<mail_store>()>& reopen,
                   const std::function<void()>& free_space) {
  {
    auto s = reopen();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account("bob@example.com", "pw"));
    std::string filler(8000, 'x');
    filler += "\r\n";
    mailkit::error_code last;
    int ok = 0;
    for (int i = 0; i < 2000; ++i) { // bounded: 1 MiB holds far fewer than 2000 of these
      auto before = s->mailbox("bob@example.com", "INBOX");
      ASSERT_TRUE(before);
      auto r = s->deliver("bob@example.com", sample_message(i, filler));
      if (!r) {
        last = r.error();
        // No half message: the failed delivery left the mailbox as it was.
        auto after = s->mailbox("bob@example.com", "INBOX");
        ASSERT_TRUE(after);
        EXPECT_EQ(after->messages, before->messages);
        break;
      }
      ++ok;
    }
    ASSERT_TRUE(last) << "the file system never filled";
    // Some messages fit first (9 to 30 here: SQLite's WAL index and the text index take whole
    // pages, so the number depends on the page size; 64K pages under qemu leave the fewest).
    EXPECT_GE(ok, 5);
    EXPECT_EQ(last, make_error_code(errc::disk_full)) << last.message();
    EXPECT_FALSE(mailkit::is_permanent(last));
    EXPECT_EQ(enhanced_status(last), "4.3.1");
    expect_consistent(*s, "bob@example.com");
    // Freeing space makes delivery work again; no UID handed out before comes back.
    free_space();
    std::vector<uid_type> first_half;
    for (int u = 1; u <= ok / 2; ++u)
      first_half.push_back(static_cast<uid_type>(u));
    ASSERT_TRUE(s->expunge("bob@example.com", "INBOX", std::span<const uid_type>(first_half)));
    auto r = s->deliver("bob@example.com", sample_message(5000, filler));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_GT(r->uid, static_cast<uid_type>(ok));
  }
  // And it reopens consistent.
  auto s = reopen();
  ASSERT_TRUE(s);
  expect_consistent(*s, "bob@example.com");
}

// The faults below are injected into the file layer, where bodies larger than
// open_options::inline_body_max go: these stores keep every body in a file.
open_options file_options_for(const std::string& path) {
  auto o = options_for(path);
  o.inline_body_max = 0;
  return o;
}

void fill_injected_capacity(const std::string& root) {
  // Room for the database and about 60 of the 8 KiB messages; the "operator" frees 256 KiB.
  auto ops = std::make_shared<capacity_file_ops>(posix_file_ops(), 512 * 1024);
  fill_the_disk(
      [&]() -> std::unique_ptr<mail_store> {
        auto o = file_options_for(root);
        o.files = ops;
        auto s = open(o);
        EXPECT_TRUE(s) << (s ? "" : s.error().message());
        return s ? std::move(*s) : nullptr;
      },
      [&] { ops->grow(256 * 1024); });
}

} // namespace

class injected_fault : public ::testing::TestWithParam<int> {};

TEST_P(injected_fault, every_step_of_an_append) {
  const int err = GetParam();
  temp_dir dir;
  auto ops = std::make_shared<faulty_file_ops>(posix_file_ops());
  auto o = file_options_for(dir.sub("s"));
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

// A real 1 MiB tmpfs at `path` (the tests run as root in CI), unmounted when it goes out of
// scope. Where mounting is not permitted (EPERM, EACCES) `mounted` is false and the caller runs
// its fallback; `check_fallback` fails the test on any other mount error and says on stderr
// which fallback runs instead: never a silent skip.
struct small_tmpfs {
  std::string path;
  bool mounted = false;
  int error = 0;
  explicit small_tmpfs(std::string p) : path(std::move(p)) {
    std::filesystem::create_directories(path);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=1m") == 0;
    if (!mounted) error = errno;
  }
  ~small_tmpfs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  small_tmpfs(const small_tmpfs&) = delete;
  small_tmpfs& operator=(const small_tmpfs&) = delete;
  void check_fallback(std::string_view instead) const {
    ASSERT_TRUE(error == EPERM || error == EACCES) << "mount tmpfs failed (errno " << error << ")";
    std::cerr << "store_faults: mounting tmpfs is not permitted (errno " << error
              << "): " << instead << " instead\n";
  }
};

// A real 1 MiB tmpfs filling up, with small bodies inside the database (the default) or
// every body in a file (inline_max 0).
void real_small_filesystem(std::size_t inline_max) {
  temp_dir dir;
  small_tmpfs fs(dir.sub("mnt"));
  const std::string& mnt = fs.path;
  // Where mounting is not permitted the same scenario runs on the capacity-limited file layer.
  if (!fs.mounted) {
    ASSERT_NO_FATAL_FAILURE(fs.check_fallback("running the disk-full scenario on injected ENOSPC"));
    ::testing::Test::RecordProperty("disk_full_path", "injected");
    fill_injected_capacity(dir.sub("s"));
    return;
  }
  ::testing::Test::RecordProperty("disk_full_path", "tmpfs");
  // Ballast the "operator" deletes once the disk is full: even an expunge needs room in the
  // SQLite WAL, so space must come from somewhere else first. The text index stays off this
  // disk (open_options::text_index_min_free, 64 MiB by default): without that reserve the
  // index thread, catching up after the ballast went, took the freed space before the expunge
  // and the delivery below (seen in about one run in a hundred).
  std::string ballast = mnt + "/ballast";
  {
    std::FILE* f = std::fopen(ballast.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(256 * 1024, 'b');
    ASSERT_EQ(std::fwrite(block.data(), 1, block.size(), f), block.size());
    std::fclose(f);
  }
  fill_the_disk(
      [&]() -> std::unique_ptr<mail_store> {
        auto o = options_for(mnt + "/s");
        o.inline_body_max = inline_max;
        auto s = open(o);
        EXPECT_TRUE(s) << (s ? "" : s.error().message());
        return s ? std::move(*s) : nullptr;
      },
      [&] { ASSERT_EQ(::unlink(ballast.c_str()), 0); });
}

TEST(store_faults, real_small_filesystem_fills_up) {
  real_small_filesystem(open_options{}.inline_body_max);
}

TEST(store_faults, real_small_filesystem_fills_up_with_file_bodies) {
  real_small_filesystem(0);
}

// Writers delivering at the same time until a real 1 MiB tmpfs is full: the disk fills inside
// commits that concurrent writers share (group commit), so a batch can fail in one writer's
// work or at its COMMIT. Every delivery that was acknowledged is there, whole, after reopening;
// every other one failed with disk_full (transient) and left nothing; no UID is handed out
// twice. Where mounting is not permitted it runs on the capacity-limited file layer instead
// (bodies in files), and says so.
TEST(store_faults, concurrent_writers_fill_the_disk) {
  temp_dir dir;
  small_tmpfs fs(dir.sub("mnt"));
  const std::string& mnt = fs.path;
  const bool mounted = fs.mounted;
  std::shared_ptr<capacity_file_ops> ops;
  if (!mounted) {
    ASSERT_NO_FATAL_FAILURE(
        fs.check_fallback("running the concurrent disk-full scenario on injected ENOSPC"));
    ops = std::make_shared<capacity_file_ops>(posix_file_ops(), 512 * 1024);
  }
  ::testing::Test::RecordProperty("disk_full_path", mounted ? "tmpfs" : "injected");
  auto reopen = [&]() -> std::unique_ptr<mail_store> {
    auto o = mounted ? options_for(mnt + "/s") : file_options_for(dir.sub("s"));
    if (ops) o.files = ops;
    auto s = open(o);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? std::move(*s) : nullptr;
  };
  const std::string bob = "bob@example.com";
  std::string filler(6000, 'x');
  filler += "\r\n";
  std::map<uid_type, int> acked; // UID -> message number
  auto expect_exactly_acked = [&](mail_store& s) {
    auto list = s.messages(bob, "INBOX");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->size(), acked.size());
    for (const auto& m : *list) {
      auto it = acked.find(m.uid);
      ASSERT_NE(it, acked.end()) << "uid " << m.uid << " was never acknowledged";
      auto body = s.fetch(bob, "INBOX", m.uid);
      ASSERT_TRUE(body) << body.error().message();
      EXPECT_EQ(*body, sample_message(it->second, filler)) << "uid " << m.uid;
    }
  };
  {
    auto s = reopen();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account(bob, "pw"));
    constexpr int writers = 4;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::mutex mu;
    std::atomic<int> refused{0}, wrong{0};
    std::string first_wrong;
    std::vector<std::thread> threads;
    std::latch start(writers);
    for (int t = 0; t < writers; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        int mine = 0; // refusals this writer met: a few, then it stops
        for (int i = 0; i < 500 && mine < 3 && std::chrono::steady_clock::now() < deadline; ++i) {
          const int n = t * 1000 + i;
          auto r = s->deliver(bob, sample_message(n, filler));
          std::lock_guard lock(mu);
          if (r) {
            if (!acked.emplace(r->uid, n).second && wrong++ == 0)
              first_wrong = "uid " + std::to_string(r->uid) + " twice";
          } else if (r.error() == make_error_code(errc::disk_full)) {
            ++refused;
            ++mine;
          } else if (wrong++ == 0) {
            first_wrong = r.error().message();
          }
        }
      });
    }
    for (auto& th : threads)
      th.join();
    EXPECT_EQ(wrong.load(), 0) << first_wrong;
    EXPECT_GT(refused.load(), 0) << "the file system never filled";
    EXPECT_GE(acked.size(), 5u);
    expect_exactly_acked(*s);
    expect_consistent(*s, bob);
  }
  auto s = reopen();
  ASSERT_TRUE(s);
  expect_exactly_acked(*s);
  expect_consistent(*s, bob);
}

TEST(store_faults, injected_small_filesystem_fills_up) {
  // The fallback path of the test above, run everywhere so that both stay real.
  temp_dir dir;
  fill_injected_capacity(dir.sub("s"));
}

// A search on a full disk, with no reserve for the index: the index cannot be created or
// written, and the search still answers exactly by reading the messages. Where mounting is not
// permitted, the reserve path instead (nothing indexed for want of space), and it says so.
TEST(store_faults, a_search_on_a_full_disk_answers_from_the_messages) {
  temp_dir dir;
  small_tmpfs fs(dir.sub("mnt"));
  const std::string& mnt = fs.path;
  const bool mounted = fs.mounted;
  if (!mounted) {
    ASSERT_NO_FATAL_FAILURE(
        fs.check_fallback("searching with the index's reserve unmet, not on a full disk,"));
  }
  ::testing::Test::RecordProperty("disk_full_path", mounted ? "tmpfs" : "reserve");
  const std::string root = mnt + "/s", bob = "bob@example.com";
  auto reopen = [&] {
    auto o = options_for(root);
    o.text_index_min_free = mounted ? 0 : UINT64_MAX;
    auto s = open(o);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? std::move(*s) : nullptr;
  };
  {
    auto s = reopen();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account(bob, "pw"));
    for (int i = 0; i < 6; ++i)
      ASSERT_TRUE(s->deliver(bob, sample_message(i, i % 2 ? "a walrus here\r\n" : "none\r\n")));
  }
  // The index is gone (as in a store from before it), and then the disk fills.
  std::filesystem::remove_all(root + "/text");
  auto s = reopen();
  ASSERT_TRUE(s);
  if (mounted) {
    std::FILE* f = std::fopen((mnt + "/ballast").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(4096, 'b');
    for (int i = 0; i < 1024 && std::fwrite(block.data(), 1, block.size(), f) == block.size();)
      ++i;          // bounded: 1 MiB at most
    std::fclose(f); // the buffered rest fails with ENOSPC
    struct statvfs st {};
    ASSERT_EQ(::statvfs(mnt.c_str(), &st), 0);
    EXPECT_LT(static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize, 4096u) << "disk not full";
  }
  for (int round = 0; round < 2; ++round) {
    auto hits = search_text(*s, bob, "INBOX", {text_field::body, "", "WALRUS"});
    ASSERT_TRUE(hits) << hits.error().message();
    EXPECT_EQ(*hits, (std::vector<uid_type>{2, 4, 6}));
    auto subject = search_text(*s, bob, "INBOX", {text_field::header, "subject", "message 3"});
    ASSERT_TRUE(subject) << subject.error().message();
    EXPECT_EQ(*subject, (std::vector<uid_type>{4}));
  }
  auto* host = dynamic_cast<mailkit::store::detail::text_search_host*>(s.get());
  ASSERT_NE(host, nullptr);
  std::error_code ec;
  std::size_t index_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(root + "/text", ec))
    index_files += e.path().extension() == ".db" && std::filesystem::file_size(e.path()) > 0;
  EXPECT_EQ(index_files, 0u) << "nothing indexed on a full disk";
  // With space again the search indexes what it meets.
  if (mounted) {
    ASSERT_EQ(::unlink((mnt + "/ballast").c_str()), 0);
    auto hits = search_text(*s, bob, "INBOX", {text_field::body, "", "walrus"});
    ASSERT_TRUE(hits) << hits.error().message();
    EXPECT_EQ(*hits, (std::vector<uid_type>{2, 4, 6}));
    auto n = host->text().size(bob);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 6u);
  }
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
  auto o = file_options_for(dir.sub("s"));
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

namespace {

// What the permission test's child reports through its exit status.
enum perm_result : int {
  perm_ok = 0,
  perm_open_failed = 10,
  perm_delivered = 11,
  perm_wrong_error = 12,
  perm_permanent = 13,
  perm_visible = 14,
  perm_inconsistent = 15,
};

// Deliver once into a store whose blobs/tmp the current user cannot write.
int deliver_without_permission(const std::string& path) {
  auto s = open(file_options_for(path));
  if (!s) return perm_open_failed;
  auto r = (*s)->deliver("bob@example.com", sample_message(2));
  if (r) return perm_delivered;
  if (r.error() != make_error_code(errc::permission_denied)) return perm_wrong_error;
  if (mailkit::is_permanent(r.error()) || enhanced_status(r.error()) != "4.3.0")
    return perm_permanent;
  auto mb = (*s)->mailbox("bob@example.com", "INBOX");
  if (!mb || mb->messages != 1 || mb->uidnext != 2) return perm_visible;
  auto problems = (*s)->check();
  if (!problems || !problems->empty()) return perm_inconsistent;
  return perm_ok;
}

} // namespace

TEST(store_faults, real_permission_denied_is_transient) {
  // A real EACCES from the kernel: the message directory belongs to someone else (an operator
  // ran a tool as root). Root ignores file modes, so as root the delivery runs in a child that
  // has dropped to "nobody" in a store owned by nobody, except blobs/tmp.
  temp_dir dir;
  const std::string path = dir.sub("s");
  {
    auto s = open_store(path);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account("bob@example.com", "pw"));
    ASSERT_TRUE(s->deliver("bob@example.com", sample_message(1)));
  }
  const std::string tmp = path + "/blobs/tmp";
  if (::geteuid() == 0) {
    const uid_t nobody = 65534;
    const gid_t nogroup = 65534;
    ::chmod(dir.path.c_str(), 0755);
    for (const auto& e : std::filesystem::recursive_directory_iterator(path))
      ASSERT_EQ(::lchown(e.path().c_str(), nobody, nogroup), 0) << e.path();
    ASSERT_EQ(::chown(path.c_str(), nobody, nogroup), 0);
    ASSERT_EQ(::chown(tmp.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(tmp.c_str(), 0755), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setgid(nogroup) != 0 || ::setuid(nobody) != 0) ::_exit(2);
      ::_exit(deliver_without_permission(path));
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), perm_ok);
    ASSERT_EQ(::chown(tmp.c_str(), nobody, nogroup), 0); // the operator fixes it
  } else {
    ASSERT_EQ(::chmod(tmp.c_str(), 0555), 0);
    EXPECT_EQ(deliver_without_permission(path), perm_ok);
    ASSERT_EQ(::chmod(tmp.c_str(), 0755), 0);
  }
  // Once fixed, delivery works, with the next UID, and nothing half-written is left.
  auto s = open_store(path);
  ASSERT_TRUE(s);
  auto r = s->deliver("bob@example.com", sample_message(3));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uid, 2u);
  expect_consistent(*s, "bob@example.com");
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
      // Even rounds keep the bodies inside the database, odd rounds in files.
      auto o = options_for(dir.sub("s"));
      if (round % 2) o.inline_body_max = 0;
      auto s = open(o);
      if (!s) ::_exit(3);
      for (int i = 0; i < 400; ++i) { // bounded; the parent kills long before the end
        flag_set f;
        f.system = flag_seen;
        if (!(*s)->append("bob@example.com", "INBOX", sample_message(round * 10000 + i)))
          ::_exit(4);
        if (i % 7 == 6) { // an import batch: all of it or none of it becomes visible
          std::vector<std::string> data;
          std::vector<mail_store::batch_item> items;
          for (int k = 0; k < 3; ++k)
            data.push_back(sample_message(round * 10000 + 5000 + i * 3 + k));
          for (const auto& d : data)
            items.push_back({d, {}, 1600000000 + i});
          if (!(*s)->append_batch("bob@example.com", "INBOX", items, true)) ::_exit(5);
        }
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
  auto o = file_options_for(dir.sub("s"));
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

namespace {

/// A file layer that kills its own process with SIGKILL at the failable operation numbered
/// `kill_at` (create, write, fsync, rename, fsync_dir, counted from 1), either before the
/// operation runs or right after it (`after`). A write killed "before" first writes half of its
/// data, as a crash in the middle of a large write leaves it. Used in a forked child only.
class killing_file_ops final : public file_ops {
public:
  killing_file_ops(std::shared_ptr<file_ops> inner, std::uint64_t kill_at, bool after)
      : inner_(std::move(inner)), kill_at_(kill_at), after_(after) {}
  mailkit::expected<int> create(const std::string& path) override {
    bool k = due();
    if (k && !after_) die();
    auto r = inner_->create(path);
    if (k) die();
    return r;
  }
  mailkit::expected<void> write(int fd, std::string_view data) override {
    bool k = due();
    if (k && !after_) {
      (void)inner_->write(fd, data.substr(0, data.size() / 2));
      die();
    }
    auto r = inner_->write(fd, data);
    if (k) die();
    return r;
  }
  mailkit::expected<void> fsync(int fd) override {
    return around([&] { return inner_->fsync(fd); });
  }
  mailkit::expected<void> close(int fd) override { return inner_->close(fd); }
  mailkit::expected<void> rename(const std::string& from, const std::string& to) override {
    return around([&] { return inner_->rename(from, to); });
  }
  mailkit::expected<void> fsync_dir(const std::string& path) override {
    return around([&] { return inner_->fsync_dir(path); });
  }
  mailkit::expected<void> unlink(const std::string& path) override { return inner_->unlink(path); }
  mailkit::expected<void> mkdir(const std::string& path) override { return inner_->mkdir(path); }
  mailkit::expected<std::string> read_file(const std::string& path) override {
    return inner_->read_file(path);
  }
  mailkit::expected<std::vector<std::string>> list_dir(const std::string& path) override {
    return inner_->list_dir(path);
  }
  void arm() { armed_ = true; }

private:
  bool due() { return armed_ && ++count_ == kill_at_; }
  [[noreturn]] static void die() {
    ::kill(::getpid(), SIGKILL);
    ::_exit(99); // not reached
  }
  template <class F>
  mailkit::expected<void> around(F op) {
    bool k = due();
    if (k && !after_) die();
    auto r = op();
    if (k) die();
    return r;
  }
  std::shared_ptr<file_ops> inner_;
  std::uint64_t kill_at_, count_ = 0;
  bool after_, armed_ = false;
};

} // namespace

// A process killed at each step of an append in turn (before and after each create, write,
// fsync, rename and directory fsync of the body; a write cut in half), then the store reopened:
// recovery removes the temporary or orphan body, the message is not visible (its row never
// committed), the store is consistent, and the next append gets a UID above every one handed out.
TEST(store_faults, sigkill_at_every_step_of_an_append) {
  temp_dir dir;
  const std::string path = dir.sub("s");
  const std::string bob = "bob@example.com";
  {
    auto s = open_store(path);
    ASSERT_TRUE(s->add_domain("example.com"));
    ASSERT_TRUE(s->add_account(bob, "pw"));
    ASSERT_TRUE(s->append(bob, "INBOX", sample_message(0)));
  }
  // Count the steps of one append, as the killed child will take them.
  std::uint64_t steps = 0;
  {
    auto ops = std::make_shared<faulty_file_ops>(posix_file_ops());
    auto o = file_options_for(path);
    o.files = ops;
    auto s = open(o);
    ASSERT_TRUE(s);
    ops->fail_at(UINT64_MAX, 0);
    ASSERT_TRUE((*s)->append(bob, "INBOX", sample_message(1)));
    steps = ops->count();
  }
  ASSERT_GE(steps, 5u);
  ASSERT_LE(steps, 20u);
  uid_type highest = 2;
  std::uint32_t visible = 2;
  int kills = 0;
  for (bool after : {false, true}) {
    for (std::uint64_t n = 1; n <= steps; ++n) {
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        auto ops = std::make_shared<killing_file_ops>(posix_file_ops(), n, after);
        auto o = file_options_for(path);
        o.files = ops;
        auto s = open(o);
        if (!s) ::_exit(3);
        ops->arm();
        (void)(*s)->append(bob, "INBOX", sample_message(100 + static_cast<int>(n)));
        ::_exit(0); // the kill point was never reached
      }
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "step " << n << (after ? " after" : " before") << ": status " << status;
      ++kills;
      auto s = open_store(path); // recovery runs here
      ASSERT_TRUE(s);
      expect_consistent(*s, bob);
      auto mb = s->mailbox(bob, "INBOX");
      ASSERT_TRUE(mb);
      // Every kill point is before the row's commit: the message never became visible.
      EXPECT_EQ(mb->messages, visible) << "step " << n;
      auto r = s->append(bob, "INBOX", sample_message(1000 + static_cast<int>(n)));
      ASSERT_TRUE(r);
      EXPECT_GT(r->uid, highest) << "step " << n;
      highest = r->uid;
      ++visible;
    }
  }
  EXPECT_EQ(kills, static_cast<int>(2 * steps));
}
