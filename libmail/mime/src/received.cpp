// SPDX-License-Identifier: Apache-2.0
// Received trace fields (RFC 5321 §4.4, RFC 5322 §3.6.7):
//
//   Stamp      = From-domain By-domain Opt-info [CFWS] ";" FWS date-time
//   From-domain = "FROM" FWS Extended-Domain      ; Extended-Domain carries the TCP-info comment
//   By-domain  = CFWS "BY" FWS Extended-Domain
//   Opt-info   = [Via] [With] [ID] [For] [Additional-Registered-Clauses]
//
// Real fields break this grammar constantly (clauses out of order, comments where words belong,
// no ";" before the date, the date first), so the reader splits the value into items (words,
// comments, [literals], <angles>), finds the clause keywords among the top-level words, and reads
// each clause's value and the comments after it. What it does not recognise it ignores.
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/encoded_word.hpp>
#include <mailkit/mime/field.hpp>
#include <mailkit/mime/received.hpp>

#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mime {

namespace {

struct item {
  enum class kind { word, comment, literal, angle, semicolon } type;
  std::string_view text; ///< the word, or the content inside the delimiters
  std::size_t end = 0;   ///< offset just past the item in the value
};

// Split a value into items. Comments nest (RFC 5322 §3.2.2); a depth counter keeps any depth
// linear. Unclosed delimiters run to the end of the value.
std::vector<item> split_items(std::string_view s, bool in_comment) {
  std::vector<item> out;
  std::size_t i = 0;
  const std::string_view word_stop = in_comment ? " \t\r\n,([<" : " \t\r\n()[<;";
  while (i < s.size()) {
    const char c = s[i];
    if (is_space(c) || (in_comment && c == ',')) {
      ++i;
    } else if (c == '(') {
      std::size_t depth = 0;
      std::size_t j = i;
      for (; j < s.size(); ++j) {
        if (s[j] == '\\')
          ++j;
        else if (s[j] == '(')
          ++depth;
        else if (s[j] == ')' && --depth == 0)
          break;
      }
      const std::size_t stop = j < s.size() ? j : s.size();
      out.push_back({item::kind::comment, s.substr(i + 1, stop - i - 1), stop + 1});
      i = stop + 1;
    } else if (c == '[' || c == '<') {
      const std::size_t close = s.find(c == '[' ? ']' : '>', i + 1);
      const std::size_t stop = close == std::string_view::npos ? s.size() : close;
      out.push_back({c == '[' ? item::kind::literal : item::kind::angle,
                     s.substr(i + 1, stop - i - 1), stop + 1});
      i = stop + 1;
    } else if (c == ';' && !in_comment) {
      out.push_back({item::kind::semicolon, s.substr(i, 1), i + 1});
      ++i;
    } else if (c == ')' || c == ']' || c == '>') {
      ++i; // stray closers carry nothing
    } else {
      std::size_t j = i;
      while (j < s.size() && word_stop.find(s[j]) == std::string_view::npos)
        ++j;
      if (j == i) ++j;
      out.push_back({item::kind::word, s.substr(i, j - i), j});
      i = j;
    }
  }
  return out;
}

// Dotted-quad IPv4, with an optional ":port" as Exim and XMail append it.
std::optional<std::string> as_ipv4(std::string_view s) {
  if (const auto colon = s.find(':'); colon != std::string_view::npos) {
    const std::string_view port = s.substr(colon + 1);
    if (port.empty() || port.size() > 5) return std::nullopt;
    for (char c : port)
      if (!is_digit(c)) return std::nullopt;
    s = s.substr(0, colon);
  }
  // Exactly four decimal parts of one to three digits, each at most 255.
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t j = i;
    int v = 0;
    while (j < s.size() && is_digit(s[j]) && j - i < 3)
      v = v * 10 + (s[j++] - '0');
    if (j == i || v > 255) return std::nullopt;
    if (++parts == 4) {
      if (j != s.size()) return std::nullopt;
      break;
    }
    if (j >= s.size() || s[j] != '.') return std::nullopt;
    i = j + 1;
  }
  return std::string(s);
}

