// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/commands.hpp>
#include <mailkit/imap/date.hpp>
#include <mailkit/imap/error.hpp>

#include <span>
#include <type_traits>

namespace mailkit::imap {
namespace {

using args_t = std::span<const token>;

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

mailkit::unexpected<mailkit::error_code> bad(errc e = errc::syntax) {
  return mailkit::unexpected<mailkit::error_code>(make_error_code(e));
}

bool astring(const token& t, std::string& out) {
  if (!t.is_astring() || t.literal8) return false;
  out = t.text;
  return true;
}

bool number(const token& t, std::uint64_t& out, std::uint64_t max) {
  if (!t.is_atom() || t.text.empty() || t.text.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : t.text) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// RFC 9051 §9: flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
// flag-keyword / flag-extension; "\Recent" and "\*" cannot be stored or appended.
bool flag(const token& t, std::string& out) {
  if (!t.is_atom() || t.text.empty()) return false;
  const std::string& f = t.text;
  if (f[0] == '\\') {
    const std::string u = upper(f);
    if (u == "\\ANSWERED")
      out = "\\Answered";
    else if (u == "\\FLAGGED")
      out = "\\Flagged";
    else if (u == "\\DELETED")
      out = "\\Deleted";
    else if (u == "\\SEEN")
      out = "\\Seen";
    else if (u == "\\DRAFT")
      out = "\\Draft";
    else
      return false; // \Recent, \* and unknown system flags
    return true;
  }
  for (unsigned char c : f)
    if (c == '\\' || c == '[' || c == ']') return false; // keyword = atom
  out = f;
  return true;
}

bool flag_list(const token& t, std::vector<std::string>& out) {
  if (t.k != token::kind::list) return false;
  for (const auto& i : t.items) {
    std::string f;
    if (!flag(i, f)) return false;
    out.push_back(std::move(f));
  }
  return true;
}

bool sequence(const token& t, sequence_set& out) {
  if (!t.is_atom()) return false;
  auto s = sequence_set::parse(t.text);
  if (!s) return false;
  out = std::move(*s);
  return true;
}

bool status_items(const token& t, std::vector<std::string>& out) {
  // RFC 9051 §6.3.11 + RFC 7162 §3.1.10 (HIGHESTMODSEQ) + RFC 3501 (RECENT).
  if (t.k != token::kind::list || t.items.empty()) return false;
  for (const auto& i : t.items) {
    if (!i.is_atom()) return false;
    std::string u = upper(i.text);
    if (u != "MESSAGES" && u != "UIDNEXT" && u != "UIDVALIDITY" && u != "UNSEEN" &&
        u != "DELETED" && u != "SIZE" && u != "RECENT" && u != "HIGHESTMODSEQ")
      return false;
    out.push_back(std::move(u));
  }
  return true;
}

mailkit::expected<typed_command> parse_select(args_t a, bool read_only) {
  cmd_select s;
  s.read_only = read_only;
  if (a.empty() || a.size() > 2 || !astring(a[0], s.mailbox)) return bad();
  if (a.size() == 2) {
    // RFC 9051 §6.3.1 select-params; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC.
    if (a[1].k != token::kind::list || a[1].items.empty()) return bad();
    const auto& p = a[1].items;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (p[i].is("CONDSTORE")) {
        s.condstore = true;
      } else if (p[i].is("QRESYNC") && i + 1 < p.size() && p[i + 1].k == token::kind::list) {
        const auto& q = p[++i].items;
        cmd_select::qresync_params qp;
        std::uint64_t v = 0;
        if (q.size() < 2 || q.size() > 4 || !number(q[0], v, 0xFFFFFFFFULL) || v == 0 ||
            !number(q[1], qp.modseq, 0x7FFFFFFFFFFFFFFFULL) || qp.modseq == 0)
          return bad();
        qp.uidvalidity = static_cast<std::uint32_t>(v);
        std::size_t k = 2;
        if (k < q.size() && q[k].is_atom()) {
          sequence_set known;
          if (!sequence(q[k], known) || known.is_saved_result()) return bad();
          qp.known_uids = std::move(known);
          ++k;
        }
        if (k < q.size()) {
          if (q[k].k != token::kind::list || q[k].items.size() != 2) return bad();
          sequence_set seqs, uids;
          if (!sequence(q[k].items[0], seqs) || !sequence(q[k].items[1], uids)) return bad();
          qp.seq_match = std::make_pair(std::move(seqs), std::move(uids));
          ++k;
        }
        if (k != q.size()) return bad();
        s.qresync = std::move(qp);
        s.condstore = true; // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
      } else {
        return bad();
      }
    }
  }
  return s;
}

mailkit::expected<typed_command> parse_list(args_t a, bool lsub) {
  cmd_list l;
  l.lsub = lsub;
  std::size_t i = 0;
  if (!lsub && i < a.size() && a[i].k == token::kind::list) {
    // RFC 5258 §3.1: list-select-opts.
    l.extended = true;
    for (const auto& o : a[i].items) {
      if (o.is("SUBSCRIBED"))
        l.subscribed = true;
      else if (o.is("REMOTE"))
        l.remote = true;
      else if (o.is("RECURSIVEMATCH"))
        l.recursive_match = true;
      else if (o.is("SPECIAL-USE"))
        l.special_use_only = true; // RFC 6154 §3
      else
        return bad();
    }
    // RFC 5258 §3.1: RECURSIVEMATCH needs another selection option.
    if (l.recursive_match && !l.subscribed) return bad();
    ++i;
  }
  if (i >= a.size() || !astring(a[i], l.reference)) return bad();
  ++i;
  if (i >= a.size()) return bad();
  if (!lsub && a[i].k == token::kind::list) {
    l.extended = true;
    if (a[i].items.empty()) return bad();
    for (const auto& p : a[i].items) {
      std::string s;
      if (!astring(p, s)) return bad();
      l.patterns.push_back(std::move(s));
    }
  } else {
    std::string s;
    if (!astring(a[i], s)) return bad();
    l.patterns.push_back(std::move(s));
  }
  ++i;
  if (!lsub && i + 1 < a.size() && a[i].is("RETURN")) {
    if (a[i + 1].k != token::kind::list) return bad();
    l.extended = true;
    const auto& r = a[i + 1].items;
    for (std::size_t k = 0; k < r.size(); ++k) {
      if (r[k].is("SUBSCRIBED"))
        l.return_subscribed = true;
      else if (r[k].is("CHILDREN"))
        l.return_children = true;
      else if (r[k].is("SPECIAL-USE"))
        l.return_special_use = true;
      else if (r[k].is("STATUS") && k + 1 < r.size()) { // RFC 5819 §2
        if (!status_items(r[++k], l.return_status)) return bad();
      } else
        return bad();
    }
    i += 2;
  }
  if (i != a.size()) return bad();
  return l;
}

mailkit::expected<typed_command> parse_append(args_t a) {
  cmd_append ap;
  if (a.size() < 2 || !astring(a[0], ap.mailbox)) return bad();
  std::size_t i = 1;
  // RFC 9051 §6.3.12; RFC 3502 §6: append-message *(SP append-message).
  while (i < a.size()) {
    if (ap.messages.size() >= max_multiappend) return bad();
    cmd_append::message m;
    if (a[i].k == token::kind::list) {
      if (!flag_list(a[i], m.flags)) return bad();
      ++i;
    }
    if (i < a.size() && a[i].k == token::kind::quoted) {
      auto d = parse_date_time(a[i].text);
      if (!d) return bad(errc::bad_date);
      m.internal_date = *d;
      ++i;
    }
    if (i >= a.size() || a[i].k != token::kind::literal) return bad();
    m.data = a[i].text;
    m.binary = a[i].literal8;
    ++i;
    ap.messages.push_back(std::move(m));
  }
  return ap;
}

mailkit::expected<typed_command> parse_store(args_t a) {
  cmd_store s;
  if (a.size() < 3) return bad();
  if (!sequence(a[0], s.set)) return bad(errc::bad_sequence);
  std::size_t i = 1;
  if (a[i].k == token::kind::list) {
    // RFC 7162 §3.1.3: STORE set (UNCHANGEDSINCE n) ...
    const auto& m = a[i].items;
    std::uint64_t v = 0;
    if (m.size() != 2 || !m[0].is("UNCHANGEDSINCE") || !number(m[1], v, 0x7FFFFFFFFFFFFFFFULL))
      return bad();
    s.unchanged_since = v;
    ++i;
  }
  if (i + 1 >= a.size() || !a[i].is_atom()) return bad();
  std::string what = upper(a[i].text);
  if (!what.empty() && (what[0] == '+' || what[0] == '-')) {
    s.how = what[0] == '+' ? cmd_store::mode::add : cmd_store::mode::remove;
    what.erase(0, 1);
  }
  if (what == "FLAGS.SILENT")
    s.silent = true;
  else if (what != "FLAGS")
    return bad();
  ++i;
  // store-att-flags: flag-list / (flag *(SP flag))
  if (a[i].k == token::kind::list) {
    if (i + 1 != a.size() || !flag_list(a[i], s.flags)) return bad();
  } else {
    for (; i < a.size(); ++i) {
      std::string f;
      if (!flag(a[i], f)) return bad();
      s.flags.push_back(std::move(f));
    }
  }
  return s;
}

mailkit::expected<typed_command> parse_id(args_t a) {
  cmd_id id;
  if (a.size() != 1) return bad();
  if (a[0].is_nil()) return id;
  if (a[0].k != token::kind::list || a[0].items.size() % 2 != 0 ||
      a[0].items.size() / 2 > max_id_fields)
    return bad();
  const auto& it = a[0].items;
  for (std::size_t i = 0; i < it.size(); i += 2) {
    // RFC 2971 §3.3: field strings at most 30 octets, values at most 1024.
    if (!it[i].is_string() || it[i].text.size() > max_id_field) return bad();
    if (it[i + 1].is_nil()) {
      id.fields.emplace_back(it[i].text, std::nullopt);
    } else {
      if (!it[i + 1].is_string() || it[i + 1].text.size() > max_id_value) return bad();
      id.fields.emplace_back(it[i].text, it[i + 1].text);
    }
  }
  return id;
}

} // namespace

mailkit::expected<typed_command> parse_typed(const command& cmd) {
  const std::string& n = cmd.name;
  const args_t a(cmd.args);
  auto none = [&](auto c) -> mailkit::expected<typed_command> {
    if (!a.empty()) return bad();
    return c;
  };
  // Only FETCH, STORE, COPY, MOVE, SEARCH and EXPUNGE take the UID prefix (RFC 9051 §6.4.9).
  if (cmd.uid && n != "FETCH" && n != "STORE" && n != "COPY" && n != "MOVE" && n != "SEARCH" &&
      n != "EXPUNGE")
    return bad();
  if (n == "CAPABILITY") return none(cmd_capability{});
  if (n == "NOOP") return none(cmd_noop{});
  if (n == "LOGOUT") return none(cmd_logout{});
  if (n == "STARTTLS") return none(cmd_starttls{});
  if (n == "CHECK") return none(cmd_check{});
  if (n == "CLOSE") return none(cmd_close{});
  if (n == "UNSELECT") return none(cmd_unselect{});
  if (n == "IDLE") return none(cmd_idle{});
  if (n == "NAMESPACE") return none(cmd_namespace{});
  if (n == "LOGIN") {
    cmd_login l;
    if (a.size() != 2 || !astring(a[0], l.user) || !astring(a[1], l.password)) return bad();
    return l;
  }
  if (n == "AUTHENTICATE") {
    cmd_authenticate au;
    if (a.empty() || a.size() > 2 || !a[0].is_atom()) return bad();
    au.mechanism = upper(a[0].text);
    if (a.size() == 2) { // RFC 4959 §3: initial-response = base64 / "="
      if (!a[1].is_atom()) return bad();
      au.initial_response = a[1].text;
    }
    return au;
  }
  if (n == "ENABLE") {
    cmd_enable e;
    if (a.empty()) return bad();
    for (const auto& t : a) {
      if (!t.is_atom()) return bad();
      e.capabilities.push_back(upper(t.text));
    }
    return e;
  }
  if (n == "ID") return parse_id(a);
  if (n == "SELECT") return parse_select(a, false);
  if (n == "EXAMINE") return parse_select(a, true);
  if (n == "CREATE") {
    cmd_create c;
    if (a.empty() || a.size() > 2 || !astring(a[0], c.mailbox)) return bad();
    if (a.size() == 2) { // RFC 6154 §3: (USE (\Drafts))
      const token& p = a[1];
      if (p.k != token::kind::list || p.items.size() != 2 || !p.items[0].is("USE") ||
          p.items[1].k != token::kind::list)
        return bad();
      for (const auto& u : p.items[1].items) {
        if (!u.is_atom() || u.text.empty() || u.text[0] != '\\') return bad();
        c.special_use.push_back(u.text);
      }
    }
    return c;
  }
  if (n == "DELETE") {
    cmd_delete d;
    if (a.size() != 1 || !astring(a[0], d.mailbox)) return bad();
    return d;
  }
  if (n == "RENAME") {
    cmd_rename r;
    if (a.size() != 2 || !astring(a[0], r.from) || !astring(a[1], r.to)) return bad();
    return r;
  }
  if (n == "SUBSCRIBE" || n == "UNSUBSCRIBE") {
    cmd_subscribe s;
    s.subscribe = n == "SUBSCRIBE";
    if (a.size() != 1 || !astring(a[0], s.mailbox)) return bad();
    return s;
  }
  if (n == "LIST") return parse_list(a, false);
  if (n == "LSUB") return parse_list(a, true);
  if (n == "STATUS") {
    cmd_status s;
    if (a.size() != 2 || !astring(a[0], s.mailbox) || !status_items(a[1], s.items)) return bad();
    return s;
  }
  if (n == "APPEND") return parse_append(a);
  if (n == "EXPUNGE") {
    cmd_expunge e;
    if (cmd.uid) {
      sequence_set s;
      if (a.size() != 1 || !sequence(a[0], s)) return bad(errc::bad_sequence);
      e.uids = std::move(s);
    } else if (!a.empty()) {
      return bad();
    }
    return e;
  }
  if (n == "SEARCH") {
    auto s = parse_search(a);
    if (!s) return mailkit::make_unexpected(s.error());
    return cmd_search{std::move(*s)};
  }
  if (n == "FETCH") {
    cmd_fetch f;
    if (a.size() < 2) return bad();
    if (!sequence(a[0], f.set)) return bad(errc::bad_sequence);
    auto p = parse_fetch(a.subspan(1));
    if (!p) return mailkit::make_unexpected(p.error());
    f.fetch = std::move(*p);
    return f;
  }
  if (n == "STORE") return parse_store(a);
  if (n == "COPY" || n == "MOVE") {
    cmd_copy c;
    c.move = n == "MOVE";
    if (a.size() != 2 || !sequence(a[0], c.set) || !astring(a[1], c.mailbox)) return bad();
    return c;
  }
  if (n == "GETQUOTA") {
    cmd_getquota q;
    if (a.size() != 1 || !astring(a[0], q.root)) return bad();
    return q;
  }
  if (n == "GETQUOTAROOT") {
    cmd_getquotaroot q;
    if (a.size() != 1 || !astring(a[0], q.mailbox)) return bad();
    return q;
  }
  if (n == "SETQUOTA") {
    // RFC 9208 §4.1.4: SETQUOTA root (resource limit ...)
    cmd_setquota q;
    if (a.size() != 2 || !astring(a[0], q.root) || a[1].k != token::kind::list ||
        a[1].items.size() % 2 != 0)
      return bad();
    for (std::size_t i = 0; i < a[1].items.size(); i += 2) {
      std::uint64_t v = 0;
      if (!a[1].items[i].is_atom() || !number(a[1].items[i + 1], v, 0x7FFFFFFFFFFFFFFFULL))
        return bad();
      q.limits.emplace_back(upper(a[1].items[i].text), v);
    }
    return q;
  }
  return bad(errc::unknown_command);
}

bool allowed_in(const typed_command& c, session_state s) noexcept {
  using st = session_state;
  if (s == st::logout) return false;
  return std::visit(
      [s](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        // RFC 9051 §6.1: any state.
        if constexpr (std::is_same_v<T, cmd_capability> || std::is_same_v<T, cmd_noop> ||
                      std::is_same_v<T, cmd_logout> || std::is_same_v<T, cmd_id>)
          return true;
        // RFC 9051 §6.2: not authenticated state.
        else if constexpr (std::is_same_v<T, cmd_starttls> || std::is_same_v<T, cmd_login> ||
                           std::is_same_v<T, cmd_authenticate>)
          return s == st::not_authenticated;
        // RFC 9051 §6.4: selected state.
        else if constexpr (std::is_same_v<T, cmd_check> || std::is_same_v<T, cmd_close> ||
                           std::is_same_v<T, cmd_unselect> || std::is_same_v<T, cmd_expunge> ||
                           std::is_same_v<T, cmd_search> || std::is_same_v<T, cmd_fetch> ||
                           std::is_same_v<T, cmd_store> || std::is_same_v<T, cmd_copy>)
          return s == st::selected;
        // RFC 9051 §6.3: authenticated state (and selected).
        else
          return s == st::authenticated || s == st::selected;
      },
      c);
}

} // namespace mailkit::imap
