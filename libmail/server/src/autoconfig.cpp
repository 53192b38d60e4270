// SPDX-License-Identifier: Apache-2.0
// Thunderbird-style client autoconfiguration and the HTTPS listener's virtual hosts
// (autoconfig.hpp).
#include <mailkit/mtasts/serve.hpp>
#include <mailkit/server/autoconfig.hpp>
#include <mailkit/server/mail_server.hpp>

#include <algorithm>
#include <cctype>

namespace mailkit::server {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 1123 §2.1 / RFC 1035 §2.3.4: labels of letters, digits and hyphens, 1-63 octets, not
// starting or ending with a hyphen; 253 octets in all (without the root dot).
bool is_host_name(std::string_view h) {
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  if (h.empty() || h.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= h.size(); ++i) {
    if (i == h.size() || h[i] == '.') {
      if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-') return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(h[i])) && h[i] != '-') return false;
    ++label;
  }
  return true;
}

std::string strip_dot(std::string_view h) {
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  return std::string(h);
}

} // namespace

client_settings client_settings_for(std::string_view domain, const autoconfig_config& c,
                                    std::string_view hostname) {
  client_settings s;
  s.domain = strip_dot(domain);
  s.display_name = c.display_name;
  const std::string imap = strip_dot(c.imap_host.empty() ? hostname : c.imap_host);
  const std::string smtp = strip_dot(c.smtp_host.empty() ? hostname : c.smtp_host);
  // RFC 8314 §5.1: implicit TLS is preferred over STARTTLS, so it is listed first.
  if (c.imaps_port != 0) s.servers.push_back({"imap", imap, c.imaps_port, "SSL"});
  if (c.imap_port != 0) s.servers.push_back({"imap", imap, c.imap_port, "STARTTLS"});
  if (c.submissions_port != 0) s.servers.push_back({"smtp", smtp, c.submissions_port, "SSL"});
  if (c.submission_port != 0) s.servers.push_back({"smtp", smtp, c.submission_port, "STARTTLS"});
  return s;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    default:
      // XML 1.0 §2.2: Char excludes the C0 controls other than TAB, LF and CR (and DEL is
      // allowed but invisible: kept). UTF-8 octets pass through unchanged.
      out += (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? ' ' : ch;
    }
  }
  return out;
}

expected<std::string> make_autoconfig_xml(const client_settings& s) {
  if (!is_host_name(s.domain)) return fail(errc::invalid_argument);
  for (const auto& sv : s.servers)
    if (!is_host_name(sv.hostname) || sv.port == 0 ||
        (sv.protocol != "imap" && sv.protocol != "smtp") ||
        (sv.socket_type != "SSL" && sv.socket_type != "STARTTLS"))
      return fail(errc::invalid_argument);
  const std::string domain = xml_escape(s.domain);
  const std::string name = xml_escape(s.display_name.empty() ? s.domain : s.display_name);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<clientConfig version=\"1.1\">\n"
                  "  <emailProvider id=\"" +
                  domain +
                  "\">\n"
                  "    <domain>" +
                  domain +
                  "</domain>\n"
                  "    <displayName>" +
                  name +
                  "</displayName>\n"
                  "    <displayShortName>" +
                  name + "</displayShortName>\n";
  auto server = [&](const client_server& sv) {
    const char* element = sv.protocol == "imap" ? "incomingServer" : "outgoingServer";
    x += std::string("    <") + element + " type=\"" + sv.protocol + "\">\n";
    x += "      <hostname>" + xml_escape(sv.hostname) + "</hostname>\n";
    x += "      <port>" + std::to_string(sv.port) + "</port>\n";
    x += "      <socketType>" + sv.socket_type + "</socketType>\n";
    // The whole address logs in: mailkit's accounts are addresses (store/store.hpp).
    x += "      <username>%EMAILADDRESS%</username>\n";
    // A plain password, but only ever inside TLS: every entry is SSL or STARTTLS.
    x += "      <authentication>password-cleartext</authentication>\n";
    x += std::string("    </") + element + ">\n";
  };
  // Incoming servers first: the format lists every incomingServer before any outgoingServer.
  for (const auto& sv : s.servers)
    if (sv.protocol == "imap") server(sv);
  for (const auto& sv : s.servers)
    if (sv.protocol == "smtp") server(sv);
  x += "  </emailProvider>\n</clientConfig>\n";
  return x;
}

