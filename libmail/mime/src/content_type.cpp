// SPDX-License-Identifier: Apache-2.0
// Content-Type and Content-Disposition values.
//
//   content := type "/" subtype *(";" parameter)                        (RFC 2045 §5.1)
//   parameter := attribute "=" value ; value := token / quoted-string
//   parameter := attribute ["*" section] ["*"] "=" value                  (RFC 2231 §3-§4)
//   extended-initial-value := [charset] "'" [language] "'" extended-other-values
//
// The reader is deliberately forgiving, as mail clients are: comments anywhere, whitespace around
// '/', '=' and inside values, a fold standing in for a missing ';', RFC 2047 words inside values,
// charset prefixes repeated on every RFC 2231 segment, unterminated quoted strings. Each of those
// spots says so below.
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/charset.hpp>
#include <mailkit/mime/content_type.hpp>
#include <mailkit/mime/encoded_word.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mailkit::mime {
namespace {

// Marks where a line break of a fold was; the WSP after it is kept (a quoted string keeps it).
constexpr char fold_mark = '\n';

// RFC 2231 continuations are bounded so a hostile header cannot make us sort and join millions
// of segments (content_type.hpp promises at most 1000).
constexpr std::size_t max_segments = 1000;

// RFC 5646 language tags are at most 35 characters in practice ("zh-Hant-HK-x-private").
constexpr std::size_t max_language = 64;

// Replace each line break of a fold by one mark, keeping the WSP after it. RFC 5322 §2.2.3: a
// line break not followed by WSP ends the field, so the value ends there. Bare CRs are dropped.
std::string mark_folds(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\r') continue;
    if (c != '\n') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= raw.size() || !is_wsp(raw[i + 1])) break;
    out.push_back(fold_mark);
  }
  return out;
}

std::string as_utf8(std::string_view bytes) {
  // RFC 6532 §3.2: raw UTF-8 is allowed; other 8-bit bytes are read as mail clients do.
  if (!has_8bit(bytes) || is_valid_utf8(bytes)) return std::string(bytes);
  return to_utf8_lenient(bytes, "windows-1252");
}

class reader {
public:
  explicit reader(std::string_view s) : s_(s) {}
  [[nodiscard]] bool done() const noexcept { return i_ >= s_.size(); }
  [[nodiscard]] char peek() const noexcept { return s_[i_]; }
  void advance() noexcept { ++i_; }
  [[nodiscard]] std::size_t pos() const noexcept { return i_; }

  // RFC 5322 §3.2.2: comments nest and may hold quoted pairs. An unterminated one runs to the
  // end of the field.
  void skip_comment() noexcept {
    int depth = 0;
    while (!done()) {
      const char c = s_[i_++];
      if (c == '\\' && !done())
        ++i_;
      else if (c == '(')
        ++depth;
      else if (c == ')' && --depth == 0)
        return;
    }
  }

private:
  std::string_view s_;
  std::size_t i_ = 0;
};

// One parameter occurrence as written: name, RFC 2231 section and encoding, raw value.
struct segment {
  std::size_t index = 0;     // RFC 2231 section number; 0 also for a plain parameter
  bool continuation = false; // written with a section number above zero
  bool extended = false;     // RFC 2231 "*" before "=": charset'language'percent-encoded
  bool rfc2231 = false;      // any "*" form (preferred over a plain duplicate)
  std::string value;         // text for plain segments, percent-decoded bytes when extended
  std::string charset;       // extended segments: the declared charset, if any
};

struct param_slot {
  std::string name;
  std::string language;
  std::vector<segment> segments;
  bool has_base = false;      // a plain or section-0 segment was seen (fixes its position)
  std::size_t base_order = 0; // order of that segment among all parameters
};

// Reads "attr", "attr*", "attr*N", "attr*N*" leniently: stray '*'s before the name are dropped
// and anything after the section's trailing '*' is ignored. A section that is not a number (or
// overflows) counts as section 0.
struct parsed_name {
  std::string name;
  std::size_t index = 0;
  bool continuation = false;
  bool extended = false;
  bool rfc2231 = false;
};