// IPv6 (RFC 4291 §2.2) in its RFC 5952 canonical text, so "face:0000:002f:0000" and
// "face:0:2f:0" compare equal.
std::optional<std::string> as_ipv6(std::string_view s) {
  if (istarts_with(s, "IPv6:")) s.remove_prefix(5); // RFC 5321 §4.1.3: IPv6-address-literal
  if (s.find(':') == std::string_view::npos || s.size() > 45) return std::nullopt;
  const std::string z(s);
  unsigned char buf[16];
  if (inet_pton(AF_INET6, z.c_str(), buf) != 1) return std::nullopt;
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, buf, text, sizeof text) == nullptr) return std::nullopt;
  return std::string(text);
}

std::optional<received_host> ip_host(std::string_view s) {
  if (auto v4 = as_ipv4(s)) return received_host{received_host::kind::ipv4, std::move(*v4)};
  if (auto v6 = as_ipv6(s)) return received_host{received_host::kind::ipv6, std::move(*v6)};
  return std::nullopt;
}

// The content of an address literal, without the "(...)" some MTAs put inside ("[(1.2.3.4)]").
std::string_view literal_content(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') s = s.substr(1, s.size() - 2);
  return trim(s);
}

std::optional<std::string> ip_text(std::string_view s) {
  if (auto h = ip_host(literal_content(s))) return std::move(h->value);
  return std::nullopt;
}

// A host written as a word: cut at '/' or ',' ("Unknown/Local", "host.example,"), an address
// when it is one, else the name as written.
std::optional<received_host> word_host(std::string_view w) {
  w = w.substr(0, w.find_first_of("/,"));
  if (w.empty()) return std::nullopt;
  if (auto h = ip_host(w)) return h;
  return received_host{received_host::kind::name, std::string(w)};
}

std::optional<received_host> item_host(const item& it) {
  switch (it.type) {
  case item::kind::word:
    return word_host(it.text);
  case item::kind::literal:
    return ip_host(literal_content(it.text)); // "[unix socket]": none
  case item::kind::angle:
    return word_host(it.text); // "by <server>"
  default:
    return std::nullopt;
  }
}

bool is_hostname(std::string_view s) noexcept {
  if (s.empty() || s.find('.') == std::string_view::npos) return false;
  for (char c : s)
    if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-' && c != '_') return false;
  return !as_ipv4(s);
}

// "TLSv1.3", "TLS1_2", "TLS-1.0", "TLSv1" -> "TLSv1.x"; empty when the token is no version.
std::string tls_version_of(std::string_view t) {
  if (!istarts_with(t, "TLS")) return {};
  t.remove_prefix(3);
  if (!t.empty() && (t.front() == 'v' || t.front() == 'V' || t.front() == '-')) t.remove_prefix(1);
  if (t.empty() || t.front() != '1') return {};
  if (t.size() == 1) return "TLSv1.0";
  if (t.size() == 3 && (t[1] == '.' || t[1] == '_') && t[2] >= '0' && t[2] <= '3')
    return std::string("TLSv1.") + t[2];
  return {};
}

// A cipher suite name as OpenSSL, GnuTLS or IANA spell it ("ECDHE-RSA-AES256-GCM-SHA384",
// "TLS_AES_256_GCM_SHA384", "DES-CBC3-SHA"): upper case, '-' or '_' separated, naming a cipher.
bool is_cipher(std::string_view t) noexcept {
  if (t.size() < 6 || t.find_first_of("-_") == std::string_view::npos) return false;
  for (char c : t)
    if (!(c >= 'A' && c <= 'Z') && !is_digit(c) && c != '-' && c != '_') return false;
  for (std::string_view alg : {"AES", "DES", "CHACHA20", "RC4", "CAMELLIA", "ARIA", "SEED"})
    if (t.find(alg) != std::string_view::npos) return true;
  return false;
}

