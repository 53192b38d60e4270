// SPDX-License-Identifier: Apache-2.0
// Fuzz target for RFC 2047 encoded words (mailkit::mime::decode_unstructured, decode_words, the
// detail::decode_text engine, unfold, encode_words, encode_phrase). Every decoded result must be
// well-formed UTF-8 (encoded_word.hpp promises it for any input); encoded words must stay within
// 75 characters (RFC 2047 §2); and text that encode_words writes must decode to itself.
#include "fuzz_support.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/encoded_word.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace mime = mailkit::mime;
using mailkit::is_valid_utf8;

void check_decode(std::string_view in) {
  MAILKIT_FUZZ_CHECK(is_valid_utf8(mime::decode_unstructured(in)));
  MAILKIT_FUZZ_CHECK(is_valid_utf8(mime::decode_words(in)));
  for (int i = 0; i < 4; ++i) {
    mime::detail::word_options opt;
    opt.space_around_words = (i & 1) != 0;
    opt.keep_space_between_words = (i & 2) != 0;
    MAILKIT_FUZZ_CHECK(is_valid_utf8(mime::detail::decode_text(in, opt)));
  }
  const std::string unfolded = mime::unfold(in);
  MAILKIT_FUZZ_CHECK(unfolded.size() <= in.size());
  MAILKIT_FUZZ_CHECK(unfolded.find('\n') == std::string::npos);
}

// Text a user could put in a Subject: well-formed UTF-8 without control characters, "=?" (which
// is already encoded-word syntax and decodes by design) or whitespace that decoding trims or
// that unfolding would treat differently.
bool is_plain_text(std::string_view s) {
  if (!is_valid_utf8(s) || s.find("=?") != std::string_view::npos) return false;
  if (!s.empty() && (mailkit::is_wsp(s.front()) || mailkit::is_wsp(s.back()))) return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7F) return false;
  }
  return true;
}

void check_encode(std::string_view in) {
  if (!is_plain_text(in)) return;
  const std::string enc = mime::encode_words(in);
  MAILKIT_FUZZ_CHECK(enc.find_first_of("\r\n") == std::string::npos);
  // RFC 2047 §2: an encoded word is at most 75 characters.
  std::size_t start = 0;
  while (start <= enc.size()) {
    std::size_t end = enc.find(' ', start);
    if (end == std::string::npos) end = enc.size();
    const std::string_view token = std::string_view(enc).substr(start, end - start);
    if (token.starts_with("=?")) MAILKIT_FUZZ_CHECK(token.size() <= 75);
    start = end + 1;
  }
  MAILKIT_FUZZ_CHECK(mime::decode_unstructured(enc) == in);

  const std::string phrase = mime::encode_phrase(in);
  MAILKIT_FUZZ_CHECK(phrase.find_first_of("\r\n") == std::string::npos);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  check_decode(in);
  check_encode(in);
  return 0;
}
