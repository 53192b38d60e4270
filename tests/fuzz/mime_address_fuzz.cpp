// SPDX-License-Identifier: Apache-2.0
// Fuzz target for mailkit::mime::parse_address_list (RFC 5322 §3.4 address lists, lenient).
// Display names are decoded to UTF-8 and must be well-formed; flatten() must list exactly the
// mailboxes of the list or of its groups; and a mailbox that format_mailbox writes must parse back
// to itself, since the builder relies on that.
#include "fuzz_support.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/address.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace mime = mailkit::mime;

// RFC 5322 §3.2.3 atext, the characters of a dot-atom.
bool is_atext(char c) {
  return mailkit::is_alpha(c) || mailkit::is_digit(c) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// local@domain made of dot-atoms: an address format_mailbox must carry through unchanged.
bool is_simple_addr(std::string_view a) {
  const std::size_t at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  auto dot_atom = [](std::string_view s) {
    if (s.front() == '.' || s.back() == '.') return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '.') {
        if (s[i + 1] == '.') return false;
      } else if (!is_atext(s[i])) {
        return false;
      }
    }
    return true;
  };
  return dot_atom(a.substr(0, at)) && dot_atom(a.substr(at + 1));
}

// A display name a user could type: well-formed UTF-8, no control characters, no leading or
// trailing or doubled whitespace (a parser collapses those, legitimately), not empty.
bool is_plain_name(std::string_view n) {
  if (n.empty() || !mailkit::is_valid_utf8(n)) return false;
  if (n.front() == ' ' || n.back() == ' ') return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const auto c = static_cast<unsigned char>(n[i]);
    if (c < 0x20 || c == 0x7F) return false;
    if (c == ' ' && i + 1 < n.size() && n[i + 1] == ' ') return false;
  }
  return true;
}

void check_list(const mime::address_list& list) {
  std::size_t count = 0;
  if (list.has_groups) {
    MAILKIT_FUZZ_CHECK(list.mailboxes.empty());
    for (const mime::group& g : list.groups) {
      if (g.name) MAILKIT_FUZZ_CHECK(mailkit::is_valid_utf8(*g.name));
      count += g.members.size();
    }
  } else {
    MAILKIT_FUZZ_CHECK(list.groups.empty());
    count = list.mailboxes.size();
  }
  const auto flat = list.flatten();
  MAILKIT_FUZZ_CHECK(flat.size() == count);
  for (const mime::mailbox& m : flat) {
    if (m.name) MAILKIT_FUZZ_CHECK(mailkit::is_valid_utf8(*m.name));
    (void)mime::format_mailbox(m);
  }
}

// Round trip through format_mailbox for a mailbox built from the input: the first line is the
// name, the rest the address.
void check_format(std::string_view in) {
  const std::size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return;
  const std::string_view name = in.substr(0, nl);
  const std::string_view addr = in.substr(nl + 1);
  if (!is_simple_addr(addr)) return;
  mime::mailbox m;
  m.addr = std::string(addr);
  if (is_plain_name(name)) m.name = std::string(name);
  const std::string formatted = mime::format_mailbox(m);
  MAILKIT_FUZZ_CHECK(formatted.find_first_of("\r\n") == std::string::npos);
  const auto back = mime::parse_address_list(formatted);
  MAILKIT_FUZZ_CHECK(!back.has_groups && back.mailboxes.size() == 1);
  MAILKIT_FUZZ_CHECK(back.mailboxes.front() == m);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  check_list(mime::parse_address_list(in));
  check_format(in);
  return 0;
}
