// SPDX-License-Identifier: Apache-2.0
// The HTTPS client (GET, POST): one request per connection, every step under one deadline.
// Asio's awaitable frames pair their operator new with a sized operator delete as C++20
// [dcl.fct.def.coroutine] prescribes; GCC 12's -Wmismatched-new-delete does not know the pairing
// (as in libmail/spf/src/evaluator.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <mailkit/dns/resolver.hpp>
#include <mailkit/http/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
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
#include <openssl/x509_vfy.h>

namespace mailkit::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

class category_impl final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.http"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::invalid_request:
      return "invalid HTTP request or options";
    case errc::resolve_failed:
      return "host name has no address";
    case errc::connect_failed:
      return "could not connect to the server";
    case errc::tls_failed:
      return "TLS handshake failed";
    case errc::certificate_invalid:
      return "server certificate did not validate";
    case errc::timed_out:
      return "HTTP exchange timed out";
    case errc::body_too_large:
      return "response body exceeds the size limit";
    case errc::bad_response:
      return "malformed HTTP response";
    case errc::io_error:
      return "connection broken during the HTTP exchange";
    case errc::bind_failed:
      return "could not listen on the address";
    }
    return "unknown HTTP error";
  }
  bool permanent(int value) const noexcept override {
    const auto e = static_cast<errc>(value);
    return e == errc::invalid_request || e == errc::bind_failed;
  }
};

using result_t = expected<response>;

// Map a Beast/Asio failure of step `step` to an errc; `timed_out` wins because the deadline
// closes the socket and the operation then reports whatever the close caused.
error_code classify(const boost::system::error_code& ec, bool deadline_passed, errc step) {
  if (deadline_passed || ec == beast::error::timeout) return make_error_code(errc::timed_out);
  if (ec == bhttp::error::body_limit) return make_error_code(errc::body_too_large);
  if (ec.category() == make_error_code(bhttp::error::header_limit).category())
    return make_error_code(errc::bad_response);
  return make_error_code(step);
}

std::vector<tcp::endpoint> endpoints_from_dns(dns::resolver& r, const std::string& host,
                                              std::uint16_t port, error_code& ec) {
  std::vector<tcp::endpoint> out;
  bool any_answer = false;
  for (dns::rtype t : {dns::rtype::a, dns::rtype::aaaa}) {
    auto ans = dns::query(r, host, t);
    if (!ans) {
      ec = ans.error();
      continue;
    }
    any_answer = true;
    for (const auto& a : ans->a())
      out.emplace_back(asio::ip::address_v4(a.bytes), port);
    for (const auto& a : ans->aaaa())
      out.emplace_back(asio::ip::address_v6(a.bytes), port);
  }
  if (!out.empty())
    ec = {};
  else if (any_answer)
    ec = make_error_code(errc::resolve_failed);
  return out;
}

// One request: GET (no body) or POST (with `body`, of `content_type`).
struct request_spec {
  bhttp::verb method = bhttp::verb::get;
  std::string target;
  std::string content_type;
  std::string body;
};