// RFC 3848 protocol names (and "LOCAL", Exim's locally submitted mail).
std::optional<std::string> protocol_of(std::string_view w) {
  static constexpr std::array<std::string_view, 23> known = {
      "SMTP",       "ESMTP",    "ESMTPA",    "ESMTPS",    "ESMTPSA",    "LMTP",
      "LMTPA",      "LMTPS",    "LMTPSA",    "UTF8SMTP",  "UTF8SMTPA",  "UTF8SMTPS",
      "UTF8SMTPSA", "UTF8LMTP", "UTF8LMTPA", "UTF8LMTPS", "UTF8LMTPSA", "HTTP",
      "HTTPS",      "IMAP",     "POP3",      "MMS",       "LOCAL"};
  struct alias {
    std::string_view written;
    std::string_view protocol;
  };
  // Names real MTAs write for the same protocols: batch SMTP, Microsoft's SMTP service,
  // CommuniGate's "ESMTP-TLS" (RFC 3848 would say ESMTPS), Gmail's API submission.
  static constexpr std::array<alias, 5> aliases = {{{"BSMTP", "SMTP"},
                                                    {"SMTPSVC", "SMTP"},
                                                    {"ESMTP-TLS", "ESMTPS"},
                                                    {"SMTP-TLS", "SMTPS"},
                                                    {"HTTPREST", "HTTP"}}};
  if (istarts_with(w, "local-")) w.remove_prefix(6); // Exim: "local-esmtp", "local-bsmtp"
  for (auto k : known)
    if (iequals(w, k)) return std::string(k);
  for (const auto& a : aliases)
    if (iequals(w, a.written)) return std::string(a.protocol);
  return std::nullopt;
}

enum class clause { none, from, by, via, with, id, for_, ignored };

clause keyword_of(std::string_view w) noexcept {
  if (iequals(w, "from")) return clause::from;
  if (iequals(w, "by")) return clause::by;
  if (iequals(w, "via")) return clause::via;
  if (iequals(w, "with")) return clause::with;
  if (iequals(w, "id")) return clause::id;
  if (iequals(w, "for")) return clause::for_;
  return clause::none;
}

// Strip what surrounds a recipient or an id word: trailing punctuation, angle brackets.
std::string_view clean_value(std::string_view v) {
  while (!v.empty() && (v.back() == ',' || v.back() == ';' || v.back() == '.'))
    v.remove_suffix(1);
  if (!v.empty() && v.front() == '<') v.remove_prefix(1);
  if (!v.empty() && v.back() == '>') v.remove_suffix(1);
  return v;
}

class reader {
public:
  received r;

  // Read the clauses of a list of top-level items.
  void read(const std::vector<item>& items) {
    for (std::size_t k = 0; k < items.size(); ++k) {
      const item& it = items[k];
      if (it.type == item::kind::word) {
        const clause kw = keyword_of(it.text);
        if (kw != clause::none) {
          start(kw);
          continue;
        }
      }
      if (expecting_) {
        expecting_ = false;
        if (take_value(it)) continue;
      }
      extra(it);
    }
    finish_with();
  }

  // After the date only a stray "for" clause is looked for ("...; date for <rcpt>").
  void read_tail(const std::vector<item>& items) {
    for (std::size_t k = 0; k + 1 < items.size(); ++k)
      if (items[k].type == item::kind::word && keyword_of(items[k].text) == clause::for_ &&
          !r.for_) {
        set_for(items[k + 1]);
      }
  }

  // TLS version and cipher appear in comments and loose words of several clauses.
  void scan_tls(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
      const std::size_t j = text.find_first_of(" \t\r\n,;/:=()[]<>", i);
      const std::string_view t = text.substr(i, j == std::string_view::npos ? j : j - i);
      if (!t.empty()) {
        if (!r.tls_version) {
          if (std::string v = tls_version_of(t); !v.empty()) r.tls_version = std::move(v);
        }
        if (!r.tls_cipher && is_cipher(t)) r.tls_cipher = std::string(t);
      }
      if (j == std::string_view::npos) break;
      i = j + 1;
    }
  }

