// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>

#include <algorithm>
#include <cstring>

namespace mailkit {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::size_t ifind(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.empty()) return 0;
  if (needle.size() > haystack.size()) return std::string_view::npos;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (iequals(haystack.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = ascii_lower(c);
  return out;
}

std::string_view trim_left(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i]))
    ++i;
  return s.substr(i);
}

std::string_view trim_right(std::string_view s) noexcept {
  std::size_t n = s.size();
  while (n > 0 && is_space(s[n - 1]))
    --n;
  return s.substr(0, n);
}

std::string_view trim(std::string_view s) noexcept {
  return trim_right(trim_left(s));
}

bool has_8bit(std::string_view s) noexcept {
  // Eight bytes at a time: any high bit set in the word means an 8-bit byte.
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ULL) return true;
  }
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) & 0x80) return true;
  return false;
}

namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when ill-formed (RFC 3629 §4 table).
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t* cp) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  const std::size_t left = s.size() - i;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    if (left < 2 || (b(1) & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3) return 0;
    const unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
    const unsigned char hi = (c == 0xED) ? 0x9F : 0xBF; // no surrogates
    if (b(1) < lo || b(1) > hi || (b(2) & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4) return 0;
    const unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
    const unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF; // at most U+10FFFF
    if (b(1) < lo || b(1) > hi || (b(2) & 0xC0) != 0x80 || (b(3) & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
    return 4;
  }
  return 0;
}

} // namespace

bool is_dot_atom(std::string_view v) noexcept {
  auto atext = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
  };
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '.') {
      if (v[i + 1] == '.') return false; // i + 1 < size: the last byte is not '.'
    } else if (!atext(v[i])) {
      return false;
    }
  }
  return true;
}

bool is_mime_token(std::string_view v) noexcept {
  if (v.empty()) return false;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f ||
        std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos)
      return false;
  }
  return true;
}

std::string quoted_string(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 2);
  out.push_back('"');
  for (char c : v) {
    if (c == '\r' || c == '\n') continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string comment_text(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\r' || c == '\n') continue;
    if (c == '(' || c == ')' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    // ASCII fast path, eight bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= s.size()) break;
    char32_t cp;
    const std::size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    const std::size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) {
      append_utf8(out, 0xFFFD);
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

line_view line_at(std::string_view buf, std::size_t pos) noexcept {
  line_view l;
  if (pos >= buf.size()) {
    l.next = buf.size();
    return l;
  }
  const void* nl = std::memchr(buf.data() + pos, '\n', buf.size() - pos);
  if (nl == nullptr) {
    l.text = buf.substr(pos);
    l.next = buf.size();
    return l;
  }
  const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data());
  std::size_t text_end = end;
  if (text_end > pos && buf[text_end - 1] == '\r') --text_end;
  l.text = buf.substr(pos, text_end - pos);
  l.next = end + 1;
  l.terminated = true;
  return l;
}

bool iless::operator()(std::string_view a, std::string_view b) const noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const char x = ascii_lower(a[i]);
    const char y = ascii_lower(b[i]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
  }
  return a.size() < b.size();
}

namespace {

/// Pieces below glibc's `rep movsb` threshold (2112 bytes with AVX2, the tunable
/// glibc.cpu.x86_rep_movsb_threshold), so that each is copied with vector loads and stores.
constexpr std::size_t copy_piece = 2048;

/// glibc's memcpy, called: GCC expands a copy it knows to be at most 2 KiB inline as
/// `rep movsq`, which has the same slow case.
void* (*volatile libc_memcpy)(void*, const void*, std::size_t) = std::memcpy;

/// Is `dst - src` (mod 4096) in the range where `rep movsb` is slow on AMD Zen?
bool slow_alias(const void* dst, const void* src) noexcept {
  const auto d = (reinterpret_cast<std::uintptr_t>(dst) - reinterpret_cast<std::uintptr_t>(src)) &
                 std::uintptr_t{4095};
  return d != 0 && d < 64;
}

} // namespace

void copy_bytes(void* dst, const void* src, std::size_t n) noexcept {
  if (n <= copy_piece || !slow_alias(dst, src)) {
    std::memcpy(dst, src, n);
    return;
  }
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  auto* copy = libc_memcpy;
  for (std::size_t done = 0; done < n; done += copy_piece)
    copy(d + done, s + done, std::min(copy_piece, n - done));
}

void append_bytes(std::string& out, std::string_view data) {
  const std::size_t at = out.size();
  if (data.size() > copy_piece) {
    // reserve() grows geometrically in libstdc++ (as append would), so repeated calls stay
    // amortized linear; the destination address is known only after it.
    out.reserve(at + data.size());
    if (slow_alias(out.data() + at, data.data())) {
      out.resize(at + data.size()); // within the capacity: the bytes stay where they are
      copy_bytes(out.data() + at, data.data(), data.size());
      return;
    }
  }
  out.append(data);
}

} // namespace mailkit
