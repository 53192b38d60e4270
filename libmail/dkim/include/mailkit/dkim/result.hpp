// SPDX-License-Identifier: Apache-2.0
/// @file result.hpp
/// DKIM verification outcomes, named as RFC 8601 §2.7.1 names them for the "dkim" method.
#pragma once

#include <optional>
#include <string_view>

namespace mailkit::dkim {

/// RFC 8601 §2.7.1 result values of the dkim method.
enum class result {
  none,      ///< the message was not signed
  pass,      ///< the signature verified
  fail,      ///< the signature or the body hash did not verify
  policy,    ///< the signature verified but is not acceptable to local policy
  neutral,   ///< signed, but the signature could not be evaluated for another reason
  temperror, ///< a transient failure, typically DNS, stopped the evaluation: try later
  permerror, ///< the signature cannot be evaluated: bad syntax, no or unusable key, expired ...
};

[[nodiscard]] std::string_view to_string(result r) noexcept;
[[nodiscard]] std::optional<result> parse_result(std::string_view s) noexcept;

/// Header and body canonicalization algorithms (RFC 6376 §3.4).
enum class canonicalization { simple, relaxed };
[[nodiscard]] std::string_view to_string(canonicalization c) noexcept;

/// Signing algorithms (RFC 6376 §3.3, RFC 8463 §3).
enum class algorithm {
  rsa_sha1,      ///< RFC 6376 §3.3.1; RFC 8301 §3.1 forbids it: verified only when enabled, weak
  rsa_sha256,    ///< RFC 6376 §3.3.2
  ed25519_sha256 ///< RFC 8463 §3
};
[[nodiscard]] std::string_view to_string(algorithm a) noexcept;
[[nodiscard]] std::optional<algorithm> parse_algorithm(std::string_view s) noexcept;

/// The digests DKIM uses for body and header hashes.
enum class hash_algorithm { sha1, sha256 };
[[nodiscard]] constexpr hash_algorithm hash_of(algorithm a) noexcept {
  return a == algorithm::rsa_sha1 ? hash_algorithm::sha1 : hash_algorithm::sha256;
}

} // namespace mailkit::dkim
