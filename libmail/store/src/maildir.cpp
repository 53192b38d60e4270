// SPDX-License-Identifier: Apache-2.0
#include <mailkit/store/error.hpp>
#include <mailkit/store/maildir.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace mailkit::store {
namespace {

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool iprefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
    if (c != prefix[i]) return false;
  }
  return true;
}

} // namespace

maildir_name parse_maildir_name(std::string_view name) noexcept {
  maildir_name out;
  auto colon = name.find(':');
  out.base = name.substr(0, colon);
  // Dovecot appends ",S=<size>" and ",W=<vsize>" to the base name.
  std::string_view rest = out.base;
  for (auto comma = rest.find(','); comma != std::string_view::npos;
       comma = rest.find(',', comma + 1)) {
    auto field = rest.substr(comma + 1);
    field = field.substr(0, field.find(','));
    if (field.starts_with("S="))
      out.size = to_u64(field.substr(2));
    else if (field.starts_with("W="))
      out.virtual_size = to_u64(field.substr(2));
  }
  if (colon == std::string_view::npos) return out;
  auto info = name.substr(colon + 1);
  // Maildir: "2," introduces the flags; "1," (experimental semantics) carries none we read.
  if (!info.starts_with("2,")) return out;
  for (char c : info.substr(2)) {
    switch (c) {
    case 'D':
      out.system |= flag_draft;
      break;
    case 'F':
      out.system |= flag_flagged;
      break;
    case 'R':
      out.system |= flag_answered;
      break;
    case 'S':
      out.system |= flag_seen;
      break;
    case 'T':
      out.system |= flag_deleted;
      break;
    case 'P':
      out.passed = true;
      break;
    default:
      if (c >= 'a' && c <= 'z')
        out.keyword_letters |= 1u << (c - 'a');
      else if (c == ',')
        return out; // Dovecot may append further ",<field>" after the flags
      break;
    }
  }
  return out;
}

std::string maildir_info(std::uint8_t system, std::string_view keyword_letters) {
  std::string letters;
  // Maildir: flags must be stored in ASCII order.
  if (system & flag_draft) letters += 'D';
  if (system & flag_flagged) letters += 'F';
  if (system & flag_answered) letters += 'R';
  if (system & flag_seen) letters += 'S';
  if (system & flag_deleted) letters += 'T';
  std::string kw(keyword_letters);
  std::sort(kw.begin(), kw.end());
  kw.erase(std::unique(kw.begin(), kw.end()), kw.end());
  return ":2," + letters + kw;
}

std::array<std::string, 26> parse_dovecot_keywords(std::string_view file) {
  std::array<std::string, 26> out;
  while (!file.empty()) {
    auto nl = file.find('\n');
    auto line = file.substr(0, nl);
    file = nl == std::string_view::npos ? std::string_view{} : file.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > 1024) continue;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    auto idx = to_u64(line.substr(0, sp));
    auto kw = line.substr(sp + 1);
    if (!idx || *idx >= 26 || kw.empty()) continue;
    flag_set probe;
    if (kw.front() == '\\' || !probe.add(kw)) continue; // not a keyword atom
    out[*idx] = std::string(kw);
  }
  return out;
}

expected<dovecot_uidlist> parse_dovecot_uidlist(std::string_view file) {
  dovecot_uidlist out;
  auto nl = file.find('\n');
  auto header = file.substr(0, nl);
  file = nl == std::string_view::npos ? std::string_view{} : file.substr(nl + 1);
  if (header.starts_with("3 ")) {
    // Version 3: "3 V<uidvalidity> N<next uid> G<guid> ..." space-separated fields.
    std::string_view rest = header.substr(2);
    while (!rest.empty()) {
      auto sp = rest.find(' ');
      auto f = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
      if (f.size() < 2) continue;
      auto v = to_u64(f.substr(1));
      if (!v || *v > UINT32_MAX) continue;
      if (f.front() == 'V')
        out.uidvalidity = static_cast<std::uint32_t>(*v);
      else if (f.front() == 'N')
        out.next_uid = static_cast<std::uint32_t>(*v);
    }
  } else if (header.starts_with("1 ")) {
    // Version 1: "1 <uidvalidity> <next uid>".
    auto rest = header.substr(2);
    auto sp = rest.find(' ');
    auto v = to_u64(rest.substr(0, sp));
    auto n = sp == std::string_view::npos ? std::nullopt : to_u64(rest.substr(sp + 1));
    if (!v || !n || *v > UINT32_MAX || *n > UINT32_MAX) return fail(errc::invalid_argument);
    out.uidvalidity = static_cast<std::uint32_t>(*v);
    out.next_uid = static_cast<std::uint32_t>(*n);
  } else {
    return fail(errc::invalid_argument);
  }
  constexpr std::size_t max_records = 10'000'000;
  while (!file.empty() && out.uids.size() < max_records) {
    nl = file.find('\n');
    auto line = file.substr(0, nl);
    file = nl == std::string_view::npos ? std::string_view{} : file.substr(nl + 1);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    auto uid = to_u64(line.substr(0, sp));
    if (!uid || *uid == 0 || *uid > UINT32_MAX) continue;
    // v3: extension fields, then ":" and the file name; v1: the file name directly.
    auto rest = line.substr(sp + 1);
    auto colon = rest.find(':');
    std::string_view fname = colon == std::string_view::npos ? rest : rest.substr(colon + 1);
    if (fname.empty() || fname.find(' ') != std::string_view::npos) continue;
    // The key is the base name (the uidlist omits the ":2,..." info).
    fname = fname.substr(0, fname.find(':'));
    if (fname.empty()) continue; // "<uid> ::2,S": no base name
    out.uids.emplace(std::string(fname), static_cast<std::uint32_t>(*uid));
  }
  return out;
}

