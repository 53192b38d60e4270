// SPDX-License-Identifier: Apache-2.0
// Fuzz target for dmarc::parse_record (RFC 7489 §6.3, §6.4): any bytes give a record or an
// error, never a crash; a record's values stay within their grammar (pct 0-100, a policy for p,
// at least one fo and rf value); only records that select themselves (v=DMARC1 first) parse.
#include "fuzz_support.hpp"

#include <mailkit/dmarc/record.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const bool selects = mailkit::dmarc::is_dmarc_record(in);
  const auto rec = mailkit::dmarc::parse_record(in);
  if (!rec) {
    MAILKIT_FUZZ_CHECK(!rec.error().empty());
    return 0;
  }
  MAILKIT_FUZZ_CHECK(selects);
  MAILKIT_FUZZ_CHECK(rec->pct <= 100);
  MAILKIT_FUZZ_CHECK(!rec->fo.empty() && !rec->rf.empty());
  MAILKIT_FUZZ_CHECK(!rec->tags.empty() && rec->tags.front().first == "v");
  MAILKIT_FUZZ_CHECK(!rec->p_from_rua || !rec->rua.empty());
  for (const auto& u : rec->rua)
    MAILKIT_FUZZ_CHECK(u.uri.find(':') != std::string::npos);
  return 0;
}
