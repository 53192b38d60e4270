// SPDX-License-Identifier: Apache-2.0
/// @file autoconfig.hpp
/// Mail client autoconfiguration served by mailkitd's HTTPS listener (issue 10): Thunderbird's
/// clientConfig document (the "autoconfig" format also read by K-9/Thunderbird for Android,
/// Evolution, KMail and others) at both of the places a client looks for it:
///
///   https://autoconfig.<domain>/mail/config-v1.1.xml[?emailaddress=...]
///   https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml
///
/// The document names the *public* host names and ports (what clients connect to, which may
/// differ from the addresses mailkitd binds behind NAT or a port forward), IMAP over implicit
/// TLS (993) and with STARTTLS (143), submission over implicit TLS (465) and with STARTTLS
/// (587), the whole address as the user name and a plain password over TLS. The same public
/// names and ports are what `mailkit dns plan` publishes as RFC 6186 SRV records
/// (srv_records() here gives them; tests check both agree).
///
/// **Standards**: Mozilla's "Autoconfiguration in Thunderbird" clientConfig format, version 1.1
/// (no RFC; the de-facto standard), RFC 6186 §3 (SRV records for IMAP and submission) and RFC 8314
/// §5.1 (implicit TLS preferred: listed first), RFC 8461 §3.3 (the MTA-STS policy host served
/// from the same listener, mtasts/serve.hpp), XML 1.0 §2.4 (character data escaping).
///
/// **Security**: the documents are public data built from the operator's configuration only;
/// nothing from a request is echoed (the query string is ignored). Every configured text is
/// XML-escaped and host names are checked, so a configuration value cannot inject markup.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/http/http.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::server {

struct mail_server_config;

/// What clients are told (mail_server_config::autoconfig, `[autoconfig]` in mailkitd.toml).
/// A port of 0 leaves that service out of the document (and out of srv_records()).
struct autoconfig_config {
  bool enabled = true;            ///< serve the documents when the HTTPS listener is on
  std::string display_name;       ///< the provider's name in the client; empty: the domain
  std::string imap_host;          ///< public IMAP host name; empty: mail_server_config::hostname
  std::string smtp_host;          ///< public submission host name; empty: the hostname
  std::uint16_t imaps_port = 993; ///< IMAP over TLS (RFC 8314 §5.1)
  std::uint16_t imap_port = 143;  ///< IMAP with STARTTLS
  std::uint16_t submissions_port = 465; ///< submission over TLS (RFC 8314 §3.3)
  std::uint16_t submission_port = 587;  ///< submission with STARTTLS (RFC 6409)
  friend bool operator==(const autoconfig_config&, const autoconfig_config&) = default;
};

/// One server entry of the document.
struct client_server {
  std::string protocol;    ///< "imap" (incomingServer) or "smtp" (outgoingServer)
  std::string hostname;    ///< public host name
  std::uint16_t port = 0;  ///< public port
  std::string socket_type; ///< "SSL" (implicit TLS) or "STARTTLS"
};

/// Everything the document of one domain says.
struct client_settings {
  std::string domain;
  std::string display_name;           ///< empty: the domain
  std::vector<client_server> servers; ///< in order of preference (implicit TLS first)
};

/// The settings for `domain` from a configuration: hosts defaulting to `hostname`, services
/// with port 0 left out, implicit TLS before STARTTLS (RFC 8314 §5.1).
[[nodiscard]] client_settings
client_settings_for(std::string_view domain, const autoconfig_config& c, std::string_view hostname);

/// XML 1.0 character data: & < > " ' escaped; characters XML 1.0 does not allow (C0 controls
/// other than TAB, LF and CR) become spaces, so the document always parses.
[[nodiscard]] std::string xml_escape(std::string_view text);

/// The clientConfig document (version 1.1) for `s`: one incomingServer per IMAP entry, one
/// outgoingServer per SMTP entry, %EMAILADDRESS% as the user name, password-cleartext (over
/// TLS only: every entry is SSL or STARTTLS). Fails with errc::invalid_argument when the domain
/// or a host name is not a host name (RFC 1123 §2.1) or a port is 0.
[[nodiscard]] expected<std::string> make_autoconfig_xml(const client_settings& s);

/// The path on autoconfig.<domain>, and the well-known path on <domain> itself.
inline constexpr std::string_view autoconfig_path = "/mail/config-v1.1.xml";
inline constexpr std::string_view autoconfig_well_known_path =
    "/.well-known/autoconfig/mail/config-v1.1.xml";

/// An RFC 6186 SRV record for the client services of a domain.
struct client_srv_record {
  std::string name; ///< "_imaps._tcp.example.com"
  std::uint16_t priority = 0, weight = 1, port = 0;
  std::string target; ///< the public host name
};

/// The SRV records that advertise the same services as the document of `s` (RFC 6186 §3.1,
/// RFC 8314 §5.1: _imaps and _submissions at priority 0, _imap and _submission at 1).
[[nodiscard]] std::vector<client_srv_record> srv_records(const client_settings& s);

/// The two autoconfig virtual hosts of `domain` ("autoconfig.<domain>" and "<domain>") with the
/// certificate `context`. Fails as make_autoconfig_xml().
[[nodiscard]] expected<std::vector<http::virtual_host>>
autoconfig_hosts(const client_settings& s, std::shared_ptr<tls::context> context);

/// Every virtual host of mailkitd's HTTPS listener for `cfg`, all with the certificate
/// `context`: the MTA-STS policy host of each domain (mtasts::policy_hosts) and, when
/// cfg.autoconfig.enabled, the autoconfig hosts of each domain. Hosts that share a name (a
/// domain equal to the hostname ...) are merged. mail_server::start() serves them and
/// mail_server::reload_tls() rebuilds them with the reloaded certificate.
[[nodiscard]] expected<std::vector<http::virtual_host>>
https_hosts(const mail_server_config& cfg, std::shared_ptr<tls::context> context);

} // namespace mailkit::server