std::optional<std::int64_t> parse_mbox_from_date(std::string_view line) {
  // "From <sender> <asctime>": asctime is "Www Mmm dd hh:mm:ss yyyy" (24 characters), possibly
  // with a zone before the year. Take the last five space-separated words.
  if (!line.starts_with("From ")) return std::nullopt;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' '))
    line.remove_suffix(1);
  std::vector<std::string_view> words;
  std::size_t pos = 5;
  while (pos < line.size()) {
    auto sp = line.find(' ', pos);
    auto w = line.substr(pos, sp == std::string_view::npos ? line.npos : sp - pos);
    if (!w.empty()) words.push_back(w);
    if (sp == std::string_view::npos) break;
    pos = sp + 1;
  }
  if (words.size() < 5) return std::nullopt;
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Find "Mmm dd hh:mm:ss ... yyyy" scanning from the end.
  for (std::size_t i = 1; i + 3 < words.size() + 1 && i < words.size(); ++i) {
    auto mon = std::find(std::begin(months), std::end(months), words[i]);
    if (mon == std::end(months) || i + 2 >= words.size()) continue;
    auto day = to_u64(words[i + 1]);
    auto tm_ = words[i + 2];
    auto year = to_u64(words.back());
    if (!day || !year || tm_.size() != 8 || tm_[2] != ':' || tm_[5] != ':') continue;
    auto h = to_u64(tm_.substr(0, 2)), m = to_u64(tm_.substr(3, 2)), s = to_u64(tm_.substr(6, 2));
    if (!h || !m || !s || *day < 1 || *day > 31 || *h > 23 || *m > 59 || *s > 60 || *year < 1970 ||
        *year > 9999)
      continue;
    std::tm t{};
    t.tm_year = static_cast<int>(*year) - 1900;
    t.tm_mon = static_cast<int>(mon - std::begin(months));
    t.tm_mday = static_cast<int>(*day);
    t.tm_hour = static_cast<int>(*h);
    t.tm_min = static_cast<int>(*m);
    t.tm_sec = static_cast<int>(*s);
    return static_cast<std::int64_t>(timegm(&t));
  }
  return std::nullopt;
}

mbox_reader::mbox_reader(variant v, mbox_limits lim) : variant_(v), lim_(lim) {}

expected<void> mbox_reader::feed(std::string_view chunk) {
  if (failed_) return fail(errc::invalid_argument);
  while (!chunk.empty()) {
    auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(chunk);
      if (partial_.size() > lim_.max_line) {
        failed_ = true;
        return fail(errc::limit_exceeded);
      }
      return {};
    }
    std::string_view l;
    if (partial_.empty()) {
      l = chunk.substr(0, nl + 1);
    } else {
      partial_.append(chunk.substr(0, nl + 1));
      l = partial_;
    }
    if (l.size() > lim_.max_line) {
      failed_ = true;
      return fail(errc::limit_exceeded);
    }
    if (!started_) {
      // RFC 4155 §2: the file begins with a "From " separator line.
      if (!l.starts_with("From ")) {
        failed_ = true;
        return fail(errc::invalid_argument);
      }
      started_ = true;
    }
    line(l);
    partial_.clear();
    chunk.remove_prefix(nl + 1);
    if (current_ && current_->data.size() > lim_.max_message) {
      failed_ = true;
      return fail(errc::limit_exceeded);
    }
  }
  return {};
}

