// SPDX-License-Identifier: Apache-2.0
// The DNS plan of a mailkit domain (dns_plan.hpp): records, zone file, table, JSON.
#include <mailkit/core/bytes.hpp>
#include <mailkit/relay/preset.hpp>
#include <mailkit/server/dns_plan.hpp>

#include "dns_text.hpp"

#include <algorithm>
#include <cstdio>

namespace mailkit::server {

namespace {

using detail::json_string;

// A stable policy id: 16 hex digits of FNV-1a over the policy body, so the id changes exactly
// when the policy does (RFC 8461 §3.1: "id" must change whenever the policy changes).
std::string policy_id(std::string_view body) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool valid_policy_word(std::string_view w, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), w) != allowed.end();
}

// "NAME CNAME TARGET" entries of a provider's DKIM pattern after expansion; anything else (a
// placeholder left, a free-text note) goes back as an instruction.
void relay_dkim_records(const relay::preset& p, const dns_settings& s, dns_plan& plan) {
  if (p.dkim_record.empty()) return;
  const bool needs_selector = p.dkim_record.find("{selector}") != std::string::npos;
  const bool needs_token = p.dkim_record.find("{token}") != std::string::npos;
  const std::string expanded =
      relay::expand_dkim_record(p.dkim_record, s.relay_dkim_selector, s.domain);
  if ((needs_selector && s.relay_dkim_selector.empty()) || needs_token ||
      expanded.find('<') != std::string::npos || expanded.find('(') != std::string::npos) {
    plan.instructions.push_back(
        p.provider + " signs with its own DKIM key for " + s.domain +
        ": create the DKIM key in its console (" + p.dkim_record +
        (needs_selector && s.relay_dkim_selector.empty()
             ? "; give its selector with --relay-dkim-selector to have it planned and checked"
             : "") +
        ") and publish the record it shows.");
    return;
  }
  std::string_view rest = expanded;
  while (!rest.empty()) {
    const std::size_t semi = rest.find(';');
    const std::string_view entry = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    std::vector<std::string_view> f;
    std::size_t i = 0;
    while (i < entry.size()) {
      while (i < entry.size() && entry[i] == ' ')
        ++i;
      const std::size_t start = i;
      while (i < entry.size() && entry[i] != ' ')
        ++i;
      if (i > start) f.push_back(entry.substr(start, i - start));
    }
    if (f.size() == 3 && iequals(f[1], "CNAME")) {
      plan.records.push_back({"dkim", to_lower(f[0]), "CNAME", to_lower(f[2]), true,
                              p.provider + "'s DKIM key (the relay signs as " + s.domain + ")"});
    } else if (!entry.empty()) {
      plan.instructions.push_back(p.provider + " DKIM: " + std::string(entry));
    }
  }
}

std::string relative(std::string_view name, std::string_view origin) {
  if (iequals(name, origin)) return "@";
  if (name.size() > origin.size() + 1 && name[name.size() - origin.size() - 1] == '.' &&
      iequals(name.substr(name.size() - origin.size()), origin))
    return std::string(name.substr(0, name.size() - origin.size() - 1));
  return std::string(name) + ".";
}

// TXT presentation: 255-octet character-strings, quoted, with " and \ escaped (RFC 1035 §5.1).
std::string quoted_txt(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size() || i == 0; i += 255) {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : v.substr(i, 255)) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
    if (v.empty()) break;
  }
  return out;
}

std::string zone_value(const planned_record& r) {
  if (r.type == "TXT") return quoted_txt(r.value);
  if (r.type == "MX" || r.type == "CNAME" || r.type == "SRV") {
    // Host names in these records are absolute.
    std::string v = r.value;
    if (!v.empty() && v != "." && v.back() != '.') v += '.';
    return v;
  }
  return r.value;
}

} // namespace