parsed_name parse_name(std::string_view raw) {
  parsed_name n;
  while (!raw.empty() && (raw.front() == '*' || is_space(raw.front()) || raw.front() == fold_mark))
    raw.remove_prefix(1);
  const std::size_t star = raw.find('*');
  n.name = to_lower(trim(raw.substr(0, star)));
  if (star == std::string_view::npos) return n;
  n.rfc2231 = true;
  const std::string_view rest = raw.substr(star + 1);
  const std::size_t star2 = rest.find('*');
  const std::string_view section = trim(rest.substr(0, star2));
  if (section.empty()) {
    n.extended = true; // "name*=" or "name**"
    return n;
  }
  n.extended = star2 != std::string_view::npos;
  std::uint64_t v = 0;
  for (char c : section) {
    if (!is_digit(c) || v > 100000000) return n; // not a number, or absurd: section 0
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  n.index = static_cast<std::size_t>(v);
  n.continuation = v > 0;
  return n;
}

bool looks_like_language(std::string_view s) noexcept {
  if (s.size() > max_language) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '-'; });
}

// RFC 2231 §4: "charset'language'value" on the first segment. Lenient: senders that repeat the
// "charset'" prefix (with or without the language) on later segments are understood too, since
// a known charset name followed by a quote is never the start of real text.
void split_extended(std::string_view v, bool first, std::string& charset, std::string& language,
                    std::string& rest) {
  const std::size_t q1 = v.find('\'');
  if (q1 != std::string_view::npos) {
    const std::string_view cs = v.substr(0, q1);
    if ((first &&
         (cs.empty() || is_known_charset(cs) || v.find('\'', q1 + 1) != std::string_view::npos)) ||
        (!cs.empty() && is_known_charset(cs))) {
      charset = std::string(cs);
      v.remove_prefix(q1 + 1);
      const std::size_t q2 = v.find('\'');
      if (q2 != std::string_view::npos && looks_like_language(v.substr(0, q2))) {
        language = std::string(v.substr(0, q2));
        v.remove_prefix(q2 + 1);
      }
    }
  }
  // RFC 2231 §4: "%" followed by two hex digits is an octet; a stray '%' is kept as written.
  rest.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && hex_value(v[i + 1]) >= 0 && hex_value(v[i + 2]) >= 0) {
      rest.push_back(static_cast<char>(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2])));
      i += 2;
    } else {
      rest.push_back(v[i]);
    }
  }
}

// A value as written after '=': quoted string or token, plus whether it was quoted.
struct raw_value {
  std::string text;
  bool quoted = false;
  bool present = false;
};

raw_value read_value(reader& r) {
  raw_value v;
  // Whitespace after '=' is tolerated ("charset= bar"); a fold before any value means the
  // value is missing and the next line starts the next parameter.
  while (!r.done() && is_wsp(r.peek()))
    r.advance();
  if (r.done() || r.peek() == fold_mark || r.peek() == ';') return v;
  if (r.peek() == '"') {
    r.advance();
    v.quoted = true;
    v.present = true;
    // RFC 5322 §3.2.4: quoted-string with quoted pairs. Unterminated: runs to the end of the
    // field, as readers show it. A fold inside keeps its WSP (RFC 5322 §2.2.3 unfolding).
    while (!r.done()) {
      const char c = r.peek();
      r.advance();
      if (c == '"') break;
      if (c == '\\' && !r.done()) {
        v.text.push_back(r.peek());
        r.advance();
        continue;
      }
      v.text.push_back(c);
    }
    return v;
  }
  // Token, read leniently: up to ';', a comment or a fold (which stands in for a missing ';').
  // Inner spaces are kept ("name=my file.pdf"), trailing ones dropped.
  while (!r.done()) {
    const char c = r.peek();
    if (c == ';' || c == '(' || c == fold_mark) break;
    v.text.push_back(c);
    r.advance();
  }
  v.text = std::string(trim_right(v.text));
  v.present = !v.text.empty();
  return v;
}

std::string without_fold_marks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != fold_mark) out.push_back(c);
  return out;
}

// The fold mark and the WSP after it become one mark, as decode_text expects.
std::string collapse_folds(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    out.push_back(s[i]);
    if (s[i] == fold_mark)
      while (i + 1 < s.size() && is_wsp(s[i + 1]))
        ++i;
  }
  return out;
}

// A plain (not RFC 2231 encoded) value: RFC 2047 words are decoded, which RFC 2047 §5 does not
// allow inside parameters but which many mailers write for non-ASCII filenames.
std::string plain_value(const raw_value& v) {
  if (v.text.find("=?") == std::string::npos) return as_utf8(without_fold_marks(v.text));
  detail::word_options opt;
  opt.space_around_words = false;          // "=?..?=.pdf" is one filename
  opt.keep_space_between_words = v.quoted; // a space written inside quotes is content
  return detail::decode_text(collapse_folds(v.text), opt);
}

