// SPDX-License-Identifier: Apache-2.0
// The Asio IMAP server: listeners and per-connection coroutines (imap_service.hpp).
#include <mailkit/core/log.hpp>
#include <mailkit/core/thread_name.hpp>
#include <mailkit/server/imap_executor.hpp>
#include <mailkit/server/imap_service.hpp>

// Asio's awaitable frames pair their operator new with a sized operator delete as C++20
// [dcl.fct.def.coroutine] prescribes; GCC 12's -Wmismatched-new-delete does not know the pairing
// and flags the inlined coroutine (as in libmail/smtp/src/server_session.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

namespace mailkit::server {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

/// Run `f` on the worker pool and resume on the session's executor. The session's coroutine
/// waits, so nothing else touches the session's core meanwhile.
template <class F>
asio::awaitable<void> offload(asio::thread_pool& pool, const char* name, F f) {
  auto ex = co_await asio::this_coro::executor;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&pool, name, ex, f = std::move(f)](auto handler) mutable {
        asio::post(pool, [h = std::move(handler), name, ex, f = std::move(f)]() mutable {
          name_pool_thread(name);
          f();
          asio::post(ex, std::move(h));
        });
      },
      asio::use_awaitable);
}

bool is_loopback(const std::string& address) {
  boost::system::error_code ec;
  const auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

} // namespace

/// One connection. Lives in a shared_ptr held by its coroutines.
class imap_session : public std::enable_shared_from_this<imap_session> {
public:
  imap_session(std::shared_ptr<imap_service> svc, tcp::socket sock, const imap_listener& l)
      : svc_(std::move(svc)), sock_(std::move(sock)), watchdog_(sock_.get_executor()),
        write_done_(sock_.get_executor()), implicit_tls_(l.implicit_tls),
        core_(make_config(*svc_, l)), exec_(svc_->store_) {
    exec_.set_auth_cache(svc_->auth_cache_);
    boost::system::error_code ec;
    const auto peer = sock_.remote_endpoint(ec);
    if (!ec) ip_ = peer.address().to_string();
    const auto local = sock_.local_endpoint(ec);
    if (!ec) lip_ = local.address().to_string();
    buffer_.resize(svc_->opts_.read_buffer);
  }

  static imap::server_config make_config(const imap_service& svc, const imap_listener& l) {
    imap::server_config c;
    c.hostname = svc.opts_.hostname;
    c.tls_available = svc.opts_.tls != nullptr && !l.implicit_tls;
    c.tls_active = l.implicit_tls;
    // RFC 9051 §6.2.3: no LOGIN in the clear, except on a loopback listener configured so.
    c.allow_plaintext_auth = l.allow_plaintext_auth && is_loopback(l.address);
    c.limits = svc.opts_.limits;
    c.capabilities = imap_executor_capabilities();
    return c;
  }

  void start() {
    step_deadline_ = clock_type::now() + svc_->opts_.idle_timeout;
    asio::co_spawn(sock_.get_executor(), watchdog(shared_from_this()), asio::detached);
    asio::co_spawn(sock_.get_executor(), run(shared_from_this()), asio::detached);
  }

  void drain() {
    auto self = shared_from_this();
    asio::post(sock_.get_executor(), [self] {
      if (self->reading_) {
        boost::system::error_code ec;
        self->sock_.cancel(ec);
      }
    });
  }

private:
  asio::awaitable<void> watchdog(std::shared_ptr<imap_session> self) {
    (void)self;
    bool fired = false;
    while (!finished_) {
      watchdog_.expires_at(step_deadline_);
      boost::system::error_code ec;
      co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (finished_) break;
      const auto now = clock_type::now();
      if (now < step_deadline_) continue;
      if (fired) {
        sock_.close(ec); // the BYE could not be written in time either
        break;
      }
      fired = true;
      expired_ = true;
      sock_.cancel(ec);
      step_deadline_ = now + std::chrono::seconds(10);
    }
  }

