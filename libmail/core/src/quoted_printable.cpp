// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/core/quoted_printable.hpp>

#include <cstring>

namespace mailkit::qp {
namespace {

// A run of whitespace longer than this at a chunk boundary is released as data: it cannot be
// decided without unbounded buffering, and a real line never has that much trailing space.
constexpr std::size_t max_carry = 4096;

} // namespace

void decoder::process(std::string_view in, bool final, std::string& out) {
  // Whitespace at or before `floor` in the output came from an escape (=20) or an earlier line
  // and must survive the trailing-whitespace rule.
  std::size_t floor = out.size();
  std::size_t i = 0;
  const std::size_t n = in.size();
  while (i < n) {
    // Copy the plain run up to the next byte that needs a decision.
    std::size_t j = i;
    while (j < n && in[j] != '=' && in[j] != '\n' && in[j] != '\r')
      ++j;
    out.append(in.data() + i, j - i);
    i = j;
    if (i >= n) break;
    const char c = in[i];
    if (c == '\n' || c == '\r') {
      // RFC 2045 §6.7 (3): trailing whitespace on an encoded line is transport padding.
      while (out.size() > floor && is_wsp(out.back()))
        out.pop_back();
      out.push_back(c);
      ++i;
      floor = out.size();
      continue;
    }
    // c == '='. Soft line break: '=', optional whitespace a transport added, a line ending.
    std::size_t k = i + 1;
    while (k < n && is_wsp(in[k]))
      ++k;
    if (k >= n && final) { // "=" (and whitespace) at the very end: a soft break, nothing follows
      i = n;
      break;
    }
    if (k < n && (in[k] == '\n' || in[k] == '\r')) {
      if (in[k] == '\r' && k + 1 < n && in[k + 1] == '\n') ++k;
      i = k + 1;
      // Whitespace before the '=' was data, not trailing whitespace of a line.
      floor = out.size();
      continue;
    }
    if (i + 2 < n) {
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        if ((in[i + 1] >= 'a' && in[i + 1] <= 'f') || (in[i + 2] >= 'a' && in[i + 2] <= 'f'))
          status_.lowercase_hex = true;
        out.push_back(static_cast<char>(hi * 16 + lo));
        floor = out.size();
        i += 3;
        continue;
      }
    }
    // RFC 2045 §6.7 (1): an '=' not followed by two hex digits is kept literally.
    status_.invalid_escapes = true;
    out.push_back('=');
    floor = out.size();
    ++i;
  }
}

void decoder::feed(std::string_view in, std::string& out) {
  std::string joined;
  std::string_view data = in;
  if (!carry_.empty()) {
    joined = std::move(carry_);
    carry_.clear();
    joined.append(in);
    data = joined;
  }
  // Keep back what the next chunk may change: a trailing CR (LF may follow), a run of trailing
  // whitespace (a line ending may follow), and an escape cut short.
  std::size_t cut = data.size();
  while (cut > 0 && (is_wsp(data[cut - 1]) || data[cut - 1] == '\r') &&
         data.size() - cut < max_carry)
    --cut;
  for (std::size_t back = 1; back <= 2 && back <= cut; ++back) {
    if (data[cut - back] == '=') {
      cut -= back;
      break;
    }
  }
  // A held-back '=' followed by whitespace may still become a soft break; hex escapes need two
  // more characters. Everything before `cut` is decided.
  std::string tail(data.substr(cut));
  process(data.substr(0, cut), false, out);
  carry_ = std::move(tail);
}

void decoder::finish(std::string& out) {
  std::string rest = std::move(carry_);
  carry_.clear();
  // At the end of the body trailing whitespace is on the last line, so it goes (rule 3).
  const std::size_t before = out.size();
  process(rest, true, out);
  while (out.size() > before && is_wsp(out.back()))
    out.pop_back();
}

std::string decode(std::string_view text, decode_status* status) {
  decoder d;
  std::string out;
  out.reserve(text.size());
  d.feed(text, out);
  d.finish(out);
  if (status) *status = d.status();
  return out;
}

std::string encode(std::string_view data, encode_mode mode, std::string_view eol) {
  static constexpr char hex[] = "0123456789ABCDEF";
  constexpr std::size_t max_line = 76; // RFC 2045 §6.7 (5), including a soft-break '='
  std::string out;
  out.reserve(data.size() + data.size() / 8 + 16);
  std::size_t col = 0;
  auto emit = [&](std::string_view token) {
    if (col + token.size() > max_line - 1) { // leave room for the '=' of a soft break
      out.append("=");
      out.append(eol);
      col = 0;
    }
    out.append(token);
    col += token.size();
  };
  auto escaped = [&](unsigned char c) {
    const char t[3] = {'=', hex[c >> 4], hex[c & 15]};
    emit(std::string_view(t, 3));
  };
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (mode == encode_mode::text &&
        (c == '\n' || (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n'))) {
      if (c == '\r') ++i;
      out.append(eol);
      col = 0;
      continue;
    }
    const bool at_eol = i + 1 == data.size() || data[i + 1] == '\n' || data[i + 1] == '\r';
    const bool line_start = col == 0;
    if ((c == ' ' || c == '\t') && at_eol) {
      escaped(c); // RFC 2045 §6.7 (3): trailing whitespace must be encoded
    } else if (c == '=' || c > 126 || (c < 32 && c != '\t')) {
      escaped(c);
    } else if (line_start && c == '.') {
      escaped(c); // a lone "." line would end an SMTP DATA section
    } else if (line_start && c == 'F' && data.substr(i, 5) == "From ") {
      escaped(c); // mbox would quote it with '>'
    } else {
      const char t = static_cast<char>(c);
      emit(std::string_view(&t, 1));
    }
  }
  return out;
}

} // namespace mailkit::qp
