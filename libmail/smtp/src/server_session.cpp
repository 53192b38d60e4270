// SPDX-License-Identifier: Apache-2.0
// The Asio SMTP server: listeners and per-connection coroutines (server_session.hpp).
#include <mailkit/smtp/server_session.hpp>

#include <mailkit/core/log.hpp>

// Asio's awaitable frames pair their operator new with a sized operator delete as C++20
// [dcl.fct.def.coroutine] prescribes; GCC 12's -Wmismatched-new-delete does not know the pairing
// and flags the inlined coroutine (as in libmail/spf/src/evaluator.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <memory>

namespace mailkit::smtp {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Wait for a policy hook's handler as an awaitable. The hook may answer synchronously, later,
// or from another thread: the result is posted to the session's executor either way, and a
// second call of the handler is ignored.
template <class Start>
asio::awaitable<decision> ask(Start start) {
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(decision)>(
      [start = std::move(start), ex](auto handler) mutable {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto once = std::make_shared<std::atomic<bool>>(false);
        start([h, ex, once](decision d) {
          if (once->exchange(true)) return;
          asio::post(ex, [h, d = std::move(d)]() mutable { std::move (*h)(std::move(d)); });
        });
      },
      asio::use_awaitable);
}

} // namespace

/// One connection. Lives in a shared_ptr held by its coroutines.
class session : public std::enable_shared_from_this<session> {
public:
  session(std::shared_ptr<service> svc, tcp::socket sock, listener_mode mode)
      : svc_(std::move(svc)), sock_(std::move(sock)), watchdog_(sock_.get_executor()),
        core_(make_config(*svc_, mode)) {
    info_.mode = mode;
    boost::system::error_code ec;
    const auto peer = sock_.remote_endpoint(ec);
    if (!ec) {
      info_.peer_address = peer.address().to_string();
      info_.peer_port = peer.port();
    }
    const auto local = sock_.local_endpoint(ec);
    if (!ec) {
      info_.local_address = local.address().to_string();
      info_.local_port = local.port();
    }
  }

  static server_config make_config(const service& svc, listener_mode mode) {
    auto cfg = server_config::for_mode(mode, svc.opts_.hostname, svc.opts_.tls != nullptr);
    cfg.limits = svc.opts_.limits;
    cfg.allow_plaintext_auth = svc.opts_.allow_plaintext_auth;
    return cfg;
  }

  void start(std::uint64_t id) {
    info_.id = id;
    const auto now = clock_type::now();
    session_deadline_ = now + svc_->opts_.timeouts.session;
    step_deadline_ = now + svc_->opts_.timeouts.command;
    // The coroutines own the session through their by-value parameter: co_spawn may start
    // them later, after every other reference is gone.
    asio::co_spawn(sock_.get_executor(), watchdog(shared_from_this()), asio::detached);
    asio::co_spawn(sock_.get_executor(), run(shared_from_this()), asio::detached);
  }

  /// From service::shutdown: end this session if idle now, or at the grace deadline (`force`).
  void drain(bool force) {
    auto self = shared_from_this();
    asio::post(sock_.get_executor(), [self, force] {
      if (force) self->force_close_ = true;
      if (self->reading_ && (force || !self->core_.in_transaction())) {
        boost::system::error_code ec;
        self->sock_.cancel(ec);
      }
    });
  }

  [[nodiscard]] const std::string& peer() const noexcept { return info_.peer_address; }

private:
  asio::awaitable<void> watchdog(std::shared_ptr<session> self) {
    (void)self; // keeps the session alive while this coroutine runs
    bool fired = false;
    while (!finished_) {
      watchdog_.expires_at(std::min(step_deadline_, session_deadline_));
      boost::system::error_code ec;
      co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (finished_) break;
      const auto now = clock_type::now();
      if (now < std::min(step_deadline_, session_deadline_)) continue;
      if (fired) {
        // The 421 could not be written in time either: hard close.
        sock_.close(ec);
        break;
      }
      fired = true;
      expired_ = true;
      sock_.cancel(ec);
      step_deadline_ = now + svc_->opts_.timeouts.final_write;
      session_deadline_ = step_deadline_;
    }
  }

  void set_step(std::chrono::milliseconds d) {
    if (expired_) return;
    step_deadline_ = clock_type::now() + d;
    // Wake the watchdog only when the new deadline is earlier than the one it waits for.
    if (step_deadline_ < watchdog_.expiry()) watchdog_.cancel();
  }

  // Waiting for the policy: no socket deadline (the policy is trusted to answer).
  void no_step() {
    if (!expired_) step_deadline_ = clock_type::time_point::max();
  }

