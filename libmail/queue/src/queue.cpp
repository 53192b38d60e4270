// SPDX-License-Identifier: Apache-2.0
// The durable queue (queue.hpp): acceptance with group commit, delivery workers, retry
// schedule, DSNs, recovery scan.
#include "sqlite_db.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/core/log.hpp>
#include <mailkit/core/thread_name.hpp>
#include <mailkit/queue/queue.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace mailkit::queue {

std::chrono::seconds retry_schedule::interval(unsigned attempt) const noexcept {
  if (attempt == 0) attempt = 1;
  double s = static_cast<double>(first.count()) *
             std::pow(factor < 1.0 ? 1.0 : factor, static_cast<double>(attempt - 1));
  const double cap = static_cast<double>(max_interval.count());
  if (!(s < cap)) s = cap; // also catches inf/NaN
  return std::chrono::seconds(static_cast<std::int64_t>(s));
}

void latency_histogram::observe(double seconds) noexcept {
  if (!(seconds >= 0)) seconds = 0; // a clock stepped back, or NaN
  std::size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i])
    ++i;
  ++counts[i];
  sum += seconds;
  ++count;
}

std::string_view to_string(recipient_state s) noexcept {
  switch (s) {
  case recipient_state::pending:
    return "pending";
  case recipient_state::deferred:
    return "deferred";
  case recipient_state::delivered:
    return "delivered";
  case recipient_state::bounced:
    return "bounced";
  }
  return "pending";
}

std::string make_queue_id(const clock& clk) {
  static std::atomic<std::uint32_t> counter{0};
  static thread_local std::mt19937 rng{std::random_device{}()};
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(clk.now().time_since_epoch()).count();
  char b[32];
  std::snprintf(
      b, sizeof b, "%014llx%04x%04x", static_cast<unsigned long long>(us) & 0xffffffffffffffull,
      static_cast<unsigned>(counter.fetch_add(1) & 0xffff), static_cast<unsigned>(rng() & 0xffff));
  return b;
}

namespace {

using detail::statement;

std::int64_t unix_seconds(const clock& c) {
  return std::chrono::duration_cast<std::chrono::seconds>(c.now().time_since_epoch()).count();
}
std::int64_t unix_micros(const clock& c) {
  return std::chrono::duration_cast<std::chrono::microseconds>(c.now().time_since_epoch()).count();
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Append the file's bytes to `out` (one copy from the page cache, none in user space).
expected<void> read_file_into(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_unexpected(mailkit::error_code(errno, boost::system::system_category()));
  struct stat st {};
  std::size_t at = out.size();
  if (::fstat(fd, &st) == 0 && st.st_size > 0)
    out.reserve(at + static_cast<std::size_t>(st.st_size));
  for (;;) {
    if (out.capacity() - at < 65536) out.reserve(out.capacity() * 2 + 65536);
    out.resize(out.capacity());
    const ssize_t n = ::read(fd, out.data() + at, out.size() - at);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      out.resize(at);
      return make_unexpected(mailkit::error_code(e, boost::system::system_category()));
    }
    if (n == 0) break;
    at += static_cast<std::size_t>(n);
  }
  out.resize(at);
  ::close(fd);
  return {};
}

expected<std::string> read_file(const std::string& path) {
  std::string out;
  if (auto r = read_file_into(path, out); !r) return make_unexpected(r.error());
  return out;
}

// A fixed pool of threads running posted jobs (the parallel fsyncs of acceptance).
class thread_pool {
public:
  explicit thread_pool(unsigned n) {
    for (unsigned i = 0; i < std::max(1u, n); ++i)
      threads_.emplace_back([this] {
        name_this_thread("mk-queue-sync");
        run();
      });
  }
  ~thread_pool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }
  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(f));
    }
    cv_.notify_one();
  }

private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

class queue_impl;

class writer_impl final : public message_writer {
public:
  writer_impl(const options& o, std::string tmp_dir) : o_(o), tmp_dir_(std::move(tmp_dir)) {}
  ~writer_impl() override { abort(); }

  expected<void> write(std::string_view chunk) override {
    if (size_ + chunk.size() > o_.limits.max_message_size) return fail(errc::message_too_large);
    size_ += chunk.size();
    if (fd_ < 0 && buf_.size() + chunk.size() <= o_.memory_buffer) {
      const std::size_t need = buf_.size() + chunk.size();
      if (need > buf_.capacity() && need > 16 * 1024) {
        // Past 16 KiB the message is a large one: 128 KiB at once, then doubling, instead of
        // the string's doubling from a few KiB (each step copies what is there).
        buf_.reserve(std::min(o_.memory_buffer,
                              std::max({need, 2 * buf_.capacity(), std::size_t{128} * 1024})));
      }
      append_bytes(buf_, chunk);
      return {};
    }
    if (fd_ < 0) {
      if (auto r = open_file(); !r) return r;
    }
    append_bytes(buf_, chunk);
    if (buf_.size() >= 256 * 1024) return flush();
    return {};
  }
  std::uint64_t size() const noexcept override { return size_; }
  std::optional<std::string_view> in_memory() const noexcept override {
    if (fd_ >= 0) return std::nullopt;
    return std::string_view(buf_);
  }
  expected<std::string> contents() const override {
    if (fd_ < 0) return buf_;
    auto f = read_file(path_);
    if (!f) return make_unexpected(from_errno(f.error().value()));
    // The part not yet flushed is still in buf_.
    *f += buf_;
    return f;
  }
  void set_trace(std::string fields) override { trace_ = std::move(fields); }
  void abort() noexcept override {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(path_.c_str());
    }
    buf_.clear();
    buf_.shrink_to_fit();
  }

  // On a sync thread: everything to the file, fsync, close, rename to `final_path`.
  expected<void> persist(const std::string& final_path, const std::string& id) {
    if (fd_ < 0) {
      path_ = tmp_dir_ + "/" + id;
      if (auto r = create(path_); !r) return r;
    }
    if (auto r = flush(); !r) return cleanup(r.error());
    if (int e = inject(io_op::fsync)) return cleanup(from_errno(e));
    // DESIGN.md §4: the message file is durable before it is renamed into the queue.
    if (::fdatasync(fd_) != 0) return cleanup(from_errno(errno));
    ::close(fd_);
    fd_ = -1;
    if (int e = inject(io_op::rename)) return cleanup(from_errno(e));
    if (::rename(path_.c_str(), final_path.c_str()) != 0) return cleanup(from_errno(errno));
    path_.clear();
    return {};
  }
  [[nodiscard]] std::string& trace() { return trace_; }

