// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/encode.hpp>
#include <mailkit/imap/error.hpp>
#include <mailkit/imap/fetch.hpp>

namespace mailkit::imap {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

bool nz_number(std::string_view s, std::uint32_t& out, bool allow_zero = false) {
  if (s.empty() || s.size() > 10) return false;
  if (!allow_zero && s[0] == '0') return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFFULL || (!allow_zero && v == 0)) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

// RFC 9051 §9: section-spec = section-msgtext / (section-part ["." section-text]);
// section-text = section-msgtext / "MIME"; section-msgtext = "HEADER" /
// "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"; section-part = nz-number *("." nz-number).
bool parse_section(std::string_view in, bool binary, section& out, std::string& canonical) {
  std::size_t i = 0;
  while (i < in.size() && in[i] >= '0' && in[i] <= '9') {
    std::size_t j = i;
    while (j < in.size() && in[j] >= '0' && in[j] <= '9')
      ++j;
    std::uint32_t n = 0;
    if (!nz_number(in.substr(i, j - i), n)) return false;
    if (out.part.size() >= max_section_depth) return false;
    out.part.push_back(n);
    if (!canonical.empty()) canonical.push_back('.');
    canonical += std::to_string(n);
    i = j;
    if (i == in.size()) return true;
    if (in[i] != '.') return false;
    ++i;
    if (i == in.size()) return false; // "1." ends without a part or a text
  }
  if (i == in.size()) return true; // BODY[]: the whole message
  // RFC 3516 §4: section-binary = "[" [section-part] "]": no text specifiers.
  if (binary) return false;
  std::string_view rest = in.substr(i);
  const std::string u = upper(rest.substr(0, std::min<std::size_t>(rest.size(), 17)));
  if (!canonical.empty()) canonical.push_back('.');
  if (rest.size() == 6 && u == "HEADER") {
    out.s = section::spec::header;
    canonical += "HEADER";
    return true;
  }
  if (rest.size() == 4 && u.substr(0, 4) == "TEXT") {
    out.s = section::spec::text;
    canonical += "TEXT";
    return true;
  }
  if (rest.size() == 4 && u.substr(0, 4) == "MIME") {
    if (out.part.empty()) return false; // MIME only follows a part number
    out.s = section::spec::mime;
    canonical += "MIME";
    return true;
  }
  std::string_view list;
  if (u.rfind("HEADER.FIELDS.NOT", 0) == 0 && rest.size() > 17 && rest[17] == ' ') {
    out.s = section::spec::header_fields_not;
    canonical += "HEADER.FIELDS.NOT (";
    list = rest.substr(18);
  } else if (u.rfind("HEADER.FIELDS", 0) == 0 && rest.size() > 13 && rest[13] == ' ') {
    out.s = section::spec::header_fields;
    canonical += "HEADER.FIELDS (";
    list = rest.substr(14);
  } else {
    return false;
  }
  auto toks = tokenize(list);
  if (!toks || toks->size() != 1 || (*toks)[0].k != token::kind::list || (*toks)[0].items.empty() ||
      (*toks)[0].items.size() > max_header_fields)
    return false;
  bool first = true;
  for (const auto& f : (*toks)[0].items) {
    // header-fld-name = astring; a field name is printable ASCII without ":" (RFC 5322 §3.6.8).
    if (!f.is_astring() || f.text.empty()) return false;
    for (unsigned char c : f.text)
      if (c <= 32 || c >= 127 || c == ':') return false;
    out.fields.push_back(f.text);
    if (!first) canonical.push_back(' ');
    first = false;
    append_astring(canonical, upper(f.text));
  }
  canonical.push_back(')');
  return true;
}

} // namespace