  asio::awaitable<bool> flush() {
    while (!core_.output().empty()) {
      set_step(svc_->opts_.timeouts.write);
      const std::string_view out = core_.output();
      std::size_t n = 0;
      boost::system::error_code ec;
      if (tls_) {
        std::tie(ec, n) =
            co_await asio::async_write(*tls_, asio::buffer(out.data(), out.size()), nothrow);
      } else {
        std::tie(ec, n) =
            co_await asio::async_write(sock_, asio::buffer(out.data(), out.size()), nothrow);
      }
      if (ec) co_return false;
      core_.consume_output(n);
    }
    co_return true;
  }

  asio::awaitable<std::size_t> read(boost::system::error_code& ec) {
    std::size_t n = 0;
    // The larger buffer only while a message's content arrives (a sink is open) and more of
    // it is waiting than the small one holds (the last read filled it): a small message never
    // pays for the large one. Not zero-filled: each read writes what is then used.
    const std::size_t want = sink_ && last_read_filled_
                                 ? std::max(svc_->opts_.read_buffer, svc_->opts_.data_read_buffer)
                                 : svc_->opts_.read_buffer;
    if (buffer_size_ != want) {
      buffer_.reset(new char[want]); // NOLINT(cppcoreguidelines-owning-memory): default-init
      buffer_size_ = want;
    }
    reading_ = true;
    if (tls_) {
      std::tie(ec, n) =
          co_await tls_->async_read_some(asio::buffer(buffer_.get(), buffer_size_), nothrow);
    } else {
      std::tie(ec, n) =
          co_await sock_.async_read_some(asio::buffer(buffer_.get(), buffer_size_), nothrow);
    }
    reading_ = false;
    last_read_filled_ = n == buffer_size_;
    co_return n;
  }

