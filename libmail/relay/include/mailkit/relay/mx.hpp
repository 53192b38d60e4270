// SPDX-License-Identifier: Apache-2.0
/// @file mx.hpp
/// Where mail for a domain goes when we deliver it ourselves: the MX hosts in preference order,
/// each with its IPv6 and IPv4 addresses, or the reason there is nowhere to go.
///
/// Standards: RFC 5321 §5.1 (MX records sorted by preference, equal preferences in random
/// order; no MX but an A or AAAA: the domain itself is the only host, the "implicit MX";
/// every address of a host is tried before the next host), RFC 7505 (a single MX "." with
/// preference 0 means the domain accepts no mail: a permanent failure, 556 5.1.10), RFC 3463
/// (5.1.2 for a domain that does not exist, 4.4.3 for a DNS failure), RFC 7672 §2.2.1-§2.2.2
/// (whether the MX RRset and each host's addresses were DNSSEC-secure, for DANE).
///
/// Security: names and addresses come from DNS. At most max_mx_hosts hosts and
/// max_addresses_per_host addresses each are kept; a host whose name does not resolve is
/// skipped.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/dns/resolver.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::relay {

inline constexpr std::size_t max_mx_hosts = 10;
inline constexpr std::size_t max_addresses_per_host = 8;

/// One host to try.
struct mx_host {
  std::string name; ///< the exchange (or the domain itself for implicit MX)
  std::uint16_t preference = 0;
  std::vector<std::string> addresses; ///< IP literals, IPv6 first
  /// Every address lookup of this host that answered carried the AD bit (RFC 7672 §2.2.2:
  /// DANE applies to a host only when its address records are DNSSEC-secure).
  bool secure = false;
};

/// The outcome of an MX lookup. `hosts` empty means nowhere to deliver: `permanent` says
/// whether that is final (null MX, NXDOMAIN, no address at all) or may change (DNS failure).
struct mx_plan {
  std::vector<mx_host> hosts;
  bool permanent = false;
  bool null_mx = false;
  /// The MX RRset (for an implicit MX: the domain's address records) was DNSSEC-validated (AD
  /// bit). RFC 7672 §2.2.1: DANE applies only to MX hosts from a secure MX RRset; otherwise an
  /// attacker who forges the MX could name a host of his own with TLSA records.
  bool secure = false;
  std::string status; ///< RFC 3463 code when hosts is empty ("5.1.10", "5.1.2", "4.4.3")
  std::string reason; ///< human-readable, when hosts is empty or some lookups failed
};

/// Options of resolve_mx.
struct mx_options {
  bool ipv6 = true; ///< ask for AAAA too
  /// Shuffles hosts of equal preference (RFC 5321 §5.1); default: a random engine. Tests pass
  /// a no-op for a stable order.
  std::function<void(std::vector<mx_host>::iterator, std::vector<mx_host>::iterator)> shuffle;
};

/// Look up where mail for `domain` goes (blocking: dns::query on `resolver`).
[[nodiscard]] mx_plan resolve_mx(dns::resolver& resolver, std::string_view domain,
                                 const mx_options& opts = {});

} // namespace mailkit::relay
