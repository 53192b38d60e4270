// SPDX-License-Identifier: Apache-2.0
#include <mailkit/spf/macro.hpp>

#include <algorithm>
#include <array>
#include <vector>

namespace mailkit::spf {

namespace {

// RFC 7208 §7.1:
//   macro-string  = *( macro-expand / macro-literal )
//   macro-expand  = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
//   macro-literal = %x21-24 / %x26-7E
//   macro-letter  = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
//   transformers  = *DIGIT [ "r" ]
//   delimiter     = "." / "-" / "+" / "," / "/" / "_" / "="
//   explain-string = *( macro-string / SP )

bool is_delimiter(char c) noexcept {
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_letter(char c, macro_context ctx) noexcept {
  switch (lower(c)) {
  case 's':
  case 'l':
  case 'o':
  case 'd':
  case 'i':
  case 'p':
  case 'h':
  case 'v':
    return true;
  case 'c':
  case 'r':
  case 't':
    // RFC 7208 §7.4: c, r and t are allowed only in "exp" text.
    return ctx == macro_context::explanation;
  default:
    return false;
  }
}

// One parsed %{...} expansion.
struct expand_spec {
  char letter = 0;        // as written (upper case means URL-escape)
  std::size_t digits = 0; // 0: all parts
  bool reverse = false;
  std::string_view delimiters;
};

// Parses the macro at s[pos] == '%'. On success advances pos past it. Kind: '%', '_', '-' or
// '{' (then spec is filled).
tl::expected<char, std::string> parse_one(std::string_view s, std::size_t& pos, macro_context ctx,
                                          expand_spec& spec) {
  if (pos + 1 >= s.size()) return tl::make_unexpected(std::string("'%' at the end"));
  const char k = s[pos + 1];
  if (k == '%' || k == '_' || k == '-') {
    pos += 2;
    return k;
  }
  // RFC 7208 §7.1: a '%' not followed by '{', '%', '-' or '_' is a syntax error.
  if (k != '{') return tl::make_unexpected(std::string("'%' not followed by {, %, - or _"));
  std::size_t i = pos + 2;
  if (i >= s.size() || !is_letter(s[i], ctx))
    return tl::make_unexpected(std::string("invalid macro letter"));
  spec = expand_spec{};
  spec.letter = s[i++];
  std::size_t n = 0;
  bool have_digits = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    have_digits = true;
    if (n < 1000) n = n * 10 + static_cast<std::size_t>(s[i] - '0');
    ++i;
  }
  // RFC 7208 §7.3: "If DIGIT is specified, the value MUST be nonzero."
  if (have_digits && n == 0) return tl::make_unexpected(std::string("zero macro digit"));
  spec.digits = n;
  if (i < s.size() && (s[i] == 'r' || s[i] == 'R')) {
    spec.reverse = true;
    ++i;
  }
  const std::size_t dstart = i;
  while (i < s.size() && is_delimiter(s[i]))
    ++i;
  spec.delimiters = s.substr(dstart, i - dstart);
  if (i >= s.size() || s[i] != '}') return tl::make_unexpected(std::string("unterminated macro"));
  pos = i + 1;
  return '{';
}

bool literal_ok(char c, macro_context ctx) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7e) return true;
  return ctx == macro_context::explanation && c == ' ';
}

std::string_view value_of(char letter, const macro_values& v) noexcept {
  switch (lower(letter)) {
  case 's':
    return v.s;
  case 'l':
    return v.l;
  case 'o':
    return v.o;
  case 'd':
    return v.d;
  case 'i':
    return v.i;
  case 'p':
    return v.p;
  case 'v':
    return v.v;
  case 'h':
    return v.h;
  case 'c':
    return v.c;
  case 'r':
    return v.r;
  case 't':
    return v.t;
  default:
    return {};
  }
}

// RFC 7208 §7.3: split on the delimiters (default "."), optionally reverse, keep the
// right-most `digits` parts, join with ".".
void transform(std::string_view value, const expand_spec& spec, std::string& out) {
  if (spec.digits == 0 && !spec.reverse && (spec.delimiters.empty() || spec.delimiters == ".")) {
    out.append(value);
    return;
  }
  const std::string_view delims = spec.delimiters.empty() ? std::string_view(".") : spec.delimiters;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delims.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (spec.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t first = 0;
  if (spec.digits != 0 && spec.digits < parts.size()) first = parts.size() - spec.digits;
  for (std::size_t k = first; k < parts.size(); ++k) {
    if (k != first) out.push_back('.');
    out.append(parts[k]);
  }
}

// RFC 7208 §7.3: upper-case macro letters are URL-escaped (RFC 3986 unreserved kept).
void url_escape(std::string_view in, std::string& out) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
}

} // namespace

std::string check_macro_string(std::string_view s, macro_context ctx) {
  std::size_t pos = 0;
  expand_spec spec;
  while (pos < s.size()) {
    if (s[pos] == '%') {
      auto k = parse_one(s, pos, ctx, spec);
      if (!k) return k.error();
      continue;
    }
    if (!literal_ok(s[pos], ctx)) return "invalid character in macro-string";
    ++pos;
  }
  return {};
}

bool uses_macro(std::string_view s, char letter) noexcept {
  for (std::size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '%') {
      if (s[i + 1] == '{' && lower(s[i + 2]) == letter) return true;
      ++i; // skip the escaped character of "%%", "%_", "%-"
    }
  }
  return false;
}

tl::expected<std::string, std::string> expand_macro(std::string_view s, const macro_values& values,
                                                    macro_context ctx) {
  std::string out;
  out.reserve(s.size() + 16);
  std::size_t pos = 0;
  expand_spec spec;
  while (pos < s.size()) {
    const char c = s[pos];
    if (c != '%') {
      if (!literal_ok(c, ctx)) return tl::make_unexpected(std::string("invalid character"));
      out.push_back(c);
      ++pos;
      continue;
    }
    auto k = parse_one(s, pos, ctx, spec);
    if (!k) return tl::make_unexpected(k.error());
    switch (*k) {
    case '%':
      out.push_back('%');
      break;
    case '_':
      out.push_back(' ');
      break;
    case '-':
      out.append("%20");
      break;
    default: {
      const bool escape = spec.letter >= 'A' && spec.letter <= 'Z';
      if (!escape) {
        transform(value_of(spec.letter, values), spec, out);
      } else {
        std::string tmp;
        transform(value_of(spec.letter, values), spec, tmp);
        url_escape(tmp, out);
      }
    }
    }
  }
  if (ctx == macro_context::domain) {
    if (!out.empty() && out.back() == '.') out.pop_back();
    // RFC 7208 §7.3: a domain name over 253 octets loses labels from the left until it fits.
    while (out.size() > 253) {
      const auto dot = out.find('.');
      if (dot == std::string::npos) break;
      out.erase(0, dot + 1);
    }
  }
  return out;
}

} // namespace mailkit::spf
