// SPDX-License-Identifier: Apache-2.0
// Fuzz target for DKIM canonicalization (RFC 6376 §3.4) and message splitting.
//
// The streaming body hasher, fed the input in chunks whose sizes derive from the input, with the
// vector scan and with the portable byte loop, must give the digest of the reference
// canonicalization (canonicalize_body) for simple and relaxed; an l= limit must hash exactly the
// first octets. Every header field the splitter finds lies in the input and canonicalizes
// without growing beyond its bound; relaxed output has no WSP run, no WSP before CRLF.
#include "fuzz_support.hpp"

#include <mailkit/dkim/canonicalization.hpp>
#include <mailkit/dkim/message.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::dkim;
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const std::uint64_t seed = mailkit::fuzz::input_hash(in);

  for (auto c : {canonicalization::simple, canonicalization::relaxed}) {
    const std::string ref = canonicalize_body(in, c);
    digest d(hash_algorithm::sha256);
    d.update(ref);
    const std::string want = d.finish();
    for (bool portable : {false, true}) {
      body_hasher h(c, hash_algorithm::sha256);
      h.force_portable_scan(portable);
      for (std::string_view piece : mailkit::fuzz::split(in, seed + portable))
        h.update(piece);
      MAILKIT_FUZZ_CHECK(h.finish() == want);
      MAILKIT_FUZZ_CHECK(h.canonical_length() == ref.size());
    }
    const std::uint64_t limit = seed % (ref.size() + 2);
    body_hasher lh(c, hash_algorithm::sha256, limit);
    lh.update(in);
    digest ld(hash_algorithm::sha256);
    ld.update(std::string_view(ref).substr(0, limit));
    MAILKIT_FUZZ_CHECK(lh.finish() == ld.finish());
    if (c == canonicalization::relaxed) {
      for (std::size_t i = 0; i + 1 < ref.size(); ++i) {
        MAILKIT_FUZZ_CHECK(ref[i] != '\t');
        // (a bare CR is line content, so " \r" followed by other than LF is allowed)
        // The last line may keep one SP when the body did not end with a line ending (the
        // CRLF is added after trailing WSP removal, as dkimpy does; see canonicalization.cpp).
        const bool eol =
            ref[i + 1] == '\r' && i + 2 < ref.size() && ref[i + 2] == '\n' && i + 3 != ref.size();
        MAILKIT_FUZZ_CHECK(!(ref[i] == ' ' && (ref[i + 1] == ' ' || eol)));
      }
    }
  }

  const split_message s = split_header(in);
  MAILKIT_FUZZ_CHECK(s.body_offset <= in.size());
  std::string out;
  for (const auto& f : s.fields) {
    MAILKIT_FUZZ_CHECK(mailkit::fuzz::within(f.raw, in));
    MAILKIT_FUZZ_CHECK(mailkit::fuzz::within(f.name, f.raw));
    for (auto c : {canonicalization::simple, canonicalization::relaxed}) {
      out.clear();
      canonicalize_header(f.raw, c, out);
      MAILKIT_FUZZ_CHECK(out.size() <= 2 * f.raw.size() + 2);
    }
  }
  return 0;
}