private:
  int inject(io_op op) const { return o_.fault ? o_.fault(op) : 0; }
  expected<void> cleanup(mailkit::error_code ec) {
    abort();
    if (!path_.empty()) ::unlink(path_.c_str()); // closed already (a failed rename)
    return make_unexpected(ec);
  }
  expected<void> create(const std::string& path) {
    if (int e = inject(io_op::create)) return make_unexpected(from_errno(e));
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) return make_unexpected(from_errno(errno));
    return {};
  }
  expected<void> open_file() {
    static std::atomic<std::uint64_t> n{0};
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char b[64];
    std::snprintf(b, sizeof b, "/s%d-%llx-%llx", static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(n.fetch_add(1)),
                  static_cast<unsigned long long>(rng()));
    path_ = tmp_dir_ + b;
    return create(path_);
  }
  expected<void> flush() {
    if (buf_.empty()) return {};
    if (int e = inject(io_op::write)) return make_unexpected(from_errno(e));
    if (!write_all(fd_, buf_)) return make_unexpected(from_errno(errno));
    buf_.clear();
    return {};
  }

  const options& o_;
  std::string tmp_dir_;
  std::string path_;
  std::string buf_;
  std::string trace_;
  std::uint64_t size_ = 0;
  int fd_ = -1;
};

struct entry {
  envelope env;
  std::string trace;
  std::uint64_t size = 0;
  std::vector<recipient_status> rs;
  bool warned = false;
  bool claimed = false;
  bool held = false;                                ///< operator hold (messages.held)
  std::chrono::steady_clock::time_point enqueued{}; ///< async_enqueue() was called
};

bool final_state(recipient_state s) {
  return s == recipient_state::delivered || s == recipient_state::bounced;
}

struct pending_commit {
  std::shared_ptr<entry> ent;
  std::string file;
  queue::enqueue_handler done;
};

class queue_impl final : public queue {
public:
  explicit queue_impl(options o)
      : o_(std::move(o)), clk_(o_.clk ? o_.clk : &default_clock()), tmp_(o_.path + "/tmp"),
        msg_(o_.path + "/msg") {}

