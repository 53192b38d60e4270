// SPDX-License-Identifier: Apache-2.0
// The embedded blob store: one file per message body, written durably (STYLE.md "Durable
// writes": temp file, fsync, rename, fsync the directory).
#include "internal.hpp"

#include <mailkit/store/store.hpp>

#include <atomic>
#include <sodium.h>
#include <thread>

#include <mutex>
#include <set>

namespace mailkit::store {
namespace {

bool valid_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

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
    if (sodium_init() < 0) return fail(errc::io_error);
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    std::string id(32, '0');
    sodium_bin2hex(id.data(), id.size() + 1, raw, sizeof raw);
    std::string tmp = root_ + "/tmp/" + id;
    std::string dir = root_ + "/" + id.substr(0, 2);
    std::string final_path = dir + "/" + id;

    auto fd = ops_->create(tmp);
    if (!fd) return make_unexpected(detail::from_system(fd.error()));
    auto abandon = [&](const error_code& ec) {
      ops_->close(*fd);
      ops_->unlink(tmp);
      return make_unexpected(detail::from_system(ec));
    };
    if (auto r = ops_->write(*fd, data); !r) return abandon(r.error());
    // The body must be on disk before its name appears in the directory.
    if (auto r = ops_->fsync(*fd); !r) return abandon(r.error());
    if (auto r = ops_->close(*fd); !r) {
      ops_->unlink(tmp);
      return make_unexpected(detail::from_system(r.error()));
    }
    if (auto r = ensure_dir(dir, id.substr(0, 2)); !r) {
      ops_->unlink(tmp);
      return make_unexpected(r.error());
    }
    if (auto r = ops_->rename(tmp, final_path); !r) {
      ops_->unlink(tmp);
      return make_unexpected(detail::from_system(r.error()));
    }
    // The rename is durable only once the directory is: fsync it before the row commits.
    if (auto r = ops_->fsync_dir(dir); !r) {
      ops_->unlink(final_path);
      return make_unexpected(detail::from_system(r.error()));
    }
    return id;
  }

  expected<std::vector<std::string>> put_many(std::span<const std::string_view> data) override {
    if (sodium_init() < 0) return fail(errc::io_error);
    std::vector<std::string> ids, tmps, finals;
    std::set<std::string> dirs;
    auto undo = [&](const error_code& ec) {
      for (const auto& t : tmps)
        ops_->unlink(t);
      for (const auto& f : finals)
        ops_->unlink(f);
      return make_unexpected(detail::from_system(ec));
    };
    // The whole batch goes into one subdirectory (its first byte drawn once), so that one
    // directory fsync makes every rename durable; batches still spread over all 256.
    unsigned char prefix = 0;
    randombytes_buf(&prefix, 1);
    // Files are written in chunks; each chunk's fsyncs run on a few threads at once, so the
    // file system commits them together (one journal commit for many files) instead of one
    // after the other. Every file is still durable before any rename (DESIGN.md §4).
    constexpr std::size_t chunk = 128;
    constexpr std::size_t sync_threads = 8;
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
        if (auto w = ops_->write(*fd, data[i]); !w) failed = w.error();
      }
      if (!failed) {
        std::vector<error_code> errs(fds.size());
        auto sync = [&](std::size_t k) {
          if (auto f = ops_->fsync(fds[k]); !f) errs[k] = f.error();
        };
        if (fds.size() <= 2) {
          for (std::size_t k = 0; k < fds.size(); ++k)
            sync(k);
        } else {
          std::atomic<std::size_t> next{0};
          std::vector<std::thread> pool;
          const std::size_t n = std::min(sync_threads, fds.size());
          for (std::size_t t = 0; t < n; ++t)
            pool.emplace_back([&] {
              for (std::size_t k; (k = next.fetch_add(1)) < fds.size();)
                sync(k);
            });
          for (auto& t : pool)
            t.join();
        }
        for (const auto& e : errs)
          if (e && !failed) failed = e;
      }
      for (int fd : fds)
        if (auto c = ops_->close(fd); !c && !failed) failed = c.error();
      if (failed) return undo(failed);
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::string key = ids[i].substr(0, 2);
      std::string dir = root_ + "/" + key;
      if (auto r = ensure_dir(dir, key); !r) return undo(r.error());
      std::string final_path = dir + "/" + ids[i];
      if (auto r = ops_->rename(tmps[i], final_path); !r) return undo(r.error());
      finals.push_back(final_path);
      tmps[i].clear();
      dirs.insert(dir);
    }
    std::erase_if(tmps, [](const std::string& t) { return t.empty(); });
    // One fsync per directory makes every rename into it durable.
    for (const auto& d : dirs)
      if (auto r = ops_->fsync_dir(d); !r) return undo(r.error());
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

  // Temporary files left by a crash between create and rename.
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
