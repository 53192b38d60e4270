// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the structure-cache record reader: hostile bytes never crash it, whatever it
// accepts serializes back to the same bytes, and a structure computed from the input as a
// message round-trips exactly.
#include "fuzz_support.hpp"

#include <mailkit/mime/message.hpp>
#include <mailkit/store/structure.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  mailkit::store::structure_limits lim;
  lim.max_string = 1 << 16;
  auto s = mailkit::store::deserialize(in, lim);
  if (s) {
    MAILKIT_FUZZ_CHECK(!s->parts.empty());
    MAILKIT_FUZZ_CHECK(mailkit::store::serialize(*s) == in);
  }
  mailkit::mime::limits ml;
  ml.max_parts = 200;
  if (auto m = mailkit::mime::parse(in, ml)) {
    auto computed = mailkit::store::compute_structure(*m);
    auto back = mailkit::store::deserialize(mailkit::store::serialize(computed));
    MAILKIT_FUZZ_CHECK(back && *back == computed);
  }
  return 0;
}
