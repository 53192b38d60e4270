// SPDX-License-Identifier: Apache-2.0
// Fuzz target for mailkit::qp: the streaming decoder must give the same bytes and status as the
// one-shot decode whatever the chunking, and the encoder's output must decode to its input and
// keep every line within 76 characters (RFC 2045 §6.7 (5)).
#include "fuzz_support.hpp"

#include <mailkit/core/quoted_printable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using mailkit::fuzz::as_view;

// The decoder releases a run of whitespace longer than its carry limit (4096 bytes, see
// quoted_printable.cpp) at a chunk boundary as data; only then may chunked and one-shot decoding
// differ, by design.
bool has_long_whitespace_run(std::string_view s) {
  std::size_t run = 0;
  for (const char c : s) {
    run = (c == ' ' || c == '\t' || c == '\r') ? run + 1 : 0;
    if (run >= 4000) return true;
  }
  return false;
}

void check_streaming(std::string_view in) {
  mailkit::qp::decode_status one_status;
  const std::string one = mailkit::qp::decode(in, &one_status);
  MAILKIT_FUZZ_CHECK(one.size() <= in.size());
  if (has_long_whitespace_run(in)) return;

  const std::uint64_t seed = mailkit::fuzz::input_hash(in);
  for (int round = 0; round < 2; ++round) {
    if (round == 1 && in.size() > 512) break;
    mailkit::qp::decoder d;
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
    MAILKIT_FUZZ_CHECK(d.status().invalid_escapes == one_status.invalid_escapes);
    MAILKIT_FUZZ_CHECK(d.status().lowercase_hex == one_status.lowercase_hex);
  }
}

// Every line of an encoding, without its line ending, fits in 76 characters.
bool lines_fit(std::string_view enc) {
  std::size_t col = 0;
  for (const char c : enc) {
    if (c == '\r' || c == '\n') {
      col = 0;
      continue;
    }
    if (++col > 76) return false;
  }
  return true;
}

std::string crlf_to_lf(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out.push_back(s[i]);
  }
  return out;
}

void check_round_trip(std::string_view in) {
  // Binary mode: every byte is data, CR and LF included.
  const std::string bin = mailkit::qp::encode(in, mailkit::qp::encode_mode::binary);
  MAILKIT_FUZZ_CHECK(lines_fit(bin));
  mailkit::qp::decode_status st;
  MAILKIT_FUZZ_CHECK(mailkit::qp::decode(bin, &st) == in);
  MAILKIT_FUZZ_CHECK(st.clean());

  // Text mode: CRLF and LF are hard line breaks written as the chosen eol, so the decoded text
  // is the input with its CRLFs turned into that eol.
  const std::string text = mailkit::qp::encode(in, mailkit::qp::encode_mode::text, "\n");
  MAILKIT_FUZZ_CHECK(lines_fit(text));
  MAILKIT_FUZZ_CHECK(mailkit::qp::decode(text, &st) == crlf_to_lf(in));
  MAILKIT_FUZZ_CHECK(st.clean());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = as_view(data, size);
  check_streaming(in);
  check_round_trip(in);
  return 0;
}
