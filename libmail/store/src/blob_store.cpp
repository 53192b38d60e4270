// SPDX-License-Identifier: Apache-2.0
// The embedded blob store: one file per message body, written durably (STYLE.md "Durable
// writes": temp file, fsync, rename, fsync the directory).
#include "internal.hpp"

#include <mailkit/core/thread_name.hpp>
#include <mailkit/store/store.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <sodium.h>
#include <thread>
#include <vector>

namespace mailkit::store {
namespace {

bool valid_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A long-lived pool of threads that run the flushes of one put or batch at the same time, so
// that the file system commits them together instead of one after the other. The calling
// thread takes part (a lone flush never changes threads), and the threads start at the first
// batch that needs them. Shared by every caller of one blob store: concurrent batches interleave.
class sync_pool {
public:
  explicit sync_pool(std::size_t threads) : size_(threads) {}
  sync_pool(const sync_pool&) = delete;
  sync_pool& operator=(const sync_pool&) = delete;
  ~sync_pool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

  /// Runs `task(0)` ... `task(n - 1)`, on the pool and on the calling thread; returns once every
  /// one has returned.
  void run(std::size_t n, const std::function<void(std::size_t)>& task) {
    if (n == 0) return;
    batch b{&task, n};
    {
      std::lock_guard lock(mu_);
      if (threads_.empty() && n > 1)
        for (std::size_t i = 0; i < size_; ++i)
          threads_.emplace_back([this] {
            name_this_thread("mk-blob-write");
            work();
          });
      for (std::size_t i = 1; i < n; ++i)
        queue_.push_back({&b, i});
    }
    // One waiter per queued task: a lone directory flush wakes one thread, not the pool.
    for (std::size_t i = 1; i < n; ++i)
      cv_.notify_one();
    task(0);
    finished(b);
    // Take this batch's own queued work rather than sleep (never another batch's, which could
    // hold this caller back after its own flushes are done).
    for (;;) {
      std::unique_lock lock(mu_);
      auto mine =
          std::find_if(queue_.begin(), queue_.end(), [&](const job& j) { return j.b == &b; });
      if (mine == queue_.end()) {
        done_.wait(lock, [&] { return b.left == 0; });
        return;
      }
      const std::size_t index = mine->index;
      queue_.erase(mine);
      lock.unlock();
      task(index);
      finished(b);
    }
  }

private:
  struct batch {
    const std::function<void(std::size_t)>* task;
    std::size_t left; // guarded by mu_
  };
  struct job {
    batch* b;
    std::size_t index;
  };

  void finished(batch& b) {
    std::lock_guard lock(mu_);
    if (--b.left == 0) done_.notify_all();
  }

  void work() {
    for (;;) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return; // stopping; no batch can be waiting (run() is done)
      auto j = queue_.front();
      queue_.pop_front();
      lock.unlock();
      (*j.b->task)(j.index);
      finished(*j.b);
    }
  }

  const std::size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;   // work queued, or stopping
  std::condition_variable done_; // a batch finished
  std::deque<job> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

class file_blob_store final : public blob_store {
public:
  file_blob_store(std::string root, std::shared_ptr<file_ops> ops)
      : root_(std::move(root)), ops_(std::move(ops)) {}

  expected<void> init() {
    for (const auto& d : {root_, root_ + "/tmp"}) {
      if (auto r = ops_->mkdir(d); !r) return make_unexpected(detail::from_system(r.error()));
    }
    return {};
  }

  expected<std::string> put(std::string_view data) override {
    const std::string_view one[] = {data};
    auto ids = put_many(one);
    if (!ids) return make_unexpected(ids.error());
    return std::move(ids->front());
  }

  // Durability (DESIGN.md §4, STYLE.md "Durable writes"): every body file and the directory
  // entry naming it are on disk before this returns, hence before the row naming the body
  // commits. Each file is written under tmp/ and renamed into its directory at once; then the
  // file flushes and the one directory flush run at the same time on the sync pool, so the
  // commit that follows waits for two flushes in series (these, then the WAL) instead of three
  // (file, directory, WAL) with the rename after the file's fsync. A crash before the commit
  // leaves at most a file no row names, partial or not, which the recovery scan at open()
  // removes: no reader ever reaches a body before its row, and no row before its flushes.
  expected<std::vector<std::string>> put_many(std::span<const std::string_view> data) override {
    if (sodium_init() < 0) return fail(errc::io_error);
    if (data.empty()) return std::vector<std::string>{};
    std::vector<std::string> ids, tmps, finals;
    auto undo = [&](const error_code& ec) {
      for (const auto& t : tmps)
        ops_->unlink(t);
      for (const auto& f : finals)
        ops_->unlink(f);
      return make_unexpected(detail::from_system(ec));
    };
    // The whole batch goes into one subdirectory (its first byte drawn once), so that one
    // directory fsync makes every new entry durable; batches still spread over all 256.
    unsigned char prefix = 0;
    randombytes_buf(&prefix, 1);
    static constexpr char hex[] = "0123456789abcdef";
    const std::string key{hex[prefix >> 4], hex[prefix & 15]};
    const std::string dir = root_ + "/" + key;
    // Files are written in chunks (bounded open descriptors); each chunk's file flushes run
    // together, and with the last chunk's the directory's (after every entry was renamed in).
    constexpr std::size_t chunk = 128;
    for (std::size_t base = 0; base < data.size(); base += chunk) {
      const std::size_t end = std::min(data.size(), base + chunk);
      std::vector<int> fds;
      fds.reserve(end - base);
      error_code failed;
      for (std::size_t i = base; i < end && !failed; ++i) {
        unsigned char raw[16];
        randombytes_buf(raw, sizeof raw);
        raw[0] = prefix;
        std::string id(32, '0');
        sodium_bin2hex(id.data(), id.size() + 1, raw, sizeof raw);
        std::string tmp = root_ + "/tmp/" + id;
        auto fd = ops_->create(tmp);
        if (!fd) {
          failed = fd.error();
          break;
        }
        tmps.push_back(tmp);
        fds.push_back(*fd);
        ids.push_back(std::move(id));
        if (auto w = ops_->write(*fd, data[i]); !w) {
          failed = w.error();
          break;
        }
        if (auto r = ensure_dir(dir, key); !r) {
          failed = r.error();
          break;
        }
        std::string final_path = dir + "/" + ids.back();
        if (auto r = ops_->rename(tmp, final_path); !r) {
          failed = r.error();
          break;
        }
        tmps.pop_back();
        finals.push_back(std::move(final_path));
      }
      if (!failed) {
        // Task k < fds.size() flushes file k; the extra last task (last chunk) the directory.
        const bool with_dir = base + chunk >= data.size();
        std::vector<error_code> errs(fds.size() + (with_dir ? 1 : 0));
        sync_.run(errs.size(), [&](std::size_t k) {
          auto f = k < fds.size() ? ops_->fsync(fds[k]) : ops_->fsync_dir(dir);
          if (!f) errs[k] = f.error();
        });
        for (const auto& e : errs)
          if (e && !failed) failed = e;
      }
      for (int fd : fds)
        if (auto c = ops_->close(fd); !c && !failed) failed = c.error();
      if (failed) return undo(failed);
    }
    return ids;
  }

