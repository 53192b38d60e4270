// SPDX-License-Identifier: Apache-2.0
/// @file keys.hpp
/// DKIM keys: RSA (OpenSSL 3 EVP) and Ed25519 (libsodium), generation, PEM import and export,
/// the DNS TXT record for a key (split into 255-octet strings) and selector rotation helpers.
///
/// **Security**: private keys are held in OpenSSL EVP_PKEY objects (RSA) or a libsodium secret
/// key buffer that is wiped on destruction (Ed25519). Public keys come from DNS (untrusted):
/// RSA moduli are bounded by the verifier's min/max bits before use.
#pragma once

#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/dkim/result.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

/// Errors of key handling (operational, not verification outcomes).
enum class errc {
  ok = 0,
  bad_key = 1,    ///< PEM or key bytes could not be read, or the key type is unsupported
  key_generation, ///< the crypto library failed to generate a key
  crypto_failure, ///< the crypto library failed to sign (should not happen with a good key)
  no_from,        ///< signing a message without a From header field (RFC 6376 §5.4)
  bad_option,     ///< a signing option is invalid (empty domain or selector ...)
};
const error_category& category() noexcept;
inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

enum class key_type { rsa, ed25519 };

/// A private signing key.
class private_key {
public:
  private_key();
  ~private_key();
  private_key(private_key&&) noexcept;
  private_key& operator=(private_key&&) noexcept;

  /// Generate a new key: RSA with `bits` (default 2048), or Ed25519.
  [[nodiscard]] static expected<private_key> generate(key_type type, unsigned bits = 2048);
  /// Read a PEM private key: PKCS#8 ("PRIVATE KEY", RSA or Ed25519) or PKCS#1 ("RSA PRIVATE
  /// KEY"). Also accepts dkimpy's Ed25519 form: the base64 of the 32-octet seed on one line.
  [[nodiscard]] static expected<private_key> from_pem(std::string_view pem);

  [[nodiscard]] key_type type() const noexcept { return type_; }
  [[nodiscard]] unsigned bits() const noexcept;
  /// PKCS#8 PEM.
  [[nodiscard]] std::string to_pem() const;
  /// The public half as DNS key data: RSA SubjectPublicKeyInfo DER, Ed25519 the 32 octets.
  [[nodiscard]] std::string public_key_data() const;
  /// "v=DKIM1; k=rsa; p=..." for this key.
  [[nodiscard]] std::string dns_txt() const;

  /// Sign a header hash (RSA: PKCS#1 v1.5 over the digest of `h`; Ed25519: PureEdDSA over the
  /// 32-octet SHA-256 digest, RFC 8463 §3).
  [[nodiscard]] expected<std::string> sign_digest(std::string_view digest, hash_algorithm h) const;

private:
  key_type type_ = key_type::rsa;
  void* pkey_ = nullptr;  // EVP_PKEY* for RSA
  std::string ed_secret_; // libsodium 64-octet secret key for Ed25519
};

/// A public key from a DNS key record, ready to verify.
class public_key {
public:
  public_key();
  ~public_key();
  public_key(public_key&&) noexcept;
  public_key& operator=(public_key&&) noexcept;

  /// From p= data of a key record with k= `type`. Fails with bad_key when unreadable. RSA keys
  /// are read as SubjectPublicKeyInfo or, failing that, as PKCS#1 RSAPublicKey (§3.6.1 p=).
  [[nodiscard]] static expected<public_key> from_dns(key_type type, std::string_view data);

  [[nodiscard]] key_type type() const noexcept { return type_; }
  [[nodiscard]] unsigned bits() const noexcept { return bits_; }
  /// Does `sig` sign `digest` (the header hash with algorithm h)?
  [[nodiscard]] bool verify_digest(std::string_view digest, hash_algorithm h,
                                   std::string_view sig) const;

private:
  key_type type_ = key_type::rsa;
  unsigned bits_ = 0;
  void* pkey_ = nullptr;
  std::string ed_public_;
};

/// Split a TXT value into character-strings of at most 255 octets (RFC 1035 §3.3.14).
[[nodiscard]] std::vector<std::string> split_txt(std::string_view value, std::size_t max = 255);
/// A zone-file line: `<selector>._domainkey IN TXT ( "..." "..." )`.
[[nodiscard]] std::string zone_line(std::string_view selector, std::string_view txt_value);

/// Selector rotation. A selector names a key; rotating publishes a new selector's key, signs with
/// it once it is visible in DNS, and removes the old one after messages in flight have been
/// verified (a week is usual).
/// selector_for(2025-03-10, "mk") -> "mk202503": one selector per month, sortable.
[[nodiscard]] std::string selector_for(std::chrono::system_clock::time_point when,
                                       std::string_view prefix = "mk");
struct rotation_plan {
  std::string new_selector;
  std::string new_private_pem;
  std::string new_txt;      ///< publish at new_selector._domainkey.<domain>
  std::string old_selector; ///< keep publishing until `retire_old_after`
  std::chrono::system_clock::time_point switch_after;     ///< DNS TTL passed: sign with the new
  std::chrono::system_clock::time_point retire_old_after; ///< remove the old record
};
[[nodiscard]] expected<rotation_plan>
plan_rotation(std::string_view old_selector, std::chrono::system_clock::time_point now,
              key_type type = key_type::rsa, std::chrono::seconds dns_ttl = std::chrono::hours(1),
              std::chrono::seconds overlap = std::chrono::hours(24 * 7),
              std::string_view prefix = "mk");

} // namespace mailkit::dkim

template <>
struct boost::system::is_error_code_enum<mailkit::dkim::errc> : std::true_type {};
