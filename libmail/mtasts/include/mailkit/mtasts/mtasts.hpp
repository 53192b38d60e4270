// SPDX-License-Identifier: Apache-2.0
/// @file mtasts.hpp
/// SMTP MTA Strict Transport Security (MTA-STS): how a sending MTA learns that a recipient
/// domain wants mail delivered only over authenticated TLS to named MX hosts, and what it does
/// with that. The pieces, from pure syntax to I/O:
///  - parse_txt_record(): the `_mta-sts.<domain>` TXT record (`v=STSv1; id=...`);
///  - parse_policy(): the policy file served at https://mta-sts.<domain>/.well-known/mta-sts.txt;
///  - mx_matches() / policy::matches(): MX host names against the policy's patterns;
///  - discover() and fetch(): the DNS lookup and the HTTPS fetch (through mailkit::http);
///  - policy_cache (cache.hpp) and resolve(): the cached, refreshed policy a relay applies;
///  - decide(): given a domain's policy, an MX host and the TLS outcome, deliver or refuse;
///    enforce.hpp wraps it for the relay (requirements() before connecting, enforce() and the
///    TLS-RPT entry after the TLS step); serve.hpp publishes our own policy.
///
/// **Standards**: RFC 8461 §3.1 (TXT record), §3.2 (policy file), §3.3 (HTTPS fetch), §4.1 (MX
/// host validation), §4.2 (policy application), §5 and §5.1 (caching and refreshing), §2
/// (precedence of DANE, RFC 7672). Serving our own policy is in serve.hpp, the reporting of
/// failures in tlsrpt/.
///
/// **Security**: parses untrusted input (DNS TXT data, HTTPS bodies from any server) with hard
/// limits (64 KiB body, 1000 MX patterns, 253-octet names); fetch() talks to the network and
/// validates the server's certificate against the system store (or a test CA file). The
/// decision function is where a man in the middle is stopped: under `enforce`, no valid TLS to a
/// matching MX means no delivery.
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkit::dns {
class resolver;
} // namespace mailkit::dns

namespace mailkit::mtasts {

/// Failures of discovery, fetch and parsing. HTTP-level statuses are transient (the server may
/// recover); syntax errors are permanent for the bytes given. Failures below HTTP (connect, TLS,
/// certificate, timeout, body size) come back as http::errc values, DNS failures as dns::errc.
enum class errc {
  ok = 0,
  bad_record = 1,   ///< the TXT record is not `v=STSv1; id=...` (RFC 8461 §3.1) (permanent)
  bad_policy,       ///< the policy body breaks RFC 8461 §3.2 (permanent)
  http_status,      ///< the policy host answered with a status other than 200, e.g. a 3xx
  bad_content_type, ///< the policy's media type is not text/plain (RFC 8461 §3.2)
  bad_domain,       ///< the policy domain is not a valid domain name (permanent)
};

const error_category& category() noexcept;
inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

// ---- RFC 8461 §3.1: the TXT record -------------------------------------------------------

/// A parsed `_mta-sts` TXT record.
struct txt_record {
  std::string id; ///< 1-32 alphanumerics; a change tells senders the policy changed
  /// Extension fields (name, value) in the order given (RFC 8461 §3.1 sts-ext).
  std::vector<std::pair<std::string, std::string>> extensions;
};

/// Parse one TXT record. The record must begin with "v=STSv1;" (RFC 8461 §3.1).
[[nodiscard]] expected<txt_record> parse_txt_record(std::string_view text);

/// The record among several TXT strings of `_mta-sts.<domain>`: those not beginning with
/// "v=STSv1;" are discarded; unless exactly one remains and it parses, there is no policy
/// (std::nullopt) (RFC 8461 §3.1).
[[nodiscard]] std::optional<txt_record> select_txt_record(const std::vector<std::string>& txts);

// ---- RFC 8461 §3.2: the policy ----------------------------------------------------------

enum class mode { enforce, testing, none };
[[nodiscard]] std::string_view to_string(mode m) noexcept;

/// RFC 8461 §3.2: max_age is at most 31557600 seconds (about one year).
inline constexpr std::uint32_t max_age_limit = 31557600;
/// RFC 8461 §3.3: "a policy body larger than 64 kilobytes" must not be accepted.
inline constexpr std::size_t max_policy_size = 64 * 1024;

struct policy {
  mode policy_mode = mode::none;
  std::vector<std::string> mx; ///< patterns, lower case: "mail.example.com" or "*.example.net"
  std::uint32_t max_age = 0;   ///< seconds
  /// Extension fields (name, value) the sender does not understand, kept for TLS-RPT's
  /// policy-string and for logs.
  std::vector<std::pair<std::string, std::string>> extensions;

