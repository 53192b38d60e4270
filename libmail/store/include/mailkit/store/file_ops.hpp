// SPDX-License-Identifier: Apache-2.0
/// @file file_ops.hpp
/// The file operations the blob store performs, behind an interface so that tests can make any
/// single write, fsync, rename or directory fsync fail (ENOSPC, EIO, EACCES) and check that the
/// store stays consistent. The POSIX implementation is the default.
/// **Security**: touches disk; paths are built by the store, never from peer input.
#pragma once

#include <atomic>

#include <mailkit/core/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::store {

/// Every call returns errno-valued system errors (boost::system::system_category).
class file_ops {
public:
  virtual ~file_ops() = default;
  /// Create (O_CREAT|O_EXCL) and open a file for writing; returns a descriptor.
  virtual expected<int> create(const std::string& path) = 0;
  /// Write all of `data` (loops over short writes).
  virtual expected<void> write(int fd, std::string_view data) = 0;
  virtual expected<void> fsync(int fd) = 0;
  virtual expected<void> close(int fd) = 0;
  virtual expected<void> rename(const std::string& from, const std::string& to) = 0;
  /// Open the directory and fsync it, so a rename or create in it is durable.
  virtual expected<void> fsync_dir(const std::string& path) = 0;
  virtual expected<void> unlink(const std::string& path) = 0;
  /// mkdir; an existing directory is success.
  virtual expected<void> mkdir(const std::string& path) = 0;
  virtual expected<std::string> read_file(const std::string& path) = 0;
  /// Names in a directory (no "." or ".."); a missing directory is an empty list.
  virtual expected<std::vector<std::string>> list_dir(const std::string& path) = 0;
};

/// The real thing.
[[nodiscard]] std::shared_ptr<file_ops> posix_file_ops();

/// A wrapper for tests: counts the failable operations (create, write, fsync, rename,
/// fsync_dir) and fails the one numbered `fail_at` (1-based; 0 = never) with `error`.
class faulty_file_ops final : public file_ops {
public:
  explicit faulty_file_ops(std::shared_ptr<file_ops> inner) : inner_(std::move(inner)) {}
  void fail_at(std::uint64_t n, int errno_value) {
    fail_at_ = n;
    errno_ = errno_value;
    count_ = 0;
  }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  expected<int> create(const std::string& path) override;
  expected<void> write(int fd, std::string_view data) override;
  expected<void> fsync(int fd) override;
  expected<void> close(int fd) override { return inner_->close(fd); }
  expected<void> rename(const std::string& from, const std::string& to) override;
  expected<void> fsync_dir(const std::string& path) override;
  expected<void> unlink(const std::string& path) override { return inner_->unlink(path); }
  expected<void> mkdir(const std::string& path) override { return inner_->mkdir(path); }
  expected<std::string> read_file(const std::string& path) override {
    return inner_->read_file(path);
  }
  expected<std::vector<std::string>> list_dir(const std::string& path) override {
    return inner_->list_dir(path);
  }

private:
  bool trip();
  std::shared_ptr<file_ops> inner_;
  std::uint64_t fail_at_ = 0;
  std::atomic<std::uint64_t> count_{0}; // put_many fsyncs on several threads
  int errno_ = 0;
};

} // namespace mailkit::store
