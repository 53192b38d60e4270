// SPDX-License-Identifier: Apache-2.0
// A minimal RAII layer over the SQLite C API for the queue database (one connection).
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/queue/error.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace mailkit::queue::detail {

inline mailkit::error_code sqlite_error(int rc) noexcept {
  switch (rc & 0xff) {
  case SQLITE_FULL:
    return make_error_code(errc::disk_full);
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return make_error_code(errc::corrupt);
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return make_error_code(errc::locked);
  default:
    return make_error_code(errc::io_error);
  }
}

class statement {
public:
  statement() = default;
  statement(sqlite3* db, std::string_view sql) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st_, nullptr);
  }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  statement(statement&& o) noexcept : st_(std::exchange(o.st_, nullptr)), rc_(o.rc_) {}
  statement& operator=(statement&& o) noexcept {
    if (this != &o) {
      sqlite3_finalize(st_);
      st_ = std::exchange(o.st_, nullptr);
      rc_ = o.rc_;
    }
    return *this;
  }
  ~statement() { sqlite3_finalize(st_); }

  [[nodiscard]] bool ok() const noexcept { return st_ != nullptr && rc_ == SQLITE_OK; }
  [[nodiscard]] int prepare_rc() const noexcept { return rc_; }
  statement& reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    return *this;
  }
  statement& bind(int i, std::string_view s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind_blob(int i, std::string_view s) {
    sqlite3_bind_blob(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(st_); }
  [[nodiscard]] std::int64_t int64(int col) const { return sqlite3_column_int64(st_, col); }
  [[nodiscard]] std::string text(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(st_, col));
    const int n = sqlite3_column_bytes(st_, col);
    return p && n > 0 ? std::string(p, static_cast<std::size_t>(n)) : std::string();
  }

private:
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

class database {
public:
  database() = default;
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  ~database() {
    if (db_) sqlite3_close_v2(db_);
  }
  expected<void> open(const std::string& path) {
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return make_unexpected(sqlite_error(rc));
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
    return {};
  }
  expected<void> exec(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return make_unexpected(sqlite_error(rc));
    return {};
  }
  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }

private:
  sqlite3* db_ = nullptr;
};

} // namespace mailkit::queue::detail
