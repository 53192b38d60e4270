// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/error.hpp>

#include <cerrno>

namespace mailkit {
namespace {

class core_category_impl final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.core"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::invalid_argument:
      return "invalid argument";
    case errc::malformed_input:
      return "malformed input";
    case errc::limit_exceeded:
      return "limit exceeded";
    case errc::truncated_input:
      return "input ended early";
    case errc::unsupported:
      return "not supported";
    case errc::io_error:
      return "I/O error";
    case errc::timed_out:
      return "timed out";
    case errc::resource_exhausted:
      return "resource exhausted";
    }
    return "unknown mailkit.core error";
  }
  bool permanent(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
    case errc::io_error:
    case errc::timed_out:
    case errc::resource_exhausted:
      return false;
    default:
      return true;
    }
  }
};

} // namespace

const error_category& core_category() noexcept {
  static const core_category_impl instance;
  return instance;
}

bool is_permanent(const error_code& ec) noexcept {
  if (!ec) return false;
  if (const auto* own = dynamic_cast<const error_category*>(&ec.category()))
    return own->permanent(ec.value());
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category()) {
    switch (ec.value()) {
    case EINVAL:
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
    case EACCES:
    case EPERM:
    case ENAMETOOLONG:
    case EROFS:
    case EBADMSG:
    case EPROTO:
    case EMSGSIZE:
      return true;
    default:
      return false;
    }
  }
  return false;
}

} // namespace mailkit
