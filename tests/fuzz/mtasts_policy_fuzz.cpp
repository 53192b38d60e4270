// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the MTA-STS parsers (RFC 8461 §3.1 TXT record, §3.2 policy body): any bytes
// give a value or an error, never a crash; a parsed policy keeps the limits of §3.2 (max_age at
// most 31557600, mx patterns only outside mode none being optional) and survives a round trip
// through to_text(); MX matching is total.
#include "fuzz_support.hpp"

#include <mailkit/mtasts/mtasts.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace m = mailkit::mtasts;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);

  if (const auto rec = m::parse_txt_record(in)) {
    // RFC 8461 §3.1: id is 1-32 alphanumerics.
    MAILKIT_FUZZ_CHECK(!rec->id.empty() && rec->id.size() <= 32);
  }
  (void)m::select_txt_record({std::string(in), std::string(in)});
  (void)m::is_text_plain(in);

  const auto p = m::parse_policy(in);
  if (p) {
    MAILKIT_FUZZ_CHECK(p->max_age <= m::max_age_limit);
    MAILKIT_FUZZ_CHECK(p->policy_mode == m::mode::none || !p->mx.empty());
    const auto again = m::parse_policy(p->to_text());
    MAILKIT_FUZZ_CHECK(again);
    MAILKIT_FUZZ_CHECK(again->policy_mode == p->policy_mode && again->mx == p->mx &&
                       again->max_age == p->max_age);
    // Every pattern matches a host made from it (the wildcard replaced by one label).
    for (const auto& pattern : p->mx) {
      const std::string host = pattern.rfind("*.", 0) == 0 ? "x" + pattern.substr(1) : pattern;
      MAILKIT_FUZZ_CHECK(p->matches(host));
    }
  }
  // The input split at its first newline as (pattern, host).
  const auto nl = in.find('\n');
  if (nl != std::string_view::npos) (void)m::mx_matches(in.substr(0, nl), in.substr(nl + 1));
  return 0;
}
