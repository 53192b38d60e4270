// SPDX-License-Identifier: Apache-2.0
/// @file resolver.hpp
/// The DNS contract every other module codes against (RFC 1034, RFC 1035, RFC 3596 AAAA,
/// RFC 6698 TLSA, RFC 4035 §3.2.3 AD bit). Mail code never talks to sockets for DNS: SPF, DKIM,
/// DMARC, MTA-STS, DANE and MX routing take a `dns::resolver&` and ask it questions.
///
/// Outcomes: an answer is a value, including NXDOMAIN and NODATA (both are `answer`s with no
/// records; `rcode` tells them apart), because SPF's void-lookup limit and DMARC's np= need to
/// see them. What makes a question unanswerable right now (timeout, SERVFAIL, REFUSED, a network
/// error) is an `error_code` of `dns::category()`, always transient: SPF maps it to temperror,
/// DKIM to temperror, the queue retries. FORMERR and NOTIMP are permanent.
///
/// Implementations: `static_resolver` (static_resolver.hpp, in-memory zone for tests, answers
/// inline), `cares_resolver` (cares_resolver.hpp, c-ares on an Asio executor) and
/// `caching_resolver` (cache.hpp, TTL-respecting with negative caching, wraps another resolver).
///
/// **Security**: names and record data come from the network. Record data are bounded by the
/// wire format (a TXT string is at most 255 octets, a message at most 65535); callers still
/// bound what they do with them (SPF lookup limits, DKIM key size).
#pragma once

#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mailkit::dns {

/// Record types this library asks for (RFC 1035 §3.2.2, RFC 3596, RFC 6698).
enum class rtype : std::uint16_t {
  a = 1,
  ns = 2,
  cname = 5,
  soa = 6,
  ptr = 12,
  mx = 15,
  txt = 16,
  aaaa = 28,
  srv = 33,
  tlsa = 52,
  caa = 257,
};

/// "A", "MX", ... ; parse_rtype accepts those names case-insensitively.
[[nodiscard]] std::string_view to_string(rtype t) noexcept;
[[nodiscard]] expected<rtype> parse_rtype(std::string_view name);

/// RFC 1035 §4.1.1 RCODE (and RFC 6895). Only noerror and nxdomain reach an `answer`.
enum class rcode : std::uint8_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
};

/// Operational failures of a query. All but formerr/notimp/bad_name are transient.
enum class errc {
  ok = 0,
  timed_out = 1, ///< no answer from any server after the retries (transient)
  servfail,      ///< the server answered SERVFAIL, e.g. DNSSEC validation failed (transient)
  refused,       ///< the server refused the query (transient)
  network,       ///< socket or connection error (transient)
  formerr,       ///< the server could not read our query (permanent)
  notimp,        ///< the server does not implement the query type (permanent)
  bad_name,      ///< the name is not a valid domain name, or IDNA conversion failed (permanent)
  bad_response,  ///< the response could not be parsed (transient: another server may do better)
  cancelled,     ///< the resolver was shut down before the answer arrived (transient)
};

const error_category& category() noexcept;
inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

struct ipv4 {
  std::array<std::uint8_t, 4> bytes{};
  friend bool operator==(const ipv4&, const ipv4&) = default;
};
struct ipv6 {
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const ipv6&, const ipv6&) = default;
};
/// "192.0.2.1" / "2001:db8::1" (RFC 5952 form for IPv6).
[[nodiscard]] std::string to_string(const ipv4& a);
[[nodiscard]] std::string to_string(const ipv6& a);
[[nodiscard]] expected<ipv4> parse_ipv4(std::string_view s);
[[nodiscard]] expected<ipv6> parse_ipv6(std::string_view s);

struct mx {
  std::uint16_t preference = 0;
  std::string exchange; ///< host name, no trailing dot; "" for the null MX "." (RFC 7505)
  friend bool operator==(const mx&, const mx&) = default;
};
struct txt {
  std::vector<std::string> strings; ///< the character-strings as received (each ≤ 255 octets)
  /// The strings concatenated without separators (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
  [[nodiscard]] std::string joined() const;
  friend bool operator==(const txt&, const txt&) = default;
};
struct soa {
  std::string mname, rname;
  std::uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
  friend bool operator==(const soa&, const soa&) = default;
};
struct tlsa {
  std::uint8_t usage = 0, selector = 0, matching_type = 0;
  std::string data; ///< certificate association data, raw bytes
  friend bool operator==(const tlsa&, const tlsa&) = default;
};
/// A host name (PTR, CNAME, NS target), no trailing dot.
/// RFC 2782: a service location (autoconfiguration records of RFC 6186 and RFC 8314).
struct srv {
  std::uint16_t priority = 0, weight = 0, port = 0;
  std::string target; ///< host name, no trailing dot; "" for "." (service not offered)
  friend bool operator==(const srv&, const srv&) = default;
};
/// RFC 8659 §4.1: a certification authority authorization.
struct caa {
  std::uint8_t flags = 0; ///< bit 7 (128) is the issuer-critical flag
  std::string tag;        ///< "issue", "issuewild", "iodef", ...
  std::string value;
  friend bool operator==(const caa&, const caa&) = default;
};
struct name_rdata {
  std::string name;
  friend bool operator==(const name_rdata&, const name_rdata&) = default;
};

