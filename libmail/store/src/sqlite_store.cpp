// SPDX-License-Identifier: Apache-2.0
// The embedded store: SQLite (WAL, synchronous=FULL) for metadata and the bodies of small
// messages, the file blob store for larger bodies. See store.hpp for the guarantees; the
// comments here say how they are kept.
#include "body_arena.hpp"
#include "internal.hpp"
#include "sqlite.hpp"
#include "wal_vfs.hpp"

#include <mailkit/core/thread_name.hpp>
#include <mailkit/mime/message.hpp>
#include <mailkit/store/mailbox_name.hpp>
#include <mailkit/store/store.hpp>
#include <mailkit/store/text_index.hpp>

#include <fcntl.h>
#include <sodium.h>

#include <mutex>
#include <sys/file.h>
#include <unistd.h>
#include <unordered_map>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <set>
#include <shared_mutex>
#include <thread>

// Return the error of an expected<T> expression, else continue.
#define MAILKIT_STORE_TRY(expr)                                                                    \
  do {                                                                                             \
    if (auto mailkit_store_r_ = (expr); !mailkit_store_r_)                                         \
      return ::mailkit::make_unexpected(mailkit_store_r_.error());                                 \
  } while (0)

namespace mailkit::store {

namespace detail {
expected<std::size_t> clean_blob_tmp(blob_store& b);
}

namespace {

using detail::connection;
using detail::from_sqlite;
using detail::statement;
using detail::wal_coalescing_vfs;

tl::unexpected<error_code> sql_fail(int rc) {
  return tl::unexpected<error_code>(from_sqlite(rc));
}

// Schema migrations, applied in order; each runs in one transaction and is recorded in
// schema_migrations. Never edit a released migration: append a new one.
constexpr const char* migrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE domains(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE accounts(
  id INTEGER PRIMARY KEY,
  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  address TEXT NOT NULL UNIQUE,
  password TEXT NOT NULL,
  quota_bytes INTEGER NOT NULL DEFAULT 0,
  quota_messages INTEGER NOT NULL DEFAULT 0,
  used_bytes INTEGER NOT NULL DEFAULT 0,
  used_messages INTEGER NOT NULL DEFAULT 0);
CREATE INDEX accounts_domain ON accounts(domain_id);
CREATE TABLE aliases(
  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  PRIMARY KEY(source, target)) WITHOUT ROWID;
CREATE INDEX aliases_domain ON aliases(domain_id);
CREATE TABLE mailboxes(
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  special_use TEXT NOT NULL DEFAULT '',
  subscribed INTEGER NOT NULL DEFAULT 0,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL DEFAULT 1,
  highestmodseq INTEGER NOT NULL DEFAULT 0,
  UNIQUE(account_id, name));
CREATE TABLE messages(
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  sysflags INTEGER NOT NULL DEFAULT 0,
  keywords TEXT NOT NULL DEFAULT '',
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  blob TEXT NOT NULL,
  content_hash BLOB NOT NULL,
  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;
CREATE INDEX messages_hash ON messages(mailbox_id, content_hash);
CREATE INDEX messages_blob ON messages(blob);
CREATE TABLE structures(blob TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE expunged(
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;
)sql",
    // 2: RFC 7162 §3.1: a mod-sequence is a positive number and every change gets a larger one;
    // a mailbox starts at HIGHESTMODSEQ 1 (a never-changed one was reported as 1), so that its
    // first change (2) is above what a client saw. RFC 9051 §6.3.7: subscriptions are names
    // kept apart from mailboxes (one may name a mailbox that does not exist; DELETE keeps it);
    // mailboxes.subscribed is no longer read or written.
    R"sql(
UPDATE mailboxes SET highestmodseq=1 WHERE highestmodseq=0;
CREATE TABLE subscriptions(
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  PRIMARY KEY(account_id, name)) WITHOUT ROWID;
INSERT INTO subscriptions(account_id, name) SELECT account_id, name FROM mailboxes
  WHERE subscribed != 0;
)sql",
    // 3: bodies up to open_options::inline_body_max inside the database, written in the
    // transaction of their message row; messages.blob names them "i" + 32 hex digits.
    R"sql(
CREATE TABLE bodies(id INTEGER PRIMARY KEY, blob TEXT NOT NULL UNIQUE, data BLOB NOT NULL);
)sql",
};
static_assert(std::size(migrations) == schema_version);

constexpr std::pair<std::string_view, std::string_view> special_mailboxes[] = {
    // RFC 6154 §2: special-use attributes; INBOX is special by name (RFC 3501 §5.1).
    {"INBOX", ""},      {"Sent", "\\Sent"},   {"Drafts", "\\Drafts"},
    {"Junk", "\\Junk"}, {"Trash", "\\Trash"}, {"Archive", "\\Archive"},
};

// A body kept inside the database: "i" and 32 hex digits (files are 32 hex digits).
bool inline_id(std::string_view id) noexcept {
  return id.size() == 33 && id[0] == 'i';
}

std::string new_inline_id() {
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  std::string id(33, 'i');
  sodium_bin2hex(id.data() + 1, 33, raw, sizeof raw); // 32 digits and the terminator
  return id;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return out;
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 255 || d.front() == '.' || d.back() == '.' ||
      d.find("..") != std::string_view::npos)
    return false;
  for (unsigned char c : d) {
    // Letters, digits, hyphen, dot; UTF-8 bytes for internationalized domains (RFC 6531).
    if (!(std::isalnum(c) || c == '-' || c == '.' || c >= 0x80)) return false;
  }
  return true;
}

// Normalize "Local@Domain" to lower case and check it. `allow_wildcard` admits "*@domain".
expected<std::string> normalize_address(std::string_view a, bool allow_wildcard = false) {
  if (a.size() > max_address_length) return fail(errc::invalid_address);
  auto at = a.rfind('@');
  if (at == std::string_view::npos || at == 0) return fail(errc::invalid_address);
  auto local = a.substr(0, at);
  auto domain = a.substr(at + 1);
  // RFC 5321 §4.5.3.1.1: the local part is at most 64 octets.
  if (local.size() > 64 || !valid_domain(domain)) return fail(errc::invalid_address);
  if (local == "*")
    return allow_wildcard ? expected<std::string>("*@" + lower(domain))
                          : fail(errc::invalid_address);
  for (unsigned char c : local)
    if (c <= 0x20 || c == 0x7f || c == '@' || c == '<' || c == '>' || c == ',' || c == '"' ||
        c == '\\')
      return fail(errc::invalid_address);
  return lower(a);
}

std::string_view domain_of(std::string_view addr) {
  return addr.substr(addr.rfind('@') + 1);
}

bool valid_flags(const flag_set& f) {
  if (f.keywords.size() > max_keywords_per_message || f.system > 31) return false;
  for (const auto& k : f.keywords) {
    flag_set probe;
    if (k.empty() || k.front() == '\\' || !probe.add(k)) return false;
  }
  return true;
}

std::string content_hash(std::string_view data) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     nullptr, 0);
  return std::string(reinterpret_cast<const char*>(h), sizeof h);
}

struct mailbox_row {
  std::int64_t id = 0;
  std::int64_t account_id = 0;
  std::uint32_t uidvalidity = 0;
  uid_type uidnext = 1;
  modseq_type highestmodseq = 0;
};

struct account_row {
  std::int64_t id = 0;
  quota limit;
  std::uint64_t used_bytes = 0, used_messages = 0;
};

class sqlite_store final : public mail_store, public detail::text_search_host {
public:
  explicit sqlite_store(open_options o) : opt_(std::move(o)) {}
  ~sqlite_store() override {
    stop_text_worker();
    stop_checkpointer();
    readers_.clear();
    writer_.reset();
    arena_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  expected<void> init() {
    if (sodium_init() < 0) return fail(errc::io_error);
    if (!opt_.clock) opt_.clock = [] { return static_cast<std::int64_t>(::time(nullptr)); };
    if (opt_.read_connections == 0) opt_.read_connections = 1;
    MAILKIT_STORE_TRY(opt_.files->mkdir(opt_.path).map_error(detail::from_system));
    // One process owns the directory: the lock dies with the process (also on SIGKILL).
    lock_fd_ = ::open((opt_.path + "/store.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return tl::unexpected<error_code>(detail::from_errno(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
      return fail(errno == EWOULDBLOCK ? errc::store_locked : errc::io_error);

    auto blobs = open_file_blob_store(opt_.path + "/blobs", opt_.files);
    if (!blobs) return make_unexpected(blobs.error());
    files_ = std::move(*blobs);
    text_ = std::make_unique<text_index>(opt_.path + "/text", opt_.text_index_min_free);

    db_path_ = opt_.path + "/store.db";
    writer_ = std::make_unique<connection>();
    // The writer's log writes gathered per commit (wal_vfs.hpp; configure() sets
    // synchronous=FULL, which that needs).
    if (int rc = writer_->open(db_path_, false, wal_coalescing_vfs()); rc != SQLITE_OK)
      return sql_fail(rc);
    MAILKIT_STORE_TRY(configure(*writer_, false));
    MAILKIT_STORE_TRY(migrate());
    MAILKIT_STORE_TRY(open_arena());
    for (std::size_t i = 0; i < opt_.read_connections; ++i) {
      auto c = std::make_unique<connection>();
      if (int rc = c->open(db_path_, true); rc != SQLITE_OK) return sql_fail(rc);
      MAILKIT_STORE_TRY(configure(*c, true));
      free_readers_.push_back(c.get());
      readers_.push_back(std::move(c));
    }
    if (opt_.recover) {
      auto r = recover();
      if (!r) return make_unexpected(r.error());
    }
    if (opt_.checkpoint_pages > 0) MAILKIT_STORE_TRY(start_checkpointer());
    text_worker_ = std::thread([this] {
      name_this_thread("mk-text-index");
      text_loop();
    });
    return {};
  }

  // ---- text index upkeep -------------------------------------------------------------------
  // Indexing an appended message and dropping the rows of expunged bodies are SQLite writes of
  // their own (tens of pages, and now and then a checkpoint with its flushes): a thread does
  // them after the append or expunge has returned, so an IMAP APPEND or EXPUNGE does not wait.
  // The index is a cache (text_index.hpp): what is not indexed yet is indexed by the search
  // that meets it, and text() lets queued work finish first.

  struct text_job {
    std::string account;
    std::string add;                 ///< a body to index, or
    std::vector<std::string> forget; ///< bodies whose rows go
  };
  static constexpr std::size_t max_text_jobs = 4096;

  void queue_text(text_job j) {
    if (j.add.empty() && j.forget.empty()) return;
    {
      std::lock_guard lock(text_mu_);
      if (!text_stop_ && text_jobs_.size() < max_text_jobs) {
        text_jobs_.push_back(std::move(j));
        text_cv_.notify_one();
        return;
      }
    }
    // Full (or stopping): an add is left to the lazy path; rows to drop go now.
    if (!j.forget.empty()) (void)text_->forget(j.account, j.forget);
  }

  void text_loop() {
    std::unique_lock lock(text_mu_);
    for (;;) {
      text_cv_.wait(lock, [&] { return text_stop_ || !text_jobs_.empty(); });
      if (text_stop_) return; // what is left is indexed lazily
      auto j = std::move(text_jobs_.front());
      text_jobs_.pop_front();
      text_busy_ = true;
      lock.unlock();
      if (!j.add.empty()) {
        // The body may be gone already (expunged): nothing to index then. Short of space,
        // add() declines and the body is left to the first search that meets it.
        if (auto data = bodies_.get(j.add)) {
          // The body moves into the parsed message (mime::parse(std::string) adopts it).
          if (auto parsed = mime::parse(std::move(*data)))
            (void)text_->add(j.account, j.add, *parsed);
        }
      } else {
        (void)text_->forget(j.account, j.forget);
      }
      lock.lock();
      text_busy_ = false;
      if (text_jobs_.empty()) text_idle_.notify_all();
    }
  }

  /// Wait until the queued index work is done.
  void drain_text() {
    std::unique_lock lock(text_mu_);
    text_idle_.wait(lock, [&] { return text_stop_ || (text_jobs_.empty() && !text_busy_); });
  }

  void stop_text_worker() {
    if (!text_worker_.joinable()) return;
    {
      std::lock_guard lock(text_mu_);
      text_stop_ = true;
    }
    text_cv_.notify_all();
    text_idle_.notify_all();
    text_worker_.join();
  }

  // ---- WAL checkpoints ---------------------------------------------------------------------
  // SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold: the
  // append that happens to commit then copies the whole WAL into the database and flushes it
  // before it returns (before the SMTP 250 it waits for). Here the commit only notes the WAL's
  // size; a thread with its own connection runs PASSIVE checkpoints (never blocking writers or
  // readers). If it falls far behind, the committing thread checkpoints as SQLite would.

  expected<void> start_checkpointer() {
    checkpoint_db_ = std::make_unique<connection>();
    if (int rc = checkpoint_db_->open(db_path_, false, wal_coalescing_vfs()); rc != SQLITE_OK)
      return sql_fail(rc);
    MAILKIT_STORE_TRY(configure(*checkpoint_db_, false));
    if (int rc = writer_->exec("PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;");
        rc != SQLITE_OK)
      return sql_fail(rc);
    sqlite3_wal_hook(writer_->get(), &sqlite_store::on_wal_commit, this);
    checkpointer_ = std::thread([this] {
      name_this_thread("mk-checkpoint");
      checkpoint_loop();
    });
    return {};
  }

  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages) {
    auto* s = static_cast<sqlite_store*>(self);
    const auto n = static_cast<std::size_t>(pages);
    const std::size_t cp = s->opt_.checkpoint_pages;
    std::size_t done = s->wal_backfilled_.load(std::memory_order_relaxed);
    // Every commit adds frames: a log no longer than at the last commit started again from its
    // beginning since, and nothing of it is copied yet.
    if (done > n || n <= s->wal_frames_) {
      done = 0;
      s->wal_backfilled_.store(0, std::memory_order_relaxed);
    }
    s->wal_frames_ = n;
    // The log starts again from its beginning only at a transaction that finds it entirely
    // copied into the database, which a checkpoint on another thread seldom leaves while
    // commits keep coming (each adds frames during its run). So the checkpointer copies the
    // bulk, and the commit that finds it close behind (cp / 16 frames) copies the rest here,
    // under the writer lock: no commit can come between, and the next transaction restarts
    // the log. Far behind (readers holding old snapshots, a slow disk), this thread does it
    // all, as SQLite would. (Runs of cp / 8 frames instead of cp, measured: the same mean
    // commit time, the 99th percentile lower, the 90th higher.)
    if (n >= 8 * cp || (n >= cp && n - done <= cp / 16)) {
      s->checkpoint(db, name, false);
    } else if (n >= cp) {
      bool wake = false;
      {
        std::lock_guard lock(s->checkpoint_mu_);
        // One run at a time, asked for by the first commit that finds the checkpointer idle:
        // not a run for every commit while the log is over the threshold.
        if (!s->checkpoint_busy_ && !s->checkpoint_wanted_) wake = s->checkpoint_wanted_ = true;
      }
      if (wake) s->checkpoint_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  /// A PASSIVE checkpoint on `db`, noting how many frames of the log it copied. Failures
  /// (SQLITE_BUSY while another checkpoint runs) are retried after a later commit.
  /// `flush`: flush the database file after copying. SQLite flushes it only when, at the end
  /// of its run, the checkpoint has reached the log's end, which under steady commits (each
  /// adding frames during the run) it seldom has: the whole run's copies (megabytes) were
  /// left to the flush of the commit that finishes the log, measured at 6-27 ms inside that
  /// commit, whose 250 waited for it. The checkpointer thread flushes them itself, before
  /// the commits learn of its progress.
  void checkpoint(sqlite3* db, const char* name, bool flush) {
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) !=
            SQLITE_OK ||
        copied <= 0)
      return;
    if (flush) {
      sqlite3_file* f = nullptr;
      if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f &&
          f->pMethods && f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) != SQLITE_OK)
        return; // not flushed: the commit that finishes the log flushes it (SQLite's way)
    }
    wal_backfilled_.store(static_cast<std::size_t>(copied), std::memory_order_relaxed);
  }

