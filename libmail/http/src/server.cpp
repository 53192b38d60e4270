// SPDX-License-Identifier: Apache-2.0
// The fixed-path HTTPS server: certificates by SNI, content by Host, GET and HEAD, and POST on
// routes that accept a bounded body.
// Asio's awaitable frames pair their operator new with a sized operator delete as C++20
// [dcl.fct.def.coroutine] prescribes; GCC 12's -Wmismatched-new-delete does not know the pairing
// (as in libmail/spf/src/evaluator.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <mailkit/core/thread_name.hpp>
#include <mailkit/http/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <thread>

namespace mailkit::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "Host: name:port" -> "name" (RFC 9110 §7.2; IPv6 literals keep their brackets).
std::string_view host_part(std::string_view h) {
  if (!h.empty() && h.front() == '[') {
    const auto end = h.find(']');
    return end == std::string_view::npos ? h : h.substr(0, end + 1);
  }
  const auto colon = h.rfind(':');
  return colon == std::string_view::npos ? h : h.substr(0, colon);
}

// The hosts a connection was accepted with, found from its SSL object by the SNI callback. An
// ex_data slot of our own (not the SSL_CTX's callback argument): the first host's context may be
// shared with other listeners (mailkitd's SMTP and IMAP), whose connections carry no hosts and
// are left alone, and contexts outlive a replace_hosts().
using host_list = std::vector<virtual_host>;

int hosts_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const virtual_host* find_in(const host_list& hosts, std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  for (const auto& h : hosts)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

// RFC 6066 §3: pick the certificate of the host the client named.
int on_servername(SSL* ssl, int* /*alert*/, void* /*arg*/) {
  const auto* hosts = static_cast<const host_list*>(SSL_get_ex_data(ssl, hosts_index()));
  if (hosts == nullptr) return SSL_TLSEXT_ERR_NOACK; // not one of ours
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  const virtual_host* h = find_in(*hosts, name);
  if (h != nullptr && h->context) SSL_set_SSL_CTX(ssl, h->context->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

bool valid_hosts(const host_list& hosts) {
  if (hosts.empty()) return false;
  for (const auto& h : hosts)
    if (!h.context || h.name.empty()) return false;
  return true;
}

// Every connection starts on the first host's context, so the SNI callback goes there. Setting
// it is idempotent; a context shared with other listeners (mailkitd's one certificate) gets a
// callback that ignores their connections (no hosts in their ex_data).
std::shared_ptr<const host_list> install(host_list hosts) {
  SSL_CTX* first = hosts.front().context->native_handle();
  SSL_CTX_set_tlsext_servername_callback(first, &on_servername);
  return std::make_shared<const host_list>(std::move(hosts));
}

} // namespace

struct server::impl {
  server_options opts; ///< address, port, idle timeout (the hosts live in `hosts`)
  mutable std::mutex hosts_mutex;
  std::shared_ptr<const host_list> hosts; ///< replaced whole by replace_hosts()
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  std::atomic<std::size_t> requests{0};
  std::uint16_t port = 0;
  mutable std::mutex received_mutex;
  std::vector<received_request> received;
  static constexpr std::size_t max_received = 1000;

  const route* find_route(const virtual_host* h, std::string_view target) const {
    if (h == nullptr) return nullptr;
    if (const auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    const auto it = h->routes.find(std::string(target));
    return it == h->routes.end() ? nullptr : &it->second;
  }

  std::shared_ptr<const host_list> current_hosts() const {
    std::lock_guard lock(hosts_mutex);
    return hosts;
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    const auto tuple = asio::as_tuple(asio::use_awaitable);
    // The hosts (and so the certificates) of this connection, for its whole life.
    const std::shared_ptr<const host_list> my_hosts = current_hosts();
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *my_hosts->front().context);
    SSL_set_ex_data(stream.native_handle(), hosts_index(), const_cast<host_list*>(my_hosts.get()));
    beast::get_lowest_layer(stream).expires_after(opts.idle_timeout);
    if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, tuple); ec)
      co_return;
    beast::flat_buffer buffer;
    for (int served = 0; served < 100; ++served) {
      beast::get_lowest_layer(stream).expires_after(opts.idle_timeout);
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(8 * 1024);
      // No limit while the header is read, so that an announced length can be answered with
      // 413 or 400 below; the body itself is read only under the route's limit.
      parser.body_limit(boost::none);
      if (auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, tuple); ec)
        co_return;
      ++requests;
      const auto& req = parser.get();
      const bool head = req.method() == bhttp::verb::head;
      const bool post = req.method() == bhttp::verb::post;
      const std::string_view host_name = host_part(req[bhttp::field::host]);
      const route* found = find_route(find_in(*my_hosts, host_name), req.target());
      const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
      route r;
      bool close_after = false;
      if (!post && req.method() != bhttp::verb::get && !head) {
        r.status = 405;
        r.body = "method not allowed\n";
        close_after = has_body; // the body is not read: the connection cannot go on
      } else if (found == nullptr) {
        r.status = 404;
        r.body = "not found\n";
        close_after = has_body;
      } else if (post && found->max_request_body == 0) {
        r.status = 405;
        r.body = "method not allowed\n";
        close_after = has_body;
      } else if (!post && has_body) {
        // GET and HEAD carry no content here (RFC 9110 §9.3.1); do not read one.
        r.status = 400;
        r.body = "unexpected body\n";
        close_after = true;
      } else if (post && parser.content_length().value_or(0) > found->max_request_body) {
        r.status = 413; // RFC 9110 §15.5.14
        r.body = "content too large\n";
        close_after = true;
      } else if (post) {
        parser.body_limit(found->max_request_body);
        auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, tuple);
        if (ec == bhttp::error::body_limit) {
          r.status = 413; // RFC 9110 §15.5.14
          r.body = "content too large\n";
          close_after = true;
        } else if (ec) {
          co_return;
        } else {
          r = *found;
          std::lock_guard lock(received_mutex);
          if (received.size() < max_received)
            received.push_back({std::string(host_name), std::string(req.target()),
                                std::string(req[bhttp::field::content_type]), req.body()});
        }
      } else {
        r = *found;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
      res.set(bhttp::field::server, "mailkit");
      if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
      if (!head) res.body() = r.body;
      if (r.chunked) {
        res.chunked(true);
      } else if (r.announced_length != 0) {
        res.set(bhttp::field::content_length, std::to_string(r.announced_length));
      } else {
        res.content_length(r.body.size());
      }
      res.keep_alive(req.keep_alive() && r.announced_length == 0 && !close_after);
      if (auto [ec, n] = co_await bhttp::async_write(stream, res, tuple); ec) co_return;
      if (!res.keep_alive()) break;
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    (void)co_await stream.async_shutdown(tuple);
  }

  asio::awaitable<void> accept_loop() {
    const auto tuple = asio::as_tuple(asio::use_awaitable);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(tuple);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;
      asio::co_spawn(ioc, serve(std::move(socket)), asio::detached);
    }
  }
};

