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

namespace mailkit::mtasts {

/// The well-known path of the policy (RFC 8461 §3.2).
inline constexpr std::string_view well_known_path = "/.well-known/mta-sts.txt";

/// A virtual host "mta-sts.<domain>" serving `p` as text/plain at well_known_path, with the
/// certificate of `context`. Fails with errc::bad_domain for an empty or malformed domain and
/// errc::bad_policy for a policy that would not parse back (an `enforce` policy without mx).
[[nodiscard]] expected<http::virtual_host> policy_host(std::string_view domain, const policy& p,
                                                       std::shared_ptr<tls::context> context);

/// The `_mta-sts.<domain>` TXT record for a policy id (1-32 alphanumerics, RFC 8461 §3.1):
/// "v=STSv1; id=<id>". errc::bad_record for an id outside that syntax.
[[nodiscard]] expected<std::string> make_txt_record(std::string_view id);

} // namespace mailkit::mtasts
