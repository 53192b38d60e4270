// SPDX-License-Identifier: Apache-2.0
// SMTP reply values and their wire form (reply.hpp).
#include <mailkit/smtp/reply.hpp>

#include <charconv>

namespace mailkit::smtp {

namespace {

// 1-3 digits starting at `pos`; advances `pos`. RFC 3463 §2: subject and detail are 1*3digit.
std::optional<int> digits(std::string_view s, std::size_t& pos, std::size_t max_len) {
  const std::size_t start = pos;
  while (pos < s.size() && pos - start < max_len && s[pos] >= '0' && s[pos] <= '9')
    ++pos;
  if (pos == start) return std::nullopt;
  int v = 0;
  std::from_chars(s.data() + start, s.data() + pos, v);
  return v;
}

} // namespace

std::optional<enhanced_status> enhanced_status::parse(std::string_view text) {
  std::size_t pos = 0;
  auto k = digits(text, pos, 1);
  // RFC 3463 §2: class is "2" / "4" / "5".
  if (!k || (*k != 2 && *k != 4 && *k != 5)) return std::nullopt;
  if (pos >= text.size() || text[pos] != '.') return std::nullopt;
  ++pos;
  auto subject = digits(text, pos, 3);
  if (!subject || pos >= text.size() || text[pos] != '.') return std::nullopt;
  ++pos;
  auto detail = digits(text, pos, 3);
  if (!detail) return std::nullopt;
  if (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') return std::nullopt;
  return enhanced_status{*k, *subject, *detail};
}

std::string enhanced_status::to_string() const {
  return std::to_string(klass) + '.' + std::to_string(subject) + '.' + std::to_string(detail);
}

std::string reply::text() const {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    out += lines[i];
  }
  return out;
}

reply make_reply(int code, std::string_view status, std::string_view text) {
  reply r;
  r.code = code;
  if (!status.empty()) r.enhanced = enhanced_status::parse(status);
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = text.find('\n', start);
    std::string_view line =
        text.substr(start, nl == std::string_view::npos ? text.npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    r.lines.emplace_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return r;
}

std::string format_reply(const reply& r) {
  const std::string code = std::to_string(r.code);
  const std::string status = r.enhanced ? r.enhanced->to_string() : std::string();
  // Split every line again at CR and LF: a reply text taken from elsewhere (an address, a
  // policy message) must not be able to end the reply early.
  std::vector<std::string_view> parts;
  for (const auto& line : r.lines) {
    std::string_view rest = line;
    while (true) {
      const std::size_t cut = rest.find_first_of("\r\n");
      parts.push_back(rest.substr(0, cut));
      if (cut == std::string_view::npos) break;
      const char sep = rest[cut];
      rest.remove_prefix(cut + 1);
      if (sep == '\r' && !rest.empty() && rest.front() == '\n') rest.remove_prefix(1);
    }
  }
  if (parts.empty()) parts.emplace_back();
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += code;
    // RFC 5321 §4.2.1: every line but the last has "-" after the code, the last a space.
    out += i + 1 < parts.size() ? '-' : ' ';
    if (!status.empty()) {
      out += status; // RFC 2034 §3: the enhanced code on every line of the reply
      if (!parts[i].empty()) out += ' ';
    }
    out += parts[i];
    out += "\r\n";
  }
  if (parts.size() == 1 && parts[0].empty() && status.empty()) {
    out = code + "\r\n"; // RFC 5321 §4.2: Reply-line = Reply-code [ SP textstring ] CRLF
  }
  return out;
}

} // namespace mailkit::smtp
