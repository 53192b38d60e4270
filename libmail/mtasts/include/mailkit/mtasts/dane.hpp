// SPDX-License-Identifier: Apache-2.0
/// @file dane.hpp
/// The DANE half that needs DNS: TLSA records of an MX host, believed only when the validating
/// resolver set the AD bit. Matching is in tls/dane.hpp; the precedence of DANE over MTA-STS is
/// in mtasts::decide().
///
/// **Standards**: RFC 7672 §2.2 (TLSA lookup for SMTP: `_25._tcp.<mx host>`, secure answers
/// only; a failed lookup defers delivery), §3.1.3 (usable records), RFC 4035 §3.2.3 (AD bit),
/// RFC 6698 §1.3 (the path to the validating resolver must be trusted: a loopback unbound).
///
/// **Security**: records come from DNS; without the AD bit they are ignored entirely (an
/// attacker could forge them). Lookups are blocking (dns::query): run on a worker thread.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/mtasts/mtasts.hpp>
#include <mailkit/tls/dane.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mtasts {

struct tlsa_lookup {
  dane_state state = dane_state::none;
  std::string base_domain; ///< the TLSA base domain (the MX host, after CNAMEs: RFC 7672 §2.2.3)
  std::vector<tls::dane::tlsa_record> records; ///< the usable ones (state == usable)
};

/// Look up `_<port>._tcp.<mx_host>` TLSA (RFC 7672 §2.2). NXDOMAIN, NODATA or an answer without
/// the AD bit: state none. Authenticated records of which none is usable: state unusable.
/// A DNS failure (SERVFAIL from a validating resolver may mean a bogus answer) is an error: RFC
/// 7672 §2.2.1 says to defer delivery, not to go on without DANE.
[[nodiscard]] expected<tlsa_lookup> lookup_tlsa(dns::resolver& r, std::string_view mx_host,
                                                std::uint16_t port = 25);

} // namespace mailkit::mtasts
