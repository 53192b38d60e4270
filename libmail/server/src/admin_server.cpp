// SPDX-License-Identifier: Apache-2.0
// The admin port's HTTP/1.1 listener and client (admin.hpp): plain HTTP on Beast, bounded
// headers, bodies, connections and idle time; bearer tokens; the token file.
// Asio's awaitable frames pair their operator new with a sized operator delete as C++20
// [dcl.fct.def.coroutine] prescribes; GCC 12's -Wmismatched-new-delete does not know the pairing
// (as in libmail/http/src/server.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <mailkit/core/error.hpp>
#include <mailkit/core/log.hpp>
#include <mailkit/core/thread_name.hpp>
#include <mailkit/server/admin.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <thread>

namespace mailkit::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t max_header = 8 * 1024;
constexpr std::size_t max_request_body = 4 * 1024;
constexpr std::size_t max_reply_body = 16u << 20;

// Compare without an early exit, so the time taken says nothing about where a guess went wrong.
bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive
// (RFC 9110 §11.1).
bool bearer_matches(std::string_view field, std::string_view token) {
  if (token.empty() || field.size() < 7) return false;
  constexpr std::string_view scheme = "bearer";
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(field[i])) != scheme[i]) return false;
  std::string_view rest = field.substr(scheme.size());
  if (rest.empty() || rest.front() != ' ') return false;
  while (!rest.empty() && rest.front() == ' ')
    rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t'))
    rest.remove_suffix(1);
  return equal_constant_time(rest, token);
}

} // namespace

struct admin_server::impl {
  admin_options opts;
  admin_handler handler;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  std::uint16_t port = 0;
  std::size_t active = 0; // on the I/O thread only
  bool stopped = false;

  admin_response dispatch(const bhttp::request<bhttp::string_body>& req) {
    admin_request ar;
    ar.method = std::string(req.method_string());
    const std::string_view target = req.target();
    const auto q = target.find('?');
    ar.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) ar.query = std::string(target.substr(q + 1));
    if (const auto it = req.find(bhttp::field::authorization); it != req.end())
      ar.authorized = bearer_matches(it->value(), opts.token);
    try {
      return handler(ar);
    } catch (const std::exception& e) {
      log(log_level::error, "admin", std::string("request failed: ") + e.what());
      return {500, "application/json", "{\"error\":\"internal error\"}\n", ""};
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(max_header + max_request_body);
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(max_header);
      parser.body_limit(max_request_body);
      stream.expires_after(opts.idle_timeout);
      auto [ec, n] =
          co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
        bhttp::response<bhttp::string_body> res{bhttp::status::payload_too_large, 11};
        res.set(bhttp::field::content_type, "application/json");
        res.body() = "{\"error\":\"request too large\"}\n";
        res.keep_alive(false);
        res.prepare_payload();
        stream.expires_after(opts.idle_timeout);
        co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        break;
      }
      if (ec) break;
      const auto& req = parser.get();
      admin_response r = dispatch(req);
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), req.version()};
      res.set(bhttp::field::server, "mailkitd");
      res.set(bhttp::field::content_type, r.content_type);
      res.set(bhttp::field::cache_control, "no-store");
      // RFC 6750 §3: a refused request names the scheme.
      if (r.status == 401) res.set(bhttp::field::www_authenticate, "Bearer realm=\"mailkitd\"");
      if (!r.allow.empty()) res.set(bhttp::field::allow, r.allow);
      res.keep_alive(req.keep_alive());
      if (req.method() != bhttp::verb::head) res.body() = std::move(r.body);
      res.prepare_payload();
      stream.expires_after(opts.idle_timeout);
      auto [wec, wn] =
          co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    --active;
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;
      if (active >= opts.max_connections) continue; // closed when `socket` goes
      ++active;
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }
};

admin_server::admin_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

admin_server::~admin_server() {
  stop();
}

