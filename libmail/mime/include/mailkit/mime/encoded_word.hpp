// SPDX-License-Identifier: Apache-2.0
/// @file encoded_word.hpp
/// RFC 2047 encoded words ("=?charset?Q?...?=" / "=?charset?B?...?="), decoding and encoding,
/// and the decoding of unstructured header text (Subject, Comments, display names).
///
/// **Standards**: RFC 2047 §2-§6 (with RFC 2231 §5 language suffixes "=?utf-8*en?Q?..?="),
/// RFC 5322 §2.2.3 (unfolding), RFC 6532 §3.2 (raw UTF-8 in header values).
/// Decoding is lenient as mail clients are: encoded words inside words and quoted strings, missing
/// whitespace between words, multi-byte characters split across adjacent words (joined before
/// conversion), lowercase q/b, and unknown charsets (replaced by U+FFFD or read as UTF-8).
/// **Security**: parses untrusted header bytes; output is well-formed UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace mailkit::mime {

/// Remove folding (RFC 5322 §2.2.3: CRLF or LF immediately followed by WSP) from a raw value.
/// A CR or LF not followed by WSP is also dropped: it would have ended the field.
[[nodiscard]] std::string unfold(std::string_view raw);

/// Decode an unstructured field value: unfold, trim leading and trailing whitespace, decode
/// encoded words (whitespace between two adjacent encoded words is dropped, RFC 2047 §6.2), and
/// convert raw 8-bit bytes (RFC 6532) from UTF-8, or from Windows-1252 when they are not UTF-8.
[[nodiscard]] std::string decode_unstructured(std::string_view raw);

/// Decode the encoded words inside a phrase that was already tokenized (display names, RFC 2231
/// fallback values). Same rules as decode_unstructured, without the unfolding.
[[nodiscard]] std::string decode_words(std::string_view text);

/// Encode UTF-8 text for an unstructured header when needed: returned unchanged if it is
/// printable ASCII, else as one or more encoded words (charset utf-8, Q or B, whichever is
/// shorter), each at most 75 characters (RFC 2047 §2), separated by a single space, never
/// splitting a UTF-8 sequence. The result has no line breaks; the builder folds it.
[[nodiscard]] std::string encode_words(std::string_view utf8);

/// Encode for use as a display name in an address (RFC 2047 §5 (3): the restricted Q set).
[[nodiscard]] std::string encode_phrase(std::string_view utf8);

namespace detail {

/// How decode_text treats the text around encoded words (the parameter parser of
/// content_type.cpp needs a different reading than unstructured fields).
struct word_options {
  /// Insert a space between an encoded word and ordinary text that touches it
  /// ("[SPAM]=?utf-8?Q?Hi?=" reads "[SPAM] Hi"), as for unstructured fields.
  bool space_around_words = true;
  /// Keep whitespace between two encoded words unless it contains a fold (quoted parameter
  /// values: `"=?a?Q?x?= =?a?Q?y?="` keeps its space, a folded split word does not).
  bool keep_space_between_words = false;
};

/// The decoding engine behind decode_words. A '\n' in `text` marks where a fold (line break
/// and the whitespace after it) was: inside an encoded word it is dropped, in ordinary text a
/// whitespace run containing it reads as one space. Not trimmed.
[[nodiscard]] std::string decode_text(std::string_view text, const word_options& opt);

} // namespace detail

} // namespace mailkit::mime
