// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the Dovecot passwd-file reader (HestiaCP's per-domain passwd): no crash,
// users and hashes are non-empty views into the input without ':' or a line break, the entry
// count stays within the limit, and each hash goes through the scheme reader as import does.
#include "fuzz_support.hpp"

#include <mailkit/store/maildir.hpp>
#include <mailkit/store/password.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  auto inside = [&](std::string_view v) {
    return v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size();
  };
  auto file = mailkit::store::parse_dovecot_passwd(in);
  if (!file) return 0;
  MAILKIT_FUZZ_CHECK(file->entries.size() <= mailkit::store::max_passwd_entries);
  for (const auto& e : file->entries) {
    MAILKIT_FUZZ_CHECK(!e.user.empty() && !e.hash.empty());
    MAILKIT_FUZZ_CHECK(inside(e.user) && inside(e.hash));
    MAILKIT_FUZZ_CHECK(e.user.find_first_of(":\n") == std::string_view::npos);
    MAILKIT_FUZZ_CHECK(e.hash.find_first_of(":\n") == std::string_view::npos);
    MAILKIT_FUZZ_CHECK(e.user.size() <= mailkit::store::max_passwd_line);
    (void)mailkit::store::parse_password_hash(e.hash);
  }
  return 0;
}
