// SPDX-License-Identifier: Apache-2.0
// Address lists (RFC 5322 §3.4) with the obsolete syntax of §4.4, RFC 2047 display names and
// RFC 6532 UTF-8, read leniently in one left-to-right pass:
//
//   address-list = (address *("," address)) / obs-addr-list
//   address      = mailbox / group
//   mailbox      = name-addr / addr-spec ; name-addr = [display-name] angle-addr
//   group        = display-name ":" [group-list] ";" [CFWS]
//
// Each mailbox collects its phrase words, its comments and its angle-addr, whatever their order,
// and is finished at "," or ";" or the end: a mailbox without angle brackets takes the words
// around its "@" as the address; comments become the display name when there is no phrase, and
// are appended in parentheses when there is one (as clients show "John (my dear friend)").
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/address.hpp>
#include <mailkit/mime/encoded_word.hpp>
#include <mailkit/mime/field.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkit::mime {

namespace {

struct word {
  std::string text; ///< atom text, or a quoted string's content with quoted-pairs undone
  bool quoted = false;
  bool space_before = false; ///< whitespace or a comment separated it from the previous word
};

struct pending_mailbox {
  std::vector<word> words;
  std::vector<std::string> comments;
  std::optional<std::string> angle;
  bool has_at = false; ///< a word holds an '@': kept up to date so ':' checks stay O(1)
  [[nodiscard]] bool empty() const noexcept { return words.empty() && comments.empty() && !angle; }
};

// Decode RFC 2047 words and raw 8-bit text (RFC 6532) only where there can be any: text that
// needs neither is kept byte for byte (a quoted "  James" keeps its leading spaces).
std::string decode_phrase(std::string_view text) {
  if (text.find("=?") == std::string_view::npos && !has_8bit(text)) return std::string(text);
  return decode_words(text);
}

// Collapse runs of whitespace to one space and trim: comment text as clients display it.
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

// Read the comment that opens at s[pos] == '('; returns its content (nested comments kept with
// their parentheses, quoted-pairs undone) and moves pos past it. RFC 5322 §3.2.2: comments nest;
// a depth counter instead of recursion keeps any nesting depth linear. Unclosed: to the end.
std::string read_comment(std::string_view s, std::size_t& pos) {
  std::string out;
  std::size_t depth = 0;
  for (; pos < s.size(); ++pos) {
    const char c = s[pos];
    if (c == '\\' && pos + 1 < s.size()) {
      out += s[++pos]; // RFC 5322 §3.2.1: quoted-pair
      continue;
    }
    if (c == '(') {
      if (depth++ > 0) out += c;
      continue;
    }
    if (c == ')') {
      if (--depth == 0) {
        ++pos;
        return out;
      }
      out += c;
      continue;
    }
    out += c;
  }
  return out;
}

// Read the quoted string that opens at s[pos] == '"'; content with quoted-pairs undone.
// Lenient: an unterminated quoted string runs to the end of the field.
std::string read_quoted(std::string_view s, std::size_t& pos) {
  std::string out;
  for (++pos; pos < s.size(); ++pos) {
    const char c = s[pos];
    if (c == '\\' && pos + 1 < s.size()) {
      out += s[++pos]; // RFC 5322 §3.2.4: quoted-pair inside quoted-string
      continue;
    }
    if (c == '"') {
      ++pos;
      return out;
    }
    out += c;
  }
  return out;
}

// RFC 5322 §3.2.3: atext.
bool is_atext(char c) noexcept {
  if (is_alpha(c) || is_digit(c) || static_cast<unsigned char>(c) >= 0x80) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// A quoted local part that needs no quotes ("john"@example.com) loses them; others are kept.
std::string quote_local_if_needed(std::string_view local) {
  bool plain = !local.empty() && local.front() != '.' && local.back() != '.';
  for (std::size_t i = 0; plain && i < local.size(); ++i)
    plain = is_atext(local[i]) || (local[i] == '.' && local[i + 1] != '.');
  if (plain) return std::string(local);
  std::string out = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// The content of an angle-addr opening at s[pos] == '<'. RFC 5322 §4.4: CFWS may appear
// between the parts of an obsolete address and is not part of it, so whitespace is dropped and
// comments go to the mailbox's comments. Quoted local parts keep their content exactly.
std::string read_angle(std::string_view s, std::size_t& pos, std::vector<std::string>& comments) {
  std::string out;
  ++pos;
  while (pos < s.size()) {
    const char c = s[pos];
    if (c == '>') {
      ++pos;
      return out;
    }
    if (c == '(') {
      std::string text = collapse_spaces(read_comment(s, pos));
      if (!text.empty()) comments.push_back(decode_phrase(text));
      continue;
    }
    if (c == '"') {
      const std::string q = read_quoted(s, pos);
      out += quote_local_if_needed(q);
      continue;
    }
    if (!is_space(c)) out += c;
    ++pos;
  }
  return out; // lenient: "<a@b" without ">"
}

bool glues(std::string_view left, std::string_view right) noexcept {
  return (!left.empty() && (left.back() == '.' || left.back() == '@')) ||
         (!right.empty() && (right.front() == '.' || right.front() == '@'));
}

std::string join_phrase(const std::vector<word>& words, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) {
    if (i > from && words[i].space_before) out += ' ';
    out += words[i].text;
  }
  return out;
}

std::string join_comments(const std::vector<std::string>& comments) {
  std::string out;
  for (const auto& c : comments) {
    if (!out.empty()) out += ' ';
    out += c;
  }
  return out;
}

// Display name from a phrase and comments: "Pete (A nice chap)" as clients show it.
std::optional<std::string> make_name(std::string phrase, const std::vector<std::string>& comments) {
  std::string c = join_comments(comments);
  if (phrase.empty() && c.empty()) return std::nullopt;
  if (phrase.empty()) return c;
  if (!c.empty()) {
    phrase.append(" (").append(c).push_back(')');
  }
  return phrase;
}

std::optional<mailbox> finish(pending_mailbox& p) {
  if (p.empty()) return std::nullopt;
  mailbox m;
  if (p.angle) {
    // RFC 5322 §3.4: name-addr; the phrase may also follow the angle-addr in broken fields.
    if (!p.angle->empty()) m.addr = std::move(*p.angle);
    m.name = make_name(decode_phrase(join_phrase(p.words, 0, p.words.size())), p.comments);
  } else {
    // addr-spec without brackets. RFC 5322 §4.4: obs-local-part and obs-domain allow CFWS
    // around the dots, so words glued by '.' or '@' form one address ("jdoe@test . example").
    std::size_t at = p.words.size();
    for (std::size_t i = 0; i < p.words.size() && at == p.words.size(); ++i)
      if (!p.words[i].quoted && p.words[i].text.find('@') != std::string::npos) at = i;
    if (at < p.words.size()) {
      std::size_t lo = at;
      std::size_t hi = at + 1;
      while (lo > 0 && glues(p.words[lo - 1].text, p.words[lo].text))
        --lo;
      while (hi < p.words.size() && glues(p.words[hi - 1].text, p.words[hi].text))
        ++hi;
      std::string addr;
      for (std::size_t i = lo; i < hi; ++i)
        addr += p.words[i].quoted ? quote_local_if_needed(p.words[i].text) : p.words[i].text;
      m.addr = std::move(addr);
      std::string phrase = join_phrase(p.words, 0, lo);
      const std::string after = join_phrase(p.words, hi, p.words.size());
      if (!phrase.empty() && !after.empty()) phrase += ' ';
      phrase += after;
      m.name = make_name(decode_phrase(phrase), p.comments);
    } else if (p.words.size() == 1 && !p.words[0].quoted && !p.comments.empty()) {
      // "NO (posting not allowed)" (RFC 2369 §3.4) and the old "user (Full Name)" form: a lone
      // word with a comment is the address and the comment its name.
      m.addr = p.words[0].text;
      m.name = make_name({}, p.comments);
    } else {
      // A name alone ("Undisclosed recipients" without the group colon).
      m.name = make_name(decode_phrase(join_phrase(p.words, 0, p.words.size())), p.comments);
    }
  }
  p = pending_mailbox{};
  if (!m.name && !m.addr) return std::nullopt;
  return m;
}

} // namespace

address_list parse_address_list(std::string_view raw) {
  const std::string s = unfold(detail::field_body(raw));
  address_list result;
  std::vector<mailbox> loose; // mailboxes outside any group, in the current run
  group current;
  bool in_group = false;
  pending_mailbox p;
  bool space = false;

  auto flush_loose = [&] {
    if (loose.empty()) return;
    result.groups.push_back(group{std::nullopt, std::move(loose)});
    loose.clear();
  };
  auto end_mailbox = [&] {
    if (auto m = finish(p)) (in_group ? current.members : loose).push_back(std::move(*m));
  };
  auto add_word = [&](std::string text, bool quoted) {
    p.has_at = p.has_at || text.find('@') != std::string::npos;
    p.words.push_back(word{std::move(text), quoted, space});
    space = false;
  };

  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (is_space(c)) {
      space = true;
      ++i;
    } else if (c == '(') {
      std::string text = collapse_spaces(read_comment(s, i));
      if (!text.empty()) p.comments.push_back(decode_phrase(text));
      space = true;
    } else if (c == '"') {
      add_word(read_quoted(s, i), true);
    } else if (c == '<') {
      if (p.angle) end_mailbox(); // "a <x@y> <z@w>": a second angle-addr starts a new mailbox
      p.angle = read_angle(s, i, p.comments);
      space = true;
    } else if (c == ',') {
      // RFC 5322 §3.4 / §4.4 obs-addr-list: empty list elements (", ,") are ignored.
      end_mailbox();
      space = false;
      ++i;
    } else if (c == ';') {
      // RFC 5322 §3.4: ";" ends a group; outside a group it is read as a separator.
      end_mailbox();
      if (in_group) {
        result.groups.push_back(std::move(current));
        current = group{};
        in_group = false;
      }
      space = false;
      ++i;
    } else if (c == ':' && !p.angle && !p.has_at) {
      // RFC 5322 §3.4: group = display-name ":" [group-list] ";". An unterminated group ends at
      // the next group or at the end of the field.
      auto name = make_name(decode_phrase(join_phrase(p.words, 0, p.words.size())), p.comments);
      p = pending_mailbox{};
      if (in_group) result.groups.push_back(std::move(current));
      flush_loose();
      current = group{std::move(name), {}};
      in_group = true;
      result.has_groups = true;
      space = false;
      ++i;
    } else if (c == '>' || c == ')') {
      ++i; // a stray closer carries nothing
      space = true;
    } else {
      std::size_t j = i;
      if (c == ':') ++j; // a ':' that does not open a group is part of the text
      while (j < s.size() && !is_space(s[j]) &&
             std::string_view("()<>\",;:").find(s[j]) == std::string_view::npos)
        ++j;
      if (j == i) ++j; // never stand still, whatever the byte
      add_word(s.substr(i, j - i), false);
      i = j;
    }
  }
  end_mailbox();
  if (in_group) result.groups.push_back(std::move(current));
  if (result.has_groups) {
    flush_loose();
  } else {
    result.mailboxes = std::move(loose);
  }
  return result;
}