  expected<std::string> get(std::string_view id) override {
    if (!valid_id(id)) return fail(errc::corrupt);
    auto data = ops_->read_file(path_of(id));
    if (!data) {
      if (data.error().value() == ENOENT)
        return fail(errc::corrupt); // a row names a body that is gone
      return make_unexpected(detail::from_system(data.error()));
    }
    return data;
  }

  expected<void> remove(std::string_view id) override {
    if (!valid_id(id)) return fail(errc::invalid_argument);
    auto r = ops_->unlink(path_of(id));
    if (!r && r.error().value() != ENOENT) return make_unexpected(detail::from_system(r.error()));
    return {};
  }

  expected<std::vector<std::string>> list() override {
    std::vector<std::string> out;
    auto dirs = ops_->list_dir(root_);
    if (!dirs) return make_unexpected(detail::from_system(dirs.error()));
    for (const auto& d : *dirs) {
      if (d.size() != 2) continue;
      auto files = ops_->list_dir(root_ + "/" + d);
      if (!files) return make_unexpected(detail::from_system(files.error()));
      for (auto& f : *files)
        if (valid_id(f) && f.starts_with(d)) out.push_back(std::move(f));
    }
    return out;
  }

  // Temporary files left by a crash (bodies were once written under tmp/ and renamed).
  expected<std::size_t> clean_tmp() {
    auto files = ops_->list_dir(root_ + "/tmp");
    if (!files) return make_unexpected(detail::from_system(files.error()));
    for (const auto& f : *files)
      ops_->unlink(root_ + "/tmp/" + f);
    return files->size();
  }

private:
  std::string path_of(std::string_view id) const {
    return root_ + "/" + std::string(id.substr(0, 2)) + "/" + std::string(id);
  }

  expected<void> ensure_dir(const std::string& dir, const std::string& key) {
    {
      std::lock_guard lock(mutex_);
      if (made_.count(key)) return {};
    }
    if (auto r = ops_->mkdir(dir); !r) return make_unexpected(detail::from_system(r.error()));
    // All 256 subdirectories at the first miss (existing ones are kept), so that one root
    // fsync covers them all instead of one more fsync in each of the first few hundred
    // appends of a new store (the SMTP server's 250 waits for those).
    std::set<std::string> made{key};
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      std::string k{hex[i >> 4], hex[i & 15]};
      if (ops_->mkdir(root_ + "/" + k)) made.insert(std::move(k)); // else: made when needed
    }
    // A new subdirectory is itself a directory entry of the root.
    if (auto r = ops_->fsync_dir(root_); !r) return make_unexpected(detail::from_system(r.error()));
    std::lock_guard lock(mutex_);
    made_.merge(made);
    return {};
  }

  std::string root_;
  std::shared_ptr<file_ops> ops_;
  std::mutex mutex_;
  std::set<std::string> made_;
  sync_pool sync_{8}; // last member: its threads stop before the rest goes
};

} // namespace

expected<std::vector<std::string>> blob_store::put_many(std::span<const std::string_view> data) {
  std::vector<std::string> ids;
  for (auto d : data) {
    auto id = put(d);
    if (!id) {
      for (const auto& done : ids)
        (void)remove(done);
      return make_unexpected(id.error());
    }
    ids.push_back(std::move(*id));
  }
  return ids;
}

expected<std::unique_ptr<blob_store>> open_file_blob_store(std::string root,
                                                           std::shared_ptr<file_ops> ops) {
  auto s = std::make_unique<file_blob_store>(std::move(root), std::move(ops));
  if (auto r = s->init(); !r) return make_unexpected(r.error());
  return std::unique_ptr<blob_store>(std::move(s));
}

namespace detail {
// Used by the store's recovery scan (sqlite_store.cpp).
expected<std::size_t> clean_blob_tmp(blob_store& b) {
  if (auto* f = dynamic_cast<file_blob_store*>(&b)) return f->clean_tmp();
  return std::size_t{0};
}
} // namespace detail

} // namespace mailkit::store