expected<std::unique_ptr<admin_server>> admin_server::start(admin_options opts,
                                                            admin_handler handler) {
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  p->handler = std::move(handler);
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(p->opts.address, ec);
  if (ec) return fail(errc::invalid_argument);
  const tcp::endpoint ep(addr, p->opts.port);
  p->acceptor.open(ep.protocol(), ec);
  if (!ec) p->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) p->acceptor.bind(ep, ec);
  if (!ec) p->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    log(log_level::error, "admin",
        "cannot listen on " + p->opts.address + ":" + std::to_string(p->opts.port) + ": " +
            ec.message());
    return make_unexpected(ec);
  }
  p->port = p->acceptor.local_endpoint().port();
  impl* raw = p.get();
  asio::co_spawn(p->ioc, raw->accept_loop(), asio::detached);
  p->thread = std::thread([raw] {
    name_this_thread("mk-admin");
    raw->ioc.run();
  });
  return std::unique_ptr<admin_server>(new admin_server(std::move(p)));
}

std::uint16_t admin_server::port() const noexcept {
  return impl_->port;
}

void admin_server::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->ioc, [p = impl_.get()] {
    boost::system::error_code ec;
    p->acceptor.close(ec);
  });
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

// ---- the token file ------------------------------------------------------------------------

expected<std::string> load_or_create_admin_token(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    unsigned char raw[32];
    if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
      return fail(errc::io_error);
    static const char hex[] = "0123456789abcdef";
    std::string token;
    for (unsigned char c : raw) {
      token += hex[c >> 4];
      token += hex[c & 15];
    }
    // O_EXCL: two processes starting at once do not overwrite each other's token.
    const int wfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd >= 0) {
      const std::string line = token + "\n";
      const bool ok = ::write(wfd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                      ::fsync(wfd) == 0;
      ::close(wfd);
      if (!ok) {
        ::unlink(path.c_str());
        return fail(errc::io_error);
      }
      log(log_level::notice, "admin", "created the admin token " + path + " (mode 0600)");
      return token;
    }
    if (errno != EEXIST) return fail(errc::io_error);
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return fail(errc::io_error);
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return fail(errc::io_error);
  std::string token(buf, static_cast<std::size_t>(n));
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
    token.pop_back();
  if (token.empty()) return fail(errc::io_error);
  return token;
}

// ---- the client ------------------------------------------------------------------------------

expected<admin_reply> admin_call(std::string_view url, std::string_view method,
                                 std::string_view target, std::string_view token,
                                 std::chrono::milliseconds timeout) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return fail(errc::invalid_argument);
  std::string_view hostport = url.substr(scheme.size());
  if (const auto slash = hostport.find('/'); slash != std::string_view::npos)
    hostport = hostport.substr(0, slash);
  std::string host;
  std::string_view port_text = "80";
  if (!hostport.empty() && hostport.front() == '[') {
    const auto end = hostport.find(']');
    if (end == std::string_view::npos) return fail(errc::invalid_argument);
    host = std::string(hostport.substr(1, end - 1));
    if (end + 1 < hostport.size() && hostport[end + 1] == ':') port_text = hostport.substr(end + 2);
  } else {
    const auto colon = hostport.rfind(':');
    host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) port_text = hostport.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, pec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || pec != std::errc{} || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535)
    return fail(errc::invalid_argument);

  asio::io_context ioc{1};
  expected<admin_reply> result = fail(errc::io_error);
  auto run = [&]() -> asio::awaitable<void> {
    tcp::resolver resolver(ioc);
    auto [rec, eps] = co_await resolver.async_resolve(host, std::to_string(port),
                                                      asio::as_tuple(asio::use_awaitable));
    if (rec) {
      result = make_unexpected(rec);
      co_return;
    }
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    auto [cec, cep] = co_await stream.async_connect(eps, asio::as_tuple(asio::use_awaitable));
    (void)cep;
    if (cec) {
      result = make_unexpected(cec);
      co_return;
    }
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, host + ":" + std::to_string(port));
    req.set(bhttp::field::user_agent, "mailkit");
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + std::string(token));
    req.keep_alive(false);
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec) {
      result = make_unexpected(wec);
      co_return;
    }
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_reply_body);
    auto [ec, n] =
        co_await bhttp::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) {
      result = make_unexpected(ec);
      co_return;
    }
    result = admin_reply{parser.get().result_int(), std::move(parser.get().body())};
  };
  asio::co_spawn(ioc, run(), asio::detached);
  ioc.run();
  return result;
}

} // namespace mailkit::server
