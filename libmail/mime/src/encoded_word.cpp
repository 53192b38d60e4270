// SPDX-License-Identifier: Apache-2.0
// RFC 2047 encoded words. Decoding works on field text in which every fold has been replaced by
// one '\n' marker, so the rules that depend on where a line was folded (a word split across
// lines, whitespace collapsed at a fold) can be applied after unfolding.
//
//   encoded-word = "=?" charset "?" encoding "?" encoded-text "?="      (RFC 2047 §2)
//   charset      = token [ "*" language ]                               (RFC 2231 §5)
#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/charset.hpp>
#include <mailkit/mime/encoded_word.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mailkit::mime {
namespace {

constexpr char fold_mark = '\n';

// Longer "charsets" are text that happens to start with "=?", not a word.
constexpr std::size_t max_charset_length = 64;

[[nodiscard]] bool is_blank(char c) noexcept {
  return is_wsp(c) || c == fold_mark || c == '\r';
}

struct decoded_word {
  std::string charset; // as written, the RFC 2231 language removed
  std::string bytes;   // after Q or B decoding, still in `charset`
  std::size_t end = 0; // offset after the closing "?="
};

// RFC 2047 §4.2: Q is quoted-printable with "_" for space. Lenient: a '=' without two hex digits
// is kept as written, and whitespace a sender left inside the word is kept (fold marks are not:
// they are where a long word was split).
std::string decode_q(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else if (c == fold_mark || c == '\r') {
      // A fold inside the word: the whitespace that followed it went with the marker.
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Where the next "?=" is. Remembers the last answer so that text with many "=?" that never
// close (hostile or not) is scanned once, not once per "=?" (which would be quadratic).
class close_finder {
public:
  explicit close_finder(std::string_view s) : s_(s) {}
  std::size_t find(std::size_t from) {
    if (from < searched_from_ || (found_ != std::string_view::npos && found_ < from)) {
      found_ = s_.find("?=", from);
      searched_from_ = from;
    }
    return found_;
  }

private:
  std::string_view s_;
  std::size_t searched_from_ = std::string_view::npos;
  std::size_t found_ = std::string_view::npos;
};

// Try to read an encoded word at `pos` (which holds "=?").
std::optional<decoded_word> parse_word(std::string_view s, std::size_t pos, close_finder& closes) {
  std::size_t i = pos + 2;
  const std::size_t charset_begin = i;
  while (i < s.size() && s[i] != '?') {
    // RFC 2047 §2: charset is a token; whitespace or a fold here means this is no word.
    if (is_blank(s[i]) || s[i] == '=' || i - charset_begin > max_charset_length)
      return std::nullopt;
    ++i;
  }
  if (i >= s.size() || i == charset_begin) return std::nullopt;
  std::string_view charset = s.substr(charset_begin, i - charset_begin);
  // RFC 2231 §5: "=?charset*language?..." carries a language tag that decoding ignores.
  if (const auto star = charset.find('*'); star != std::string_view::npos)
    charset = charset.substr(0, star);
  if (charset.empty()) return std::nullopt;
  ++i;
  // RFC 2047 §4: the encoding is "Q" or "B", either case.
  if (i + 1 >= s.size() || s[i + 1] != '?') return std::nullopt;
  const char enc = ascii_upper(s[i]);
  if (enc != 'Q' && enc != 'B') return std::nullopt;
  i += 2;
  const std::size_t text_begin = i;
  const std::size_t close = closes.find(text_begin);
  if (close == std::string_view::npos) return std::nullopt;
  const std::string_view text = s.substr(text_begin, close - text_begin);
  decoded_word w;
  w.charset = std::string(charset);
  // Base64 decoding skips whitespace and fold marks (RFC 2045 §6.8 reading, lenient).
  w.bytes = enc == 'Q' ? decode_q(text) : base64::decode_mime(text);
  w.end = close + 2;
  return w;
}

// Charset conversion of a run of joined words. An unknown charset reads as UTF-8 where the bytes
// are UTF-8 and U+FFFD elsewhere: guessing Windows-1252 would invent characters.
void append_converted(std::string& out, std::string_view bytes, std::string_view charset) {
  if (auto r = to_utf8(bytes, charset)) {
    out += *r;
  } else if (is_valid_utf8(bytes)) {
    out += bytes;
  } else {
    out += sanitize_utf8(bytes);
  }
}

bool same_charset(std::string_view a, std::string_view b) {
  if (iequals(a, b)) return true;
  const std::string ca = canonical_charset(a);
  return !ca.empty() && ca == canonical_charset(b);
}

// Ordinary (not encoded) text: a whitespace run holding a fold reads as one space (the fold and
// the blanks around it were layout), other runs are kept; raw 8-bit bytes are UTF-8 (RFC 6532
// §3.2) or, failing that, Windows-1252 as mail clients read undeclared 8-bit headers.
void append_text(std::string& out, std::string_view text) {
  std::string plain;
  plain.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (!is_blank(text[i])) {
      plain.push_back(text[i++]);
      continue;
    }
    const std::size_t run_begin = i;
    bool folded = false;
    while (i < text.size() && is_blank(text[i])) {
      folded = folded || text[i] == fold_mark || text[i] == '\r';
      ++i;
    }
    if (folded)
      plain.push_back(' ');
    else
      plain.append(text.substr(run_begin, i - run_begin));
  }
  if (!has_8bit(plain) || is_valid_utf8(plain))
    out += plain;
  else
    out += to_utf8_lenient(plain, "windows-1252");
}

bool all_blank(std::string_view s) noexcept {
  for (char c : s)
    if (!is_blank(c)) return false;
  return true;
}

bool has_fold(std::string_view s) noexcept {
  return s.find(fold_mark) != std::string_view::npos || s.find('\r') != std::string_view::npos;
}

// Replace each fold (CRLF or LF followed by WSP, and that WSP) with one fold mark. A line break
// not followed by WSP ends the field (RFC 5322 §2.2.3): what comes after it is another field,
// so it is cut off there. A bare CR is dropped.
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
    while (i + 1 < raw.size() && is_wsp(raw[i + 1]))
      ++i;
  }
  return out;
}

