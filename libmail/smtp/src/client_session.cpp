// SPDX-License-Identifier: Apache-2.0
// The SMTP client session on Asio (client_session.hpp). The session owns the socket, a watchdog
// timer and a sans-I/O smtp::client; it only moves bytes and performs the TLS handshake.
#include <mailkit/smtp/client_session.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <array>

namespace mailkit::smtp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string_view to_string(tls_mode m) noexcept {
  switch (m) {
  case tls_mode::none:
    return "none";
  case tls_mode::starttls_opportunistic:
    return "opportunistic";
  case tls_mode::starttls_required:
    return "starttls";
  case tls_mode::implicit:
    return "implicit";
  }
  return "starttls";
}

std::optional<tls_mode> parse_tls_mode(std::string_view s) noexcept {
  if (s == "none" || s == "plain") return tls_mode::none;
  if (s == "opportunistic" || s == "may") return tls_mode::starttls_opportunistic;
  if (s == "starttls" || s == "encrypt") return tls_mode::starttls_required;
  if (s == "implicit" || s == "tls" || s == "ssl" || s == "smtps") return tls_mode::implicit;
  return std::nullopt;
}

session_timeouts session_timeouts::all(std::chrono::milliseconds t) {
  session_timeouts s;
  s.connect = s.greeting = s.command = s.mail = s.rcpt = s.data_initiation = s.data_block =
      s.data_termination = s.tls_handshake = t;
  return s;
}

struct client_session::impl {
  session_options opts;
  asio::any_io_executor ex;
  std::shared_ptr<tls::context> ctx;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> stream;
  asio::steady_timer watchdog;
  client core;
  bool tls = false;
  bool tls_attempted = false;
  long verify_result = -1;
  int dane_depth = -1;
  bool timed_out = false;
  std::string detail;
  std::optional<reply> failure_reply;
  std::string peer;
  std::string local_address;
  std::array<char, 16 * 1024> buffer{};

  impl(asio::any_io_executor e, session_options o)
      : opts(std::move(o)), ex(e), watchdog(e), core(prepare(opts)) {}

  static client_options prepare(session_options& o) {
    client_options c = o.client;
    c.starttls = o.tls == tls_mode::starttls_opportunistic || o.tls == tls_mode::starttls_required;
    c.require_starttls = o.tls == tls_mode::starttls_required;
    // The caller chose plaintext explicitly: credentials may go without TLS. Opportunistic
    // mode never sends them in plaintext.
    c.auth_without_tls = o.tls == tls_mode::none || c.auth_without_tls;
    return c;
  }

  tcp::socket& socket() { return stream->next_layer(); }