  void checkpoint_loop() {
    std::unique_lock lock(checkpoint_mu_);
    for (;;) {
      checkpoint_cv_.wait(lock, [&] { return checkpoint_stop_ || checkpoint_wanted_; });
      if (checkpoint_stop_) return;
      checkpoint_wanted_ = false;
      checkpoint_busy_ = true;
      lock.unlock();
      checkpoint(checkpoint_db_->get(), nullptr, true);
      lock.lock();
      checkpoint_busy_ = false;
    }
  }

  void stop_checkpointer() {
    if (!checkpointer_.joinable()) return;
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_cv_.notify_one();
    checkpointer_.join();
    sqlite3_wal_hook(writer_->get(), nullptr, nullptr);
    checkpoint_db_.reset();
  }

  // ---- directory ---------------------------------------------------------------------------

  expected<void> add_domain(std::string_view domain) override {
    if (!valid_domain(domain)) return fail(errc::invalid_address);
    return directory_write([&](connection& c) -> expected<void> {
      statement st(c, "INSERT INTO domains(name) VALUES(?)");
      st.bind(1, lower(domain));
      if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
      return {};
    });
  }

  expected<void> remove_domain(std::string_view domain, bool cascade) override {
    auto d = lower(domain);
    std::vector<std::string> blobs, addresses;
    auto r = directory_write([&](connection& c) -> expected<void> {
      auto id = domain_id(c, d);
      if (!id) return make_unexpected(id.error());
      statement n(c, "SELECT count(*) FROM accounts WHERE domain_id=?");
      n.bind(1, *id);
      if (n.step() != SQLITE_ROW) return fail(errc::io_error);
      if (n.i64(0) > 0 && !cascade) return fail(errc::cannot_delete);
      statement a(c, "SELECT address FROM accounts WHERE domain_id=?");
      a.bind(1, *id);
      while (a.step() == SQLITE_ROW)
        addresses.emplace_back(a.text(0));
      statement b(c, "SELECT DISTINCT m.blob FROM messages m JOIN mailboxes x ON "
                     "m.mailbox_id=x.id JOIN accounts a ON x.account_id=a.id WHERE "
                     "a.domain_id=?");
      b.bind(1, *id);
      int rc;
      while ((rc = b.step()) == SQLITE_ROW)
        blobs.emplace_back(b.text(0));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      statement del(c, "DELETE FROM domains WHERE id=?");
      del.bind(1, *id);
      if (rc = del.step(); rc != SQLITE_DONE) return sql_fail(rc);
      return {};
    });
    if (r) {
      drop_unreferenced(blobs);
      drain_text(); // no queued index work may recreate a dropped index
      for (const auto& a : addresses)
        text_->drop_account(a); // the accounts' text indexes (text_index.hpp)
    }
    return r;
  }