void mbox_reader::line(std::string_view l) {
  if (l.starts_with("From ")) {
    flush();
    current_.emplace();
    current_->date = parse_mbox_from_date(l);
    in_header_ = true;
    return;
  }
  if (!current_) return;
  std::string_view content = l;
  if (in_header_) {
    std::string_view bare = content;
    while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r'))
      bare.remove_suffix(1);
    if (bare.empty()) {
      in_header_ = false;
    } else if (iprefix(bare, "status:") || iprefix(bare, "x-status:")) {
      // mutt/pine flags: Status: R (read), O (old); X-Status: A (answered), F (flagged),
      // T (deleted), D (draft). They describe the mailbox, not the message: not kept.
      bool x = iprefix(bare, "x-status:");
      for (char c : bare.substr(x ? 9 : 7)) {
        if (!x && c == 'R') current_->flags.system |= flag_seen;
        if (x && c == 'A') current_->flags.system |= flag_answered;
        if (x && c == 'F') current_->flags.system |= flag_flagged;
        if (x && c == 'T') current_->flags.system |= flag_deleted;
        if (x && c == 'D') current_->flags.system |= flag_draft;
      }
      return;
    }
  }
  // RFC 4155 §2 / mboxrd: ">From " with one or more ">" loses one; mboxo only ">From ".
  std::size_t q = 0;
  while (q < content.size() && content[q] == '>')
    ++q;
  if (q > 0 && content.substr(q).starts_with("From ") && (variant_ == variant::mboxrd || q == 1))
    content.remove_prefix(1);
  current_->data.append(content);
}

void mbox_reader::flush() {
  if (!current_) return;
  // The blank line before the next "From " belongs to the mbox format, not the message.
  auto& d = current_->data;
  if (d.ends_with("\r\n\r\n"))
    d.resize(d.size() - 2);
  else if (d.ends_with("\n\n"))
    d.resize(d.size() - 1);
  done_.push_back(std::move(*current_));
  current_.reset();
}

expected<void> mbox_reader::finish() {
  if (failed_) return fail(errc::invalid_argument);
  if (!partial_.empty()) {
    if (!started_ && !std::string_view(partial_).starts_with("From ")) {
      failed_ = true;
      return fail(errc::invalid_argument);
    }
    started_ = true;
    std::string last = std::move(partial_);
    partial_.clear();
    line(last);
  }
  flush();
  return {};
}

std::vector<mbox_message> mbox_reader::take() {
  return std::exchange(done_, {});
}

expected<passwd_file> parse_dovecot_passwd(std::string_view file) {
  passwd_file out;
  while (!file.empty()) {
    auto nl = file.find('\n');
    auto line = file.substr(0, nl);
    file = nl == std::string_view::npos ? std::string_view{} : file.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() > max_passwd_line) {
      ++out.bad_lines;
      continue;
    }
    // Fields 1..7 are ':'-separated; everything after the seventh ':' is the extra fields,
    // which may themselves contain ':' ("userdb_quota_rule=*:storage=1G").
    std::array<std::string_view, 8> f{};
    std::size_t n = 0;
    std::string_view rest = line;
    while (n < 7) {
      auto colon = rest.find(':');
      f[n++] = rest.substr(0, colon);
      if (colon == std::string_view::npos) {
        rest = {};
        break;
      }
      rest = rest.substr(colon + 1);
    }
    if (n == 7) f[n++] = rest;
    if (n < 2 || f[0].empty() || f[1].empty()) {
      ++out.bad_lines;
      continue;
    }
    if (out.entries.size() >= max_passwd_entries) return fail(errc::limit_exceeded);
    passwd_entry e;
    e.user = f[0];
    e.hash = f[1];
    // Extra fields are space-separated "key=value" pairs.
    for (std::string_view extra = f[7]; !extra.empty();) {
      auto sp = extra.find(' ');
      auto kv = extra.substr(0, sp);
      extra = sp == std::string_view::npos ? std::string_view{} : extra.substr(sp + 1);
      constexpr std::string_view key = "userdb_quota_rule=*:storage=";
      if (!kv.starts_with(key)) continue;
      auto v = kv.substr(key.size());
      std::uint64_t unit = 1;
      if (!v.empty()) {
        switch (v.back()) {
        case 'b':
        case 'B':
          unit = 1;
          break;
        case 'k':
        case 'K':
          unit = 1ull << 10;
          break;
        case 'M':
          unit = 1ull << 20;
          break;
        case 'G':
          unit = 1ull << 30;
          break;
        case 'T':
          unit = 1ull << 40;
          break;
        default:
          unit = 0;
          break;
        }
        if (unit != 0)
          v.remove_suffix(1);
        else
          unit = 1ull << 10; // Dovecot reads a bare storage limit in kilobytes
      }
      auto num = to_u64(v);
      if (num && *num <= UINT64_MAX / unit) e.quota_bytes = *num * unit;
    }
    out.entries.push_back(e);
  }
  return out;
}

} // namespace mailkit::store
