// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/message.hpp>

namespace mailkit::dkim {

split_message split_header(std::string_view m) {
  split_message r;
  std::size_t pos = 0;
  const std::size_t n = m.size();
  std::size_t field_start = std::string_view::npos;
  auto close_field = [&](std::size_t end) {
    if (field_start == std::string_view::npos) return;
    if (r.fields.size() >= max_header_fields) {
      r.truncated = true;
      field_start = std::string_view::npos;
      return;
    }
    header_field f;
    f.raw = m.substr(field_start, end - field_start);
    std::string_view body = f.raw;
    if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    const std::size_t colon = body.find(':');
    if (colon != std::string_view::npos) {
      // RFC 5322 §4.5 obs-optional allows WSP before the colon.
      f.name = trim_right(body.substr(0, colon));
      f.value = body.substr(colon + 1);
    }
    r.fields.push_back(f);
    field_start = std::string_view::npos;
  };
  while (pos < n) {
    const line_view line = line_at(m, pos);
    if (line.text.empty() && line.terminated) {
      // RFC 5322 §2.1: the header section ends at the first empty line.
      close_field(pos);
      r.body_offset = line.next;
      return r;
    }
    if (!line.text.empty() && is_wsp(line.text[0]) && field_start != std::string_view::npos) {
      // RFC 5322 §2.2.3: a continuation line of the current field.
    } else {
      close_field(pos);
      field_start = pos;
    }
    pos = line.next;
  }
  close_field(n);
  r.body_offset = n;
  return r;
}

std::string to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out.push_back('\r');
    out.push_back(s[i]);
  }
  return out;
}

} // namespace mailkit::dkim
