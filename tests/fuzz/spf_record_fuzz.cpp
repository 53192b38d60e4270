// SPDX-License-Identifier: Apache-2.0
// Fuzz target for spf::parse_record (RFC 7208 §4.5, §12): any bytes give a record or a syntax
// error, never a crash; every view points into the input; a parsed record obeys the limits its
// grammar sets (CIDR lengths, at most one redirect= and exp=).
#include "fuzz_support.hpp"

#include <mailkit/spf/record.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  (void)mailkit::spf::is_valid_domain_spec(in);
  const auto rec = mailkit::spf::parse_record(in);
  if (!rec) {
    MAILKIT_FUZZ_CHECK(!rec.error().message.empty());
    MAILKIT_FUZZ_CHECK(inside(rec.error().term, in));
    return 0;
  }
  MAILKIT_FUZZ_CHECK(mailkit::spf::is_spf_record(in));
  for (const auto& m : rec->mechanisms) {
    MAILKIT_FUZZ_CHECK(inside(m.text, in) && inside(m.domain_spec, in));
    MAILKIT_FUZZ_CHECK(m.cidr4 <= 32 && m.cidr6 <= 128);
    if (!m.domain_spec.empty())
      MAILKIT_FUZZ_CHECK(mailkit::spf::is_valid_domain_spec(m.domain_spec));
  }
  if (rec->redirect) MAILKIT_FUZZ_CHECK(inside(*rec->redirect, in));
  if (rec->exp) MAILKIT_FUZZ_CHECK(inside(*rec->exp, in));
  // Parsing is deterministic.
  const auto again = mailkit::spf::parse_record(in);
  MAILKIT_FUZZ_CHECK(again && again->mechanisms.size() == rec->mechanisms.size());
  return 0;
}
