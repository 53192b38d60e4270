// SPDX-License-Identifier: Apache-2.0
// SMTP command syntax (command.hpp).
#include <mailkit/smtp/command.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace mailkit::smtp {

namespace {

char upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_alpha(unsigned char c) noexcept {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
bool is_digit(unsigned char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_alnum(unsigned char c) noexcept {
  return is_alpha(c) || is_digit(c);
}

// RFC 5322 §3.2.3 atext (RFC 5321 §4.1.2 uses it for Atom).
bool is_atext(unsigned char c) noexcept {
  if (is_alnum(c)) return true;
  constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return specials.find(static_cast<char>(c)) != std::string_view::npos;
}

std::string_view trim_spaces(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Length of the UTF-8 sequence at s[i] if it is well-formed, else 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

// RFC 5321 §4.1.2: Dot-string = Atom *("." Atom); RFC 6531 §3.3 adds UTF8-non-ascii to atext.
bool valid_dot_string(std::string_view s, bool allow_utf8, bool& saw_utf8) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (s[i + 1] == '.') return false; // empty Atom
      ++i;
    } else if (c >= 0x80) {
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) return false;
      saw_utf8 = true;
      if (!allow_utf8) return true; // syntactically UTF-8; the caller reports utf8_not_allowed
      i += n;
    } else if (is_atext(c)) {
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

// RFC 5321 §4.1.2: Quoted-string = DQUOTE *QcontentSMTP DQUOTE;
// qtextSMTP = %d32-33 / %d35-91 / %d93-126; quoted-pairSMTP = %d92 %d32-126.
bool valid_quoted_string(std::string_view s, bool allow_utf8, bool& saw_utf8) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      if (i + 2 >= s.size()) return false;
      const auto n = static_cast<unsigned char>(s[i + 1]);
      if (n < 32 || n > 126) return false;
      i += 2;
    } else if (c == '"') {
      return false;
    } else if (c >= 0x80) {
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) return false;
      saw_utf8 = true;
      if (!allow_utf8) return true;
      i += n;
    } else if (c >= 32 && c <= 126) {
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

// Find the end of the local part: the '@' that is not inside a quoted string.
std::size_t find_at(std::string_view s) noexcept {
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && s[i] == '@') {
      return i;
    }
  }
  return std::string_view::npos;
}

// RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
// esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 §3.3 adds UTF8-non-ascii.
bool parse_params(std::string_view text, std::vector<esmtp_param>& out) {
  while (true) {
    text = trim_spaces(text);
    if (text.empty()) return true;
    const std::size_t sp = text.find_first_of(" \t");
    std::string_view item = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view() : text.substr(sp);
    const std::size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    if (key.empty() || !is_alnum(static_cast<unsigned char>(key.front()))) return false;
    for (char c : key)
      if (!is_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
    esmtp_param p;
    p.keyword.reserve(key.size());
    for (char c : key)
      p.keyword.push_back(upper(c));
    if (eq != std::string_view::npos) {
      std::string_view value = item.substr(eq + 1);
      if (value.empty()) return false;
      for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {
          const std::size_t n = utf8_sequence(value, i);
          if (n == 0) return false;
          i += n - 1;
        } else if (c < 33 || c > 126 || c == '=') {
          return false;
        }
      }
      p.value = std::string(value);
    }
    out.push_back(std::move(p));
  }
}

} // namespace

command_line parse_command_line(std::string_view line) {
  command_line out;
  const std::size_t sp = line.find(' ');
  const std::string_view name = line.substr(0, sp);
  out.name = name;
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  struct entry {
    std::string_view name;
    verb v;
  };
  static constexpr std::array<entry, 14> table{{{"HELO", verb::helo},
                                                {"EHLO", verb::ehlo},
                                                {"MAIL", verb::mail},
                                                {"RCPT", verb::rcpt},
                                                {"DATA", verb::data},
                                                {"BDAT", verb::bdat},
                                                {"RSET", verb::rset},
                                                {"NOOP", verb::noop},
                                                {"QUIT", verb::quit},
                                                {"VRFY", verb::vrfy},
                                                {"EXPN", verb::expn},
                                                {"HELP", verb::help},
                                                {"STARTTLS", verb::starttls},
                                                {"AUTH", verb::auth}}};
  for (const auto& e : table) {
    if (iequals(name, e.name)) {
      out.v = e.v;
      break;
    }
  }
  // Another protocol spoken to the SMTP port (a browser tricked into POSTing, a proxy CONNECT):
  // refused and disconnected like Postfix's smtpd_forbidden_commands.
  static constexpr std::array<std::string_view, 7> forbidden{"GET",     "POST",    "PUT",   "HEAD",
                                                             "CONNECT", "OPTIONS", "DELETE"};
  if (out.v == verb::unknown) {
    for (auto f : forbidden)
      if (name == f && rest.find("HTTP/") != std::string_view::npos) out.v = verb::forbidden;
    if (name == "CONNECT") out.v = verb::forbidden;
  }
  if (out.v == verb::mail || out.v == verb::rcpt) {
    // RFC 5321 §4.1.1.2/§4.1.1.3: "MAIL FROM:" and "RCPT TO:" (case-insensitive).
    const std::string_view kw = out.v == verb::mail ? "FROM:" : "TO:";
    std::string_view r = rest;
    if (istarts_with(r, kw)) {
      out.argument = r.substr(kw.size());
    } else {
      out.missing_colon = true;
      out.argument = r;
    }
  } else {
    out.argument = rest;
  }
  return out;
}

