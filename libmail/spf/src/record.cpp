// SPDX-License-Identifier: Apache-2.0
#include <mailkit/spf/macro.hpp>
#include <mailkit/spf/record.hpp>

#include <arpa/inet.h>

namespace mailkit::spf {

namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) noexcept {
  return is_alpha(c) || is_digit(c);
}

// RFC 7208 §7.1: toplabel = ( *alphanum ALPHA *alphanum ) /
//                           ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view l) noexcept {
  if (l.empty()) return false;
  bool alpha = false, dash = false;
  for (char c : l) {
    if (c == '-') {
      dash = true;
    } else if (is_alpha(c)) {
      alpha = true;
    } else if (!is_digit(c)) {
      return false;
    }
  }
  if (!dash) return alpha;
  return is_alnum(l.front()) && is_alnum(l.back());
}

// A CIDR length "0" / %x31-39 *DIGIT with a maximum (RFC 7208 §5.6 ip4-cidr-length,
// ip6-cidr-length). Returns -1 when the digits are not of that form or exceed max.
int parse_cidr(std::string_view digits, int max) noexcept {
  if (digits.empty() || digits.size() > 3) return -1;
  if (digits.size() > 1 && digits[0] == '0') return -1;
  int v = 0;
  for (char c : digits) {
    if (!is_digit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v <= max ? v : -1;
}

// Splits a trailing "/digits" off `s` when present (digits only, any count); returns them.
std::optional<std::string_view> take_cidr_suffix(std::string_view& s, bool dual) {
  const auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto digits = s.substr(slash + 1);
  if (digits.empty()) return std::nullopt;
  for (char c : digits)
    if (!is_digit(c)) return std::nullopt;
  const bool is_dual = slash >= 1 && s[slash - 1] == '/';
  if (is_dual != dual) return std::nullopt;
  s = s.substr(0, dual ? slash - 1 : slash);
  return digits;
}

tl::unexpected<syntax_error> error(std::string msg, std::string_view term) {
  return tl::unexpected<syntax_error>(syntax_error{std::move(msg), term});
}

} // namespace

std::string_view to_string(mechanism_kind k) noexcept {
  switch (k) {
  case mechanism_kind::all:
    return "all";
  case mechanism_kind::include:
    return "include";
  case mechanism_kind::a:
    return "a";
  case mechanism_kind::mx:
    return "mx";
  case mechanism_kind::ptr:
    return "ptr";
  case mechanism_kind::ip4:
    return "ip4";
  case mechanism_kind::ip6:
    return "ip6";
  case mechanism_kind::exists:
    return "exists";
  }
  return "?";
}

bool is_spf_record(std::string_view txt) noexcept {
  // RFC 7208 §4.5: "v=spf1" (case-insensitive per §4.6.1 ABNF strings) then SP or the end.
  if (txt.size() < 6 || !iequals(txt.substr(0, 6), "v=spf1")) return false;
  return txt.size() == 6 || txt[6] == ' ';
}

bool is_valid_domain_spec(std::string_view spec) noexcept {
  if (spec.empty()) return false;
  if (!check_macro_string(spec, macro_context::domain).empty()) return false;
  // domain-end = ( "." toplabel [ "." ] ) / macro-expand
  // Ends in a macro-expand: "}" closing "%{...}", or "%%", "%_", "%-" (an escaped '%').
  if (spec.back() == '}') {
    const auto open = spec.rfind("%{");
    if (open != std::string_view::npos && spec.find('}', open) == spec.size() - 1) {
      // Make sure this "%{" is not itself the tail of a "%%".
      std::size_t run = 0;
      for (std::size_t i = open; i > 0 && spec[i - 1] == '%'; --i)
        ++run;
      if (run % 2 == 0) return true;
    }
  }
  if (spec.size() >= 2) {
    const char last = spec.back();
    if (last == '%' || last == '_' || last == '-') {
      std::size_t run = 0;
      for (std::size_t i = spec.size() - 1; i > 0 && spec[i - 1] == '%'; --i)
        ++run;
      if (run % 2 == 1) return true;
    }
  }
  std::string_view s = spec;
  if (s.back() == '.') s.remove_suffix(1);
  const auto dot = s.rfind('.');
  if (dot == std::string_view::npos) return false;
  return is_toplabel(s.substr(dot + 1));
}

std::optional<std::array<std::uint8_t, 4>> parse_ip4_network(std::string_view s) {
  // RFC 7208 §5.6: ip4-network = qnum "." qnum "." qnum "." qnum, qnum 0-255 without
  // leading zeros.
  std::array<std::uint8_t, 4> out{};
  std::size_t part = 0, i = 0;
  while (part < 4) {
    const std::size_t start = i;
    int v = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 3)
      v = v * 10 + (s[i++] - '0');
    const std::size_t len = i - start;
    if (len == 0 || v > 255 || (len > 1 && s[start] == '0')) return std::nullopt;
    out[part++] = static_cast<std::uint8_t>(v);
    if (part < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

std::optional<std::array<std::uint8_t, 16>> parse_ip6_network(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;
  char buf[64];
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  std::array<std::uint8_t, 16> out{};
  if (inet_pton(AF_INET6, buf, out.data()) != 1) return std::nullopt;
  return out;
}

parse_result parse_record(std::string_view txt) {
  if (!is_spf_record(txt)) return error("not an SPF record", {});
  // RFC 7208 §3.1: SPF records are 7-bit ASCII; §12 ABNF: terms are separated by SP only.
  for (char c : txt) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) return error("non-ASCII character in record", {});
    if (u < 0x20 || u == 0x7f) return error("control character in record", {});
  }
  record rec;
  rec.mechanisms.reserve(8);
  std::size_t pos = 6;
  while (pos < txt.size()) {
    if (txt[pos] == ' ') {
      ++pos;
      continue;
    }
    auto end = txt.find(' ', pos);
    if (end == std::string_view::npos) end = txt.size();
    const std::string_view term = txt.substr(pos, end - pos);
    pos = end;

    // modifier = redirect / explanation / unknown-modifier; name = ALPHA *( ALPHA / DIGIT /
    // "-" / "_" / "." ) followed by "=" (RFC 7208 §4.6.1, §12).
    std::size_t n = 0;
    if (is_alpha(term[0])) {
      n = 1;
      while (n < term.size() &&
             (is_alnum(term[n]) || term[n] == '-' || term[n] == '_' || term[n] == '.'))
        ++n;
    }
    if (n > 0 && n < term.size() && term[n] == '=') {
      const std::string_view name = term.substr(0, n);
      const std::string_view value = term.substr(n + 1);
      if (iequals(name, "redirect") || iequals(name, "exp")) {
        const bool is_redirect = iequals(name, "redirect");
        // RFC 7208 §6: redirect and exp MUST NOT appear more than once each.
        if ((is_redirect && rec.redirect) || (!is_redirect && rec.exp))
          return error(std::string(name) + "= appears more than once", term);
        // RFC 7208 §6.1, §6.2: the value is a domain-spec.
        if (!is_valid_domain_spec(value))
          return error("invalid domain-spec in " + std::string(name) + "=", term);
        (is_redirect ? rec.redirect : rec.exp) = value;
      } else {
        // RFC 7208 §6 / §12: unknown-modifier = name "=" macro-string; ignored but checked.
        if (auto msg = check_macro_string(value, macro_context::domain); !msg.empty())
          return error("invalid macro-string in modifier: " + msg, term);
        rec.unknown_modifiers.push_back(modifier{name, value});
      }
      continue;
    }

    mechanism m;
    m.text = term;
    std::string_view body = term;
    switch (body[0]) {
    case '+':
      m.qual = qualifier::pass;
      body.remove_prefix(1);
      break;
    case '-':
      m.qual = qualifier::fail;
      body.remove_prefix(1);
      break;
    case '~':
      m.qual = qualifier::softfail;
      body.remove_prefix(1);
      break;
    case '?':
      m.qual = qualifier::neutral;
      body.remove_prefix(1);
      break;
    default:
      break;
    }
    const auto name_end = body.find_first_of(":/");
    const std::string_view name = body.substr(0, name_end);
    std::string_view rest =
        name_end == std::string_view::npos ? std::string_view{} : body.substr(name_end);
    if (iequals(name, "all")) {
      // RFC 7208 §5.1: all = "all", nothing after it.
      if (!rest.empty()) return error("\"all\" takes no argument", term);
      m.kind = mechanism_kind::all;
      rec.has_all = true;
    } else if (iequals(name, "include") || iequals(name, "exists")) {
      // RFC 7208 §5.2, §5.7: ":" domain-spec, required.
      m.kind = iequals(name, "include") ? mechanism_kind::include : mechanism_kind::exists;
      if (rest.empty() || rest[0] != ':' || !is_valid_domain_spec(rest.substr(1)))
        return error("missing or invalid domain-spec", term);
      m.domain_spec = rest.substr(1);
    } else if (iequals(name, "a") || iequals(name, "mx")) {
      // RFC 7208 §5.3, §5.4: [ ":" domain-spec ] [ dual-cidr-length ]
      // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
      m.kind = iequals(name, "a") ? mechanism_kind::a : mechanism_kind::mx;
      if (auto c6 = take_cidr_suffix(rest, true)) {
        const int v = parse_cidr(*c6, 128);
        if (v < 0) return error("invalid ip6-cidr-length", term);
        m.cidr6 = static_cast<std::uint8_t>(v);
      }
      if (auto c4 = take_cidr_suffix(rest, false)) {
        const int v = parse_cidr(*c4, 32);
        if (v < 0) return error("invalid ip4-cidr-length", term);
        m.cidr4 = static_cast<std::uint8_t>(v);
      }
      if (!rest.empty()) {
        if (rest[0] != ':' || !is_valid_domain_spec(rest.substr(1)))
          return error("invalid domain-spec", term);
        m.domain_spec = rest.substr(1);
      }
    } else if (iequals(name, "ptr")) {
      // RFC 7208 §5.5: ptr = "ptr" [ ":" domain-spec ]
      m.kind = mechanism_kind::ptr;
      if (!rest.empty()) {
        if (rest[0] != ':' || !is_valid_domain_spec(rest.substr(1)))
          return error("invalid domain-spec", term);
        m.domain_spec = rest.substr(1);
      }
    } else if (iequals(name, "ip4") || iequals(name, "ip6")) {
      // RFC 7208 §5.6: ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ], same for ip6.
      const bool v4 = iequals(name, "ip4");
      m.kind = v4 ? mechanism_kind::ip4 : mechanism_kind::ip6;
      if (rest.empty() || rest[0] != ':') return error("missing network", term);
      rest.remove_prefix(1);
      if (auto c = take_cidr_suffix(rest, false)) {
        const int v = parse_cidr(*c, v4 ? 32 : 128);
        if (v < 0) return error("invalid CIDR length", term);
        if (v4)
          m.cidr4 = static_cast<std::uint8_t>(v);
        else
          m.cidr6 = static_cast<std::uint8_t>(v);
      }
      if (v4) {
        auto a = parse_ip4_network(rest);
        if (!a) return error("invalid ip4 network", term);
        std::copy(a->begin(), a->end(), m.network.begin());
      } else {
        auto a = parse_ip6_network(rest);
        if (!a) return error("invalid ip6 network", term);
        m.network = *a;
      }
    } else {
      // RFC 7208 §4.6.1: an unknown mechanism is a permerror.
      return error("unknown mechanism", term);
    }
    rec.mechanisms.push_back(m);
  }
  return rec;
}

} // namespace mailkit::spf
