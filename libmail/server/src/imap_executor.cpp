// SPDX-License-Identifier: Apache-2.0
#include <mailkit/server/imap_executor.hpp>

#include <mailkit/imap/date.hpp>
#include <mailkit/imap/encode.hpp>
#include <mailkit/mime/date.hpp>
#include <mailkit/mime/message.hpp>
#include <mailkit/store/error.hpp>
#include <mailkit/store/mailbox_name.hpp>
#include <mailkit/store/text_index.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>

namespace mailkit::server {

namespace {

using store::uid_type;

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// RFC 9051 §6.4.4: SEARCH string matching is a case-insensitive substring match (ASCII case
/// folding here; UTF-8 octets compare exactly).
bool icontains(std::string_view hay, std::string_view needle) noexcept {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  const char first = lower(needle[0]);
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (lower(hay[i]) != first) continue;
    std::size_t j = 1;
    while (j < needle.size() && lower(hay[i + j]) == lower(needle[j]))
      ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

/// RFC 7162 §3.1.2.1: HIGHESTMODSEQ is a positive number, sent for every mailbox. The store
/// starts a mailbox at 1 (schema 2) and every change takes it higher; a 0 can only come from
/// a store that never counted, and goes out as 1.
std::uint64_t wire_highestmodseq(std::uint64_t store_value) {
  return std::max<std::uint64_t>(store_value, 1);
}

/// "(\\Seen kw ...)": system flags first, as flag_set::names() lists them (no temporaries:
/// FETCH FLAGS writes this once per message).
void append_flags(std::string& out, const store::flag_set& f) {
  static constexpr std::pair<std::uint8_t, std::string_view> sys[] = {
      {store::flag_seen, "\\Seen"},
      {store::flag_answered, "\\Answered"},
      {store::flag_flagged, "\\Flagged"},
      {store::flag_deleted, "\\Deleted"},
      {store::flag_draft, "\\Draft"}};
  out += '(';
  bool first = true;
  for (const auto& [bit, name] : sys)
    if (f.system & bit) {
      if (!first) out += ' ';
      first = false;
      out += name;
    }
  for (const auto& k : f.keywords) {
    if (!first) out += ' ';
    first = false;
    out += k;
  }
  out += ')';
}

std::string flags_text(const store::flag_set& f) {
  std::string out;
  append_flags(out, f);
  return out;
}

void append_number(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

std::string uid_list(const std::vector<uid_type>& uids) {
  std::string out;
  for (auto u : uids) {
    if (!out.empty()) out += ',';
    out += std::to_string(u);
  }
  return out;
}

/// One header field of a header block: its name and the whole field (with its line ending).
struct header_field {
  std::string_view name;
  std::string_view whole;
};

std::vector<header_field> split_header(std::string_view block) {
  std::vector<header_field> out;
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t end = pos;
    // RFC 5322 §2.2.3: a field continues on lines that begin with white space.
    for (;;) {
      const std::size_t nl = block.find('\n', end);
      end = nl == std::string_view::npos ? block.size() : nl + 1;
      if (end >= block.size() || (block[end] != ' ' && block[end] != '\t')) break;
    }
    const std::string_view whole = block.substr(pos, end - pos);
    if (whole == "\r\n" || whole == "\n") break; // the blank line ending the header
    const std::size_t colon = whole.find(':');
    if (colon != std::string_view::npos) out.push_back({whole.substr(0, colon), whole});
    pos = end;
  }
  return out;
}

std::string field_value(std::string_view whole, std::size_t name_size) {
  std::string v(whole.substr(name_size + 1));
  return v;
}

/// The encoded ENVELOPE, BODY and BODYSTRUCTURE of message bodies, shared by every session of
/// the process. A body never changes, so neither do these texts: a warm FETCH of a large
/// mailbox then reads no structure record and encodes nothing (Dovecot keeps the same texts in
/// its cache file). Past max_bytes, bodies not used since the clock hand last passed go first
/// (CLOCK, a second chance instead of strict LRU: a hit only sets a bit, so a FETCH of 10,000
/// messages does not move 10,000 list nodes; entries sit in one array with the identifier
/// inline, so a lookup is a hash probe and one entry read).
class fetch_text_cache {
public:
  enum slot : unsigned { envelope = 0, body = 2, bodystructure = 4 }; ///< + 1 under UTF8=ACCEPT
  static constexpr std::size_t max_bytes = 64u << 20;

  static fetch_text_cache& instance() {
    static fetch_text_cache cache;
    return cache;
  }
  /// Append the text of (blob, slot) to `out`; false when it is not cached.
  bool append(std::string_view blob, unsigned slot, std::string& out) {
    if (!cacheable(blob)) return false;
    std::lock_guard lock(mutex_);
    const auto at = index_.find(key_of(blob));
    if (at == slot_index::npos) return false;
    entry& e = entries_[at];
    if (!e.is(blob) || !e.has[slot]) return false;
    e.referenced = true;
    out += e.texts[slot];
    return true;
  }
  void put(std::string_view blob, unsigned slot, std::string_view text) {
    if (!cacheable(blob) || text.size() > max_bytes / 64) return;
    std::lock_guard lock(mutex_);
    const auto key = key_of(blob);
    auto at = index_.find(key);
    if (at != slot_index::npos && !entries_[at].is(blob)) {
      drop(at); // another body with the same key: the newer one wins
      at = slot_index::npos;
    }
    if (at == slot_index::npos) {
      if (!free_.empty()) {
        at = free_.back();
        free_.pop_back();
      } else {
        at = static_cast<std::uint32_t>(entries_.size());
        entries_.emplace_back();
      }
      entry& e = entries_[at];
      std::memcpy(e.id.data(), blob.data(), blob.size());
      e.id_size = static_cast<std::uint8_t>(blob.size());
      e.used = true;
      bytes_ += overhead;
      index_.insert(key, at);
    }
    entry& e = entries_[at];
    e.referenced = true;
    bytes_ -= e.texts[slot].size();
    e.texts[slot] = text;
    e.has[slot] = true;
    bytes_ += text.size();
    while (bytes_ > max_bytes && index_.size() > 1)
      evict_one(at);
  }

private:
  /// Body key -> entry: open addressing with linear probing in a power-of-two table at most
  /// half full, so that a lookup is mostly one cache line (std::unordered_map costs a bucket
  /// and a node, two cache misses per message of a large FETCH). Backward-shift deletion.
  class slot_index {
  public:
    static constexpr std::uint32_t npos = UINT32_MAX;
    [[nodiscard]] std::uint32_t find(std::uint64_t key) const noexcept {
      if (table_.empty()) return npos;
      for (std::size_t i = home(key);; i = (i + 1) & mask_) {
        if (table_[i].slot == npos) return npos;
        if (table_[i].key == key) return table_[i].slot;
      }
    }
    void insert(std::uint64_t key, std::uint32_t slot) {
      if ((count_ + 1) * 2 > table_.size()) grow();
      std::size_t i = home(key);
      while (table_[i].slot != npos)
        i = (i + 1) & mask_;
      table_[i] = {key, slot};
      ++count_;
    }
    void erase(std::uint64_t key) noexcept {
      if (table_.empty()) return;
      std::size_t i = home(key);
      for (;; i = (i + 1) & mask_) {
        if (table_[i].slot == npos) return;
        if (table_[i].key == key) break;
      }
      // Move back every later entry of the run whose home is not between the hole and it.
      for (std::size_t j = (i + 1) & mask_; table_[j].slot != npos; j = (j + 1) & mask_) {
        const std::size_t h = home(table_[j].key);
        const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (stays) continue;
        table_[i] = table_[j];
        i = j;
      }
      table_[i] = {};
      --count_;
    }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }

  private:
    struct cell {
      std::uint64_t key = 0;
      std::uint32_t slot = npos;
    };
    [[nodiscard]] std::size_t home(std::uint64_t key) const noexcept {
      return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    void grow() {
      std::vector<cell> old = std::move(table_);
      const std::size_t size = old.empty() ? 1024 : old.size() * 2;
      table_.assign(size, cell{});
      mask_ = size - 1;
      shift_ = 64 - static_cast<unsigned>(std::countr_zero(size));
      count_ = 0;
      for (const auto& c : old)
        if (c.slot != npos) insert(c.key, c.slot);
    }
    std::vector<cell> table_;
    std::size_t mask_ = 0;
    unsigned shift_ = 64;
    std::size_t count_ = 0;
  };

  /// Store body identifiers: 32 hex digits for a file, "i" and 32 hex digits for a body kept
  /// inside the database (store.hpp, blob_store); room for a few more.
  static constexpr std::size_t id_max = 40;
  static constexpr std::size_t overhead = 256; ///< per entry: slot, index node, strings
  struct entry {
    std::array<char, id_max> id{};
    std::uint8_t id_size = 0;
    std::array<std::string, 6> texts;
    std::array<bool, 6> has{};
    bool used = false;       ///< holds a body (else on the free list)
    bool referenced = false; ///< hit since the clock hand last passed
    [[nodiscard]] bool is(std::string_view blob) const noexcept {
      return used && blob.size() == id_size && std::memcmp(id.data(), blob.data(), id_size) == 0;
    }
  };
  static bool cacheable(std::string_view blob) noexcept {
    return !blob.empty() && blob.size() <= id_max;
  }
  /// Body identifiers are random: FNV-1a of the text is a good enough key, and the entry keeps
  /// the whole identifier to tell a collision from a hit.
  static std::uint64_t key_of(std::string_view blob) noexcept {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : blob)
      h = (h ^ c) * 1099511628211ull;
    return h;
  }
  /// Advance the clock hand to the first entry not referenced since its last pass (clearing
  /// the bits it passes) and drop it; never `keep`, the entry being filled.
  void evict_one(std::uint32_t keep) {
    for (std::size_t steps = 0; steps <= 2 * entries_.size(); ++steps) {
      if (hand_ >= entries_.size()) hand_ = 0;
      const auto i = static_cast<std::uint32_t>(hand_++);
      entry& e = entries_[i];
      if (!e.used || i == keep) continue;
      if (e.referenced) {
        e.referenced = false;
        continue;
      }
      drop(i);
      return;
    }
  }
  void drop(std::uint32_t i) {
    entry& e = entries_[i];
    bytes_ -= overhead;
    for (auto& t : e.texts) {
      bytes_ -= t.size();
      std::string().swap(t);
    }
    index_.erase(key_of(std::string_view(e.id.data(), e.id_size)));
    e.has.fill(false);
    e.used = e.referenced = false;
    free_.push_back(i);
  }
  std::mutex mutex_;
  std::vector<entry> entries_;
  std::vector<std::uint32_t> free_;
  slot_index index_;
  std::size_t hand_ = 0;
  std::size_t bytes_ = 0;
};

/// Children of each part of a cached structure (depth first; the root is its own parent).
std::vector<std::vector<std::uint32_t>> children_of(const store::message_structure& st) {
  std::vector<std::vector<std::uint32_t>> ch(st.parts.size());
  for (std::uint32_t i = 1; i < st.parts.size(); ++i)
    if (st.parts[i].parent < st.parts.size()) ch[st.parts[i].parent].push_back(i);
  return ch;
}

void append_nstr(std::string& out, const std::optional<std::string>& s, bool utf8) {
  if (s)
    imap::append_string(out, *s, utf8);
  else
    out += "NIL";
}

void append_addresses(std::string& out, const std::vector<store::envelope_address>& list,
                      bool utf8) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const auto& a : list) {
    out += '(';
    if (a.name.empty())
      out += "NIL";
    else
      imap::append_string(out, a.name, utf8);
    out += " NIL ";
    // RFC 3501 §7.4.2: a group start has the group name as mailbox and NIL host; the end
    // marker has NIL mailbox and host.
    if (a.mailbox.empty() && a.host.empty())
      out += "NIL";
    else
      imap::append_string(out, a.mailbox, utf8);
    out += ' ';
    if (a.host.empty())
      out += "NIL";
    else
      imap::append_string(out, a.host, utf8);
    out += ')';
  }
  out += ')';
}

