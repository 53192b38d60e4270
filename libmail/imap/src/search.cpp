// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/date.hpp>
#include <mailkit/imap/error.hpp>
#include <mailkit/imap/search.hpp>

namespace mailkit::imap {
namespace {

bool number64(std::string_view s, std::uint64_t& out) {
  // RFC 9051 §9: number = 1*DIGIT (32-bit); number64 for MODSEQ (RFC 7162: mod-sequence-value
  // up to 2^63-1).
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return out <= 0x7FFFFFFFFFFFFFFFULL;
}

class parser {
public:
  explicit parser(std::span<const token> t) : toks_(t) {}

  mailkit::error_code error;

  bool at_end() const { return i_ >= toks_.size(); }

  bool parse_key(search_key& k, std::size_t depth) {
    if (depth > max_search_depth) return fail(errc::too_deep);
    if (at_end()) return fail(errc::syntax);
    const token& t = toks_[i_++];
    if (t.k == token::kind::list) {
      // RFC 9051 §9: search-key =/ "(" search-key *(SP search-key) ")"
      if (t.items.empty()) return fail(errc::syntax);
      parser sub(t.items);
      k.o = search_key::op::and_;
      while (!sub.at_end()) {
        search_key c;
        if (!sub.parse_key(c, depth + 1)) {
          error = sub.error;
          return false;
        }
        k.children.push_back(std::move(c));
      }
      return true;
    }
    if (!t.is_atom()) return fail(errc::syntax);
    const std::string& w = t.text;
    auto is = [&](std::string_view u) { return t.is(u); };
    using op = search_key::op;
    auto flag = [&](op o, std::string_view f) {
      k.o = o;
      k.text = std::string(f);
      return true;
    };
    if (is("ALL")) return k.o = op::all, true;
    if (is("ANSWERED")) return flag(op::flag, "\\Answered");
    if (is("DELETED")) return flag(op::flag, "\\Deleted");
    if (is("DRAFT")) return flag(op::flag, "\\Draft");
    if (is("FLAGGED")) return flag(op::flag, "\\Flagged");
    if (is("SEEN")) return flag(op::flag, "\\Seen");
    if (is("UNANSWERED")) return flag(op::no_flag, "\\Answered");
    if (is("UNDELETED")) return flag(op::no_flag, "\\Deleted");
    if (is("UNDRAFT")) return flag(op::no_flag, "\\Draft");
    if (is("UNFLAGGED")) return flag(op::no_flag, "\\Flagged");
    if (is("UNSEEN")) return flag(op::no_flag, "\\Seen");
    if (is("RECENT")) return k.o = op::recent, true; // RFC 3501 only
    if (is("NEW")) return k.o = op::new_, true;
    if (is("OLD")) return k.o = op::old, true;
    if (is("KEYWORD") || is("UNKEYWORD")) {
      k.o = is("KEYWORD") ? op::flag : op::no_flag;
      // flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom: an atom, never a system flag.
      if (at_end() || !toks_[i_].is_atom() || toks_[i_].text.empty() || toks_[i_].text[0] == '\\')
        return fail(errc::syntax);
      k.text = toks_[i_++].text;
      return true;
    }
    if (is("BCC") || is("CC") || is("FROM") || is("SUBJECT") || is("TO")) {
      // RFC 9051 §6.4.4: these are HEADER <field> <string>.
      k.o = op::header;
      k.text = w;
      for (auto& c : k.text)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (k.text == "SUBJECT")
        k.text = "Subject";
      else if (k.text == "FROM")
        k.text = "From";
      else if (k.text == "TO")
        k.text = "To";
      else if (k.text == "CC")
        k.text = "Cc";
      else
        k.text = "Bcc";
      return astring(k.value);
    }
    if (is("HEADER")) {
      k.o = op::header;
      return astring(k.text) && astring(k.value);
    }
    if (is("BODY")) return k.o = op::body, astring(k.text);
    if (is("TEXT")) return k.o = op::text, astring(k.text);
    if (is("BEFORE")) return k.o = op::before, date(k.day);
    if (is("ON")) return k.o = op::on, date(k.day);
    if (is("SINCE")) return k.o = op::since, date(k.day);
    if (is("SENTBEFORE")) return k.o = op::sent_before, date(k.day);
    if (is("SENTON")) return k.o = op::sent_on, date(k.day);
    if (is("SENTSINCE")) return k.o = op::sent_since, date(k.day);
    if (is("LARGER")) return k.o = op::larger, number(k.number, false);
    if (is("SMALLER")) return k.o = op::smaller, number(k.number, false);
    if (is("OLDER")) return k.o = op::older, number(k.number, false);
    if (is("YOUNGER")) return k.o = op::younger, number(k.number, false);
    if (is("UID")) {
      k.o = op::uid;
      return sequence(k.set);
    }
    if (is("MODSEQ")) {
      // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
      k.o = op::modseq;
      if (i_ + 2 < toks_.size() && toks_[i_].is_string()) {
        // entry name and type: per-flag MODSEQs are not kept apart, the message's is used.
        const token& type = toks_[i_ + 1];
        if (!type.is("PRIV") && !type.is("SHARED") && !type.is("ALL")) return fail(errc::syntax);
        i_ += 2;
      }
      return number(k.number, true);
    }
    if (is("NOT")) {
      k.o = op::not_;
      search_key c;
      if (!parse_key(c, depth + 1)) return false;
      k.children.push_back(std::move(c));
      return true;
    }
    if (is("OR")) {
      k.o = op::or_;
      search_key a, b;
      if (!parse_key(a, depth + 1) || !parse_key(b, depth + 1)) return false;
      k.children.push_back(std::move(a));
      k.children.push_back(std::move(b));
      return true;
    }
    // A sequence set (or "$").
    auto s = sequence_set::parse(w);
    if (!s) return fail(errc::syntax);
    k.o = op::sequence;
    k.set = std::move(*s);
    return true;
  }

