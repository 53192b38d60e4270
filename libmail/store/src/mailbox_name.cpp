// SPDX-License-Identifier: Apache-2.0
#include <mailkit/store/error.hpp>
#include <mailkit/store/mailbox_name.hpp>

#include <cstdint>

namespace mailkit::store {
namespace {

// Length of a valid UTF-8 sequence at s[i], or 0 (overlongs, surrogates, > U+10FFFF refused).
std::size_t utf8_len(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

bool is_inbox(std::string_view s) {
  if (s.size() != 5) return false;
  for (std::size_t i = 0; i < 5; ++i) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = char(c - 32);
    if (c != "INBOX"[i]) return false;
  }
  return true;
}

void put_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}

constexpr std::string_view b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  auto p = b64.find(c);
  return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

} // namespace

expected<std::string> normalize_mailbox_name(std::string_view name) {
  if (name.empty() || name.size() > max_mailbox_name) return fail(errc::invalid_name);
  std::string out;
  out.reserve(name.size());
  std::size_t depth = 0;
  std::size_t pos = 0;
  while (true) {
    auto slash = name.find('/', pos);
    auto comp = name.substr(pos, slash == std::string_view::npos ? name.npos : slash - pos);
    // Empty components ("a//b", "/a", "a/") and "." / ".." would alias or escape.
    if (comp.empty() || comp == "." || comp == ".." || comp.size() > max_name_component)
      return fail(errc::invalid_name);
    if (++depth > max_name_depth) return fail(errc::invalid_name);
    for (std::size_t i = 0; i < comp.size();) {
      auto c = static_cast<unsigned char>(comp[i]);
      // RFC 3501 §6.3.8: "*" and "%" are LIST wildcards and cannot be part of a name we list.
      if (c < 0x20 || c == 0x7f || c == '*' || c == '%') return fail(errc::invalid_name);
      auto n = utf8_len(comp, i);
      if (n == 0) return fail(errc::invalid_name);
      i += n;
    }
    // RFC 3501 §5.1: INBOX is case-insensitive.
    if (depth == 1 && is_inbox(comp))
      out += "INBOX";
    else
      out.append(comp);
    if (slash == std::string_view::npos) break;
    out += '/';
    pos = slash + 1;
  }
  return out;
}

// RFC 3501 §5.1.3: "&" starts a modified BASE64 run of UTF-16, ended by "-"; "&-" is "&".
expected<std::string> decode_mutf7(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    char c = in[i];
    if (static_cast<unsigned char>(c) >= 0x80) return fail(errc::invalid_name);
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    auto end = in.find('-', i + 1);
    if (end == std::string_view::npos) return fail(errc::invalid_name);
    if (end == i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    std::uint32_t bits = 0;
    int nbits = 0;
    std::uint32_t high = 0;
    for (std::size_t k = i + 1; k < end; ++k) {
      int v = b64_value(in[k]);
      if (v < 0) return fail(errc::invalid_name);
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        std::uint32_t unit = (bits >> nbits) & 0xffff;
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (high) return fail(errc::invalid_name);
          high = unit;
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          if (!high) return fail(errc::invalid_name);
          put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
          high = 0;
        } else {
          if (high) return fail(errc::invalid_name);
          put_utf8(out, unit);
        }
      }
    }
    // Leftover bits must be zero padding shorter than one 16-bit unit.
    if (high || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) return fail(errc::invalid_name);
    i = end + 1;
  }
  return out;
}

std::string encode_mutf7(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += c == '&' ? std::string("&-") : std::string(1, char(c));
      ++i;
      continue;
    }
    out += '&';
    std::uint32_t bits = 0;
    int nbits = 0;
    auto emit_unit = [&](std::uint32_t unit) {
      bits = (bits << 16) | unit;
      nbits += 16;
      while (nbits >= 6) {
        nbits -= 6;
        out += b64[(bits >> nbits) & 0x3f];
      }
    };
    while (i < s.size()) {
      auto d = static_cast<unsigned char>(s[i]);
      if (d >= 0x20 && d < 0x7f) break;
      std::size_t n = utf8_len(s, i);
      std::uint32_t cp = 0xfffd;
      if (n == 0) {
        n = 1;
      } else if (n == 1) {
        cp = d;
      } else {
        cp = d & (0xff >> (n + 1));
        for (std::size_t k = 1; k < n; ++k)
          cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      }
      i += n;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        emit_unit(0xd800 + (cp >> 10));
        emit_unit(0xdc00 + (cp & 0x3ff));
      } else {
        emit_unit(cp);
      }
    }
    if (nbits > 0) out += b64[(bits << (6 - nbits)) & 0x3f];
    out += '-';
  }
  return out;
}

} // namespace mailkit::store