std::string_view trim_blank(std::string_view s) noexcept {
  while (!s.empty() && is_blank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back()))
    s.remove_suffix(1);
  return s;
}

// RFC 2047 §5 (3): characters a Q word in a phrase may carry unencoded.
bool phrase_safe(char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

// RFC 2047 §4.2 and §5 (1): in unstructured text everything printable may stay except the
// characters Q itself uses ('=', '?', '_') and space, which becomes '_'.
bool text_safe(char c) noexcept {
  return c > 0x20 && c < 0x7F && c != '=' && c != '?' && c != '_';
}

std::size_t utf8_length(unsigned char lead) noexcept {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

bool needs_encoding(std::string_view s) noexcept {
  for (char c : s)
    if (c < 0x20 || c > 0x7E) return true;
  // Text that already looks like an encoded word would be decoded by the reader.
  return s.find("=?") != std::string_view::npos;
}

// RFC 2047 §2: "An 'encoded-word' may not be more than 75 characters long", "=?utf-8?X?" and
// "?=" included.
constexpr std::size_t max_word = 75;
constexpr std::size_t word_overhead = 12; // "=?utf-8?Q?" + "?="

std::string encode_impl(std::string_view utf8, bool (*safe)(char)) {
  if (!needs_encoding(utf8)) return std::string(utf8);
  const auto q_cost = [&](char c) -> std::size_t { return (c == ' ' || safe(c)) ? 1 : 3; };
  std::size_t q_total = 0;
  for (char c : utf8)
    q_total += q_cost(c);
  const bool use_b = base64::encoded_size(utf8.size()) < q_total;
  const std::size_t budget = max_word - word_overhead;

  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    // Take whole UTF-8 sequences while the encoded chunk fits in one word.
    std::size_t end = i;
    std::size_t cost = 0;
    while (end < utf8.size()) {
      std::size_t n = utf8_length(static_cast<unsigned char>(utf8[end]));
      if (end + n > utf8.size()) n = utf8.size() - end;
      std::size_t next_cost = 0;
      if (use_b) {
        next_cost = base64::encoded_size(end + n - i);
      } else {
        next_cost = cost;
        for (std::size_t k = 0; k < n; ++k)
          next_cost += q_cost(utf8[end + k]);
      }
      if (next_cost > budget && end > i) break;
      cost = next_cost;
      end += n;
    }
    const std::string_view chunk = utf8.substr(i, end - i);
    if (!out.empty()) out.push_back(' ');
    out += use_b ? "=?utf-8?B?" : "=?utf-8?Q?";
    if (use_b) {
      base64::encode_append(chunk, out);
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      for (char c : chunk) {
        if (c == ' ') {
          out.push_back('_');
        } else if (safe(c)) {
          out.push_back(c);
        } else {
          const auto b = static_cast<unsigned char>(c);
          out.push_back('=');
          out.push_back(hex[b >> 4]);
          out.push_back(hex[b & 0xF]);
        }
      }
    }
    out += "?=";
    i = end;
  }
  return out;
}

} // namespace

