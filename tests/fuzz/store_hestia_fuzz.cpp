// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the HestiaCP readers of `mailkit import hestia`: the Exim aliases file and
// KEY='value' conf lines. No crash; every alias has a source in the domain (or the catch-all)
// and at least one target, targets are non-empty and free of separators, white space and control
// characters, and a conf value never contains a line break.
#include "fuzz_support.hpp"

#include <mailkit/store/import_hestia.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const auto parsed = mailkit::store::parse_hestia_aliases(in, "example.com");
  for (const auto& a : parsed.aliases) {
    MAILKIT_FUZZ_CHECK(!a.targets.empty());
    const auto at = a.source.rfind('@');
    MAILKIT_FUZZ_CHECK(at != std::string::npos && a.source.substr(at + 1) == "example.com");
    for (const auto& t : a.targets) {
      MAILKIT_FUZZ_CHECK(!t.empty());
      MAILKIT_FUZZ_CHECK(t.find_first_of(", \t\r\n") == std::string::npos);
    }
  }
  for (const std::string_view key : {"DOMAIN", "DKIM_SELECTOR", "ACCOUNT"}) {
    const auto first_line = in.substr(0, in.find('\n'));
    const std::string v = mailkit::store::hestia_conf_value(first_line, key);
    MAILKIT_FUZZ_CHECK(v.find('\n') == std::string::npos);
  }
  return 0;
}