std::vector<client_srv_record> srv_records(const client_settings& s) {
  std::vector<client_srv_record> out;
  for (const auto& sv : s.servers) {
    const bool implicit = sv.socket_type == "SSL";
    // RFC 6186 §3.1 service labels; RFC 8314 §5.1: _submissions for implicit TLS submission.
    const std::string service = sv.protocol == "imap" ? (implicit ? "_imaps" : "_imap")
                                                      : (implicit ? "_submissions" : "_submission");
    // RFC 8314 §5.1: the implicit TLS service gets the lower (preferred) priority.
    out.push_back({service + "._tcp." + s.domain, static_cast<std::uint16_t>(implicit ? 0 : 1), 1,
                   sv.port, sv.hostname});
  }
  return out;
}

expected<std::vector<http::virtual_host>> autoconfig_hosts(const client_settings& s,
                                                           std::shared_ptr<tls::context> context) {
  auto xml = make_autoconfig_xml(s);
  if (!xml) return unexpected(xml.error());
  if (!context) return fail(errc::invalid_argument);
  http::route r;
  r.status = 200;
  // RFC 7303 §4.1: application/xml; the document declares UTF-8 itself.
  r.content_type = "application/xml; charset=utf-8";
  r.body = std::move(*xml);
  http::virtual_host sub;
  sub.name = "autoconfig." + s.domain;
  sub.context = context;
  sub.routes[std::string(autoconfig_path)] = r;
  http::virtual_host apex;
  apex.name = s.domain;
  apex.context = std::move(context);
  apex.routes[std::string(autoconfig_well_known_path)] = std::move(r);
  return std::vector<http::virtual_host>{std::move(sub), std::move(apex)};
}

expected<std::vector<http::virtual_host>> https_hosts(const mail_server_config& cfg,
                                                      std::shared_ptr<tls::context> context) {
  if (!context) return fail(errc::invalid_argument);
  // RFC 8461 §5: the policy modes.
  const auto mode = cfg.mta_sts_mode == "enforce"   ? mtasts::mode::enforce
                    : cfg.mta_sts_mode == "none"    ? mtasts::mode::none
                    : cfg.mta_sts_mode == "testing" ? mtasts::mode::testing
                                                    : std::optional<mtasts::mode>{};
  if (!mode) return fail(errc::invalid_argument);
  // RFC 8461 §3.2: one policy per domain, served at mta-sts.<domain>.
  mtasts::policy_server_config pc;
  pc.context = context;
  for (const auto& d : cfg.domains) {
    mtasts::published_policy pp;
    pp.domain = d;
    pp.value.policy_mode = *mode;
    pp.value.mx = cfg.mta_sts_mx.empty() ? std::vector<std::string>{cfg.hostname} : cfg.mta_sts_mx;
    pp.value.max_age = cfg.mta_sts_max_age;
    pc.domains.push_back(std::move(pp));
  }
  auto hosts = mtasts::policy_hosts(pc);
  if (!hosts) return unexpected(hosts.error());
  if (cfg.autoconfig.enabled) {
    for (const auto& d : cfg.domains) {
      auto more = autoconfig_hosts(client_settings_for(d, cfg.autoconfig, cfg.hostname), context);
      if (!more) return unexpected(more.error());
      for (auto& h : *more) {
        auto same = std::find_if(hosts->begin(), hosts->end(), [&](const http::virtual_host& o) {
          return iequals(o.name, h.name);
        });
        if (same == hosts->end())
          hosts->push_back(std::move(h));
        else
          same->routes.insert(h.routes.begin(), h.routes.end());
      }
    }
  }
  if (hosts->empty()) return fail(errc::invalid_argument); // no domain: nothing to serve
  return hosts;
}

} // namespace mailkit::server
