// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the Maildir file-name reader: never fails, the base is a prefix of the input,
// and flags written back by maildir_info() read the same.
#include "fuzz_support.hpp"

#include <mailkit/store/maildir.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  auto n = mailkit::store::parse_maildir_name(in);
  MAILKIT_FUZZ_CHECK(in.substr(0, n.base.size()) == n.base);
  MAILKIT_FUZZ_CHECK(n.system <= 31);
  std::string letters;
  for (int i = 0; i < 26; ++i)
    if (n.keyword_letters & (1u << i)) letters += static_cast<char>('a' + i);
  auto again =
      mailkit::store::parse_maildir_name("x" + mailkit::store::maildir_info(n.system, letters));
  MAILKIT_FUZZ_CHECK(again.system == n.system);
  MAILKIT_FUZZ_CHECK(again.keyword_letters == n.keyword_letters);
  return 0;
}
