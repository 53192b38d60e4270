// SPDX-License-Identifier: Apache-2.0
// The SEARCH text index: decoded, folded message text in per-account SQLite FTS5 trigram tables.
#include <mailkit/store/error.hpp>
#include <mailkit/store/store.hpp>
#include <mailkit/store/text_index.hpp>

#include "internal.hpp"
#include "sqlite.hpp"

#include <mailkit/mime/message.hpp>

#include <sodium.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

// Return the error of an expected<T> expression, else continue.
#define MAILKIT_TEXT_TRY(expr)                                                                     \
  do {                                                                                             \
    if (auto mailkit_text_r_ = (expr); !mailkit_text_r_)                                           \
      return ::mailkit::make_unexpected(mailkit_text_r_.error());                                  \
  } while (0)

namespace mailkit::store {

namespace {

using detail::connection;
using detail::statement;

tl::unexpected<error_code> sql_error(int rc) {
  return tl::unexpected<error_code>(detail::from_sqlite(rc));
}

// ---- folding ----------------------------------------------------------------------------------

/// Unicode simple case folding (CaseFolding.txt status C and S) for the scripts listed in the
/// header; everything else folds to itself.
char32_t fold_cp(char32_t c) noexcept {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (c < 0x100) {
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0xB5) return 0x3BC; // MICRO SIGN folds to GREEK SMALL LETTER MU
    return c;
  }
  if (c <= 0x17F) {
    if ((c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
    if (c == 0x178) return 0xFF;
    if (c == 0x17F) return 's';
    return c; // U+0130, U+0131, U+0138, U+0149: no simple folding
  }
  if (c >= 0x1CD && c <= 0x1DC) return (c & 1) ? c + 1 : c;
  if (c >= 0x218 && c <= 0x21F) return c | 1;
  if (c >= 0x386 && c <= 0x3AB) {
    if (c >= 0x391 && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    return c;
  }
  if (c == 0x3C2) return 0x3C3; // final sigma
  if (c >= 0x400 && c <= 0x52F) {
    if (c <= 0x40F) return c + 80;
    if (c <= 0x42F) return c + 32;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || c >= 0x4D0) return c | 1;
    if (c == 0x4C0) return 0x4CF;
    if (c >= 0x4C1 && c <= 0x4CE) return (c & 1) ? c + 1 : c;
    return c;
  }
  if (c >= 0x531 && c <= 0x556) return c + 48;
  if ((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) return c | 1;
  if (c == 0x1E9E) return 0xDF;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return c;
}

void put_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

/// Append folded `s` to `out`, stopping (false) once `out` would pass `limit` bytes.
bool fold_into(std::string& out, std::string_view s, std::size_t limit) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (out.size() + 4 > limit) return false;
    unsigned char b = p[i];
    if (b < 0x80) {
      // CR LF reads as LF: bodies and search strings then agree whatever the line ending.
      if (b == '\r' && i + 1 < n && p[i + 1] == '\n') {
        ++i;
        continue;
      }
      out += static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b);
      ++i;
      continue;
    }
    // RFC 3629 §4: well-formed sequences only; anything else is one U+FFFD per octet.
    char32_t c = 0xFFFD;
    std::size_t len = 1;
    auto cont = [&](std::size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
    if (b >= 0xC2 && b <= 0xDF && cont(1)) {
      c = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF && cont(1) && cont(2)) {
      char32_t v = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
      if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) {
        c = v;
        len = 3;
      }
    } else if (b >= 0xF0 && b <= 0xF4 && cont(1) && cont(2) && cont(3)) {
      char32_t v = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
                   (p[i + 3] & 0x3Fu);
      if (v >= 0x10000 && v <= 0x10FFFF) {
        c = v;
        len = 4;
      }
    }
    put_utf8(out, fold_cp(c));
    i += len;
  }
  return true;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

/// "name: value\n" for one header field: the value unfolded and decoded, on one line.
bool add_field(std::string& out, const mime::header_field& f, std::size_t limit) {
  if (!fold_into(out, f.name, limit)) return false;
  out += ": ";
  std::string v = f.decoded();
  std::replace_if(
      v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  if (!fold_into(out, v, limit)) return false;
  out += '\n';
  return true;
}

} // namespace

std::string fold_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  fold_into(out, s, SIZE_MAX);
  return out;
}

indexed_text extract_text(const mime::message& msg, std::size_t limit) {
  indexed_text t;
  auto budget = [&] { return limit - std::min(limit, t.header.size() + t.parts.size()); };
  for (const auto& f : msg.headers())
    if (!add_field(t.header, f, limit)) {
      t.complete = false;
      return t;
    }
  for (const auto& p : msg.parts()) {
    if (p.index != 0)
      for (const auto& f : msg.headers(p))
        if (!add_field(t.parts, f, limit)) {
          t.complete = false;
          return t;
        }
    if (p.is_multipart || p.is_message) continue;
    // RFC 9051 §6.4.4 BODY: the text of the message; only text/* parts are text (RFC 2046 §4.1).
    if (p.type.type != "text") continue;
    const auto room = budget();
    if (!fold_into(t.body, msg.text(p), room)) {
      t.complete = false;
      return t;
    }
    t.body += '\n';
  }
  return t;
}

namespace {

bool header_has(std::string_view header, std::string_view name, std::string_view needle) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto nl = header.find('\n', pos);
    if (nl == std::string_view::npos) nl = header.size();
    auto line = header.substr(pos, nl - pos);
    pos = nl + 1;
    auto colon = line.find(": ");
    if (colon == std::string_view::npos || line.substr(0, colon) != name) continue;
    // RFC 9051 §6.4.4: HEADER with an empty string matches every message with the field.
    if (line.substr(colon + 2).find(needle) != std::string_view::npos) return true;
  }
  return false;
}

