// SPDX-License-Identifier: Apache-2.0
/// @file base64.hpp
/// Base64 (RFC 4648 §4) encoding and decoding, strict for protocol fields (DKIM tags, SASL) and
/// lenient and streaming for MIME bodies (RFC 2045 §6.8).
///
/// The decoder's hot loop turns four alphabet characters into three bytes with four 256-entry
/// tables and one OR; any character outside the alphabet (line breaks, padding, garbage) sets a
/// high bit and sends that one quantum through the careful path. A MIME body with 76-character
/// lines therefore spends 19 of every 20 quanta in the fast loop.
#pragma once

#include <mailkit/core/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace mailkit::base64 {

/// Size of the padded encoding of n bytes, without line breaks.
[[nodiscard]] constexpr std::size_t encoded_size(std::size_t n) noexcept {
  return (n + 2) / 3 * 4;
}

/// Padded base64 of `data` on one line.
[[nodiscard]] std::string encode(std::string_view data);
/// Append the padded base64 of `data` to `out`.
void encode_append(std::string_view data, std::string& out);
/// MIME body encoding: lines of at most `line_length` characters (RFC 2045 §6.8: 76), each
/// ended by `eol`, the last one included.
[[nodiscard]] std::string encode_lines(std::string_view data, std::size_t line_length = 76,
                                       std::string_view eol = "\r\n");

enum class mode {
  strict,           ///< RFC 4648 §3: alphabet and correct padding only
  ignore_whitespace ///< as strict, but SP, HTAB, CR and LF anywhere are skipped (DKIM b=, p=)
};

/// Decode a protocol field. Fails with errc::malformed_input on a character outside the
/// alphabet, wrong padding, data after the padding, or non-zero bits in the final quantum.
[[nodiscard]] expected<std::string> decode(std::string_view text, mode m = mode::strict);

/// What lenient decoding had to overlook.
struct decode_status {
  bool invalid_characters = false; ///< bytes outside the alphabet other than whitespace
  bool data_after_padding = false; ///< alphabet characters after '=' padding
  bool incomplete_quantum = false; ///< the input ended inside a quantum (1-3 characters left)
  [[nodiscard]] bool clean() const noexcept {
    return !invalid_characters && !data_after_padding && !incomplete_quantum;
  }
};

/// Streaming lenient decoder for MIME bodies (RFC 2045 §6.8: "all line breaks or other
/// characters not found in Table 1 must be ignored by decoding software"). Decoding stops at the
/// first '=' padding; later alphabet characters are ignored and flagged. Feed chunks of any size.
class decoder {
public:
  /// Decode `in`, appending bytes to `out`.
  void feed(std::string_view in, std::string& out);
  /// Flush a trailing partial quantum (2 or 3 characters still yield 1 or 2 bytes).
  void finish(std::string& out);
  [[nodiscard]] const decode_status& status() const noexcept { return status_; }

private:
  unsigned quad_ = 0; // accumulated 6-bit values
  int have_ = 0;      // how many of the quantum's four values are in quad_
  bool padded_ = false;
  decode_status status_;
};

/// Decode a whole MIME body leniently; `status` (optional) says what was overlooked.
[[nodiscard]] std::string decode_mime(std::string_view text, decode_status* status = nullptr);

} // namespace mailkit::base64