  void set_step(std::chrono::milliseconds d) {
    if (expired_) return;
    step_deadline_ = clock_type::now() + d;
    if (step_deadline_ < watchdog_.expiry()) watchdog_.cancel();
  }
  void no_step() {
    if (!expired_) step_deadline_ = clock_type::time_point::max();
  }

  asio::awaitable<void> wait_writer() {
    while (writing_) {
      write_done_.expires_at(clock_type::time_point::max());
      boost::system::error_code ec;
      co_await write_done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  /// Write everything the core has for the client. One writer at a time (IDLE pushes run
  /// beside the reading loop); the bytes are moved out of the core before each write.
  asio::awaitable<bool> flush() {
    co_await wait_writer();
    writing_ = true;
    bool ok = true;
    for (;;) {
      if (idling_) {
        // A subscription that overflowed needs store reads: they run on a worker, and the
        // updates are written here. The reading loop only feeds the core meanwhile (during
        // IDLE it waits for this writer before it ends the command).
        if (exec_.resync_needed())
          co_await offload(svc_->workers_, "mk-imap-work", [this] { exec_.prepare_resync(); });
        exec_.push_updates(core_);
        watch_changes(); // a resynchronization replaces the subscription
      }
      if (core_.output().empty()) break;
      core_.take_output(wbuf_);
      if (!co_await write_buffer()) {
        ok = false;
        break;
      }
    }
    writing_ = false;
    write_done_.cancel();
    co_return ok && !write_failed_;
  }

  /// Write what the core holds (a chunk of a FETCH) while a worker makes the next chunk. The
  /// bytes are moved out of the core first: the worker appends to the core, this coroutine
  /// writes its own buffer, and nothing else touches the core meanwhile (no other writer runs
  /// outside IDLE, and this coroutine is the reading loop).
  asio::awaitable<bool> write_while_resuming() {
    using namespace asio::experimental::awaitable_operators;
    co_await wait_writer();
    core_.take_output(wbuf_);
    writing_ = true;
    const bool ok = co_await (
        write_buffer() && offload(svc_->workers_, "mk-imap-work", [this] { exec_.resume(core_); }));
    writing_ = false;
    write_done_.cancel();
    no_step();
    co_return ok && !write_failed_;
  }

  /// Write wbuf_ within the write timeout; false (and write_failed_) when that fails.
  asio::awaitable<bool> write_buffer() {
    set_step(svc_->opts_.write);
    boost::system::error_code ec;
    if (tls_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(wbuf_), nothrow);
    } else {
      // The whole rest of the buffer in each send (asio::async_write would cut it into 64 KiB
      // sends, each a trip through the scheduler): a large FETCH leaves in a few system calls.
      std::size_t done = 0;
      while (!ec && done < wbuf_.size()) {
        std::size_t n = 0;
        std::tie(ec, n) = co_await sock_.async_write_some(
            asio::buffer(wbuf_.data() + done, wbuf_.size() - done), nothrow);
        done += n;
        if (n == 0 && !ec) ec = asio::error::connection_aborted; // no progress: never spin
      }
    }
    if (ec) write_failed_ = true;
    co_return !ec;
  }

  /// A change in the selected mailbox (posted from the store's writing thread).
  void notify() {
    if (!idling_ || writing_ || finished_) return;
    asio::co_spawn(
        sock_.get_executor(),
        [self = shared_from_this()]() -> asio::awaitable<void> {
          if (!co_await self->flush()) {
            boost::system::error_code ec;
            self->sock_.cancel(ec);
          }
          // The reading loop set the inactivity deadline; a push does not extend it.
        },
        asio::detached);
  }

  void watch_changes() {
    auto sub = exec_.changes();
    if (!sub || sub == watched_) return;
    watched_ = sub;
    std::weak_ptr<imap_session> weak = shared_from_this();
    auto ex = sock_.get_executor();
    // RFC 2177 §3: changes are reported while idling, at once.
    sub->on_change([weak, ex](const store::change&) {
      asio::post(ex, [weak] {
        if (auto s = weak.lock()) s->notify();
      });
    });
  }

  asio::awaitable<std::size_t> read(boost::system::error_code& ec) {
    std::size_t n = 0;
    reading_ = true;
    if (tls_)
      std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(buffer_), nothrow);
    else
      std::tie(ec, n) = co_await sock_.async_read_some(asio::buffer(buffer_), nothrow);
    reading_ = false;
    co_return n;
  }