private:
  clause current_ = clause::none;
  bool expecting_ = false;
  bool seen_from_ = false;
  std::vector<std::string_view> with_words_;

  void start(clause kw) {
    finish_with();
    // A repeated clause ("... from <sender>" after the recipient in XMail fields) never
    // overrides the first one.
    const bool seen = (kw == clause::from && seen_from_) || (kw == clause::by && r.by) ||
                      (kw == clause::via && r.via) || (kw == clause::with && r.with) ||
                      (kw == clause::id && r.id) || (kw == clause::for_ && r.for_);
    current_ = seen ? clause::ignored : kw;
    if (kw == clause::from) seen_from_ = true;
    expecting_ = true;
  }

  bool take_value(const item& it) {
    switch (current_) {
    case clause::from:
      if (it.type == item::kind::comment) return false; // "from (TCP-info)": no name given
      r.from = item_host(it);
      return true;
    case clause::by:
      if (it.type == item::kind::comment) return false;
      r.by = item_host(it);
      return true;
    case clause::via:
      if (it.type != item::kind::word) return false;
      r.via = std::string(clean_value(it.text));
      return true;
    case clause::with:
      if (it.type != item::kind::word && it.type != item::kind::literal) return false;
      with_words_.push_back(it.text);
      return true;
    case clause::id:
      if (it.type == item::kind::word || it.type == item::kind::angle) {
        // Some MTAs append a queue suffix after '/' ("EE/20-30863-33CE1054").
        std::string_view v = clean_value(it.text);
        if (it.type == item::kind::word) v = v.substr(0, v.find('/'));
        if (!v.empty()) r.id = std::string(v);
        return true;
      }
      return false;
    case clause::for_:
      set_for(it);
      return true;
    default:
      return false;
    }
  }

  void set_for(const item& it) {
    if (it.type != item::kind::word && it.type != item::kind::angle) return;
    const std::string_view v = clean_value(it.text);
    // RFC 5321 §4.4: For = "FOR" (Path / Mailbox): an address, or the bare Postmaster.
    if (v.find('@') != std::string_view::npos || iequals(v, "postmaster")) r.for_ = std::string(v);
  }

  void extra(const item& it) {
    if (it.type == item::kind::comment) scan_tls(it.text);
    if (it.type == item::kind::word && current_ != clause::with) scan_tls(it.text);
    switch (current_) {
    case clause::from:
      if (it.type == item::kind::comment) {
        tcp_info(split_items(it.text, true), true);
      } else {
        tcp_info({it}, false);
      }
      break;
    case clause::with:
      if (it.type == item::kind::word || it.type == item::kind::literal)
        with_words_.push_back(it.text);
      break;
    default:
      break;
    }
  }

  // The with clause: the first word that names a protocol ("with Microsoft SMTPSVC", "with
  // [XMail 1.20 ESMTP Server]", "with ESMTP/TLS/cipher"); else the first word as written.
  void finish_with() {
    if (with_words_.empty()) return;
    std::optional<std::string> found;
    std::string_view first;
    for (std::string_view w : with_words_) {
      scan_tls(w);
      std::size_t i = 0;
      while (i < w.size() && !found) {
        const std::size_t j = w.find_first_of(" \t/", i);
        const std::string_view t = w.substr(i, j == std::string_view::npos ? j : j - i);
        if (first.empty()) first = t;
        if (!t.empty()) found = protocol_of(t);
        if (j == std::string_view::npos) break;
        i = j + 1;
      }
      if (found) break;
    }
    if (!r.with) {
      if (found)
        r.with = std::move(*found);
      else if (!first.empty())
        r.with = std::string(first);
    }
    with_words_.clear();
  }

  void set_ip(std::optional<std::string> ip) {
    if (ip && !r.from_ip) r.from_ip = std::move(*ip); // the first address is the connecting one
  }

  // An ident: "user@host" with any "IDENT:" prefix and "/suffix" removed; "user@" before an
  // address literal keeps only the user.
  void set_ident(std::string_view w) {
    if (istarts_with(w, "IDENT:")) w.remove_prefix(6);
    std::size_t start = 0;
    while (start < w.size()) {
      const std::size_t slash = w.find('/', start);
      const std::string_view part =
          w.substr(start, slash == std::string_view::npos ? slash : slash - start);
      if (part.find('@') != std::string_view::npos) {
        std::string_view v = clean_value(part);
        if (!v.empty() && v.back() == '@') v.remove_suffix(1);
        if (!v.empty()) r.ident = std::string(v);
        return;
      }
      if (slash == std::string_view::npos) return;
      start = slash + 1;
    }
  }

  // RFC 5321 §4.4: TCP-info = address-literal / ( Domain FWS address-literal ), the reverse DNS
  // name and address of the client, in the comment after the from name; MTAs add the HELO name
  // ("HELO x", "helo=x"), an ident ("IDENT:user@host", "user@[addr]", "ident=user") and TLS.
  void tcp_info(const std::vector<item>& items, bool comment) {
    for (std::size_t k = 0; k < items.size(); ++k) {
      const item& it = items[k];
      const std::string_view t = it.text;
      if (it.type == item::kind::literal) {
        if (auto ip = ip_text(t))
          set_ip(std::move(ip));
        else if (t.find('@') != std::string_view::npos)
          set_ident(t);
        continue;
      }
      if (it.type == item::kind::angle) {
        if (t.find('@') != std::string_view::npos)
          set_ident(t);
        else if (comment && k == 0 && !r.from_iprev && is_hostname(t))
          r.from_iprev = std::string(t);
        continue;
      }
      if (it.type != item::kind::word) continue;
      if (iequals(t, "HELO") || iequals(t, "EHLO") || iequals(t, "LHLO")) {
        std::string cmd(t);
        for (char& c : cmd)
          c = ascii_upper(c);
        r.helo_cmd = std::move(cmd);
        if (k + 1 < items.size() && items[k + 1].type != item::kind::comment) {
          if (auto h = item_host(items[k + 1])) r.helo = std::move(h);
          ++k;
        }
        continue;
      }
      if (istarts_with(t, "helo=")) {
        r.helo_cmd = "HELO";
        if (t.size() > 5) r.helo = word_host(t.substr(5));
        continue;
      }
      if (istarts_with(t, "ident=")) {
        std::string_view v = t.substr(6);
        if (v.empty() && k + 1 < items.size()) v = items[++k].text;
        v = v.substr(0, v.find('/'));
        if (!v.empty()) r.ident = std::string(v);
        continue;
      }
      if (t.find('@') != std::string_view::npos) {
        set_ident(t);
        continue;
      }
      if (auto ip = as_ipv4(clean_value(t))) {
        set_ip(std::move(ip));
        continue;
      }
      if (auto ip = as_ipv6(t)) {
        set_ip(std::move(ip));
        continue;
      }
      // The reverse DNS name leads the comment; "localhost", "unknown" and other undotted
      // stand-ins are not names.
      if (comment && k == 0 && !r.from_iprev && is_hostname(t)) r.from_iprev = std::string(t);
    }
  }
};

