// SPDX-License-Identifier: Apache-2.0
// Fuzz target for mailkit::mime::parse_received (RFC 5321 §4.4 trace fields as real MTAs write
// them). Any bytes must parse or give nullopt without a crash; a date, when one is read, has
// fields in range; an address-literal host carries no brackets.
#include "fuzz_support.hpp"

#include <mailkit/mime/received.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

namespace mime = mailkit::mime;

void check_host(const std::optional<mime::received_host>& h) {
  if (!h || h->type == mime::received_host::kind::name) return;
  MAILKIT_FUZZ_CHECK(!h->value.empty());
  MAILKIT_FUZZ_CHECK(h->value.find_first_of("[]") == std::string::npos);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const auto r = mime::parse_received(in);
  if (!r) return 0;
  check_host(r->from);
  check_host(r->helo);
  check_host(r->by);
  if (r->date) {
    MAILKIT_FUZZ_CHECK(r->date->month >= 1 && r->date->month <= 12);
    MAILKIT_FUZZ_CHECK(r->date->day >= 1 && r->date->day <= 31);
    (void)r->date->to_unix();
  }
  // Parsing is a pure function of the bytes.
  const auto again = mime::parse_received(in);
  MAILKIT_FUZZ_CHECK(again.has_value());
  MAILKIT_FUZZ_CHECK(again->from == r->from && again->by == r->by && again->id == r->id &&
                     again->for_ == r->for_ && again->with == r->with);
  return 0;
}
