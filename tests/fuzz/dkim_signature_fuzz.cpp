// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the DKIM-Signature field parser (RFC 6376 §3.5), the tag-list parser (§3.2),
// b= removal (§3.7) and the Authentication-Results parser (RFC 8601).
//
// Invariants: a parse either yields a signature or a non-empty reason, never both; a parsed
// signature obeys what parse_signature promises (v=1, From in h=, i= within d=, x >= t, non-empty
// b/bh, h= bounded); tag values point into the input; remove_b_value never grows the field and
// leaves a field that still parses to the same tag names; the A-R parser never crashes.
#include "fuzz_support.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/auth_results.hpp>
#include <mailkit/dkim/signature.hpp>
#include <mailkit/dkim/tag_list.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::dkim;
  const std::string_view in = mailkit::fuzz::as_view(data, size);

  std::vector<tag> tags;
  const std::string err = parse_tag_list(in, tags);
  if (err.empty()) {
    for (const tag& t : tags) {
      MAILKIT_FUZZ_CHECK(mailkit::fuzz::within(t.name, in));
      MAILKIT_FUZZ_CHECK(mailkit::fuzz::within(t.value, in));
      MAILKIT_FUZZ_CHECK(t.value_begin <= t.value_end && t.value_end <= in.size());
      MAILKIT_FUZZ_CHECK(!t.name.empty());
    }
  }

  const signature_parse p = parse_signature(in);
  MAILKIT_FUZZ_CHECK(p.sig.has_value() == p.error.empty());
  if (p.sig) {
    const signature& s = *p.sig;
    MAILKIT_FUZZ_CHECK(s.version == 1);
    MAILKIT_FUZZ_CHECK(!s.b.empty() && !s.bh.empty() && !s.d.empty() && !s.s.empty());
    MAILKIT_FUZZ_CHECK(!s.h.empty() && s.h.size() <= max_signed_headers);
    MAILKIT_FUZZ_CHECK(std::any_of(
        s.h.begin(), s.h.end(), [](const std::string& n) { return mailkit::iequals(n, "from"); }));
    MAILKIT_FUZZ_CHECK(s.i.find('@') != std::string::npos);
    if (s.t && s.x) MAILKIT_FUZZ_CHECK(*s.x >= *s.t);
    MAILKIT_FUZZ_CHECK(!s.key_name().empty());
  }

  const std::string without_b = remove_b_value(in);
  MAILKIT_FUZZ_CHECK(without_b.size() <= in.size());
  if (err.empty()) {
    std::vector<tag> again;
    MAILKIT_FUZZ_CHECK(parse_tag_list(without_b, again).empty());
    MAILKIT_FUZZ_CHECK(again.size() == tags.size());
  }

  (void)parse_authentication_results(in);
  return 0;
}
