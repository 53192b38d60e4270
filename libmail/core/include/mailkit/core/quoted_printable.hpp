// SPDX-License-Identifier: Apache-2.0
/// @file quoted_printable.hpp
/// Quoted-printable (RFC 2045 §6.7) for MIME bodies: a lenient streaming decoder and an encoder
/// that keeps lines within 76 characters.
#pragma once

#include <string>
#include <string_view>

namespace mailkit::qp {

/// What lenient decoding had to overlook.
struct decode_status {
  bool invalid_escapes = false; ///< '=' not followed by two hex digits or a line break (kept as is)
  bool lowercase_hex = false;   ///< "=3d": RFC 2045 §6.7 (1) wants upper case; decoded anyway
  [[nodiscard]] bool clean() const noexcept { return !invalid_escapes && !lowercase_hex; }
};

/// Streaming decoder. Line endings are kept as they came (CRLF or LF); trailing whitespace on a
/// line is removed (RFC 2045 §6.7 (3)); "=" at the end of a line (possibly followed by
/// whitespace a transport added) is a soft line break. Malformed escapes are kept literally, as
/// the RFC recommends for robustness.
class decoder {
public:
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);
  [[nodiscard]] const decode_status& status() const noexcept { return status_; }

private:
  void process(std::string_view in, bool final, std::string& out);
  std::string carry_; // an unfinished escape or a run of whitespace whose fate is still unknown
  decode_status status_;
};

/// Decode a whole body.
[[nodiscard]] std::string decode(std::string_view text, decode_status* status = nullptr);

enum class encode_mode {
  text,  ///< CRLF and LF in the input are hard line breaks, written as `eol`
  binary ///< every byte is data: CR and LF are encoded as =0D =0A
};

/// Encode with soft line breaks so that no line exceeds 76 characters (RFC 2045 §6.7 (5)).
/// Trailing whitespace before a hard break is encoded (rule 3), as is a leading "." or "From "
/// so the result survives SMTP and mbox intact.
[[nodiscard]] std::string encode(std::string_view data, encode_mode mode = encode_mode::text,
                                 std::string_view eol = "\r\n");

} // namespace mailkit::qp
