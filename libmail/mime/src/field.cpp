// SPDX-License-Identifier: Apache-2.0
// Message identifiers (RFC 5322 §3.6.4, obsolete forms §4.5.4) and comma-separated phrase lists
// (RFC 5322 §3.6.5 Keywords, RFC 2369 List-* text), read leniently as mail clients read them.
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/encoded_word.hpp>
#include <mailkit/mime/field.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mime {

namespace detail {

std::string_view field_body(std::string_view raw) noexcept {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\r' && c != '\n') continue;
    std::size_t next = i + 1;
    if (c == '\r' && next < raw.size() && raw[next] == '\n') ++next;
    // RFC 5322 §2.2.3: only a line break followed by WSP is folding; any other ends the field.
    if (next >= raw.size() || !is_wsp(raw[next])) return raw.substr(0, i);
    i = next - 1;
  }
  return raw;
}

} // namespace detail

namespace {

// Append `s` with CR and LF removed: after field_body every remaining line break is folding,
// and RFC 5322 §2.2.3 unfolding removes exactly the CRLF.
void append_unfolded(std::string& out, std::string_view s) {
  for (char c : s)
    if (c != '\r' && c != '\n') out += c;
}

// Index just past the comment that opens at s[pos] == '('. Comments nest (RFC 5322 §3.2.2); a
// depth counter rather than recursion keeps hostile nesting cheap. Unclosed: end of input.
std::size_t skip_comment(std::string_view s, std::size_t pos) noexcept {
  std::size_t depth = 0;
  for (; pos < s.size(); ++pos) {
    const char c = s[pos];
    if (c == '\\') {
      ++pos; // RFC 5322 §3.2.1: quoted-pair
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0) return pos + 1;
    }
  }
  return s.size();
}

// An id with comments and whitespace removed: RFC 5322 §3.6.4 msg-id has no CFWS inside, and the
// obsolete id-left/id-right of §4.5.4 allow CFWS that is not part of the identifier.
std::string clean_id(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '(') {
      i = skip_comment(s, i);
      continue;
    }
    if (!is_space(c)) out += c;
    ++i;
  }
  return out;
}

// Collapse runs of whitespace to one space and trim.
std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool pending = false;
  for (char c : s) {
    if (is_space(c)) {
      pending = !out.empty();
      continue;
    }
    if (pending) out += ' ';
    pending = false;
    out += c;
  }
  return out;
}

} // namespace

std::vector<std::string> parse_id_list(std::string_view raw) {
  const std::string_view v = detail::field_body(raw);
  std::vector<std::string> ids;
  bool bracketed = false;
  // First pass: every "<...>" outside comments is an id (RFC 5322 §3.6.4 msg-id); phrases mixed
  // in by the obsolete In-Reply-To syntax (§4.5.4) are skipped.
  for (std::size_t i = 0; i < v.size();) {
    const char c = v[i];
    if (c == '(') {
      i = skip_comment(v, i);
    } else if (c == '"') {
      // A quoted phrase may contain '<': skip it whole.
      ++i;
      while (i < v.size() && v[i] != '"')
        i += (v[i] == '\\') ? 2 : 1;
      ++i;
    } else if (c == '<') {
      bracketed = true;
      // Lenient: an unclosed id ends at the next '<' or at the end of the field; each byte is
      // looked at once, whatever the nesting of brackets.
      std::size_t end = v.find_first_of("<>", i + 1);
      if (end == std::string_view::npos) end = v.size();
      std::string id = clean_id(v.substr(i + 1, end - i - 1));
      if (!id.empty()) ids.push_back(std::move(id));
      i = (end < v.size() && v[end] == '<') ? end : end + 1;
    } else {
      ++i;
    }
  }
  if (bracketed) return ids;
  // No brackets at all: clients take the bare identifier ("malformed@id.example"). Among several
  // words only those that look like ids (have an '@') count, so a free-text In-Reply-To such as
  // "your message of Monday" yields nothing; a single word is taken as it is.
  std::vector<std::string> words;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (std::size_t i = 0; i < v.size();) {
    const char c = v[i];
    if (c == '(') {
      flush();
      i = skip_comment(v, i);
      continue;
    }
    if (is_space(c) || c == ',')
      flush();
    else
      cur += c;
    ++i;
  }
  flush();
  if (words.size() == 1) return words;
  for (auto& w : words)
    if (w.find('@') != std::string::npos) ids.push_back(std::move(w));
  return ids;
}

std::vector<std::string> parse_text_list(std::string_view raw) {
  const std::string_view v = detail::field_body(raw);
  std::vector<std::string> items;
  auto add = [&](std::string_view piece) {
    std::string unfolded;
    append_unfolded(unfolded, piece);
    std::string item = collapse_spaces(decode_unstructured(unfolded));
    if (!item.empty()) items.push_back(std::move(item));
  };
  // RFC 5322 §3.6.5: keywords = phrase *("," phrase); a comma inside a quoted string belongs to
  // the phrase.
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      add(v.substr(start, i - start));
      start = i + 1;
    }
  }
  if (start < v.size()) add(v.substr(start));
  return items;
}

} // namespace mailkit::mime
