// SPDX-License-Identifier: Apache-2.0
// Fuzz target for mailkit::base64: the strict decoder (both modes), the lenient MIME decoder,
// and the streaming decoder, which must give the same bytes and the same status whatever the
// chunking. Encoding the input and decoding it again must give the input back.
#include "fuzz_support.hpp"

#include <mailkit/core/base64.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace b64 = mailkit::base64;
using mailkit::fuzz::as_view;

bool same_status(const b64::decode_status& a, const b64::decode_status& b) {
  return a.invalid_characters == b.invalid_characters &&
         a.data_after_padding == b.data_after_padding &&
         a.incomplete_quantum == b.incomplete_quantum;
}

std::string without_whitespace(std::string_view s) {
  std::string out;
  for (const char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out.push_back(c);
  return out;
}

void check_strict(std::string_view in) {
  // RFC 4648 §3.5: a strict decoder accepts only the canonical encoding, so whatever it accepts
  // must encode back to exactly the input.
  if (const auto strict = b64::decode(in, b64::mode::strict)) {
    MAILKIT_FUZZ_CHECK(b64::encode(*strict) == in);
    // Canonical input is also clean MIME input with the same meaning.
    b64::decode_status st;
    MAILKIT_FUZZ_CHECK(b64::decode_mime(in, &st) == *strict);
    MAILKIT_FUZZ_CHECK(st.clean());
  }
  if (const auto loose = b64::decode(in, b64::mode::ignore_whitespace)) {
    MAILKIT_FUZZ_CHECK(b64::encode(*loose) == without_whitespace(in));
  }
}

void check_streaming(std::string_view in) {
  b64::decode_status one_status;
  const std::string one = b64::decode_mime(in, &one_status);
  MAILKIT_FUZZ_CHECK(one.size() <= in.size() / 4 * 3 + 2);

  // Two chunkings: one derived from the input, one byte at a time (short inputs only, to keep
  // executions fast).
  const std::uint64_t seed = mailkit::fuzz::input_hash(in);
  for (int round = 0; round < 2; ++round) {
    if (round == 1 && in.size() > 512) break;
    b64::decoder d;
    std::string out;
    if (round == 0) {
      for (const std::string_view piece : mailkit::fuzz::split(in, seed))
        d.feed(piece, out);
    } else {
      for (std::size_t i = 0; i < in.size(); ++i)
        d.feed(in.substr(i, 1), out);
    }
    d.finish(out);
    MAILKIT_FUZZ_CHECK(out == one);
    MAILKIT_FUZZ_CHECK(same_status(d.status(), one_status));
  }
}

void check_round_trip(std::string_view in) {
  const std::string enc = b64::encode(in);
  MAILKIT_FUZZ_CHECK(enc.size() == b64::encoded_size(in.size()));
  const auto back = b64::decode(enc);
  MAILKIT_FUZZ_CHECK(back && *back == in);
  b64::decode_status st;
  MAILKIT_FUZZ_CHECK(b64::decode_mime(enc, &st) == in);
  MAILKIT_FUZZ_CHECK(st.clean());

  // Line length from the input: short odd lengths exercise the "whole quanta per line" rule.
  const std::size_t line = in.empty() ? 76 : 1 + static_cast<unsigned char>(in[0]) % 100;
  const std::string lines = b64::encode_lines(in, line, "\r\n");
  MAILKIT_FUZZ_CHECK(b64::decode_mime(lines, &st) == in);
  MAILKIT_FUZZ_CHECK(st.clean());
  const auto ws = b64::decode(lines, b64::mode::ignore_whitespace);
  MAILKIT_FUZZ_CHECK(ws && *ws == in);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = as_view(data, size);
  check_strict(in);
  check_streaming(in);
  check_round_trip(in);
  return 0;
}
