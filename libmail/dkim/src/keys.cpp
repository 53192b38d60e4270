// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/keys.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstring>
#include <ctime>

namespace mailkit::dkim {

namespace {

const EVP_MD* fetched_md(hash_algorithm h) {
  static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (h == hash_algorithm::sha1) return sha1 ? sha1 : EVP_sha1();
  return sha256 ? sha256 : EVP_sha256();
}

class dkim_category final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.dkim"; }
  std::string message(int v) const override {
    switch (static_cast<errc>(v)) {
    case errc::ok:
      return "success";
    case errc::bad_key:
      return "the key could not be read or is of an unsupported type";
    case errc::key_generation:
      return "key generation failed";
    case errc::crypto_failure:
      return "the crypto library failed to sign";
    case errc::no_from:
      return "the message has no From header field (RFC 6376 section 5.4)";
    case errc::bad_option:
      return "invalid signing option";
    }
    return "unknown dkim error";
  }
  bool permanent(int v) const noexcept override { return v != 0; }
};

bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

EVP_PKEY* as_pkey(void* p) {
  return static_cast<EVP_PKEY*>(p);
}

} // namespace

const error_category& category() noexcept {
  static const dkim_category c;
  return c;
}

// ---------------------------------------------------------------------------------------------
// private_key

private_key::private_key() = default;
private_key::~private_key() {
  EVP_PKEY_free(as_pkey(pkey_));
  if (!ed_secret_.empty()) sodium_memzero(ed_secret_.data(), ed_secret_.size());
}
private_key::private_key(private_key&& o) noexcept
    : type_(o.type_), pkey_(o.pkey_), ed_secret_(std::move(o.ed_secret_)) {
  o.pkey_ = nullptr;
}
private_key& private_key::operator=(private_key&& o) noexcept {
  std::swap(type_, o.type_);
  std::swap(pkey_, o.pkey_);
  std::swap(ed_secret_, o.ed_secret_);
  return *this;
}