mailkit::expected<fetch_item> parse_fetch_item(std::string_view atom) {
  fetch_item it;
  const std::size_t bracket = atom.find('[');
  const std::string name = upper(atom.substr(0, bracket));
  using kind = fetch_item::kind;
  if (bracket == std::string_view::npos) {
    it.response_name = name;
    if (name == "FLAGS")
      it.k = kind::flags;
    else if (name == "INTERNALDATE")
      it.k = kind::internaldate;
    else if (name == "RFC822.SIZE")
      it.k = kind::rfc822_size;
    else if (name == "ENVELOPE")
      it.k = kind::envelope;
    else if (name == "BODY")
      it.k = kind::body;
    else if (name == "BODYSTRUCTURE")
      it.k = kind::bodystructure;
    else if (name == "UID")
      it.k = kind::uid;
    else if (name == "MODSEQ")
      it.k = kind::modseq;
    else if (name == "RFC822") { // RFC 3501 §6.4.5: BODY[], sets \Seen
      it.k = kind::section;
    } else if (name == "RFC822.HEADER") { // BODY.PEEK[HEADER]
      it.k = kind::section;
      it.peek = true;
      it.sec.s = section::spec::header;
    } else if (name == "RFC822.TEXT") { // BODY[TEXT]
      it.k = kind::section;
      it.sec.s = section::spec::text;
    } else {
      return mailkit::fail(errc::syntax);
    }
    return it;
  }
  bool binary = false;
  std::string base;
  if (name == "BODY" || name == "BODY.PEEK") {
    it.k = kind::section;
    base = "BODY";
  } else if (name == "BINARY" || name == "BINARY.PEEK") {
    it.k = kind::binary;
    binary = true;
    base = "BINARY";
  } else if (name == "BINARY.SIZE") {
    it.k = kind::binary_size;
    binary = true;
    base = "BINARY.SIZE";
  } else {
    return mailkit::fail(errc::syntax);
  }
  it.peek = name.size() > 5 && name.substr(name.size() - 5) == ".PEEK";
  const std::size_t close = atom.rfind(']');
  if (close == std::string_view::npos || close < bracket) return mailkit::fail(errc::syntax);
  std::string canonical;
  if (!parse_section(atom.substr(bracket + 1, close - bracket - 1), binary, it.sec, canonical))
    return mailkit::fail(errc::syntax);
  it.response_name = base + "[" + canonical + "]";
  std::string_view tail = atom.substr(close + 1);
  if (!tail.empty()) {
    // RFC 9051 §9: partial = "<" number64 "." nz-number64 ">"; none on BINARY.SIZE.
    if (it.k == kind::binary_size || tail.size() < 5 || tail.front() != '<' || tail.back() != '>')
      return mailkit::fail(errc::syntax);
    tail = tail.substr(1, tail.size() - 2);
    const std::size_t dot = tail.find('.');
    std::uint32_t origin = 0, count = 0;
    if (dot == std::string_view::npos || !nz_number(tail.substr(0, dot), origin, true) ||
        !nz_number(tail.substr(dot + 1), count))
      return mailkit::fail(errc::syntax);
    it.partial = std::make_pair(origin, count);
    // RFC 9051 §7.5.2: the response names the origin only: BODY[]<0>.
    it.response_name += "<" + std::to_string(origin) + ">";
  }
  return it;
}

mailkit::expected<fetch_command> parse_fetch(std::span<const token> args) {
  fetch_command fc;
  if (args.empty()) return mailkit::fail(errc::syntax);
  auto add = [&](std::string_view atom) -> bool {
    auto it = parse_fetch_item(atom);
    if (!it) return false;
    fc.items.push_back(std::move(*it));
    return true;
  };
  const token& what = args[0];
  if (what.is("ALL") || what.is("FAST") || what.is("FULL")) {
    // RFC 9051 §6.4.5: the macros.
    for (std::string_view n : {"FLAGS", "INTERNALDATE", "RFC822.SIZE"})
      add(n);
    if (!what.is("FAST")) add("ENVELOPE");
    if (what.is("FULL")) add("BODY");
  } else if (what.k == token::kind::list) {
    if (what.items.empty()) return mailkit::fail(errc::syntax);
    for (const auto& t : what.items)
      if (!t.is_atom() || !add(t.text)) return mailkit::fail(errc::syntax);
  } else if (!what.is_atom() || !add(what.text)) {
    return mailkit::fail(errc::syntax);
  }
  if (args.size() > 2) return mailkit::fail(errc::syntax);
  if (args.size() == 2) {
    // RFC 7162 §3.1.4.1 / §3.2.6: fetch-modifier list.
    const token& mods = args[1];
    if (mods.k != token::kind::list || mods.items.empty()) return mailkit::fail(errc::syntax);
    for (std::size_t i = 0; i < mods.items.size(); ++i) {
      const token& m = mods.items[i];
      if (m.is("CHANGEDSINCE") && i + 1 < mods.items.size() && mods.items[i + 1].is_atom()) {
        const std::string& v = mods.items[++i].text;
        std::uint64_t n = 0;
        if (v.empty() || v.size() > 19) return mailkit::fail(errc::syntax);
        for (char c : v) {
          if (c < '0' || c > '9') return mailkit::fail(errc::syntax);
          n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        fc.changed_since = n;
      } else if (m.is("VANISHED")) {
        fc.vanished = true;
      } else {
        return mailkit::fail(errc::syntax);
      }
    }
    if (fc.vanished && !fc.changed_since) return mailkit::fail(errc::syntax); // RFC 7162 §3.2.6
  }
  return fc;
}

} // namespace mailkit::imap
