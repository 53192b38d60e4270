// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/encode.hpp>

namespace mailkit::imap {

bool is_atom_text(std::string_view s) noexcept {
  if (s.empty() || s.size() > max_quoted) return false;
  if (s.size() == 3 && (s[0] == 'N' || s[0] == 'n') && (s[1] == 'I' || s[1] == 'i') &&
      (s[2] == 'L' || s[2] == 'l'))
    return false;
  for (unsigned char c : s) {
    // RFC 9051 §9: ATOM-CHAR excludes atom-specials: "(" ")" "{" SP CTL list-wildcards
    // quoted-specials resp-specials; ASTRING-CHAR adds "]" back.
    if (c <= 0x20 || c >= 0x7f) return false;
    switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
      return false;
    default:
      break;
    }
  }
  return true;
}

void append_literal(std::string& out, std::string_view s) {
  out.push_back('{');
  out += std::to_string(s.size());
  out += "}\r\n";
  out.append(s);
}

void append_string(std::string& out, std::string_view s, bool utf8) {
  bool quotable = s.size() <= max_quoted;
  for (std::size_t i = 0; quotable && i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r' || c == '\n' || c == 0 || (c >= 0x80 && !utf8)) quotable = false;
  }
  if (!quotable) {
    append_literal(out, s);
    return;
  }
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

void append_astring(std::string& out, std::string_view s, bool utf8) {
  if (is_atom_text(s))
    out.append(s);
  else
    append_string(out, s, utf8);
}

void append_nstring(std::string& out, const std::string* s, bool utf8) {
  if (s == nullptr)
    out += "NIL";
  else
    append_string(out, *s, utf8);
}

} // namespace mailkit::imap
