// SPDX-License-Identifier: Apache-2.0
#include <mailkit/store/error.hpp>

namespace mailkit::store {
namespace {

class store_category_impl final : public mailkit::error_category {
public:
  const char* name() const noexcept override { return "mailkit.store"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::no_such_domain:
      return "no such domain";
    case errc::no_such_account:
      return "no such account";
    case errc::no_such_mailbox:
      return "no such mailbox";
    case errc::no_such_message:
      return "no such message";
    case errc::already_exists:
      return "already exists";
    case errc::invalid_name:
      return "invalid mailbox name";
    case errc::invalid_address:
      return "invalid address or domain";
    case errc::invalid_argument:
      return "invalid argument";
    case errc::over_quota:
      return "mailbox is over quota (try again later)";
    case errc::exceeds_quota:
      return "message exceeds the mailbox quota";
    case errc::disk_full:
      return "no space left in the mail store";
    case errc::io_error:
      return "mail store I/O error";
    case errc::permission_denied:
      return "permission denied in the mail store";
    case errc::busy:
      return "mail store is busy";
    case errc::corrupt:
      return "mail store record is damaged";
    case errc::schema_too_new:
      return "mail store was written by a newer version";
    case errc::unsupported_scheme:
      return "password hash scheme is not supported";
    case errc::cannot_delete:
      return "cannot delete";
    case errc::limit_exceeded:
      return "a mail store limit was exceeded";
    case errc::store_locked:
      return "the mail store is in use by another process";
    }
    return "unknown mailkit.store error";
  }
  bool permanent(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
    case errc::over_quota:
    case errc::disk_full:
    case errc::io_error:
    case errc::permission_denied:
    case errc::busy:
    case errc::corrupt:
    case errc::store_locked:
      return false;
    default:
      return true;
    }
  }
};

} // namespace

const mailkit::error_category& store_category() noexcept {
  static const store_category_impl instance;
  return instance;
}

std::string_view enhanced_status(const mailkit::error_code& ec) noexcept {
  if (ec.category() == store_category()) {
    switch (static_cast<errc>(ec.value())) {
    case errc::over_quota:
      return "4.2.2"; // RFC 3463 §3.3: mailbox full
    case errc::exceeds_quota:
      return "5.2.2";
    case errc::no_such_account:
    case errc::no_such_domain:
      return "5.1.1"; // RFC 3463 §3.2: bad destination mailbox address
    case errc::disk_full:
      return "4.3.1"; // RFC 3463 §3.4: mail system full
    default:
      break;
    }
  }
  return mailkit::is_permanent(ec) ? "5.3.0" : "4.3.0";
}

} // namespace mailkit::store