// Joins the segments of one parameter in section order. Adjacent extended segments in one
// charset are joined as bytes before conversion so a character split between segments decodes.
std::string assemble(std::vector<segment>& segs) {
  std::stable_sort(segs.begin(), segs.end(),
                   [](const segment& a, const segment& b) { return a.index < b.index; });
  std::string charset; // RFC 2231 §4: the first segment's charset applies to the others
  for (const auto& s : segs)
    if (s.extended && !s.charset.empty()) {
      charset = s.charset;
      break;
    }
  std::string out;
  std::string pending;
  std::string pending_charset;
  bool have_pending = false;
  const auto flush = [&] {
    if (have_pending) out += to_utf8_lenient(pending, pending_charset);
    pending.clear();
    have_pending = false;
  };
  for (const auto& s : segs) {
    if (!s.extended) {
      flush();
      out += s.value;
      continue;
    }
    const std::string& cs = s.charset.empty() ? charset : s.charset;
    if (have_pending && !iequals(cs, pending_charset)) flush();
    pending += s.value;
    pending_charset = cs;
    have_pending = true;
  }
  flush();
  return out;
}

std::string read_type_token(reader& r, bool subtype) {
  std::string out;
  while (!r.done()) {
    const char c = r.peek();
    if (c == ';') break;
    if (c == '/' && !subtype) break;
    if (c == fold_mark) {
      // A fold after the token stands in for the ';' the sender left out
      // ("application/x-stuff\r\n title*0*=...").
      if (!out.empty()) break;
      r.advance();
      continue;
    }
    if (c == '(') {
      r.skip_comment();
      continue;
    }
    r.advance();
    // RFC 2045 §5.1 puts no whitespace or quotes inside type and subtype; they are skipped
    // ("image/ jpeg", " message / rfc822").
    if (is_wsp(c) || c == '"' || c == '\\') continue;
    out.push_back(ascii_lower(c));
  }
  return out;
}

} // namespace

std::optional<std::string_view> content_type::param(std::string_view name) const noexcept {
  for (const auto& p : params)
    if (iequals(p.name, name)) return std::string_view(p.value);
  return std::nullopt;
}

std::string content_type::mime_type() const {
  std::string out = to_lower(type);
  if (!subtype.empty()) {
    out.push_back('/');
    out += to_lower(subtype);
  }
  return out;
}

bool content_type::is(std::string_view type_, std::string_view subtype_) const noexcept {
  if (!iequals(type, type_)) return false;
  return subtype_.empty() || iequals(subtype, subtype_);
}

content_type parse_content_type(std::string_view raw) {
  const std::string s = mark_folds(raw);
  reader r(s);
  content_type ct;
  ct.type = as_utf8(read_type_token(r, false));
  if (!r.done() && r.peek() == '/') {
    r.advance();
    ct.subtype = as_utf8(read_type_token(r, true));
  }
  // RFC 2045 §5.2: a field without a type is no Content-Type; the caller applies the default.
  if (ct.type.empty()) return {};

  std::vector<param_slot> slots;
  std::unordered_map<std::string, std::size_t> slot_of; // name -> index in slots
  std::size_t order = 0;
  while (!r.done()) {
    const char c = r.peek();
    if (c == ';' || is_wsp(c) || c == fold_mark) {
      r.advance();
      continue;
    }
    if (c == '(') {
      r.skip_comment();
      continue;
    }
    // attribute: everything up to '='. Reaching ';', a fold or the end first means a name
    // without a value, which carries nothing and is dropped.
    const std::size_t name_begin = r.pos();
    while (!r.done() && r.peek() != '=' && r.peek() != ';' && r.peek() != fold_mark &&
           r.peek() != '(' && r.peek() != '"')
      r.advance();
    const std::string_view raw_name(s.data() + name_begin, r.pos() - name_begin);
    if (r.done() || r.peek() != '=') {
      if (!r.done() && r.peek() == '"') r.advance(); // a stray quote in a name: skip it
      continue;
    }
    r.advance(); // '='
    const raw_value v = read_value(r);
    // After a value, anything up to the next ';' or fold is junk ("x (comment)", "a=b c").
    // A quoted value may be followed directly by the next parameter (missing ';').
    if (!v.quoted) {
      while (!r.done() && r.peek() != ';' && r.peek() != fold_mark) {
        if (r.peek() == '(')
          r.skip_comment();
        else
          r.advance();
      }
    }
    const parsed_name n = parse_name(raw_name);
    if (n.name.empty() || !v.present) continue;

    auto [it, added] = slot_of.try_emplace(n.name, slots.size());
    if (added) {
      slots.push_back({});
      slots.back().name = n.name;
    }
    param_slot* slot = &slots[it->second];
    if (slot->segments.size() >= max_segments) continue;

    segment seg;
    seg.index = n.index;
    seg.continuation = n.continuation;
    seg.extended = n.extended;
    seg.rfc2231 = n.rfc2231;
    if (n.extended) {
      std::string language;
      split_extended(v.text, !n.continuation, seg.charset, language, seg.value);
      if (!language.empty() && slot->language.empty()) slot->language = language;
    } else {
      seg.value = plain_value(v);
    }
    // Duplicates: the first occurrence of a section wins, except that an RFC 2231 form beats a
    // plain one of the same name ("filename=x; filename*=utf-8''..." is a fallback pair and the
    // encoded one is the real name).
    const auto is_plain = [](const segment& o) { return !o.rfc2231; };
    if (!seg.rfc2231 && !slot->segments.empty()) continue;
    if (seg.rfc2231)
      slot->segments.erase(std::remove_if(slot->segments.begin(), slot->segments.end(), is_plain),
                           slot->segments.end());
    if (std::any_of(slot->segments.begin(), slot->segments.end(),
                    [&](const segment& o) { return o.index == seg.index; }))
      continue;
    if (!seg.continuation && !slot->has_base) {
      slot->has_base = true;
      slot->base_order = order++;
    }
    slot->segments.push_back(std::move(seg));
  }

  // Parameters in order of their first plain or section-0 occurrence; those seen only as later
  // sections (broken senders) follow, by name.
  std::stable_sort(slots.begin(), slots.end(), [](const param_slot& a, const param_slot& b) {
    if (a.has_base != b.has_base) return a.has_base;
    if (a.has_base) return a.base_order < b.base_order;
    return a.name < b.name;
  });
  for (auto& slot : slots) {
    if (slot.segments.empty()) continue;
    // The RFC 2231 language has no place in a parameter's value; it is reported as a
    // parameter of its own, "<name>-language", just before the parameter it belongs to.
    if (!slot.language.empty())
      ct.params.push_back({slot.name + "-language", as_utf8(slot.language)});
    ct.params.push_back({slot.name, assemble(slot.segments)});
  }
  return ct;
}

