// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/reader.hpp>

#include <algorithm>
#include <optional>

namespace mailkit::imap {
namespace {

constexpr std::size_t max_tag = 128;
// RFC 7888 §5: under LITERAL- a non-synchronizing literal is at most 4096 octets.
constexpr std::size_t literal_minus_max = 4096;
// Longest literal announcement: "~{" 19 digits "+}" and a CR.
constexpr std::size_t max_marker = 24;

bool iequals(std::string_view a, std::string_view upper) noexcept {
  if (a.size() != upper.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

bool is_ctl(unsigned char c) noexcept {
  return c < 0x20 || c == 0x7f;
}

// RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR = ATOM-CHAR / "]".
bool valid_tag(std::string_view t) noexcept {
  if (t.empty() || t.size() > max_tag) return false;
  for (unsigned char c : t) {
    if (is_ctl(c) || c >= 0x80) return false;
    switch (c) {
    case '(':
    case ')':
    case '{':
    case ' ':
    case '%':
    case '*':
    case '"':
    case '\\':
    case '+':
      return false;
    default:
      break;
    }
  }
  return true;
}

// A literal announcement at the end of a line: "{N}", "{N+}" (RFC 7888) or "~{N}" (RFC 3516).
struct literal_marker {
  std::size_t start = 0; // where the marker begins in the line
  std::uint64_t length = 0;
  bool sync = true;
  bool literal8 = false;
  bool overflow = false; // the number does not fit: larger than any limit
};

std::optional<literal_marker> find_marker(std::string_view line) {
  if (line.size() < 3 || line.back() != '}') return std::nullopt;
  std::size_t i = line.size() - 1;
  literal_marker m;
  if (line[i - 1] == '+') {
    m.sync = false;
    --i;
  }
  std::size_t digits_end = i;
  while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
    --i;
  if (i == digits_end || i == 0 || line[i - 1] != '{') return std::nullopt;
  std::string_view digits = line.substr(i, digits_end - i);
  --i; // at '{'
  if (i > 0 && line[i - 1] == '~') {
    m.literal8 = true;
    --i;
  }
  // A literal starts a token: after SP, "(" or at the start of a continuation segment.
  if (i > 0 && line[i - 1] != ' ' && line[i - 1] != '(') return std::nullopt;
  m.start = i;
  if (digits.size() > 19) {
    m.overflow = true;
  } else {
    for (char c : digits)
      m.length = m.length * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return m;
}

// The tag and command name at the start of a command's first line, when readable.
std::string_view leading_word(std::string_view text, std::size_t index) {
  std::size_t pos = 0;
  for (std::size_t w = 0;; ++w) {
    std::size_t end = text.find(' ', pos);
    std::string_view word = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (w == index) return word;
    if (end == std::string_view::npos) return {};
    pos = end + 1;
  }
}

class tokenizer {
public:
  explicit tokenizer(const reader_limits& l) : limits_(l) { stack_.push_back(&top_); }

  // RFC 9051 §9 (atom, quoted, list syntax). Returns false on a syntax or limit error.
  bool text(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == ' ') {
        // One SP between tokens (RFC 9051 §9); never before the first or inside "( ".
        if (!need_sep_) return fail(errc::syntax);
        need_sep_ = false;
        ++i;
        continue;
      }
      if (c == ')') {
        if (stack_.size() == 1) return fail(errc::syntax);
        stack_.pop_back();
        need_sep_ = true;
        ++i;
        continue;
      }
      if (need_sep_) return fail(errc::syntax);
      if (c == '(') {
        if (stack_.size() > limits_.depth) return fail(errc::too_deep);
        token t;
        t.k = token::kind::list;
        if (!push(std::move(t))) return false;
        stack_.push_back(&stack_.back()->back().items);
        ++i;
        continue;
      }
      if (c == '"') {
        std::string value;
        ++i;
        bool closed = false;
        while (i < s.size()) {
          char q = s[i++];
          if (q == '"') {
            closed = true;
            break;
          }
          if (q == '\\') {
            // quoted-specials only (RFC 9051 §9: QUOTED-CHAR).
            if (i >= s.size() || (s[i] != '\\' && s[i] != '"')) return fail(errc::syntax);
            value.push_back(s[i++]);
            continue;
          }
          if (q == '\0') return fail(errc::syntax);
          value.push_back(q);
        }
        if (!closed) return fail(errc::syntax);
        token t;
        t.k = token::kind::quoted;
        t.text = std::move(value);
        if (!push(std::move(t))) return false;
        need_sep_ = true;
        continue;
      }
      if (c == '{' || is_ctl(c) || c >= 0x80) return fail(errc::syntax);
      // An atom; "[" opens a section that runs to its matching "]" (section-spec may hold SP,
      // lists and quoted header names).
      std::string value;
      while (i < s.size()) {
        const unsigned char a = static_cast<unsigned char>(s[i]);
        if (a == ' ' || a == '(' || a == ')' || a == '"' || a == '{' || is_ctl(a) || a >= 0x80)
          break;
        if (a == '[') {
          std::size_t nest = 0;
          bool in_quote = false;
          for (; i < s.size(); ++i) {
            const unsigned char b = static_cast<unsigned char>(s[i]);
            if (is_ctl(b) || b >= 0x80) return fail(errc::syntax);
            value.push_back(static_cast<char>(b));
            if (in_quote) {
              if (b == '\\' && i + 1 < s.size())
                value.push_back(s[++i]);
              else if (b == '"')
                in_quote = false;
              continue;
            }
            if (b == '"')
              in_quote = true;
            else if (b == '[')
              ++nest;
            else if (b == ']' && --nest == 0)
              break;
          }
          if (nest != 0 || i >= s.size()) return fail(errc::syntax);
          ++i;
          continue;
        }
        value.push_back(static_cast<char>(a));
        ++i;
      }
      if (i < s.size() && (s[i] == '(' || s[i] == '"' || s[i] == '{')) return fail(errc::syntax);
      token t;
      t.k = token::kind::atom;
      t.text = std::move(value);
      if (!push(std::move(t))) return false;
      need_sep_ = true;
    }
    return true;
  }

  bool literal(std::string octets, bool literal8) {
    if (need_sep_) return fail(errc::syntax);
    token t;
    t.k = token::kind::literal;
    t.literal8 = literal8;
    t.text = std::move(octets);
    if (!push(std::move(t))) return false;
    need_sep_ = true;
    return true;
  }

  bool done() {
    if (stack_.size() != 1) return fail(errc::syntax);
    return true;
  }

  std::vector<token>& top() { return top_; }
  errc error() const { return error_; }

private:
  bool push(token t) {
    if (++count_ > limits_.tokens) return fail(errc::too_many_tokens);
    stack_.back()->push_back(std::move(t));
    return true;
  }
  bool fail(errc e) {
    error_ = e;
    return false;
  }

  const reader_limits& limits_;
  std::vector<token> top_;
  // Each entry points at the items of an open list (or top_); push_back on an outer vector
  // never happens while an inner list is open, so the pointers stay valid.
  std::vector<std::vector<token>*> stack_;
  std::size_t count_ = 0;
  bool need_sep_ = false;
  errc error_ = errc::ok;
};

} // namespace

bool token::is_nil() const noexcept {
  return is("NIL");
}

bool token::is(std::string_view upper) const noexcept {
  return k == kind::atom && iequals(text, upper);
}

command_reader::command_reader(reader_limits limits) : limits_(limits) {}

void command_reader::feed(std::string_view bytes) {
  buf_.append(bytes);
}

void command_reader::compact() {
  if (pos_ > 0 && (pos_ >= buf_.size() || pos_ > 64 * 1024)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

bool command_reader::take_line(std::string_view& line, bool& overflow) {
  overflow = false;
  const std::size_t lf = buf_.find('\n', pos_);
  const std::size_t end_of_text = lf == std::string::npos ? buf_.size() : lf;
  std::size_t end = end_of_text;
  if (lf != std::string::npos && end > pos_ && buf_[end - 1] == '\r') --end;
  // Without its line end yet, one more octet may still be the CR.
  const std::size_t allowed = lf == std::string::npos ? limits_.line + 1 : limits_.line;
  if (end - pos_ > allowed) {
    // Over the limit: keep the head (for the tag) and the last octets (a literal announcement
    // there must still be seen), drop the rest.
    overflow = true;
    head_ = buf_.substr(pos_, 256);
    const std::size_t keep = std::min({max_marker, limits_.line, end - pos_});
    pos_ = end - keep;
    return false;
  }
  if (lf == std::string::npos) return false;
  line = std::string_view(buf_).substr(pos_, end - pos_);
  pos_ = lf + 1;
  return true;
}

std::size_t command_reader::literal_limit() const {
  // APPEND's message literals (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND) have their own limit.
  if (!segments_.empty() && iequals(leading_word(segments_.front().text, 1), "APPEND"))
    return limits_.append_literal;
  return limits_.literal;
}

event command_reader::refuse(errc e, std::size_t announced) {
  event ev;
  ev.k = event::kind::refused;
  ev.error = make_error_code(e);
  ev.announced = announced;
  if (!segments_.empty()) {
    std::string_view t = leading_word(segments_.front().text, 0);
    if (valid_tag(t)) ev.tag = std::string(t);
  } else if (!pending_tag_.empty()) {
    ev.tag = pending_tag_;
  }
  segments_.clear();
  pending_tag_.clear();
  octets_ = 0;
  return ev;
}

event command_reader::next() {
  for (;;) {
    switch (state_) {
    case state::literal: {
      const std::size_t n = std::min(literal_left_, buffered());
      segments_.back().literal.append(buf_, pos_, n);
      pos_ += n;
      literal_left_ -= n;
      compact();
      if (literal_left_ > 0) return {};
      state_ = state::line;
      continue;
    }
    case state::discard_literal: {
      const std::size_t n = std::min(literal_left_, buffered());
      pos_ += n;
      literal_left_ -= n;
      compact();
      if (literal_left_ > 0) return {};
      state_ = state::discard_line;
      continue;
    }
    case state::discard_line: {
      std::string_view line;
      bool overflow = false;
      if (!take_line(line, overflow)) {
        if (overflow) {
          compact();
          continue; // the kept tail is read again as a (short) line
        }
        return {};
      }
      auto m = find_marker(line);
      compact();
      if (m && !m->sync) {
        // The client sends a non-synchronizing literal whatever we answered: skip its octets.
        if (m->overflow || m->length > std::max(limits_.append_literal, limits_.literal)) {
          event ev;
          ev.k = event::kind::fatal;
          ev.error = make_error_code(errc::literal_too_large);
          return ev;
        }
        literal_left_ = m->length;
        state_ = state::discard_literal;
        continue;
      }
      state_ = state::line;
      continue;
    }
    case state::line:
      break;
    }

    std::string_view line;
    bool overflow = false;
    if (!take_line(line, overflow)) {
      if (!overflow) return {};
      // RFC 9051 §4: a line over our limit. Skip to its end; a non-synchronizing literal it
      // announces is skipped too (discard_line reads the kept tail).
      if (segments_.empty()) {
        std::string_view t = leading_word(head_, 0);
        if (valid_tag(t)) pending_tag_ = std::string(t);
      }
      compact();
      state_ = state::discard_line;
      return refuse(errc::line_too_long);
    }
    if (line_mode_) {
      event ev;
      ev.k = event::kind::line;
      ev.text = std::string(line);
      compact();
      return ev;
    }
    if (line.empty() && segments_.empty()) {
      compact();
      continue; // an empty line between commands is ignored
    }
    octets_ += line.size() + 2;
    auto m = find_marker(line);
    segment seg;
    seg.text = std::string(m ? line.substr(0, m->start) : line);
    if (m) {
      seg.has_literal = true;
      seg.literal8 = m->literal8;
    }
    compact();
    segments_.push_back(std::move(seg));
    const bool append = iequals(leading_word(segments_.front().text, 1), "APPEND");
    if (!append && octets_ > limits_.command) {
      if (m && !m->sync && !m->overflow) {
        literal_left_ = m->length;
        state_ = state::discard_literal;
      }
      return refuse(errc::command_too_large);
    }
    if (!m) return finish();

    const std::size_t limit = literal_limit();
    const bool too_big = m->overflow || m->length > limit ||
                         (!append && octets_ + m->length > limits_.command) ||
                         (!m->sync && !limits_.literal_plus && m->length > literal_minus_max);
    if (too_big) {
      const std::size_t announced = m->overflow ? SIZE_MAX : static_cast<std::size_t>(m->length);
      if (!m->sync) {
        // RFC 7888 §4: the octets come anyway. Skip them when that is bounded, else close.
        if (m->overflow || m->length > std::max(limits_.append_literal, limits_.literal)) {
          segments_.clear();
          event ev;
          ev.k = event::kind::fatal;
          ev.error = make_error_code(errc::literal_too_large);
          ev.announced = announced;
          return ev;
        }
        literal_left_ = m->length;
        state_ = state::discard_literal;
      }
      // A synchronizing literal: no "+" is sent, so the client sends nothing more of this
      // command (RFC 9051 §7.5); NO [TOOBIG] (RFC 9051 §7.1) ends it.
      return refuse(errc::literal_too_large, announced);
    }
    if (!append) octets_ += m->length;
    literal_left_ = m->length;
    segments_.back().literal.reserve(std::min<std::size_t>(literal_left_, 1 << 20));
    state_ = state::literal;
    if (m->sync) {
      event ev;
      ev.k = event::kind::continuation;
      ev.text = "Ready for literal data";
      return ev;
    }
  }
}

event command_reader::finish() {
  tokenizer tk(limits_);
  std::size_t octets = octets_;
  bool ok = true;
  for (auto& seg : segments_) {
    if (!tk.text(seg.text)) {
      ok = false;
      break;
    }
    if (seg.has_literal && !tk.literal(std::move(seg.literal), seg.literal8)) {
      ok = false;
      break;
    }
  }
  if (ok) ok = tk.done();
  if (!ok) return refuse(tk.error());
  auto& top = tk.top();
  // RFC 9051 §2.2.1: tag SP command-name.
  if (top.size() < 2 || !top[0].is_atom() || !valid_tag(top[0].text) || !top[1].is_atom() ||
      top[1].text.empty())
    return refuse(errc::syntax);
  event ev;
  ev.k = event::kind::command;
  ev.cmd.tag = std::move(top[0].text);
  ev.cmd.name = to_upper(top[1].text);
  std::size_t first = 2;
  if (ev.cmd.name == "UID") {
    if (top.size() < 3 || !top[2].is_atom()) return refuse(errc::syntax);
    ev.cmd.uid = true;
    ev.cmd.name = to_upper(top[2].text);
    first = 3;
  }
  ev.cmd.args.assign(std::make_move_iterator(top.begin() + static_cast<std::ptrdiff_t>(first)),
                     std::make_move_iterator(top.end()));
  ev.cmd.octets = octets;
  segments_.clear();
  octets_ = 0;
  return ev;
}

mailkit::expected<std::vector<token>> tokenize(std::string_view text, const reader_limits& limits) {
  tokenizer tk(limits);
  if (!tk.text(text) || !tk.done()) return mailkit::fail(tk.error());
  return std::move(tk.top());
}

mailkit::expected<command> parse_command(std::string_view wire, const reader_limits& limits) {
  command_reader r(limits);
  r.feed(wire);
  for (;;) {
    event ev = r.next();
    switch (ev.k) {
    case event::kind::command:
      return std::move(ev.cmd);
    case event::kind::continuation:
    case event::kind::line:
      continue;
    case event::kind::need_more:
      return mailkit::fail(errc::syntax);
    case event::kind::refused:
    case event::kind::fatal:
      return mailkit::make_unexpected(ev.error);
    }
  }
}

} // namespace mailkit::imap
