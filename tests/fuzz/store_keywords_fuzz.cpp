// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the dovecot-keywords and dovecot-uidlist readers: bounded output, every
// keyword is a valid IMAP keyword atom, every UID is non-zero.
#include "fuzz_support.hpp"

#include <mailkit/store/flags.hpp>
#include <mailkit/store/maildir.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  auto kw = mailkit::store::parse_dovecot_keywords(in);
  for (const auto& k : kw) {
    if (k.empty()) continue;
    mailkit::store::flag_set f;
    MAILKIT_FUZZ_CHECK(k.front() != '\\' && f.add(k));
    MAILKIT_FUZZ_CHECK(k.size() <= mailkit::store::max_keyword_length);
  }
  auto ul = mailkit::store::parse_dovecot_uidlist(in);
  if (ul) {
    for (const auto& [name, uid] : ul->uids) {
      MAILKIT_FUZZ_CHECK(uid != 0);
      MAILKIT_FUZZ_CHECK(!name.empty() && name.find(':') == std::string::npos);
    }
  }
  return 0;
}
