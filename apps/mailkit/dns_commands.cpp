// SPDX-License-Identifier: Apache-2.0
// `mailkit dns plan` and `mailkit check`: what a domain must publish, and what it does publish
// (server/dns_plan.hpp).
#include "commands.hpp"

#include <mailkit/dkim/keys.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/mtasts/mtasts.hpp>
#include <mailkit/server/dns_plan.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace mailkit::cli {

namespace {

struct dns_args {
  server::dns_settings s;
  std::vector<std::string> dkim_keys; ///< "selector=path.pem" or "selector=TXT value"
  std::string format = "zone";
  // check only
  std::vector<std::string> dns_servers;
  std::string ca_file;
  std::uint16_t https_port = 443;
  std::vector<std::string> dnsbl;
  bool no_dnsbl = false;
  bool no_fetch = false;
  bool json = false;
  std::vector<std::string> approved;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void add_settings_options(CLI::App* c, dns_args& a) {
  c->add_option("domain", a.s.domain, "the mail domain (example.com)")->required();
  c->add_option("--host", a.s.mail_host, "the server's host name (default mail.<domain>)");
  c->add_option("--ipv4", a.s.ipv4, "the server's public IPv4 address(es)");
  c->add_option("--ipv6", a.s.ipv6, "the server's public IPv6 address(es)");
  c->add_option("--relay", a.s.relay, "outbound relay preset (oci:<region>, brevo, ...)");
  c->add_flag("!--direct-too", a.s.relay_only,
              "the host also delivers directly (its addresses go into SPF)");
  c->add_option("--relay-dkim-selector", a.s.relay_dkim_selector,
                "the DKIM selector created in the relay's console");
  c->add_option("--dkim", a.dkim_keys,
                "our DKIM key: selector=key.pem (private key) or selector=\"v=DKIM1; ...\"");
  c->add_option("--dmarc-policy", a.s.dmarc_policy, "none, quarantine or reject")
      ->capture_default_str();
  c->add_option("--report-address", a.s.report_address,
                "DMARC and TLS-RPT reports (default dmarc-reports@<domain>)");
  c->add_option("--mta-sts-mode", a.s.mta_sts_mode, "enforce, testing or none")
      ->capture_default_str();
  c->add_option("--mta-sts-id", a.s.mta_sts_id, "the _mta-sts id (default: from the policy)");
  c->add_option("--caa-issuer", a.s.caa_issuer, "CA allowed by CAA (empty: no CAA record)")
      ->capture_default_str();
  c->add_option("--ttl", a.s.ttl, "TTL of the zone file")->capture_default_str();
}

void resolve_dkim(dns_args& a) {
  for (const auto& k : a.dkim_keys) {
    const std::size_t eq = k.find('=');
    if (eq == std::string::npos || eq == 0)
      throw CLI::ValidationError("--dkim", "expected selector=key.pem or selector=TXT: " + k);
    const std::string selector = k.substr(0, eq), rest = k.substr(eq + 1);
    if (rest.rfind("v=DKIM1", 0) == 0) {
      a.s.dkim.push_back({selector, rest});
      continue;
    }
    auto key = dkim::private_key::from_pem(read_file(rest));
    if (!key) throw std::runtime_error(rest + ": " + key.error().message());
    a.s.dkim.push_back({selector, key->dns_txt()});
  }
}

int run_plan(dns_args& a) {
  resolve_dkim(a);
  auto p = server::plan_dns(a.s);
  if (!p) {
    std::fprintf(stderr, "mailkit dns plan: %s\n", p.error().c_str());
    return 1;
  }
  if (a.format == "json")
    std::cout << server::to_json(*p) << "\n";
  else if (a.format == "table")
    std::cout << server::to_table(*p);
  else if (a.format == "policy")
    std::cout << p->mta_sts_policy;
  else
    std::cout << server::to_zone_file(*p);
  return 0;
}

int run_check(dns_args& a) {
  resolve_dkim(a);
  dns::cares_options ro;
  ro.servers = a.dns_servers;
  dns::cares_resolver resolver(ro);
  server::check_options o;
  if (a.no_dnsbl)
    o.dnsbl_zones.clear();
  else if (!a.dnsbl.empty())
    o.dnsbl_zones = a.dnsbl;
  o.approved_senders = a.approved;
  if (!a.no_fetch) {
    o.fetch_mta_sts = [&](std::string_view domain) -> tl::expected<std::string, std::string> {
      mtasts::fetch_options fo;
      fo.ca_file = a.ca_file;
      fo.port = a.https_port;
      fo.timeout = std::chrono::seconds(20);
      auto pol = mtasts::fetch_policy(domain, resolver, fo);
      if (!pol) return tl::unexpected(pol.error().message());
      return pol->to_text();
    };
  }
  const auto report = server::check_dns(resolver, a.s, o);
  std::cout << (a.json ? server::to_json(report) + "\n" : server::to_text(report));
  return report.ok() ? 0 : 1;
}

void add_dns_commands(CLI::App& app) {
  auto a = std::make_shared<dns_args>();
  auto* dns_cmd = app.add_subcommand("dns", "DNS records for a mail domain");
  dns_cmd->require_subcommand(1);
  auto* plan = dns_cmd->add_subcommand(
      "plan", "print every record the domain must publish (zone file, table or JSON)");
  add_settings_options(plan, *a);
  plan->add_option("--format", a->format, "zone, table, json or policy (the MTA-STS policy)")
      ->check(CLI::IsMember({"zone", "table", "json", "policy"}))
      ->capture_default_str();
  plan->callback([a] {
    const int rc = run_plan(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });

  auto* check = app.add_subcommand(
      "check", "check the domain's live DNS (and MTA-STS policy) against what it needs");
  add_settings_options(check, *a);
  check->add_option("--dns-server", a->dns_servers,
                    "resolver(s) to ask, e.g. 127.0.0.1:5353 (default /etc/resolv.conf)");
  check->add_option("--ca-file", a->ca_file, "trusted roots for the MTA-STS fetch");
  check->add_option("--mta-sts-port", a->https_port, "HTTPS port of the MTA-STS host")
      ->capture_default_str();
  check->add_option("--dnsbl", a->dnsbl,
                    "DNS blocklist zones (default zen.spamhaus.org, "
                    "bl.spamcop.net)");
  check->add_flag("--no-dnsbl", a->no_dnsbl, "skip the blocklist lookups");
  check->add_flag("--no-fetch", a->no_fetch, "do not fetch the MTA-STS policy");
  check->add_option("--approved-sender", a->approved, "addresses the relay has approved");
  check->add_flag("--json", a->json, "JSON output");
  check->callback([a] {
    const int rc = run_check(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

const command_registration registration{400, &add_dns_commands};

} // namespace

} // namespace mailkit::cli
