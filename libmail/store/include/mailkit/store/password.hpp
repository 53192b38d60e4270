// SPDX-License-Identifier: Apache-2.0
/// @file password.hpp
/// Password hashing for accounts: new passwords are hashed with Argon2id (libsodium
/// crypto_pwhash_str, a PHC string); hashes imported from Dovecot ({SHA512-CRYPT},
/// {SHA256-CRYPT}, {BLF-CRYPT}, {ARGON2ID}, {ARGON2I}) are verified so users keep their
/// passwords after a migration, and reported as needing a rehash to Argon2id.
/// HestiaCP writes "{MD5}$1$salt$hash", which Dovecot reads as MD5-CRYPT: that form (and
/// {MD5-CRYPT}) is verified too, and always needs a rehash.
/// Plaintext and unsalted schemes ({PLAIN}, {CLEAR}, {PLAIN-MD5}, {SHA}, {MD5} ...) are refused
/// with errc::unsupported_scheme: storing them would keep a recoverable password on disk.
///
/// **Standards**: Dovecot password scheme prefixes; crypt(3) formats $5$, $6$, $2y$/$2b$/$2a$;
/// the Argon2 PHC string format (RFC 9106 for the algorithm).
/// **Security**: handles secrets. Comparisons are constant time; hashes are never logged.
#pragma once

#include <mailkit/core/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace mailkit::store {

enum class hash_scheme { argon2id, argon2i, sha512_crypt, sha256_crypt, blf_crypt, md5_crypt };
[[nodiscard]] std::string_view to_string(hash_scheme s) noexcept;

/// A stored hash split into its scheme and the crypt/PHC string.
struct parsed_hash {
  hash_scheme scheme;
  std::string_view hash; ///< points into the input: "$6$salt$..." or "$argon2id$..."
};

/// Read "{SCHEME}hash" (Dovecot form) or a bare "$6$...", "$argon2id$..." string.
/// Fails with errc::unsupported_scheme for refused or unknown schemes, errc::invalid_argument for
/// a hash whose body does not match its scheme's format.
[[nodiscard]] expected<parsed_hash> parse_password_hash(std::string_view stored);

/// Argon2id cost. The defaults are libsodium's "interactive" level; tests lower them.
struct password_policy {
  std::uint64_t opslimit = 2;
  std::size_t memlimit = 64u << 20;
};

/// Hash a new password (Argon2id PHC string without a Dovecot prefix).
[[nodiscard]] expected<std::string> hash_password(std::string_view password,
                                                  const password_policy& policy = {});

struct verify_result {
  bool ok = false;
  bool needs_rehash = false; ///< verified, but not Argon2id at the policy's cost
};

/// Check a password against a stored hash of any supported scheme.
[[nodiscard]] expected<verify_result> verify_password(std::string_view password,
                                                      std::string_view stored,
                                                      const password_policy& policy = {});

} // namespace mailkit::store
