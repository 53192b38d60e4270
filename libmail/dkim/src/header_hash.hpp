// SPDX-License-Identifier: Apache-2.0
// Shared by signer and verifier: the header hash input (RFC 6376 §3.7, §5.4.2).
#pragma once

#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/canonicalization.hpp>
#include <mailkit/dkim/message.hpp>

#include <string>
#include <vector>

namespace mailkit::dkim::detail {

/// Append the canonical selected header fields to `out`. RFC 6376 §5.4.2: each name in h= takes
/// the last not-yet-used instance of that field, working upwards; a name with no instance left
/// contributes nothing (§3.5 h=, §5.4 "nonexistent header field").
/// `skip` is the index of a field never to select (the signature being verified: a
/// DKIM-Signature listed in its own h= must not select itself, RFC 6376 §3.5 h=).
inline void append_selected(const std::vector<header_field>& fields,
                            const std::vector<std::string>& names, canonicalization c,
                            std::string& out, std::size_t skip = static_cast<std::size_t>(-1)) {
  // used[i]: field i was selected already. Headers are small (tens of fields), so a linear
  // search from the bottom beats building an index.
  std::vector<char> used(fields.size(), 0);
  for (const auto& n : names) {
    for (std::size_t i = fields.size(); i-- > 0;) {
      if (used[i] || i == skip || !iequals(fields[i].name, n)) continue;
      used[i] = 1;
      canonicalize_header(fields[i].raw, c, out);
      break;
    }
  }
}

/// Does `s` contain a LF not preceded by CR?
inline bool has_bare_lf(std::string_view s) noexcept {
  for (std::size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1))
    if (i == 0 || s[i - 1] != '\r') return true;
  return false;
}

} // namespace mailkit::dkim::detail