  expected<std::vector<std::string>> domains() override {
    return read([&](connection& c) -> expected<std::vector<std::string>> {
      std::vector<std::string> out;
      statement st(c, "SELECT name FROM domains ORDER BY name");
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.emplace_back(st.text(0));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  expected<void> add_account(std::string_view address, std::string_view password,
                             quota q) override {
    auto h = hash_password(password, opt_.passwords);
    if (!h) return make_unexpected(h.error());
    return add_account_with_hash_impl(address, *h, q);
  }

  expected<void> add_account_with_hash(std::string_view address, std::string_view stored,
                                       quota q) override {
    if (auto p = parse_password_hash(stored); !p) return make_unexpected(p.error());
    return add_account_with_hash_impl(address, stored, q);
  }

  expected<void> remove_account(std::string_view address) override {
    auto a = normalize_address(address);
    if (!a) return make_unexpected(a.error());
    std::vector<std::string> blobs;
    auto r = directory_write([&](connection& c) -> expected<void> {
      auto acc = account_row_of(c, *a);
      if (!acc) return make_unexpected(acc.error());
      statement b(c, "SELECT DISTINCT m.blob FROM messages m JOIN mailboxes x ON "
                     "m.mailbox_id=x.id WHERE x.account_id=?");
      b.bind(1, acc->id);
      int rc;
      while ((rc = b.step()) == SQLITE_ROW)
        blobs.emplace_back(b.text(0));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      statement del(c, "DELETE FROM accounts WHERE id=?");
      del.bind(1, acc->id);
      if (rc = del.step(); rc != SQLITE_DONE) return sql_fail(rc);
      return {};
    });
    if (r) {
      drop_unreferenced(blobs);
      drain_text(); // no queued index work may recreate the dropped index
      text_->drop_account(*a);
    }
    return r;
  }

  expected<std::vector<account_info>> accounts(std::string_view domain) override {
    auto d = lower(domain);
    return read([&](connection& c) -> expected<std::vector<account_info>> {
      std::vector<account_info> out;
      statement st(c, "SELECT a.address, a.quota_bytes, a.quota_messages, a.used_bytes, "
                      "a.used_messages FROM accounts a JOIN domains d ON a.domain_id=d.id "
                      "WHERE ?1='' OR d.name=?1 ORDER BY a.address");
      st.bind(1, d);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) {
        account_info i;
        i.address = st.text(0);
        i.limit.bytes = static_cast<std::uint64_t>(st.i64(1));
        i.limit.messages = static_cast<std::uint64_t>(st.i64(2));
        i.used_bytes = static_cast<std::uint64_t>(st.i64(3));
        i.used_messages = static_cast<std::uint64_t>(st.i64(4));
        out.push_back(std::move(i));
      }
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  expected<account_info> account(std::string_view address) override {
    auto a = normalize_address(address);
    if (!a) return make_unexpected(a.error());
    return read([&](connection& c) -> expected<account_info> {
      auto row = account_row_of(c, *a);
      if (!row) return make_unexpected(row.error());
      return account_info{*a, row->limit, row->used_bytes, row->used_messages};
    });
  }

  expected<void> set_password(std::string_view address, std::string_view password) override {
    auto a = normalize_address(address);
    if (!a) return make_unexpected(a.error());
    auto h = hash_password(password, opt_.passwords);
    if (!h) return make_unexpected(h.error());
    return write([&](connection& c) { return update_password(c, *a, *h); });
  }

  expected<quota> account_quota(std::string_view address) override {
    auto a = normalize_address(address);
    if (!a) return make_unexpected(a.error());
    return directory_cached(quotas_, *a, [&] {
      return read([&](connection& c) -> expected<quota> {
        auto row = account_row_of(c, *a);
        if (!row) return make_unexpected(row.error());
        return row->limit;
      });
    });
  }

  expected<void> set_quota(std::string_view address, quota q) override {
    auto a = normalize_address(address);
    if (!a) return make_unexpected(a.error());
    return directory_write([&](connection& c) -> expected<void> {
      statement st(c, "UPDATE accounts SET quota_bytes=?, quota_messages=? WHERE address=?");
      st.bind(1, static_cast<std::int64_t>(q.bytes))
          .bind(2, static_cast<std::int64_t>(q.messages))
          .bind(3, *a);
      if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
      if (sqlite3_changes(c.get()) == 0) return fail(errc::no_such_account);
      return {};
    });
  }

  expected<auth_result> authenticate(std::string_view address, std::string_view password) override {
    auto a = normalize_address(address);
    std::optional<std::string> stored;
    if (a) {
      auto r = password_hash(*a);
      if (!r) return make_unexpected(r.error());
      stored = std::move(*r);
    }
    if (!stored) {
      // Same work as a real check, so timing does not reveal whether the account exists. The
      // dummy hash is made at the first such login, not at open (an Argon2id hash costs about
      // 0.1 s, which every CLI command and test would otherwise pay).
      std::call_once(dummy_once_, [&] {
        if (auto d = hash_password("mailkit-no-such-account", opt_.passwords)) dummy_hash_ = *d;
      });
      if (!dummy_hash_.empty()) (void)verify_password(password, dummy_hash_, opt_.passwords);
      return auth_result{};
    }
    auto v = verify_password(password, *stored, opt_.passwords);
    if (!v) {
      // A refused scheme in the database cannot verify anything: not an operational failure
      // of this login, and the operator sees it in `mailkit user list`.
      if (v.error() == make_error_code(errc::unsupported_scheme) ||
          v.error() == make_error_code(errc::invalid_argument))
        return auth_result{};
      return make_unexpected(v.error());
    }
    auth_result res{v->ok, false, {}};
    if (v->ok) res.verified_hash = *stored;
    if (v->ok && v->needs_rehash) {
      auto h = hash_password(password, opt_.passwords);
      if (h) {
        auto w = write([&](connection& c) { return update_password(c, *a, *h); });
        res.rehashed = w.has_value();
        if (res.rehashed) res.verified_hash = std::move(*h);
      }
    }
    return res;
  }

  expected<std::optional<std::string>> password_hash(std::string_view address) override {
    auto a = normalize_address(address);
    if (!a) return std::optional<std::string>();
    return read([&](connection& c) -> expected<std::optional<std::string>> {
      statement st(c, "SELECT password FROM accounts WHERE address=?");
      st.bind(1, *a);
      int rc = st.step();
      if (rc == SQLITE_ROW) return std::optional<std::string>(std::string(st.text(0)));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return std::optional<std::string>();
    });
  }

  expected<void> add_alias(std::string_view source, std::span<const std::string> targets) override {
    auto s = normalize_address(source, true);
    if (!s) return make_unexpected(s.error());
    if (targets.empty() || targets.size() > max_alias_targets) return fail(errc::limit_exceeded);
    std::vector<std::string> norm;
    for (const auto& t : targets) {
      auto n = normalize_address(t);
      if (!n) return make_unexpected(n.error());
      norm.push_back(std::move(*n));
    }
    return directory_write([&](connection& c) -> expected<void> {
      auto d = domain_id(c, std::string(domain_of(*s)));
      if (!d) return make_unexpected(d.error());
      statement cnt(c, "SELECT count(*) FROM aliases WHERE source=?");
      cnt.bind(1, *s);
      if (cnt.step() != SQLITE_ROW) return fail(errc::io_error);
      if (static_cast<std::size_t>(cnt.i64(0)) + norm.size() > max_alias_targets)
        return fail(errc::limit_exceeded);
      for (const auto& t : norm) {
        statement st(c, "INSERT OR IGNORE INTO aliases(domain_id, source, target) VALUES(?,?,?)");
        st.bind(1, *d).bind(2, *s).bind(3, t);
        if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
      }
      return {};
    });
  }

  expected<void> remove_alias(std::string_view source, std::string_view target) override {
    auto s = normalize_address(source, true);
    if (!s) return make_unexpected(s.error());
    std::string t;
    if (!target.empty()) {
      auto n = normalize_address(target);
      if (!n) return make_unexpected(n.error());
      t = *n;
    }
    return directory_write([&](connection& c) -> expected<void> {
      statement st(c, "DELETE FROM aliases WHERE source=?1 AND (?2='' OR target=?2)");
      st.bind(1, *s).bind(2, t);
      if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
      if (sqlite3_changes(c.get()) == 0) return fail(errc::no_such_account);
      return {};
    });
  }

  expected<std::vector<std::pair<std::string, std::string>>>
  aliases(std::string_view domain) override {
    auto d = lower(domain);
    return read([&](connection& c) -> expected<std::vector<std::pair<std::string, std::string>>> {
      std::vector<std::pair<std::string, std::string>> out;
      statement st(c, "SELECT a.source, a.target FROM aliases a JOIN domains d ON "
                      "a.domain_id=d.id WHERE ?1='' OR d.name=?1 ORDER BY 1, 2");
      st.bind(1, d);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.emplace_back(std::string(st.text(0)), std::string(st.text(1)));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  expected<resolution> resolve_recipient(std::string_view address) override {
    auto a = normalize_address(address);
    if (!a) return make_unexpected(a.error());
    return directory_cached(resolved_, *a, [&] { return resolve_uncached(*a); });
  }

  /// `cache[key]`, or `compute()` kept there when it succeeds (cleared when full).
  template <class V, class F>
  expected<V> directory_cached(std::unordered_map<std::string, V>& cache, const std::string& key,
                               F&& compute) {
    std::uint64_t version = 0;
    {
      std::lock_guard lock(resolved_mu_);
      if (auto it = cache.find(key); it != cache.end()) return it->second;
      version = directory_version_;
    }
    expected<V> r = std::forward<F>(compute)();
    if (r) {
      std::lock_guard lock(resolved_mu_);
      // Not an answer read before a directory change that has cleared the cache since.
      if (version == directory_version_) {
        if (cache.size() >= max_resolved) cache.clear();
        cache.emplace(key, *r);
      }
    }
    return r;
  }

  // Recipient resolutions and quota limits are kept in memory while the directory is
  // unchanged (an SMTP RCPT would otherwise re-read the pages of domains, accounts and
  // aliases after every delivery's commit: about 45 us on the session's thread). One process
  // owns the store (store.lock), and every change of domains, accounts, aliases or quotas is
  // a directory_write(), which clears them after its commit.
  template <class F>
  expected<void> directory_write(F&& fn) {
    auto r = write(std::forward<F>(fn));
    std::lock_guard lock(resolved_mu_);
    ++directory_version_;
    resolved_.clear();
    quotas_.clear();
    return r;
  }

  expected<resolution> resolve_uncached(const std::string& a) {
    return read([&](connection& c) -> expected<resolution> {
      resolution res;
      auto dom = std::string(domain_of(a));
      if (!is_local_domain(c, dom)) {
        res.outcome = resolution::status::not_local;
        res.targets.push_back({delivery_target::kind::external, a, ""});
        return res;
      }
      auto local = a.substr(0, a.rfind('@'));
      std::string tag;
      std::string base = a;
      // RFC 5233 §2: "user+detail"; a leading separator is not a subaddress.
      if (opt_.subaddressing) {
        auto sep = local.find(opt_.subaddress_separator);
        if (sep != std::string::npos && sep > 0) {
          tag = local.substr(sep + 1);
          base = local.substr(0, sep) + "@" + dom;
        }
      }
      std::set<std::string> seen;
      // An alias on the full "user+tag@" wins over the base address.
      bool matched = false;
      if (!tag.empty() && has_alias(c, a)) {
        auto r = expand(c, a, "", 0, seen, res.targets, matched);
        if (!r) return make_unexpected(r.error());
      }
      if (!matched) {
        auto r = expand(c, base, tag, 0, seen, res.targets, matched);
        if (!r) return make_unexpected(r.error());
      }
      res.outcome =
          res.targets.empty() ? resolution::status::no_such_user : resolution::status::local;
      return res;
    });
  }

  // ---- mailboxes ---------------------------------------------------------------------------

  expected<void> create_mailbox(std::string_view account, std::string_view name,
                                std::string_view special_use) override {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    auto n = normalize_mailbox_name(name);
    if (!n) return make_unexpected(n.error());
    return write([&](connection& c) -> expected<void> {
      auto acc = account_row_of(c, *a);
      if (!acc) return make_unexpected(acc.error());
      return create_mailbox_in(c, acc->id, *n, special_use, false, true);
    });
  }

  expected<void> delete_mailbox(std::string_view account, std::string_view name) override {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    auto n = normalize_mailbox_name(name);
    if (!n) return make_unexpected(n.error());
    // RFC 3501 §6.3.4: it is an error to attempt to delete INBOX.
    if (*n == "INBOX") return fail(errc::cannot_delete);
    std::vector<std::string> blobs;
    std::int64_t mbid = 0;
    auto r = write([&](connection& c) -> expected<void> {
      auto mb = mailbox_row_of(c, *a, *n);
      if (!mb) return make_unexpected(mb.error());
      mbid = mb->id;
      statement b(c, "SELECT blob, size FROM messages WHERE mailbox_id=?");
      b.bind(1, mb->id);
      std::int64_t bytes = 0, count = 0;
      int rc;
      while ((rc = b.step()) == SQLITE_ROW) {
        blobs.emplace_back(b.text(0));
        bytes += b.i64(1);
        ++count;
      }
      if (rc != SQLITE_DONE) return sql_fail(rc);
      MAILKIT_STORE_TRY(adjust_usage(c, mb->account_id, -bytes, -count));
      statement del(c, "DELETE FROM mailboxes WHERE id=?");
      del.bind(1, mb->id);
      if (rc = del.step(); rc != SQLITE_DONE) return sql_fail(rc);
      return {};
    });
    if (r) queue_text({*a, {}, drop_unreferenced(blobs)});
    return r;
  }

  expected<void> rename_mailbox(std::string_view account, std::string_view from,
                                std::string_view to) override {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    auto f = normalize_mailbox_name(from);
    auto t = normalize_mailbox_name(to);
    if (!f) return make_unexpected(f.error());
    if (!t) return make_unexpected(t.error());
    if (*f == "INBOX" || *t == "INBOX") return fail(errc::cannot_delete);
    // Renaming a mailbox under itself would make it its own ancestor.
    if (t->starts_with(*f + "/")) return fail(errc::invalid_name);
    return write([&](connection& c) -> expected<void> {
      auto mb = mailbox_row_of(c, *a, *f);
      if (!mb) return make_unexpected(mb.error());
      if (auto e = mailbox_row_by_account(c, mb->account_id, *t); e)
        return fail(errc::already_exists);
      statement st(c, "UPDATE mailboxes SET name = ?3 || substr(name, length(?2) + 1) "
                      "WHERE account_id=?1 AND (name=?2 OR substr(name, 1, length(?2) + 1) = "
                      "?2 || '/')");
      st.bind(1, mb->account_id).bind(2, *f).bind(3, *t);
      if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
      // Subscriptions follow the renamed mailboxes (a stale one to the new name is replaced).
      statement sub(c, "UPDATE OR REPLACE subscriptions SET name = ?3 || substr(name, "
                       "length(?2) + 1) WHERE account_id=?1 AND (name=?2 OR substr(name, 1, "
                       "length(?2) + 1) = ?2 || '/')");
      sub.bind(1, mb->account_id).bind(2, *f).bind(3, *t);
      if (int rc = sub.step(); rc != SQLITE_DONE) return sql_fail(rc);
      // Parents of the new name (RFC 3501 §6.3.5 creates superior names as CREATE does).
      auto slash = t->rfind('/');
      if (slash != std::string::npos)
        return create_mailbox_in(c, mb->account_id, t->substr(0, slash), "", true, false);
      return {};
    });
  }

  expected<std::vector<mailbox_info>> mailboxes(std::string_view account) override {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    return read([&](connection& c) -> expected<std::vector<mailbox_info>> {
      auto acc = account_row_of(c, *a);
      if (!acc) return make_unexpected(acc.error());
      std::vector<mailbox_info> out;
      statement st(c, "SELECT x.name, x.special_use, EXISTS(SELECT 1 FROM subscriptions s "
                      "WHERE s.account_id=x.account_id AND s.name=x.name), x.uidvalidity, "
                      "x.uidnext, "
                      "x.highestmodseq, (SELECT count(*) FROM messages m WHERE "
                      "m.mailbox_id=x.id), (SELECT count(*) FROM messages m WHERE "
                      "m.mailbox_id=x.id AND (m.sysflags & 1)=0) FROM mailboxes x WHERE "
                      "x.account_id=? ORDER BY x.name");
      st.bind(1, acc->id);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.push_back(info_of(st));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      // INBOX first, as clients expect.
      std::stable_partition(out.begin(), out.end(),
                            [](const mailbox_info& m) { return m.name == "INBOX"; });
      return out;
    });
  }

  expected<mailbox_info> mailbox(std::string_view account, std::string_view name) override {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    auto n = normalize_mailbox_name(name);
    if (!n) return make_unexpected(n.error());
    return read([&](connection& c) -> expected<mailbox_info> {
      auto mb = mailbox_row_of(c, *a, *n);
      if (!mb) return make_unexpected(mb.error());
      statement st(c, "SELECT x.name, x.special_use, EXISTS(SELECT 1 FROM subscriptions s "
                      "WHERE s.account_id=x.account_id AND s.name=x.name), x.uidvalidity, "
                      "x.uidnext, "
                      "x.highestmodseq, (SELECT count(*) FROM messages m WHERE "
                      "m.mailbox_id=x.id), (SELECT count(*) FROM messages m WHERE "
                      "m.mailbox_id=x.id AND (m.sysflags & 1)=0) FROM mailboxes x WHERE "
                      "x.id=?");
      st.bind(1, mb->id);
      int rc = st.step();
      if (rc != SQLITE_ROW) return sql_fail(rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
      return info_of(st);
    });
  }

  expected<void> set_subscribed(std::string_view account, std::string_view name,
                                bool subscribed) override {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    auto n = normalize_mailbox_name(name);
    if (!n) return make_unexpected(n.error());
    return write([&](connection& c) -> expected<void> {
      auto acc = account_row_of(c, *a);
      if (!acc) return make_unexpected(acc.error());
      auto mb = mailbox_row_by_account(c, acc->id, *n);
      if (subscribed) {
        // RFC 9051 §6.3.7: the server MAY check that the mailbox exists; we do.
        if (!mb) return make_unexpected(mb.error());
        statement st(c, "INSERT OR IGNORE INTO subscriptions(account_id, name) VALUES(?,?)");
        st.bind(1, acc->id).bind(2, *n);
        if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
        return {};
      }
      // RFC 9051 §6.3.8: a subscription outlives its mailbox, so UNSUBSCRIBE takes any
      // subscribed name; a name neither subscribed nor a mailbox is an error.
      statement st(c, "DELETE FROM subscriptions WHERE account_id=? AND name=?");
      st.bind(1, acc->id).bind(2, *n);
      if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
      if (sqlite3_changes(c.get()) == 0 && !mb) return make_unexpected(mb.error());
      return {};
    });
  }

  expected<std::vector<std::string>> subscriptions(std::string_view account) override {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    return read([&](connection& c) -> expected<std::vector<std::string>> {
      auto acc = account_row_of(c, *a);
      if (!acc) return make_unexpected(acc.error());
      std::vector<std::string> out;
      statement st(c, "SELECT name FROM subscriptions WHERE account_id=? ORDER BY name");
      st.bind(1, acc->id);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.emplace_back(st.text(0));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  // ---- messages ----------------------------------------------------------------------------

  expected<append_result> append(std::string_view account, std::string_view mailbox,
                                 std::string_view data, const flag_set& flags,
                                 std::optional<std::int64_t> internal_date) override {
    auto r = append_impl(account, mailbox, data, flags, internal_date.value_or(opt_.clock()), false,
                         false);
    if (!r) return make_unexpected(r.error());
    return **r;
  }

  expected<append_result> deliver(std::string_view account, std::string_view data,
                                  std::string_view mailbox, const flag_set& flags) override {
    auto r = append_impl(account, mailbox, data, flags, opt_.clock(), true, false);
    if (!r) return make_unexpected(r.error());
    return **r;
  }

  expected<std::optional<append_result>> append_unique(std::string_view account,
                                                       std::string_view mailbox,
                                                       std::string_view data, const flag_set& flags,
                                                       std::int64_t internal_date) override {
    return append_impl(account, mailbox, data, flags, internal_date, false, true);
  }

  expected<std::vector<std::optional<append_result>>>
  append_batch(std::string_view account, std::string_view mailbox,
               std::span<const batch_item> items, bool unique) override {
    if (items.size() > max_batch) return fail(errc::limit_exceeded);
    for (const auto& it : items)
      if (!valid_flags(it.flags) || it.data.empty()) return fail(errc::invalid_argument);
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    std::vector<std::string> hashes;
    hashes.reserve(items.size());
    for (const auto& it : items)
      hashes.push_back(unique ? content_hash(it.data) : std::string()); // as in append_impl
    // Which items to write: not already in the mailbox, not repeated inside the batch. Without
    // `unique` nothing is read before the write, which finds the account and the mailbox (or
    // fails with the same errors) itself: a read after another connection's commit starts
    // with re-reading pages.
    std::vector<bool> skip(items.size(), false);
    auto pre = !unique ? expected<void>{} : read([&](connection& c) -> expected<void> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      std::set<std::pair<std::string, std::int64_t>> in_batch;
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (!in_batch.emplace(hashes[i], items[i].internal_date).second) {
          skip[i] = true;
          continue;
        }
        auto dup = is_duplicate(c, mb->id, hashes[i], items[i].internal_date);
        if (!dup) return make_unexpected(dup.error());
        skip[i] = *dup;
      }
      return {};
    });
    if (!pre) return make_unexpected(pre.error());
    std::vector<std::size_t> to_write;
    std::vector<std::string_view> bodies;
    std::vector<std::string> structures;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (skip[i]) continue;
      auto parsed = mime::parse(items[i].data);
      if (!parsed) return fail(errc::invalid_argument);
      structures.push_back(serialize(compute_structure(*parsed)));
      to_write.push_back(i);
      bodies.push_back(items[i].data);
    }
    std::vector<std::optional<append_result>> out(items.size());
    if (to_write.empty()) return out;
    std::shared_lock gate(append_gate_);
    // Small bodies go into the transaction below; the others are durable files before it.
    std::vector<std::string> ids(to_write.size());
    std::vector<std::string_view> file_bodies;
    std::vector<std::size_t> file_pos;
    for (std::size_t k = 0; k < to_write.size(); ++k) {
      if (bodies[k].size() <= opt_.inline_body_max) {
        ids[k] = new_body_id(bodies[k]);
      } else {
        file_pos.push_back(k);
        file_bodies.push_back(bodies[k]);
      }
    }
    if (!file_bodies.empty()) {
      auto written = files_->put_many(file_bodies);
      if (!written) return make_unexpected(written.error());
      for (std::size_t j = 0; j < file_pos.size(); ++j)
        ids[file_pos[j]] = std::move((*written)[j]);
    }
    std::int64_t mbid = 0;
    std::vector<change> events;
    // Published once committed, before the writer lock is released, so every subscriber sees
    // the changes in commit order (an append before the flag change that follows it).
    auto r = write_grouped(
        [&](connection& c) -> expected<void> {
          auto acc = account_row_of(c, key->first);
          if (!acc) return make_unexpected(acc.error());
          auto mb = mailbox_row_by_account(c, acc->id, key->second);
          if (!mb) return make_unexpected(mb.error());
          mbid = mb->id;
          uid_type uid = mb->uidnext;
          modseq_type modseq = mb->highestmodseq;
          std::int64_t bytes = 0, count = 0;
          for (std::size_t k = 0; k < to_write.size(); ++k) {
            const auto& it = items[to_write[k]];
            if (unique) {
              // A concurrent append may have added the same message since the pre-check.
              auto dup = is_duplicate(c, mb->id, hashes[to_write[k]], it.internal_date);
              if (!dup) return make_unexpected(dup.error());
              if (*dup) continue;
            }
            // A kept UID (migration) only moves forward: UIDs stay strictly ascending.
            if (it.uid != 0 && it.uid > uid) uid = it.uid;
            if (uid == UINT32_MAX) return fail(errc::limit_exceeded);
            ++modseq;
            statement ins(c, "INSERT INTO messages(mailbox_id, uid, modseq, sysflags, keywords, "
                             "internal_date, size, blob, content_hash) VALUES(?,?,?,?,?,?,?,?,?)");
            ins.bind(1, mb->id)
                .bind(2, static_cast<std::int64_t>(uid))
                .bind(3, static_cast<std::int64_t>(modseq))
                .bind(4, it.flags.system)
                .bind(5, it.flags.keywords_text())
                .bind(6, it.internal_date)
                .bind(7, static_cast<std::int64_t>(it.data.size()))
                .bind(8, ids[k])
                .bind_blob(9, hashes[to_write[k]]);
            if (int rc = ins.step(); rc != SQLITE_DONE) return sql_fail(rc);
            MAILKIT_STORE_TRY(insert_inline_body(c, ids[k], it.data));
            statement st(c, "INSERT OR IGNORE INTO structures(blob, data) VALUES(?,?)");
            st.bind(1, ids[k]).bind_blob(2, structures[k]);
            if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
            out[to_write[k]] = append_result{mb->uidvalidity, uid, modseq};
            flag_set f = it.flags;
            f.normalize();
            events.push_back({change::kind::appended, uid, modseq, std::move(f)});
            bytes += static_cast<std::int64_t>(it.data.size());
            ++count;
            ++uid;
          }
          statement up(c, "UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?");
          up.bind(1, static_cast<std::int64_t>(uid))
              .bind(2, static_cast<std::int64_t>(modseq))
              .bind(3, mb->id);
          if (int rc = up.step(); rc != SQLITE_DONE) return sql_fail(rc);
          return adjust_usage(c, acc->id, bytes, count);
        },
        [&] { publish(mbid, events); });
    if (!r) {
      remove_files(ids); // never committed: nobody can see them
      return make_unexpected(r.error());
    }
    // Bodies written for messages that turned out to be duplicates at commit time.
    for (std::size_t k = 0; k < to_write.size(); ++k)
      if (!out[to_write[k]]) discard_body(ids[k]);
    return out;
  }

  expected<bool> adopt_uidvalidity(std::string_view account, std::string_view mailbox,
                                   std::uint32_t uidvalidity) override {
    if (uidvalidity == 0) return fail(errc::invalid_argument); // RFC 3501 §9: nz-number
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return write([&](connection& c) -> expected<bool> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      if (mb->uidvalidity == uidvalidity) return true;
      // Only a mailbox no client can have seen a UID of: otherwise its UIDs would change
      // meaning under the same UIDVALIDITY (RFC 3501 §2.3.1.1).
      if (mb->uidnext != 1 || mb->highestmodseq > 1) return false;
      {
        statement st(c, "SELECT 1 FROM expunged WHERE mailbox_id=? LIMIT 1");
        st.bind(1, mb->id);
        int rc = st.step();
        if (rc == SQLITE_ROW) return false;
        if (rc != SQLITE_DONE) return sql_fail(rc);
      }
      statement up(c, "UPDATE mailboxes SET uidvalidity=? WHERE id=?");
      up.bind(1, static_cast<std::int64_t>(uidvalidity)).bind(2, mb->id);
      if (int rc = up.step(); rc != SQLITE_DONE) return sql_fail(rc);
      // Mailboxes created later get larger values than this one.
      statement meta(c, "INSERT INTO meta(key, value) VALUES('uidvalidity', ?) ON CONFLICT(key) "
                        "DO UPDATE SET value=max(value, excluded.value)");
      meta.bind(1, static_cast<std::int64_t>(uidvalidity));
      if (int rc = meta.step(); rc != SQLITE_DONE) return sql_fail(rc);
      return true;
    });
  }

  expected<void> raise_uidnext(std::string_view account, std::string_view mailbox,
                               uid_type uidnext) override {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return write([&](connection& c) -> expected<void> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      statement up(c, "UPDATE mailboxes SET uidnext=max(uidnext, ?) WHERE id=?");
      up.bind(1, static_cast<std::int64_t>(uidnext)).bind(2, mb->id);
      if (int rc = up.step(); rc != SQLITE_DONE) return sql_fail(rc);
      return {};
    });
  }

  expected<std::vector<message_info>> messages(std::string_view account, std::string_view mailbox,
                                               uid_type first, uid_type last) override {
    return list_messages(account, mailbox, first, last, std::nullopt);
  }

  expected<std::vector<message_info>>
  changed_since(std::string_view account, std::string_view mailbox, modseq_type since) override {
    return list_messages(account, mailbox, 1, UINT32_MAX, since);
  }

  expected<std::vector<uid_type>> expunged_since(std::string_view account, std::string_view mailbox,
                                                 modseq_type since) override {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return read([&](connection& c) -> expected<std::vector<uid_type>> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      std::vector<uid_type> out;
      statement st(c, "SELECT uid FROM expunged WHERE mailbox_id=? AND modseq>? ORDER BY uid");
      st.bind(1, mb->id).bind(2, static_cast<std::int64_t>(since));
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.push_back(static_cast<uid_type>(st.i64(0)));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  expected<std::string> fetch(std::string_view account, std::string_view mailbox,
                              uid_type uid) override {
    auto blob = blob_of(account, mailbox, uid);
    if (!blob) return make_unexpected(blob.error());
    auto data = bodies_.get(*blob);
    if (!data && data.error() == make_error_code(errc::corrupt)) {
      // An expunge may have committed and removed the body between the row read and the file
      // read: that is a message that no longer exists, not damage.
      auto again = blob_of(account, mailbox, uid);
      if (!again) return make_unexpected(again.error());
    }
    return data;
  }

  expected<message_structure> structure(std::string_view account, std::string_view mailbox,
                                        uid_type uid) override {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return read([&](connection& c) -> expected<message_structure> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      statement st(c, "SELECT s.data FROM messages m JOIN structures s ON s.blob=m.blob "
                      "WHERE m.mailbox_id=? AND m.uid=?");
      st.bind(1, mb->id).bind(2, static_cast<std::int64_t>(uid));
      int rc = st.step();
      if (rc == SQLITE_DONE) return fail(errc::no_such_message);
      if (rc != SQLITE_ROW) return sql_fail(rc);
      return deserialize(st.blob(0));
    });
  }

  expected<std::vector<std::pair<uid_type, message_structure>>> structures(std::string_view account,
                                                                           std::string_view mailbox,
                                                                           uid_type first,
                                                                           uid_type last) override {
    std::vector<std::pair<uid_type, message_structure>> out;
    auto r = for_each_structure(account, mailbox, first, last,
                                [&](uid_type uid, const message_structure& ms) {
                                  out.emplace_back(uid, ms);
                                  return true;
                                });
    if (!r) return make_unexpected(r.error());
    return out;
  }

  expected<void> for_each_structure(
      std::string_view account, std::string_view mailbox, uid_type first, uid_type last,
      const std::function<bool(uid_type, const message_structure&)>& visit) override {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return read([&](connection& c) -> expected<void> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      scan_mapped(c, *mb, first, last);
      statement st(c, "SELECT m.uid, s.data FROM messages m JOIN structures s ON s.blob=m.blob "
                      "WHERE m.mailbox_id=? AND m.uid BETWEEN ? AND ? ORDER BY m.uid");
      st.bind(1, mb->id)
          .bind(2, static_cast<std::int64_t>(first))
          .bind(3, static_cast<std::int64_t>(last));
      for (;;) {
        int rc = st.step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return sql_fail(rc);
        auto d = deserialize(st.blob(1));
        if (!d) return make_unexpected(d.error());
        if (!visit(static_cast<uid_type>(st.i64(0)), *d)) break;
      }
      return {};
    });
  }

  expected<store_result> store_flags(std::string_view account, std::string_view mailbox,
                                     std::span<const uid_type> uids, flag_mode mode,
                                     const flag_set& flags,
                                     std::optional<modseq_type> unchanged_since) override {
    if (!valid_flags(flags)) return fail(errc::invalid_argument);
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    store_result out;
    std::int64_t mbid = 0;
    // Published once committed, before the writer lock is released, so every subscriber sees
    // the changes in commit order (an append before the flag change that follows it).
    auto r = write_grouped(
        [&](connection& c) -> expected<void> {
          auto mb = mailbox_row_of(c, key->first, key->second);
          if (!mb) return make_unexpected(mb.error());
          mbid = mb->id;
          modseq_type modseq = mb->highestmodseq + 1;
          for (auto uid : uids) {
            statement sel(c, "SELECT modseq, sysflags, keywords, internal_date, size, blob FROM "
                             "messages WHERE mailbox_id=? AND uid=?");
            sel.bind(1, mb->id).bind(2, static_cast<std::int64_t>(uid));
            int rc = sel.step();
            if (rc == SQLITE_DONE) continue; // RFC 3501 §6.4.8: UIDs that do not exist are ignored
            if (rc != SQLITE_ROW) return sql_fail(rc);
            message_info m;
            m.uid = uid;
            m.modseq = static_cast<modseq_type>(sel.i64(0));
            m.flags = flag_set::from_text(static_cast<std::uint8_t>(sel.i64(1)), sel.text(2));
            m.internal_date = sel.i64(3);
            m.size = static_cast<std::uint64_t>(sel.i64(4));
            m.blob_id = sel.text(5);
            // RFC 7162 §3.1.3: UNCHANGEDSINCE fails for messages modified after the given value.
            if (unchanged_since && m.modseq > *unchanged_since) {
              out.modified.push_back(uid);
              continue;
            }
            flag_set next = m.flags;
            switch (mode) {
            case flag_mode::add:
              next.system |= flags.system;
              next.keywords.insert(next.keywords.end(), flags.keywords.begin(),
                                   flags.keywords.end());
              break;
            case flag_mode::remove:
              next.system &= static_cast<std::uint8_t>(~flags.system);
              std::erase_if(next.keywords, [&](const std::string& k) {
                return std::find(flags.keywords.begin(), flags.keywords.end(), k) !=
                       flags.keywords.end();
              });
              break;
            case flag_mode::replace:
              next = flags;
              break;
            }
            next.normalize();
            if (next.keywords.size() > max_keywords_per_message) return fail(errc::limit_exceeded);
            if (next == m.flags) continue;
            statement up(c, "UPDATE messages SET sysflags=?, keywords=?, modseq=? WHERE "
                            "mailbox_id=? AND uid=?");
            up.bind(1, next.system)
                .bind(2, next.keywords_text())
                .bind(3, static_cast<std::int64_t>(modseq))
                .bind(4, mb->id)
                .bind(5, static_cast<std::int64_t>(uid));
            if (rc = up.step(); rc != SQLITE_DONE) return sql_fail(rc);
            m.flags = std::move(next);
            m.modseq = modseq;
            out.changed.push_back(std::move(m));
          }
          if (!out.changed.empty()) MAILKIT_STORE_TRY(set_highestmodseq(c, mb->id, modseq));
          return {};
        },
        [&] {
          std::vector<change> events;
          for (const auto& m : out.changed)
            events.push_back({change::kind::flags_changed, m.uid, m.modseq, m.flags});
          publish(mbid, events);
        });
    if (!r) return make_unexpected(r.error());
    return out;
  }

  expected<std::vector<std::pair<uid_type, uid_type>>> copy(std::string_view account,
                                                            std::string_view from,
                                                            std::span<const uid_type> uids,
                                                            std::string_view to) override {
    return copy_or_move(account, from, uids, to, false);
  }

  expected<std::vector<std::pair<uid_type, uid_type>>> move(std::string_view account,
                                                            std::string_view from,
                                                            std::span<const uid_type> uids,
                                                            std::string_view to) override {
    return copy_or_move(account, from, uids, to, true);
  }

  expected<std::vector<uid_type>> expunge(std::string_view account, std::string_view mailbox,
                                          std::optional<std::span<const uid_type>> uids) override {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    std::vector<uid_type> gone;
    std::vector<std::string> blobs, dead;
    std::int64_t mbid = 0;
    modseq_type modseq = 0;
    // Published once committed, before the writer lock is released, so every subscriber sees
    // the changes in commit order (an append before the flag change that follows it).
    auto r = write_grouped(
        [&](connection& c) -> expected<void> {
          auto mb = mailbox_row_of(c, key->first, key->second);
          if (!mb) return make_unexpected(mb.error());
          mbid = mb->id;
          modseq = mb->highestmodseq + 1;
          MAILKIT_STORE_TRY(expunge_in(c, *mb, uids, modseq, gone, blobs));
          // The bodies no longer named are found in the same transaction: one commit (one WAL
          // fsync) per EXPUNGE instead of a second one for drop_unreferenced().
          MAILKIT_STORE_TRY(unreferenced_in(c, blobs, dead));
          return {};
        },
        [&] {
          std::vector<change> events;
          for (auto u : gone)
            events.push_back({change::kind::expunged, u, modseq, {}});
          publish(mbid, events);
        });
    if (!r) return make_unexpected(r.error());
    // After the commit: a crash before the unlink leaves an orphan for the recovery scan,
    // never a row without its body (bodies inside the database went with the commit).
    remove_files(dead);
    queue_text({key->first, {}, std::move(dead)});
    return gone;
  }

  expected<std::shared_ptr<subscription>> subscribe(std::string_view account,
                                                    std::string_view mailbox) override {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    auto id = read([&](connection& c) -> expected<std::int64_t> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      return mb->id;
    });
    if (!id) return make_unexpected(id.error());
    auto sub = std::make_shared<subscription>();
    std::lock_guard lock(notify_mutex_);
    auto& list = subscribers_[*id];
    std::erase_if(list, [](const std::weak_ptr<subscription>& w) { return w.expired(); });
    list.push_back(sub);
    return sub;
  }

  // ---- the text index (text_index.hpp) ------------------------------------------------------

  text_index& text() override {
    drain_text(); // a search sees every message appended before it, indexed
    return *text_;
  }

  expected<std::string> canonical_account(std::string_view account) override {
    return normalize_address(account);
  }

  expected<std::vector<std::pair<uid_type, std::string>>>
  message_blobs(std::string_view account, std::string_view mailbox) override {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return read([&](connection& c) -> expected<std::vector<std::pair<uid_type, std::string>>> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      std::vector<std::pair<uid_type, std::string>> out;
      statement st(c, "SELECT uid, blob FROM messages WHERE mailbox_id=? ORDER BY uid");
      st.bind(1, mb->id);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.emplace_back(static_cast<uid_type>(st.i64(0)), std::string(st.text(1)));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  expected<std::string> blob_data(const std::string& blob) override { return bodies_.get(blob); }

  // ---- maintenance -------------------------------------------------------------------------

  blob_store& blobs() override { return bodies_; }

  write_stats write_counters() const override {
    return {group_writes_.load(std::memory_order_relaxed),
            group_commits_.load(std::memory_order_relaxed)};
  }

  expected<recovery_report> recover() override {
    // Exclusive against appends in flight, whose body exists before its row.
    std::unique_lock gate(append_gate_);
    recovery_report rep;
    auto tmp = detail::clean_blob_tmp(*files_);
    if (!tmp) return make_unexpected(tmp.error());
    rep.temp_files_removed = *tmp;
    auto stored = bodies_.list();
    if (!stored) return make_unexpected(stored.error());
    auto referenced = referenced_blobs();
    if (!referenced) return make_unexpected(referenced.error());
    std::set<std::string> on_disk(stored->begin(), stored->end());
    for (const auto& id : on_disk) {
      if (!referenced->count(id)) {
        if (bodies_.remove(id)) ++rep.orphan_blobs_removed;
      }
    }
    for (const auto& id : *referenced)
      if (!on_disk.count(id)) ++rep.missing_blobs;
    // Structures whose body is gone with its last message.
    auto w = write([&](connection& c) -> expected<void> {
      if (int rc = c.exec("DELETE FROM structures WHERE blob NOT IN (SELECT blob FROM messages)");
          rc != SQLITE_OK)
        return sql_fail(rc);
      return {};
    });
    if (!w) return make_unexpected(w.error());
    return rep;
  }

  expected<std::vector<std::string>> check() override {
    std::vector<std::string> problems;
    auto r = read([&](connection& c) -> expected<void> {
      {
        statement st(c, "PRAGMA integrity_check");
        while (st.step() == SQLITE_ROW)
          if (st.text(0) != "ok") problems.push_back("integrity: " + std::string(st.text(0)));
      }
      {
        statement st(c, "PRAGMA foreign_key_check");
        while (st.step() == SQLITE_ROW)
          problems.push_back("foreign key: " + std::string(st.text(0)));
      }
      {
        statement st(c, "SELECT a.address FROM accounts a WHERE a.used_bytes != (SELECT "
                        "coalesce(sum(m.size),0) FROM messages m JOIN mailboxes x ON "
                        "m.mailbox_id=x.id WHERE x.account_id=a.id) OR a.used_messages != "
                        "(SELECT count(*) FROM messages m JOIN mailboxes x ON m.mailbox_id=x.id "
                        "WHERE x.account_id=a.id)");
        while (st.step() == SQLITE_ROW)
          problems.push_back("usage counters: " + std::string(st.text(0)));
      }
      {
        statement st(c, "SELECT x.name FROM mailboxes x WHERE x.uidnext <= (SELECT "
                        "coalesce(max(uid),0) FROM messages m WHERE m.mailbox_id=x.id) OR "
                        "x.uidnext <= (SELECT coalesce(max(uid),0) FROM expunged e WHERE "
                        "e.mailbox_id=x.id) OR x.highestmodseq < (SELECT coalesce(max(modseq),0) "
                        "FROM messages m WHERE m.mailbox_id=x.id)");
        while (st.step() == SQLITE_ROW)
          problems.push_back("uid/modseq counters: " + std::string(st.text(0)));
      }
      {
        statement st(c, "SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM "
                        "structures s WHERE s.blob=m.blob)");
        if (st.step() == SQLITE_ROW && st.i64(0) > 0)
          problems.push_back("messages without structure: " + std::to_string(st.i64(0)));
      }
      return {};
    });
    if (!r) return make_unexpected(r.error());
    auto referenced = referenced_blobs();
    if (!referenced) return make_unexpected(referenced.error());
    auto stored = bodies_.list();
    if (!stored) return make_unexpected(stored.error());
    std::set<std::string> on_disk(stored->begin(), stored->end());
    for (const auto& id : *referenced)
      if (!on_disk.count(id)) problems.push_back("missing body: " + id);
    return problems;
  }

private:
  // ---- plumbing ----------------------------------------------------------------------------

  expected<void> configure(connection& c, bool read_only) {
    sqlite3_busy_timeout(c.get(), static_cast<int>(opt_.busy_timeout.count()));
    // secure_delete=FAST: Debian builds SQLite with secure_delete on, which rewrites every
    // page a deleted body leaves (its overflow chain) with zeros: an expunge would write the
    // body once more. FAST clears deleted content inside b-tree pages only, as a file system
    // leaves an unlinked file's blocks.
    // Readers map the database only for scans of many messages (scan_mapped).
    const char* pragmas = read_only ? "PRAGMA foreign_keys=ON; PRAGMA mmap_size=0;"
                                    : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                      "PRAGMA foreign_keys=ON; PRAGMA secure_delete=FAST;";
    if (int rc = c.exec(pragmas); rc != SQLITE_OK) return sql_fail(rc);
    return {};
  }

  expected<void> migrate() {
    if (int rc = writer_->exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER "
                               "PRIMARY KEY, applied_at INTEGER NOT NULL)");
        rc != SQLITE_OK)
      return sql_fail(rc);
    std::int64_t current = 0;
    {
      statement st(*writer_, "SELECT coalesce(max(version),0) FROM schema_migrations");
      if (int rc = st.step(); rc != SQLITE_ROW) return sql_fail(rc);
      current = st.i64(0);
    }
    if (current > schema_version) return fail(errc::schema_too_new);
    for (auto v = current; v < schema_version; ++v) {
      auto r = write([&](connection& c) -> expected<void> {
        if (int rc = c.exec(migrations[v]); rc != SQLITE_OK) return sql_fail(rc);
        statement st(c, "INSERT INTO schema_migrations(version, applied_at) VALUES(?,?)");
        st.bind(1, v + 1).bind(2, opt_.clock());
        if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
        return {};
      });
      if (!r) return r;
    }
    return {};
  }

  /// Run `fn` in a write transaction (BEGIN IMMEDIATE ... COMMIT), rolling back on failure.
  template <class F>
  auto write(F&& fn) -> decltype(fn(std::declval<connection&>())) {
    std::lock_guard lock(write_mutex_);
    return write_locked(std::forward<F>(fn));
  }

  template <class F>
  auto write_locked(F&& fn) -> decltype(fn(std::declval<connection&>())) {
    if (int rc = writer_->exec("BEGIN IMMEDIATE"); rc != SQLITE_OK) return sql_fail(rc);
    auto r = fn(*writer_);
    if (!r) {
      writer_->exec("ROLLBACK");
      return r;
    }
    if (auto settled = settle_bodies(); !settled) {
      writer_->exec("ROLLBACK");
      return tl::unexpected<error_code>(settled.error());
    }
    if (int rc = writer_->exec("COMMIT"); rc != SQLITE_OK) {
      writer_->exec("ROLLBACK");
      return sql_fail(rc);
    }
    return r;
  }

  /// Inside a read: map the database for a structure scan of UIDs first..last when it may
  /// cover many messages (the mailbox's UIDNEXT bounds them): each structure is a lookup by
  /// body id, and a scan of 100,000 runs about 1.5x as fast mapped. Other reads run faster
  /// without a mapping: SQLite drops it at a reader's first read after any commit, and the
  /// unmap and faults cost more than the preads (a tenth of the IMAP server's CPU under write
  /// load when every reader mapped). The mapping ends with the read (read()).
  static void scan_mapped(connection& c, const mailbox_row& mb, uid_type first, uid_type last) {
    constexpr std::uint64_t many = 2048;
    const std::uint64_t top = std::min<std::uint64_t>(last, mb.uidnext);
    if (top > first && top - first >= many) c.map(true); // a failure only leaves it unmapped
  }

  // ---- group commit --------------------------------------------------------------------------
  // Every write waits for its commit's WAL flush (synchronous=FULL), and SQLite has one writer:
  // writers that arrive while a commit is flushing would otherwise each wait for the commits
  // of all those before them, one flush each. Instead the first writer to find no commit in
  // progress becomes the leader: it runs the work of every writer queued at that moment in one
  // transaction, each in a savepoint of its own (a failing one rolls back alone), commits once
  // and wakes them. A writer alone runs its own work on its own thread, as before. Readers and
  // subscribers still see nothing before its flush: SQLite makes a WAL commit visible only
  // after syncing it, and the `committed` callbacks run after the COMMIT, under the writer lock,
  // in the order the work ran.
  template <class Sig>
  class fn_ref;
  template <class R, class... A>
  class fn_ref<R(A...)> {
  public:
    template <class F>
    fn_ref(F& f) // NOLINT(google-explicit-constructor): a borrowed callable, like a reference
        : obj_(&f), call_([](void* o, A... a) -> R { return (*static_cast<F*>(o))(a...); }) {}
    R operator()(A... a) const { return call_(obj_, a...); }

  private:
    void* obj_;
    R (*call_)(void*, A...);
  };

  struct group_work {
    fn_ref<expected<void>(connection&)> body; // runs inside the shared transaction
    fn_ref<void()> committed;                 // after a successful COMMIT, writer lock held
    expected<void> result{};
    std::exception_ptr thrown; // from body or committed, rethrown on the writer's own thread
    bool done = false;         // guarded by group_mu_
  };

  /// Run `body` in a write transaction, possibly shared with concurrent writers; `committed`
  /// runs once the transaction is durable, only if `body` succeeded.
  template <class B, class C>
  expected<void> write_grouped(B&& body, C&& committed) {
    group_work w{
        fn_ref<expected<void>(connection&)>(body), fn_ref<void()>(committed), {}, {}, false};
    std::unique_lock lock(group_mu_);
    group_queue_.push_back(&w);
    while (!w.done && group_leader_)
      group_cv_.wait(lock);
    if (!w.done) {
      // No leader, and `w` not done: no leader has taken it (a leader marks the work it took
      // done before it steps down), so it is in the queue, and this thread leads.
      group_leader_ = true;
      std::vector<group_work*> batch;
      batch.swap(group_queue_);
      lock.unlock();
      run_group(batch);
      lock.lock();
      for (auto* b : batch)
        b->done = true; // from here on the followers' frames may go away
      group_leader_ = false;
      group_cv_.notify_all();
    }
    lock.unlock();
    if (w.thrown) std::rethrow_exception(w.thrown);
    return std::move(w.result);
  }

  void run_group(const std::vector<group_work*>& batch) noexcept {
    std::lock_guard writer(write_mutex_);
    connection& c = *writer_;
    const bool shared = batch.size() > 1;
    auto abort_all = [&](error_code ec) {
      if (!sqlite3_get_autocommit(c.get())) c.exec("ROLLBACK");
      for (auto* b : batch)
        if (b->result) b->result = tl::unexpected<error_code>(ec);
    };
    if (int rc = c.exec("BEGIN IMMEDIATE"); rc != SQLITE_OK) return abort_all(from_sqlite(rc));
    for (auto* b : batch) {
      if (shared)
        if (int rc = c.exec("SAVEPOINT w"); rc != SQLITE_OK) return abort_all(from_sqlite(rc));
      try {
        b->result = b->body(c);
      } catch (...) {
        b->thrown = std::current_exception();
        b->result = fail(errc::io_error);
      }
      if (!shared) {
        if (!b->result) return abort_all(b->result.error());
        break;
      }
      int rc = b->result ? SQLITE_OK : c.exec("ROLLBACK TO w");
      if (rc == SQLITE_OK) rc = c.exec("RELEASE w");
      // Some errors (a full disk, an I/O error) end the whole transaction: the work that ran
      // before fails with them, never having committed, and the rest does not run.
      if (rc != SQLITE_OK || sqlite3_get_autocommit(c.get()))
        return abort_all(b->result ? from_sqlite(rc == SQLITE_OK ? SQLITE_ABORT : rc)
                                   : b->result.error());
    }
    if (auto settled = settle_bodies(); !settled) return abort_all(settled.error());
    if (int rc = c.exec("COMMIT"); rc != SQLITE_OK) return abort_all(from_sqlite(rc));
    group_commits_.fetch_add(1, std::memory_order_relaxed);
    group_writes_.fetch_add(batch.size(), std::memory_order_relaxed);
    for (auto* b : batch) {
      if (!b->result) continue;
      try {
        b->committed();
      } catch (...) {
        b->thrown = std::current_exception();
      }
    }
  }

  /// Run `fn` on a read connection inside one read transaction (a consistent snapshot).
  template <class F>
  auto read(F&& fn) -> decltype(fn(std::declval<connection&>())) {
    connection* c = nullptr;
    {
      std::unique_lock lock(reader_mutex_);
      reader_cv_.wait(lock, [&] { return !free_readers_.empty(); });
      c = free_readers_.back();
      free_readers_.pop_back();
    }
    struct give_back {
      sqlite_store* self;
      connection* c;
      ~give_back() {
        c->exec("COMMIT");
        if (c->mapped()) c->map(false);
        std::lock_guard lock(self->reader_mutex_);
        self->free_readers_.push_back(c);
        self->reader_cv_.notify_one();
      }
    } guard{this, c};
    if (int rc = c->exec("BEGIN"); rc != SQLITE_OK) return sql_fail(rc);
    return fn(*c);
  }

  expected<std::pair<std::string, std::string>> keys(std::string_view account,
                                                     std::string_view mailbox) {
    auto a = normalize_address(account);
    if (!a) return make_unexpected(a.error());
    auto n = normalize_mailbox_name(mailbox);
    if (!n) return make_unexpected(n.error());
    return std::pair{std::move(*a), std::move(*n)};
  }

  expected<std::int64_t> domain_id(connection& c, const std::string& d) {
    statement st(c, "SELECT id FROM domains WHERE name=?");
    st.bind(1, lower(d));
    int rc = st.step();
    if (rc == SQLITE_DONE) return fail(errc::no_such_domain);
    if (rc != SQLITE_ROW) return sql_fail(rc);
    return st.i64(0);
  }

  bool is_local_domain(connection& c, const std::string& d) { return domain_id(c, d).has_value(); }

  expected<account_row> account_row_of(connection& c, const std::string& address) {
    statement st(c, "SELECT id, quota_bytes, quota_messages, used_bytes, used_messages FROM "
                    "accounts WHERE address=?");
    st.bind(1, address);
    int rc = st.step();
    if (rc == SQLITE_DONE) return fail(errc::no_such_account);
    if (rc != SQLITE_ROW) return sql_fail(rc);
    account_row r;
    r.id = st.i64(0);
    r.limit.bytes = static_cast<std::uint64_t>(st.i64(1));
    r.limit.messages = static_cast<std::uint64_t>(st.i64(2));
    r.used_bytes = static_cast<std::uint64_t>(st.i64(3));
    r.used_messages = static_cast<std::uint64_t>(st.i64(4));
    return r;
  }

  expected<mailbox_row> mailbox_row_by_account(connection& c, std::int64_t account_id,
                                               const std::string& name) {
    statement st(c, "SELECT id, uidvalidity, uidnext, highestmodseq FROM mailboxes WHERE "
                    "account_id=? AND name=?");
    st.bind(1, account_id).bind(2, name);
    int rc = st.step();
    if (rc == SQLITE_DONE) return fail(errc::no_such_mailbox);
    if (rc != SQLITE_ROW) return sql_fail(rc);
    mailbox_row r;
    r.id = st.i64(0);
    r.account_id = account_id;
    r.uidvalidity = static_cast<std::uint32_t>(st.i64(1));
    r.uidnext = static_cast<uid_type>(st.i64(2));
    r.highestmodseq = static_cast<modseq_type>(st.i64(3));
    return r;
  }

  expected<mailbox_row> mailbox_row_of(connection& c, const std::string& account,
                                       const std::string& name) {
    auto acc = account_row_of(c, account);
    if (!acc) return make_unexpected(acc.error());
    return mailbox_row_by_account(c, acc->id, name);
  }

  static mailbox_info info_of(statement& st) {
    mailbox_info i;
    i.name = st.text(0);
    i.special_use = st.text(1);
    i.subscribed = st.i64(2) != 0;
    i.uidvalidity = static_cast<std::uint32_t>(st.i64(3));
    i.uidnext = static_cast<uid_type>(st.i64(4));
    i.highestmodseq = static_cast<modseq_type>(st.i64(5));
    i.messages = static_cast<std::uint32_t>(st.i64(6));
    i.unseen = static_cast<std::uint32_t>(st.i64(7));
    return i;
  }

  // RFC 3501 §2.3.1.1: a new UIDVALIDITY must be greater than any used before for the name;
  // taking max(now, last + 1) store-wide makes every value unique and increasing.
  expected<std::uint32_t> next_uidvalidity(connection& c) {
    std::int64_t last = 0;
    {
      statement st(c, "SELECT value FROM meta WHERE key='uidvalidity'");
      int rc = st.step();
      if (rc == SQLITE_ROW)
        last = st.i64(0);
      else if (rc != SQLITE_DONE)
        return sql_fail(rc);
    }
    std::int64_t v = std::max<std::int64_t>(opt_.clock() & 0xffffffff, last + 1);
    if (v > 0xffffffffLL || v < 1) v = 1;
    statement up(c, "INSERT INTO meta(key, value) VALUES('uidvalidity', ?) ON CONFLICT(key) DO "
                    "UPDATE SET value=excluded.value");
    up.bind(1, v);
    if (int rc = up.step(); rc != SQLITE_DONE) return sql_fail(rc);
    return static_cast<std::uint32_t>(v);
  }

  expected<void> create_mailbox_in(connection& c, std::int64_t account_id, const std::string& name,
                                   std::string_view special_use, bool subscribed,
                                   bool must_be_new) {
    // RFC 3501 §6.3.3: create superior hierarchical names that do not exist.
    for (auto slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      auto parent = name.substr(0, slash);
      if (mailbox_row_by_account(c, account_id, parent)) continue;
      MAILKIT_STORE_TRY(insert_mailbox(c, account_id, parent, "", false));
    }
    if (mailbox_row_by_account(c, account_id, name)) {
      if (must_be_new) return fail(errc::already_exists);
      return {};
    }
    return insert_mailbox(c, account_id, name, special_use, subscribed);
  }

  expected<void> insert_mailbox(connection& c, std::int64_t account_id, const std::string& name,
                                std::string_view special_use, bool subscribed) {
    auto v = next_uidvalidity(c);
    if (!v) return make_unexpected(v.error());
    // RFC 7162 §3.1: HIGHESTMODSEQ starts at 1 (positive); the first change makes it 2.
    statement st(c, "INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, "
                    "highestmodseq) VALUES(?,?,?,?,1)");
    st.bind(1, account_id)
        .bind(2, name)
        .bind(3, special_use)
        .bind(4, static_cast<std::int64_t>(*v));
    if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
    if (subscribed) {
      statement sub(c, "INSERT OR IGNORE INTO subscriptions(account_id, name) VALUES(?,?)");
      sub.bind(1, account_id).bind(2, name);
      if (int rc = sub.step(); rc != SQLITE_DONE) return sql_fail(rc);
    }
    return {};
  }

  expected<void> add_account_with_hash_impl(std::string_view address, std::string_view hash,
                                            quota q) {
    auto a = normalize_address(address);
    if (!a) return make_unexpected(a.error());
    return directory_write([&](connection& c) -> expected<void> {
      auto d = domain_id(c, std::string(domain_of(*a)));
      if (!d) return make_unexpected(d.error());
      statement st(c, "INSERT INTO accounts(domain_id, address, password, quota_bytes, "
                      "quota_messages) VALUES(?,?,?,?,?)");
      st.bind(1, *d)
          .bind(2, *a)
          .bind(3, hash)
          .bind(4, static_cast<std::int64_t>(q.bytes))
          .bind(5, static_cast<std::int64_t>(q.messages));
      if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
      auto id = sqlite3_last_insert_rowid(c.get());
      for (const auto& [name, use] : special_mailboxes)
        MAILKIT_STORE_TRY(insert_mailbox(c, id, std::string(name), use, true));
      return {};
    });
  }

  expected<void> update_password(connection& c, const std::string& address,
                                 const std::string& hash) {
    statement st(c, "UPDATE accounts SET password=? WHERE address=?");
    st.bind(1, hash).bind(2, address);
    if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
    if (sqlite3_changes(c.get()) == 0) return fail(errc::no_such_account);
    return {};
  }

  bool has_alias(connection& c, const std::string& address) {
    statement st(c, "SELECT 1 FROM aliases WHERE source=? LIMIT 1");
    st.bind(1, address);
    return st.step() == SQLITE_ROW;
  }

  expected<void> expand(connection& c, const std::string& address, const std::string& tag,
                        std::size_t depth, std::set<std::string>& seen,
                        std::vector<delivery_target>& out, bool& matched) {
    if (depth > max_alias_depth) return fail(errc::limit_exceeded);
    if (!seen.insert(address).second)
      return {}; // an alias loop or a target reached twice: deliver once
    std::vector<std::string> targets;
    {
      statement st(c, "SELECT target FROM aliases WHERE source=?");
      st.bind(1, address);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        targets.emplace_back(st.text(0));
      if (rc != SQLITE_DONE) return sql_fail(rc);
    }
    if (targets.empty()) {
      if (account_row_of(c, address)) {
        matched = true;
        out.push_back({delivery_target::kind::local, address, tag});
        return {};
      }
      if (address.starts_with("*@")) return {};
      // The domain's catch-all, when nothing more specific matched.
      auto catch_all = "*@" + std::string(domain_of(address));
      return expand(c, catch_all, tag, depth + 1, seen, out, matched);
    }
    matched = true;
    for (const auto& t : targets) {
      if (out.size() >= max_alias_targets) return fail(errc::limit_exceeded);
      if (t == address) {
        // An alias that names its own account keeps a copy there and forwards the rest (what
        // Exim's unseen alias router does on HestiaCP): the account is a target like any other.
        const bool listed = std::any_of(out.begin(), out.end(), [&](const delivery_target& d) {
          return d.where == delivery_target::kind::local && d.address == address;
        });
        if (!listed && account_row_of(c, address))
          out.push_back({delivery_target::kind::local, address, tag});
        continue;
      }
      if (is_local_domain(c, std::string(domain_of(t)))) {
        bool sub = false;
        MAILKIT_STORE_TRY(expand(c, t, tag, depth + 1, seen, out, sub));
      } else if (seen.insert(t).second) {
        out.push_back({delivery_target::kind::external, t, tag});
      }
    }
    return {};
  }

  expected<void> adjust_usage(connection& c, std::int64_t account_id, std::int64_t bytes,
                              std::int64_t count) {
    statement st(c, "UPDATE accounts SET used_bytes=used_bytes+?, used_messages=used_messages+? "
                    "WHERE id=?");
    st.bind(1, bytes).bind(2, count).bind(3, account_id);
    if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
    return {};
  }

  expected<void> set_highestmodseq(connection& c, std::int64_t mbid, modseq_type m) {
    statement st(c, "UPDATE mailboxes SET highestmodseq=? WHERE id=?");
    st.bind(1, static_cast<std::int64_t>(m)).bind(2, mbid);
    if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
    return {};
  }

  expected<void> check_quota(const account_row& acc, std::uint64_t bytes, std::uint64_t count) {
    auto full = opt_.over_quota_permanent ? errc::exceeds_quota : errc::over_quota;
    if (acc.limit.bytes && bytes > acc.limit.bytes)
      return fail(errc::exceeds_quota); // can never fit: permanent
    if (acc.limit.bytes && acc.used_bytes + bytes > acc.limit.bytes) return fail(full);
    if (acc.limit.messages && acc.used_messages + count > acc.limit.messages) return fail(full);
    return {};
  }

  expected<std::optional<append_result>>
  append_impl(std::string_view account, std::string_view mailbox, std::string_view data,
              const flag_set& flags, std::int64_t internal_date, bool enforce_quota, bool unique) {
    if (!valid_flags(flags)) return fail(errc::invalid_argument);
    if (data.empty()) return fail(errc::invalid_argument);
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    // The content hash finds duplicates for imports (unique); other appends never look for
    // one, and skip the cost (a BLAKE2b pass, about 0.16 ms per 100 KB here): their rows hold
    // an empty hash, which no unique append's hash equals.
    const std::string hash = unique ? content_hash(data) : std::string();
    // Fail early (before writing a body file) on a missing mailbox, a full quota or a
    // duplicate. A body that goes inside the database costs nothing before the transaction,
    // which checks the same: no read first.
    const bool inline_body = data.size() <= opt_.inline_body_max;
    auto pre = (inline_body && !unique)
                   ? expected<bool>(false)
                   : read([&](connection& c) -> expected<bool> {
                       auto acc = account_row_of(c, key->first);
                       if (!acc) return make_unexpected(acc.error());
                       auto mb = mailbox_row_by_account(c, acc->id, key->second);
                       if (!mb) return make_unexpected(mb.error());
                       if (enforce_quota) MAILKIT_STORE_TRY(check_quota(*acc, data.size(), 1));
                       if (unique) return is_duplicate(c, mb->id, hash, internal_date);
                       return false;
                     });
    if (!pre) return make_unexpected(pre.error());
    if (*pre) return std::optional<append_result>();

    auto parsed = mime::parse(data);
    if (!parsed) return fail(errc::invalid_argument);
    auto structure = serialize(compute_structure(*parsed));

    std::shared_lock gate(append_gate_);
    // The body is durable before the row that names it commits: a file written now, a body in
    // the arena written now and settled before the commit's flush, or a small body written by
    // that same commit.
    auto blob = inline_body ? expected<std::string>(new_body_id(data)) : files_->put(data);
    if (!blob) return make_unexpected(blob.error());
    append_result res;
    std::int64_t mbid = 0;
    bool duplicate = false;
    // Published once committed, before the writer lock is released, so every subscriber sees
    // the changes in commit order (an append before the flag change that follows it).
    auto r = write_grouped(
        [&](connection& c) -> expected<void> {
          auto acc = account_row_of(c, key->first);
          if (!acc) return make_unexpected(acc.error());
          auto mb = mailbox_row_by_account(c, acc->id, key->second);
          if (!mb) return make_unexpected(mb.error());
          if (enforce_quota) MAILKIT_STORE_TRY(check_quota(*acc, data.size(), 1));
          if (unique) {
            auto dup = is_duplicate(c, mb->id, hash, internal_date);
            if (!dup) return make_unexpected(dup.error());
            if (*dup) {
              duplicate = true;
              return {};
            }
          }
          // RFC 3501 §2.3.1.1: UIDs are strictly ascending and never reused; uidnext only grows.
          if (mb->uidnext == UINT32_MAX) return fail(errc::limit_exceeded);
          mbid = mb->id;
          res.uidvalidity = mb->uidvalidity;
          res.uid = mb->uidnext;
          res.modseq = mb->highestmodseq + 1;
          statement ins(c, "INSERT INTO messages(mailbox_id, uid, modseq, sysflags, keywords, "
                           "internal_date, size, blob, content_hash) VALUES(?,?,?,?,?,?,?,?,?)");
          ins.bind(1, mb->id)
              .bind(2, static_cast<std::int64_t>(res.uid))
              .bind(3, static_cast<std::int64_t>(res.modseq))
              .bind(4, flags.system)
              .bind(5, flags.keywords_text())
              .bind(6, internal_date)
              .bind(7, static_cast<std::int64_t>(data.size()))
              .bind(8, *blob)
              .bind_blob(9, hash);
          if (int rc = ins.step(); rc != SQLITE_DONE) return sql_fail(rc);
          MAILKIT_STORE_TRY(insert_inline_body(c, *blob, data));
          statement s(c, "INSERT OR IGNORE INTO structures(blob, data) VALUES(?,?)");
          s.bind(1, *blob).bind_blob(2, structure);
          if (int rc = s.step(); rc != SQLITE_DONE) return sql_fail(rc);
          statement up(c, "UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?");
          up.bind(1, static_cast<std::int64_t>(res.uid) + 1)
              .bind(2, static_cast<std::int64_t>(res.modseq))
              .bind(3, mb->id);
          if (int rc = up.step(); rc != SQLITE_DONE) return sql_fail(rc);
          return adjust_usage(c, acc->id, static_cast<std::int64_t>(data.size()), 1);
        },
        [&] {
          if (duplicate) return;
          flag_set f = flags;
          f.normalize();
          publish(mbid, {{change::kind::appended, res.uid, res.modseq, f}});
        });
    if (!r || duplicate) {
      discard_body(*blob); // never committed: nobody can see it
      if (!r) return make_unexpected(r.error());
      return std::optional<append_result>();
    }
    // SEARCH's text index, after the reply (text_worker); a failure, or a full queue, leaves
    // the message to the first search that meets it (lazy).
    queue_text({key->first, *blob, {}});
    return std::optional<append_result>(res);
  }

  expected<bool> is_duplicate(connection& c, std::int64_t mbid, const std::string& hash,
                              std::int64_t date) {
    // Without INDEXED BY the planner may pick the primary key (mailbox_id, uid) and scan the
    // whole mailbox for every message of an import.
    statement st(
        c,
        "SELECT 1 FROM messages INDEXED BY messages_hash WHERE mailbox_id=? AND content_hash=? AND "
        "internal_date=? LIMIT 1");
    st.bind(1, mbid).bind_blob(2, hash).bind(3, date);
    int rc = st.step();
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) return sql_fail(rc);
    return false;
  }

  expected<std::vector<message_info>> list_messages(std::string_view account,
                                                    std::string_view mailbox, uid_type first,
                                                    uid_type last,
                                                    std::optional<modseq_type> since) {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return read([&](connection& c) -> expected<std::vector<message_info>> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      std::vector<message_info> out;
      statement st(c, "SELECT uid, modseq, sysflags, keywords, internal_date, size, blob FROM "
                      "messages WHERE mailbox_id=? AND uid BETWEEN ? AND ? AND modseq > ? "
                      "ORDER BY uid");
      st.bind(1, mb->id)
          .bind(2, static_cast<std::int64_t>(first))
          .bind(3, static_cast<std::int64_t>(last))
          .bind(4, static_cast<std::int64_t>(since.value_or(0)));
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) {
        message_info m;
        m.uid = static_cast<uid_type>(st.i64(0));
        m.modseq = static_cast<modseq_type>(st.i64(1));
        m.flags.system = static_cast<std::uint8_t>(st.i64(2));
        if (auto kw = st.text(3); !kw.empty()) m.flags = flag_set::from_text(m.flags.system, kw);
        m.internal_date = st.i64(4);
        m.size = static_cast<std::uint64_t>(st.i64(5));
        m.blob_id = st.text(6);
        out.push_back(std::move(m));
      }
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  expected<std::string> blob_of(std::string_view account, std::string_view mailbox, uid_type uid) {
    auto key = keys(account, mailbox);
    if (!key) return make_unexpected(key.error());
    return read([&](connection& c) -> expected<std::string> {
      auto mb = mailbox_row_of(c, key->first, key->second);
      if (!mb) return make_unexpected(mb.error());
      statement st(c, "SELECT blob FROM messages WHERE mailbox_id=? AND uid=?");
      st.bind(1, mb->id).bind(2, static_cast<std::int64_t>(uid));
      int rc = st.step();
      if (rc == SQLITE_DONE) return fail(errc::no_such_message);
      if (rc != SQLITE_ROW) return sql_fail(rc);
      return std::string(st.text(0));
    });
  }

  expected<void> expunge_in(connection& c, const mailbox_row& mb,
                            std::optional<std::span<const uid_type>> uids, modseq_type modseq,
                            std::vector<uid_type>& gone, std::vector<std::string>& blobs) {
    std::vector<std::pair<uid_type, std::int64_t>> victims;
    if (uids) {
      for (auto u : *uids) {
        statement st(c, "SELECT size, blob FROM messages WHERE mailbox_id=? AND uid=?");
        st.bind(1, mb.id).bind(2, static_cast<std::int64_t>(u));
        int rc = st.step();
        if (rc == SQLITE_ROW) {
          victims.emplace_back(u, st.i64(0));
          blobs.emplace_back(st.text(1));
        } else if (rc != SQLITE_DONE) {
          return sql_fail(rc);
        }
      }
    } else {
      statement st(c, "SELECT uid, size, blob FROM messages WHERE mailbox_id=? AND "
                      "(sysflags & 8) != 0 ORDER BY uid");
      st.bind(1, mb.id);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) {
        victims.emplace_back(static_cast<uid_type>(st.i64(0)), st.i64(1));
        blobs.emplace_back(st.text(2));
      }
      if (rc != SQLITE_DONE) return sql_fail(rc);
    }
    std::sort(victims.begin(), victims.end());
    victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
    std::int64_t bytes = 0;
    for (const auto& [u, size] : victims) {
      statement del(c, "DELETE FROM messages WHERE mailbox_id=? AND uid=?");
      del.bind(1, mb.id).bind(2, static_cast<std::int64_t>(u));
      if (int rc = del.step(); rc != SQLITE_DONE) return sql_fail(rc);
      // RFC 7162 §3.2.10: remember expunged UIDs with their MODSEQ for VANISHED.
      statement rec(c, "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?,?,?)");
      rec.bind(1, mb.id)
          .bind(2, static_cast<std::int64_t>(u))
          .bind(3, static_cast<std::int64_t>(modseq));
      if (int rc = rec.step(); rc != SQLITE_DONE) return sql_fail(rc);
      bytes += size;
      gone.push_back(u);
    }
    if (!victims.empty()) {
      MAILKIT_STORE_TRY(set_highestmodseq(c, mb.id, modseq));
      MAILKIT_STORE_TRY(
          adjust_usage(c, mb.account_id, -bytes, -static_cast<std::int64_t>(victims.size())));
    }
    return {};
  }

  expected<std::vector<std::pair<uid_type, uid_type>>>
  copy_or_move(std::string_view account, std::string_view from, std::span<const uid_type> uids,
               std::string_view to, bool move) {
    auto src = keys(account, from);
    if (!src) return make_unexpected(src.error());
    auto dst = normalize_mailbox_name(to);
    if (!dst) return make_unexpected(dst.error());
    std::vector<std::pair<uid_type, uid_type>> pairs;
    std::vector<change> added, removed;
    std::int64_t src_id = 0, dst_id = 0;
    // Published once committed, before the writer lock is released, so every subscriber sees
    // the changes in commit order (an append before the flag change that follows it).
    auto r = write_grouped(
        [&](connection& c) -> expected<void> {
          auto acc = account_row_of(c, src->first);
          if (!acc) return make_unexpected(acc.error());
          auto smb = mailbox_row_by_account(c, acc->id, src->second);
          if (!smb) return make_unexpected(smb.error());
          auto dmb = mailbox_row_by_account(c, acc->id, *dst);
          if (!dmb) return make_unexpected(dmb.error());
          src_id = smb->id;
          dst_id = dmb->id;
          if (smb->id == dmb->id && move) return fail(errc::invalid_argument);
          uid_type next = dmb->uidnext;
          modseq_type modseq = dmb->highestmodseq + 1;
          std::int64_t bytes = 0;
          std::vector<uid_type> sorted(uids.begin(), uids.end());
          std::sort(sorted.begin(), sorted.end());
          sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
          for (auto u : sorted) {
            statement sel(c, "SELECT sysflags, keywords, internal_date, size, blob, content_hash "
                             "FROM messages WHERE mailbox_id=? AND uid=?");
            sel.bind(1, smb->id).bind(2, static_cast<std::int64_t>(u));
            int rc = sel.step();
            if (rc == SQLITE_DONE) continue;
            if (rc != SQLITE_ROW) return sql_fail(rc);
            if (next == UINT32_MAX) return fail(errc::limit_exceeded);
            statement ins(c, "INSERT INTO messages(mailbox_id, uid, modseq, sysflags, keywords, "
                             "internal_date, size, blob, content_hash) VALUES(?,?,?,?,?,?,?,?,?)");
            ins.bind(1, dmb->id)
                .bind(2, static_cast<std::int64_t>(next))
                .bind(3, static_cast<std::int64_t>(modseq))
                .bind(4, sel.i64(0))
                .bind(5, sel.text(1))
                .bind(6, sel.i64(2))
                .bind(7, sel.i64(3))
                .bind(8, sel.text(4))
                .bind_blob(9, sel.blob(5));
            if (rc = ins.step(); rc != SQLITE_DONE) return sql_fail(rc);
            bytes += sel.i64(3);
            added.push_back(
                {change::kind::appended, next, modseq,
                 flag_set::from_text(static_cast<std::uint8_t>(sel.i64(0)), sel.text(1))});
            pairs.emplace_back(u, next);
            ++next;
          }
          if (pairs.empty()) return {};
          if (!move) {
            // RFC 9208 §5.1 (IMAP QUOTA): a COPY that would exceed the quota fails whole.
            MAILKIT_STORE_TRY(check_quota(*acc, static_cast<std::uint64_t>(bytes), pairs.size()));
          }
          statement up(c, "UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?");
          up.bind(1, static_cast<std::int64_t>(next))
              .bind(2, static_cast<std::int64_t>(modseq))
              .bind(3, dmb->id);
          if (int rc = up.step(); rc != SQLITE_DONE) return sql_fail(rc);
          MAILKIT_STORE_TRY(
              adjust_usage(c, acc->id, bytes, static_cast<std::int64_t>(pairs.size())));
          if (move) {
            std::vector<uid_type> moved;
            for (const auto& p : pairs)
              moved.push_back(p.first);
            std::vector<uid_type> gone;
            std::vector<std::string> blobs; // shared with the copies: nothing to remove
            modseq_type smod = smb->highestmodseq + 1;
            MAILKIT_STORE_TRY(
                expunge_in(c, *smb, std::span<const uid_type>(moved), smod, gone, blobs));
            for (auto u : gone)
              removed.push_back({change::kind::expunged, u, smod, {}});
          }
          return {};
        },
        [&] {
          publish(dst_id, added);
          publish(src_id, removed);
        });
    if (!r) return make_unexpected(r.error());
    return pairs;
  }

  expected<std::set<std::string>> referenced_blobs() {
    return read([&](connection& c) -> expected<std::set<std::string>> {
      std::set<std::string> out;
      statement st(c, "SELECT DISTINCT blob FROM messages");
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.emplace(st.text(0));
      if (rc != SQLITE_DONE) return sql_fail(rc);
      return out;
    });
  }

  /// Inside a write transaction that removed rows: of `blobs`, those no longer named by any
  /// message, their cached structures deleted; the caller removes the files after the commit.
  expected<void> unreferenced_in(connection& c, const std::vector<std::string>& blobs,
                                 std::vector<std::string>& dead) {
    dead.clear(); // a retried transaction starts over
    std::set<std::string> unique(blobs.begin(), blobs.end());
    for (const auto& b : unique) {
      statement st(c, "SELECT 1 FROM messages WHERE blob=? LIMIT 1");
      st.bind(1, b);
      int rc = st.step();
      if (rc == SQLITE_ROW) continue;
      if (rc != SQLITE_DONE) return sql_fail(rc);
      statement del(c, "DELETE FROM structures WHERE blob=?");
      del.bind(1, b);
      if (rc = del.step(); rc != SQLITE_DONE) return sql_fail(rc);
      if (inline_id(b)) MAILKIT_STORE_TRY(delete_inline_body(c, b));
      dead.push_back(b);
    }
    return {};
  }

  /// After a commit that removed rows: delete bodies (and cached structures) no longer named by
  /// any message. Failures leave orphans for the recovery scan, never a missing body.
  /// Returns the bodies removed.
  std::vector<std::string> drop_unreferenced(const std::vector<std::string>& blobs) {
    if (blobs.empty()) return {};
    std::lock_guard lock(write_mutex_);
    std::vector<std::string> dead;
    auto r = write_locked([&](connection& c) { return unreferenced_in(c, blobs, dead); });
    if (!r) return {};
    remove_files(dead);
    return dead;
  }

  /// Of `ids`, unlink those that are files and free the arena's extents (bodies inside the
  /// database go with their rows).
  void remove_files(const std::vector<std::string>& ids) {
    for (const auto& id : ids)
      discard_body(id);
  }
  void discard_body(const std::string& id) {
    if (id.empty() || inline_id(id)) return;
    if (detail::body_arena::is_id(id)) {
      if (arena_) arena_->release(id);
      return;
    }
    files_->remove(id);
  }

  /// The body arena, with the extents the rows name (at open, before any append).
  expected<void> open_arena() {
    std::vector<std::string> live;
    MAILKIT_STORE_TRY(arena_ids_in(*writer_, [&](std::string_view id) { live.emplace_back(id); }));
    const std::string path = opt_.path + "/bodies.arena";
    if (opt_.arena_body_min == 0 && live.empty()) {
      ::unlink(path.c_str()); // off, and nothing in it: its space goes back
      return {};
    }
    detail::body_arena::options o;
    o.min_free = opt_.arena_min_free;
    o.any_file_system = opt_.arena_on_any_file_system;
    o.takes_new = opt_.arena_body_min > 0;
    auto a = detail::body_arena::open(path, o, live);
    if (!a) return make_unexpected(a.error());
    arena_ = std::move(*a);
    return {};
  }

  /// Each body id in the arena that a row names, once (the messages_blob index's range).
  template <class F>
  static expected<void> arena_ids_in(connection& c, F&& visit) {
    // File ids are 32 hex digits, arena ids "a" and 36: the range holds both kinds.
    statement st(c, "SELECT DISTINCT blob FROM messages WHERE blob >= 'a' AND blob < 'b'");
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      if (auto id = st.text(0); detail::body_arena::is_id(id)) visit(id);
    if (rc != SQLITE_DONE) return sql_fail(rc);
    return {};
  }

  /// A new body id for a body kept with its row: in the arena when it takes it (a middling
  /// body, room prepared), otherwise in the database.
  std::string new_body_id(std::string_view data) {
    if (arena_ && opt_.arena_body_min > 0 && data.size() >= opt_.arena_body_min)
      if (auto id = arena_->put(data)) return std::move(*id);
    return new_inline_id();
  }

  /// Before a COMMIT of the writer: the arena's bodies of this commit are on the device, and
  /// the commit's flush of the log covers them (body_arena.hpp).
  expected<void> settle_bodies() {
    if (!arena_) return {};
    return arena_->settle();
  }

  /// Inside the transaction that adds the message row naming it: a body kept in the database.
  expected<void> insert_inline_body(connection& c, const std::string& id, std::string_view data) {
    if (!inline_id(id)) return {};
    statement st(c, "INSERT INTO bodies(blob, data) VALUES(?,?)");
    st.bind(1, id).bind_blob_static(2, data);
    if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
    return {};
  }

  expected<void> delete_inline_body(connection& c, std::string_view id) {
    statement st(c, "DELETE FROM bodies WHERE blob=?");
    st.bind(1, id);
    if (int rc = st.step(); rc != SQLITE_DONE) return sql_fail(rc);
    return {};
  }

  expected<std::string> inline_body(std::string_view id) {
    return read([&](connection& c) -> expected<std::string> {
      statement st(c, "SELECT data FROM bodies WHERE blob=?");
      st.bind(1, id);
      int rc = st.step();
      if (rc == SQLITE_DONE) return fail(errc::corrupt); // a row names a body that is gone
      if (rc != SQLITE_ROW) return sql_fail(rc);
      return std::string(st.blob(0));
    });
  }

  /// Every body, whichever way it is kept: what blobs() returns, and what the recovery scan
  /// and check() compare with the rows.
  class all_bodies final : public blob_store {
  public:
    explicit all_bodies(sqlite_store& s) : s_(s) {}
    expected<std::string> put(std::string_view data) override { return s_.files_->put(data); }
    expected<std::vector<std::string>> put_many(std::span<const std::string_view> data) override {
      return s_.files_->put_many(data);
    }
    expected<std::string> get(std::string_view id) override {
      if (detail::body_arena::is_id(id)) {
        if (!s_.arena_) return fail(errc::corrupt); // a row names a body that is gone
        return s_.arena_->get(id);
      }
      return inline_id(id) ? s_.inline_body(id) : s_.files_->get(id);
    }
    expected<void> remove(std::string_view id) override {
      if (detail::body_arena::is_id(id)) {
        if (s_.arena_) s_.arena_->release(id);
        return {};
      }
      if (!inline_id(id)) return s_.files_->remove(id);
      return s_.write([&](connection& c) { return s_.delete_inline_body(c, id); });
    }
    expected<std::vector<std::string>> list() override {
      auto out = s_.files_->list();
      if (!out) return out;
      auto r = s_.read([&](connection& c) -> expected<void> {
        statement st(c, "SELECT blob FROM bodies");
        int rc;
        while ((rc = st.step()) == SQLITE_ROW)
          out->emplace_back(st.text(0));
        if (rc != SQLITE_DONE) return sql_fail(rc);
        if (!s_.arena_) return {};
        // The arena keeps no list of its own (its free space is what no row names): its
        // bodies are the extents the rows name that hold the body named.
        return arena_ids_in(c, [&](std::string_view id) {
          if (s_.arena_->holds(id)) out->emplace_back(id);
        });
      });
      if (!r) return make_unexpected(r.error());
      return out;
    }

  private:
    sqlite_store& s_;
  };

  /// Hand committed changes to the mailbox's subscribers. Called with write_mutex_ held, right
  /// after the commit, so that events reach every subscriber in commit order.
  void publish(std::int64_t mbid, const std::vector<change>& events) {
    if (events.empty()) return;
    std::vector<std::shared_ptr<subscription>> subs;
    {
      std::lock_guard lock(notify_mutex_);
      auto it = subscribers_.find(mbid);
      if (it == subscribers_.end()) return;
      for (auto& w : it->second)
        if (auto s = w.lock()) subs.push_back(std::move(s));
    }
    for (auto& s : subs)
      for (const auto& e : events)
        s->push(e);
  }

  open_options opt_;
  int lock_fd_ = -1;
  std::string db_path_;
  std::unique_ptr<blob_store> files_; // bodies larger than opt_.inline_body_max
  /// Bodies from opt_.arena_body_min to opt_.inline_body_max (body_arena.hpp); null when
  /// the arena is off and holds nothing.
  std::unique_ptr<detail::body_arena> arena_;
  all_bodies bodies_{*this};
  std::unique_ptr<text_index> text_;
  std::mutex write_mutex_;
  std::mutex group_mu_;
  std::condition_variable group_cv_;                              // a batch committed
  std::vector<group_work*> group_queue_;                          // guarded by group_mu_
  bool group_leader_ = false;                                     // guarded by group_mu_
  std::atomic<std::uint64_t> group_commits_{0}, group_writes_{0}; // committed batches, their work
  std::unique_ptr<connection> writer_;
  std::unique_ptr<connection> checkpoint_db_; // used by checkpointer_ only
  std::mutex text_mu_;
  std::condition_variable text_cv_;   // a job queued, or stopping
  std::condition_variable text_idle_; // the queue ran empty
  std::deque<text_job> text_jobs_;    // guarded by text_mu_
  bool text_busy_ = false;            // guarded by text_mu_
  bool text_stop_ = false;            // guarded by text_mu_
  std::thread text_worker_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  std::size_t wal_frames_ = 0;     // the log's frames at the last commit (writer lock)
  bool checkpoint_wanted_ = false; // guarded by checkpoint_mu_
  bool checkpoint_busy_ = false;   // guarded by checkpoint_mu_: a checkpoint is running
  /// Frames of the current WAL copied into the database by the last checkpoint (a hint: a
  /// stale value only moves the next checkpoint to another thread or another commit).
  std::atomic<std::size_t> wal_backfilled_{0};
  bool checkpoint_stop_ = false; // guarded by checkpoint_mu_
  std::thread checkpointer_;
  std::mutex reader_mutex_;
  static constexpr std::size_t max_resolved = 4096; // cleared when full
  std::mutex resolved_mu_;
  std::unordered_map<std::string, resolution> resolved_; // guarded by resolved_mu_
  std::unordered_map<std::string, quota> quotas_;        // guarded by resolved_mu_
  std::uint64_t directory_version_ = 0;                  // guarded by resolved_mu_
  std::condition_variable reader_cv_;
  std::vector<std::unique_ptr<connection>> readers_;
  std::vector<connection*> free_readers_;
  std::shared_mutex append_gate_;
  std::mutex notify_mutex_;
  std::map<std::int64_t, std::vector<std::weak_ptr<subscription>>> subscribers_;
  std::string dummy_hash_;
  std::once_flag dummy_once_;
};

} // namespace

expected<std::unique_ptr<mail_store>> open(open_options options) {
  if (options.path.empty()) return fail(errc::invalid_argument);
  if (!options.files) options.files = posix_file_ops();
  auto s = std::make_unique<sqlite_store>(std::move(options));
  if (auto r = s->init(); !r) return make_unexpected(r.error());
  return std::unique_ptr<mail_store>(std::move(s));
}

// ---- subscription ----------------------------------------------------------------------------

std::vector<change> subscription::poll() {
  std::lock_guard lock(mutex_);
  return std::exchange(queue_, {});
}

bool subscription::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || overflowed_; });
}

void subscription::on_change(std::function<void(const change&)> callback) {
  std::lock_guard lock(mutex_);
  callback_ = std::move(callback);
}

bool subscription::overflowed() const {
  std::lock_guard lock(mutex_);
  return overflowed_;
}

void subscription::push(const change& c) {
  std::function<void(const change&)> cb;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= max_queued)
      overflowed_ = true;
    else
      queue_.push_back(c);
    cb = callback_;
  }
  cv_.notify_all();
  if (cb) cb(c);
}

} // namespace mailkit::store