bool matches_folded(const indexed_text& t, text_field field, std::string_view name,
                    std::string_view needle) {
  switch (field) {
  case text_field::header:
    return header_has(t.header, name, needle);
  case text_field::body:
    return t.body.find(needle) != std::string::npos;
  case text_field::text:
    return t.header.find(needle) != std::string::npos || t.body.find(needle) != std::string::npos ||
           t.parts.find(needle) != std::string::npos;
  }
  return false;
}

} // namespace

bool text_matches(const indexed_text& t, const text_query& q) {
  return matches_folded(t, q.field, fold_text(q.header_name), fold_text(q.needle));
}

// ---- the per-account databases ----------------------------------------------------------------

namespace detail {

/// Bump when the stored text changes meaning: older files are dropped and rebuilt lazily.
constexpr int index_format = 1;

struct account_db {
  std::mutex mutex;
  std::string path;
  std::unique_ptr<connection> db;
  /// blob -> (rowid, complete), mirrored from the docs table.
  std::unordered_map<std::string, std::pair<std::int64_t, bool>> docs;
};

class text_index_impl {
public:
  text_index_impl(std::string dir, std::uint64_t min_free)
      : dir_(std::move(dir)), min_free_(min_free) {}

  /// At least min_free_ bytes free for an unprivileged writer on the file system of dir_ (of
  /// its parent until dir_ exists). A statfs is a few microseconds; indexing a message is
  /// hundreds.
  bool room() const {
    if (min_free_ == 0) return true;
    struct statvfs st {};
    if (::statvfs(dir_.c_str(), &st) != 0) {
      const auto parent = std::filesystem::path(dir_).parent_path();
      if (::statvfs(parent.c_str(), &st) != 0) return true; // unknown: the writes will tell
    }
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize >= min_free_;
  }

  /// The account's database, opened (and created) on first use. Holds no lock on return.
  expected<std::shared_ptr<account_db>> account(std::string_view address) {
    const auto name = file_name(address);
    std::lock_guard lock(mutex_);
    auto it = open_.find(name);
    if (it != open_.end()) return it->second;
    // Bounded: the least useful entry (any) is closed when too many accounts are open.
    if (open_.size() >= max_open) open_.erase(open_.begin());
    auto a = std::make_shared<account_db>();
    a->path = dir_ + "/" + name;
    open_.emplace(name, a);
    return a;
  }

