// SPDX-License-Identifier: Apache-2.0
// TLS-RPT report periods and delivery by HTTPS POST (RFC 8460 §4.1, §5.4).
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <cctype>
#include <charconv>

namespace mailkit::tlsrpt {

std::pair<mailkit::clock::time_point, mailkit::clock::time_point>
report_period(mailkit::clock::time_point now) {
  using namespace std::chrono;
  // RFC 8460 §4.1: a report covers one full UTC day.
  const auto today = floor<days>(now);
  const mailkit::clock::time_point begin = today - days(1);
  return {begin, today - seconds(1)};
}

expected<https_uri> parse_https_uri(std::string_view uri) {
  constexpr std::string_view scheme = "https://";
  if (uri.size() <= scheme.size()) return fail(errc::bad_uri);
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(uri[i]))) != scheme[i])
      return fail(errc::bad_uri);
  uri.remove_prefix(scheme.size());
  const auto slash = uri.find_first_of("/?");
  const std::string_view authority = uri.substr(0, slash);
  https_uri out;
  out.target = slash == std::string_view::npos ? "/" : std::string(uri.substr(slash));
  if (out.target.front() == '?') out.target = "/" + out.target;
  // No userinfo, no fragment (RFC 9110 §4.2.4), no IPv6 literal; no control, space or 8-bit
  // octets anywhere (they would break the request line).
  if (authority.empty() || authority.find_first_of("@[]") != std::string_view::npos ||
      uri.find('#') != std::string_view::npos)
    return fail(errc::bad_uri);
  for (const char c : uri)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return fail(errc::bad_uri);
  std::string_view host = authority;
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    const std::string_view digits = authority.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535)
      return fail(errc::bad_uri);
    out.port = static_cast<std::uint16_t>(port);
  }
  // RFC 1123 §2.1 host names (letters, digits, hyphens, dots) or an IPv4 literal.
  if (host.empty() || host.size() > 253) return fail(errc::bad_uri);
  for (const char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return fail(errc::bad_uri);
  out.host = std::string(host);
  return out;
}

expected<void> post_report(std::string_view rua, const report& r, http::client_options options) {
  auto uri = parse_https_uri(rua);
  if (!uri) return unexpected(uri.error());
  auto body = gzip(to_json(r));
  if (!body) return unexpected(body.error());
  options.port = uri->port;
  // RFC 8460 §5.4: the gzipped report, with the media type the RFC registers for it.
  auto res =
      http::post(uri->host, uri->target, "application/tlsrpt+gzip", std::move(*body), options);
  if (!res) return unexpected(res.error());
  // RFC 8460 §5.4: a successful (2xx) answer means the report was received; another status is
  // a delivery failure the sender may retry.
  if (res->status < 200 || res->status > 299) return fail(errc::rejected);
  return {};
}

} // namespace mailkit::tlsrpt