asio::awaitable<result_t> run_request(std::shared_ptr<tls::context> ctx, std::string host,
                                      request_spec spec, client_options opts,
                                      std::vector<tcp::endpoint> endpoints,
                                      std::chrono::steady_clock::time_point deadline) {
  const auto tuple = asio::as_tuple(asio::use_awaitable);
  auto ex = co_await asio::this_coro::executor;
  const auto passed = [&] { return std::chrono::steady_clock::now() >= deadline; };

  if (endpoints.empty()) {
    tcp::resolver resolver(ex);
    // The system resolver has no deadline of its own; it is bounded by the OS's settings.
    auto [ec, results] = co_await resolver.async_resolve(host, std::to_string(opts.port), tuple);
    if (ec || results.empty()) co_return unexpected(make_error_code(errc::resolve_failed));
    for (const auto& e : results)
      endpoints.push_back(e.endpoint());
  }

  beast::ssl_stream<beast::tcp_stream> stream(ex, *ctx);
  if (auto ok = tls::prepare_client(stream.native_handle(), host, true); !ok)
    co_return unexpected(ok.error());

  beast::get_lowest_layer(stream).expires_at(deadline);
  {
    auto [ec, ep] = co_await beast::get_lowest_layer(stream).async_connect(endpoints, tuple);
    (void)ep;
    if (ec) co_return unexpected(classify(ec, passed(), errc::connect_failed));
  }
  {
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, tuple);
    if (ec) {
      // RFC 8461 §3.3 / RFC 9525: a chain or name that does not validate is its own failure.
      if (SSL_get_verify_result(stream.native_handle()) != X509_V_OK)
        co_return unexpected(make_error_code(errc::certificate_invalid));
      co_return unexpected(classify(ec, passed(), errc::tls_failed));
    }
  }
  bhttp::request<bhttp::string_body> req{spec.method, spec.target, 11};
  req.set(bhttp::field::host, opts.port == 443 ? host : host + ":" + std::to_string(opts.port));
  req.set(bhttp::field::user_agent, opts.user_agent);
  req.set(bhttp::field::connection, "close");
  if (spec.method == bhttp::verb::post) {
    req.set(bhttp::field::content_type, spec.content_type);
    req.body() = std::move(spec.body);
    req.prepare_payload();
  }
  {
    auto [ec, n] = co_await bhttp::async_write(stream, req, tuple);
    (void)n;
    if (ec) co_return unexpected(classify(ec, passed(), errc::io_error));
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(opts.max_body);
  {
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, tuple);
    (void)n;
    if (ec) co_return unexpected(classify(ec, passed(), errc::bad_response));
  }
  const auto& msg = parser.get();
  response out;
  out.status = msg.result_int();
  out.content_type = std::string(msg[bhttp::field::content_type]);
  out.location = std::string(msg[bhttp::field::location]);
  out.body = msg.body();
  // Best effort: the answer is complete whether or not the peer's close_notify arrives.
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  (void)co_await stream.async_shutdown(tuple);
  co_return out;
}

} // namespace

const error_category& category() noexcept {
  static const category_impl instance;
  return instance;
}

namespace {

expected<response> exchange(std::string_view host_in, request_spec spec,
                            const client_options& options) {
  std::string host(host_in);
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty() || spec.target.empty() || spec.target.front() != '/' || options.port == 0)
    return fail(errc::invalid_request);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;

  tls::client_options topts;
  topts.verify_peer = true;
  topts.ca_file = options.ca_file;
  auto ctx = tls::make_client_context(topts);
  if (!ctx) return unexpected(ctx.error());

  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code parse_ec;
  const auto literal = asio::ip::make_address(host, parse_ec);
  if (!parse_ec) {
    endpoints.emplace_back(literal, options.port);
  } else if (options.resolver != nullptr) {
    error_code ec;
    endpoints = endpoints_from_dns(*options.resolver, host, options.port, ec);
    if (endpoints.empty()) return unexpected(ec ? ec : make_error_code(errc::resolve_failed));
  }

  asio::io_context ioc;
  result_t result = fail(errc::io_error);
  asio::co_spawn(ioc,
                 run_request(*ctx, host, std::move(spec), options, std::move(endpoints), deadline),
                 [&](std::exception_ptr e, result_t r) {
                   result = e ? result_t(fail(errc::io_error)) : std::move(r);
                 });
  ioc.run();
  return result;
}

} // namespace

expected<response> get(std::string_view host, std::string_view target,
                       const client_options& options) {
  return exchange(host, {bhttp::verb::get, std::string(target), {}, {}}, options);
}

expected<response> post(std::string_view host, std::string_view target,
                        std::string_view content_type, std::string body,
                        const client_options& options) {
  // RFC 9110 §8.3: a payload without a media type is not ours to send.
  if (content_type.empty() || content_type.find_first_of("\r\n") != std::string_view::npos)
    return fail(errc::invalid_request);
  return exchange(
      host, {bhttp::verb::post, std::string(target), std::string(content_type), std::move(body)},
      options);
}

} // namespace mailkit::http
