// SPDX-License-Identifier: Apache-2.0
// The store's writer gathers each commit's write-ahead log writes into few large writes (a VFS
// in front of SQLite's own, libmail/store/src/wal_vfs.cpp). These tests drive that VFS
// directly with SQLite: transactions of every size around its limits (the unix VFS's 128 KiB
// write limit, the 1 MiB gathering limit), a transaction larger than the page cache (frames
// written before the commit, read back and rewritten inside it), each commit read at once by
// a connection on SQLite's default VFS, and the whole database checked after reopening
// without the gathering VFS. Then the store through it: large appends seen by its readers.
#include "store_support.hpp"

#include <sqlite3.h>

#include <map>
#include <random>
#include <string>
#include <vector>

using namespace mailkit::store;
using namespace mailkit::store::test;

namespace {

constexpr const char* vfs_name = "mailkit-wal";

struct db {
  sqlite3* h = nullptr;
  db(const std::string& path, const char* vfs) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK);
  }
  db(const db&) = delete;
  db& operator=(const db&) = delete;
  ~db() { sqlite3_close_v2(h); }
  int exec(const std::string& sql) const {
    char* err = nullptr;
    int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
    if (err) {
      ADD_FAILURE() << sql << ": " << err;
      sqlite3_free(err);
    }
    return rc;
  }
  void put(std::int64_t id, const std::string& blob) const {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO t(id, b) VALUES(?, ?)", -1, &st, nullptr),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob64(st, 2, blob.data(), blob.size(), SQLITE_STATIC);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(h);
    sqlite3_finalize(st);
  }
  [[nodiscard]] std::string get(std::int64_t id) const {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, "SELECT b FROM t WHERE id=?", -1, &st, nullptr), SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    std::string out = "<missing>";
    if (sqlite3_step(st) == SQLITE_ROW)
      out.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                 static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
    return out;
  }
  [[nodiscard]] std::string integrity() const {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
    std::string out;
    while (sqlite3_step(st) == SQLITE_ROW)
      out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
};

std::string pattern(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

/// Blobs compared without printing them: sizes and the first difference.
::testing::AssertionResult same(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i])
    ++i;
  return ::testing::AssertionFailure()
         << "got " << got.size() << " bytes, want " << want.size() << ", first difference at " << i;
}

/// The database at `path`, reopened on SQLite's own VFS: intact and holding `expect`.
void expect_intact(const std::string& path, const std::map<std::int64_t, std::string>& expect) {
  db again(path, nullptr);
  EXPECT_EQ(again.integrity(), "ok");
  for (const auto& [k, v] : expect)
    EXPECT_TRUE(same(again.get(k), v)) << "row " << k;
}

/// Registers the VFS the way the store does: by opening one.
void register_vfs(const temp_dir& t) {
  auto s = open_store(t.sub("store"));
  ASSERT_TRUE(s);
  ASSERT_NE(sqlite3_vfs_find(vfs_name), nullptr);
}

} // namespace

TEST(store_wal_vfs, every_commit_size_is_whole_and_visible_at_once) {
  temp_dir t;
  register_vfs(t);
  const std::string path = t.sub("t.db");
  std::map<std::int64_t, std::string> expect;
  {
    db w(path, vfs_name);
    ASSERT_EQ(w.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                     "PRAGMA wal_autocheckpoint=64; CREATE TABLE t(id INTEGER PRIMARY KEY, b)"),
              SQLITE_OK);
    db r(path, nullptr); // SQLite's own VFS, as another process would read
    // Around 4 KiB pages, the unix VFS's 128 KiB limit per write and the 1 MiB gathered.
    const std::vector<std::size_t> sizes = {1,
                                            100,
                                            4095,
                                            4096,
                                            4097,
                                            100 * 1024,
                                            124 << 10,
                                            (128 << 10) - 4096,
                                            (128 << 10) - 1,
                                            128 << 10,
                                            (128 << 10) + 1,
                                            256 << 10,
                                            (256 << 10) + 24,
                                            (1 << 20) - 4096,
                                            1 << 20,
                                            (1 << 20) + 1,
                                            3 << 20};
    std::int64_t id = 0;
    for (std::size_t n : sizes) {
      const std::string b = pattern(n, static_cast<std::uint32_t>(n));
      w.put(++id, b);
      expect[id] = b;
      EXPECT_TRUE(same(r.get(id), b)) << "size " << n;
    }
    // Several rows in one transaction, past the 1 MiB gathering limit.
    ASSERT_EQ(w.exec("BEGIN"), SQLITE_OK);
    for (int k = 0; k < 20; ++k) {
      const std::string b = pattern(70000 + static_cast<std::size_t>(k) * 9001, 1000u + k);
      w.put(++id, b);
      expect[id] = b;
    }
    ASSERT_EQ(w.exec("COMMIT"), SQLITE_OK);
    for (const auto& [k, v] : expect)
      EXPECT_TRUE(same(r.get(k), v)) << "row " << k;
    EXPECT_EQ(r.integrity(), "ok");
  }
  expect_intact(path, expect);
}