/// RFC 3501 §7.4.2 ENVELOPE.
void append_envelope(std::string& out, const store::envelope& e, bool utf8) {
  out += '(';
  append_nstr(out, e.date, utf8);
  out += ' ';
  append_nstr(out, e.subject, utf8);
  for (const auto* l : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
    out += ' ';
    append_addresses(out, *l, utf8);
  }
  out += ' ';
  append_nstr(out, e.in_reply_to, utf8);
  out += ' ';
  append_nstr(out, e.message_id, utf8);
  out += ')';
}

void append_params(std::string& out, const std::vector<std::pair<std::string, std::string>>& ps,
                   bool utf8) {
  if (ps.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const auto& [k, v] : ps) {
    if (!first) out += ' ';
    first = false;
    imap::append_string(out, k, utf8);
    out += ' ';
    imap::append_string(out, v, utf8);
  }
  out += ')';
}

/// RFC 3501 §7.4.2 BODYSTRUCTURE (extensible) or BODY (without extension data).
void append_body(std::string& out, const store::message_structure& st,
                 const std::vector<std::vector<std::uint32_t>>& ch, std::uint32_t i, bool ext,
                 bool utf8, unsigned depth = 0) {
  const auto& p = st.parts[i];
  const auto ext_tail = [&] {
    out += ' ';
    if (p.disposition) {
      out += '(';
      imap::append_string(out, *p.disposition, utf8);
      out += ' ';
      append_params(out, p.disposition_params, utf8);
      out += ')';
    } else {
      out += "NIL";
    }
    out += ' ';
    append_nstr(out, p.language, utf8);
    out += ' ';
    append_nstr(out, p.location, utf8);
  };
  // The structure record bounds the depth (structure_limits::max_depth); so does this.
  if (p.is_multipart && !ch[i].empty() && depth < 64) {
    out += '(';
    for (auto c : ch[i])
      append_body(out, st, ch, c, ext, utf8, depth + 1);
    out += ' ';
    imap::append_string(out, p.subtype, utf8);
    if (ext) {
      out += ' ';
      append_params(out, p.params, utf8);
      ext_tail();
    }
    out += ')';
    return;
  }
  out += '(';
  imap::append_string(out, p.is_multipart ? "text" : p.type, utf8);
  out += ' ';
  imap::append_string(out, p.is_multipart ? "plain" : p.subtype, utf8);
  out += ' ';
  append_params(out, p.params, utf8);
  out += ' ';
  append_nstr(out, p.id, utf8);
  out += ' ';
  append_nstr(out, p.description, utf8);
  out += ' ';
  imap::append_string(out, p.encoding, utf8);
  out += ' ';
  out += std::to_string(p.body_size);
  if (p.is_message && p.message_envelope && !ch[i].empty() && depth < 64) {
    out += ' ';
    append_envelope(out, *p.message_envelope, utf8);
    out += ' ';
    append_body(out, st, ch, ch[i].front(), ext, utf8, depth + 1);
    out += ' ';
    out += std::to_string(p.lines);
  } else if (iequals(p.type, "text")) {
    out += ' ';
    out += std::to_string(p.lines);
  }
  if (ext) {
    out += ' ';
    append_nstr(out, p.md5, utf8);
    ext_tail();
  }
  out += ')';
}

