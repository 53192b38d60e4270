// SPDX-License-Identifier: Apache-2.0
/// @file enforce.hpp
/// The TLS policy of direct delivery to one MX host, in the two calls a relay makes:
///  1. before connecting, requirements(): may this MX be tried at all, must STARTTLS succeed,
///     must the certificate validate for the MX name (MTA-STS) or match TLSA records (DANE);
///  2. after the TLS step (before MAIL FROM), enforce(): deliver, refuse, or deliver and report,
///     and the TLS-RPT entry to count for the policy domain (record() adds it to an aggregator).
/// A relay that follows requirements() never writes the message on a connection enforce()
/// would refuse: under `enforce` it connects with STARTTLS required and verification on, so a
/// man in the middle who strips STARTTLS or presents a wrong certificate ends the session
/// before any envelope or content is sent.
///
/// **Standards**: RFC 8461 §4.1 (MX matching), §4.2 (policy application), §5 (enforce, testing,
/// none), §2 (DANE first); RFC 7672 §2.2 (TLSA states), §3 (DANE authentication); RFC 8460
/// §4.3 (result types), §4.4 (policy-type, policy-string, mx-host, failure details).
///
/// **Security**: pure functions; the inputs come from DNS, HTTPS and the TLS handshake, each
/// validated by the modules that produced them.
#pragma once

#include <mailkit/mtasts/cache.hpp>
#include <mailkit/mtasts/dane.hpp>
#include <mailkit/mtasts/mtasts.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mailkit::mtasts {

/// How the connection to one MX host must be made.
struct connection_requirements {
  /// Do not connect: under `enforce` the MX matches no pattern of the policy (RFC 8461 §4.1:
  /// "senders MUST NOT deliver to a host that does not match"). The relay tries the next MX.
  bool skip = false;
  /// STARTTLS must succeed; no plaintext fallback (tls_mode::starttls_required).
  bool require_tls = false;
  /// Verify the certificate chain against the web PKI and its name against the MX host
  /// (RFC 8461 §4.2). Under `testing` this is asked too, but a failure is only reported.
  bool verify_pkix = false;
  /// Authenticate the server by its TLSA records (tls::dane::enable_dane), instead of PKIX.
  bool verify_dane = false;
  /// `testing`: failures are reported, not enforced; a relay whose validated attempt failed
  /// may reconnect without validation (or in plaintext) and deliver.
  bool report_only = false;
};

/// What to ask of the connection to `mx_host`, given the domain's MTA-STS policy (nullptr: none)
/// and the MX host's DANE state (RFC 8461 §2: usable TLSA records decide, MTA-STS is ignored).
[[nodiscard]] connection_requirements requirements(const policy* sts, std::string_view mx_host,
                                                   dane_state dane);

/// What the relay knows about the session besides the TLS outcome, for TLS-RPT failure details
/// (RFC 8460 §4.4 "failure-details"). All optional.
struct session_info {
  std::string sending_mta_ip;
  std::string receiving_ip;
  std::string receiving_mx_helo;
  /// When the certificate did not validate: why, as far as the TLS layer told (RFC 8460 §4.3.1).
  tlsrpt::result_type certificate_problem = tlsrpt::result_type::validation_failure;
  std::string failure_reason_code; ///< e.g. an OpenSSL verify error name
};

/// The outcome of enforce(): the decision and the TLS-RPT entry for this session.
struct enforcement {
  mtasts::decision decision;
  /// RFC 8460 §4.4 policy: sts (with the policy's lines and mx patterns), tlsa (the TLSA
  /// records in presentation form) or no-policy-found, for the recipient (policy) domain.
  tlsrpt::policy_description policy;
  /// The session's failure, when it failed (or the policy could not be fetched: §4.3 (MTA-STS
  /// policy failures)); std::nullopt: count one successful session.
  std::optional<tlsrpt::failure_detail> failure;
  /// No TLS session was made and none was required (no policy, plaintext delivery): TLS-RPT
  /// counts TLS sessions only, so record() counts nothing.
  bool nothing_to_report = false;
};

/// Decide for one MX of `recipient_domain` after the TLS step and before the transaction:
///  - `sts`: resolve()'s result for the domain (the active policy, and a discovery/fetch error
///    that TLS-RPT reports as sts-policy-fetch-error / sts-policy-invalid / sts-webpki-invalid);
///  - `dane`: lookup_tlsa() for the MX host;
///  - `outcome`: what the TLS step achieved.
/// The decision is decide()'s; the rest says what to record.
[[nodiscard]] enforcement enforce(std::string_view recipient_domain, const resolution& sts,
                                  std::string_view mx_host, const tlsa_lookup& dane,
                                  const tls_outcome& outcome, const session_info& info = {});

/// Count the session in `agg` (a success or one failure; nothing when nothing_to_report).
void record(tlsrpt::aggregator& agg, const enforcement& e);

/// The TLS-RPT result type of a failed requirement (RFC 8460 §4.3).
[[nodiscard]] tlsrpt::result_type result_type_of(failure f, const session_info& info = {});

/// The RFC 8460 §4.3 result type of a certificate that failed verification, from OpenSSL's
/// verify result (an X509_V_ERR_* value, as smtp::client_session::verify_result() gives it):
/// a name mismatch is certificate-host-mismatch, an expired certificate certificate-expired, a
/// chain to no trusted root (self-signed, unknown issuer) certificate-not-trusted, a chain that
/// matched no TLSA record tlsa-invalid, anything else validation-failure.
[[nodiscard]] tlsrpt::result_type certificate_problem_of(long verify_result) noexcept;

/// session_info::failure_reason_code for a verify result: OpenSSL's name for it
/// ("X509_V_ERR_..." is not exposed, so its text, e.g. "certificate has expired"); "" for OK.
[[nodiscard]] std::string verify_reason(long verify_result);

/// The TLS-RPT result type of a failed policy discovery or fetch (RFC 8460 §4.3 (MTA-STS policy
/// failures)): a certificate failure is sts-webpki-invalid, a policy that does not parse (or is not
/// text/plain) sts-policy-invalid, anything else sts-policy-fetch-error.
[[nodiscard]] tlsrpt::result_type result_type_of_fetch_error(const error_code& ec);

} // namespace mailkit::mtasts