tl::expected<dns_plan, std::string> plan_dns(const dns_settings& in) {
  dns_settings s = in;
  auto domain = dns::to_ascii(s.domain);
  if (s.domain.empty() || !domain || domain->find('.') == std::string::npos)
    return tl::unexpected("not a mail domain: \"" + s.domain + "\"");
  s.domain = *domain;
  if (s.mail_host.empty()) s.mail_host = "mail." + s.domain;
  auto host = dns::to_ascii(s.mail_host);
  if (!host) return tl::unexpected("not a host name: \"" + s.mail_host + "\"");
  s.mail_host = *host;
  for (const auto& a : s.ipv4)
    if (!dns::parse_ipv4(a)) return tl::unexpected("not an IPv4 address: " + a);
  for (const auto& a : s.ipv6)
    if (!dns::parse_ipv6(a)) return tl::unexpected("not an IPv6 address: " + a);
  if (!valid_policy_word(s.dmarc_policy, {"none", "quarantine", "reject"}))
    return tl::unexpected("DMARC policy must be none, quarantine or reject: " + s.dmarc_policy);
  if (!valid_policy_word(s.mta_sts_mode, {"enforce", "testing", "none"}))
    return tl::unexpected("MTA-STS mode must be enforce, testing or none: " + s.mta_sts_mode);
  // RFC 8461 §3.2: max_age up to 31557600 seconds.
  if (s.mta_sts_max_age == 0 || s.mta_sts_max_age > 31557600)
    return tl::unexpected(std::string("MTA-STS max_age must be 1..31557600 seconds"));
  std::optional<relay::preset> preset;
  if (!s.relay.empty()) {
    auto p = relay::find_preset(s.relay);
    if (!p) return tl::unexpected("unknown relay preset: " + s.relay);
    preset = std::move(*p);
  }
  const std::string report =
      s.report_address.empty() ? "dmarc-reports@" + s.domain : s.report_address;

  dns_plan plan;
  plan.domain = s.domain;
  plan.ttl = s.ttl;
  auto add = [&](std::string section, std::string name, std::string type, std::string value,
                 bool required, std::string purpose) {
    plan.records.push_back({std::move(section), std::move(name), std::move(type), std::move(value),
                            required, std::move(purpose)});
  };

  // RFC 5321 §5.1: mail for the domain goes to the MX host.
  add("mx", s.domain, "MX", "10 " + s.mail_host, true, "mail for " + s.domain + " goes here");
  for (const auto& a : s.ipv4)
    add("a", s.mail_host, "A", a, true, "the mail server's IPv4 address");
  for (const auto& a : s.ipv6)
    add("a", s.mail_host, "AAAA", a, true, "the mail server's IPv6 address");
  if (s.ipv4.empty() && s.ipv6.empty())
    plan.instructions.push_back("Publish A (and AAAA) records for " + s.mail_host +
                                " with the server's public addresses (give them with --ipv4/"
                                "--ipv6 to have them planned and checked).");

  // SPF (RFC 7208): who may send with a MAIL FROM in this domain.
  std::string spf = "v=spf1";
  const bool direct = !preset || !s.relay_only;
  if (direct) {
    if (s.ipv4.empty() && s.ipv6.empty()) {
      spf += " mx";
    } else {
      for (const auto& a : s.ipv4)
        spf += " ip4:" + a;
      for (const auto& a : s.ipv6)
        spf += " ip6:" + a;
    }
  }
  if (preset && !preset->spf_include.empty()) spf += " " + preset->spf_include;
  // ~all while DMARC only monitors; -all once it is enforced.
  spf += s.dmarc_policy == "none" ? " ~all" : " -all";
  add("spf", s.domain, "TXT", spf, true,
      preset ? "SPF: " + preset->provider + " sends for this domain" : "SPF: this host sends");
  if (direct) {
    // RFC 7208 §2.3: a record for the HELO name.
    add("spf", s.mail_host, "TXT", "v=spf1 a -all", false, "SPF for the HELO name");
  }

  // DKIM (RFC 6376 §3.6.2.1): our keys, then the relay's.
  for (const auto& k : s.dkim)
    add("dkim", k.selector + "._domainkey." + s.domain, "TXT", k.txt, true,
        "our DKIM key (selector " + k.selector + ")");
  if (s.dkim.empty())
    plan.instructions.push_back("No DKIM key given: run `mailkit dkim keygen --out " + s.domain +
                                ".pem` and plan again with --dkim <selector>=" + s.domain +
                                ".pem; without an aligned DKIM signature DMARC fails through a "
                                "relay.");
  if (preset) relay_dkim_records(*preset, s, plan);

  // DMARC (RFC 7489 §6.3).
  add("dmarc", "_dmarc." + s.domain, "TXT",
      "v=DMARC1; p=" + s.dmarc_policy + "; rua=mailto:" + report + "; adkim=r; aspf=r", true,
      "DMARC policy and aggregate reports");

  // MTA-STS (RFC 8461 §3): the TXT record, the policy host, the policy.
  plan.mta_sts_policy = "version: STSv1\nmode: " + s.mta_sts_mode + "\nmx: " + s.mail_host +
                        "\nmax_age: " + std::to_string(s.mta_sts_max_age) + "\n";
  const std::string id = s.mta_sts_id.empty() ? policy_id(plan.mta_sts_policy) : s.mta_sts_id;
  add("mta-sts", "_mta-sts." + s.domain, "TXT", "v=STSv1; id=" + id, true,
      "MTA-STS: a policy exists (change id when the policy changes)");
  add("mta-sts", "mta-sts." + s.domain, "CNAME", s.mail_host, true,
      "the HTTPS host serving /.well-known/mta-sts.txt (mailkitd serves it)");
  // TLS-RPT (RFC 8460 §3).
  add("tls-rpt", "_smtp._tls." + s.domain, "TXT", "v=TLSRPTv1; rua=mailto:" + report, true,
      "where senders report TLS failures");
  // CAA (RFC 8659): only this CA issues the certificates of mail and mta-sts hosts.
  if (!s.caa_issuer.empty())
    add("caa", s.domain, "CAA", "0 issue \"" + s.caa_issuer + "\"", false,
        "only " + s.caa_issuer + " may issue certificates");
  // RFC 6186 §3.1 and RFC 8314 §5.1: client configuration by SRV; Thunderbird's autoconfig host.
  if (s.autoconfig) {
    add("srv", "_submissions._tcp." + s.domain, "SRV", "0 1 465 " + s.mail_host, false,
        "mail clients: submission over TLS (RFC 8314)");
    add("srv", "_submission._tcp." + s.domain, "SRV", "1 1 587 " + s.mail_host, false,
        "mail clients: submission with STARTTLS (RFC 6186)");
    add("srv", "_imaps._tcp." + s.domain, "SRV", "0 1 993 " + s.mail_host, false,
        "mail clients: IMAP over TLS (RFC 6186)");
    add("autoconfig", "autoconfig." + s.domain, "CNAME", s.mail_host, false,
        "Thunderbird autoconfiguration (served by mailkitd)");
  }

  // What is not a record in the operator's zone.
  const std::vector<std::string>& addrs = s.ipv4.empty() ? s.ipv6 : s.ipv4;
  for (const auto& a : addrs)
    plan.instructions.push_back("Set the reverse DNS (PTR) of " + a + " to " + s.mail_host +
                                " at your hosting provider (OCI: the VNIC's public IP, "
                                "'Edit' > hostname / reverse DNS); receivers check that it "
                                "resolves back (forward-confirmed reverse DNS).");
  if (addrs.empty())
    plan.instructions.push_back("Set the reverse DNS (PTR) of the server's address to " +
                                s.mail_host + " at your hosting provider.");
  if (preset && preset->requires_approved_sender)
    plan.instructions.push_back("Add every From address you send as (or the whole domain) as an "
                                "approved sender in the " +
                                preset->provider + " console.");
  plan.instructions.push_back("Sign the zone with DNSSEC at your DNS host if it offers it: "
                              "validating senders then trust these records, and DANE becomes "
                              "possible.");
  plan.instructions.push_back(
      "BIMI (a logo in some inboxes) needs DMARC at p=quarantine or p=reject first; then "
      "publish default._bimi." +
      s.domain +
      " TXT \"v=BIMI1; l=https://<your site>/logo.svg\" (SVG Tiny PS; Gmail and "
      "Apple also want a VMC or CMC certificate, a= tag).");
  return plan;
}

