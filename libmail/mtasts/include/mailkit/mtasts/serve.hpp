// SPDX-License-Identifier: Apache-2.0
/// @file serve.hpp
/// Publishing our own MTA-STS policy: the HTTPS virtual host that answers
/// https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.2, §3.3) for an http::server,
/// and the `_mta-sts` TXT record that announces it (§3.1). The server composition builds one
/// host per domain from its configuration.
///
/// **Standards**: RFC 8461 §3.1 (TXT record), §3.2 (policy file, media type text/plain), §3.3
/// (the policy host's certificate must be valid for "mta-sts.<domain>").
///
/// **Security**: serves public data only; the certificate in `context` must name the policy host.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/http/http.hpp>
#include <mailkit/mtasts/mtasts.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mtasts {

/// The well-known path of the policy (RFC 8461 §3.2).
inline constexpr std::string_view well_known_path = "/.well-known/mta-sts.txt";

/// A virtual host "mta-sts.<domain>" serving `p` as text/plain at well_known_path, with the
/// certificate of `context`. Fails with errc::bad_domain for an empty or malformed domain and
/// errc::bad_policy for a policy that would not parse back (an `enforce` policy without mx).
[[nodiscard]] expected<http::virtual_host> policy_host(std::string_view domain, const policy& p,
                                                       std::shared_ptr<tls::context> context);

/// One of our domains whose policy we publish, as the server configuration gives it.
struct published_policy {
  std::string domain; ///< the Policy Domain ("example.com"); the host is "mta-sts.<domain>"
  policy value;
  /// The certificate for "mta-sts.<domain>"; null = policy_server_config::context.
  std::shared_ptr<tls::context> context;
};

/// The policy web server of all our domains (mailkitd mounts it from its configuration).
struct policy_server_config {
  std::vector<published_policy> domains;
  /// The certificate used where a domain has none of its own (one naming every
  /// "mta-sts.<domain>", e.g. as subjectAltNames).
  std::shared_ptr<tls::context> context;
  std::string address = "0.0.0.0";
  std::uint16_t port = 443; ///< 0: any free port (tests)
};

/// One virtual host per configured domain (policy_host()), for an http::server that may serve
/// other hosts too. A request names its policy by Host (and its certificate by SNI); any other
/// host or path is 404 (http::server). Fails as policy_host() does (the first bad domain), and
/// with errc::bad_domain for a domain given twice.
[[nodiscard]] expected<std::vector<http::virtual_host>>
policy_hosts(const policy_server_config& config);

/// Start an http::server answering GET https://mta-sts.<domain>/.well-known/mta-sts.txt for
/// every configured domain (RFC 8461 §3.3), 404 for anything else. Errors: policy_hosts()'s,
/// or the server's (the address cannot be bound).
[[nodiscard]] expected<std::unique_ptr<http::server>>
serve_policies(const policy_server_config& config);

/// The `_mta-sts.<domain>` TXT record for a policy id (1-32 alphanumerics, RFC 8461 §3.1):
/// "v=STSv1; id=<id>". errc::bad_record for an id outside that syntax.
[[nodiscard]] expected<std::string> make_txt_record(std::string_view id);

} // namespace mailkit::mtasts
