// SPDX-License-Identifier: Apache-2.0
#include <mailkit/store/error.hpp>
#include <mailkit/store/password.hpp>

#include <crypt.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>

namespace mailkit::store {
namespace {

bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = char(c - 32);
  return out;
}

bool crypt_charset(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/' || c == '$' || c == '=' || c == ',' || c == '+' || c == '-';
  });
}

// Which scheme a bare crypt/PHC string is, from its prefix.
std::optional<hash_scheme> scheme_of_body(std::string_view h) {
  if (h.starts_with("$argon2id$")) return hash_scheme::argon2id;
  if (h.starts_with("$argon2i$")) return hash_scheme::argon2i;
  if (h.starts_with("$6$")) return hash_scheme::sha512_crypt;
  if (h.starts_with("$5$")) return hash_scheme::sha256_crypt;
  if (h.starts_with("$2y$") || h.starts_with("$2b$") || h.starts_with("$2a$"))
    return hash_scheme::blf_crypt;
  if (h.starts_with("$1$")) return hash_scheme::md5_crypt;
  return std::nullopt;
}

constexpr std::size_t max_hash_length = 512;
constexpr std::size_t max_password_length = 4096;

} // namespace

std::string_view to_string(hash_scheme s) noexcept {
  switch (s) {
  case hash_scheme::argon2id:
    return "ARGON2ID";
  case hash_scheme::argon2i:
    return "ARGON2I";
  case hash_scheme::sha512_crypt:
    return "SHA512-CRYPT";
  case hash_scheme::sha256_crypt:
    return "SHA256-CRYPT";
  case hash_scheme::blf_crypt:
    return "BLF-CRYPT";
  case hash_scheme::md5_crypt:
    return "MD5-CRYPT";
  }
  return "?";
}

expected<parsed_hash> parse_password_hash(std::string_view stored) {
  if (stored.size() > max_hash_length) return fail(errc::invalid_argument);
  std::string_view body = stored;
  std::optional<hash_scheme> named;
  if (stored.starts_with("{")) {
    auto close = stored.find('}');
    if (close == std::string_view::npos || close > 32) return fail(errc::unsupported_scheme);
    auto name = upper(stored.substr(1, close - 1));
    body = stored.substr(close + 1);
    if (name == "ARGON2ID")
      named = hash_scheme::argon2id;
    else if (name == "ARGON2I")
      named = hash_scheme::argon2i;
    else if (name == "SHA512-CRYPT")
      named = hash_scheme::sha512_crypt;
    else if (name == "SHA256-CRYPT")
      named = hash_scheme::sha256_crypt;
    else if (name == "BLF-CRYPT")
      named = hash_scheme::blf_crypt;
    else if (name == "MD5-CRYPT" || name == "MD5")
      // Dovecot's {MD5} is MD5-CRYPT ("$1$"); HestiaCP writes it that way.
      named = hash_scheme::md5_crypt;
    else if (name == "CRYPT")
      named = scheme_of_body(body); // crypt(3) with the algorithm in the prefix
    // Everything else (PLAIN, CLEAR, PLAIN-MD5, SHA, SSHA, CRAM-MD5, NTLM ...) stores the
    // password in the clear or as an unsalted digest: refused rather than carried over.
    if (!named) return fail(errc::unsupported_scheme);
  }
  auto by_body = scheme_of_body(body);
  if (!by_body) return fail(named ? errc::invalid_argument : errc::unsupported_scheme);
  if (named && *named != *by_body) return fail(errc::invalid_argument);
  if (!crypt_charset(body)) return fail(errc::invalid_argument);
  return parsed_hash{*by_body, body};
}

expected<std::string> hash_password(std::string_view password, const password_policy& policy) {
  if (!sodium_ready()) return fail(mailkit::errc::resource_exhausted);
  if (password.size() > max_password_length) return fail(errc::invalid_argument);
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), policy.opslimit,
                            policy.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return fail(mailkit::errc::resource_exhausted); // libsodium fails only when out of memory
  return std::string(out.data());
}

expected<verify_result> verify_password(std::string_view password, std::string_view stored,
                                        const password_policy& policy) {
  if (!sodium_ready()) return fail(mailkit::errc::resource_exhausted);
  auto parsed = parse_password_hash(stored);
  if (!parsed) return make_unexpected(parsed.error());
  if (password.size() > max_password_length) return verify_result{};
  std::string hash(parsed->hash); // NUL-terminated copies for the C APIs
  std::string pw(password);
  if (pw.find('\0') != std::string::npos) return verify_result{};
  verify_result r;
  switch (parsed->scheme) {
  case hash_scheme::argon2id:
    r.ok = crypto_pwhash_argon2id_str_verify(hash.c_str(), pw.data(), pw.size()) == 0;
    r.needs_rehash = r.ok && crypto_pwhash_argon2id_str_needs_rehash(hash.c_str(), policy.opslimit,
                                                                     policy.memlimit) != 0;
    break;
  case hash_scheme::argon2i:
    r.ok = crypto_pwhash_argon2i_str_verify(hash.c_str(), pw.data(), pw.size()) == 0;
    r.needs_rehash = r.ok;
    break;
  default: {
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* out = crypt_r(pw.c_str(), hash.c_str(), data.get());
    // crypt_r returns NULL or a string starting with "*" on failure.
    if (out && out[0] != '*') {
      std::size_t n = std::strlen(out);
      r.ok = n == hash.size() && sodium_memcmp(out, hash.data(), n) == 0;
    }
    r.needs_rehash = r.ok;
    break;
  }
  }
  sodium_memzero(pw.data(), pw.size());
  return r;
}

} // namespace mailkit::store