namespace {

expected<private_key> ed25519_from_seed(std::string_view seed, private_key&& k,
                                        std::string& secret) {
  if (seed.size() != crypto_sign_SEEDBYTES || !sodium_ready()) return fail(errc::bad_key);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  secret.assign(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(pk, reinterpret_cast<unsigned char*>(secret.data()),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  return std::move(k);
}

} // namespace

expected<private_key> private_key::generate(key_type type, unsigned bits) {
  private_key k;
  k.type_ = type;
  if (type == key_type::ed25519) {
    if (!sodium_ready()) return fail(errc::key_generation);
    unsigned char seed[crypto_sign_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    std::string& secret = k.ed_secret_;
    auto r = ed25519_from_seed(std::string_view(reinterpret_cast<char*>(seed), sizeof seed),
                               std::move(k), secret);
    sodium_memzero(seed, sizeof seed);
    return r;
  }
  if (bits < 1024 || bits > 8192) return fail(errc::bad_option);
  EVP_PKEY* p = EVP_RSA_gen(bits);
  if (p == nullptr) return fail(errc::key_generation);
  k.pkey_ = p;
  return k;
}

expected<private_key> private_key::from_pem(std::string_view pem) {
  private_key k;
  const std::string_view t = trim(pem);
  if (t.find("-----BEGIN") == std::string_view::npos) {
    // dkimpy's Ed25519 private key file: base64 of the 32-octet seed.
    auto seed = base64::decode(t, base64::mode::ignore_whitespace);
    if (!seed || seed->size() != crypto_sign_SEEDBYTES) return fail(errc::bad_key);
    k.type_ = key_type::ed25519;
    std::string& secret = k.ed_secret_;
    auto r = ed25519_from_seed(*seed, std::move(k), secret);
    sodium_memzero(seed->data(), seed->size());
    return r;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return fail(errc::bad_key);
  EVP_PKEY* p = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (p == nullptr) return fail(errc::bad_key);
  if (EVP_PKEY_is_a(p, "RSA")) {
    k.type_ = key_type::rsa;
    k.pkey_ = p;
    return k;
  }
  if (EVP_PKEY_is_a(p, "ED25519")) {
    unsigned char seed[32];
    std::size_t len = sizeof seed;
    const bool ok = EVP_PKEY_get_raw_private_key(p, seed, &len) == 1 && len == 32;
    EVP_PKEY_free(p);
    if (!ok) return fail(errc::bad_key);
    k.type_ = key_type::ed25519;
    std::string& secret = k.ed_secret_;
    auto r = ed25519_from_seed(std::string_view(reinterpret_cast<char*>(seed), 32), std::move(k),
                               secret);
    sodium_memzero(seed, sizeof seed);
    return r;
  }
  EVP_PKEY_free(p);
  return fail(errc::bad_key);
}

unsigned private_key::bits() const noexcept {
  if (type_ == key_type::ed25519) return 256;
  return pkey_ ? static_cast<unsigned>(EVP_PKEY_get_bits(as_pkey(pkey_))) : 0;
}

std::string private_key::to_pem() const {
  EVP_PKEY* p = as_pkey(pkey_);
  EVP_PKEY* tmp = nullptr;
  if (type_ == key_type::ed25519) {
    // libsodium's secret key is seed || public key.
    tmp = EVP_PKEY_new_raw_private_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(ed_secret_.data()), 32);
    p = tmp;
  }
  std::string out;
  if (p == nullptr) return out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr &&
      PEM_write_bio_PrivateKey(bio, p, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    out.assign(data, static_cast<std::size_t>(len));
  }
  BIO_free(bio);
  EVP_PKEY_free(tmp);
  return out;
}

std::string private_key::public_key_data() const {
  if (type_ == key_type::ed25519) return ed_secret_.substr(32, 32);
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(as_pkey(pkey_), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string private_key::dns_txt() const {
  return std::string("v=DKIM1; k=") + (type_ == key_type::ed25519 ? "ed25519" : "rsa") +
         "; p=" + base64::encode(public_key_data());
}

expected<std::string> private_key::sign_digest(std::string_view dg, hash_algorithm h) const {
  if (type_ == key_type::ed25519) {
    // RFC 8463 §3: Ed25519 (PureEdDSA) signs the SHA-256 hash of the canonicalized headers.
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                         reinterpret_cast<const unsigned char*>(dg.data()), dg.size(),
                         reinterpret_cast<const unsigned char*>(ed_secret_.data()));
    return sig;
  }
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(as_pkey(pkey_), nullptr);
  std::string sig;
  std::size_t len = 0;
  // RFC 6376 §3.3.1/§3.3.2: RSASSA-PKCS1-v1_5 over the hash.
  const bool ok = ctx != nullptr && EVP_PKEY_sign_init(ctx) == 1 &&
                  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_signature_md(ctx, fetched_md(h)) == 1 &&
                  EVP_PKEY_sign(ctx, nullptr, &len,
                                reinterpret_cast<const unsigned char*>(dg.data()), dg.size()) == 1;
  if (ok) {
    sig.resize(len);
    if (EVP_PKEY_sign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                      reinterpret_cast<const unsigned char*>(dg.data()), dg.size()) != 1) {
      EVP_PKEY_CTX_free(ctx);
      return fail(errc::crypto_failure);
    }
    sig.resize(len);
  }
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return fail(errc::crypto_failure);
  return sig;
}

// ---------------------------------------------------------------------------------------------
// public_key

public_key::public_key() = default;
public_key::~public_key() {
  EVP_PKEY_free(as_pkey(pkey_));
}
public_key::public_key(public_key&& o) noexcept
    : type_(o.type_), bits_(o.bits_), pkey_(o.pkey_), ed_public_(std::move(o.ed_public_)) {
  o.pkey_ = nullptr;
}
public_key& public_key::operator=(public_key&& o) noexcept {
  std::swap(type_, o.type_);
  std::swap(bits_, o.bits_);
  std::swap(pkey_, o.pkey_);
  std::swap(ed_public_, o.ed_public_);
  return *this;
}

expected<public_key> public_key::from_dns(key_type type, std::string_view data) {
  public_key k;
  k.type_ = type;
  if (type == key_type::ed25519) {
    // RFC 8463 §4.2: p= is the 32-octet Ed25519 public key, not wrapped in ASN.1.
    if (data.size() != crypto_sign_PUBLICKEYBYTES) return fail(errc::bad_key);
    k.ed_public_ = std::string(data);
    k.bits_ = 256;
    return k;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  EVP_PKEY* pkey = d2i_PUBKEY(nullptr, &p, static_cast<long>(data.size()));
  if (pkey == nullptr || p != reinterpret_cast<const unsigned char*>(data.data()) + data.size()) {
    EVP_PKEY_free(pkey);
    // RFC 6376 §3.6.1 p= describes the PKCS#1 RSAPublicKey; SubjectPublicKeyInfo is what
    // everybody publishes. Accept both.
    p = reinterpret_cast<const unsigned char*>(data.data());
    pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(data.size()));
  }
  if (pkey == nullptr) return fail(errc::bad_key);
  if (!EVP_PKEY_is_a(pkey, "RSA")) {
    EVP_PKEY_free(pkey);
    return fail(errc::bad_key);
  }
  k.pkey_ = pkey;
  k.bits_ = static_cast<unsigned>(EVP_PKEY_get_bits(pkey));
  return k;
}

bool public_key::verify_digest(std::string_view dg, hash_algorithm h, std::string_view sig) const {
  if (type_ == key_type::ed25519) {
    if (sig.size() != crypto_sign_BYTES || !sodium_ready()) return false;
    return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                       reinterpret_cast<const unsigned char*>(dg.data()), dg.size(),
                                       reinterpret_cast<const unsigned char*>(ed_public_.data())) ==
           0;
  }
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(as_pkey(pkey_), nullptr);
  const bool ok =
      ctx != nullptr && EVP_PKEY_verify_init(ctx) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
      EVP_PKEY_CTX_set_signature_md(ctx, fetched_md(h)) == 1 &&
      EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                      reinterpret_cast<const unsigned char*>(dg.data()), dg.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// DNS publication and rotation

std::vector<std::string> split_txt(std::string_view value, std::size_t max) {
  std::vector<std::string> out;
  if (max == 0) max = 255;
  // RFC 1035 §3.3.14 / RFC 6376 §3.6.2.2: a TXT record is a list of strings of at most 255
  // octets each; verifiers concatenate them without separators.
  for (std::size_t pos = 0; pos < value.size(); pos += max)
    out.emplace_back(value.substr(pos, max));
  if (out.empty()) out.emplace_back();
  return out;
}

std::string zone_line(std::string_view selector, std::string_view txt_value) {
  std::string out(selector);
  out += "._domainkey IN TXT (";
  for (const auto& s : split_txt(txt_value)) {
    out += " \"";
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out += "\"";
  }
  out += " )";
  return out;
}

std::string selector_for(std::chrono::system_clock::time_point when, std::string_view prefix) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const int month = tm.tm_mon + 1;
  return std::string(prefix) + std::to_string(tm.tm_year + 1900) + (month < 10 ? "0" : "") +
         std::to_string(month);
}

expected<rotation_plan> plan_rotation(std::string_view old_selector,
                                      std::chrono::system_clock::time_point now, key_type type,
                                      std::chrono::seconds dns_ttl, std::chrono::seconds overlap,
                                      std::string_view prefix) {
  rotation_plan plan;
  plan.old_selector = std::string(old_selector);
  plan.new_selector = selector_for(now, prefix);
  if (plan.new_selector == old_selector) plan.new_selector += "b";
  auto key = private_key::generate(type);
  if (!key) return unexpected(key.error());
  plan.new_private_pem = key->to_pem();
  plan.new_txt = key->dns_txt();
  plan.switch_after = now + 2 * dns_ttl;
  plan.retire_old_after = plan.switch_after + overlap;
  return plan;
}

} // namespace mailkit::dkim