  ~queue_impl() override {
    stop();
    {
      std::lock_guard lock(commit_mu_);
      commit_stop_ = true;
    }
    commit_cv_.notify_all();
    if (committer_.joinable()) committer_.join();
    pool_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  expected<void> init() {
    std::error_code fec;
    std::filesystem::create_directories(tmp_, fec);
    std::filesystem::create_directories(msg_, fec);
    if (fec) return make_unexpected(from_errno(fec.value()));
    // One process per queue directory.
    lock_fd_ = ::open((o_.path + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return make_unexpected(from_errno(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) return fail(errc::locked);
    if (auto r = db_.open(o_.path + "/queue.db"); !r) return r;
    // DESIGN.md §4: WAL with synchronous=FULL, so a COMMIT has fsynced the WAL.
    if (auto r = db_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !r) return r;
    if (auto r = db_.exec(
            "CREATE TABLE IF NOT EXISTS messages(id TEXT PRIMARY KEY, record BLOB NOT NULL, "
            "trace BLOB NOT NULL, size INTEGER NOT NULL, warned INTEGER NOT NULL DEFAULT 0) "
            "WITHOUT ROWID;"
            "CREATE TABLE IF NOT EXISTS recipients(id TEXT NOT NULL, idx INTEGER NOT NULL, "
            "state INTEGER NOT NULL, attempts INTEGER NOT NULL, next_attempt INTEGER NOT NULL, "
            "status TEXT NOT NULL, last_reply TEXT NOT NULL, PRIMARY KEY(id, idx)) "
            "WITHOUT ROWID;");
        !r)
      return r;
    // The operator hold flag (queue::hold), added after version 1 of the schema: older
    // databases get the column here (SQLite cannot say ADD COLUMN IF NOT EXISTS).
    {
      statement cols(db_.handle(), "SELECT 1 FROM pragma_table_info('messages') WHERE name='held'");
      if (!cols.ok()) return fail(errc::io_error);
      if (cols.step() != SQLITE_ROW) {
        if (auto r = db_.exec("ALTER TABLE messages ADD COLUMN held INTEGER NOT NULL DEFAULT 0");
            !r)
          return r;
      }
    }
    ins_msg_ = statement(db_.handle(), "INSERT INTO messages(id, record, trace, size, warned) "
                                       "VALUES(?,?,?,?,0)");
    ins_rcpt_ =
        statement(db_.handle(), "INSERT INTO recipients(id, idx, state, attempts, next_attempt, "
                                "status, last_reply) VALUES(?,?,0,0,0,'','')");
    upd_rcpt_ = statement(db_.handle(),
                          "UPDATE recipients SET state=?, attempts=?, next_attempt=?, status=?, "
                          "last_reply=? WHERE id=? AND idx=?");
    upd_warned_ = statement(db_.handle(), "UPDATE messages SET warned=1 WHERE id=?");
    del_msg_ = statement(db_.handle(), "DELETE FROM messages WHERE id=?");
    del_rcpt_ = statement(db_.handle(), "DELETE FROM recipients WHERE id=?");
    upd_held_ = statement(db_.handle(), "UPDATE messages SET held=? WHERE id=?");
    if (!ins_msg_.ok() || !ins_rcpt_.ok() || !upd_rcpt_.ok() || !upd_warned_.ok() ||
        !del_msg_.ok() || !del_rcpt_.ok() || !upd_held_.ok())
      return fail(errc::io_error);

    std::vector<std::shared_ptr<entry>> missing;
    if (auto r = recover(missing); !r) return r;
    pool_ = std::make_unique<thread_pool>(o_.sync_threads);
    committer_ = std::thread([this] {
      name_this_thread("mk-queue-commit");
      commit_loop();
    });
    // Records whose file is gone: the content is lost (a damaged disk or an operator's rm).
    // Tell the sender (when a DSN is allowed) and drop the record.
    for (auto& e : missing) {
      std::vector<dsn_recipient> failed;
      for (const auto& r : e->env.recipients)
        if (wants_dsn(e->env, r, dsn_action::failed))
          failed.push_back({&r, dsn_action::failed, "4.3.0", "queue file lost", "", 0, 0});
      if (!failed.empty()) send_dsn(*e, "", failed);
      std::lock_guard lock(db_mu_);
      remove_rows(e->env.id);
    }
    return {};
  }

  std::unique_ptr<message_writer> create_message() override {
    return std::make_unique<writer_impl>(o_, tmp_);
  }

  void async_enqueue(std::unique_ptr<message_writer> message, envelope e,
                     enqueue_handler done) override {
    auto* w = dynamic_cast<writer_impl*>(message.get());
    if (!w) {
      done(fail(errc::io_error));
      return;
    }
    if (e.recipients.empty()) {
      done(fail(errc::no_recipients));
      return;
    }
    if (e.recipients.size() > o_.limits.max_recipients) {
      done(fail(errc::too_many_recipients));
      return;
    }
    if (w->size() > o_.limits.max_message_size) {
      done(fail(errc::message_too_large));
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        done(fail(errc::closed));
        return;
      }
      // Explicit limits: messages and bytes in the queue (counting those being committed).
      if (entries_.size() + inflight_ >= o_.limits.max_messages ||
          (o_.limits.max_bytes && bytes_ + inflight_bytes_ + w->size() > o_.limits.max_bytes)) {
        done(fail(errc::queue_full));
        return;
      }
      ++inflight_;
      inflight_bytes_ += w->size();
    }
    // A caller may name the message first (its Received field carries the id).
    if (e.id.empty() || e.id.size() > 64 ||
        e.id.find_first_not_of("0123456789abcdef") != std::string::npos)
      e.id = make_queue_id(*clk_);
    e.received = unix_micros(*clk_);
    auto ent = std::make_shared<entry>();
    ent->enqueued = std::chrono::steady_clock::now();
    ent->env = std::move(e);
    ent->size = w->size();
    ent->trace = std::move(w->trace());
    ent->rs.resize(ent->env.recipients.size());
    message.release();
    std::unique_ptr<writer_impl> wp(w);
    pool_->post([this, wp = std::shared_ptr<writer_impl>(std::move(wp)), ent,
                 done = std::move(done)]() mutable {
      const std::string file = msg_ + "/" + ent->env.id;
      auto r = wp->persist(file, ent->env.id);
      wp.reset();
      if (!r) {
        finish_inflight(ent->size);
        log_error("cannot write message file: " + r.error().message());
        done(make_unexpected(r.error()));
        return;
      }
      {
        std::lock_guard lock(commit_mu_);
        commits_.push_back({std::move(ent), file, std::move(done)});
      }
      commit_cv_.notify_one();
    });
  }

  expected<std::string> enqueue(envelope e, std::string_view message, std::string trace) override {
    auto w = create_message();
    if (auto r = w->write(message); !r) return make_unexpected(r.error());
    w->set_trace(std::move(trace));
    std::promise<expected<std::string>> p;
    auto f = p.get_future();
    async_enqueue(std::move(w), std::move(e),
                  [&p](expected<std::string> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  void set_local(std::shared_ptr<delivery_target> local) override {
    std::lock_guard lock(mu_);
    local_ = std::move(local);
  }
  void set_remote(std::shared_ptr<remote_transport> remote) override {
    std::lock_guard lock(mu_);
    remote_ = std::move(remote);
  }

  void start() override {
    std::lock_guard lock(mu_);
    if (!workers_.empty()) return;
    stopping_ = false;
    for (unsigned i = 0; i < std::max(1u, o_.delivery_threads); ++i)
      workers_.emplace_back([this] {
        name_this_thread("mk-queue-deliv");
        worker_loop();
      });
  }

  void stop() override {
    std::vector<std::thread> ws;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      ws.swap(workers_);
    }
    cv_.notify_all();
    for (auto& t : ws)
      t.join();
    // Let acceptances in flight finish (their handlers are waiting for an answer).
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return inflight_ == 0; });
  }

  std::size_t deliver_due() override {
    std::size_t attempted = 0;
    for (;;) {
      auto batch = claim(true);
      if (batch.empty()) break;
      attempted += process(batch);
    }
    return attempted;
  }

  void flush() override {
    {
      std::lock_guard lock(mu_);
      for (auto& [id, e] : entries_) {
        if (e->claimed || e->held) continue; // a worker has it now, or an operator holds it
        bool any = false;
        for (auto& r : e->rs)
          if (r.state == recipient_state::deferred) {
            r.next_attempt = 0;
            any = true;
          }
        if (any) ready_.push_back(id);
      }
    }
    cv_.notify_all();
  }

  expected<message_status> status(std::string_view id) override {
    std::lock_guard lock(mu_);
    auto it = entries_.find(std::string(id));
    if (it == entries_.end()) return fail(errc::not_found);
    message_status s;
    s.env = it->second->env;
    s.recipients = it->second->rs;
    s.size = it->second->size;
    s.warned = it->second->warned;
    s.held = it->second->held;
    s.delivering = it->second->claimed;
    return s;
  }

  std::vector<message_status> list(std::size_t max) override {
    std::lock_guard lock(mu_);
    std::vector<message_status> out;
    out.reserve(std::min(max, entries_.size()));
    for (const auto& [id, e] : entries_) {
      if (out.size() >= max) break;
      message_status s;
      s.env = e->env;
      s.recipients = e->rs;
      s.size = e->size;
      s.warned = e->warned;
      s.held = e->held;
      s.delivering = e->claimed;
      out.push_back(std::move(s));
    }
    return out;
  }

  expected<void> hold(std::string_view id) override { return set_held(id, true); }

  expected<void> release(std::string_view id) override { return set_held(id, false); }

  expected<void> remove(std::string_view id, bool notify_sender) override {
    std::lock_guard op(op_mu_);
    std::shared_ptr<entry> e;
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(std::string(id));
      if (it == entries_.end()) return fail(errc::not_found);
      // A worker's pass would write the states of a message that no longer exists.
      if (it->second->claimed) return fail(errc::busy);
      e = it->second;
      // Out of reach of the workers from here on (ready_/timers_ entries are skipped).
      entries_.erase(it);
    }
    expected<void> r;
    {
      std::lock_guard lock(db_mu_);
      r = db_.exec("BEGIN IMMEDIATE");
      if (r && !remove_rows(e->env.id)) r = fail(errc::io_error);
      if (r) {
        if (int err = inject(io_op::commit))
          r = make_unexpected(from_errno(err));
        else
          r = db_.exec("COMMIT");
      }
      if (!r) (void)db_.exec("ROLLBACK");
    }
    if (!r) {
      std::lock_guard lock(mu_);
      entries_[e->env.id] = e; // nothing changed
      return r;
    }
    std::string data;
    if (notify_sender) {
      std::vector<dsn_recipient> failed;
      for (std::size_t i = 0; i < e->env.recipients.size(); ++i) {
        const auto& rcpt = e->env.recipients[i];
        if (final_state(e->rs[i].state) || !wants_dsn(e->env, rcpt, dsn_action::failed)) continue;
        failed.push_back({&rcpt, dsn_action::failed, "5.0.0", "deleted by the postmaster", "",
                          unix_seconds(*clk_), 0});
      }
      if (!failed.empty()) {
        data = e->trace;
        (void)read_file_into(msg_ + "/" + e->env.id, data);
        send_dsn(*e, data, failed);
      }
    }
    ::unlink((msg_ + "/" + e->env.id).c_str());
    {
      std::lock_guard lock(mu_);
      bytes_ -= e->size;
      ++stats_.removed;
    }
    std::size_t pending = 0;
    for (const auto& st : e->rs)
      pending += final_state(st.state) ? 0 : 1;
    mailkit::log(log_level::notice, "queue",
                 e->env.id + ": removed by the postmaster (" + std::to_string(pending) +
                     " recipient(s) not delivered" +
                     (notify_sender ? ", sender notified)" : ", no notification)"));
    return {};
  }

  std::vector<std::string> ids() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [id, e] : entries_)
      out.push_back(id);
    return out;
  }

