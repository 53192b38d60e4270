// SPDX-License-Identifier: Apache-2.0
// RFC 7672 §2.2 TLSA lookup with the AD bit.
#include <mailkit/dns/resolver.hpp>
#include <mailkit/mtasts/dane.hpp>

namespace mailkit::mtasts {

expected<tlsa_lookup> lookup_tlsa(dns::resolver& r, std::string_view mx_host, std::uint16_t port) {
  auto host = dns::to_ascii(mx_host);
  if (!host) return unexpected(host.error());
  // RFC 6698 §3: the TLSA owner name is _<port>._<protocol>.<base domain>.
  auto ans = dns::query(r, "_" + std::to_string(port) + "._tcp." + *host, dns::rtype::tlsa);
  if (!ans) return unexpected(ans.error());
  tlsa_lookup out;
  out.base_domain = *host;
  // RFC 7672 §2.2: only DNSSEC-validated ("secure") TLSA records are used; RFC 4035 §3.2.3:
  // the AD bit is how the validating resolver says so.
  if (!ans->authenticated || ans->empty()) return out;
  bool any = false;
  for (const auto& rec : ans->records) {
    const auto* t = std::get_if<dns::tlsa>(&rec.data);
    if (t == nullptr) continue;
    any = true;
    tls::dane::tlsa_record tr{t->usage, t->selector, t->matching_type, t->data};
    // RFC 7672 §3.1.3: unusable records are ignored.
    if (tls::dane::usable(tr)) out.records.push_back(std::move(tr));
  }
  if (!any) return out;
  out.state = out.records.empty() ? dane_state::unusable : dane_state::usable;
  return out;
}

} // namespace mailkit::mtasts
