// SPDX-License-Identifier: Apache-2.0
#include <mailkit/store/flags.hpp>

#include <algorithm>

namespace mailkit::store {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lx = (x >= 'A' && x <= 'Z') ? char(x + 32) : x;
           auto ly = (y >= 'A' && y <= 'Z') ? char(y + 32) : y;
           return lx == ly;
         });
}

// RFC 3501 §9: atom-specials are "(" ")" "{" SP CTL list-wildcards quoted-specials
// resp-specials; a flag keyword is an atom.
bool is_atom(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' ||
        c == '"' || c == '\\' || c == ']')
      return false;
  }
  return true;
}

} // namespace

bool flag_set::add(std::string_view name) {
  if (!name.empty() && name.front() == '\\') {
    static constexpr std::pair<std::string_view, std::uint8_t> table[] = {
        {"\\Seen", flag_seen},
        {"\\Answered", flag_answered},
        {"\\Flagged", flag_flagged},
        {"\\Deleted", flag_deleted},
        {"\\Draft", flag_draft}};
    for (const auto& [n, bit] : table) {
      if (iequals(n, name)) {
        system |= bit;
        return true;
      }
    }
    return true; // \Recent and unknown system flags are not stored
  }
  if (name.size() > max_keyword_length || !is_atom(name)) return false;
  if (std::find(keywords.begin(), keywords.end(), name) == keywords.end()) {
    if (keywords.size() >= max_keywords_per_message) return false;
    keywords.emplace_back(name);
    normalize();
  }
  return true;
}

std::vector<std::string> flag_set::names() const {
  std::vector<std::string> out;
  if (system & flag_seen) out.emplace_back("\\Seen");
  if (system & flag_answered) out.emplace_back("\\Answered");
  if (system & flag_flagged) out.emplace_back("\\Flagged");
  if (system & flag_deleted) out.emplace_back("\\Deleted");
  if (system & flag_draft) out.emplace_back("\\Draft");
  out.insert(out.end(), keywords.begin(), keywords.end());
  return out;
}

std::string flag_set::keywords_text() const {
  std::string out;
  for (const auto& k : keywords) {
    if (!out.empty()) out += ' ';
    out += k;
  }
  return out;
}

flag_set flag_set::from_text(std::uint8_t sys, std::string_view text) {
  flag_set f;
  f.system = sys;
  while (!text.empty()) {
    auto sp = text.find(' ');
    auto word = text.substr(0, sp);
    if (!word.empty()) f.keywords.emplace_back(word);
    if (sp == std::string_view::npos) break;
    text.remove_prefix(sp + 1);
  }
  f.normalize();
  return f;
}

void flag_set::normalize() {
  std::sort(keywords.begin(), keywords.end());
  keywords.erase(std::unique(keywords.begin(), keywords.end()), keywords.end());
}

} // namespace mailkit::store