std::string mailbox::to_string() const {
  if (domain.empty()) return local_part;
  return local_part + '@' + domain;
}

bool is_valid_domain(std::string_view domain, bool allow_utf8, std::size_t max_len) {
  if (domain.empty() || domain.size() > max_len) return false;
  if (domain.back() == '.') return false;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    const std::string_view label = domain.substr(start, dot - start);
    // RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str]; Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
    if (label.empty() || label.size() > 63) return false;
    bool non_ascii = false;
    for (std::size_t i = 0; i < label.size(); ++i) {
      const auto c = static_cast<unsigned char>(label[i]);
      if (c >= 0x80) {
        const std::size_t n = utf8_sequence(label, i);
        if (n == 0) return false;
        non_ascii = true;
        i += n - 1;
      } else if (!is_alnum(c) && c != '-') {
        return false;
      }
    }
    // RFC 6531 §3.3: sub-domain =/ U-label, only with SMTPUTF8.
    if (non_ascii && !allow_utf8) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    start = dot + 1;
  }
  return true;
}

bool is_valid_address_literal(std::string_view literal) {
  if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') return false;
  const std::string_view inner = literal.substr(1, literal.size() - 2);
  // dcontent and the IP forms are printable US-ASCII only. Checked before inet_pton, which stops at
  // the first NUL and would otherwise accept "[IPv6:2001:db8::<NUL>junk]".
  for (char ch : inner) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\') return false;
  }
  const std::string text(inner);
  // RFC 5321 §4.1.3: IPv4-address-literal = Snum 3("." Snum)
  if (in_addr a4{}; inet_pton(AF_INET, text.c_str(), &a4) == 1) return true;
  // IPv6-address-literal = "IPv6:" IPv6-addr
  if (istarts_with(inner, "IPv6:")) {
    const std::string v6 = text.substr(5);
    in6_addr a6{};
    return inet_pton(AF_INET6, v6.c_str(), &a6) == 1;
  }
  // General-address-literal = Standardized-tag ":" 1*dcontent; dcontent = %d33-90 / %d94-126
  const std::size_t colon = inner.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= inner.size()) return false;
  const std::string_view tag = inner.substr(0, colon);
  if (tag.front() == '-' || tag.back() == '-') return false;
  for (char c : tag)
    if (!is_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
  for (char ch : inner.substr(colon + 1)) {
    const auto c = static_cast<unsigned char>(ch);
    if (!((c >= 33 && c <= 90) || (c >= 94 && c <= 126))) return false;
  }
  return true;
}