namespace {

// RFC 2045 §5.1: tspecials and what else cannot appear in a token.
bool is_token_char(char c) noexcept {
  if (c <= 0x20 || c >= 0x7F) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

// RFC 2231 §7 attribute-char without "*", "'", "%" — the RFC 5987 attr-char set, which every
// reader accepts unencoded.
bool is_attr_char(char c) noexcept {
  return is_alpha(c) || is_digit(c) ||
         std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
}

// Encoded segments are kept to this many characters so each fits a folded line.
constexpr std::size_t max_segment_chars = 50;

std::size_t utf8_char_length(unsigned char lead) noexcept {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

} // namespace

std::string format_parameter(std::string_view name, std::string_view value) {
  std::string out;
  const bool ascii =
      std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
  // ASCII that looks like an RFC 2047 word would be decoded by readers (ours included), so it
  // is written RFC 2231-encoded, where no such reading applies.
  if (ascii && value.find("=?") == std::string_view::npos) {
    out += "; ";
    out += name;
    out.push_back('=');
    if (!value.empty() && std::all_of(value.begin(), value.end(), is_token_char)) {
      out += value;
      return out;
    }
    // RFC 5322 §3.2.4: quoted-string; '"' and '\' need a quoted pair.
    out.push_back('"');
    for (char c : value) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
    return out;
  }
  // RFC 2231 §4: name*=utf-8''percent-encoded, split into name*0*, name*1*, ... (§3) when long.
  // A segment never ends inside a UTF-8 sequence, for readers that convert segment by segment.
  static constexpr char hex[] = "0123456789ABCDEF";
  std::vector<std::string> segments(1);
  for (std::size_t i = 0; i < value.size();) {
    const std::size_t n =
        std::min(utf8_char_length(static_cast<unsigned char>(value[i])), value.size() - i);
    std::string piece;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = value[i + k];
      if (is_attr_char(c)) {
        piece.push_back(c);
      } else {
        const auto b = static_cast<unsigned char>(c);
        piece.push_back('%');
        piece.push_back(hex[b >> 4]);
        piece.push_back(hex[b & 0xF]);
      }
    }
    if (!segments.back().empty() && segments.back().size() + piece.size() > max_segment_chars)
      segments.emplace_back();
    segments.back() += piece;
    i += n;
  }
  for (std::size_t k = 0; k < segments.size(); ++k) {
    out += "; ";
    out += name;
    if (segments.size() > 1) {
      out.push_back('*');
      out += std::to_string(k);
    }
    out += "*=";
    if (k == 0) out += "utf-8''";
    out += segments[k];
  }
  return out;
}

} // namespace mailkit::mime
