// SPDX-License-Identifier: Apache-2.0
// Fuzz target for DKIM key records (RFC 6376 §3.6.1) and the public keys they carry: the text is
// parsed as a record; its p= bytes, and the raw input too, are offered to the RSA (DER
// SubjectPublicKeyInfo / PKCS#1) and Ed25519 readers, and a read key is asked to verify a
// signature, which must never succeed for random bytes against a fixed digest.
#include "fuzz_support.hpp"

#include <mailkit/dkim/key_record.hpp>
#include <mailkit/dkim/keys.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::dkim;
  const std::string_view in = mailkit::fuzz::as_view(data, size);

  const key_record_parse r = parse_key_record(in);
  MAILKIT_FUZZ_CHECK(r.ok == r.error.empty());
  if (r.ok) {
    MAILKIT_FUZZ_CHECK(!r.key.revoked || r.key.p.empty());
    (void)r.key.testing();
    (void)r.key.strict();
    (void)r.key.allows_email();
    (void)r.key.allows_hash("sha256");
  }
  const std::string digest(32, '\x11');
  const std::string sig = std::string(in.substr(0, 64));
  for (auto type : {key_type::rsa, key_type::ed25519}) {
    for (std::string_view bytes : {std::string_view(r.key.p), in}) {
      auto k = public_key::from_dns(type, bytes);
      if (!k) continue;
      MAILKIT_FUZZ_CHECK(k->bits() > 0);
      // A forgery from the input's own bytes must not verify (2^-128 chance aside).
      if (type == key_type::ed25519 || k->bits() <= 4096)
        MAILKIT_FUZZ_CHECK(!k->verify_digest(digest, hash_algorithm::sha256, sig) ||
                           sig.size() < 64);
    }
  }
  return 0;
}