path_argument parse_path_argument(std::string_view text, const server_limits& limits,
                                  bool allow_utf8, bool allow_null, bool allow_postmaster) {
  path_argument out;
  // Leniency: spaces between "FROM:" and the path (RFC 5321 has none).
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  std::string_view path;
  std::string_view rest;
  if (!text.empty() && text.front() == '<') {
    // The closing '>' is the first one outside a quoted string.
    bool quoted = false;
    std::size_t close = std::string_view::npos;
    for (std::size_t i = 1; i < text.size(); ++i) {
      if (quoted && text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        quoted = !quoted;
      } else if (!quoted && text[i] == '>') {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) {
      out.error = path_error::syntax;
      return out;
    }
    path = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    // RFC 5321 §4.5.3.1.3: Path at most 256 octets, "<" and ">" included.
    if (close + 1 > limits.max_path) {
      out.error = path_error::too_long;
      return out;
    }
    if (!rest.empty() && rest.front() != ' ') {
      out.error = path_error::syntax;
      return out;
    }
  } else {
    // Leniency: a bare address, ending at the first space.
    const std::size_t sp = text.find(' ');
    path = text.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : text.substr(sp);
    if (path.empty()) {
      out.error = path_error::syntax;
      return out;
    }
    if (path.size() + 2 > limits.max_path) {
      out.error = path_error::too_long;
      return out;
    }
  }
  if (!parse_params(rest, out.params)) out.params_syntax_error = true;

  if (path.empty()) {
    // RFC 5321 §4.1.2: Reverse-path = Path / "<>"
    if (!allow_null) out.error = path_error::syntax;
    return out;
  }
  // RFC 5321 §4.1.2: A-d-l = At-domain *( "," At-domain ), followed by ":"; accepted and
  // ignored (Appendix C: "SHOULD ... strip off the source route specification").
  if (path.front() == '@') {
    const std::size_t colon = path.find(':');
    if (colon == std::string_view::npos) {
      out.error = path_error::syntax;
      return out;
    }
    std::string_view adl = path.substr(0, colon);
    while (!adl.empty()) {
      const std::size_t comma = adl.find(',');
      std::string_view at_domain = adl.substr(0, comma);
      if (at_domain.size() < 2 || at_domain.front() != '@') {
        out.error = path_error::syntax;
        return out;
      }
      at_domain.remove_prefix(1);
      const bool ok = at_domain.front() == '['
                          ? is_valid_address_literal(at_domain)
                          : is_valid_domain(at_domain, allow_utf8, limits.max_domain);
      if (!ok) {
        out.error = path_error::syntax;
        return out;
      }
      adl = comma == std::string_view::npos ? std::string_view() : adl.substr(comma + 1);
    }
    path = path.substr(colon + 1);
  }
  const std::size_t at = find_at(path);
  mailbox mb;
  bool saw_utf8 = false;
  if (at == std::string_view::npos) {
    // RFC 5321 §4.1.1.3: "Postmaster" without a domain must be accepted as a recipient.
    if (allow_postmaster && iequals(path, "postmaster")) {
      mb.local_part = std::string(path);
      out.address = std::move(mb);
      return out;
    }
    out.error = path_error::syntax;
    return out;
  }
  const std::string_view local = path.substr(0, at);
  const std::string_view domain = path.substr(at + 1);
  const bool local_ok =
      !local.empty() && (local.front() == '"' ? valid_quoted_string(local, allow_utf8, saw_utf8)
                                              : valid_dot_string(local, allow_utf8, saw_utf8));
  if (!local_ok) {
    out.error = path_error::syntax;
    return out;
  }
  if (saw_utf8 && !allow_utf8) {
    out.error = path_error::utf8_not_allowed;
    return out;
  }
  // RFC 5321 §4.5.3.1.1: local part at most 64 octets.
  if (local.size() > limits.max_local_part) {
    out.error = path_error::too_long;
    return out;
  }
  if (domain.empty()) {
    out.error = path_error::bad_domain;
    return out;
  }
  // RFC 5321 §4.5.3.1.2: domain (address literals included) at most 255 octets.
  if (domain.size() > limits.max_domain) {
    out.error = path_error::too_long;
    return out;
  }
  if (domain.front() == '[') {
    if (!is_valid_address_literal(domain)) {
      out.error = path_error::bad_domain;
      return out;
    }
    mb.address_literal = true;
  } else {
    const bool domain_utf8 = std::any_of(
        domain.begin(), domain.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    if (domain_utf8 && !allow_utf8) {
      out.error = is_valid_domain(domain, true, limits.max_domain) ? path_error::utf8_not_allowed
                                                                   : path_error::bad_domain;
      return out;
    }
    if (!is_valid_domain(domain, allow_utf8, limits.max_domain)) {
      out.error = path_error::bad_domain;
      return out;
    }
    saw_utf8 = saw_utf8 || domain_utf8;
  }
  mb.local_part = std::string(local);
  mb.domain = std::string(domain);
  mb.utf8 = saw_utf8;
  out.address = std::move(mb);
  return out;
}

std::optional<std::string> decode_xtext(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1; // RFC 3461 §4: upper-case hex only
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size()) return std::nullopt; // "+" needs two hex digits after it
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c >= '!' && c <= '~' && c != '=') {
      out.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string encode_xtext(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= '!' && c <= '~' && c != '+' && c != '=') {
      out.push_back(ch);
    } else {
      out.push_back('+');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::optional<dsn_notify> parse_notify(std::string_view value) {
  // RFC 3461 §4.1: notify-esmtp-value = "NEVER" / 1#notify-list-element;
  // notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
  dsn_notify n;
  if (iequals(value, "NEVER")) {
    n.never = true;
    return n;
  }
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view item = value.substr(0, comma);
    bool* flag = nullptr;
    if (iequals(item, "SUCCESS"))
      flag = &n.success;
    else if (iequals(item, "FAILURE"))
      flag = &n.failure;
    else if (iequals(item, "DELAY"))
      flag = &n.delay;
    if (flag == nullptr || *flag) return std::nullopt;
    *flag = true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return n;
}

std::optional<dsn_orcpt> parse_orcpt(std::string_view value, std::size_t max_len) {
  // RFC 3461 §4.2: orcpt-parameter = "ORCPT=" original-recipient-address;
  // original-recipient-address = addr-type ";" xtext; addr-type = atom
  const std::size_t semi = value.find(';');
  if (semi == std::string_view::npos || semi == 0) return std::nullopt;
  const std::string_view type = value.substr(0, semi);
  for (char c : type)
    if (!is_atext(static_cast<unsigned char>(c))) return std::nullopt;
  auto addr = decode_xtext(value.substr(semi + 1));
  if (!addr || addr->empty() || addr->size() > max_len) return std::nullopt;
  return dsn_orcpt{std::string(type), std::move(*addr)};
}

} // namespace mailkit::smtp
