// SPDX-License-Identifier: Apache-2.0
/// @file admin.hpp
/// The admin port of mail_server: Prometheus metrics and the operator API (JSON) for the queue
/// and the outbound relays, over plain HTTP/1.1 on a loopback address; and the small client
/// `mailkit queue ...` / `mailkit relay status` use to talk to it.
///
/// Endpoints (docs/configuration.md [admin], docs/queue.md):
///
///     GET  /metrics                        Prometheus text format 0.0.4 (no token)
///     GET  /api/queue                      every queued message (token)
///     POST /api/queue/flush                retry every deferred recipient now (token)
///     POST /api/queue/<id>/hold            hold / release / delete one message (token);
///     POST /api/queue/<id>/release         delete takes ?notify=1 to send the sender a DSN
///     POST /api/queue/<id>/delete
///     GET  /api/relay                      quota used, limit, window, reset, held until (token)
///
/// Every /api/ request needs `Authorization: Bearer <token>` (RFC 6750 §2.1), the token being
/// the contents of <data_dir>/admin-token (created mode 0600 with 32 random octets at the first
/// start); a missing or wrong token gets 401 with `WWW-Authenticate: Bearer`. Mutating
/// endpoints accept POST only (405 otherwise, with `Allow`), so a browser's GET cannot change
/// anything. /metrics is public: the port must stay on loopback or behind a firewall.
///
/// **Standards**: RFC 9110 / RFC 9112 (HTTP/1.1, through Beast), RFC 6750 §2.1 and §3 (bearer
/// tokens), RFC 8259 (JSON); the Prometheus text exposition format 0.0.4.
/// **Security**: listens on the network (meant for 127.0.0.1). Request headers are capped at
/// 8 KiB, bodies at 4 KiB, connections at `admin_options::max_connections`, each idle
/// connection at `admin_options::idle_timeout`. The token is compared in constant time and
/// never logged. Queue ids from the path are checked (hex, at most 64) before use.
#pragma once

#include <mailkit/core/expected.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mailkit::server {

class mail_server;

/// One request as the admin server hands it to its handler.
struct admin_request {
  std::string method;      ///< "GET", "POST", ...
  std::string path;        ///< the target without its query
  std::string query;       ///< after '?', "" when none
  bool authorized = false; ///< a valid bearer token came with it
};

/// The handler's answer.
struct admin_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow; ///< for 405: the Allow field
};

using admin_handler = std::function<admin_response(const admin_request&)>;

struct admin_options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 9925; ///< 0: any free port (see admin_server::port())
  std::string token;         ///< the bearer token; empty: every /api/ request is refused
  std::size_t max_connections = 32;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(10)};
};

/// A running admin listener with one thread of its own (handlers run on it: a slow handler
/// only delays other admin requests).
class admin_server {
public:
  /// Bind and serve. errc::io_error when the address cannot be bound.
  [[nodiscard]] static expected<std::unique_ptr<admin_server>> start(admin_options opts,
                                                                     admin_handler handler);
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// Stop accepting, close connections, join the thread. Idempotent.
  void stop();

  struct impl;

private:
  explicit admin_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The admin API of a running mail_server (the routes above): the handler mail_server::start()
/// installs. Exposed for tools and tests.
[[nodiscard]] admin_response handle_admin_request(mail_server& srv, const admin_request& req);

/// The Prometheus text of `srv` (GET /metrics).
[[nodiscard]] std::string render_metrics(mail_server& srv);

/// Read the token at `path`, or create it (32 random octets as 64 hex digits, mode 0600) when
/// the file does not exist. errc::io_error when it cannot be read or written, or is empty.
[[nodiscard]] expected<std::string> load_or_create_admin_token(const std::string& path);

/// The client side (the CLI): one request per connection, `Connection: close`, bounded by
/// `timeout`; the body of the answer is capped at 16 MiB.
struct admin_reply {
  unsigned status = 0;
  std::string body;
};
/// @param url "http://127.0.0.1:9925" (http only; an IPv6 literal in brackets)
/// @param target "/api/queue" ...
/// @return the reply, or an error code (connection refused: mailkitd not running)
[[nodiscard]] expected<admin_reply>
admin_call(std::string_view url, std::string_view method, std::string_view target,
           std::string_view token, std::chrono::milliseconds timeout = std::chrono::seconds(30));

} // namespace mailkit::server