using rdata = std::variant<ipv4, ipv6, mx, txt, name_rdata, soa, tlsa, srv, caa>;

/// One answer record of the asked type (records of other types, e.g. the CNAMEs followed on the
/// way, are not listed; `canonical_name` says where the chain ended).
struct record {
  rdata data;
  std::uint32_t ttl = 0;
};

/// The answer to one question.
struct answer {
  std::string name; ///< the name asked (ASCII, A-labels, lower case, no trailing dot)
  rtype type = rtype::a;
  rcode code = rcode::noerror; ///< noerror (records may still be empty: NODATA) or nxdomain
  bool authenticated = false;  ///< AD bit from a validating resolver (RFC 4035 §3.2.3)
  std::string canonical_name;  ///< the name after following CNAMEs (== name when none)
  std::vector<record> records; ///< of `type` only, in the order received
  /// For NXDOMAIN/NODATA: the negative TTL (RFC 2308 §5, min(SOA TTL, SOA minimum)), 0 when
  /// the response had no SOA (not cacheable); else the lowest TTL of the records and of the
  /// CNAMEs followed to reach them (how long the whole answer may be cached).
  std::uint32_t ttl = 0;

  /// NXDOMAIN or NODATA: RFC 7208 §4.6.4 counts these as void lookups.
  [[nodiscard]] bool empty() const noexcept { return records.empty(); }
  // Typed views; each skips records of other alternatives.
  [[nodiscard]] std::vector<ipv4> a() const;
  [[nodiscard]] std::vector<ipv6> aaaa() const;
  [[nodiscard]] std::vector<mx> mx_records() const; ///< sorted by preference, stable
  [[nodiscard]] std::vector<std::string> txt_joined() const;
  [[nodiscard]] std::vector<std::string> names() const; ///< PTR, CNAME or NS targets
  [[nodiscard]] std::vector<srv> srv_records() const;
  [[nodiscard]] std::vector<caa> caa_records() const;
};

using query_result = expected<answer>;
using query_handler = std::function<void(query_result)>;

/// The asynchronous resolver interface. `async_query` never blocks; the handler runs exactly
/// once, either inline (static_resolver, cache hit) or later on the implementation's executor.
/// Names may be Unicode (UTF-8): implementations convert them with IDNA2008 (libidn2) and
/// return dns::errc::bad_name when that fails. A trailing dot is accepted and ignored.
class resolver {
public:
  virtual ~resolver() = default;
  virtual void async_query(std::string_view name, rtype type, query_handler handler) = 0;

  /// The answer at once, when this resolver holds it without waiting (an in-memory zone):
  /// a pointer valid until the resolver is next modified or destroyed, or nullptr, and then the
  /// caller uses async_query(). Hot synchronous callers (SPF and DMARC over a static zone) skip
  /// the handler and the copy of the answer. Counts as a query wherever queries are counted.
  [[nodiscard]] virtual const query_result* answer_now(std::string_view name, rtype type) {
    (void)name;
    (void)type;
    return nullptr;
  }
};

/// Blocking convenience for CLI, Python and tests: runs the query and waits for its handler.
/// With an Asio-driven resolver this needs the resolver's executor to be running on another
/// thread, or the resolver to own one (cares_resolver does when built without an executor).
[[nodiscard]] query_result query(resolver& r, std::string_view name, rtype type);

/// Domain name utilities shared by every module.
/// to_ascii: IDNA2008 (UTS #46 non-transitional) to A-labels, lower case, trailing dot removed;
/// fails with bad_name for an empty label, a label over 63 octets or a name over 253.
[[nodiscard]] expected<std::string> to_ascii(std::string_view name);
/// RFC 1035 §2.3.3 comparison: ASCII case-insensitive, trailing dot ignored.
[[nodiscard]] bool same_name(std::string_view a, std::string_view b) noexcept;
/// "1.2.0.192.in-addr.arpa" / nibble form under ip6.arpa (RFC 3596 §2.5).
[[nodiscard]] std::string reverse_name(const ipv4& a);
[[nodiscard]] std::string reverse_name(const ipv6& a);

} // namespace mailkit::dns

template <>
struct boost::system::is_error_code_enum<mailkit::dns::errc> : std::true_type {};
