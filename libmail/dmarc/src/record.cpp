// SPDX-License-Identifier: Apache-2.0
#include <mailkit/dmarc/record.hpp>

#include <algorithm>
#include <charconv>

namespace mailkit::dmarc {

namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower_copy(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = lower(c);
  return out;
}

bool is_wsp(char c) noexcept {
  // RFC 6376 §3.2 tag-list: FWS around tags and values (WSP and folding).
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_wsp(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back()))
    s.remove_suffix(1);
  return s;
}

std::optional<policy> parse_policy(std::string_view v) {
  // RFC 7489 §6.4: dmarc-request = "none" / "quarantine" / "reject" (ABNF: case-insensitive)
  const std::string l = lower_copy(v);
  if (l == "none") return policy::none;
  if (l == "quarantine") return policy::quarantine;
  if (l == "reject") return policy::reject;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_uint(std::string_view v, std::uint64_t max) {
  if (v.empty() || v.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n > max) return std::nullopt;
  return n;
}

// RFC 7489 §6.4: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; URIs are
// separated by ",". A URI needs a scheme (RFC 3986 §3.1); commas and "!" in it are
// %-encoded (RFC 7489 §6.3).
std::optional<report_uri> parse_uri(std::string_view v) {
  v = trim(v);
  report_uri out;
  if (auto bang = v.rfind('!'); bang != std::string_view::npos) {
    std::string_view size = v.substr(bang + 1);
    v = v.substr(0, bang);
    std::uint64_t mult = 1;
    if (!size.empty()) {
      switch (lower(size.back())) {
      case 'k':
        mult = 1ull << 10;
        break;
      case 'm':
        mult = 1ull << 20;
        break;
      case 'g':
        mult = 1ull << 30;
        break;
      case 't':
        mult = 1ull << 40;
        break;
      default:
        break;
      }
      if (mult != 1) size.remove_suffix(1);
    }
    auto n = parse_uint(size, 1ull << 20);
    if (!n) return std::nullopt;
    out.max_size = *n * mult;
  }
  const auto colon = v.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  for (std::size_t i = 0; i < colon; ++i) {
    const char c = v[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return std::nullopt;
  }
  if (colon + 1 >= v.size()) return std::nullopt;
  for (char c : v)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return std::nullopt;
  out.uri = std::string(v);
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  return out;
}

} // namespace

std::string_view to_string(policy p) noexcept {
  switch (p) {
  case policy::none:
    return "none";
  case policy::quarantine:
    return "quarantine";
  case policy::reject:
    return "reject";
  }
  return "none";
}

bool is_dmarc_record(std::string_view txt) noexcept {
  // RFC 7489 §6.6.3 step 3 and §6.4: the record starts with "v" *WSP "=" *WSP "DMARC1"
  // (the value case-sensitive: %x44 %x4d %x41 %x52 %x43 %x31), then ";" or the end.
  txt = trim(txt);
  if (txt.empty() || txt[0] != 'v') return false;
  txt.remove_prefix(1);
  txt = trim(txt);
  if (txt.empty() || txt[0] != '=') return false;
  txt.remove_prefix(1);
  txt = trim(txt);
  if (txt.substr(0, 6) != "DMARC1") return false;
  txt.remove_prefix(6);
  txt = trim(txt);
  return txt.empty() || txt[0] == ';';
}

tl::expected<record, std::string> parse_record(std::string_view txt) {
  if (!is_dmarc_record(txt))
    return tl::make_unexpected(std::string("not a DMARC record: v=DMARC1 must come first"));
  record rec;
  bool have_p = false, bad_p = false, bad_sp = false;
  std::vector<std::string> seen;
  const auto parts = split(txt, ';');
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const std::string_view part = parts[k];
    if (part.empty()) continue; // RFC 6376 §3.2: a trailing ";" is allowed
    const auto eq = part.find('=');
    if (eq == std::string_view::npos)
      return tl::make_unexpected("tag without '=': " + std::string(part));
    const std::string name = lower_copy(trim(part.substr(0, eq)));
    const std::string_view value = trim(part.substr(eq + 1));
    if (name.empty()) return tl::make_unexpected(std::string("empty tag name"));
    // RFC 6376 §3.2 (the tag-list DMARC uses, RFC 7489 §6.4): a duplicated tag makes the whole
    // tag-list invalid.
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return tl::make_unexpected("duplicate tag " + name + "=");
    seen.push_back(name);
    rec.tags.emplace_back(name, std::string(value));
    if (k == 0) continue; // v=DMARC1, checked above

    if (name == "v") {
      // RFC 7489 §6.3: v MUST be the first tag.
      return tl::make_unexpected(std::string("v= is not the first tag"));
    } else if (name == "p") {
      // RFC 7489 §6.3: p (REQUIRED for policy records).
      if (auto p = parse_policy(value)) {
        rec.p = *p;
        have_p = true;
      } else {
        bad_p = true;
      }
    } else if (name == "sp" || name == "np") {
      auto p = parse_policy(value);
      if (!p) {
        if (name == "sp")
          bad_sp = true;
        else
          rec.warnings.push_back("invalid np= ignored"); // RFC 9091 §4.1
      } else {
        (name == "sp" ? rec.sp : rec.np) = *p;
      }
    } else if (name == "adkim" || name == "aspf") {
      // RFC 7489 §6.3: "r" (default) or "s".
      const std::string l = lower_copy(value);
      alignment a = alignment::relaxed;
      if (l == "s") {
        a = alignment::strict;
      } else if (l != "r") {
        rec.warnings.push_back("invalid " + name + "= (relaxed used)");
      }
      (name == "adkim" ? rec.adkim : rec.aspf) = a;
    } else if (name == "pct") {
      // RFC 7489 §6.3: pct = integer 0-100, default 100.
      if (auto n = parse_uint(value, 100)) {
        rec.pct = static_cast<unsigned>(*n);
      } else {
        rec.warnings.push_back("invalid pct= (100 used)");
      }
    } else if (name == "rua" || name == "ruf") {
      auto& list = name == "rua" ? rec.rua : rec.ruf;
      for (auto u : split(value, ',')) {
        if (auto uri = parse_uri(u)) {
          list.push_back(std::move(*uri));
        } else {
          rec.warnings.push_back("invalid " + name + "= URI ignored: " + std::string(u));
        }
      }
    } else if (name == "fo") {
      // RFC 7489 §6.3: fo = "0" / "1" / "d" / "s", colon-separated.
      std::vector<std::string> fo;
      bool ok = true;
      for (auto o : split(value, ':')) {
        const std::string l = lower_copy(o);
        if (l == "0" || l == "1" || l == "d" || l == "s") {
          fo.push_back(l);
        } else {
          ok = false;
        }
      }
      if (ok && !fo.empty()) {
        rec.fo = std::move(fo);
      } else {
        rec.warnings.push_back("invalid fo= (0 used)");
      }
    } else if (name == "rf") {
      // RFC 7489 §6.3: rf = Key-Value format names, colon-separated; "afrf" is defined.
      std::vector<std::string> rf;
      bool ok = true;
      for (auto o : split(value, ':')) {
        const std::string l = lower_copy(o);
        if (l == "afrf" || l == "iodef") {
          rf.push_back(l);
        } else {
          ok = false;
        }
      }
      if (ok && !rf.empty()) {
        rec.rf = std::move(rf);
      } else {
        rec.warnings.push_back("invalid rf= (afrf used)");
      }
    } else if (name == "ri") {
      // RFC 7489 §6.3: ri = 32-bit unsigned integer, default 86400.
      if (auto n = parse_uint(value, 0xffffffffull)) {
        rec.ri = static_cast<std::uint32_t>(*n);
      } else {
        rec.warnings.push_back("invalid ri= (86400 used)");
      }
    } else {
      // RFC 7489 §6.3: unknown tags MUST be ignored.
      rec.warnings.push_back("unknown tag " + name + "= ignored");
    }
  }
  // RFC 7489 §6.6.3: a record without a valid p= (or with an invalid sp=) is used as p=none
  // when rua= has a valid URI; otherwise no DMARC processing applies.
  if (!have_p || bad_p || bad_sp) {
    if (rec.rua.empty()) {
      return tl::make_unexpected(std::string(bad_sp  ? "invalid sp="
                                             : bad_p ? "invalid p="
                                                     : "missing p="));
    }
    rec.p = policy::none;
    rec.sp.reset();
    rec.p_from_rua = true;
    rec.warnings.push_back("missing or invalid p=/sp=: treated as p=none (rua= present)");
  }
  return rec;
}

} // namespace mailkit::dmarc
