// SPDX-License-Identifier: Apache-2.0
// Serving our own MTA-STS policy (RFC 8461 §3.1-§3.3).
#include <mailkit/mtasts/serve.hpp>

#include <cctype>

namespace mailkit::mtasts {

namespace {

bool http_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

} // namespace

expected<http::virtual_host> policy_host(std::string_view domain, const policy& p,
                                         std::shared_ptr<tls::context> context) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  // RFC 1123 §2.1 lengths; the "mta-sts." label must still fit in 253 octets.
  if (domain.empty() || domain.size() > 253 - 8 || domain.front() == '.' ||
      domain.find("..") != std::string_view::npos)
    return fail(errc::bad_domain);
  for (const char c : domain)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return fail(errc::bad_domain);
  if (!context) return fail(errc::bad_domain);
  const std::string body = p.to_text();
  // Never publish what a sender would reject (RFC 8461 §3.2).
  if (!parse_policy(body)) return fail(errc::bad_policy);
  http::virtual_host host;
  host.name = "mta-sts." + std::string(domain);
  host.context = std::move(context);
  http::route r;
  r.status = 200;
  r.content_type = "text/plain"; // RFC 8461 §3.2: the media type is text/plain
  r.body = body;
  host.routes[std::string(well_known_path)] = r;
  return host;
}

expected<std::vector<http::virtual_host>> policy_hosts(const policy_server_config& config) {
  std::vector<http::virtual_host> hosts;
  for (const auto& d : config.domains) {
    auto h = policy_host(d.domain, d.value, d.context ? d.context : config.context);
    if (!h) return unexpected(h.error());
    for (const auto& other : hosts)
      if (http_iequals(other.name, h->name)) return fail(errc::bad_domain);
    hosts.push_back(std::move(*h));
  }
  return hosts;
}

expected<std::unique_ptr<http::server>> serve_policies(const policy_server_config& config) {
  auto hosts = policy_hosts(config);
  if (!hosts) return unexpected(hosts.error());
  if (hosts->empty()) return fail(errc::bad_domain);
  http::server_options o;
  o.address = config.address;
  o.port = config.port;
  o.hosts = std::move(*hosts);
  return http::server::start(std::move(o));
}

expected<std::string> make_txt_record(std::string_view id) {
  // RFC 8461 §3.1: sts-id = 1*32( ALPHA / DIGIT )
  if (id.empty() || id.size() > 32) return fail(errc::bad_record);
  for (const char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c))) return fail(errc::bad_record);
  return "v=STSv1; id=" + std::string(id) + ";";
}

} // namespace mailkit::mtasts