  asio::awaitable<bool> handshake() {
    auto ctx = svc_->opts_.tls ? svc_->opts_.tls->current() : nullptr;
    if (!ctx) co_return false;
    ctx_ = ctx;
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, *ctx_);
    set_step(svc_->opts_.timeouts.tls_handshake);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, nothrow);
    if (ec) co_return false;
    info_.tls = true;
    svc_->policy_->on_tls(info_);
    co_return true;
  }

  void refresh_info() {
    info_.tls = core_.tls_active();
    info_.authenticated_as = core_.authenticated_as();
    info_.helo = core_.current_envelope().helo;
  }

  void drop_sink() {
    if (sink_) sink_->abort();
    sink_.reset();
    sink_failed_ = false;
  }

  asio::awaitable<void> run(std::shared_ptr<session> self) {
    (void)self; // keeps the session alive while this coroutine runs
    policy& pol = *svc_->policy_;
    bool message_ok = false;
    if (info_.mode == listener_mode::submission_implicit_tls) {
      // RFC 8314 §3.3: TLS from the first octet; no plaintext greeting.
      if (!co_await handshake()) {
        finish(message_ok);
        co_return;
      }
    }
    while (true) {
      const event ev = core_.next_event();
      switch (ev.kind) {
      case event_kind::need_input: {
        if (!co_await flush()) goto done;
        if (svc_->draining() && (force_close_ || !core_.in_transaction())) {
          core_.close_with(make_reply(421, "4.3.2", svc_->opts_.hostname + " shutting down"));
          break;
        }
        if (expired_) {
          core_.close_with(make_reply(421, "4.4.2", svc_->opts_.hostname + " timeout, closing"));
          svc_->count_timeout();
          break;
        }
        set_step(core_.current_envelope().chunked || sink_ ? svc_->opts_.timeouts.data_block
                                                           : svc_->opts_.timeouts.command);
        boost::system::error_code ec;
        const std::size_t n = co_await read(ec);
        if (ec) {
          if (expired_) {
            core_.close_with(make_reply(421, "4.4.2", svc_->opts_.hostname + " timeout, closing"));
            svc_->count_timeout();
            break;
          }
          if (svc_->draining() && ec == asio::error::operation_aborted) {
            core_.close_with(make_reply(421, "4.3.2", svc_->opts_.hostname + " shutting down"));
            break;
          }
          goto done; // the client went away
        }
        // The core reads message content from buffer_ in place; the buffer is not touched again
        // before the core asks for input (server::feed_borrowed).
        core_.feed_borrowed(std::string_view(buffer_.get(), n));
        break;
      }
      case event_kind::awaiting:
        goto done; // cannot happen: every decision is resolved before the next call
      case event_kind::connect: {
        no_step();
        auto d = co_await ask([&](decision_handler h) { pol.on_connect(info_, std::move(h)); });
        core_.resolve(std::move(d));
        break;
      }
      case event_kind::helo: {
        no_step();
        auto d = co_await ask([&](decision_handler h) {
          pol.on_helo(info_, core_.helo_argument(), core_.helo_is_ehlo(), std::move(h));
        });
        core_.resolve(std::move(d));
        refresh_info();
        break;
      }
      case event_kind::mail: {
        no_step();
        refresh_info();
        auto d = co_await ask([&](decision_handler h) {
          pol.on_mail(info_, core_.current_envelope(), std::move(h));
        });
        core_.resolve(std::move(d));
        break;
      }
      case event_kind::rcpt: {
        no_step();
        auto d = co_await ask([&](decision_handler h) {
          pol.on_rcpt(info_, core_.current_envelope(), core_.pending_recipient(), std::move(h));
        });
        core_.resolve(std::move(d));
        break;
      }
      case event_kind::auth: {
        no_step();
        auto d = co_await ask([&](decision_handler h) {
          pol.on_auth(info_, core_.pending_credentials(), std::move(h));
        });
        if (!d.accepted()) {
          // Failed-AUTH throttling: a delay growing with each failure before the answer.
          ++auth_failures_;
          asio::steady_timer t(sock_.get_executor());
          t.expires_after(svc_->opts_.auth_failure_delay * auth_failures_);
          boost::system::error_code ec;
          co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        core_.resolve(std::move(d));
        refresh_info();
        break;
      }
      case event_kind::data_start: {
        no_step();
        drop_sink();
        auto s = pol.open_message(info_, core_.current_envelope());
        if (!s || !*s) {
          core_.resolve(decision::respond(
              make_reply(451, "4.3.0", "cannot accept the message now, try again later")));
        } else {
          sink_ = std::move(*s);
          core_.resolve(decision::accept());
        }
        break;
      }
      case event_kind::data_chunk:
        if (sink_ && !sink_failed_) sink_failed_ = !sink_->write(ev.data);
        break;
      case event_kind::message_complete: {
        no_step();
        if (!sink_ || sink_failed_ || !sink_->finish()) {
          drop_sink();
          core_.resolve(decision::respond(
              make_reply(451, "4.3.0", "local error storing the message, try again later")));
          break;
        }
        auto d = co_await ask([&](decision_handler h) {
          pol.on_message(info_, core_.current_envelope(), std::move(sink_), std::move(h));
        });
        sink_.reset();
        if (d.accepted()) {
          message_ok = true;
          svc_->count_message();
        }
        core_.resolve(std::move(d));
        break;
      }
      case event_kind::message_aborted:
        drop_sink();
        break;
      case event_kind::starttls:
        if (!co_await flush()) goto done;
        if (!co_await handshake()) goto done;
        core_.tls_established();
        refresh_info();
        break;
      case event_kind::quit:
        break;
      case event_kind::close:
        co_await flush();
        goto done;
      }
    }
  done:
    drop_sink();
    if (tls_ && !expired_) {
      // Best effort close_notify, bounded by the watchdog.
      set_step(svc_->opts_.timeouts.final_write);
      co_await tls_->async_shutdown(nothrow);
    }
    finish(message_ok);
  }

  void finish(bool message_ok) {
    finished_ = true;
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    watchdog_.cancel();
    svc_->policy_->on_close(info_, core_.why_closed());
    svc_->session_ended(shared_from_this(), info_.peer_address, message_ok);
  }

  std::shared_ptr<service> svc_;
  tcp::socket sock_;
  asio::steady_timer watchdog_;
  std::shared_ptr<asio::ssl::context> ctx_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  server core_;
  session_info info_;
  std::unique_ptr<char[]> buffer_; ///< read_buffer, or data_read_buffer during large content
  std::size_t buffer_size_ = 0;
  bool last_read_filled_ = false;
  std::unique_ptr<message_sink> sink_;
  bool sink_failed_ = false;
  clock_type::time_point step_deadline_;
  clock_type::time_point session_deadline_;
  bool expired_ = false;
  bool finished_ = false;
  bool reading_ = false;
  bool force_close_ = false;
  unsigned auth_failures_ = 0;
};

service::service(asio::any_io_executor ex, service_options opts, std::shared_ptr<policy> pol)
    : ex_(std::move(ex)), opts_(std::move(opts)), policy_(std::move(pol)) {}

service::~service() = default;

