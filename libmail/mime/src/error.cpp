// SPDX-License-Identifier: Apache-2.0
#include <mailkit/mime/error.hpp>

namespace mailkit::mime {
namespace {

class mime_category_impl final : public mailkit::error_category {
public:
  const char* name() const noexcept override { return "mailkit.mime"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::message_too_large:
      return "message exceeds the configured size limit";
    case errc::limit_exceeded:
      return "message exceeds a configured structural limit";
    case errc::unknown_charset:
      return "unknown charset";
    case errc::conversion_failed:
      return "text cannot be represented in the charset";
    case errc::invalid_argument:
      return "value cannot be written into a message";
    }
    return "unknown mailkit.mime error";
  }
  bool permanent(int) const noexcept override { return true; }
};

} // namespace

const mailkit::error_category& mime_category() noexcept {
  static const mime_category_impl instance;
  return instance;
}

} // namespace mailkit::mime
