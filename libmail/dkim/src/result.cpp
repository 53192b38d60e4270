// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/result.hpp>

namespace mailkit::dkim {

std::string_view to_string(result r) noexcept {
  switch (r) {
  case result::none:
    return "none";
  case result::pass:
    return "pass";
  case result::fail:
    return "fail";
  case result::policy:
    return "policy";
  case result::neutral:
    return "neutral";
  case result::temperror:
    return "temperror";
  case result::permerror:
    return "permerror";
  }
  return "none";
}

std::optional<result> parse_result(std::string_view s) noexcept {
  for (auto r : {result::none, result::pass, result::fail, result::policy, result::neutral,
                 result::temperror, result::permerror})
    if (iequals(s, to_string(r))) return r;
  return std::nullopt;
}

std::string_view to_string(canonicalization c) noexcept {
  return c == canonicalization::simple ? "simple" : "relaxed";
}

std::string_view to_string(algorithm a) noexcept {
  switch (a) {
  case algorithm::rsa_sha1:
    return "rsa-sha1";
  case algorithm::rsa_sha256:
    return "rsa-sha256";
  case algorithm::ed25519_sha256:
    return "ed25519-sha256";
  }
  return "rsa-sha256";
}

std::optional<algorithm> parse_algorithm(std::string_view s) noexcept {
  // RFC 6376 §3.5 a=: the value is matched case-insensitively by common practice.
  for (auto a : {algorithm::rsa_sha1, algorithm::rsa_sha256, algorithm::ed25519_sha256})
    if (iequals(s, to_string(a))) return a;
  return std::nullopt;
}

} // namespace mailkit::dkim
