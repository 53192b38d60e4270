// SPDX-License-Identifier: Apache-2.0
// The per-MX TLS policy of direct delivery and its TLS-RPT entry.
#include <mailkit/http/http.hpp>
#include <mailkit/mtasts/enforce.hpp>

#include <openssl/x509_vfy.h>

namespace mailkit::mtasts {

namespace {

std::string tlsa_text(const tls::dane::tlsa_record& r) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = std::to_string(r.usage) + " " + std::to_string(r.selector) + " " +
                    std::to_string(r.matching_type) + " ";
  for (const unsigned char c : r.data) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

} // namespace

connection_requirements requirements(const policy* sts, std::string_view mx_host, dane_state dane) {
  connection_requirements r;
  // RFC 8461 §2: DANE, when the MX has usable TLSA records, decides alone.
  if (dane == dane_state::usable) {
    r.require_tls = true;
    r.verify_dane = true;
    return r;
  }
  // RFC 7672 §2.2: authenticated but unusable TLSA records still promise TLS.
  if (dane == dane_state::unusable) r.require_tls = true;
  if (sts == nullptr || sts->policy_mode == mode::none) return r;
  if (sts->policy_mode == mode::testing) {
    // RFC 8461 §5: testing: validate, report failures, deliver regardless.
    r.verify_pkix = true;
    r.report_only = true;
    return r;
  }
  // RFC 8461 §4.1: under enforce, a host that matches no mx pattern is not a candidate.
  if (!sts->matches(mx_host)) {
    r.skip = true;
    return r;
  }
  // RFC 8461 §4.2: enforce: TLS with a certificate valid for the MX host, or no delivery.
  r.require_tls = true;
  r.verify_pkix = true;
  return r;
}

tlsrpt::result_type result_type_of(failure f, const session_info& info) {
  switch (f) {
  case failure::starttls_not_supported:
    return tlsrpt::result_type::starttls_not_supported; // RFC 8460 §4.3.1
  case failure::certificate_invalid:
    return info.certificate_problem; // §4.3.1: host mismatch, expired, not trusted, validation
  case failure::dane_mismatch:
    // §4.3, DANE policy failures: no record of the TLSA RRset matched the chain.
    return tlsrpt::result_type::tlsa_invalid;
  case failure::mx_not_in_policy:
  case failure::none:
    break;
  }
  // §4.3 "validation-failure": the general case (an MX outside the policy's patterns).
  return tlsrpt::result_type::validation_failure;
}

tlsrpt::result_type certificate_problem_of(long v) noexcept {
  switch (v) {
  // RFC 8460 §4.3.1 "certificate-host-mismatch": no name of the certificate matches the host.
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return tlsrpt::result_type::certificate_host_mismatch;
  // §4.3.1 "certificate-expired".
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return tlsrpt::result_type::certificate_expired;
  // §4.3.1 "certificate-not-trusted": self-signed, or no path to a trusted root.
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_CERT_UNTRUSTED:
  case X509_V_ERR_CERT_REJECTED:
    return tlsrpt::result_type::certificate_not_trusted;
  // §4.3.2 "tlsa-invalid": none of the TLSA records matched the chain.
  case X509_V_ERR_DANE_NO_MATCH:
    return tlsrpt::result_type::tlsa_invalid;
  default:
    return tlsrpt::result_type::validation_failure; // §4.3.1: the general case
  }
}

std::string verify_reason(long v) {
  if (v <= 0) return {};
  return X509_verify_cert_error_string(v);
}

tlsrpt::result_type result_type_of_fetch_error(const error_code& ec) {
  if (ec == http::errc::certificate_invalid) return tlsrpt::result_type::sts_webpki_invalid;
  if (ec == errc::bad_policy || ec == errc::bad_content_type)
    return tlsrpt::result_type::sts_policy_invalid;
  return tlsrpt::result_type::sts_policy_fetch_error;
}

enforcement enforce(std::string_view recipient_domain, const resolution& sts,
                    std::string_view mx_host, const tlsa_lookup& dane, const tls_outcome& outcome,
                    const session_info& info) {
  enforcement e;
  const policy* active = sts.active ? &sts.active->value : nullptr;
  e.decision = decide(active, mx_host, dane.state, outcome);

  // RFC 8460 §4.4: the policy the session was judged by.
  e.policy.domain = std::string(recipient_domain);
  if (e.decision.dane_applied) {
    e.policy.type = tlsrpt::policy_type::tlsa;
    for (const auto& r : dane.records)
      e.policy.policy_string.push_back(tlsa_text(r));
  } else if (active != nullptr && active->policy_mode != mode::none) {
    e.policy.type = tlsrpt::policy_type::sts;
    e.policy.policy_string = lines_of(active->to_text());
    e.policy.mx_host = active->mx;
  } else if (sts.error && !active) {
    // RFC 8460 §4.3, MTA-STS policy failures: the policy could not be had; reported under the
    // sts policy type.
    e.policy.type = tlsrpt::policy_type::sts;
  } else {
    e.policy.type = tlsrpt::policy_type::no_policy_found;
  }

  tlsrpt::failure_detail d;
  d.sending_mta_ip = info.sending_mta_ip;
  d.receiving_ip = info.receiving_ip;
  d.receiving_mx_hostname = std::string(mx_host);
  d.receiving_mx_helo = info.receiving_mx_helo;
  d.failure_reason_code = info.failure_reason_code;
  if (e.decision.reason != failure::none) {
    d.result = result_type_of(e.decision.reason, info);
    if (e.decision.reason == failure::mx_not_in_policy)
      d.additional_information = "MX host matches no mx pattern of the policy (RFC 8461 4.1)";
    e.failure = d;
  } else if (sts.error && !active && !e.decision.dane_applied) {
    d.result = result_type_of_fetch_error(sts.error);
    e.failure = d;
  } else if (!outcome.tls_established) {
    // Plaintext delivery nobody required: TLS-RPT counts TLS sessions only (RFC 8460 §4.4
    // "total-successful-session-count").
    e.nothing_to_report = true;
  }
  return e;
}

void record(tlsrpt::aggregator& agg, const enforcement& e) {
  if (e.failure)
    agg.add_failure(e.policy, *e.failure);
  else if (!e.nothing_to_report)
    agg.add_success(e.policy);
}

} // namespace mailkit::mtasts