  // Arm the watchdog: when it fires, the socket closes and the pending operation fails.
  void arm(std::chrono::milliseconds d) {
    timed_out = false;
    watchdog.expires_after(d);
    watchdog.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return; // cancelled: the operation finished in time
      timed_out = true;
      boost::system::error_code ignored;
      if (stream) stream->next_layer().close(ignored);
    });
  }
  void disarm() { watchdog.cancel(); }

  expected<void> failed(client_errc e, std::string text) {
    detail = std::move(text);
    failure_reply.reset();
    return fail(e);
  }

  std::chrono::milliseconds read_timeout() const {
    switch (core.waiting_for()) {
    case client::wait_stage::greeting:
      return opts.timeouts.greeting;
    case client::wait_stage::mail:
      return opts.timeouts.mail;
    case client::wait_stage::rcpt:
      return opts.timeouts.rcpt;
    case client::wait_stage::data_initiation:
      return opts.timeouts.data_initiation;
    case client::wait_stage::data_termination:
      return opts.timeouts.data_termination;
    default:
      return opts.timeouts.command;
    }
  }

  bool dane() const { return !opts.dane_tlsa.empty(); }
  bool verifying() const { return dane() || opts.tls_options.verify_peer; }

  asio::awaitable<expected<void>> handshake() {
    SSL* ssl = stream->native_handle();
    tls_attempted = true;
    // With DANE the TLSA records, not the web PKI names, decide (RFC 7672 §3.2): SNI only here.
    if (auto p = tls::prepare_client(ssl, opts.host,
                                     !dane() && opts.tls_options.verify_peer && opts.verify_host);
        !p)
      co_return failed(client_errc::tls_failed,
                       "cannot prepare TLS for " + opts.host + ": " + p.error().message());
    if (dane()) {
      // RFC 7672 §3.2.2: the reference identifiers are the TLSA base domain and the MX host.
      const std::string base = opts.dane_base_domain.empty() ? opts.host : opts.dane_base_domain;
      if (auto d = tls::dane::enable_dane(ssl, base, {opts.host}, opts.dane_tlsa); !d)
        co_return failed(client_errc::tls_failed, "cannot use the TLSA records of " + opts.host +
                                                      ": " + d.error().message());
    }
    if (opts.verify_report_only && verifying()) {
      // RFC 8461 §5 (testing): the result is recorded (verify_result) and the handshake goes on.
      SSL_set_verify(ssl, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    }
    arm(opts.timeouts.tls_handshake);
    auto [ec] = co_await stream->async_handshake(asio::ssl::stream_base::client,
                                                 asio::as_tuple(asio::use_awaitable));
    disarm();
    if (verifying()) {
      verify_result = SSL_get_verify_result(ssl);
      // OpenSSL starts at X509_V_OK: a handshake that failed before or after verification
      // has no verification result to report.
      if (ec && verify_result == X509_V_OK) verify_result = -1;
    }
    if (dane() && !ec) dane_depth = tls::dane::matched_depth(ssl);
    if (ec) {
      std::string why = timed_out ? std::string("timed out") : ec.message();
      const std::string ossl = tls::last_openssl_error();
      if (!ossl.empty() && why.find(ossl) == std::string::npos) why += " (" + ossl + ")";
      co_return failed(client_errc::tls_failed, "TLS with " + opts.host + " failed: " + why);
    }
    tls = true;
    co_return expected<void>{};
  }

  asio::awaitable<expected<void>> connect() {
    if (opts.tls == tls_mode::none) {
      ctx = std::make_shared<tls::context>(tls::context::tls_client);
    } else {
      auto c = tls::make_client_context(opts.tls_options);
      if (!c)
        co_return failed(client_errc::tls_failed,
                         "cannot load the trust store: " + c.error().message());
      ctx = std::move(*c);
      if (dane())
        if (auto d = tls::dane::enable_dane_context(ctx->native_handle()); !d)
          co_return failed(client_errc::tls_failed, "OpenSSL refuses DANE: " + d.error().message());
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : opts.addresses) {
      boost::system::error_code ec;
      auto addr = asio::ip::make_address(a, ec);
      if (ec) co_return failed(client_errc::invalid_argument, "not an IP address: " + a);
      endpoints.emplace_back(addr, opts.port);
    }
    if (endpoints.empty()) {
      tcp::resolver resolver(ex);
      arm(opts.timeouts.connect);
      auto [ec, results] = co_await resolver.async_resolve(opts.host, std::to_string(opts.port),
                                                           asio::as_tuple(asio::use_awaitable));
      disarm();
      if (ec)
        co_return failed(client_errc::connection_failed,
                         "cannot resolve " + opts.host + ": " + ec.message());
      for (const auto& r : results)
        endpoints.push_back(r.endpoint());
    }
    std::string errors;
    for (const auto& ep : endpoints) {
      stream = std::make_unique<asio::ssl::stream<tcp::socket>>(ex, *ctx);
      arm(opts.timeouts.connect);
      auto [ec] = co_await socket().async_connect(ep, asio::as_tuple(asio::use_awaitable));
      disarm();
      std::string where = ep.address().to_string() + ":" + std::to_string(ep.port());
      if (ep.address().is_v6())
        where = "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
      if (!ec) {
        peer = where;
        boost::system::error_code lec;
        const auto local = socket().local_endpoint(lec);
        if (!lec) local_address = local.address().to_string();
        co_return expected<void>{};
      }
      errors += (errors.empty() ? "" : "; ") + where + " " +
                (timed_out ? std::string("timed out") : ec.message());
    }
    stream.reset();
    co_return failed(client_errc::connection_failed,
                     "cannot connect to " + opts.host + ": " +
                         (errors.empty() ? std::string("no address") : errors));
  }

  // Run the core until it is ready, done with a transaction, closed or failed.
  asio::awaitable<expected<client::action>> drive() {
    while (true) {
      const client::action a = core.step();
      switch (a) {
      case client::action::send: {
        const std::string out = core.take_output();
        arm(out.size() > 4096 ? opts.timeouts.data_block : opts.timeouts.command);
        boost::system::error_code ec;
        if (tls) {
          std::tie(ec, std::ignore) = co_await asio::async_write(
              *stream, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
        } else {
          std::tie(ec, std::ignore) = co_await asio::async_write(
              socket(), asio::buffer(out), asio::as_tuple(asio::use_awaitable));
        }
        disarm();
        if (ec) {
          if (timed_out)
            co_return tl::unexpected(
                failed(client_errc::timed_out, "timed out writing to " + peer).error());
          co_return tl::unexpected(failed(client_errc::connection_closed,
                                          "writing to " + peer + " failed: " + ec.message())
                                       .error());
        }
        break;
      }
      case client::action::receive: {
        arm(read_timeout());
        boost::system::error_code ec;
        std::size_t n = 0;
        if (tls) {
          std::tie(ec, n) = co_await stream->async_read_some(asio::buffer(buffer),
                                                             asio::as_tuple(asio::use_awaitable));
        } else {
          std::tie(ec, n) = co_await socket().async_read_some(asio::buffer(buffer),
                                                              asio::as_tuple(asio::use_awaitable));
        }
        disarm();
        if (n > 0) core.feed(std::string_view(buffer.data(), n));
        if (ec) {
          if (timed_out)
            co_return tl::unexpected(
                failed(client_errc::timed_out, "no reply from " + peer + " in time").error());
          core.connection_closed(); // EOF, reset, TLS truncation: the core decides what it means
        }
        break;
      }
      case client::action::start_tls: {
        auto h = co_await handshake();
        if (!h) co_return tl::unexpected(h.error());
        core.tls_started();
        break;
      }
      case client::action::failed:
        detail = core.error_detail();
        failure_reply = core.error_reply();
        co_return tl::unexpected(core.error());
      default:
        co_return a;
      }
    }
  }
};

client_session::client_session(asio::any_io_executor ex, session_options opts)
    : impl_(std::make_unique<impl>(ex, std::move(opts))) {}

client_session::~client_session() = default;

asio::awaitable<expected<void>> client_session::async_open() {
  impl& s = *impl_;
  if (auto c = co_await s.connect(); !c) co_return c;
  if (s.opts.tls == tls_mode::implicit) {
    // RFC 8314 §3.3: TLS first, then the SMTP greeting inside it.
    if (auto h = co_await s.handshake(); !h) {
      close();
      co_return h;
    }
    s.core.set_tls_active();
  }
  auto a = co_await s.drive();
  if (!a) {
    close();
    co_return tl::unexpected(a.error());
  }
  if (*a != client::action::ready) {
    close();
    co_return tl::unexpected(
        s.failed(client_errc::protocol_violation, "the session ended during setup").error());
  }
  co_return expected<void>{};
}

asio::awaitable<expected<transaction_result>> client_session::async_send(envelope env,
                                                                         std::string message) {
  impl& s = *impl_;
  if (s.core.step() != client::action::ready)
    co_return tl::unexpected(
        s.failed(client_errc::protocol_violation, "the session is not ready for a message")
            .error());
  s.core.start(std::move(env), message);
  message.clear();
  message.shrink_to_fit();
  auto a = co_await s.drive();
  if (!a) {
    close();
    co_return tl::unexpected(a.error());
  }
  if (*a != client::action::transaction_done)
    co_return tl::unexpected(
        s.failed(client_errc::protocol_violation, "the transaction did not complete").error());
  co_return s.core.take_result();
}

asio::awaitable<void> client_session::async_quit() {
  impl& s = *impl_;
  if (s.stream && s.core.step() == client::action::ready) {
    s.core.quit();
    auto a = co_await s.drive();
    (void)a; // a server that closes without 221 is fine: we are leaving anyway
  }
  close();
}

void client_session::close() noexcept {
  impl& s = *impl_;
  s.watchdog.cancel();
  if (s.stream) {
    boost::system::error_code ignored;
    s.stream->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    s.stream->next_layer().close(ignored);
  }
}

const std::string& client_session::error_detail() const noexcept {
  return impl_->detail;
}
const std::optional<reply>& client_session::error_reply() const noexcept {
  return impl_->failure_reply;
}
const capabilities& client_session::server_capabilities() const noexcept {
  return impl_->core.server_capabilities();
}
const std::string& client_session::peer() const noexcept {
  return impl_->peer;
}
bool client_session::tls_active() const noexcept {
  return impl_->tls;
}
const std::string& client_session::local_address() const noexcept {
  return impl_->local_address;
}
bool client_session::tls_attempted() const noexcept {
  return impl_->tls_attempted;
}
long client_session::verify_result() const noexcept {
  return impl_->verify_result;
}
int client_session::dane_depth() const noexcept {
  return impl_->dane_depth;
}

delivery_report deliver(session_options opts, std::vector<outgoing_message> messages) {
  asio::io_context io;
  delivery_report report;
  client_session session(io.get_executor(), std::move(opts));
  auto run = [&]() -> asio::awaitable<void> {
    auto record_failure = [&](const error_code& ec) {
      report.error = ec;
      report.error_detail = session.error_detail();
      if (report.error_detail.empty()) report.error_detail = ec.message();
      report.error_reply = session.error_reply();
    };
    if (auto o = co_await session.async_open(); !o) {
      record_failure(o.error());
      co_return;
    }
    for (auto& m : messages) {
      auto r = co_await session.async_send(std::move(m.env), std::move(m.data));
      if (!r) {
        record_failure(r.error());
        co_return;
      }
      report.results.push_back(std::move(*r));
    }
    co_await session.async_quit();
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  report.server = session.server_capabilities();
  report.peer = session.peer();
  report.tls = session.tls_active();
  return report;
}

} // namespace mailkit::smtp
