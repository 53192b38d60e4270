// SPDX-License-Identifier: Apache-2.0
// DANE TLSA matching (RFC 7671 §5, RFC 7672 §3) over DER chains and as an OpenSSL step.
#include <mailkit/tls/dane.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace mailkit::tls::dane {

namespace {

struct x509_free_t {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using x509_ptr = std::unique_ptr<X509, x509_free_t>;

x509_ptr read_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  if (der.size() > 1024 * 1024) return nullptr; // no certificate is that large
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  // Trailing bytes after the certificate mean the input was not one DER certificate.
  if (x != nullptr && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    X509_free(x);
    return nullptr;
  }
  return x509_ptr(x);
}

// RFC 6698 §2.1.2: selector 0 = the full certificate (DER), 1 = its SubjectPublicKeyInfo (DER).
expected<std::string> selected_bytes(X509* cert, std::uint8_t sel) {
  unsigned char* buf = nullptr;
  int len = -1;
  if (sel == 0)
    len = i2d_X509(cert, &buf);
  else if (sel == 1)
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &buf);
  if (len < 0 || buf == nullptr) return fail(mailkit::errc::malformed_input);
  std::string out(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
  OPENSSL_free(buf);
  return out;
}

// RFC 6698 §2.1.3: 0 = exact match, 1 = SHA-256, 2 = SHA-512.
expected<std::string> digest(const std::string& bytes, std::uint8_t mt) {
  if (mt == 0) return bytes;
  const EVP_MD* md = mt == 1 ? EVP_sha256() : mt == 2 ? EVP_sha512() : nullptr;
  if (md == nullptr) return fail(mailkit::errc::unsupported);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr) != 1)
    return fail(mailkit::errc::resource_exhausted);
  return std::string(reinterpret_cast<const char*>(out), n);
}

bool record_matches(X509* cert, const tlsa_record& r) {
  auto sel = selected_bytes(cert, r.selector);
  if (!sel) return false;
  auto d = digest(*sel, r.matching_type);
  return d && *d == r.data;
}

bool leaf_has_name(X509* leaf, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    // RFC 7672 §3.2.3: wildcards only as the whole left-most label (RFC 6125 §6.4.3).
    if (X509_check_host(leaf, n.data(), n.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) ==
        1)
      return true;
  }
  return false;
}

} // namespace

bool usable(const tlsa_record& r) noexcept {
  // RFC 7672 §3.1.3: "TLSA records with usage PKIX-TA(0) or PKIX-EE(1) ... are "unusable""
  // for SMTP; so are unknown selectors and matching types.
  if (r.usage != 2 && r.usage != 3) return false;
  if (r.selector > 1) return false;
  switch (r.matching_type) {
  case 0:
    return !r.data.empty();
  case 1:
    return r.data.size() == 32; // RFC 7671 §10.1: a digest of the wrong length is unusable
  case 2:
    return r.data.size() == 64;
  default:
    return false;
  }
}

expected<std::string> association_data(std::string_view der, selector sel, matching_type mt) {
  auto cert = read_der(der);
  if (!cert) return fail(mailkit::errc::malformed_input);
  auto bytes = selected_bytes(cert.get(), static_cast<std::uint8_t>(sel));
  if (!bytes) return unexpected(bytes.error());
  return digest(*bytes, static_cast<std::uint8_t>(mt));
}

expected<match_result> match_chain(const std::vector<std::string>& der_chain,
                                   const std::vector<tlsa_record>& records,
                                   const std::vector<std::string>& reference_names,
                                   std::int64_t now_unix) {
  match_result out;
  if (der_chain.empty() || der_chain.size() > 32) return fail(mailkit::errc::invalid_argument);
  std::vector<x509_ptr> chain;
  for (const auto& der : der_chain) {
    auto c = read_der(der);
    if (!c) return fail(mailkit::errc::malformed_input);
    chain.push_back(std::move(c));
  }
  // RFC 7671 §5.1: DANE-EE(3) matches the leaf alone; names and validity dates are not checked
  // (RFC 7672 §3.2.1: "the TLSA record ... is the sole authority").
  for (const auto& r : records) {
    if (!usable(r) || r.usage != 3) continue;
    if (record_matches(chain[0].get(), r)) return match_result{true, 0, &r};
  }
  // RFC 7671 §5.2: DANE-TA(2) matches a certificate of the chain the server sent; the chain
  // from the leaf up to it must verify, and the leaf must carry a reference identifier
  // (RFC 7672 §3.2.2).
  auto now = static_cast<time_t>(now_unix);
  for (std::size_t depth = 0; depth < chain.size(); ++depth) {
    const tlsa_record* hit = nullptr;
    for (const auto& r : records) {
      if (!usable(r) || r.usage != 2) continue;
      if (record_matches(chain[depth].get(), r)) {
        hit = &r;
        break;
      }
    }
    if (hit == nullptr) continue;
    bool ok = leaf_has_name(chain[0].get(), reference_names);
    // Each certificate below the trust anchor is signed by the next one and is in its
    // validity period (RFC 5280 §6.1.3, as RFC 7671 §5.2 asks for a PKIX chain to the TA).
    for (std::size_t i = 0; ok && i < depth; ++i) {
      X509* cert = chain[i].get();
      X509* issuer = chain[i + 1].get();
      EVP_PKEY* key = X509_get0_pubkey(issuer);
      ok = key != nullptr && X509_check_issued(issuer, cert) == X509_V_OK &&
           X509_verify(cert, key) == 1 && X509_cmp_time(X509_get0_notBefore(cert), &now) < 0 &&
           X509_cmp_time(X509_get0_notAfter(cert), &now) > 0;
    }
    if (ok) return match_result{true, static_cast<int>(depth), hit};
  }
  return out;
}

expected<void> enable_dane_context(SSL_CTX* ctx) {
  if (ctx == nullptr || SSL_CTX_dane_enable(ctx) <= 0) return fail(mailkit::errc::unsupported);
  return {};
}

expected<void> enable_dane(SSL* ssl, std::string_view base_domain,
                           const std::vector<std::string>& names,
                           const std::vector<tlsa_record>& records) {
  std::string base(base_domain);
  if (!base.empty() && base.back() == '.') base.pop_back();
  if (ssl == nullptr || base.empty()) return fail(mailkit::errc::invalid_argument);
  if (SSL_dane_enable(ssl, base.c_str()) <= 0) return fail(mailkit::errc::unsupported);
  // RFC 7672 §3.2.1: no name checks for DANE-EE(3).
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  for (const auto& n : names) {
    if (n.empty() || n == base) continue;
    if (SSL_add1_host(ssl, n.c_str()) != 1) return fail(mailkit::errc::invalid_argument);
  }
  int added = 0;
  for (const auto& r : records) {
    if (!usable(r)) continue; // RFC 7672 §3.1.3
    const int rc =
        SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.matching_type,
                          reinterpret_cast<const unsigned char*>(r.data.data()), r.data.size());
    if (rc > 0) ++added;
  }
  if (added == 0) return fail(mailkit::errc::invalid_argument);
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  return {};
}

int matched_depth(SSL* ssl) noexcept {
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return -1;
  return SSL_get0_dane_authority(ssl, nullptr, nullptr);
}

} // namespace mailkit::tls::dane