expected<std::unique_ptr<server>> server::start(server_options options) {
  if (!valid_hosts(options.hosts)) return fail(errc::invalid_request);
  auto p = std::make_unique<impl>();
  p->hosts = install(std::move(options.hosts));
  p->opts = std::move(options);
  p->opts.hosts.clear();
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(p->opts.address, ec);
  if (ec) return fail(errc::invalid_request);
  const tcp::endpoint ep(address, p->opts.port);
  p->acceptor.open(ep.protocol(), ec);
  if (!ec) p->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) p->acceptor.bind(ep, ec);
  if (!ec) p->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(errc::bind_failed);
  p->port = p->acceptor.local_endpoint().port();
  asio::co_spawn(p->ioc, p->accept_loop(), asio::detached);
  p->thread = std::thread([raw = p.get()] {
    name_this_thread("mk-http");
    raw->ioc.run();
  });
  return std::unique_ptr<server>(new server(std::move(p)));
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() {
  stop();
}

std::uint16_t server::port() const noexcept {
  return impl_->port;
}

std::size_t server::requests() const noexcept {
  return impl_->requests.load();
}

std::vector<received_request> server::received() const {
  std::lock_guard lock(impl_->received_mutex);
  return impl_->received;
}

void server::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->ioc, [p = impl_.get()] {
    boost::system::error_code ignored;
    p->acceptor.close(ignored);
    p->ioc.stop();
  });
  impl_->thread.join();
  // The SNI callback stays on the contexts: it acts only on this server's connections (by their
  // ex_data), and a context may be in use elsewhere.
}

expected<void> server::replace_hosts(std::vector<virtual_host> hosts) {
  if (!valid_hosts(hosts)) return fail(errc::invalid_request);
  auto fresh = install(std::move(hosts));
  std::lock_guard lock(impl_->hosts_mutex);
  impl_->hosts = std::move(fresh);
  return {};
}

} // namespace mailkit::http
