// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/auth_results.hpp>

namespace mailkit::dkim {

namespace {

// RFC 8601 §2.2: property values are "value" (RFC 2045 token or quoted-string) or a mailbox /
// domain; quote whatever is not a plain token.
std::string pvalue(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f ||
        std::string_view("()<>,;:\\\"[]?=").find(c) != std::string_view::npos) {
      // '@' and '.' and '/' '+' are fine in RFC 8601 pvalue (dot-atom / addr-spec).
      plain = false;
      break;
    }
  }
  return plain ? std::string(v) : quoted_string(v);
}

} // namespace

std::string format_resinfo(const signature_result& r) {
  std::string out = "dkim=";
  out += to_string(r.result);
  std::string comment;
  if (r.key_bits != 0 && r.result != result::none)
    comment = std::to_string(r.key_bits) + "-bit key";
  if (!r.reason.empty()) comment += (comment.empty() ? "" : "; ") + r.reason;
  if (r.unsigned_body_octets != 0)
    comment += (comment.empty() ? "" : "; ") + std::to_string(r.unsigned_body_octets) +
               " unsigned body octets after l=";
  if (r.testing) comment += (comment.empty() ? "" : "; ") + std::string("test mode");
  if (!comment.empty()) out += " (" + comment_text(comment) + ")";
  // RFC 8601 §2.7.1: header.d and header.i; header.s and header.a (RFC 8601 §2.7.1 + IANA
  // registry); header.b (RFC 6008) tells several signatures of one domain apart.
  if (!r.domain.empty()) out += " header.d=" + pvalue(r.domain);
  if (!r.identity.empty()) out += " header.i=" + pvalue(r.identity);
  if (!r.selector.empty()) out += " header.s=" + pvalue(r.selector);
  if (!r.algorithm.empty()) out += " header.a=" + pvalue(r.algorithm);
  if (!r.b_prefix.empty()) out += " header.b=" + pvalue(r.b_prefix.substr(0, 8));
  return out;
}

std::string format_resinfos(const std::vector<signature_result>& results) {
  if (results.empty()) return "dkim=none";
  std::string out;
  for (const auto& r : results) {
    if (!out.empty()) out += ";\r\n\t";
    out += format_resinfo(r);
  }
  return out;
}

std::string format_authentication_results(std::string_view authserv_id,
                                          const std::vector<std::string>& resinfos) {
  std::string out = "Authentication-Results: ";
  out += authserv_id;
  if (resinfos.empty()) {
    out += "; none\r\n";
    return out;
  }
  for (const auto& r : resinfos) {
    out += ";\r\n\t";
    out += r;
  }
  out += "\r\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing (RFC 8601 §2.2):
//   authres-header-field = "Authentication-Results:" authres-payload
//   authres-payload = [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS]
//   CRLF resinfo = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ] methodspec =
//   [CFWS] method [CFWS] "=" [CFWS] result method = Keyword [ [CFWS] "/" [CFWS] method-version ]
//   reasonspec = "reason" [CFWS] "=" [CFWS] value
//   propspec = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue

namespace {

class lexer {
public:
  explicit lexer(std::string_view s) : s_(s) {}

  // Skip WSP, line breaks and (nested) comments; comments are collected.
  void cfws(std::vector<std::string>* comments = nullptr) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (is_space(c)) {
        ++pos_;
      } else if (c == '(') {
        int depth = 0;
        std::string text;
        while (pos_ < s_.size()) {
          const char d = s_[pos_++];
          if (d == '\\' && pos_ < s_.size()) {
            text.push_back(s_[pos_++]);
            continue;
          }
          if (d == '(') {
            if (depth++ > 0) text.push_back(d);
            continue;
          }
          if (d == ')') {
            if (--depth == 0) break;
            text.push_back(d);
            continue;
          }
          text.push_back(d);
        }
        if (comments) comments->push_back(std::move(text));
      } else {
        break;
      }
    }
  }
  bool eat(char c) {
    cfws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_end() {
    cfws();
    return pos_ >= s_.size();
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  // A token: up to WSP, ';', '=', '(', '/', '.' as requested.
  std::string token(std::string_view stops) {
    cfws();
    std::string out;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (is_space(c) || c == ';' || c == '(' || stops.find(c) != std::string_view::npos) break;
      out.push_back(c);
      ++pos_;
    }
    return out;
  }
  // A value: quoted-string or token-ish run (pvalue may contain '@', '.', '/', '=').
  std::string value(bool allow_eq) {
    cfws();
    std::string out;
    if (peek() == '"') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        out.push_back(s_[pos_++]);
      }
      if (pos_ < s_.size()) ++pos_;
      return out;
    }
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (is_space(c) || c == ';' || c == '(' || (!allow_eq && c == '=')) break;
      out.push_back(c);
      ++pos_;
    }
    return out;
  }
  std::size_t pos() const { return pos_; }
  void seek(std::size_t p) { pos_ = p; }

private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

} // namespace

std::optional<authentication_results> parse_authentication_results(std::string_view value) {
  authentication_results out;
  lexer lx(value);
  out.authserv_id = lx.value(false);
  if (out.authserv_id.empty()) return std::nullopt;
  lx.cfws();
  if (is_digit(lx.peek())) out.version = lx.token("");
  if (lx.at_end()) return out;
  if (!lx.eat(';')) return std::nullopt;
  for (;;) {
    ar_method m;
    const std::string method = lx.token("=/");
    if (method.empty()) break;
    if (iequals(method, "none") && lx.at_end()) {
      out.none = true;
      break;
    }
    m.method = to_lower(method);
    if (lx.eat('/')) m.version = lx.token("=");
    if (!lx.eat('=')) break;
    m.result = to_lower(lx.token("="));
    if (m.result.empty()) break;
    // reasonspec and propspecs until the next ';'
    for (;;) {
      lx.cfws(&m.comments);
      if (lx.at_end() || lx.peek() == ';') break;
      const std::size_t save = lx.pos();
      const std::string word = lx.token("=.");
      if (word.empty()) {
        lx.seek(save + 1);
        continue;
      }
      if (iequals(word, "reason") && lx.eat('=')) {
        m.reason = lx.value(true);
        continue;
      }
      if (lx.eat('.')) {
        ar_property p;
        p.ptype = to_lower(word);
        p.property = lx.token("=");
        if (!lx.eat('=')) break;
        p.value = lx.value(true);
        m.properties.push_back(std::move(p));
        continue;
      }
      // Unknown word: skip it.
      if (lx.eat('=')) (void)lx.value(true);
    }
    out.methods.push_back(std::move(m));
    if (!lx.eat(';')) break;
  }
  return out;
}

} // namespace mailkit::dkim