expected<void> service::listen() {
  for (const auto& l : opts_.listeners) {
    if (l.mode == listener_mode::submission_implicit_tls && !opts_.tls)
      return fail(errc::invalid_argument); // implicit TLS without certificates
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(l.address, ec);
    if (ec) return fail(errc::invalid_argument);
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

std::vector<tcp::endpoint> service::endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) {
    boost::system::error_code ec;
    out.push_back(a->local_endpoint(ec));
  }
  return out;
}

void service::start() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i)
    asio::co_spawn(ex_, accept_loop(shared_from_this(), i), asio::detached);
}

asio::awaitable<void> service::accept_loop(std::shared_ptr<service> self, std::size_t index) {
  auto& acc = *acceptors_[index];
  const listener_mode mode = opts_.listeners[index].mode;
  while (!draining_) {
    // Sessions share the service's executor: the io_context runs on one thread (see the header).
    auto [ec, sock] = co_await acc.async_accept(ex_, nothrow);
    if (ec) {
      if (draining_ || ec == asio::error::operation_aborted || !acc.is_open()) co_return;
      continue; // EMFILE and the like: keep accepting
    }
    boost::system::error_code pe;
    const std::string ip = sock.remote_endpoint(pe).address().to_string();
    bool refuse = false;
    {
      std::lock_guard lock(mutex_);
      auto& count = per_ip_[ip];
      if (stats_.active >= opts_.max_connections || count >= opts_.max_connections_per_ip) {
        refuse = true;
        ++stats_.refused_limits;
        if (count == 0) per_ip_.erase(ip);
      } else {
        ++count;
        ++stats_.active;
        ++stats_.accepted;
      }
    }
    if (refuse) {
      // RFC 5321 §3.1 / §4.2.3: 421 and close; enhanced code 4.7.0 (RFC 3463: security or
      // policy status). No session, no policy call, no core: the cheapest possible refusal.
      // (On an implicit-TLS listener the client sees the connection close without a reply.)
      if (mode != listener_mode::submission_implicit_tls) {
        auto s = std::make_shared<tcp::socket>(std::move(sock));
        auto msg = std::make_shared<std::string>(format_reply(
            make_reply(421, "4.7.0", opts_.hostname + " too many connections, try again later")));
        asio::async_write(*s, asio::buffer(*msg), [s, msg](boost::system::error_code, std::size_t) {
          boost::system::error_code e;
          s->shutdown(tcp::socket::shutdown_both, e);
          s->close(e);
        });
      }
      continue;
    }
    auto s = std::make_shared<session>(self, std::move(sock), mode);
    {
      std::lock_guard lock(mutex_);
      sessions_.push_back(s);
    }
    s->start(next_id_++);
  }
}

void service::session_ended(const std::shared_ptr<session>& s, const std::string& ip, bool) {
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    sessions_.remove_if([&](const std::weak_ptr<session>& w) {
      auto p = w.lock();
      return !p || p == s;
    });
    auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
    if (stats_.active > 0) --stats_.active;
    if (draining_ && stats_.active == 0 && on_drained_) done = std::move(on_drained_);
  }
  if (done) {
    if (grace_timer_) grace_timer_->cancel();
    asio::post(ex_, std::move(done));
  }
}

void service::count_message() {
  std::lock_guard lock(mutex_);
  ++stats_.messages;
}

void service::count_timeout() {
  std::lock_guard lock(mutex_);
  ++stats_.timeouts;
}

service_stats service::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void service::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  auto self = shared_from_this();
  asio::post(ex_, [self, grace, done = std::move(done)]() mutable {
    self->draining_ = true;
    for (auto& a : self->acceptors_) {
      boost::system::error_code ec;
      a->close(ec);
    }
    std::vector<std::shared_ptr<session>> live;
    {
      std::lock_guard lock(self->mutex_);
      for (auto& w : self->sessions_)
        if (auto p = w.lock()) live.push_back(std::move(p));
      if (self->stats_.active == 0) {
        if (done) asio::post(self->ex_, std::move(done));
        return;
      }
      self->on_drained_ = std::move(done);
    }
    for (auto& s : live)
      s->drain(false);
    self->grace_timer_ = std::make_unique<asio::steady_timer>(self->ex_, grace);
    self->grace_timer_->async_wait([self](boost::system::error_code ec) {
      if (ec) return;
      std::vector<std::shared_ptr<session>> rest;
      {
        std::lock_guard lock(self->mutex_);
        for (auto& w : self->sessions_)
          if (auto p = w.lock()) rest.push_back(std::move(p));
      }
      for (auto& s : rest)
        s->drain(true);
    });
  });
}

} // namespace mailkit::smtp
