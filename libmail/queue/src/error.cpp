// SPDX-License-Identifier: Apache-2.0
#include <mailkit/queue/error.hpp>

#include <cerrno>

namespace mailkit::queue {
namespace {

class queue_category_impl final : public mailkit::error_category {
public:
  const char* name() const noexcept override { return "mailkit.queue"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::disk_full:
      return "no space left in the mail queue";
    case errc::io_error:
      return "mail queue I/O error";
    case errc::queue_full:
      return "the mail queue is full";
    case errc::message_too_large:
      return "message exceeds the maximum size";
    case errc::too_many_recipients:
      return "too many recipients";
    case errc::no_recipients:
      return "no recipients";
    case errc::corrupt:
      return "damaged queue record or file";
    case errc::closed:
      return "the mail queue is shutting down";
    case errc::not_found:
      return "no such queue id";
    case errc::locked:
      return "the queue directory is in use by another process";
    case errc::busy:
      return "the message is being delivered right now; try again in a moment";
    }
    return "unknown queue error";
  }
  bool permanent(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
    case errc::message_too_large:
    case errc::too_many_recipients:
    case errc::no_recipients:
    case errc::not_found:
      return true;
    default:
      return false;
    }
  }
};

} // namespace

const mailkit::error_category& queue_category() noexcept {
  static const queue_category_impl instance;
  return instance;
}

reply_status reply_for(const mailkit::error_code& ec) noexcept {
  if (ec.category() == queue_category()) {
    switch (static_cast<errc>(ec.value())) {
    case errc::disk_full:
    case errc::queue_full:
      return {452, "4.3.1"}; // RFC 3463 4.3.1: mail system full
    case errc::message_too_large:
      return {552, "5.3.4"}; // RFC 3463 5.3.4: message too big for system
    case errc::too_many_recipients:
      return {452, "4.5.3"}; // RFC 5321 §4.5.3.1.10
    case errc::closed:
      return {421, "4.3.2"}; // RFC 3463 4.3.2: system not accepting network messages
    default:
      return {451, "4.3.0"};
    }
  }
  return {451, "4.3.0"};
}

mailkit::error_code from_errno(int e) noexcept {
  if (e == ENOSPC || e == EDQUOT) return make_error_code(errc::disk_full);
  return make_error_code(errc::io_error);
}

} // namespace mailkit::queue