  queue_stats stats() const override {
    std::lock_guard lock(mu_);
    queue_stats s = stats_;
    s.messages = entries_.size();
    s.bytes = bytes_;
    s.held = static_cast<std::size_t>(std::count_if(
        entries_.begin(), entries_.end(), [](const auto& kv) { return kv.second->held; }));
    return s;
  }
  const recovery_report& recovery() const noexcept override { return recovery_; }
  const options& config() const noexcept override { return o_; }

private:
  expected<void> set_held(std::string_view id, bool held) {
    std::lock_guard op(op_mu_);
    std::shared_ptr<entry> e;
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(std::string(id));
      if (it == entries_.end()) return fail(errc::not_found);
      e = it->second;
      if (e->held == held) return {};
    }
    {
      // Durable first: a hold that a restart forgets would let the message go.
      std::lock_guard lock(db_mu_);
      upd_held_.reset().bind(1, static_cast<std::int64_t>(held ? 1 : 0)).bind(2, e->env.id);
      if (int err = inject(io_op::commit)) return make_unexpected(from_errno(err));
      if (int st = upd_held_.step(); st != SQLITE_DONE)
        return make_unexpected(detail::sqlite_error(st));
    }
    {
      std::lock_guard lock(mu_);
      e->held = held;
      // Released: the deferred recipients go now, the pending ones as usual. A message a
      // worker has (held during an attempt) is scheduled by that worker when it is done.
      if (!held && !e->claimed && entries_.count(e->env.id)) {
        for (auto& r : e->rs)
          if (r.state == recipient_state::deferred) r.next_attempt = 0;
        schedule(e, unix_seconds(*clk_));
      }
    }
    if (!held) cv_.notify_all();
    mailkit::log(log_level::notice, "queue",
                 e->env.id + (held ? ": placed on hold by the postmaster"
                                   : ": released from hold by the postmaster"));
    return {};
  }

  static void log_error(const std::string& m) { mailkit::log(log_level::error, "queue", m); }
  static void log_info(const std::string& m) {
    if (log_enabled(log_level::info)) mailkit::log(log_level::info, "queue", m);
  }

  int inject(io_op op) const { return o_.fault ? o_.fault(op) : 0; }

  void finish_inflight(std::uint64_t size) {
    {
      std::lock_guard lock(mu_);
      --inflight_;
      inflight_bytes_ -= size;
    }
    done_cv_.notify_all();
  }

  // ---- recovery ------------------------------------------------------------------------

  expected<void> recover(std::vector<std::shared_ptr<entry>>& missing) {
    // 1. Partial writes: no 250 was ever sent for a file in tmp/.
    std::error_code fec;
    for (const auto& f : std::filesystem::directory_iterator(tmp_, fec)) {
      std::error_code rec;
      std::filesystem::remove(f.path(), rec);
      ++recovery_.temp_files_removed;
    }
    // 2. Records.
    std::set<std::string> known;
    statement all(db_.handle(), "SELECT id, record, trace, size, warned, held FROM messages");
    statement rc(db_.handle(), "SELECT idx, state, attempts, next_attempt, status, last_reply "
                               "FROM recipients WHERE id=? ORDER BY idx");
    if (!all.ok() || !rc.ok()) return fail(errc::io_error);
    std::vector<std::shared_ptr<entry>> loaded;
    for (int s = all.step(); s == SQLITE_ROW; s = all.step()) {
      const std::string id = all.text(0);
      known.insert(id);
      auto env = parse_record(all.text(1));
      if (!env || env->id != id) {
        ++recovery_.corrupt_records;
        log_error("queue record " + id + " is damaged; left in the database for an operator");
        continue;
      }
      auto e = std::make_shared<entry>();
      e->env = std::move(*env);
      e->trace = all.text(2);
      e->size = static_cast<std::uint64_t>(all.int64(3));
      e->warned = all.int64(4) != 0;
      e->held = all.int64(5) != 0;
      e->rs.resize(e->env.recipients.size());
      rc.reset().bind(1, id);
      std::size_t rows = 0;
      bool bad = false;
      for (int t = rc.step(); t == SQLITE_ROW; t = rc.step()) {
        const auto idx = rc.int64(0);
        const auto st = rc.int64(1);
        if (idx < 0 || static_cast<std::size_t>(idx) >= e->rs.size() || st < 0 || st > 3) {
          bad = true;
          break;
        }
        auto& r = e->rs[static_cast<std::size_t>(idx)];
        r.state = static_cast<recipient_state>(st);
        r.attempts = static_cast<unsigned>(rc.int64(2));
        r.next_attempt = rc.int64(3);
        r.status = rc.text(4);
        r.last_reply = rc.text(5);
        ++rows;
      }
      if (bad || rows != e->rs.size()) {
        ++recovery_.corrupt_records;
        log_error("queue record " + id + " has damaged recipient rows; left for an operator");
        continue;
      }
      loaded.push_back(std::move(e));
    }
    // 3. Files without a record: renamed into msg/ but never committed, so never answered 250.
    std::set<std::string> files;
    for (const auto& f : std::filesystem::directory_iterator(msg_, fec)) {
      const std::string name = f.path().filename().string();
      if (!known.count(name)) {
        std::error_code rec;
        std::filesystem::remove(f.path(), rec);
        ++recovery_.orphan_files_removed;
        log_info("removed queue file " + name + " without a record (never acknowledged)");
      } else {
        files.insert(name);
      }
    }
    // 4. Records without a file.
    std::int64_t now = unix_seconds(*clk_);
    for (auto& e : loaded) {
      if (!files.count(e->env.id)) {
        ++recovery_.missing_files;
        log_error("queue file of " + e->env.id +
                  " is missing: the message is lost; notifying "
                  "the sender");
        missing.push_back(e);
        continue;
      }
      bool all_final = true;
      for (const auto& r : e->rs)
        all_final &= final_state(r.state);
      if (all_final) {
        // Finished before the crash, removed only partly.
        remove_rows(e->env.id);
        std::error_code rec;
        std::filesystem::remove(msg_ + "/" + e->env.id, rec);
        continue;
      }
      ++recovery_.messages;
      bytes_ += e->size;
      entries_[e->env.id] = e;
      schedule(e, now);
    }
    return {};
  }

  // Under mu_ (or before threads exist): put an entry where a worker will find it.
  void schedule(const std::shared_ptr<entry>& e, std::int64_t now) {
    if (e->held) return; // release() schedules it again
    std::int64_t next = INT64_MAX;
    for (const auto& r : e->rs) {
      if (r.state == recipient_state::pending) next = std::min<std::int64_t>(next, 0);
      if (r.state == recipient_state::deferred) next = std::min(next, r.next_attempt);
    }
    if (next == INT64_MAX) return;
    if (next <= now)
      ready_.push_back(e->env.id);
    else
      timers_.emplace(next, e->env.id);
  }

  bool remove_rows(const std::string& id) {
    del_msg_.reset().bind(1, id);
    del_rcpt_.reset().bind(1, id);
    return del_msg_.step() == SQLITE_DONE && del_rcpt_.step() == SQLITE_DONE;
  }

  // ---- acceptance: the committer ----------------------------------------------------------

  void commit_loop() {
    for (;;) {
      std::vector<pending_commit> batch;
      {
        std::unique_lock lock(commit_mu_);
        commit_cv_.wait(lock, [&] { return commit_stop_ || !commits_.empty(); });
        if (commits_.empty()) return;
        batch.swap(commits_);
      }
      commit_batch(batch);
    }
  }

  expected<void> fsync_dir(const std::string& dir) {
    if (int e = inject(io_op::fsync_dir)) return make_unexpected(from_errno(e));
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_unexpected(from_errno(errno));
    const int r = ::fsync(fd);
    const int e = errno;
    ::close(fd);
    if (r != 0) return make_unexpected(from_errno(e));
    return {};
  }

  void commit_batch(std::vector<pending_commit>& batch) {
    // DESIGN.md §4: the renames are durable (one directory fsync for the whole group) before
    // the records commit.
    auto r = fsync_dir(msg_);
    if (r) {
      std::lock_guard lock(db_mu_);
      r = insert_records(batch);
    }
    if (!r) {
      log_error("cannot commit " + std::to_string(batch.size()) +
                " queue record(s): " + r.error().message());
      for (auto& c : batch) {
        ::unlink(c.file.c_str());
        finish_inflight(c.ent->size);
        c.done(make_unexpected(r.error()));
      }
      return;
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.group_commits;
      const auto committed = std::chrono::steady_clock::now();
      for (auto& c : batch) {
        stats_.acceptance.observe(
            std::chrono::duration<double>(committed - c.ent->enqueued).count());
        entries_[c.ent->env.id] = c.ent;
        ready_.push_back(c.ent->env.id);
        bytes_ += c.ent->size;
        --inflight_;
        inflight_bytes_ -= c.ent->size;
        ++stats_.accepted;
      }
    }
    cv_.notify_all();
    done_cv_.notify_all();
    for (auto& c : batch)
      c.done(c.ent->env.id);
  }

  // Under db_mu_.
  expected<void> insert_records(const std::vector<pending_commit>& batch) {
    if (auto r = db_.exec("BEGIN IMMEDIATE"); !r) return r;
    auto rollback = [&](mailkit::error_code ec) -> expected<void> {
      (void)db_.exec("ROLLBACK");
      return make_unexpected(ec);
    };
    for (const auto& c : batch) {
      const auto& e = c.ent->env;
      ins_msg_.reset()
          .bind(1, e.id)
          .bind_blob(2, serialize_record(e))
          .bind_blob(3, c.ent->trace)
          .bind(4, static_cast<std::int64_t>(c.ent->size));
      if (int s = ins_msg_.step(); s != SQLITE_DONE) return rollback(detail::sqlite_error(s));
      for (std::size_t i = 0; i < e.recipients.size(); ++i) {
        ins_rcpt_.reset().bind(1, e.id).bind(2, static_cast<std::int64_t>(i));
        if (int s = ins_rcpt_.step(); s != SQLITE_DONE) return rollback(detail::sqlite_error(s));
      }
    }
    if (int e = inject(io_op::commit)) return rollback(from_errno(e));
    if (auto r = db_.exec("COMMIT"); !r) return rollback(r.error());
    return {};
  }

  // ---- delivery ----------------------------------------------------------------------------

  void worker_loop() {
    for (;;) {
      std::vector<std::shared_ptr<entry>> batch;
      {
        std::unique_lock lock(mu_);
        for (;;) {
          if (stopping_) return;
          if (o_.delivery_wait.count() > 0 && !ready_.empty() &&
              ready_.size() < o_.delivery_batch) {
            // Let a few more arrive (group delivery); stop() and a full batch end the wait.
            cv_.wait_for(lock, o_.delivery_wait,
                         [&] { return stopping_ || ready_.size() >= o_.delivery_batch; });
            if (stopping_) return;
          }
          batch = claim_locked(false);
          if (!batch.empty()) break;
          // Wake for new messages, flush() and stop(); timers are polled (the clock may be a
          // test clock that does not move with real time).
          cv_.wait_for(lock, std::chrono::milliseconds(500));
        }
      }
      process(batch);
    }
  }

  std::vector<std::shared_ptr<entry>> claim(bool all) {
    std::lock_guard lock(mu_);
    return claim_locked(all);
  }

  std::vector<std::shared_ptr<entry>> claim_locked(bool) {
    std::vector<std::shared_ptr<entry>> out;
    const std::int64_t now = unix_seconds(*clk_);
    auto take = [&](const std::string& id) {
      auto it = entries_.find(id);
      // A message held after it was scheduled stays where it is until release().
      if (it == entries_.end() || it->second->claimed || it->second->held) return;
      it->second->claimed = true;
      out.push_back(it->second);
    };
    while (!ready_.empty() && out.size() < o_.delivery_batch) {
      take(ready_.front());
      ready_.pop_front();
    }
    while (!timers_.empty() && timers_.begin()->first <= now && out.size() < o_.delivery_batch) {
      take(timers_.begin()->second);
      timers_.erase(timers_.begin());
    }
    return out;
  }

  struct work {
    std::shared_ptr<entry> ent;
    std::string data; // trace + file
    bool readable = true;
    std::vector<recipient_status> before;
    std::vector<dsn_recipient> failed, delivered, delayed;
    bool changed = false, warned_now = false;
  };

  std::size_t process(std::vector<std::shared_ptr<entry>>& batch) {
    const std::int64_t now = unix_seconds(*clk_);
    std::vector<work> ws(batch.size());
    std::vector<delivery_item> local_items, remote_items;
    std::vector<std::size_t> local_w, remote_w; // the work index of each item
    std::shared_ptr<delivery_target> local;
    std::shared_ptr<remote_transport> remote;
    {
      std::lock_guard lock(mu_);
      local = local_;
      remote = remote_;
    }
    std::vector<std::pair<std::size_t, std::size_t>> unrouted; // (work, rcpt) without a target
    std::vector<std::pair<std::size_t, std::size_t>> unreadable;
    for (std::size_t w = 0; w < batch.size(); ++w) {
      auto& wk = ws[w];
      wk.ent = batch[w];
      wk.before = wk.ent->rs;
      wk.data.reserve(wk.ent->trace.size() + wk.ent->size);
      wk.data = wk.ent->trace;
      if (!read_file_into(msg_ + "/" + wk.ent->env.id, wk.data)) wk.readable = false;
    }
    for (std::size_t w = 0; w < ws.size(); ++w) {
      auto& wk = ws[w];
      const auto& env = wk.ent->env;
      for (std::size_t i = 0; i < env.recipients.size(); ++i) {
        const auto& st = wk.ent->rs[i];
        if (final_state(st.state)) continue;
        if (st.state == recipient_state::deferred && st.next_attempt > now) continue;
        if (!wk.readable) {
          unreadable.emplace_back(w, i);
          continue;
        }
        delivery_item it;
        it.queue_id = env.id;
        it.env = &env;
        it.index = i;
        it.rcpt = &env.recipients[i];
        it.message = wk.data;
        if (env.recipients[i].where == route::local && local) {
          local_items.push_back(it);
          local_w.push_back(w);
        } else if (env.recipients[i].where == route::remote && remote) {
          remote_items.push_back(it);
          remote_w.push_back(w);
        } else
          unrouted.emplace_back(w, i);
      }
    }
    if (!local_items.empty()) local->deliver(local_items);
    if (!remote_items.empty()) remote->deliver(remote_items);

    std::size_t attempted = 0;
    // (message, recipient) pairs held in this pass: no delay warning for them.
    std::set<std::pair<std::size_t, std::size_t>> held_now;
    auto apply = [&](std::size_t w, std::size_t i, const delivery_result& res) {
      auto& wk = ws[w];
      auto& st = wk.ent->rs[i];
      const auto& env = wk.ent->env;
      const auto& rcpt = env.recipients[i];
      ++attempted;
      wk.changed = true;
      if (res.outcome != delivery_result::status::held) ++st.attempts;
      st.status = res.enhanced;
      st.last_reply = res.reply;
      switch (res.outcome) {
      case delivery_result::status::duplicate:
        mailkit::log(
            log_level::notice, "queue",
            env.id + ": <" + rcpt.address +
                ">: already delivered before a restart (detected by queue id); not delivered "
                "again");
        ++stats_.duplicates;
        [[fallthrough]];
      case delivery_result::status::delivered:
        st.state = recipient_state::delivered;
        ++stats_.delivered;
        stats_.delivery.observe(static_cast<double>(unix_micros(*clk_) - env.received) / 1e6);
        log_info(env.id + ": to=<" + rcpt.address + "> status=sent (" + res.reply + ")");
        if (wants_dsn(env, rcpt, dsn_action::delivered))
          wk.delivered.push_back(
              {&rcpt, rcpt.where == route::local ? dsn_action::delivered : dsn_action::relayed,
               res.enhanced, res.reply, res.remote_mta, now, 0});
        break;
      case delivery_result::status::permanent:
        st.state = recipient_state::bounced;
        ++stats_.bounced;
        log_info(env.id + ": to=<" + rcpt.address + "> status=bounced (" + res.reply + ")");
        if (wants_dsn(env, rcpt, dsn_action::failed))
          wk.failed.push_back(
              {&rcpt, dsn_action::failed, res.enhanced, res.reply, res.remote_mta, now, 0});
        break;
      case delivery_result::status::held:
        // Held (a relay quota): back at hold_until, with no attempt counted and no expiry
        // check, so a quota backlog is never bounced because of its wait.
        st.state = recipient_state::deferred;
        st.next_attempt = std::max(res.hold_until, now + 1);
        held_now.emplace(w, i);
        ++stats_.deferred;
        log_info(env.id + ": to=<" + rcpt.address + "> status=held (" + res.reply + ")");
        break;
      case delivery_result::status::transient: {
        const std::int64_t received = env.received / 1000000;
        // RFC 5321 §4.5.4.1: give up after the configured time; RFC 3463 4.4.7: expired.
        if (now - received >= o_.retry.give_up.count()) {
          st.state = recipient_state::bounced;
          st.status = "4.4.7";
          ++stats_.bounced;
          log_info(env.id + ": to=<" + rcpt.address + "> status=expired (" + res.reply + ")");
          if (wants_dsn(env, rcpt, dsn_action::failed))
            wk.failed.push_back({&rcpt, dsn_action::failed, "4.4.7",
                                 "delivery time expired; last error: " + res.reply, res.remote_mta,
                                 now, 0});
        } else {
          st.state = recipient_state::deferred;
          st.next_attempt = now + o_.retry.interval(st.attempts).count();
          ++stats_.deferred;
          log_info(env.id + ": to=<" + rcpt.address + "> status=deferred (" + res.reply + ")");
        }
        break;
      }
      }
    };
    {
      std::lock_guard lock(mu_); // stats_
      for (std::size_t k = 0; k < local_items.size(); ++k)
        apply(local_w[k], local_items[k].index, local_items[k].result);
      for (std::size_t k = 0; k < remote_items.size(); ++k)
        apply(remote_w[k], remote_items[k].index, remote_items[k].result);
      for (auto [w, i] : unrouted)
        apply(w, i,
              {delivery_result::status::transient, "4.4.1",
               ws[w].ent->env.recipients[i].where == route::remote
                   ? "no outbound transport is configured"
                   : "no local delivery is configured",
               ""});
      for (auto [w, i] : unreadable)
        apply(w, i, {delivery_result::status::transient, "4.3.0", "queue file unreadable", ""});
      // Delay warnings (RFC 3464 Action: delayed), once per message.
      for (auto& wk : ws) {
        const auto& env = wk.ent->env;
        if (o_.retry.delay_warning.count() <= 0 || wk.ent->warned) continue;
        if (now - env.received / 1000000 < o_.retry.delay_warning.count()) continue;
        for (std::size_t i = 0; i < env.recipients.size(); ++i) {
          const auto& st = wk.ent->rs[i];
          if (st.state == recipient_state::deferred && !held_now.count({&wk - ws.data(), i}) &&
              wants_dsn(env, env.recipients[i], dsn_action::delayed))
            wk.delayed.push_back({&env.recipients[i], dsn_action::delayed, st.status, st.last_reply,
                                  "", now, env.received / 1000000 + o_.retry.give_up.count()});
        }
        wk.ent->warned = true;
        wk.warned_now = wk.changed = true;
      }
    }
    // DSNs are queued before the states that caused them commit: a crash in between repeats
    // a DSN, never loses one.
    for (auto& wk : ws) {
      if (!wk.failed.empty()) send_dsn(*wk.ent, wk.data, wk.failed);
      if (!wk.delayed.empty()) send_dsn(*wk.ent, wk.data, wk.delayed);
      if (!wk.delivered.empty()) send_dsn(*wk.ent, wk.data, wk.delivered);
    }
    // Commit the new states; finished messages lose their record, then their file.
    expected<void> committed;
    std::vector<std::string> finished;
    {
      std::lock_guard lock(db_mu_);
      committed = db_.exec("BEGIN IMMEDIATE");
      for (auto& wk : ws) {
        if (!committed || !wk.changed) continue;
        bool all_final = true;
        for (const auto& r : wk.ent->rs)
          all_final &= final_state(r.state);
        const auto& id = wk.ent->env.id;
        if (all_final) {
          if (!remove_rows(id)) committed = fail(errc::io_error);
          finished.push_back(id);
          continue;
        }
        for (std::size_t i = 0; i < wk.ent->rs.size() && committed; ++i) {
          const auto& r = wk.ent->rs[i];
          const auto& b = wk.before[i];
          if (r.state == b.state && r.attempts == b.attempts) continue;
          upd_rcpt_.reset()
              .bind(1, static_cast<std::int64_t>(r.state))
              .bind(2, static_cast<std::int64_t>(r.attempts))
              .bind(3, r.next_attempt)
              .bind(4, r.status)
              .bind(5, r.last_reply)
              .bind(6, id)
              .bind(7, static_cast<std::int64_t>(i));
          if (int s = upd_rcpt_.step(); s != SQLITE_DONE)
            committed = make_unexpected(detail::sqlite_error(s));
        }
        if (committed && wk.warned_now) {
          upd_warned_.reset().bind(1, id);
          if (int s = upd_warned_.step(); s != SQLITE_DONE)
            committed = make_unexpected(detail::sqlite_error(s));
        }
      }
      if (committed) {
        if (int e = inject(io_op::commit))
          committed = make_unexpected(from_errno(e));
        else
          committed = db_.exec("COMMIT");
      }
      if (!committed) (void)db_.exec("ROLLBACK");
    }
    std::lock_guard lock(mu_);
    if (!committed) {
      // The deliveries happened but their states are not recorded: keep the old states and try
      // again soon; the targets recognize what they already have (deduplication by queue id).
      log_error("cannot record delivery results: " + committed.error().message());
      for (auto& wk : ws) {
        wk.ent->rs = wk.before;
        wk.ent->claimed = false;
        timers_.emplace(now + 30, wk.ent->env.id);
      }
      return attempted;
    }
    for (const auto& id : finished) {
      auto it = entries_.find(id);
      if (it != entries_.end()) {
        bytes_ -= it->second->size;
        entries_.erase(it);
      }
      ::unlink((msg_ + "/" + id).c_str());
    }
    for (auto& wk : ws) {
      wk.ent->claimed = false;
      if (entries_.count(wk.ent->env.id)) schedule(wk.ent, now);
    }
    return attempted;
  }

  void send_dsn(const entry& e, std::string_view original, const std::vector<dsn_recipient>& rs) {
    dsn_params p;
    p.reporting_mta = o_.hostname;
    p.now = unix_seconds(*clk_);
    envelope b;
    b.bounce = true; // RFC 3461 §6.2: never a DSN about this DSN
    b.smtputf8 = e.env.smtputf8;
    b.eightbitmime = true;
    b.binarymime = e.env.binarymime;
    // RFC 5321 §4.5.5: DSNs are sent with the null reverse path, to the original sender.
    if (o_.route_dsn) b.recipients = o_.route_dsn(e.env.reverse_path);
    if (b.recipients.empty()) {
      recipient r;
      r.where = route::remote;
      r.address = e.env.reverse_path;
      b.recipients.push_back(r);
    }
    for (auto& r : b.recipients) {
      r.notify = notify::never;
      if (r.original.empty()) r.original = e.env.reverse_path;
    }
    const std::string dsn = make_dsn(e.env, original, rs, p);
    auto id = enqueue(std::move(b), dsn, {});
    std::lock_guard lock(mu_);
    if (id) {
      ++stats_.dsns;
      log_info(e.env.id + ": sender notification: " + *id);
    } else {
      log_error(e.env.id + ": cannot queue the sender notification: " + id.error().message());
    }
  }

  options o_;
  const clock* clk_;
  std::string tmp_, msg_;
  int lock_fd_ = -1;
  detail::database db_;
  std::mutex db_mu_;
  std::mutex op_mu_; ///< serializes operator actions (hold, release, remove)
  statement ins_msg_, ins_rcpt_, upd_rcpt_, upd_warned_, del_msg_, del_rcpt_, upd_held_;
  recovery_report recovery_;

  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::map<std::string, std::shared_ptr<entry>> entries_;
  std::deque<std::string> ready_;
  std::multimap<std::int64_t, std::string> timers_;
  std::uint64_t bytes_ = 0, inflight_bytes_ = 0;
  std::size_t inflight_ = 0;
  bool stopping_ = false, closed_ = false;
  std::vector<std::thread> workers_;
  std::shared_ptr<delivery_target> local_;
  std::shared_ptr<remote_transport> remote_;
  queue_stats stats_;

  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::vector<pending_commit> commits_;
  bool commit_stop_ = false;
  std::thread committer_;
  std::unique_ptr<thread_pool> pool_;
};

} // namespace

expected<std::shared_ptr<queue>> queue::open(options opts) {
  if (opts.path.empty()) return fail(errc::io_error);
  auto q = std::make_shared<queue_impl>(std::move(opts));
  if (auto r = q->init(); !r) return make_unexpected(r.error());
  return std::shared_ptr<queue>(std::move(q));
}

} // namespace mailkit::queue