  /// Does `host` match one of the mx patterns (RFC 8461 §4.1)?
  [[nodiscard]] bool matches(std::string_view host) const;
  /// The policy as text, one field per line with LF (for TLS-RPT policy-string and the cache).
  [[nodiscard]] std::string to_text() const;
};

/// Parse a policy body (RFC 8461 §3.2): `key: value` lines separated by CRLF or LF; version
/// STSv1, mode and max_age are required, mx at least once unless the mode is `none`; unknown
/// keys are kept as extensions; a repeated version, mode or max_age is an error.
[[nodiscard]] expected<policy> parse_policy(std::string_view text);

/// RFC 8461 §4.1: case-insensitive; a pattern "*.example.com" matches exactly one extra
/// left-most label ("mx.example.com", not "example.com" nor "a.b.example.com"). Trailing dots
/// are ignored on both sides.
[[nodiscard]] bool mx_matches(std::string_view pattern, std::string_view host) noexcept;

// ---- RFC 8461 §3.3: discovery and fetch ---------------------------------------------------

struct fetch_options {
  std::string ca_file;      ///< trusted roots; empty: system store
  std::uint16_t port = 443; ///< tests use another loopback port
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  /// Look up mta-sts.<domain> with the same resolver as the TXT record (tests: the loopback
  /// DNS server). When false, the system resolver is used for the HTTPS host.
  bool resolve_host_with_resolver = true;
};

/// A policy as fetched, with the id of the TXT record that announced it.
struct fetched_policy {
  std::string id;
  policy value;
};

/// Look up `_mta-sts.<domain>` (RFC 8461 §3.1). std::nullopt: no usable record (NXDOMAIN,
/// NODATA, no or several v=STSv1 records, a bad one). A DNS failure is an error.
[[nodiscard]] expected<std::optional<txt_record>> discover(dns::resolver& r,
                                                           std::string_view domain);

/// Fetch and parse https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3): HTTPS with
/// a valid certificate for that name, no redirects, status 200, media type text/plain, at most
/// 64 KiB, within the timeout. Blocking; run it on a worker thread.
/// @return the policy, or errc::http_status / bad_content_type / bad_policy, or the http::errc
/// of a failed exchange (certificate_invalid, body_too_large, timed_out ...).
[[nodiscard]] expected<policy> fetch_policy(std::string_view domain, dns::resolver& r,
                                            const fetch_options& options = {});

/// Media type check of RFC 8461 §3.2 ("text/plain", parameters such as charset allowed).
[[nodiscard]] bool is_text_plain(std::string_view content_type) noexcept;

/// discover() then fetch_policy(): std::nullopt when the domain publishes no policy.
[[nodiscard]] expected<std::optional<fetched_policy>>
fetch(dns::resolver& r, std::string_view domain, const fetch_options& options = {});

// ---- RFC 8461 §4.2 and RFC 8461 §2: what to do with one MX --------------------------------

/// The DANE state of one MX host (RFC 7672 §2.2), from lookup_tlsa() in dane.hpp.
enum class dane_state {
  none,     ///< no TLSA records, or not DNSSEC-authenticated: DANE does not apply
  unusable, ///< authenticated TLSA records, none usable: TLS required, no authentication
  usable,   ///< authenticated, usable TLSA records: DANE authentication required
};

/// What happened when we tried TLS with one MX host.
struct tls_outcome {
  bool tls_established = false; ///< STARTTLS offered and the handshake completed
  /// The chain validated against the web PKI and a certificate name matched the MX host
  /// (RFC 8461 §4.2, RFC 9525).
  bool pkix_valid = false;
  bool dane_valid = false; ///< the chain matched a usable TLSA record (RFC 7672 §3)
};

enum class verdict {
  deliver,            ///< no policy applies, or every requirement holds
  refuse,             ///< do not deliver to this MX (RFC 8461 §4.2 enforce; RFC 7672 §2.2)
  deliver_and_report, ///< deliver, but report the failure via TLS-RPT (RFC 8461 §5 testing)
};
[[nodiscard]] std::string_view to_string(verdict v) noexcept;

/// Why a requirement did not hold (mirrors the result types of RFC 8460 §4.3).
enum class failure {
  none,
  mx_not_in_policy,       ///< RFC 8461 §4.1: the MX host matches no mx pattern
  starttls_not_supported, ///< no TLS at all
  certificate_invalid,    ///< TLS, but the PKIX chain or name did not validate
  dane_mismatch,          ///< TLS, but the chain matched no usable TLSA record
};
[[nodiscard]] std::string_view to_string(failure f) noexcept;

struct decision {
  verdict action = verdict::deliver;
  failure reason = failure::none;
  bool dane_applied = false; ///< DANE decided (RFC 8461 §2), not MTA-STS
  bool sts_applied = false;  ///< an enforce or testing MTA-STS policy decided
};

/// Decide for one MX host of a domain.
///  - RFC 8461 §2: when the MX has usable TLSA records, DANE decides and MTA-STS is not consulted
///    (a failing DANE validation is never overridden by MTA-STS): refuse without dane_valid.
///    With only unusable TLSA records, TLS is required (RFC 7672 §2.2) but not authenticated.
///  - Otherwise, with a policy in mode enforce: refuse unless the MX matches and pkix_valid;
///    mode testing: deliver_and_report in the same cases; mode none or no policy: deliver.
[[nodiscard]] decision decide(const policy* sts, std::string_view mx_host, dane_state dane,
                              const tls_outcome& outcome);

} // namespace mailkit::mtasts

template <>
struct boost::system::is_error_code_enum<mailkit::mtasts::errc> : std::true_type {};
