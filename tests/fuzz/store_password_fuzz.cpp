// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the password-hash scheme reader (and the mailbox-name rules and modified
// UTF-7, which read the same kind of untrusted imported strings): no crash, parsed hashes point
// into the input, names that validate are stable, UTF-7 round-trips.
#include "fuzz_support.hpp"

#include <mailkit/store/mailbox_name.hpp>
#include <mailkit/store/password.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  if (auto p = mailkit::store::parse_password_hash(in)) {
    MAILKIT_FUZZ_CHECK(p->hash.data() >= in.data() &&
                       p->hash.data() + p->hash.size() <= in.data() + in.size());
    MAILKIT_FUZZ_CHECK(p->hash.front() == '$');
    // crypt(3) on garbage settings must fail cleanly, not crash; Argon2 strings are checked
    // by libsodium. Only cheap schemes are run to keep the fuzzer fast.
    if (p->scheme == mailkit::store::hash_scheme::sha256_crypt ||
        p->scheme == mailkit::store::hash_scheme::md5_crypt) {
      if (p->hash.find("rounds=") == std::string_view::npos)
        (void)mailkit::store::verify_password("x", in);
    }
  }
  if (auto n = mailkit::store::normalize_mailbox_name(in)) {
    auto again = mailkit::store::normalize_mailbox_name(*n);
    MAILKIT_FUZZ_CHECK(again && *again == *n);
    auto enc = mailkit::store::encode_mutf7(*n);
    auto dec = mailkit::store::decode_mutf7(enc);
    MAILKIT_FUZZ_CHECK(dec && *dec == *n);
  }
  if (auto d = mailkit::store::decode_mutf7(in)) MAILKIT_FUZZ_CHECK(d->size() <= in.size() * 4);
  return 0;
}
