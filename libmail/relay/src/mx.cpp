// SPDX-License-Identifier: Apache-2.0
// MX resolution (mx.hpp).
#include <mailkit/relay/mx.hpp>

#include <algorithm>
#include <random>

namespace mailkit::relay {

namespace {

// AAAA then A for one host name; `why` collects lookup failures; `secure` says whether every
// answer carried the AD bit (and there was one).
std::vector<std::string> addresses_of(dns::resolver& r, const std::string& host, bool ipv6,
                                      std::string& why, bool& transient_failure, bool& secure) {
  secure = true;
  bool answered = false;
  std::vector<std::string> out;
  std::vector<dns::rtype> types;
  if (ipv6) types.push_back(dns::rtype::aaaa);
  types.push_back(dns::rtype::a);
  for (const dns::rtype t : types) {
    auto a = dns::query(r, host, t);
    if (!a) {
      if (!is_permanent(a.error())) transient_failure = true;
      why += (why.empty() ? "" : "; ") + host + " " + std::string(dns::to_string(t)) + ": " +
             a.error().message();
      secure = false;
      continue;
    }
    answered = true;
    secure = secure && a->authenticated;
    if (t == dns::rtype::aaaa)
      for (const auto& ip : a->aaaa())
        if (out.size() < max_addresses_per_host) out.push_back(dns::to_string(ip));
    if (t == dns::rtype::a)
      for (const auto& ip : a->a())
        if (out.size() < max_addresses_per_host) out.push_back(dns::to_string(ip));
  }
  secure = secure && answered;
  return out;
}

} // namespace

mx_plan resolve_mx(dns::resolver& resolver, std::string_view domain, const mx_options& opts) {
  mx_plan plan;
  const std::string name(domain);
  auto mx = dns::query(resolver, name, dns::rtype::mx);
  if (!mx) {
    plan.permanent = is_permanent(mx.error());
    plan.status = plan.permanent ? "5.1.2" : "4.4.3";
    plan.reason = "MX lookup for " + name + " failed: " + mx.error().message();
    return plan;
  }
  if (mx->code == dns::rcode::nxdomain) {
    plan.permanent = true;
    plan.status = "5.1.2"; // RFC 3463: bad destination system address
    plan.reason = "the domain " + name + " does not exist";
    return plan;
  }
  bool transient_failure = false;
  plan.secure = mx->authenticated;
  std::vector<dns::mx> records = mx->mx_records(); // sorted by preference, stable
  // RFC 7505 §3: a single MX with an empty exchange (".") says the domain accepts no mail.
  const bool has_null = std::any_of(records.begin(), records.end(),
                                    [](const dns::mx& m) { return m.exchange.empty(); });
  std::erase_if(records, [](const dns::mx& m) { return m.exchange.empty(); });
  if (has_null && records.empty()) {
    plan.permanent = true;
    plan.null_mx = true;
    plan.status = "5.1.10"; // RFC 7505 §4.2: 556 5.1.10 recipient address has null MX
    plan.reason = "the domain " + name + " accepts no mail (null MX, RFC 7505)";
    return plan;
  }
  if (records.empty()) {
    // RFC 5321 §5.1: no MX records: the domain is treated as an implicit MX of preference 0
    // when it has an address record.
    mx_host h;
    h.name = name;
    h.addresses = addresses_of(resolver, name, opts.ipv6, plan.reason, transient_failure, h.secure);
    if (h.addresses.empty()) {
      plan.permanent = !transient_failure;
      plan.status = transient_failure ? "4.4.3" : "5.1.2";
      plan.reason = "the domain " + name + " has no MX and no address record" +
                    (plan.reason.empty() ? std::string() : " (" + plan.reason + ")");
      return plan;
    }
    plan.secure = h.secure; // RFC 7672 §2.2.1: the implicit MX is as secure as its addresses
    plan.hosts.push_back(std::move(h));
    return plan;
  }
  std::vector<mx_host> hosts;
  for (const auto& r : records) {
    if (hosts.size() >= max_mx_hosts) break;
    hosts.push_back({r.exchange, r.preference, {}});
  }
  // RFC 5321 §5.1: hosts of equal preference are tried in random order (load spreading).
  auto shuffle = opts.shuffle;
  if (!shuffle) {
    shuffle = [](std::vector<mx_host>::iterator b, std::vector<mx_host>::iterator e) {
      static thread_local std::mt19937 rng{std::random_device{}()};
      std::shuffle(b, e, rng);
    };
  }
  for (auto b = hosts.begin(); b != hosts.end();) {
    auto e = std::find_if(b, hosts.end(),
                          [&](const mx_host& h) { return h.preference != b->preference; });
    if (e - b > 1) shuffle(b, e);
    b = e;
  }
  for (auto& h : hosts) {
    h.addresses =
        addresses_of(resolver, h.name, opts.ipv6, plan.reason, transient_failure, h.secure);
    if (!h.addresses.empty()) plan.hosts.push_back(std::move(h));
  }
  if (plan.hosts.empty()) {
    // RFC 5321 §5.1: MX hosts that do not resolve are skipped; none left is an error, temporary
    // when a lookup failed temporarily.
    plan.permanent = !transient_failure;
    plan.status = transient_failure ? "4.4.3" : "5.4.4";
    plan.reason = "no MX host of " + name + " has an address (" + plan.reason + ")";
  }
  return plan;
}

} // namespace mailkit::relay