namespace detail {

std::string decode_text(std::string_view s, const word_options& opt) {
  std::string out;
  out.reserve(s.size());
  std::optional<decoded_word> pending; // words joined so far, not yet converted
  std::size_t text_begin = 0;          // start of the ordinary text not yet written
  close_finder closes(s);
  const auto flush = [&] {
    if (pending) append_converted(out, pending->bytes, pending->charset);
    pending.reset();
  };
  std::size_t i = 0;
  while (i + 1 < s.size()) {
    if (s[i] != '=' || s[i + 1] != '?') {
      ++i;
      continue;
    }
    auto w = parse_word(s, i, closes);
    if (!w) {
      ++i;
      continue;
    }
    const std::size_t word_end = w->end;
    const std::string_view between = s.substr(text_begin, i - text_begin);
    const bool after_word = pending.has_value();
    // RFC 2047 §6.2: "any 'linear-white-space' that separates a pair of adjacent
    // 'encoded-word's is ignored". Whitespace kept on purpose (quoted parameter values) ends
    // the run of joined words.
    const bool join = after_word && all_blank(between) &&
                      !(opt.keep_space_between_words && !between.empty() && !has_fold(between));
    if (join && same_charset(pending->charset, w->charset)) {
      // Bytes of adjacent words in one charset are joined before conversion, so a multi-byte
      // character split across two words decodes.
      pending->bytes += w->bytes;
    } else {
      flush();
      if (!join) {
        if (after_word && opt.space_around_words && !between.empty() && !is_blank(between.front()))
          out.push_back(' ');
        append_text(out, between);
        if (opt.space_around_words && !between.empty() && !is_blank(between.back()))
          out.push_back(' ');
      }
      pending = std::move(w);
    }
    i = word_end;
    text_begin = i;
  }
  const std::string_view rest = s.substr(text_begin);
  const bool after_word = pending.has_value();
  flush();
  if (after_word && opt.space_around_words && !rest.empty() && !is_blank(rest.front()))
    out.push_back(' ');
  append_text(out, rest);
  return out;
}

} // namespace detail

std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    // RFC 5322 §2.2.3: "Unfolding is accomplished by simply removing any CRLF that is
    // immediately followed by WSP." A break not followed by WSP would have ended the field, so
    // it cannot be part of the value either: it is dropped too.
    if (c == '\r' || c == '\n') continue;
    out.push_back(c);
  }
  return out;
}

std::string decode_unstructured(std::string_view raw) {
  const std::string marked = mark_folds(raw);
  const std::string decoded = detail::decode_text(trim_blank(marked), {});
  return std::string(trim_blank(decoded));
}

std::string decode_words(std::string_view text) {
  const std::string decoded = detail::decode_text(trim_blank(text), {});
  return std::string(trim_blank(decoded));
}

std::string encode_words(std::string_view utf8) {
  return encode_impl(utf8, text_safe);
}

std::string encode_phrase(std::string_view utf8) {
  return encode_impl(utf8, phrase_safe);
}

} // namespace mailkit::mime
