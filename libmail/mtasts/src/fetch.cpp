// SPDX-License-Identifier: Apache-2.0
// RFC 8461 §3.1 discovery and §3.3 HTTPS fetch.
#include <mailkit/dns/resolver.hpp>
#include <mailkit/http/http.hpp>
#include <mailkit/mtasts/mtasts.hpp>

namespace mailkit::mtasts {

namespace {

expected<std::string> policy_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  // A leading dot (".example.com") or an empty label is not a domain (snawoot ".good.loc").
  if (domain.empty() || domain.front() == '.') return fail(errc::bad_domain);
  auto ascii = dns::to_ascii(domain);
  if (!ascii) return fail(errc::bad_domain);
  return *ascii;
}

} // namespace

expected<std::optional<txt_record>> discover(dns::resolver& r, std::string_view domain) {
  auto d = policy_domain(domain);
  // A name that cannot exist publishes no policy.
  if (!d) return std::optional<txt_record>{};
  // RFC 8461 §3.1: the record lives at "_mta-sts" under the Policy Domain; CNAMEs are followed
  // by the resolver.
  auto ans = dns::query(r, "_mta-sts." + *d, dns::rtype::txt);
  if (!ans) return unexpected(ans.error());
  return select_txt_record(ans->txt_joined());
}

expected<policy> fetch_policy(std::string_view domain, dns::resolver& r,
                              const fetch_options& options) {
  auto d = policy_domain(domain);
  if (!d) return unexpected(d.error());
  http::client_options h;
  h.ca_file = options.ca_file;
  h.port = options.port;
  h.timeout = options.timeout;
  // RFC 8461 §3.3: "Senders MUST NOT accept a policy body larger than 64 kilobytes".
  h.max_body = max_policy_size;
  h.resolver = options.resolve_host_with_resolver ? &r : nullptr;
  h.user_agent = "mailkit-mta-sts";
  // RFC 8461 §3.3: "https://mta-sts.<domain>/.well-known/mta-sts.txt"; the certificate must be
  // valid for "mta-sts.<domain>" (checked by http::get through tls::prepare_client).
  auto res = http::get("mta-sts." + *d, "/.well-known/mta-sts.txt", h);
  if (!res) return unexpected(res.error()); // http:: errors: connect, TLS, certificate, size
  // RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed, and HTTP caching ... MUST NOT be
  // used"; anything but 200 means there is no policy to be had now.
  if (res->status != 200) return fail(errc::http_status);
  // RFC 8461 §3.2: the policy's media type is "text/plain".
  if (!is_text_plain(res->content_type)) return fail(errc::bad_content_type);
  return parse_policy(res->body);
}

expected<std::optional<fetched_policy>> fetch(dns::resolver& r, std::string_view domain,
                                              const fetch_options& options) {
  auto rec = discover(r, domain);
  if (!rec) return unexpected(rec.error());
  if (!*rec) return std::optional<fetched_policy>{};
  auto p = fetch_policy(domain, r, options);
  if (!p) return unexpected(p.error());
  return std::optional<fetched_policy>(fetched_policy{(*rec)->id, std::move(*p)});
}

} // namespace mailkit::mtasts
