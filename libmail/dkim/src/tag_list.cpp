// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/tag_list.hpp>

namespace mailkit::dkim {

// RFC 6376 §3.2:
//   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//   tag-name  =  ALPHA *ALNUMPUNC
//   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
//   tval      =  1*VALCHAR ; VALCHAR = %x21-3A / %x3C-7E
std::string parse_tag_list(std::string_view text, std::vector<tag>& out) {
  out.clear();
  std::size_t pos = 0;
  const std::size_t n = text.size();
  while (pos <= n) {
    std::size_t end = text.find(';', pos);
    if (end == std::string_view::npos) end = n;
    const std::string_view spec = text.substr(pos, end - pos);
    if (trim(spec).empty()) {
      if (end == n) break;
      pos = end + 1;
      continue;
    }
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos)
      return "tag without \"=\": \"" + std::string(trim(spec).substr(0, 40)) + "\"";
    const std::string_view name = trim(spec.substr(0, eq));
    // RFC 6376 §3.2: tag-name = ALPHA *ALNUMPUNC
    if (name.empty() || !is_alpha(name[0]))
      return "bad tag name \"" + std::string(name.substr(0, 40)) + "\"";
    for (char c : name)
      if (!is_alpha(c) && !is_digit(c) && c != '_')
        return "bad tag name \"" + std::string(name.substr(0, 40)) + "\"";
    const std::string_view raw_value = spec.substr(eq + 1);
    const std::string_view value = trim(raw_value);
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      // VALCHAR plus FWS; 8-bit octets are let through (RFC 6376 does not allow them, but they
      // only ever appear in z= and n=, and rejecting them helps nobody).
      if (u < 0x20 && c != '\t' && c != '\r' && c != '\n')
        return "control character in value of tag \"" + std::string(name) + "\"";
      if (u == 0x7f) return "control character in value of tag \"" + std::string(name) + "\"";
    }
    for (const tag& t : out)
      // RFC 6376 §3.2: "if a tag name does occur more than once, the entire tag-list is invalid"
      if (t.name == name) return "duplicate tag \"" + std::string(name) + "\"";
    const std::size_t vb = pos + eq + 1;
    out.push_back({name, value, vb, end});
    if (end == n) break;
    pos = end + 1;
  }
  return {};
}

std::string strip_fws(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (!is_space(c)) out.push_back(c);
  return out;
}

} // namespace mailkit::dkim
