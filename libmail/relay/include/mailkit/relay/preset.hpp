// SPDX-License-Identifier: Apache-2.0
/// @file preset.hpp
/// Relay presets: what mailkit knows about the SMTP relays its users sign up for, so that a
/// configuration can say `preset = "oci:eu-frankfurt-1"` and a user name and secret, nothing
/// more. Each preset gives the host, port and TLS mode, the AUTH mechanisms the provider
/// accepts, the DNS records the `mailkit check` doctor looks for (the SPF include and the DKIM
/// record pattern), the default limits of the entry-level plan, how the provider answers when
/// a quota is used up, and whether it refuses the null reverse path or needs approved senders.
///
/// The facts come from the providers' public documentation (docs/relay.md lists the sources);
/// limits change with plans, so every value can be overridden in the relay's configuration.
///
/// Security: no I/O, no secrets. Presets never carry credentials.
#pragma once

#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/relay/limits.hpp>
#include <mailkit/smtp/client_session.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::relay {

/// One provider's connection facts and defaults.
struct preset {
  std::string name;         ///< "oci:eu-frankfurt-1", "brevo" ...
  std::string provider;     ///< "OCI Email Delivery", "Brevo" ...
  std::string host;         ///< SMTP submission host
  std::uint16_t port = 587; ///< default port
  smtp::tls_mode tls = smtp::tls_mode::starttls_required;
  std::vector<std::uint16_t> other_ports;   ///< documented alternatives (2525, 465 ...)
  std::vector<std::string> auth_mechanisms; ///< what the provider accepts, preferred first
  smtp::auth_mechanism auth = smtp::auth_mechanism::automatic; ///< what mailkit uses
  std::string spf_include; ///< the SPF mechanism the sending domain publishes ("" = none)
  /// The DKIM record the provider asks for, with {selector}, {domain} and {token}
  /// placeholders: "{selector}._domainkey.{domain} CNAME ..." or "... TXT (provider key)".
  std::string dkim_record;
  bool provider_signs_dkim = true;      ///< the provider adds its own DKIM signature
  bool requires_approved_sender = true; ///< the provider refuses unknown From addresses
  bool refuses_null_sender = false;     ///< MAIL FROM:<> is refused (DSNs need another sender)
  /// Lower-case substrings of a reply text that mean "quota used up" (held, never bounced).
  std::vector<std::string> quota_replies;
  limits defaults;
  std::string username_hint; ///< what the provider calls the user name ("apikey", an OCID ...)
};

/// The preset for `name`: "oci:<region>", "brevo", "ses:<region>", "mailgun-us", "mailgun-eu",
/// "sendgrid", "postmark", "smtp2go", "generic". errc::invalid_argument for an unknown name or
/// a region that is not a region name (lower-case letters, digits and '-').
[[nodiscard]] expected<preset> find_preset(std::string_view name);

/// The names find_preset accepts ("oci:<region>" and "ses:<region>" as patterns).
[[nodiscard]] const std::vector<std::string>& preset_names();

/// Quota reply texts every relay is checked for, whatever its preset (lower case).
[[nodiscard]] const std::vector<std::string>& common_quota_replies();

/// Does this reply text say a sending quota is used up? `patterns` are lower-case substrings.
[[nodiscard]] bool is_quota_reply(std::string_view text, const std::vector<std::string>& patterns);

/// Fill a DKIM record pattern ("{selector}", "{domain}", "{token}").
[[nodiscard]] std::string expand_dkim_record(std::string_view pattern, std::string_view selector,
                                             std::string_view domain, std::string_view token = {});

} // namespace mailkit::relay