/// The octets of BODY[section] (RFC 9051 §6.4.5), or nullopt when the part does not exist.
std::optional<std::string> section_data(const store::message_structure& st,
                                        const std::vector<std::vector<std::uint32_t>>& ch,
                                        std::string_view raw, const imap::section& sec,
                                        std::uint32_t* part_index = nullptr) {
  if (st.parts.empty()) return std::nullopt;
  const auto span = [&](std::uint64_t from, std::uint64_t to) -> std::string {
    from = std::min<std::uint64_t>(from, raw.size());
    to = std::clamp<std::uint64_t>(to, from, raw.size());
    return std::string(raw.substr(from, to - from));
  };
  // Walk the part numbers. `msg` is the index of the root part of the message whose HEADER
  // and TEXT the section names (the top level, or a message/rfc822 part's embedded message).
  std::optional<std::uint32_t> msg = 0;
  std::uint32_t cur = 0;
  bool top = true;
  for (auto n : sec.part) {
    std::uint32_t base = cur;
    if (!top && st.parts[cur].is_message) {
      if (ch[cur].empty()) return std::nullopt;
      base = ch[cur].front();
    }
    if (st.parts[base].is_multipart) {
      if (n == 0 || n > ch[base].size()) return std::nullopt;
      cur = ch[base][n - 1];
    } else {
      // A non-multipart message has one part, numbered 1: its body.
      if (n != 1 || (!top && !st.parts[cur].is_message)) return std::nullopt;
      cur = base;
    }
    top = false;
  }
  if (part_index) *part_index = cur;
  const auto& p = st.parts[cur];
  if (!top) {
    msg.reset();
    if (p.is_message && !ch[cur].empty()) msg = ch[cur].front();
  }
  switch (sec.s) {
  case imap::section::spec::whole:
    if (top) return std::string(raw);
    return span(p.body_offset, p.body_offset + p.body_size);
  case imap::section::spec::mime:
    return span(p.header_offset, p.body_offset);
  case imap::section::spec::text: {
    if (!msg) return std::nullopt;
    const auto& m = st.parts[*msg];
    if (top) return span(m.body_offset, raw.size());
    return span(m.body_offset, m.body_offset + m.body_size);
  }
  case imap::section::spec::header:
  case imap::section::spec::header_fields:
  case imap::section::spec::header_fields_not: {
    if (!msg) return std::nullopt;
    const auto& m = st.parts[*msg];
    std::string block = span(m.header_offset, m.body_offset);
    if (sec.s == imap::section::spec::header) return block;
    std::string out;
    const bool want = sec.s == imap::section::spec::header_fields;
    for (const auto& f : split_header(block)) {
      bool listed = false;
      for (const auto& name : sec.fields)
        if (iequals(f.name, name)) listed = true;
      if (listed == want) out.append(f.whole);
    }
    // RFC 9051 §6.4.5: the subset includes the blank line that ends the header.
    out += "\r\n";
    return out;
  }
  }
  return std::nullopt;
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

std::vector<std::string> imap_executor_capabilities() {
  return {"IDLE",        "UIDPLUS",           "MOVE",
          "UNSELECT",    "CHILDREN",          "SPECIAL-USE",
          "ESEARCH",     "SEARCHRES",         "CONDSTORE",
          "QUOTA",       "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
          "LIST-STATUS", "LIST-EXTENDED",     "QRESYNC"};
}

/// A FETCH being written in chunks (run_fetch).
struct imap_executor::fetch_job {
  std::vector<imap::fetch_item> items;
  bool uid = false;
  /// The messages to write: entries of the selected mailbox's `known` list (which nothing
  /// changes until the job ends), or of `rows` when the FETCH had to read them.
  std::vector<const store::message_info*> msgs;
  std::vector<store::message_info> rows;
  std::size_t next = 0;
  std::vector<std::pair<uid_type, store::message_structure>> batch;
  std::size_t batch_at = 0;
  std::map<uid_type, store::message_info> seen_now;
  bool want_flags = false, want_uid = false, want_modseq = false, needs_structure = false,
       needs_raw = false;
  bool direct_reads = false; ///< store reads allowed without_io_ (a few small texts)
  std::string line;          ///< the FETCH response being built, reused message after message
};

imap_executor::imap_executor(std::shared_ptr<store::mail_store> store) : store_(std::move(store)) {}
imap_executor::~imap_executor() = default;

std::optional<std::string> imap_executor::authenticate(std::string_view user,
                                                       std::string_view password) {
  // The store verifies (same cost for unknown accounts) and rehashes imported hashes; a
  // password verified less than the cache's TTL ago against the same stored hash skips Argon2.
  auto r = authenticate_cached(*store_, auth_cache_.get(), user, password);
  if (!r || !r->ok) return std::nullopt;
  auto info = store_->account(user);
  account_ = info ? info->address : std::string(user);
  return account_;
}

void imap_executor::fail(imap::server& s, const mailkit::error_code& ec, std::string_view what) {
  using store::errc;
  std::string text(what);
  text += ": ";
  text += ec.message();
  // RFC 5530 response codes.
  if (ec == store::make_error_code(errc::no_such_mailbox))
    s.complete("NO", "NONEXISTENT", text);
  else if (ec == store::make_error_code(errc::already_exists))
    s.complete("NO", "ALREADYEXISTS", text);
  else if (ec == store::make_error_code(errc::cannot_delete) ||
           ec == store::make_error_code(errc::invalid_name))
    s.complete("NO", "CANNOT", text);
  else if (ec == store::make_error_code(errc::over_quota) ||
           ec == store::make_error_code(errc::exceeds_quota))
    s.complete("NO", "OVERQUOTA", text);
  else if (ec == store::make_error_code(errc::no_such_message))
    s.complete("NO", "NONEXISTENT", text);
  else if (ec == store::make_error_code(errc::limit_exceeded) ||
           ec == store::make_error_code(errc::invalid_argument))
    s.complete("NO", "LIMIT", text);
  else
    s.complete("NO", "UNAVAILABLE", text);
}

std::optional<std::string> imap_executor::client_name(const imap::server& s,
                                                      std::string_view name) const {
  // RFC 6855 §3: after ENABLE UTF8=ACCEPT names are UTF-8; before, modified UTF-7
  // (RFC 3501 §5.1.3), where 8-bit octets are not allowed.
  if (s.enabled("UTF8=ACCEPT")) return std::string(name);
  for (unsigned char c : name)
    if (c >= 0x80) return std::nullopt;
  auto d = store::decode_mutf7(name);
  if (!d) return std::nullopt;
  return *d;
}

std::string imap_executor::wire_name(const imap::server& s, std::string_view name) const {
  std::string out;
  if (s.enabled("UTF8=ACCEPT"))
    imap::append_astring(out, name, true);
  else
    imap::append_astring(out, store::encode_mutf7(name), false);
  return out;
}

std::uint32_t imap_executor::seq_of(uid_type uid) const {
  if (!sel_) return 0;
  auto it = std::lower_bound(sel_->uids.begin(), sel_->uids.end(), uid);
  if (it == sel_->uids.end() || *it != uid) return 0;
  return static_cast<std::uint32_t>(it - sel_->uids.begin()) + 1;
}

store::message_info* imap_executor::known_of(uid_type uid) {
  if (!sel_) return nullptr;
  auto& k = sel_->known;
  auto it = std::lower_bound(k.begin(), k.end(), uid,
                             [](const store::message_info& m, uid_type u) { return m.uid < u; });
  return it != k.end() && it->uid == uid ? &*it : nullptr;
}

void imap_executor::note_flags(uid_type uid, const store::flag_set& flags,
                               store::modseq_type modseq) {
  auto* m = known_of(uid);
  // Changes can arrive out of order (this session's STORE before the feed's older change of
  // another session): MODSEQs grow with every change of the mailbox (RFC 7162 §3.1.1), so
  // the higher one is the later state.
  if (m == nullptr || modseq < m->modseq) return;
  m->flags = flags;
  m->modseq = modseq;
}

expected<bool> imap_executor::refresh_known(const std::vector<uid_type>& uids) {
  if (!sel_ || !sub_ || sub_->overflowed()) return false;
  // The feed's changes are kept for apply_changes (which reports them); their flags count now.
  for (auto& c : sub_->poll()) {
    if (c.what == store::change::kind::flags_changed) note_flags(c.uid, c.flags, c.modseq);
    deferred_.push_back(std::move(c));
  }
  if (sub_->overflowed()) return false;
  // Messages appended since SELECT (or since the last FETCH): their rows, in one read of the
  // range that holds them (usually the newest few).
  uid_type lo = 0, hi = 0;
  {
    // Both lists are in UID order: one walk.
    const auto& k = sel_->known;
    std::size_t i = 0;
    for (auto u : uids) {
      while (i < k.size() && k[i].uid < u)
        ++i;
      if (i < k.size() && k[i].uid == u) continue;
      if (lo == 0) lo = u;
      hi = u;
    }
  }
  if (lo == 0) return true;
  if (without_io_) return false;
  auto rows = store_->messages(account_, sel_->name, lo, hi);
  if (!rows) return tl::unexpected(rows.error());
  auto& k = sel_->known;
  std::vector<store::message_info> added;
  for (auto& m : *rows)
    if (known_of(m.uid) == nullptr && std::binary_search(uids.begin(), uids.end(), m.uid))
      added.push_back(std::move(m));
  if (added.empty()) return true;
  const auto middle = k.insert(k.end(), std::make_move_iterator(added.begin()),
                               std::make_move_iterator(added.end()));
  const auto by_uid = [](const store::message_info& a, const store::message_info& b) {
    return a.uid < b.uid;
  };
  std::inplace_merge(k.begin(), middle, k.end(), by_uid);
  return true;
}

bool imap_executor::valid_set(const imap::sequence_set& set, bool uid) const {
  if (uid || set.is_saved_result() || !sel_) return true;
  const auto n = sel_->uids.size();
  for (const auto& r : set.ranges())
    if ((!r.low_star && r.low > n) || (!r.high_star && r.high > n)) return false;
  return true;
}

std::vector<uid_type> imap_executor::resolve(const imap::sequence_set& set, bool uid) const {
  std::vector<uid_type> out;
  if (!sel_) return out;
  const auto& uids = sel_->uids;
  if (set.is_saved_result()) {
    // RFC 5182 §2.1: "$" is the last SEARCH SAVE result (messages since expunged drop out).
    for (auto u : saved_)
      if (seq_of(u) != 0) out.push_back(u);
    return out;
  }
  if (uid) {
    for (auto [lo, hi] : set.resolve(uids.empty() ? 0 : uids.back())) {
      auto it = std::lower_bound(uids.begin(), uids.end(), lo);
      for (; it != uids.end() && *it <= hi; ++it)
        out.push_back(*it);
    }
  } else {
    const auto n = static_cast<std::uint32_t>(uids.size());
    for (auto [lo, hi] : set.resolve(n))
      for (std::uint32_t i = lo; i <= std::min(hi, n) && i >= 1; ++i)
        out.push_back(uids[i - 1]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void imap_executor::apply_changes(imap::server& s, bool allow_expunge) {
  if (!sel_ || !sub_) return;
  if (sub_->overflowed()) {
    // The store dropped changes for this session: resynchronize from the mailbox itself
    // (only where EXPUNGE may be sent; until then the stale view stays, as RFC 9051 §7.5.1
    // wants during FETCH, STORE and SEARCH).
    if (!allow_expunge) return;
    if (without_io_ && !prepared_) return; // the store reads are a worker's: next command
    resync(s);
    return;
  }
  for (auto& c : sub_->poll())
    deferred_.push_back(std::move(c));
  const bool qresync = s.enabled("QRESYNC");
  const bool modseq = sel_->condstore;
  auto& uids = sel_->uids;
  bool exists_dirty = false;
  const auto flush_exists = [&] {
    if (exists_dirty) s.untagged(std::to_string(uids.size()) + " EXISTS");
    exists_dirty = false;
  };
  std::vector<store::change> kept;
  for (auto& c : deferred_) {
    switch (c.what) {
    case store::change::kind::appended: {
      auto it = std::lower_bound(uids.begin(), uids.end(), c.uid);
      if (it != uids.end() && *it == c.uid) break; // already known (SELECT raced the change)
      uids.insert(it, c.uid);
      exists_dirty = true;
      break;
    }
    case store::change::kind::expunged: {
      // RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH by sequence number.
      if (!allow_expunge) {
        kept.push_back(c);
        break;
      }
      const auto seq = seq_of(c.uid);
      if (seq == 0) break;
      flush_exists();
      if (qresync) // RFC 7162 §3.2.10: VANISHED replaces EXPUNGE
        s.untagged("VANISHED " + std::to_string(c.uid));
      else
        s.untagged(std::to_string(seq) + " EXPUNGE");
      uids.erase(uids.begin() + (seq - 1));
      if (auto* m = known_of(c.uid))
        sel_->known.erase(sel_->known.begin() + (m - sel_->known.data()));
      break;
    }
    case store::change::kind::flags_changed: {
      note_flags(c.uid, c.flags, c.modseq);
      if (own_.erase({c.uid, c.modseq}) != 0) break; // this session's own STORE
      const auto seq = seq_of(c.uid);
      if (seq == 0) break;
      flush_exists();
      std::string line = std::to_string(seq) + " FETCH (UID " + std::to_string(c.uid) + " FLAGS " +
                         flags_text(c.flags);
      if (modseq) line += " MODSEQ (" + std::to_string(c.modseq) + ")";
      line += ')';
      s.untagged(line);
      break;
    }
    }
  }
  deferred_ = std::move(kept);
  flush_exists();
}

bool imap_executor::resync_needed() const {
  return sel_ && sub_ && sub_->overflowed();
}

void imap_executor::prepare_resync() {
  if (!resync_needed()) return;
  // Subscribe before listing, so that no change falls between the two.
  auto sub = store_->subscribe(account_, sel_->name);
  if (!sub) return; // keep the old subscription; the next call tries again
  auto msgs = store_->messages(account_, sel_->name);
  if (!msgs) return;
  prepared_ = std::make_unique<prepared_resync>(prepared_resync{std::move(*sub), std::move(*msgs)});
}

void imap_executor::resync(imap::server& s) {
  if (!prepared_) prepare_resync(); // the store reads, unless the session did them already
  if (!prepared_) return;
  const auto prepared = std::move(prepared_);
  sub_ = prepared->sub;
  const auto* msgs = &prepared->messages;
  deferred_.clear();
  own_.clear();
  auto& uids = sel_->uids;
  std::vector<uid_type> now;
  now.reserve(msgs->size());
  for (const auto& m : *msgs)
    now.push_back(m.uid);
  // Expunged messages, highest sequence number first so that each number is still valid.
  for (std::size_t i = uids.size(); i-- > 0;)
    if (!std::binary_search(now.begin(), now.end(), uids[i])) {
      if (s.enabled("QRESYNC"))
        s.untagged("VANISHED " + std::to_string(uids[i]));
      else
        s.untagged(std::to_string(i + 1) + " EXPUNGE");
      uids.erase(uids.begin() + static_cast<std::ptrdiff_t>(i));
    }
  const std::size_t before = uids.size();
  for (auto u : now)
    if (uids.empty() || u > uids.back()) uids.push_back(u);
  if (uids.size() != before) s.untagged(std::to_string(uids.size()) + " EXISTS");
  // Flags may have changed on any message: report them all.
  for (const auto& m : *msgs) {
    const auto seq = seq_of(m.uid);
    if (seq == 0) continue;
    std::string line = std::to_string(seq) + " FETCH (UID " + std::to_string(m.uid) + " FLAGS " +
                       flags_text(m.flags);
    if (sel_->condstore) line += " MODSEQ (" + std::to_string(m.modseq) + ")";
    s.untagged(line + ")");
  }
  // The listing is the mailbox as it is now: what the session knows starts again from it.
  sel_->known = std::move(prepared->messages);
}

void imap_executor::execute(imap::server& s, const imap::server_event& ev) {
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, imap::cmd_select>) {
          do_select(s, c);
        } else if constexpr (std::is_same_v<T, imap::cmd_create>) {
          auto name = client_name(s, c.mailbox);
          if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
          // RFC 9051 §6.3.4: a trailing delimiter only says that children will follow.
          if (name->size() > 1 && name->back() == '/') name->pop_back();
          auto r = store_->create_mailbox(account_, *name,
                                          c.special_use.empty() ? "" : c.special_use.front());
          if (!r) return fail(s, r.error(), "CREATE failed");
          s.complete("OK", "", "Create completed");
        } else if constexpr (std::is_same_v<T, imap::cmd_delete>) {
          auto name = client_name(s, c.mailbox);
          if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
          auto r = store_->delete_mailbox(account_, *name);
          if (!r) return fail(s, r.error(), "DELETE failed");
          s.complete("OK", "", "Delete completed");
        } else if constexpr (std::is_same_v<T, imap::cmd_rename>) {
          auto from = client_name(s, c.from);
          auto to = client_name(s, c.to);
          if (!from || !to) return s.complete("BAD", "", "Invalid mailbox name encoding");
          if (auto canon = store::normalize_mailbox_name(*from); canon && *canon == "INBOX") {
            // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox and leaves
            // INBOX, empty, in place.
            auto created = store_->create_mailbox(account_, *to);
            if (!created) return fail(s, created.error(), "RENAME failed");
            auto msgs = store_->messages(account_, "INBOX");
            if (!msgs) return fail(s, msgs.error(), "RENAME failed");
            std::vector<uid_type> all;
            for (const auto& m : *msgs)
              all.push_back(m.uid);
            for (std::size_t i = 0; i < all.size(); i += 1000) {
              const std::size_t n = std::min<std::size_t>(1000, all.size() - i);
              auto moved = store_->move(account_, "INBOX",
                                        std::span<const uid_type>(all.data() + i, n), *to);
              if (!moved) return fail(s, moved.error(), "RENAME failed");
            }
            if (sel_ && sel_->name == "INBOX") apply_changes(s, true);
            return s.complete("OK", "", "Rename completed");
          }
          auto r = store_->rename_mailbox(account_, *from, *to);
          if (!r) return fail(s, r.error(), "RENAME failed");
          s.complete("OK", "", "Rename completed");
        } else if constexpr (std::is_same_v<T, imap::cmd_subscribe>) {
          auto name = client_name(s, c.mailbox);
          if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
          auto r = store_->set_subscribed(account_, *name, c.subscribe);
          if (!r) return fail(s, r.error(), "SUBSCRIBE failed");
          s.complete("OK", "", c.subscribe ? "Subscribe completed" : "Unsubscribe completed");
        } else if constexpr (std::is_same_v<T, imap::cmd_list>) {
          do_list(s, c);
        } else if constexpr (std::is_same_v<T, imap::cmd_status>) {
          do_status(s, c);
        } else if constexpr (std::is_same_v<T, imap::cmd_append>) {
          do_append(s, c);
        } else if constexpr (std::is_same_v<T, imap::cmd_fetch>) {
          (void)do_fetch(s, c, ev.uid);
        } else if constexpr (std::is_same_v<T, imap::cmd_store>) {
          do_store(s, c, ev.uid);
        } else if constexpr (std::is_same_v<T, imap::cmd_copy>) {
          do_copy(s, c, ev.uid);
        } else if constexpr (std::is_same_v<T, imap::cmd_expunge>) {
          do_expunge(s, c);
        } else if constexpr (std::is_same_v<T, imap::cmd_search>) {
          do_search(s, c, ev.uid);
        } else if constexpr (std::is_same_v<T, imap::cmd_close>) {
          do_close(s, true);
        } else if constexpr (std::is_same_v<T, imap::cmd_unselect>) {
          do_close(s, false);
        } else if constexpr (std::is_same_v<T, imap::cmd_noop> ||
                             std::is_same_v<T, imap::cmd_check>) {
          apply_changes(s, true);
          s.complete("OK", "",
                     std::is_same_v<T, imap::cmd_noop> ? "NOOP completed" : "CHECK completed");
        } else if constexpr (std::is_same_v<T, imap::cmd_idle>) {
          // RFC 2177 §3: updates go out while idling; DONE ends it (finish_idle).
          apply_changes(s, true);
        } else if constexpr (std::is_same_v<T, imap::cmd_getquotaroot> ||
                             std::is_same_v<T, imap::cmd_getquota>) {
          // RFC 9208 §4.2/§4.3: one root ("") per account, with the store's limits.
          auto info = store_->account(account_);
          if (!info) return fail(s, info.error(), "GETQUOTA failed");
          if constexpr (std::is_same_v<T, imap::cmd_getquotaroot>) {
            auto name = client_name(s, c.mailbox);
            if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
            auto mb = store_->mailbox(account_, *name);
            if (!mb) return fail(s, mb.error(), "GETQUOTAROOT failed");
            s.untagged("QUOTAROOT " + wire_name(s, mb->name) + " \"\"");
          } else {
            if (!c.root.empty()) return s.complete("NO", "NONEXISTENT", "No such quota root");
          }
          std::string q;
          if (info->limit.bytes != 0)
            q += "STORAGE " + std::to_string(info->used_bytes / 1024) + " " +
                 std::to_string(info->limit.bytes / 1024);
          if (info->limit.messages != 0) {
            if (!q.empty()) q += ' ';
            q += "MESSAGE " + std::to_string(info->used_messages) + " " +
                 std::to_string(info->limit.messages);
          }
          s.untagged("QUOTA \"\" (" + q + ")");
          s.complete("OK", "", "Getquota completed");
        } else if constexpr (std::is_same_v<T, imap::cmd_setquota>) {
          // RFC 9208 §4.1: limits are the operator's (mailkitctl), not the user's.
          s.complete("NO", "NOPERM", "Quotas are set by the administrator");
        } else {
          s.complete("BAD", "", "Command not supported here");
        }
      },
      ev.cmd);
}

bool imap_executor::execute_without_io(imap::server& s, const imap::server_event& ev) {
  const auto* c = std::get_if<imap::cmd_fetch>(&ev.cmd);
  if (c == nullptr || !sel_) return false;
  without_io_ = true;
  stalled_ = false;
  const bool done = do_fetch(s, *c, ev.uid);
  without_io_ = false;
  return done;
}

bool imap_executor::resumable_without_io() const noexcept {
  return job_ && !stalled_ && !job_->needs_raw; // message text is always the store's
}

void imap_executor::resume_without_io(imap::server& s) {
  if (!job_) return;
  without_io_ = true;
  stalled_ = false;
  run_fetch(s);
  without_io_ = false;
}

void imap_executor::push_updates(imap::server& s) {
  apply_changes(s, true);
}

void imap_executor::finish_idle(imap::server& s) {
  apply_changes(s, true);
  s.complete("OK", "", "IDLE terminated");
}

store::uid_type imap_executor::matched_uid(
    const std::pair<imap::sequence_set, imap::sequence_set>& seq_match) const {
  // Walk both sets in step, in ascending order (RFC 7162 §3.2.5.2 asks the client to list them
  // so), stopping at the first pair whose sequence number no longer names that UID. The walk
  // is bounded by the mailbox size: a larger sequence number cannot match.
  const auto count = static_cast<std::uint32_t>(sel_->uids.size());
  const auto seqs = seq_match.first.resolve(count);
  const auto uids = seq_match.second.resolve(sel_->uids.empty() ? 0 : sel_->uids.back());
  store::uid_type matched = 0;
  std::size_t si = 0, ui = 0;
  std::uint64_t seq = seqs.empty() ? 0 : seqs[0].first;
  std::uint64_t uid = uids.empty() ? 0 : uids[0].first;
  while (si < seqs.size() && ui < uids.size()) {
    if (seq == 0 || seq > count || sel_->uids[seq - 1] != uid) break;
    matched = static_cast<store::uid_type>(uid);
    if (++seq > seqs[si].second && ++si < seqs.size()) seq = seqs[si].first;
    if (++uid > uids[ui].second && ++ui < uids.size()) uid = uids[ui].first;
  }
  return matched;
}

void imap_executor::do_select(imap::server& s, const imap::cmd_select& c) {
  const bool had = sel_.has_value();
  sel_.reset();
  sub_.reset();
  prepared_.reset();
  deferred_.clear();
  own_.clear();
  saved_.clear();
  // RFC 9051 §7.1: [CLOSED] tells the client that the previous mailbox is no longer selected.
  if (had && (s.enabled("IMAP4REV2") || s.enabled("QRESYNC"))) s.untagged("OK [CLOSED]");
  // RFC 7162 §3.2.5: the QRESYNC parameter without ENABLE QRESYNC is BAD.
  if (c.qresync && !s.enabled("QRESYNC"))
    return s.complete("BAD", "", "QRESYNC parameter without ENABLE QRESYNC");
  auto name = client_name(s, c.mailbox);
  if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
  auto info = store_->mailbox(account_, *name);
  if (!info) return fail(s, info.error(), "SELECT failed");
  // Subscribe before listing, so that no change falls between the two (duplicates are
  // recognized in apply_changes).
  auto sub = store_->subscribe(account_, info->name);
  if (!sub) return fail(s, sub.error(), "SELECT failed");
  auto msgs = store_->messages(account_, info->name);
  if (!msgs) return fail(s, msgs.error(), "SELECT failed");
  selected sel;
  sel.name = info->name;
  sel.read_only = c.read_only;
  sel.condstore = c.condstore || c.qresync || s.enabled("CONDSTORE") || s.enabled("QRESYNC");
  sel.uids.reserve(msgs->size());
  std::vector<std::string> keywords;
  std::uint32_t first_unseen = 0;
  for (const auto& m : *msgs) {
    sel.uids.push_back(m.uid);
    if (first_unseen == 0 && (m.flags.system & store::flag_seen) == 0)
      first_unseen = static_cast<std::uint32_t>(sel.uids.size());
    for (const auto& k : m.flags.keywords)
      if (std::find(keywords.begin(), keywords.end(), k) == keywords.end()) keywords.push_back(k);
  }
  std::string flags = "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  for (const auto& k : keywords)
    flags += ' ' + k;
  flags += ')';
  s.untagged(flags);
  s.untagged(std::to_string(sel.uids.size()) + " EXISTS");
  const bool rev2 = s.enabled("IMAP4REV2");
  if (!rev2) {
    // RFC 3501 §6.3.1: RECENT and UNSEEN (IMAP4rev2 dropped both).
    s.untagged("0 RECENT");
    if (first_unseen != 0) s.untagged("OK [UNSEEN " + std::to_string(first_unseen) + "]");
  }
  s.untagged("OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]");
  s.untagged("OK [UIDVALIDITY " + std::to_string(info->uidvalidity) + "]");
  s.untagged("OK [UIDNEXT " + std::to_string(info->uidnext) + "]");
  // RFC 7162 §3.1.2.1: every mailbox has a (positive) HIGHESTMODSEQ.
  s.untagged("OK [HIGHESTMODSEQ " + std::to_string(wire_highestmodseq(info->highestmodseq)) + "]");
  sel.known = std::move(*msgs);
  sel_ = std::move(sel);
  sub_ = std::move(*sub);
  // RFC 7162 §3.2.5: QRESYNC with the client's UIDVALIDITY: what vanished and what changed.
  if (c.qresync && s.enabled("QRESYNC") && c.qresync->uidvalidity == info->uidvalidity) {
    auto gone = store_->expunged_since(account_, info->name, c.qresync->modseq);
    if (gone) {
      const auto largest_uid = static_cast<std::uint32_t>(info->uidnext - 1);
      // RFC 7162 §3.2.5.2: with known-uids, only UIDs the client names are reported.
      if (c.qresync->known_uids)
        std::erase_if(*gone, [&](store::uid_type u) {
          return !c.qresync->known_uids->contains(u, largest_uid);
        });
      // RFC 7162 §3.2.5.2: the seq-match data. While the client's sequence numbers still name
      // the UIDs it gives, no message below those UIDs was expunged (sequence numbers would
      // have moved), so only UIDs above the last pair that still matches need reporting.
      if (c.qresync->seq_match) {
        const store::uid_type below = matched_uid(*c.qresync->seq_match);
        std::erase_if(*gone, [&](store::uid_type u) { return u <= below; });
      }
      if (!gone->empty())
        s.untagged("VANISHED (EARLIER) " +
                   imap::sequence_set::format(imap::sequence_set::compress(std::move(*gone))));
    }
    auto changed = store_->changed_since(account_, info->name, c.qresync->modseq);
    if (changed)
      for (const auto& m : *changed) {
        const auto seq = seq_of(m.uid);
        if (seq == 0) continue;
        s.untagged(std::to_string(seq) + " FETCH (UID " + std::to_string(m.uid) + " FLAGS " +
                   flags_text(m.flags) + " MODSEQ (" + std::to_string(m.modseq) + "))");
      }
  }
  s.complete("OK", c.read_only ? "READ-ONLY" : "READ-WRITE",
             c.read_only ? "EXAMINE completed" : "SELECT completed");
}

namespace {

/// RFC 9051 §6.3.9: "*" matches anything, "%" anything but the hierarchy delimiter.
/// Dynamic programming over (pattern position, name position): O(pattern x name) whatever the
/// wildcards, so no pattern can make LIST backtrack exponentially.
bool list_match(std::string_view pat, std::string_view name) {
  std::vector<char> dp(name.size() + 1, 0), next(name.size() + 1, 0);
  dp[0] = 1; // the empty pattern matches the empty name
  for (const char p : pat) {
    if (p == '*') {
      char any = 0;
      for (std::size_t j = 0; j <= name.size(); ++j) {
        any = static_cast<char>(any | dp[j]);
        next[j] = any;
      }
    } else if (p == '%') {
      next[0] = dp[0];
      for (std::size_t j = 1; j <= name.size(); ++j)
        next[j] = static_cast<char>(dp[j] | (next[j - 1] & (name[j - 1] != '/' ? 1 : 0)));
    } else {
      next[0] = 0;
      for (std::size_t j = 1; j <= name.size(); ++j)
        next[j] = static_cast<char>(dp[j - 1] & (name[j - 1] == p ? 1 : 0));
    }
    dp.swap(next);
  }
  return dp[name.size()] != 0;
}

} // namespace

void imap_executor::do_list(imap::server& s, const imap::cmd_list& c) {
  auto all = store_->mailboxes(account_);
  if (!all) return fail(s, all.error(), "LIST failed");
  // Names that are only a level of hierarchy: a parent deleted while its children stay
  // (RFC 9051 §6.3.4). Each goes before its first child, with exists == false.
  std::set<std::string> names;
  for (const auto& mb : *all)
    names.insert(mb.name);
  std::vector<std::pair<const store::mailbox_info*, bool>> entries;
  std::vector<std::unique_ptr<store::mailbox_info>> implied;
  for (const auto& mb : *all) {
    for (auto slash = mb.name.find('/'); slash != std::string::npos;
         slash = mb.name.find('/', slash + 1)) {
      std::string parent = mb.name.substr(0, slash);
      if (parent.empty() || !names.insert(parent).second) continue;
      implied.push_back(std::make_unique<store::mailbox_info>());
      implied.back()->name = std::move(parent);
      entries.emplace_back(implied.back().get(), false);
    }
    entries.emplace_back(&mb, true);
  }
  // RFC 9051 §6.3.7: a subscription may name a mailbox that does not exist (deleted, or never
  // made); LSUB and LIST (SUBSCRIBED) still list it, as \NonExistent (RFC 5258 §3.1). The
  // SUBSCRIBED return option alone lists mailboxes only (RFC 5258 §3.2).
  std::set<std::string> subscribed;
  if (c.lsub || c.subscribed) {
    auto subs = store_->subscriptions(account_);
    if (!subs) return fail(s, subs.error(), "LIST failed");
    subscribed.insert(subs->begin(), subs->end());
    for (auto& level : implied)
      level->subscribed = subscribed.count(level->name) != 0;
    for (const auto& name : subscribed) {
      if (names.count(name)) continue;
      implied.push_back(std::make_unique<store::mailbox_info>());
      implied.back()->name = name;
      implied.back()->subscribed = true;
      entries.emplace_back(implied.back().get(), false);
    }
  }
  // RFC 5258 §3 (and RFC 9051 §7.3.1): \NonExistent, which implies \Noselect; an IMAP4rev1
  // client using the base syntax gets the \Noselect it knows.
  const char* nonexistent = c.extended || s.enabled("IMAP4REV2") ? "\\NonExistent" : "\\Noselect";
  const char* verb = c.lsub ? "LSUB" : "LIST";
  for (const auto& raw : c.patterns) {
    auto ref = client_name(s, c.reference);
    auto pat = client_name(s, raw);
    if (!ref || !pat) return s.complete("BAD", "", "Invalid mailbox name encoding");
    if (pat->empty()) {
      // RFC 9051 §6.3.9: an empty pattern asks for the delimiter.
      s.untagged(std::string(verb) + " (\\Noselect) \"/\" \"\"");
      continue;
    }
    const std::string full = *ref + *pat;
    for (const auto& [entry, exists] : entries) {
      const store::mailbox_info& mb = *entry;
      // RFC 3501 §5.1: INBOX is case-insensitive, so is a pattern that spells it.
      std::string name = mb.name;
      bool match = list_match(full, name);
      if (!match && name.rfind("INBOX", 0) == 0) {
        std::string upper = full;
        if (upper.size() >= 5 && iequals(std::string_view(upper).substr(0, 5), "INBOX"))
          match = list_match("INBOX" + upper.substr(5), name);
      }
      if (!match) continue;
      bool children = false, subscribed_child = false;
      for (const auto& other : *all)
        if (other.name.size() > name.size() + 1 && other.name.rfind(name + "/", 0) == 0)
          children = true;
      if (auto it = subscribed.upper_bound(name + "/"); it != subscribed.end())
        subscribed_child = it->rfind(name + "/", 0) == 0;
      // RFC 5258 §3.5: with RECURSIVEMATCH a parent of subscribed mailboxes is listed too,
      // with CHILDINFO ("SUBSCRIBED").
      const bool childinfo = c.subscribed && c.recursive_match && subscribed_child && !c.lsub;
      if ((c.lsub || c.subscribed) && !mb.subscribed && !childinfo) continue;
      if (c.special_use_only && mb.special_use.empty()) continue;
      std::string attrs = children ? "\\HasChildren" : "\\HasNoChildren";
      if (!exists) attrs = std::string(nonexistent) + " " + attrs;
      if ((c.return_subscribed || c.subscribed) && mb.subscribed) attrs += " \\Subscribed";
      // RFC 6154 §2: special-use attributes go out in LIST (not LSUB).
      if (!mb.special_use.empty() && !c.lsub) attrs += " " + mb.special_use;
      s.untagged(std::string(verb) + " (" + attrs + ") \"/\" " + wire_name(s, name) +
                 (childinfo ? " (\"CHILDINFO\" (\"SUBSCRIBED\"))" : ""));
      if (!c.return_status.empty() && !c.lsub && exists) {
        // RFC 5819 §2: a STATUS response after the mailbox's LIST response (not for a name
        // that is no mailbox).
        imap::cmd_status st;
        st.mailbox = name;
        st.items = c.return_status;
        std::uint64_t deleted = 0, size = 0;
        const bool detail = std::any_of(st.items.begin(), st.items.end(), [](const std::string& i) {
          return i == "DELETED" || i == "SIZE";
        });
        if (detail) {
          auto msgs = store_->messages(account_, name);
          if (msgs)
            for (const auto& m : *msgs) {
              if (m.flags.system & store::flag_deleted) ++deleted;
              size += m.size;
            }
        }
        std::string line = "STATUS " + wire_name(s, name) + " (";
        bool first = true;
        for (const auto& item : st.items) {
          std::uint64_t v = 0;
          if (item == "MESSAGES")
            v = mb.messages;
          else if (item == "UIDNEXT")
            v = mb.uidnext;
          else if (item == "UIDVALIDITY")
            v = mb.uidvalidity;
          else if (item == "UNSEEN")
            v = mb.unseen;
          else if (item == "DELETED")
            v = deleted;
          else if (item == "SIZE")
            v = size;
          else if (item == "HIGHESTMODSEQ")
            v = wire_highestmodseq(mb.highestmodseq);
          else if (item != "RECENT")
            continue;
          if (!first) line += ' ';
          first = false;
          line += item + " " + std::to_string(v);
        }
        s.untagged(line + ")");
      }
    }
  }
  s.complete("OK", "", c.lsub ? "LSUB completed" : "LIST completed");
}

void imap_executor::do_status(imap::server& s, const imap::cmd_status& c) {
  auto name = client_name(s, c.mailbox);
  if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
  auto mb = store_->mailbox(account_, *name);
  if (!mb) return fail(s, mb.error(), "STATUS failed");
  std::uint64_t deleted = 0, size = 0;
  const bool detail = std::any_of(c.items.begin(), c.items.end(), [](const std::string& i) {
    return i == "DELETED" || i == "SIZE";
  });
  if (detail) {
    auto msgs = store_->messages(account_, mb->name);
    if (!msgs) return fail(s, msgs.error(), "STATUS failed");
    for (const auto& m : *msgs) {
      if (m.flags.system & store::flag_deleted) ++deleted;
      size += m.size;
    }
  }
  std::string line = "STATUS " + wire_name(s, mb->name) + " (";
  bool first = true;
  for (const auto& item : c.items) {
    std::uint64_t v = 0;
    if (item == "MESSAGES")
      v = mb->messages;
    else if (item == "UIDNEXT")
      v = mb->uidnext;
    else if (item == "UIDVALIDITY")
      v = mb->uidvalidity;
    else if (item == "UNSEEN")
      v = mb->unseen;
    else if (item == "DELETED")
      v = deleted; // RFC 9051 §6.3.11
    else if (item == "SIZE")
      v = size;
    else if (item == "HIGHESTMODSEQ")
      v = wire_highestmodseq(mb->highestmodseq); // RFC 7162 §3.1.8
    else if (item != "RECENT")
      continue; // RFC 3501: nothing is recent
    if (!first) line += ' ';
    first = false;
    line += item + " " + std::to_string(v);
  }
  s.untagged(line + ")");
  s.complete("OK", "", "STATUS completed");
}

void imap_executor::do_append(imap::server& s, const imap::cmd_append& c) {
  auto name = client_name(s, c.mailbox);
  if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
  auto mb = store_->mailbox(account_, *name);
  if (!mb) {
    // RFC 9051 §6.3.12: TRYCREATE when the mailbox does not exist.
    if (mb.error() == store::make_error_code(store::errc::no_such_mailbox))
      return s.complete("NO", "TRYCREATE", "No such mailbox");
    return fail(s, mb.error(), "APPEND failed");
  }
  std::vector<uid_type> uids;
  std::uint32_t uidvalidity = mb->uidvalidity;
  for (const auto& m : c.messages) {
    store::flag_set fs;
    for (const auto& f : m.flags)
      if (!fs.add(f)) return s.complete("BAD", "", "Invalid flag");
    fs.normalize();
    auto r = store_->append(account_, mb->name, m.data, fs, m.internal_date);
    if (!r) return fail(s, r.error(), "APPEND failed");
    uids.push_back(r->uid);
    uidvalidity = r->uidvalidity;
  }
  if (sel_ && sel_->name == mb->name) apply_changes(s, true);
  // RFC 4315 §3: APPENDUID uidvalidity uid-set.
  s.complete("OK",
             "APPENDUID " + std::to_string(uidvalidity) + " " +
                 imap::sequence_set::format(imap::sequence_set::compress(uids)),
             "APPEND completed");
}

bool imap_executor::do_fetch(imap::server& s, const imap::cmd_fetch& c, bool uid) {
  if (!valid_set(c.set, uid)) {
    s.complete("BAD", "", "Invalid message sequence number");
    return true;
  }
  auto uids = resolve(c.set, uid);
  bool wants_text = false;
  if (without_io_) {
    // Without the store: no flag write (BODY[] without .PEEK), no list of expunged UIDs, no
    // resynchronization; message text only of a few small messages (below).
    for (const auto& it : c.fetch.items) {
      using k = imap::fetch_item::kind;
      if (it.k == k::section || it.k == k::binary || it.k == k::binary_size) {
        if (!it.peek && it.k != k::binary_size) return false;
        wants_text = true;
      }
    }
    if (!sub_ || sub_->overflowed() || (c.fetch.vanished && c.fetch.changed_since)) return false;
  }
  if (c.fetch.vanished && uid && c.fetch.changed_since && s.enabled("QRESYNC")) {
    // RFC 7162 §3.2.6: UID FETCH (CHANGEDSINCE m VANISHED): the UIDs of the set expunged
    // since m, before the FETCH responses.
    auto gone = store_->expunged_since(account_, sel_->name, *c.fetch.changed_since);
    if (!gone) {
      fail(s, gone.error(), "FETCH failed");
      return true;
    }
    const uid_type largest = sel_->uids.empty() ? 0 : sel_->uids.back();
    std::vector<std::uint32_t> in_set;
    for (auto u : *gone)
      if (c.set.contains(u, std::max(largest, u))) in_set.push_back(u);
    if (!in_set.empty())
      s.untagged("VANISHED (EARLIER) " +
                 imap::sequence_set::format(imap::sequence_set::compress(std::move(in_set))));
  }
  if (uids.empty()) {
    apply_changes(s, uid);
    s.complete("OK", "", "FETCH completed");
    return true;
  }
  auto job = std::make_unique<fetch_job>();
  auto& msgs = job->msgs;
  msgs.reserve(uids.size());
  auto known = refresh_known(uids);
  if (!known) {
    fail(s, known.error(), "FETCH failed");
    return true;
  }
  if (!*known && without_io_) return false; // rows to read first
  if (*known) {
    // From what the session knows: no row read. Both lists are in UID order.
    const auto& k = sel_->known;
    auto it = k.begin();
    for (auto u : uids) {
      it = std::lower_bound(it, k.end(), u,
                            [](const store::message_info& m, uid_type v) { return m.uid < v; });
      if (it == k.end()) break;
      if (it->uid == u) msgs.push_back(&*it);
    }
  } else {
    // The feed overflowed: the rows as they are now, until the resynchronization.
    auto rows = store_->messages(account_, sel_->name, uids.front(), uids.back());
    if (!rows) {
      fail(s, rows.error(), "FETCH failed");
      return true;
    }
    job->rows = std::move(*rows);
    std::size_t j = 0;
    for (const auto& m : job->rows) {
      while (j < uids.size() && uids[j] < m.uid)
        ++j;
      if (j < uids.size() && uids[j] == m.uid) msgs.push_back(&m);
    }
  }
  if (c.fetch.changed_since) {
    // RFC 7162 §3.1.4.1: only messages changed after CHANGEDSINCE.
    std::erase_if(
        msgs, [&](const store::message_info* m) { return m->modseq <= *c.fetch.changed_since; });
  }
  if (wants_text) {
    // The text of a few small messages (a client opening one) is read here, on the I/O
    // thread: two store reads of pages the OS has cached cost less than the hand-off to a
    // worker and back. Anything larger goes to a worker.
    std::uint64_t bytes = 0;
    for (const auto* m : msgs)
      bytes += m->size;
    if (msgs.size() > direct_text_messages || bytes > direct_text_bytes) return false;
    job->direct_reads = true;
  }
  // RFC 7162 §3.2.4: once QRESYNC is enabled every FETCH response carries the UID.
  bool want_flags = false, want_uid = uid || s.enabled("QRESYNC"),
       want_modseq = c.fetch.changed_since.has_value(), sets_seen = false, needs_structure = false,
       needs_raw = false;
  for (const auto& it : c.fetch.items) {
    using k = imap::fetch_item::kind;
    if (it.k == k::flags) want_flags = true;
    if (it.k == k::uid) want_uid = true;
    if (it.k == k::modseq) want_modseq = true;
    if ((it.k == k::section || it.k == k::binary) && !it.peek) sets_seen = true;
    if (it.k == k::envelope || it.k == k::body || it.k == k::bodystructure || it.k == k::section ||
        it.k == k::binary || it.k == k::binary_size)
      needs_structure = true;
    if (it.k == k::section || it.k == k::binary || it.k == k::binary_size) needs_raw = true;
  }
  if (want_modseq) sel_->condstore = true; // RFC 7162 §3.1: CONDSTORE enabling command
  // RFC 7162 §3.1: after a CONDSTORE enabling command, FETCH responses with flags carry both
  // the UID and the MODSEQ.
  if (sel_->condstore && (want_flags || sets_seen)) want_uid = want_modseq = true;
  // RFC 9051 §6.4.5: BODY[...] without .PEEK sets \Seen (not in a mailbox opened read-only).
  std::map<uid_type, store::message_info> seen_now;
  if (sets_seen && !sel_->read_only) {
    std::vector<uid_type> unseen;
    for (const auto* m : msgs)
      if ((m->flags.system & store::flag_seen) == 0) unseen.push_back(m->uid);
    if (!unseen.empty()) {
      store::flag_set seen;
      seen.system = store::flag_seen;
      auto r = store_->store_flags(account_, sel_->name, unseen, store::flag_mode::add, seen);
      if (!r) {
        fail(s, r.error(), "FETCH failed");
        return true;
      }
      for (auto& m : r->changed) {
        own_.insert({m.uid, m.modseq});
        note_flags(m.uid, m.flags, m.modseq);
        seen_now[m.uid] = m;
      }
    }
  }
  job->items = c.fetch.items;
  job->uid = uid;
  job->seen_now = std::move(seen_now);
  job->want_flags = want_flags;
  job->want_uid = want_uid;
  job->want_modseq = want_modseq;
  job->needs_structure = needs_structure;
  job->needs_raw = needs_raw;
  job_ = std::move(job);
  run_fetch(s);
  return true;
}

void imap_executor::resume(imap::server& s) {
  stalled_ = false;
  if (job_) run_fetch(s);
}

void imap_executor::run_fetch(imap::server& s) {
  auto& j = *job_;
  const bool utf8 = s.enabled("UTF8=ACCEPT");
  const bool uid = j.uid;
  const auto abort = [&](const mailkit::error_code& ec) {
    job_.reset();
    fail(s, ec, "FETCH failed");
  };
  // A message the session still shows but another session expunged (not yet reported, as
  // during FETCH by sequence number, RFC 9051 §7.5.1): its data is gone, it is left out.
  const auto gone = [](const mailkit::error_code& ec) {
    return ec == store::make_error_code(store::errc::no_such_message);
  };
  // execute_without_io(): a text that is not cached stops the job here (the message is done
  // again by resume(), on a store worker).
  const auto needs_store = make_error_code(boost::system::errc::operation_would_block);
  const std::size_t start_output = s.output().size();
  const std::size_t chunk = without_io_ ? inline_chunk_bytes : fetch_chunk_bytes;
  bool used_store = false; // this chunk read structures: the next one likely will too
  for (; j.next < j.msgs.size(); ++j.next) {
    // Bounded memory per connection: past the chunk size of output, hand the bytes to the
    // session and continue in resume() (on a worker, while the session writes, if this chunk
    // needed the store).
    if (s.output().size() - std::min(s.output().size(), start_output) >= chunk) {
      if (used_store) stalled_ = true;
      return;
    }
    const auto& m = *j.msgs[j.next];
    const auto seq = seq_of(m.uid);
    if (seq == 0) continue;
    bool flags_changed = false;
    const store::flag_set* flags = &m.flags;
    store::modseq_type modseq = m.modseq;
    if (auto it = j.seen_now.find(m.uid); it != j.seen_now.end()) {
      flags = &it->second.flags;
      modseq = it->second.modseq;
      flags_changed = true;
    }
    std::optional<store::message_structure> st;
    std::vector<std::vector<std::uint32_t>> ch;
    std::string raw;
    // The structure is read only when an item needs it and its text is not cached.
    const auto load_structure = [&]() -> mailkit::error_code {
      if (st) return {};
      if (without_io_ && !j.direct_reads) return needs_store;
      used_store = true;
      while (j.batch_at < j.batch.size() && j.batch[j.batch_at].first < m.uid)
        ++j.batch_at;
      if (j.batch_at >= j.batch.size()) {
        // Structures for a dense run of messages come in one read (store::structures); a
        // sparse set is read message by message, so that "1,100000" does not read all in
        // between.
        j.batch.clear();
        j.batch_at = 0;
        const std::size_t last = std::min(j.msgs.size(), j.next + fetch_structure_batch) - 1;
        const std::uint64_t span = std::uint64_t{j.msgs[last]->uid} - m.uid;
        if (last - j.next + 1 >= 8 && span < 4 * std::uint64_t{last - j.next + 1}) {
          auto r = store_->structures(account_, sel_->name, m.uid, j.msgs[last]->uid);
          if (!r) return r.error();
          j.batch = std::move(*r);
        }
      }
      if (j.batch_at < j.batch.size() && j.batch[j.batch_at].first == m.uid) {
        st = std::move(j.batch[j.batch_at].second);
      } else {
        auto r = store_->structure(account_, sel_->name, m.uid);
        if (!r) return r.error();
        st = std::move(*r);
      }
      ch = children_of(*st);
      return {};
    };
    if (j.needs_raw) {
      if (auto ec = load_structure()) {
        if (ec == needs_store) {
          stalled_ = true;
          return;
        }
        if (gone(ec)) continue;
        return abort(ec);
      }
      auto r = store_->fetch(account_, sel_->name, m.uid);
      if (!r) {
        if (gone(r.error())) continue;
        return abort(r.error());
      }
      raw = std::move(*r);
    }
    auto& cache = fetch_text_cache::instance();
    std::string& line = j.line; // one buffer for the whole FETCH: no allocation per message
    line.clear();
    append_number(line, seq);
    line += " FETCH (";
    bool first = true;
    const auto sep = [&] {
      if (!first) line += ' ';
      first = false;
    };
    // ENVELOPE, BODY and BODYSTRUCTURE from the cache, else encoded (and cached) here.
    const auto cached = [&](unsigned slot, const auto& encode) -> mailkit::error_code {
      slot += utf8 ? 1 : 0;
      if (cache.append(m.blob_id, slot, line)) return {};
      if (auto ec = load_structure()) return ec;
      const auto at = line.size();
      encode();
      cache.put(m.blob_id, slot, std::string_view(line).substr(at));
      return {};
    };
    bool skip = false;
    for (const auto& it : j.items) {
      if (skip) break;
      using k = imap::fetch_item::kind;
      switch (it.k) {
      case k::flags:
        sep();
        line += "FLAGS ";
        append_flags(line, *flags);
        break;
      case k::uid:
        break; // written once below
      case k::modseq:
        break;
      case k::internaldate:
        sep();
        line += "INTERNALDATE \"" + imap::format_date_time(m.internal_date) + "\"";
        break;
      case k::rfc822_size:
        sep();
        line += "RFC822.SIZE ";
        append_number(line, m.size);
        break;
      case k::envelope:
        sep();
        line += "ENVELOPE ";
        if (auto ec =
                cached(fetch_text_cache::envelope, [&] { append_envelope(line, st->env, utf8); })) {
          if (ec == needs_store) {
            stalled_ = true;
            return;
          }
          if (!gone(ec)) return abort(ec);
          skip = true;
        }
        break;
      case k::body:
      case k::bodystructure: {
        sep();
        const bool ext = it.k == k::bodystructure;
        line += ext ? "BODYSTRUCTURE " : "BODY ";
        if (auto ec = cached(ext ? fetch_text_cache::bodystructure : fetch_text_cache::body,
                             [&] { append_body(line, *st, ch, 0, ext, utf8); })) {
          if (ec == needs_store) {
            stalled_ = true;
            return;
          }
          if (!gone(ec)) return abort(ec);
          skip = true;
        }
        break;
      }
      case k::section:
      case k::binary:
      case k::binary_size: {
        std::uint32_t part = 0;
        auto data = section_data(*st, ch, raw, it.sec, &part);
        if (!data) data = std::string();
        if (it.k != k::section && !it.sec.part.empty()) {
          // RFC 3516 §4.2: BINARY is the part with its transfer encoding removed.
          const auto enc = mime::parse_transfer_encoding(st->parts[part].encoding);
          if (enc == mime::transfer_encoding::unknown || enc == mime::transfer_encoding::uuencode) {
            job_.reset();
            return s.complete("NO", "UNKNOWN-CTE", "Unknown Content-Transfer-Encoding");
          }
          *data = mime::decode_body(*data, enc);
        }
        sep();
        if (it.k == k::binary_size) {
          line += it.response_name + " " + std::to_string(data->size());
          break;
        }
        std::string_view view = *data;
        if (it.partial) {
          // RFC 9051 §6.4.5: <origin.count>; an origin past the end gives an empty string.
          const std::size_t origin = std::min<std::size_t>(it.partial->first, view.size());
          view = view.substr(origin, it.partial->second);
        }
        line += it.response_name + " ";
        if (it.k == k::binary && view.find('\0') != std::string_view::npos) {
          line += "~"; // RFC 3516 §4.2: literal8 for data with NUL
        }
        imap::append_literal(line, view);
        break;
      }
      }
    }
    if (skip) continue;
    if (flags_changed && !j.want_flags) {
      sep();
      line += "FLAGS ";
      append_flags(line, *flags);
    }
    if (j.want_uid) {
      sep();
      line += "UID ";
      append_number(line, m.uid);
    }
    if (j.want_modseq) {
      sep();
      line += "MODSEQ (";
      append_number(line, modseq);
      line += ')';
    }
    line += ')';
    s.untagged(line);
  }
  job_.reset();
  apply_changes(s, uid);
  s.complete("OK", "", "FETCH completed");
}

void imap_executor::do_store(imap::server& s, const imap::cmd_store& c, bool uid) {
  if (sel_->read_only) return s.complete("NO", "READ-ONLY", "Mailbox is read-only");
  store::flag_set fs;
  for (const auto& f : c.flags)
    if (!fs.add(f)) return s.complete("BAD", "", "Invalid flag");
  fs.normalize();
  if (!valid_set(c.set, uid)) return s.complete("BAD", "", "Invalid message sequence number");
  auto uids = resolve(c.set, uid);
  const bool qresync = s.enabled("QRESYNC");
  if (c.unchanged_since) sel_->condstore = true;
  if (!uids.empty()) {
    const auto mode = c.how == imap::cmd_store::mode::add      ? store::flag_mode::add
                      : c.how == imap::cmd_store::mode::remove ? store::flag_mode::remove
                                                               : store::flag_mode::replace;
    auto r = store_->store_flags(account_, sel_->name, uids, mode, fs, c.unchanged_since);
    if (!r) return fail(s, r.error(), "STORE failed");
    for (const auto& m : r->changed) {
      own_.insert({m.uid, m.modseq});
      note_flags(m.uid, m.flags, m.modseq);
      const auto seq = seq_of(m.uid);
      if (seq == 0) continue;
      // RFC 7162 §3.1.3: with UNCHANGEDSINCE the MODSEQ goes out even for .SILENT.
      if (c.silent && !c.unchanged_since) continue;
      std::string items;
      const auto add = [&](const std::string& item) {
        if (!items.empty()) items += ' ';
        items += item;
      };
      if (!c.silent) add("FLAGS " + flags_text(m.flags));
      // RFC 7162 §3.2.4: once QRESYNC is enabled every FETCH response carries the UID.
      if (uid || qresync) add("UID " + std::to_string(m.uid));
      if (sel_->condstore) add("MODSEQ (" + std::to_string(m.modseq) + ")");
      if (!items.empty()) s.untagged(std::to_string(seq) + " FETCH (" + items + ")");
    }
    if (!c.silent && r->changed.size() + r->modified.size() < uids.size()) {
      // RFC 9051 §6.4.6: the untagged FETCH goes out for every message named, also those
      // whose flags were already as asked.
      std::vector<uid_type> done;
      for (const auto& m : r->changed)
        done.push_back(m.uid);
      done.insert(done.end(), r->modified.begin(), r->modified.end());
      std::sort(done.begin(), done.end());
      const auto report = [&](const store::message_info& m) {
        if (std::binary_search(done.begin(), done.end(), m.uid)) return;
        const auto seq = seq_of(m.uid);
        if (seq == 0) return;
        std::string line = std::to_string(seq) + " FETCH (FLAGS " + flags_text(m.flags);
        if (uid || qresync) line += " UID " + std::to_string(m.uid);
        if (sel_->condstore) line += " MODSEQ (" + std::to_string(m.modseq) + ")";
        s.untagged(line + ")");
      };
      // Their flags as the session knows them (the feed polled just now), else the rows.
      if (auto known = refresh_known(uids); known && *known) {
        for (auto u : uids)
          if (const auto* m = known_of(u)) report(*m);
      } else if (auto now = store_->messages(account_, sel_->name, uids.front(), uids.back())) {
        for (const auto& m : *now)
          if (std::binary_search(uids.begin(), uids.end(), m.uid)) report(m);
      }
    }
    if (!r->modified.empty()) {
      std::vector<std::uint32_t> numbers;
      for (auto u : r->modified)
        numbers.push_back(uid ? u : seq_of(u));
      apply_changes(s, uid);
      return s.complete(
          "OK", "MODIFIED " + imap::sequence_set::format(imap::sequence_set::compress(numbers)),
          "Conditional STORE failed for some messages");
    }
  }
  apply_changes(s, uid);
  s.complete("OK", "", "STORE completed");
}

void imap_executor::do_copy(imap::server& s, const imap::cmd_copy& c, bool uid) {
  if (c.move && sel_->read_only) return s.complete("NO", "READ-ONLY", "Mailbox is read-only");
  auto name = client_name(s, c.mailbox);
  if (!name) return s.complete("BAD", "", "Invalid mailbox name encoding");
  auto dest = store_->mailbox(account_, *name);
  if (!dest) {
    // RFC 9051 §6.4.7: TRYCREATE when the target does not exist.
    if (dest.error() == store::make_error_code(store::errc::no_such_mailbox))
      return s.complete("NO", "TRYCREATE", "No such mailbox");
    return fail(s, dest.error(), c.move ? "MOVE failed" : "COPY failed");
  }
  if (!valid_set(c.set, uid)) return s.complete("BAD", "", "Invalid message sequence number");
  auto uids = resolve(c.set, uid);
  if (uids.empty()) return s.complete("OK", "", c.move ? "MOVE completed" : "COPY completed");
  auto r = c.move ? store_->move(account_, sel_->name, uids, dest->name)
                  : store_->copy(account_, sel_->name, uids, dest->name);
  if (!r) return fail(s, r.error(), c.move ? "MOVE failed" : "COPY failed");
  std::vector<uid_type> from, to;
  for (auto [a, b] : *r) {
    from.push_back(a);
    to.push_back(b);
  }
  // RFC 4315 §3: COPYUID uidvalidity source-uids destination-uids, in matching order.
  const std::string code =
      "COPYUID " + std::to_string(dest->uidvalidity) + " " + uid_list(from) + " " + uid_list(to);
  if (c.move) {
    // RFC 6851 §4.3: COPYUID in an untagged OK before the expunges.
    s.untagged("OK [" + code + "] Moved");
    apply_changes(s, true);
    return s.complete("OK", "", "MOVE completed");
  }
  apply_changes(s, uid);
  s.complete("OK", code, "COPY completed");
}

void imap_executor::do_expunge(imap::server& s, const imap::cmd_expunge& c) {
  if (sel_->read_only) return s.complete("NO", "READ-ONLY", "Mailbox is read-only");
  if (c.uids) {
    // RFC 4315 §2.1: only the listed messages that are \Deleted.
    auto uids = resolve(*c.uids, true);
    std::vector<uid_type> deleted;
    if (!uids.empty()) {
      auto msgs = store_->messages(account_, sel_->name, uids.front(), uids.back());
      if (!msgs) return fail(s, msgs.error(), "EXPUNGE failed");
      for (const auto& m : *msgs)
        if ((m.flags.system & store::flag_deleted) &&
            std::binary_search(uids.begin(), uids.end(), m.uid))
          deleted.push_back(m.uid);
    }
    if (!deleted.empty()) {
      auto r = store_->expunge(account_, sel_->name, std::span<const uid_type>(deleted));
      if (!r) return fail(s, r.error(), "EXPUNGE failed");
    }
  } else {
    auto r = store_->expunge(account_, sel_->name);
    if (!r) return fail(s, r.error(), "EXPUNGE failed");
  }
  apply_changes(s, true);
  s.complete("OK", "", "EXPUNGE completed");
}

void imap_executor::do_close(imap::server& s, bool expunge) {
  // RFC 9051 §6.4.1: CLOSE expunges silently (not in a read-only mailbox); UNSELECT does not.
  if (expunge && !sel_->read_only) {
    auto r = store_->expunge(account_, sel_->name);
    if (!r) return fail(s, r.error(), "CLOSE failed");
  }
  sel_.reset();
  sub_.reset();
  prepared_.reset();
  deferred_.clear();
  own_.clear();
  s.complete("OK", "", expunge ? "CLOSE completed" : "UNSELECT completed");
}

namespace {

/// The UIDs matching each HEADER, BODY and TEXT key of one SEARCH, from the store's text index
/// (store/text_index.hpp), so that no message file is read for them.
struct text_hits {
  std::vector<std::pair<const imap::search_key*, std::vector<uid_type>>> keys;
  [[nodiscard]] const std::vector<uid_type>* of(const imap::search_key& k) const {
    for (const auto& [key, uids] : keys)
      if (key == &k) return &uids;
    return nullptr;
  }
};

/// Look up every text key of `k` in the index. Returns false when the store has no text index
/// (the keys are then evaluated by reading the messages).
expected<bool> index_text_keys(store::mail_store& st, const std::string& account,
                               const std::string& mailbox, const imap::search_key& k,
                               text_hits& out, unsigned depth = 0) {
  using op = imap::search_key::op;
  if (depth > imap::max_search_depth) return true;
  if (k.o == op::header || k.o == op::body || k.o == op::text) {
    store::text_query q;
    if (k.o == op::header) {
      q.field = store::text_field::header;
      q.header_name = k.text;
      q.needle = k.value;
    } else {
      q.field = k.o == op::body ? store::text_field::body : store::text_field::text;
      q.needle = k.text;
    }
    auto r = store::search_text(st, account, mailbox, q);
    if (!r && r.error() == make_error_code(store::errc::invalid_argument)) return false;
    if (!r) return make_unexpected(r.error());
    out.keys.emplace_back(&k, std::move(*r));
    return true;
  }
  for (const auto& ch : k.children) {
    auto r = index_text_keys(st, account, mailbox, ch, out, depth + 1);
    if (!r || !*r) return r;
  }
  return true;
}

struct search_ctx {
  store::mail_store& st;
  const std::string& account;
  const std::string& mailbox;
  const store::message_info& m;
  std::uint32_t seq;
  std::uint32_t count;
  uid_type max_uid;
  const std::vector<uid_type>& saved;
  std::int64_t now;
  const text_hits* texts; ///< nullptr: match text keys by reading the message
  std::optional<std::string> raw;
  std::optional<store::message_structure> structure;
  bool failed = false;

  const std::string& message() {
    if (!raw) {
      auto r = st.fetch(account, mailbox, m.uid);
      if (!r) failed = true;
      raw = r ? std::move(*r) : std::string();
    }
    return *raw;
  }
  std::string_view header_block() {
    const auto& r = message();
    auto end = r.find("\r\n\r\n");
    if (end != std::string::npos) return std::string_view(r).substr(0, end + 2);
    end = r.find("\n\n");
    return std::string_view(r).substr(0, end == std::string::npos ? r.size() : end + 1);
  }
  std::string_view body() {
    const auto& r = message();
    auto h = header_block();
    std::string_view rest = std::string_view(r).substr(h.size());
    if (rest.rfind("\r\n", 0) == 0) return rest.substr(2);
    if (rest.rfind("\n", 0) == 0) return rest.substr(1);
    return rest;
  }
  std::optional<std::int64_t> sent_day() {
    for (const auto& f : split_header(header_block()))
      if (iequals(f.name, "Date")) {
        auto d = mime::parse_date(field_value(f.whole, f.name.size()));
        // RFC 9051 §6.4.4: SENT* disregard time and time zone: the date as written.
        if (d) return imap::days_of(d->to_unix(), d->tz_offset_minutes);
        return std::nullopt;
      }
    return std::nullopt;
  }
};

bool uses_modseq(const imap::search_key& k, unsigned depth = 0) {
  if (k.o == imap::search_key::op::modseq) return true;
  if (depth > imap::max_search_depth) return false;
  return std::any_of(k.children.begin(), k.children.end(),
                     [&](const imap::search_key& c) { return uses_modseq(c, depth + 1); });
}

bool has_flag(const store::flag_set& f, std::string_view name) {
  static constexpr std::pair<std::string_view, std::uint8_t> sys[] = {
      {"\\Seen", store::flag_seen},
      {"\\Answered", store::flag_answered},
      {"\\Flagged", store::flag_flagged},
      {"\\Deleted", store::flag_deleted},
      {"\\Draft", store::flag_draft}};
  for (auto [n, bit] : sys)
    if (iequals(n, name)) return (f.system & bit) != 0;
  for (const auto& k : f.keywords)
    if (iequals(k, name)) return true;
  return false;
}

bool evaluate(const imap::search_key& k, search_ctx& c) {
  using op = imap::search_key::op;
  switch (k.o) {
  case op::all:
    return true;
  case op::and_:
    for (const auto& ch : k.children)
      if (!evaluate(ch, c)) return false;
    return true;
  case op::or_:
    return k.children.size() == 2 && (evaluate(k.children[0], c) || evaluate(k.children[1], c));
  case op::not_:
    return !k.children.empty() && !evaluate(k.children[0], c);
  case op::flag:
    return has_flag(c.m.flags, k.text);
  case op::no_flag:
    return !has_flag(c.m.flags, k.text);
  case op::recent:
  case op::new_:
    return false; // this server never reports \Recent (RFC 9051 removed it)
  case op::old:
    return true;
  case op::before:
    return imap::days_of(c.m.internal_date) < k.day;
  case op::on:
    return imap::days_of(c.m.internal_date) == k.day;
  case op::since:
    return imap::days_of(c.m.internal_date) >= k.day;
  case op::sent_before:
  case op::sent_on:
  case op::sent_since: {
    auto d = c.sent_day();
    if (!d) return false;
    if (k.o == op::sent_before) return *d < k.day;
    if (k.o == op::sent_on) return *d == k.day;
    return *d >= k.day;
  }
  case op::larger:
    return c.m.size > k.number;
  case op::smaller:
    return c.m.size < k.number;
  case op::header:
  case op::body:
  case op::text:
    if (c.texts) {
      // RFC 9051 §6.4.4: case-insensitive substring matches, over the decoded text.
      const auto* uids = c.texts->of(k);
      return uids && std::binary_search(uids->begin(), uids->end(), c.m.uid);
    }
    if (k.o == op::body) return icontains(c.body(), k.text);
    if (k.o == op::text) return icontains(c.message(), k.text);
    for (const auto& f : split_header(c.header_block()))
      if (iequals(f.name, k.text) && icontains(field_value(f.whole, f.name.size()), k.value))
        return true;
    return false;
  case op::uid:
    if (k.set.is_saved_result())
      return std::find(c.saved.begin(), c.saved.end(), c.m.uid) != c.saved.end();
    return k.set.contains(c.m.uid, c.max_uid);
  case op::sequence:
    if (k.set.is_saved_result())
      return std::find(c.saved.begin(), c.saved.end(), c.m.uid) != c.saved.end();
    return k.set.contains(c.seq, c.count);
  case op::modseq:
    return c.m.modseq >= k.number;
  case op::older:
    return c.now - c.m.internal_date >= static_cast<std::int64_t>(k.number);
  case op::younger:
    return c.now - c.m.internal_date <= static_cast<std::int64_t>(k.number);
  }
  return false;
}

} // namespace

void imap_executor::do_search(imap::server& s, const imap::cmd_search& c, bool uid) {
  auto msgs = store_->messages(account_, sel_->name);
  if (!msgs) return fail(s, msgs.error(), "SEARCH failed");
  const auto& uids = sel_->uids;
  const auto count = static_cast<std::uint32_t>(uids.size());
  const uid_type max_uid = uids.empty() ? 0 : uids.back();
  const auto now = now_seconds();
  std::vector<uid_type> hits;
  std::vector<std::uint32_t> numbers;
  std::uint64_t max_modseq = 0;
  text_hits texts;
  auto indexed = index_text_keys(*store_, account_, sel_->name, c.search.key, texts);
  if (!indexed) return fail(s, indexed.error(), "SEARCH failed");
  for (const auto& m : *msgs) {
    const auto seq = seq_of(m.uid);
    if (seq == 0) continue; // appended since the client last heard: not in its view yet
    search_ctx ctx{*store_,      account_,     sel_->name, m,   seq,
                   count,        max_uid,      saved_,     now, *indexed ? &texts : nullptr,
                   std::nullopt, std::nullopt, false};
    const bool hit = evaluate(c.search.key, ctx);
    if (ctx.failed) return s.complete("NO", "UNAVAILABLE", "SEARCH could not read a message");
    if (!hit) continue;
    hits.push_back(m.uid);
    numbers.push_back(uid ? m.uid : seq);
    max_modseq = std::max(max_modseq, m.modseq);
  }
  const bool modseq_key = uses_modseq(c.search.key);
  if (modseq_key) sel_->condstore = true; // RFC 7162 §3.1: a CONDSTORE enabling command
  const auto& ret = c.search.ret;
  if (ret.save) saved_ = hits; // RFC 5182 §2.1
  // RFC 9051 §7.3.4: an IMAP4rev2 session gets ESEARCH for every SEARCH.
  if (ret.esearch || s.enabled("IMAP4REV2")) {
    // RFC 4731 §3.1: ESEARCH (TAG "t") [UID] MIN MAX COUNT ALL; RETURN () means ALL.
    const bool all = ret.all || (!ret.min && !ret.max && !ret.count && !ret.save);
    std::string line = "ESEARCH (TAG ";
    imap::append_string(line, s.tag());
    line += ")";
    if (uid) line += " UID";
    if (!numbers.empty()) {
      if (ret.min)
        line += " MIN " + std::to_string(*std::min_element(numbers.begin(), numbers.end()));
      if (ret.max)
        line += " MAX " + std::to_string(*std::max_element(numbers.begin(), numbers.end()));
      if (all) line += " ALL " + imap::sequence_set::format(imap::sequence_set::compress(numbers));
    }
    if (ret.count) line += " COUNT " + std::to_string(numbers.size());
    // RFC 7162 §3.1.5: with the MODSEQ key, the highest mod-sequence of the results.
    if (modseq_key && !numbers.empty()) line += " MODSEQ " + std::to_string(max_modseq);
    s.untagged(line);
  } else {
    std::string line = "SEARCH";
    for (auto n : numbers)
      line += " " + std::to_string(n);
    if (modseq_key && !numbers.empty()) line += " (MODSEQ " + std::to_string(max_modseq) + ")";
    s.untagged(line);
  }
  apply_changes(s, uid);
  s.complete("OK", "", "SEARCH completed");
}

} // namespace mailkit::server
