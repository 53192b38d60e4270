// SPDX-License-Identifier: Apache-2.0
/// @file org_domain.hpp
/// Organizational domains (RFC 7489 §3.2) from the Public Suffix List, read by libpsl from
/// Debian's `publicsuffix` package (the newest of libpsl's built-in data and
/// /usr/share/publicsuffix, via psl_latest), loaded once per process.
///
/// **Standards**: RFC 7489 §3.2; the PSL algorithm (publicsuffix.org/list).
/// **Security**: reads one system file at first use; input names come from message headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailkit::dmarc {

/// The registrable domain of `domain` (public suffix + one label), lower case; nullopt when
/// `domain` is itself a public suffix, empty, or malformed (empty labels). Accepts A-labels and
/// U-labels (UTF-8); the answer keeps the input's form.
[[nodiscard]] std::optional<std::string> registrable_domain(std::string_view domain);

/// RFC 7489 §3.2 organizational domain: the registrable domain, or the (lower-cased) domain
/// itself when it has none (a public suffix, a single label). A trailing dot is ignored.
[[nodiscard]] std::string organizational_domain(std::string_view domain);

/// Which list is in use (the path, or "builtin"); empty when none could be loaded, in which
/// case the last two labels are used (a degradation that never happens with `publicsuffix`).
[[nodiscard]] std::string psl_source();

} // namespace mailkit::dmarc
