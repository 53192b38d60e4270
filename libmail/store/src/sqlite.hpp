// SPDX-License-Identifier: Apache-2.0
// A thin RAII layer over SQLite for the embedded store (not installed).
#pragma once

#include <mailkit/store/error.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mailkit::store::detail {

/// An SQLite result code as a store error.
inline error_code from_sqlite(int rc) noexcept {
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return make_error_code(errc::busy);
  case SQLITE_FULL:
    return make_error_code(errc::disk_full);
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return make_error_code(errc::corrupt);
  case SQLITE_CANTOPEN:
  case SQLITE_READONLY:
  case SQLITE_PERM:
  case SQLITE_AUTH:
    return make_error_code(errc::permission_denied);
  case SQLITE_CONSTRAINT:
    return make_error_code(errc::already_exists);
  case SQLITE_NOMEM:
    return make_error_code(mailkit::errc::resource_exhausted);
  default:
    return make_error_code(errc::io_error);
  }
}

/// One connection with its cache of prepared statements. Used by one thread at a time.
class connection {
public:
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    for (auto& [sql, st] : cache_)
      sqlite3_finalize(st);
    if (db_) sqlite3_close_v2(db_);
  }
  /// `vfs`: an SQLite VFS by name (nullptr: the default).
  int open(const std::string& path, bool read_only, const char* vfs = nullptr) {
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX; // one thread at a time, guarded by the store
    return sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  }
  [[nodiscard]] sqlite3* get() const noexcept { return db_; }
  int exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  /// Map the database file (up to 256 MiB) or read it page by page (pread into the cache).
  /// In WAL mode SQLite drops a reader's mapping whenever another connection has committed
  /// since its last read, so a mapping pays off only for reads of many pages.
  int map(bool on) {
    if (on == mapped_) return SQLITE_OK;
    int rc = exec(on ? "PRAGMA mmap_size=268435456" : "PRAGMA mmap_size=0");
    if (rc == SQLITE_OK) mapped_ = on;
    return rc;
  }
  [[nodiscard]] bool mapped() const noexcept { return mapped_; }
  /// A cached prepared statement for this SQL text (which must be a string literal).
  sqlite3_stmt* prepare(const char* sql, int* rc) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      *rc = SQLITE_OK;
      return it->second;
    }
    sqlite3_stmt* st = nullptr;
    *rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (*rc != SQLITE_OK) return nullptr;
    cache_.emplace(sql, st);
    return st;
  }

private:
  sqlite3* db_ = nullptr;
  bool mapped_ = false;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

/// A bound statement; resets itself when it goes out of scope.
class statement {
public:
  statement(connection& c, const char* sql) { st_ = c.prepare(sql, &rc_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() {
    if (st_) {
      sqlite3_reset(st_);
      sqlite3_clear_bindings(st_);
    }
  }
  [[nodiscard]] bool ok() const noexcept { return st_ != nullptr; }
  [[nodiscard]] int prepare_rc() const noexcept { return rc_; }
  statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  statement& bind(int i, std::string_view v) {
    // An empty view may have a null data(): SQLite would bind NULL, not ''.
    sqlite3_bind_text(st_, i, v.data() ? v.data() : "", static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(st_, i, v.data() ? v.data() : "", static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  /// Binds without a copy: `v` must outlive this statement's step() calls.
  statement& bind_blob_static(int i, std::string_view v) {
    sqlite3_bind_blob64(st_, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC);
    return *this;
  }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return st_ ? sqlite3_step(st_) : rc_; }
  std::int64_t i64(int col) { return sqlite3_column_int64(st_, col); }
  std::string_view text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
             : std::string_view{};
  }
  std::string_view blob(int col) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(st_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
             : std::string_view{};
  }
  bool is_null(int col) { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

private:
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_OK;
};

} // namespace mailkit::store::detail
