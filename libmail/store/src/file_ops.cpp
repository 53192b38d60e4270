// SPDX-License-Identifier: Apache-2.0
#include <mailkit/store/file_ops.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace mailkit::store {
namespace {

tl::unexpected<error_code> sys_error(int e) {
  return tl::unexpected<error_code>(error_code(e, boost::system::system_category()));
}

class posix_ops final : public file_ops {
public:
  expected<int> create(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return sys_error(errno);
    return fd;
  }
  expected<void> write(int fd, std::string_view data) override {
    while (!data.empty()) {
      auto n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return sys_error(errno);
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }
  expected<void> fsync(int fd) override {
    if (::fsync(fd) != 0) return sys_error(errno);
    return {};
  }
  expected<void> close(int fd) override {
    if (::close(fd) != 0 && errno != EINTR) return sys_error(errno);
    return {};
  }
  expected<void> rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return sys_error(errno);
    return {};
  }
  expected<void> fsync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_error(errno);
    int rc = ::fsync(fd);
    int e = errno;
    ::close(fd);
    if (rc != 0) return sys_error(e);
    return {};
  }
  expected<void> unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return sys_error(errno);
    return {};
  }
  expected<void> mkdir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return sys_error(errno);
    return {};
  }
  expected<std::string> read_file(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error(errno);
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
    char buf[65536];
    while (true) {
      auto n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return sys_error(e);
      }
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }
  expected<std::vector<std::string>> list_dir(const std::string& path) override {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) {
      if (errno == ENOENT) return out;
      return sys_error(errno);
    }
    while (auto* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") out.emplace_back(n);
    }
    ::closedir(d);
    return out;
  }
};

} // namespace

std::shared_ptr<file_ops> posix_file_ops() {
  static const auto instance = std::make_shared<posix_ops>();
  return instance;
}

bool faulty_file_ops::trip() {
  return fail_at_ != 0 && ++count_ == fail_at_;
}

expected<int> faulty_file_ops::create(const std::string& path) {
  if (trip()) return sys_error(errno_);
  return inner_->create(path);
}
expected<void> faulty_file_ops::write(int fd, std::string_view data) {
  if (trip()) return sys_error(errno_);
  return inner_->write(fd, data);
}
expected<void> faulty_file_ops::fsync(int fd) {
  if (trip()) return sys_error(errno_);
  return inner_->fsync(fd);
}
expected<void> faulty_file_ops::rename(const std::string& from, const std::string& to) {
  if (trip()) return sys_error(errno_);
  return inner_->rename(from, to);
}
expected<void> faulty_file_ops::fsync_dir(const std::string& path) {
  if (trip()) return sys_error(errno_);
  return inner_->fsync_dir(path);
}

} // namespace mailkit::store