std::vector<mailbox> address_list::flatten() const {
  if (!has_groups) return mailboxes;
  std::vector<mailbox> out;
  for (const auto& g : groups)
    out.insert(out.end(), g.members.begin(), g.members.end());
  return out;
}

std::string format_mailbox(const mailbox& m) {
  // Header injection: a CR, LF or other control character in a name or address would end or
  // corrupt the field, so names get them as spaces and addresses lose them.
  std::string addr;
  if (m.addr)
    for (char c : *m.addr)
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) addr += c;
  if (!m.name || m.name->empty()) return addr;
  std::string name;
  for (char c : *m.name)
    name += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;

  std::string shown;
  if (has_8bit(name) || name.find("=?") != std::string::npos) {
    // RFC 2047 §5 (3): a non-ASCII display name becomes encoded words. So does an ASCII one
    // holding "=?": readers (this parser too) decode encoded-word syntax even inside quotes, so
    // "=?x?b??=" written as is would not read back as itself ("In rare cases it may be
    // necessary to encode ordinary text that looks like an 'encoded-word'", RFC 2047 §5).
    shown = encode_phrase(name);
  } else {
    // RFC 5322 §3.2.5: a phrase of atoms needs no quotes; anything else is a quoted-string.
    bool atoms = name.front() != ' ' && name.back() != ' ';
    for (char c : name)
      atoms = atoms && (is_atext(c) || c == ' ');
    if (atoms && name.find("  ") == std::string::npos) {
      shown = name;
    } else {
      shown.reserve(name.size() + 2);
      shown.push_back('"');
      for (char c : name) {
        if (c == '"' || c == '\\') shown += '\\';
        shown += c;
      }
      shown += '"';
    }
  }
  if (addr.empty() && !m.addr) return shown;
  shown.append(" <").append(addr).push_back('>');
  return shown;
}

} // namespace mailkit::mime