std::string to_zone_file(const dns_plan& p) {
  std::string out = "; DNS records for " + p.domain + " (mailkit dns plan)\n";
  out += "$ORIGIN " + p.domain + ".\n$TTL " + std::to_string(p.ttl) + "\n";
  std::string section;
  for (const auto& r : p.records) {
    if (r.section != section) {
      section = r.section;
      out += "\n; " + section + "\n";
    }
    out += "; " + r.purpose + (r.required ? "" : " (recommended)") + "\n";
    out += relative(r.name, p.domain) + "\tIN\t" + r.type + "\t" + zone_value(r) + "\n";
  }
  if (!p.instructions.empty()) {
    out += "\n; Not in this zone: do these by hand\n";
    for (const auto& i : p.instructions)
      out += "; - " + i + "\n";
  }
  return out;
}

std::string to_table(const dns_plan& p) {
  std::size_t w_sec = 7, w_name = 4, w_type = 4;
  for (const auto& r : p.records) {
    w_sec = std::max(w_sec, r.section.size());
    w_name = std::max(w_name, r.name.size());
    w_type = std::max(w_type, r.type.size());
  }
  auto pad = [](std::string s, std::size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  std::string out =
      pad("section", w_sec) + "  " + pad("name", w_name) + "  " + pad("type", w_type) + "  value\n";
  for (const auto& r : p.records)
    out += pad(r.section, w_sec) + "  " + pad(r.name, w_name) + "  " + pad(r.type, w_type) + "  " +
           r.value + (r.required ? "" : "   (recommended)") + "\n";
  out += "\nMTA-STS policy to serve at https://mta-sts." + p.domain +
         "/.well-known/mta-sts.txt:\n" + p.mta_sts_policy;
  if (!p.instructions.empty()) {
    out += "\nAlso:\n";
    for (const auto& i : p.instructions)
      out += "- " + i + "\n";
  }
  return out;
}

std::string to_json(const dns_plan& p) {
  std::string out = "{\"domain\":" + json_string(p.domain) + ",\"ttl\":" + std::to_string(p.ttl) +
                    ",\"records\":[";
  bool first = true;
  for (const auto& r : p.records) {
    if (!first) out += ',';
    first = false;
    out += "{\"section\":" + json_string(r.section) + ",\"name\":" + json_string(r.name) +
           ",\"type\":" + json_string(r.type) + ",\"value\":" + json_string(r.value) +
           ",\"required\":" + (r.required ? "true" : "false") +
           ",\"purpose\":" + json_string(r.purpose) + "}";
  }
  out += "],\"instructions\":[";
  first = true;
  for (const auto& i : p.instructions) {
    if (!first) out += ',';
    first = false;
    out += json_string(i);
  }
  out += "],\"mta_sts_policy\":" + json_string(p.mta_sts_policy) + "}";
  return out;
}

} // namespace mailkit::server
