// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: SMTP command syntax (command.hpp): command lines, MAIL/RCPT paths with
// parameters under every flag combination, xtext, NOTIFY and ORCPT.
#include "fuzz_support.hpp"

#include <mailkit/smtp/command.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::smtp;
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const server_limits limits;
  const command_line c = parse_command_line(in);
  MAILKIT_FUZZ_CHECK(c.argument.size() <= in.size());
  for (int flags = 0; flags < 8; ++flags) {
    const auto p = parse_path_argument(c.argument, limits, flags & 1, flags & 2, flags & 4);
    if (p.error == path_error::none && p.address) {
      // A parsed mailbox respects the RFC 5321 §4.5.3.1 limits and is UTF-8 only if allowed.
      MAILKIT_FUZZ_CHECK(p.address->local_part.size() <= limits.max_local_part ||
                         p.address->domain.empty());
      MAILKIT_FUZZ_CHECK(p.address->domain.size() <= limits.max_domain);
      MAILKIT_FUZZ_CHECK(!p.address->utf8 || (flags & 1));
      MAILKIT_FUZZ_CHECK(is_valid_utf8(p.address->to_string()));
    }
    if (p.error == path_error::none && !p.address) MAILKIT_FUZZ_CHECK(flags & 2);
    for (const auto& prm : p.params) {
      MAILKIT_FUZZ_CHECK(!prm.keyword.empty());
      if (prm.value) {
        (void)parse_notify(*prm.value);
        if (auto o = parse_orcpt(*prm.value, limits.max_orcpt))
          MAILKIT_FUZZ_CHECK(o->address.size() <= limits.max_orcpt);
      }
    }
  }
  if (auto x = decode_xtext(in)) MAILKIT_FUZZ_CHECK(x->size() <= in.size());
  // encode/decode round trip for any bytes.
  MAILKIT_FUZZ_CHECK(decode_xtext(encode_xtext(in)) == std::string(in));
  (void)is_valid_domain(in, true, limits.max_domain);
  (void)is_valid_address_literal(in);
  return 0;
}