  std::size_t pos() const { return i_; }
  void skip(std::size_t n) { i_ += n; }

private:
  bool fail(errc e) {
    error = make_error_code(e);
    return false;
  }
  bool astring(std::string& out) {
    if (at_end() || !toks_[i_].is_astring()) return fail(errc::syntax);
    out = toks_[i_++].text;
    return true;
  }
  bool date(std::int64_t& day) {
    // RFC 9051 §9: date = date-text / DQUOTE date-text DQUOTE
    if (at_end() || toks_[i_].k == token::kind::list) return fail(errc::syntax);
    auto d = parse_search_date(toks_[i_++].text);
    if (!d) return fail(errc::bad_date);
    day = *d;
    return true;
  }
  bool number(std::uint64_t& n, bool wide) {
    if (at_end() || !toks_[i_].is_atom() || !number64(toks_[i_].text, n)) return fail(errc::syntax);
    if (!wide && n > 0xFFFFFFFFULL) return fail(errc::syntax);
    ++i_;
    return true;
  }
  bool sequence(sequence_set& s) {
    if (at_end() || !toks_[i_].is_atom()) return fail(errc::syntax);
    auto p = sequence_set::parse(toks_[i_++].text);
    if (!p) return fail(errc::bad_sequence);
    s = std::move(*p);
    return true;
  }

  std::span<const token> toks_;
  std::size_t i_ = 0;
};

} // namespace

mailkit::expected<search_command> parse_search(std::span<const token> args) {
  search_command sc;
  std::size_t i = 0;
  // RFC 4731 §3.1: search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP ...)] ")"
  if (i < args.size() && args[i].is("RETURN")) {
    if (i + 1 >= args.size() || args[i + 1].k != token::kind::list)
      return mailkit::fail(errc::syntax);
    sc.ret.esearch = true;
    for (const auto& o : args[i + 1].items) {
      if (o.is("MIN"))
        sc.ret.min = true;
      else if (o.is("MAX"))
        sc.ret.max = true;
      else if (o.is("ALL"))
        sc.ret.all = true;
      else if (o.is("COUNT"))
        sc.ret.count = true;
      else if (o.is("SAVE"))
        sc.ret.save = true; // RFC 5182
      else
        return mailkit::fail(errc::syntax);
    }
    // RFC 4731 §3.1: RETURN () means RETURN (ALL).
    if (!sc.ret.min && !sc.ret.max && !sc.ret.all && !sc.ret.count && !sc.ret.save)
      sc.ret.all = true;
    i += 2;
  }
  if (i < args.size() && args[i].is("CHARSET")) {
    if (i + 1 >= args.size() || !args[i + 1].is_astring()) return mailkit::fail(errc::syntax);
    std::string cs = args[i + 1].text;
    for (auto& c : cs)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    // RFC 9051 §6.4.4: US-ASCII and UTF-8 must be supported; others get NO [BADCHARSET].
    if (cs != "UTF-8" && cs != "US-ASCII" && cs != "UTF8") return mailkit::fail(errc::bad_charset);
    sc.charset = cs == "UTF8" ? "UTF-8" : cs;
    i += 2;
  }
  if (i >= args.size()) return mailkit::fail(errc::syntax);
  parser p(args.subspan(i));
  sc.key.o = search_key::op::and_;
  while (!p.at_end()) {
    search_key k;
    if (!p.parse_key(k, 1)) return mailkit::make_unexpected(p.error);
    sc.key.children.push_back(std::move(k));
  }
  return sc;
}

} // namespace mailkit::imap
