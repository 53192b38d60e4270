// SPDX-License-Identifier: Apache-2.0
/// @file key_record.hpp
/// DKIM key records in DNS (RFC 6376 §3.6.1): v, h, k, n, p, s, t. Pure syntax; the key bytes
/// are turned into a usable key by keys.hpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

struct key_record {
  std::string k = "rsa";           ///< k=, key type ("rsa", "ed25519"), lower case
  std::vector<std::string> h;      ///< h=, acceptable hashes; empty = all
  std::vector<std::string> s{"*"}; ///< s=, service types
  std::vector<std::string> t;      ///< t=, flags
  std::string n;                   ///< n=, notes
  std::string p;                   ///< p=, decoded key data; empty = revoked
  bool revoked = false;            ///< p= present but empty (§3.6.1)

  [[nodiscard]] bool testing() const noexcept; ///< t=y
  [[nodiscard]] bool strict() const noexcept;  ///< t=s: i= domain must equal d=
  [[nodiscard]] bool allows_hash(std::string_view hash) const noexcept;
  [[nodiscard]] bool allows_email() const noexcept; ///< s= contains "*" or "email"
};

struct key_record_parse {
  bool ok = false;
  key_record key;
  std::string error;
};

/// Parse a key record (the TXT strings already concatenated, RFC 6376 §3.6.2.2).
[[nodiscard]] key_record_parse parse_key_record(std::string_view text);

} // namespace mailkit::dkim