  asio::awaitable<bool> handshake() {
    auto ctx = svc_->opts_.tls ? svc_->opts_.tls->current() : nullptr;
    if (!ctx) co_return false;
    ctx_ = ctx;
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, *ctx_);
    set_step(svc_->opts_.tls_handshake);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, nothrow);
    co_return !ec;
  }

  asio::awaitable<void> run(std::shared_ptr<imap_session> self) {
    (void)self;
    if (implicit_tls_ && !co_await handshake()) {
      finish();
      co_return;
    }
    core_.greet();
    while (true) {
      imap::server_event ev = core_.next_event();
      using k = imap::server_event::kind;
      switch (ev.k) {
      case k::need_input: {
        if (!co_await flush()) goto done;
        if (expired_) {
          // RFC 9051 §5.4: the autologout timer.
          core_.bye("Autologout; idle for too long");
          ++timeouts_;
          break;
        }
        if (svc_->draining_) {
          core_.bye("Server shutting down");
          break;
        }
        set_step(svc_->opts_.idle_timeout);
        boost::system::error_code ec;
        const std::size_t n = co_await read(ec);
        if (ec) {
          if (expired_) {
            core_.bye("Autologout; idle for too long");
            ++timeouts_;
            break;
          }
          if (svc_->draining_ && ec == asio::error::operation_aborted) {
            core_.bye("Server shutting down");
            break;
          }
          goto done;
        }
        core_.feed(std::string_view(buffer_.data(), n));
        break;
      }
      case k::starttls:
        if (!co_await flush()) goto done;
        if (!co_await handshake()) goto done;
        core_.tls_established();
        break;
      case k::authenticate: {
        no_step();
        std::optional<std::string> who;
        std::string user = core_.user(), password = core_.password();
        // Password hashing (Argon2id, tens of milliseconds) runs on its own pool so that logins
        // never hold up other sessions' commands on the store workers.
        co_await offload(svc_->auth_workers_, "mk-imap-auth",
                         [&] { who = exec_.authenticate(user, password); });
        password.assign(password.size(), '\0');
        if (!who) {
          // The line contrib/fail2ban/filter.d/mailkit.conf matches: the client's address
          // before the user name it chose (log_safe: printable, no delimiters, bounded).
          ++login_failures_;
          log(log_level::warning, "imap-login",
              "Login failed (auth failed, " + std::to_string(login_failures_) +
                  (login_failures_ == 1 ? " attempt" : " attempts") + "): rip=" + ip_ +
                  ", lip=" + lip_ + ", user=<" + log_safe(user) + ">");
          // Throttling: a delay growing with the recent failures of this address.
          asio::steady_timer t(sock_.get_executor());
          t.expires_after(svc_->login_failed(ip_));
          boost::system::error_code ec;
          co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          core_.auth_result(std::nullopt);
          break;
        }
        if (!svc_->add_user(*who)) {
          // RFC 5530 §3: LIMIT.
          core_.bye("[LIMIT] Too many connections for this account");
          break;
        }
        user_ = *who;
        core_.auth_result(who);
        break;
      }
      case k::execute:
        if (std::holds_alternative<imap::cmd_idle>(ev.cmd)) {
          // No store work on this thread: the pending updates come from the subscription's
          // queue, and a resynchronization reads the store on a worker first.
          if (exec_.resync_needed())
            co_await offload(svc_->workers_, "mk-imap-work", [this] { exec_.prepare_resync(); });
          exec_.execute(core_, ev);
          watch_changes();
          idling_ = true;
          break;
        }
        no_step();
        co_await wait_writer();
        // A FETCH that the session's message list and the text cache answer runs here, on
        // the I/O thread: no trip to a store worker and back (two thread wake-ups, which on a
        // loaded machine cost more than the FETCH itself); the rest goes to a worker.
        if (!exec_.execute_without_io(core_, ev))
          co_await offload(svc_->workers_, "mk-imap-work", [&] { exec_.execute(core_, ev); });
        // A large FETCH comes in chunks: what the cache answers is made here once the chunk
        // before is written; the rest on a worker while this one is written, so the client
        // reads while the server works (two chunks in memory at most).
        while (exec_.pending()) {
          if (exec_.resumable_without_io()) {
            if (!co_await flush()) goto done;
            exec_.resume_without_io(core_);
            continue;
          }
          if (!co_await write_while_resuming()) goto done;
        }
        watch_changes();
        break;
      case k::idle_done:
        idling_ = false;
        co_await wait_writer();
        if (exec_.resync_needed())
          co_await offload(svc_->workers_, "mk-imap-work", [this] { exec_.prepare_resync(); });
        exec_.finish_idle(core_);
        break;
      case k::close:
        co_await flush();
        goto done;
      }
    }
  done:
    idling_ = false;
    if (tls_ && !expired_ && !write_failed_) {
      set_step(std::chrono::seconds(10));
      co_await wait_writer();
      co_await tls_->async_shutdown(nothrow);
    }
    finish();
  }

  void finish() {
    finished_ = true;
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    watchdog_.cancel();
    if (timeouts_ != 0) {
      std::lock_guard lock(svc_->mutex_);
      svc_->stats_.timeouts += timeouts_;
    }
    svc_->session_ended(shared_from_this(), user_);
  }

  std::shared_ptr<imap_service> svc_;
  tcp::socket sock_;
  asio::steady_timer watchdog_;
  asio::steady_timer write_done_;
  bool implicit_tls_ = false;
  std::shared_ptr<asio::ssl::context> ctx_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  imap::server core_;
  imap_executor exec_;
  std::shared_ptr<store::subscription> watched_;
  std::string ip_, lip_, user_;
  unsigned login_failures_ = 0;
  std::vector<char> buffer_;
  std::string wbuf_;
  clock_type::time_point step_deadline_;
  bool expired_ = false, finished_ = false, reading_ = false, writing_ = false, idling_ = false,
       write_failed_ = false;
  unsigned timeouts_ = 0;
};