  void drop(std::string_view address) {
    const auto name = file_name(address);
    std::shared_ptr<account_db> a;
    {
      std::lock_guard lock(mutex_);
      auto it = open_.find(name);
      if (it != open_.end()) {
        a = it->second;
        open_.erase(it);
      }
    }
    if (a) {
      std::lock_guard l(a->mutex);
      a->db.reset();
      a->docs.clear();
    }
    remove_files(dir_ + "/" + name);
  }

  static void remove_files(const std::string& path) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path + suffix, ec);
  }

  /// Open the database of `a` (with a->mutex held). A file that cannot be read as an index is
  /// removed and recreated: it only caches what the message files hold.
  expected<void> ensure_open(account_db& a) {
    if (a.db) return {};
    auto r = try_open(a);
    if (r) return r;
    a.db.reset();
    a.docs.clear();
    remove_files(a.path);
    return try_open(a);
  }

  /// Forget everything of `a` after an error that may be damage (with a->mutex held).
  void reset(account_db& a) {
    a.db.reset();
    a.docs.clear();
    remove_files(a.path);
  }

  const std::string& dir() const { return dir_; }

private:
  static constexpr std::size_t max_open = 256;

  expected<void> try_open(account_db& a) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return tl::unexpected<error_code>(detail::from_errno(ec.value()));
    a.db = std::make_unique<connection>();
    if (int rc = a.db->open(a.path, false); rc != SQLITE_OK) return sql_error(rc);
    sqlite3_busy_timeout(a.db->get(), 5000);
    // A small write-ahead log, checkpointed often and cut back after: the index must not hold
    // megabytes of log that a nearly full disk needs for mail. 256 KiB between checkpoints: a
    // checkpoint costs three fsyncs, and at 16 KiB one came with nearly every append and
    // EXPUNGE (the FTS5 segments of one message fill that), on the IMAP reply's path.
    // Small pages (set before the first table exists) keep the many small FTS5 tables small.
    if (int rc = a.db->exec("PRAGMA page_size=1024; PRAGMA journal_mode=WAL; "
                            "PRAGMA synchronous=NORMAL; "
                            "PRAGMA wal_autocheckpoint=256; PRAGMA journal_size_limit=65536;");
        rc != SQLITE_OK)
      return sql_error(rc);
    std::int64_t version = 0;
    {
      statement st(*a.db, "PRAGMA user_version");
      if (int rc = st.step(); rc != SQLITE_ROW) return sql_error(rc);
      version = st.i64(0);
    }
    if (version != 0 && version != index_format) return fail(errc::corrupt); // rebuilt
    if (version == 0) {
      int rc = a.db->exec("BEGIN;"
                          "CREATE TABLE docs(id INTEGER PRIMARY KEY, blob TEXT NOT NULL UNIQUE,"
                          " complete INTEGER NOT NULL);"
                          // Trigram tokens over text already folded by fold_text: case_sensitive 1
                          // keeps SQLite from folding a second, different way.
                          "CREATE VIRTUAL TABLE fts USING fts5(header, body, parts,"
                          " tokenize='trigram case_sensitive 1');"
                          "PRAGMA user_version=1;"
                          "COMMIT;");
      if (rc != SQLITE_OK) {
        a.db->exec("ROLLBACK");
        return sql_error(rc);
      }
    }
    statement st(*a.db, "SELECT blob, id, complete FROM docs");
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      a.docs.emplace(std::string(st.text(0)), std::make_pair(st.i64(1), st.i64(2) != 0));
    if (rc != SQLITE_DONE) return sql_error(rc);
    return {};
  }

  std::string file_name(std::string_view address) const {
    // The address chooses the file only through a hash (no peer text in a path).
    unsigned char h[16];
    crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(address.data()),
                       address.size(), nullptr, 0);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (auto b : h) {
      out += hex[b >> 4];
      out += hex[b & 15];
    }
    return out + ".db";
  }

  std::string dir_;
  std::uint64_t min_free_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<account_db>> open_;
};

} // namespace detail

