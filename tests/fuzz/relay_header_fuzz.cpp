// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: what the relay reads from messages and replies: the header From addresses
// (approved-sender checks, DKIM domain), quota reply recognition and DKIM record patterns.
#include "fuzz_support.hpp"

#include <mailkit/relay/preset.hpp>
#include <mailkit/relay/relay.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::relay;
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const auto from = header_from_addresses(in);
  for (const auto& a : from) {
    MAILKIT_FUZZ_CHECK(!a.empty());
    // A well-formed address (one "@" between a local part and a domain) approves itself; one
    // without "@" (a broken From such as "<example.org>") has no domain and is never approved:
    // the relay would refuse it too. Other shapes only must not crash.
    const auto at = a.find('@');
    const bool well_formed = at != std::string::npos && at > 0 && at + 1 < a.size() &&
                             a.find('@', at + 1) == std::string::npos;
    if (well_formed) MAILKIT_FUZZ_CHECK(sender_approved(a, {a}));
    if (at == std::string::npos) MAILKIT_FUZZ_CHECK(!sender_approved(a, {a}));
    MAILKIT_FUZZ_CHECK(!sender_approved(a, {}));
  }
  (void)is_quota_reply(in, {"maximum messages sent per day"});
  const std::string e = expand_dkim_record(in, "sel", "example.org", "tok");
  MAILKIT_FUZZ_CHECK(e.size() <= in.size() * 12 + 16);
  (void)find_preset(in);
  return 0;
}