imap_service::imap_service(asio::any_io_executor ex, imap_service_options opts,
                           std::shared_ptr<store::mail_store> store)
    : ex_(std::move(ex)), opts_(std::move(opts)), store_(std::move(store)),
      auth_cache_(opts_.shared_credentials_cache
                      ? opts_.shared_credentials_cache
                      : std::make_shared<auth_cache>(opts_.credentials_cache)),
      workers_(std::max<std::size_t>(1, opts_.worker_threads)),
      auth_workers_(std::max<std::size_t>(1, opts_.auth_threads)) {}

imap_service::~imap_service() {
  workers_.stop();
  auth_workers_.stop();
  workers_.join();
  auth_workers_.join();
}

expected<void> imap_service::listen() {
  for (const auto& l : opts_.listeners) {
    if (l.implicit_tls && !opts_.tls)
      return tl::unexpected<error_code>(
          boost::system::errc::make_error_code(boost::system::errc::invalid_argument));
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(l.address, ec);
    if (ec) return tl::unexpected<error_code>(ec);
    auto acc = std::make_unique<tcp::acceptor>(ex_);
    const tcp::endpoint ep(addr, l.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return tl::unexpected<error_code>(ec);
    acceptors_.push_back(std::move(acc));
  }
  return {};
}

std::vector<tcp::endpoint> imap_service::endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) {
    boost::system::error_code ec;
    out.push_back(a->local_endpoint(ec));
  }
  return out;
}

