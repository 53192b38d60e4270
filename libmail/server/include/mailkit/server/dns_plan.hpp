// SPDX-License-Identifier: Apache-2.0
/// @file dns_plan.hpp
/// What a domain served by mailkit must publish in DNS, and the live check of what it does
/// publish (`mailkit dns plan`, `mailkit check`, issue 10). The plan is pure: it turns the
/// operator's settings (host, addresses, relay preset, DKIM keys, policies) into records, a zone
/// file and a table. The check reads every record through a dns::resolver and reports, per
/// section, what is right, what is wrong and what to do about it.
#pragma once

#include <mailkit/dns/resolver.hpp>

#include <tl/expected.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::server {

/// One of our DKIM keys: a selector and its TXT value ("v=DKIM1; k=...; p=...").
struct dkim_selector_key {
  std::string selector;
  std::string txt;
};

/// The operator's settings the records follow from.
struct dns_settings {
  std::string domain;            ///< the mail domain ("example.com")
  std::string mail_host;         ///< the server's host name, MX target ("mail.example.com")
  std::vector<std::string> ipv4; ///< the host's public addresses (A records, PTR, SPF)
  std::vector<std::string> ipv6; ///< (AAAA records, PTR, SPF)
  /// Outbound relay preset (relay::find_preset: "oci:eu-frankfurt-1", "brevo" ...); empty when
  /// the server delivers directly.
  std::string relay;
  /// Outbound goes only through the relay: the host's own addresses are left out of SPF
  /// (a provider blocking port 25 means the host never delivers itself).
  bool relay_only = true;
  std::string relay_dkim_selector;        ///< the selector chosen in the provider's console, if any
  std::vector<dkim_selector_key> dkim;    ///< our own signing keys
  std::string dmarc_policy = "none";      ///< none, quarantine or reject
  std::string report_address;             ///< DMARC rua and TLS-RPT; default dmarc-reports@domain
  std::string mta_sts_mode = "testing";   ///< enforce, testing or none
  std::string mta_sts_id;                 ///< the _mta-sts id; default from the policy's content
  std::uint32_t mta_sts_max_age = 604800; ///< one week (RFC 8461 §3.2 allows up to a year)
  std::string caa_issuer = "letsencrypt.org"; ///< the CA that issues the HTTPS certificates
  bool autoconfig = true;                     ///< RFC 6186/8314 SRV records and the autoconfig host
  std::uint32_t ttl = 3600;
};

/// One record to publish.
struct planned_record {
  std::string section;  ///< "mx", "a", "spf", "dkim", "dmarc", "mta-sts", "tls-rpt", "caa", "srv"
  std::string name;     ///< fully qualified, no trailing dot
  std::string type;     ///< "A", "AAAA", "MX", "TXT", "CNAME", "CAA", "SRV"
  std::string value;    ///< presentation form (TXT without quotes; the zone file adds them)
  bool required = true; ///< false: recommended
  std::string purpose;
};

struct dns_plan {
  std::string domain;
  std::vector<planned_record> records;
  /// What cannot be a record in the operator's zone: PTR (set at the hosting provider), the
  /// relay's console steps, BIMI, DNSSEC.
  std::vector<std::string> instructions;
  std::string mta_sts_policy; ///< the policy body to serve at mta-sts.<domain>
  std::uint32_t ttl = 3600;
};

/// The records for `s`. Errors (empty domain, unknown relay preset, a bad address or policy
/// name) come back as a message.
[[nodiscard]] tl::expected<dns_plan, std::string> plan_dns(const dns_settings& s);

/// The plan as a zone file fragment for $ORIGIN <domain>. (instructions as comments).
[[nodiscard]] std::string to_zone_file(const dns_plan& p);
/// The plan as an aligned text table (section, name, type, value), then the instructions.
[[nodiscard]] std::string to_table(const dns_plan& p);
/// The plan as JSON: {"domain", "records": [{section,name,type,value,required,purpose}],
/// "instructions", "mta_sts_policy"}.
[[nodiscard]] std::string to_json(const dns_plan& p);

// ---- the live check ---------------------------------------------------------------------------

enum class check_level { ok, info, warning, error };
[[nodiscard]] std::string_view to_string(check_level l) noexcept;

struct check_item {
  std::string section;
  check_level level = check_level::ok;
  std::string message;     ///< what was found
  std::string instruction; ///< what to do (empty when nothing)
};

struct check_options {
  /// Fetches https://mta-sts.<domain>/.well-known/mta-sts.txt: the policy body, or an error
  /// message. Unset: the policy is not fetched (reported as info).
  std::function<tl::expected<std::string, std::string>(std::string_view domain)> fetch_mta_sts;
  /// DNS blocklists to look the host's IPv4 addresses up in (RFC 5782).
  std::vector<std::string> dnsbl_zones{"zen.spamhaus.org", "bl.spamcop.net"};
  /// The From addresses the relay has approved (OCI: "approved senders"); checked against the
  /// domain when the preset requires approval.
  std::vector<std::string> approved_senders;
};

struct check_report {
  std::string domain;
  std::vector<check_item> items;
  [[nodiscard]] unsigned count(check_level l) const noexcept;
  [[nodiscard]] bool ok() const noexcept { return count(check_level::error) == 0; }
};

/// Check what `s.domain` publishes against what `s` needs, through `r` (blocking queries; run
/// it off any event loop). Never throws for DNS trouble: a failed query is an error item.
[[nodiscard]] check_report check_dns(dns::resolver& r, const dns_settings& s,
                                     const check_options& o = {});

[[nodiscard]] std::string to_text(const check_report& r);
[[nodiscard]] std::string to_json(const check_report& r);

/// RFC 5782 §2.1 and Spamhaus's return codes: what an A answer from a DNSBL means.
enum class dnsbl_answer { listed, refused, not_listed };
[[nodiscard]] dnsbl_answer classify_dnsbl(std::string_view zone, const dns::ipv4& answer) noexcept;

} // namespace mailkit::server