namespace {

/// Insert one body's text (a->mutex held, inside a transaction or not).
expected<void> insert_doc(detail::account_db& a, const std::string& blob, const indexed_text& t) {
  if (a.docs.count(blob)) return {};
  statement d(*a.db, "INSERT OR IGNORE INTO docs(blob, complete) VALUES(?,?)");
  d.bind(1, blob).bind(2, t.complete ? 1 : 0);
  if (int rc = d.step(); rc != SQLITE_DONE) return sql_error(rc);
  if (sqlite3_changes(a.db->get()) == 0) {
    // Another connection to the same file (an account evicted from the open set while in use)
    // indexed it first: take its row.
    statement q(*a.db, "SELECT id, complete FROM docs WHERE blob=?");
    q.bind(1, blob);
    if (int rc = q.step(); rc != SQLITE_ROW)
      return sql_error(rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
    a.docs.emplace(blob, std::make_pair(q.i64(0), q.i64(1) != 0));
    return {};
  }
  const auto id = sqlite3_last_insert_rowid(a.db->get());
  if (t.complete) {
    statement f(*a.db, "INSERT INTO fts(rowid, header, body, parts) VALUES(?,?,?,?)");
    f.bind(1, id).bind(2, t.header).bind(3, t.body).bind(4, t.parts);
    if (int rc = f.step(); rc != SQLITE_DONE) return sql_error(rc);
  }
  a.docs.emplace(blob, std::make_pair(id, t.complete));
  return {};
}

indexed_text text_of(std::string_view raw, std::size_t limit) {
  auto m = mime::parse(raw);
  if (!m) return {}; // nothing readable as text: an empty document
  return extract_text(*m, limit);
}

/// An FTS5 phrase string: RFC-free, FTS5 query syntax (a '"' inside is written twice).
std::string phrase(std::string_view folded) {
  std::string out = "\"";
  for (char c : folded) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

/// The rowids whose text holds `needle` (folded) in the columns `field` looks at, or (for a
/// header name) whose named field does; ascending.
expected<std::vector<std::int64_t>> matching_rows(detail::account_db& a, text_field field,
                                                  std::string_view name, std::string_view needle) {
  std::vector<std::int64_t> rows;
  auto collect = [&](statement& st) -> expected<void> {
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      rows.push_back(st.i64(0));
    if (rc != SQLITE_DONE) return sql_error(rc);
    return {};
  };
  if (field == text_field::header) {
    // Candidates hold the string somewhere in the header; the field name is checked on the
    // stored text.
    std::vector<std::int64_t> cand;
    if (code_points(needle) >= 3) {
      statement st(*a.db, "SELECT rowid FROM fts WHERE fts MATCH ?");
      st.bind(1, "header : " + phrase(needle));
      auto r = collect(st);
      if (!r) return make_unexpected(r.error());
      cand.swap(rows);
    }
    if (code_points(needle) < 3) {
      statement all(*a.db, "SELECT rowid, header FROM fts");
      int rc;
      while ((rc = all.step()) == SQLITE_ROW)
        if (header_has(all.text(1), name, needle)) rows.push_back(all.i64(0));
      if (rc != SQLITE_DONE) return sql_error(rc);
    } else {
      for (auto id : cand) {
        statement st(*a.db, "SELECT header FROM fts WHERE rowid=?");
        st.bind(1, id);
        int rc = st.step();
        if (rc == SQLITE_ROW && header_has(st.text(0), name, needle))
          rows.push_back(id);
        else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
          return sql_error(rc);
      }
    }
  } else if (code_points(needle) >= 3) {
    statement st(*a.db, "SELECT rowid FROM fts WHERE fts MATCH ?");
    st.bind(1, (field == text_field::body ? "body : " : "") + phrase(needle));
    auto r = collect(st);
    if (!r) return make_unexpected(r.error());
  } else if (field == text_field::body) {
    // No trigram in fewer than 3 characters: scan the stored text (still no message file).
    statement st(*a.db, "SELECT rowid FROM fts WHERE instr(body, ?1) > 0");
    st.bind(1, needle);
    auto r = collect(st);
    if (!r) return make_unexpected(r.error());
  } else {
    statement st(*a.db, "SELECT rowid FROM fts WHERE instr(header, ?1) > 0 OR "
                        "instr(body, ?1) > 0 OR instr(parts, ?1) > 0");
    st.bind(1, needle);
    auto r = collect(st);
    if (!r) return make_unexpected(r.error());
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

} // namespace

text_index::text_index(std::string dir, std::uint64_t min_free)
    : impl_(std::make_unique<detail::text_index_impl>(std::move(dir), min_free)) {}
text_index::~text_index() = default;

bool text_index::has_room() const {
  return impl_->room();
}

expected<void> text_index::add(std::string_view account, std::string_view blob,
                               const mime::message& msg) {
  if (!impl_->room()) return fail(errc::disk_full); // the space is mail's: indexed lazily later
  auto a = impl_->account(account);
  if (!a) return make_unexpected(a.error());
  auto t = extract_text(msg);
  std::lock_guard lock((*a)->mutex);
  MAILKIT_TEXT_TRY(impl_->ensure_open(**a));
  auto r = insert_doc(**a, std::string(blob), t);
  if (!r && r.error() == make_error_code(errc::corrupt)) impl_->reset(**a);
  return r;
}

expected<void> text_index::forget(std::string_view account, std::span<const std::string> blobs) {
  if (blobs.empty()) return {};
  auto a = impl_->account(account);
  if (!a) return make_unexpected(a.error());
  auto& acc = **a;
  std::lock_guard lock(acc.mutex);
  std::error_code ec;
  if (!acc.db && !std::filesystem::exists(acc.path, ec)) return {}; // nothing indexed: no file
  MAILKIT_TEXT_TRY(impl_->ensure_open(acc));
  if (int rc = acc.db->exec("BEGIN"); rc != SQLITE_OK) return sql_error(rc);
  for (const auto& b : blobs) {
    auto it = acc.docs.find(b);
    if (it == acc.docs.end()) continue;
    statement f(*acc.db, "DELETE FROM fts WHERE rowid=?");
    f.bind(1, it->second.first);
    statement d(*acc.db, "DELETE FROM docs WHERE id=?");
    d.bind(1, it->second.first);
    int rc = f.step();
    if (rc == SQLITE_DONE) rc = d.step();
    if (rc != SQLITE_DONE) {
      acc.db->exec("ROLLBACK");
      // The map may now disagree with the file: reread it next time.
      impl_->reset(acc);
      return sql_error(rc);
    }
    acc.docs.erase(it);
  }
  if (int rc = acc.db->exec("COMMIT"); rc != SQLITE_OK) {
    acc.db->exec("ROLLBACK");
    impl_->reset(acc);
    return sql_error(rc);
  }
  return {};
}

void text_index::drop_account(std::string_view account) {
  impl_->drop(account);
}

expected<std::size_t> text_index::size(std::string_view account) {
  auto a = impl_->account(account);
  if (!a) return make_unexpected(a.error());
  std::lock_guard lock((*a)->mutex);
  MAILKIT_TEXT_TRY(impl_->ensure_open(**a));
  return (*a)->docs.size();
}

expected<std::vector<bool>> text_index::match(std::string_view account,
                                              std::span<const std::string> blobs,
                                              const text_query& q, const loader& load) {
  auto a = impl_->account(account);
  if (!a) return make_unexpected(a.error());
  auto& acc = **a;
  const auto needle = fold_text(q.needle);
  const auto name = fold_text(q.header_name);
  // A body the index does not hold (too large, or no room to index it): read and match whole.
  auto read_and_match = [&](const std::string& blob) -> expected<bool> {
    auto raw = load(blob);
    if (!raw) return make_unexpected(raw.error());
    return matches_folded(text_of(*raw, SIZE_MAX), q.field, name, needle);
  };
  // The index is a cache: when it cannot be opened or written (a full disk above all), the
  // search answers by reading every message. Only a message that cannot be read is an error.
  auto read_all = [&]() -> expected<std::vector<bool>> {
    std::vector<bool> out(blobs.size(), false);
    for (std::size_t i = 0; i < blobs.size(); ++i) {
      auto m = read_and_match(blobs[i]);
      if (!m) return make_unexpected(m.error());
      out[i] = *m;
    }
    return out;
  };
  std::lock_guard lock(acc.mutex);
  for (int attempt = 0;; ++attempt) {
    const bool room = impl_->room();
    std::error_code ec;
    // Short of space, an index that does not exist yet is not created for this search.
    if (!acc.db && !room && !std::filesystem::exists(acc.path, ec)) return read_all();
    if (!impl_->ensure_open(acc)) return read_all();
    // Bodies stored before the index existed (or whose indexing failed or was left for want of
    // space): index them now, in one transaction, when there is room.
    bool began = false, written = true;
    for (const auto& b : blobs) {
      if (!room) break;
      if (acc.docs.count(b)) continue;
      auto raw = load(b);
      if (!raw) {
        if (began) {
          acc.db->exec("ROLLBACK");
          impl_->reset(acc); // the map holds rows the rollback removed
        }
        return make_unexpected(raw.error());
      }
      if (!began) {
        if (acc.db->exec("BEGIN") != SQLITE_OK) return read_all();
        began = true;
      }
      if (!insert_doc(acc, b, text_of(*raw, max_indexed_text))) {
        written = false;
        break;
      }
    }
    if (began && (!written || acc.db->exec("COMMIT") != SQLITE_OK)) {
      acc.db->exec("ROLLBACK");
      impl_->reset(acc); // the map holds rows the rollback removed
      return read_all(); // the disk filled while indexing, or the file is damaged
    }

    std::vector<bool> out(blobs.size(), false);
    const bool everything = needle.empty() && q.field != text_field::header;
    std::vector<std::int64_t> rows;
    if (!everything) {
      auto r = matching_rows(acc, q.field, name, needle);
      if (!r) {
        if (r.error() != make_error_code(errc::corrupt)) return read_all(); // busy, I/O
        impl_->reset(acc); // damaged: removed, and rebuilt by this search or a later one
        if (attempt == 0) continue;
        return read_all();
      }
      rows = std::move(*r);
    }
    for (std::size_t i = 0; i < blobs.size(); ++i) {
      auto it = acc.docs.find(blobs[i]);
      if (everything) {
        out[i] = true;
      } else if (it != acc.docs.end() && it->second.second) {
        out[i] = std::binary_search(rows.begin(), rows.end(), it->second.first);
      } else {
        // Too large to index, or not indexed for want of space: read the file.
        auto m = read_and_match(blobs[i]);
        if (!m) return make_unexpected(m.error());
        out[i] = *m;
      }
    }
    return out;
  }
}

expected<std::vector<uid_type>> search_text(mail_store& store, std::string_view account,
                                            std::string_view mailbox, const text_query& q) {
  auto* host = dynamic_cast<detail::text_search_host*>(&store);
  if (!host) return fail(errc::invalid_argument);
  auto canonical = host->canonical_account(account);
  if (!canonical) return make_unexpected(canonical.error());
  auto list = host->message_blobs(*canonical, mailbox);
  if (!list) return make_unexpected(list.error());
  std::vector<std::string> blobs;
  blobs.reserve(list->size());
  for (auto& [uid, blob] : *list)
    blobs.push_back(blob);
  auto hits = host->text().match(*canonical, blobs, q,
                                 [&](const std::string& b) { return host->blob_data(b); });
  if (!hits) return make_unexpected(hits.error());
  std::vector<uid_type> out;
  for (std::size_t i = 0; i < list->size(); ++i)
    if ((*hits)[i]) out.push_back((*list)[i].first);
  return out;
}

} // namespace mailkit::store