// A connection's first gathered run larger than the first buffer (256 KiB): the buffer grows
// before the bytes go in (an early version let the first run pass its end).
TEST(store_wal_vfs, a_first_transaction_larger_than_the_first_buffer) {
  temp_dir t;
  register_vfs(t);
  const std::string path = t.sub("t.db");
  std::map<std::int64_t, std::string> expect;
  {
    // Kept open with a commit in the log, so the log goes on (a new log would start with a
    // header that is synced alone, before the frames gather).
    db setup(path, nullptr);
    ASSERT_EQ(setup.exec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; "
                         "CREATE TABLE t(id INTEGER PRIMARY KEY, b)"),
              SQLITE_OK);
    setup.put(1000, "x");
    expect[1000] = "x";
    std::int64_t id = 0;
    for (std::size_t n : {(256u << 10) + 1, 600u << 10, (1u << 20) - 8192, 2u << 20}) {
      db w(path, vfs_name); // a fresh connection: its first gathered run holds this row
      ASSERT_EQ(w.exec("PRAGMA synchronous=FULL"), SQLITE_OK);
      const std::string b = pattern(n, static_cast<std::uint32_t>(n) + 7);
      w.put(++id, b);
      expect[id] = b;
      EXPECT_TRUE(same(setup.get(id), b)) << "size " << n;
    }
  }
  expect_intact(path, expect);
}

TEST(store_wal_vfs, a_transaction_larger_than_the_cache_rewrites_its_own_frames) {
  temp_dir t;
  register_vfs(t);
  const std::string path = t.sub("t.db");
  std::map<std::int64_t, std::string> expect;
  {
    db w(path, vfs_name);
    // A 16-page cache: the transaction spills pages into the log before its commit, reads
    // them back and writes some of them again (SQLite overwrites its own uncommitted frames).
    ASSERT_EQ(w.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=16; "
                     "CREATE TABLE t(id INTEGER PRIMARY KEY, b)"),
              SQLITE_OK);
    db r(path, nullptr);
    ASSERT_EQ(w.exec("BEGIN"), SQLITE_OK);
    for (int k = 1; k <= 400; ++k) {
      const std::string b = pattern(3000 + static_cast<std::size_t>(k % 7) * 1500, k);
      w.put(k, b);
      expect[k] = b;
    }
    for (int k = 1; k <= 400; k += 3) { // rewrite rows whose pages were spilled
      const std::string b = pattern(2000, 5000u + k);
      w.put(k, b);
      expect[k] = b;
    }
    EXPECT_TRUE(same(w.get(1), expect[1])); // read inside the transaction
    EXPECT_EQ(r.get(1), "<missing>");       // nothing visible before the commit
    ASSERT_EQ(w.exec("COMMIT"), SQLITE_OK);
    for (const auto& [k, v] : expect)
      ASSERT_TRUE(same(r.get(k), v)) << "row " << k;
    // A rollback after spilling leaves nothing behind.
    ASSERT_EQ(w.exec("BEGIN"), SQLITE_OK);
    for (int k = 1000; k < 1300; ++k)
      w.put(k, pattern(4000, k));
    ASSERT_EQ(w.exec("ROLLBACK"), SQLITE_OK);
    EXPECT_EQ(r.get(1000), "<missing>");
    ASSERT_EQ(w.exec("PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
  }
  expect_intact(path, expect);
  EXPECT_EQ(db(path, nullptr).get(1000), "<missing>");
}

TEST(store_wal_vfs, large_appends_reach_the_stores_readers) {
  temp_dir t;
  auto s = open_store(t.sub("store"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->add_domain("example.com"));
  ASSERT_TRUE(s->add_account("bob@example.com", "pw"));
  // Bodies inside the database around 128 KiB (open_options::inline_body_max) and above it.
  for (std::size_t n : {std::size_t{100} << 10, std::size_t{124} << 10, std::size_t{127} << 10,
                        std::size_t{200} << 10}) {
    const std::string m = sample_message(static_cast<int>(n), std::string(n, 'x') + "\r\n");
    auto r = s->append("bob@example.com", "INBOX", m, {}, 1700000000);
    ASSERT_TRUE(r) << r.error().message();
    auto body = s->fetch("bob@example.com", "INBOX", r->uid);
    ASSERT_TRUE(body);
    EXPECT_TRUE(same(*body, m));
  }
  auto problems = s->check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty());
}
