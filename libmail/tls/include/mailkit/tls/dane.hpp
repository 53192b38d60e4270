// SPDX-License-Identifier: Apache-2.0
/// @file dane.hpp
/// DANE for SMTP: matching a server's certificate chain against its TLSA records, both as a
/// pure function over DER certificates (match_chain(), for tests, diagnostics and fuzzing) and
/// as an OpenSSL verification step on a client connection (enable_dane(), which hands the
/// records to OpenSSL's own DANE verifier so that a mismatch fails the handshake).
///
/// Only what SMTP uses (RFC 7672 §3.1.3): usages DANE-TA(2) and DANE-EE(3); PKIX-TA(0) and
/// PKIX-EE(1) records are "unusable" for SMTP and are ignored, as are unknown selectors and
/// matching types. The TLSA lookup (DNSSEC-authenticated, AD bit) is in mtasts/dane.hpp, which
/// may use the resolver; this module stays below DNS.
///
/// **Standards**: RFC 6698 §2.1 (TLSA fields), RFC 7671 §5.1 (DANE-EE: the leaf matches, names
/// and validity not checked), §5.2 (DANE-TA: a certificate of the chain as presented matches,
/// the chain up to it verifies, the leaf carries the reference name), RFC 7672 §3.1.3 (usable
/// records), §3.2.2 (reference identifiers: the TLSA base domain and the MX host name).
/// Not implemented: DANE-TA with a bare public key that the server does not send (RFC 7671
/// §5.2.3); digest algorithm agility (RFC 7671 §9) beyond "any record matches".
///
/// **Security**: certificates come from the peer; records from DNS (authenticated by DNSSEC
/// before they reach here). Parsing is OpenSSL's (d2i_X509); every size is bounded by the input.
#pragma once

#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>

#include <openssl/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::tls::dane {

/// RFC 6698 §2.1.1 certificate usage.
enum class usage : std::uint8_t { pkix_ta = 0, pkix_ee = 1, dane_ta = 2, dane_ee = 3 };
/// RFC 6698 §2.1.2 selector.
enum class selector : std::uint8_t { full_certificate = 0, subject_public_key_info = 1 };
/// RFC 6698 §2.1.3 matching type.
enum class matching_type : std::uint8_t { exact = 0, sha256 = 1, sha512 = 2 };

/// One TLSA record (the same fields as dns::tlsa, kept separate so tls does not depend on dns).
struct tlsa_record {
  std::uint8_t usage = 0, selector = 0, matching_type = 0;
  std::string data; ///< certificate association data, raw bytes
  friend bool operator==(const tlsa_record&, const tlsa_record&) = default;
};

/// RFC 7672 §3.1.3: usable for SMTP = usage DANE-TA(2) or DANE-EE(3), selector 0 or 1,
/// matching type 0, 1 or 2, and (for digests) data of the digest's length.
[[nodiscard]] bool usable(const tlsa_record& r) noexcept;

/// The association data a record with `sel` and `mt` would carry for `der_certificate`.
[[nodiscard]] expected<std::string> association_data(std::string_view der_certificate, selector sel,
                                                     matching_type mt);

struct match_result {
  bool matched = false;
  int depth = -1;                      ///< chain position of the matching certificate (0 = leaf)
  const tlsa_record* record = nullptr; ///< the record that matched (points into the input)
};

/// Match a chain as the server presented it (DER, leaf first) against `records`, with
/// `reference_names` the names the leaf must carry for DANE-TA (RFC 7672 §3.2.2: the TLSA base
/// domain and, when different, the MX host name). `now_unix` is the time for DANE-TA's validity
/// checks. Unusable records are skipped. An unreadable certificate is an error
/// (mailkit::errc::malformed_input).
[[nodiscard]] expected<match_result> match_chain(const std::vector<std::string>& der_chain,
                                                 const std::vector<tlsa_record>& records,
                                                 const std::vector<std::string>& reference_names,
                                                 std::int64_t now_unix);

/// Turn DANE on for a client context (OpenSSL's SSL_CTX_dane_enable). Call once, before the
/// context is shared between threads.
[[nodiscard]] expected<void> enable_dane_context(SSL_CTX* ctx);

/// Make DANE the verification step of one client connection, before its handshake: the usable
/// records are given to OpenSSL, `base_domain` (the TLSA base domain, RFC 7672 §2.2.3) and the
/// other `names` become the reference identifiers for DANE-TA, DANE-EE skips name checks
/// (RFC 7672 §3.2.1), and SSL_VERIFY_PEER makes a mismatch fail the handshake. The context
/// must have had enable_dane_context(). Fails with errc::invalid_argument when no record is
/// usable (the caller then falls back to unauthenticated TLS, RFC 7672 §2.2).
[[nodiscard]] expected<void> enable_dane(SSL* ssl, std::string_view base_domain,
                                         const std::vector<std::string>& names,
                                         const std::vector<tlsa_record>& records);

/// After a successful handshake with enable_dane(): the depth of the certificate that matched
/// (0 for the leaf), or -1 when DANE did not authenticate the peer.
[[nodiscard]] int matched_depth(SSL* ssl) noexcept;

} // namespace mailkit::tls::dane