bool is_empty(const received& r) noexcept {
  return !r.from && !r.helo && !r.helo_cmd && !r.from_iprev && !r.from_ip && !r.ident && !r.by &&
         !r.via && !r.with && !r.tls_version && !r.tls_cipher && !r.id && !r.for_ && !r.date;
}

} // namespace

std::optional<received> parse_received(std::string_view raw) {
  const std::string s = unfold(detail::field_body(raw));
  std::vector<item> items = split_items(s, false);

  // RFC 5322 §3.6.7: received = "Received:" [1*received-token / CFWS] ";" date-time. The date
  // follows the last ';' outside comments.
  std::size_t date_at = items.size();
  for (std::size_t k = items.size(); k-- > 0;)
    if (items[k].type == item::kind::semicolon) {
      date_at = k;
      break;
    }

  reader rd;
  std::size_t first = 0;
  // qmail, NAV and sendmail's submission agent put the from clause in a leading comment:
  // "(from user@localhost) by host ..." / "(from localhost [1.2.3.4]) by ...".
  if (!items.empty() && items[0].type == item::kind::comment && date_at > 0 &&
      istarts_with(trim(items[0].text), "from ")) {
    std::vector<item> inner = split_items(trim(items[0].text), false);
    rd.read(inner);
    first = 1;
  }
  rd.read(std::vector<item>(items.begin() + static_cast<std::ptrdiff_t>(first),
                            items.begin() + static_cast<std::ptrdiff_t>(date_at)));
  if (date_at < items.size()) {
    const std::string_view tail = std::string_view(s).substr(items[date_at].end);
    rd.r.date = parse_date(tail);
    rd.read_tail(split_items(tail, false));
  }
  if (is_empty(rd.r)) return std::nullopt;
  return std::move(rd.r);
}

} // namespace mailkit::mime
