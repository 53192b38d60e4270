// SPDX-License-Identifier: Apache-2.0
/// @file http.hpp
/// A small HTTPS client and server on Boost.Beast, for what a mail server needs from HTTP: fetch
/// an MTA-STS policy from https://mta-sts.<domain>/.well-known/mta-sts.txt, serve our own policy
/// at that path, and (later) a small admin API.
///
/// The client does one GET or POST per connection (HTTP/1.1, `Connection: close`), validates the
/// server's certificate chain and its name (tls::make_client_context, tls::prepare_client),
/// caps the body size, bounds every step by a deadline, and never follows redirects: a 3xx is
/// returned to the caller as a status like any other. The server answers GET and HEAD for a fixed
/// set of paths per virtual host, chosen by SNI for the certificate and by the Host header for
/// the content; it is meant for small static documents, not for a web site. A route may also
/// accept POST bodies up to a size it sets (a TLS-RPT report endpoint, RFC 8460 §5.4); the server
/// keeps what it received for its owner to read (server::received()).
///
/// **Standards**: RFC 9110 / RFC 9112 (HTTP/1.1 semantics and messages, through Beast), RFC 2818
/// / RFC 9525 (server identity in HTTPS), RFC 6066 §3 (SNI), RFC 8461 §3.3 (the constraints an
/// MTA-STS fetch puts on HTTPS: no redirects, validated certificate, bounded size and time).
///
/// **Security**: both halves talk to the network. The client treats the server as hostile: the
/// header block is capped at 8 KiB, the body at `client_options::max_body`, and the whole
/// exchange at `client_options::timeout`. The server caps request headers at 8 KiB, refuses
/// request bodies except on routes that accept POST (bounded by route::max_request_body), and
/// closes idle connections after `server_options::idle_timeout`. Neither
/// reads or writes files. Beast stays out of this header.
#pragma once

#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/tls/tls.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dns {
class resolver;
} // namespace mailkit::dns

namespace mailkit::http {

/// Operational failures of an HTTP exchange. A non-2xx status is not an error: it is in the
/// response. Transient unless said otherwise.
enum class errc {
  ok = 0,
  invalid_request = 1, ///< empty host, a target not starting with "/", bad options (permanent)
  resolve_failed,      ///< the host name has no address, or the lookup failed
  connect_failed,      ///< no address accepted a TCP connection
  tls_failed,          ///< the TLS handshake failed for a reason other than the certificate
  certificate_invalid, ///< the certificate chain or name did not validate (RFC 9525)
  timed_out,           ///< the exchange ran past its deadline
  body_too_large,      ///< the response body is longer than client_options::max_body
  bad_response,        ///< the response is not valid HTTP/1.x, or its header block is too large
  io_error,            ///< the connection broke during the exchange
  bind_failed,         ///< the server could not listen on the address given (permanent)
};

const error_category& category() noexcept;
inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

/// How the client connects.
struct client_options {
  /// PEM bundle of trusted roots; empty: the system store. Tests point this at their own CA.
  std::string ca_file;
  /// Port to connect to; 443 for https. Tests use a loopback server on another port.
  std::uint16_t port = 443;
  /// The whole exchange (lookup, connect, handshake, request, response) must end by then.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  /// The largest body accepted; a longer one (announced or actually sent) is body_too_large.
  std::size_t max_body = 64 * 1024;
  /// Host names are looked up (A, then AAAA) with this resolver when set, else with the system
  /// resolver (getaddrinfo). The resolver must answer without the calling thread's help.
  dns::resolver* resolver = nullptr;
  std::string user_agent = "mailkit";
};

/// A response as received. The body is at most client_options::max_body octets.
struct response {
  unsigned status = 0;      ///< e.g. 200, 301, 404
  std::string content_type; ///< the Content-Type field as sent ("" when absent)
  std::string location;     ///< the Location field, for 3xx ("" when absent)
  std::string body;         ///< decoded from chunked transfer coding when that was used
};

/// GET https://<host>:<port><target> and return the response.
/// Blocking: runs its own io_context on the calling thread; call it from a worker thread, never
/// from an Asio I/O thread. Redirects are never followed (RFC 8461 §3.3).
/// @param host a DNS name (checked against the certificate) or an IP literal
/// @param target the request target, starting with "/"
/// @return the response, or an http::errc (or a dns:: error code from the resolver)
[[nodiscard]] expected<response> get(std::string_view host, std::string_view target,
                                     const client_options& options = {});

/// POST `body` (of media type `content_type`) to https://<host>:<port><target>; otherwise as
/// get(). Used for TLS-RPT report delivery (RFC 8460 §5.4). Blocking, as get().
/// @return the response (any status), or an http::errc
[[nodiscard]] expected<response> post(std::string_view host, std::string_view target,
                                      std::string_view content_type, std::string body,
                                      const client_options& options = {});

/// One fixed answer of the server.
struct route {
  unsigned status = 200;
  std::string content_type = "text/plain";
  std::string body;
  /// Send the body with chunked transfer coding instead of Content-Length.
  bool chunked = false;
  /// When non-zero, announce this Content-Length instead of the body's size (with a longer
  /// body, the extra octets are sent anyway: for tests of clients' size limits).
  std::size_t announced_length = 0;
  /// When non-zero, POST is accepted on this route with a body of at most this many octets
  /// (a longer one gets 413 and the connection is closed); the answer is this route's.
  std::size_t max_request_body = 0;
};

/// A POST the server accepted (see route::max_request_body).
struct received_request {
  std::string host;   ///< the Host field, without port
  std::string target; ///< the request target
  std::string content_type;
  std::string body;
};

/// A name the server answers for: its certificate (chosen by SNI) and its paths.
struct virtual_host {
  std::string name;                      ///< host name, compared case-insensitively
  std::shared_ptr<tls::context> context; ///< server context with this host's certificate
  std::map<std::string, route> routes;   ///< path (without query) -> answer; others are 404
};

struct server_options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0; ///< 0: any free port (see server::port())
  /// The first host is the default: its certificate is used when SNI names no configured host,
  /// and a request whose Host names no configured host gets 404 (RFC 9110 §15.5.5).
  std::vector<virtual_host> hosts;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
};

/// A running HTTPS server with one I/O thread of its own. Thread-safe to stop from any thread
/// except its own.
class server {
public:
  /// Bind and start serving. Installs an SNI callback on the first host's context.
  [[nodiscard]] static expected<std::unique_ptr<server>> start(server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The port bound (the one asked for, or the one the system chose for 0).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// How many requests were answered so far (for tests and logs).
  [[nodiscard]] std::size_t requests() const noexcept;
  /// The POST requests accepted so far, oldest first (at most 1000 are kept).
  [[nodiscard]] std::vector<received_request> received() const;
  /// Serve `hosts` (content and certificates) from now on: connections accepted afterwards use
  /// them, open connections keep the hosts and certificate they started with (a certificate
  /// reload, DESIGN.md §5). Thread-safe. Fails with invalid_request, changing nothing, for an
  /// empty list or a host without a name or certificate (as start()).
  [[nodiscard]] expected<void> replace_hosts(std::vector<virtual_host> hosts);
  /// Stop accepting, close connections, join the thread. Idempotent.
  void stop();

  struct impl;

private:
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace mailkit::http

template <>
struct boost::system::is_error_code_enum<mailkit::http::errc> : std::true_type {};
