// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/error.hpp>

#include <string>

namespace mailkit::imap {
namespace {

class imap_category_impl final : public mailkit::error_category {
public:
  const char* name() const noexcept override { return "mailkit.imap"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::syntax:
      return "syntax error";
    case errc::line_too_long:
      return "command line too long";
    case errc::literal_too_large:
      return "literal too large";
    case errc::too_many_tokens:
      return "too many arguments";
    case errc::too_deep:
      return "lists nested too deeply";
    case errc::command_too_large:
      return "command too large";
    case errc::unknown_command:
      return "unknown command";
    case errc::bad_sequence:
      return "invalid sequence set";
    case errc::bad_date:
      return "invalid date";
    case errc::bad_charset:
      return "unsupported charset";
    }
    return "unknown mailkit.imap error";
  }
  // Every IMAP core error is about the client's command: repeating it cannot succeed.
  bool permanent(int) const noexcept override { return true; }
};

} // namespace

const mailkit::error_category& imap_category() noexcept {
  static const imap_category_impl category;
  return category;
}

} // namespace mailkit::imap