void imap_service::start() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i)
    asio::co_spawn(ex_, accept_loop(shared_from_this(), i), asio::detached);
}

asio::awaitable<void> imap_service::accept_loop(std::shared_ptr<imap_service> self,
                                                std::size_t index) {
  auto& acc = *acceptors_[index];
  const imap_listener listener = opts_.listeners[index];
  while (!draining_) {
    auto [ec, sock] = co_await acc.async_accept(ex_, nothrow);
    if (ec) {
      if (draining_ || ec == asio::error::operation_aborted || !acc.is_open()) co_return;
      continue;
    }
    bool refuse = false;
    {
      std::lock_guard lock(mutex_);
      if (stats_.active >= opts_.max_connections) {
        refuse = true;
        ++stats_.refused_limits;
      } else {
        ++stats_.active;
        ++stats_.accepted;
      }
    }
    if (refuse) {
      // RFC 9051 §7.1.5: BYE instead of a greeting (in the clear only: on an implicit-TLS
      // listener the connection just closes).
      auto s = std::make_shared<tcp::socket>(std::move(sock));
      if (listener.implicit_tls) {
        boost::system::error_code e;
        s->close(e);
        continue;
      }
      auto msg = std::make_shared<std::string>("* BYE [LIMIT] Too many connections\r\n");
      asio::async_write(*s, asio::buffer(*msg), [s, msg](boost::system::error_code, std::size_t) {
        boost::system::error_code e;
        s->shutdown(tcp::socket::shutdown_both, e);
        s->close(e);
      });
      continue;
    }
    auto s = std::make_shared<imap_session>(self, std::move(sock), listener);
    {
      std::lock_guard lock(mutex_);
      sessions_.push_back(s);
    }
    s->start();
  }
}

bool imap_service::add_user(const std::string& user) {
  std::lock_guard lock(mutex_);
  auto& n = per_user_[user];
  if (n >= opts_.max_connections_per_user) {
    ++stats_.refused_user_limit;
    return false;
  }
  ++n;
  return true;
}

std::chrono::milliseconds imap_service::login_failed(const std::string& ip) {
  std::lock_guard lock(mutex_);
  ++stats_.login_failures;
  const auto now = clock_type::now();
  // Bounded memory: forget addresses whose window has passed when the table grows.
  if (per_ip_failures_.size() > 10000)
    std::erase_if(per_ip_failures_,
                  [&](const auto& e) { return now - e.second.last > opts_.auth_failure_window; });
  auto& f = per_ip_failures_[ip];
  if (now - f.last > opts_.auth_failure_window) f.count = 0;
  f.count = std::min(f.count + 1, 30u);
  f.last = now;
  return opts_.auth_failure_delay * f.count;
}

void imap_service::session_ended(const std::shared_ptr<imap_session>& s, const std::string& user) {
  std::lock_guard lock(mutex_);
  sessions_.remove_if([&](const std::weak_ptr<imap_session>& w) {
    auto p = w.lock();
    return !p || p == s;
  });
  if (!user.empty()) {
    auto it = per_user_.find(user);
    if (it != per_user_.end() && --it->second == 0) per_user_.erase(it);
  }
  if (stats_.active > 0) --stats_.active;
}

imap_service_stats imap_service::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void imap_service::shutdown() {
  auto self = shared_from_this();
  asio::post(ex_, [self] {
    self->draining_ = true;
    for (auto& a : self->acceptors_) {
      boost::system::error_code ec;
      a->close(ec);
    }
    std::vector<std::shared_ptr<imap_session>> live;
    {
      std::lock_guard lock(self->mutex_);
      for (auto& w : self->sessions_)
        if (auto p = w.lock()) live.push_back(std::move(p));
    }
    for (auto& s : live)
      s->drain();
  });
}

} // namespace mailkit::server
