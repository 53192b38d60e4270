// SPDX-License-Identifier: Apache-2.0
// Fuzz target for charset conversion (mailkit::mime::to_utf8, to_utf8_lenient, from_utf8,
// canonical_charset). The first byte picks a charset label from the list below (or, past its
// end, takes the label from the input up to the first NUL); the rest is the text. Output is
// always well-formed UTF-8 (charset.hpp); a label is known exactly when it has a canonical name;
// and UTF-8 converted to a charset and back is unchanged.
#include "fuzz_support.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/charset.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace mime = mailkit::mime;
using mailkit::is_valid_utf8;

// Labels as senders write them: canonical names, aliases, odd spellings, stateful and multi-byte
// encodings (the converters most likely to misbehave on truncated input), and unknown names.
constexpr std::array<std::string_view, 40> labels = {
    "utf-8",        "UTF8",         "us-ascii",       "iso-8859-1", "latin1",
    "windows-1252", "cp1252",       "iso-8859-2",     "iso-8859-5", "iso-8859-7",
    "iso-8859-8",   "iso-8859-15",  "koi8-r",         "koi8-u",     "windows-1251",
    "windows-1255", "ibm866",       "macintosh",      "shift_jis",  "x-sjis",
    "cp932",        "euc-jp",       "iso-2022-jp",    "euc-kr",     "iso-2022-kr",
    "gb2312",       "gbk",          "gb18030",        "big5",       "big5-hkscs",
    "utf-16",       "utf-16le",     "utf-16be",       "utf-32",     "utf-7",
    "hz-gb-2312",   "unknown-8bit", "x-user-defined", "",           "\"utf-8\""};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  if (in.empty()) return 0;
  const auto pick = static_cast<unsigned char>(in[0]);
  std::string_view label;
  std::string_view text = in.substr(1);
  if (pick < labels.size()) {
    label = labels[pick];
  } else {
    const std::size_t nul = text.find('\0');
    if (nul == std::string_view::npos) return 0;
    label = text.substr(0, nul);
    text = text.substr(nul + 1);
  }

  const std::string canonical = mime::canonical_charset(label);
  MAILKIT_FUZZ_CHECK(mime::is_known_charset(label) == !canonical.empty());
  if (!canonical.empty()) MAILKIT_FUZZ_CHECK(mime::canonical_charset(canonical) == canonical);

  const auto strict = mime::to_utf8(text, label);
  // Only an unknown charset fails; ill-formed input in a known one is replaced by U+FFFD.
  MAILKIT_FUZZ_CHECK(strict.has_value() == !canonical.empty());
  if (strict) MAILKIT_FUZZ_CHECK(is_valid_utf8(*strict));
  const std::string lenient = mime::to_utf8_lenient(text, label);
  MAILKIT_FUZZ_CHECK(is_valid_utf8(lenient));
  if (strict) MAILKIT_FUZZ_CHECK(lenient == *strict);

  // UTF-8 -> charset -> UTF-8 is the identity whenever the charset can hold the text. ESC, SO
  // and SI are excluded: the ISO-2022 encoders pass them through as data, and decoding then
  // reads them as the shift sequences they are in those charsets.
  if (is_valid_utf8(text) && text.find_first_of("\x0e\x0f\x1b") == std::string_view::npos) {
    if (const auto encoded = mime::from_utf8(text, label)) {
      const auto back = mime::to_utf8(*encoded, label);
      MAILKIT_FUZZ_CHECK(back && *back == text);
    }
  }
  return 0;
}
