// SPDX-License-Identifier: Apache-2.0
/// @file builder.hpp
/// Composes messages: text with an optional HTML alternative, attachments, RFC 2047-encoded
/// headers, Message-ID and Date, serialized with CRLF line endings, header folding at 78
/// characters (RFC 5322 §2.1.1, §2.2.3), and the transfer encoding each part needs (7bit when it
/// can, quoted-printable for mostly-ASCII text, base64 otherwise). Parsing the output gives the
/// inputs back: parse(build(x)) == x for subject, addresses, text, html and attachments.
///
/// **Standards**: RFC 5322 §3.6, RFC 2045-2047, RFC 2183, RFC 2231 (non-ASCII filenames).
/// **Security**: refuses CR or LF in header names and values (header injection) with
/// errc::invalid_argument rather than writing them.
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/mime/address.hpp>
#include <mailkit/mime/date.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mailkit::mime {

struct attachment {
  std::string filename;
  std::string content_type = "application/octet-stream"; ///< "type/subtype", parameters allowed
  std::string data;
  bool inline_ = false;                  ///< Content-Disposition inline instead of attachment
  std::optional<std::string> content_id; ///< for inline images referenced from HTML (cid:)
};

struct message_spec {
  mailbox from;
  std::vector<mailbox> to, cc, bcc, reply_to;
  std::string subject;
  std::optional<std::string> text; ///< UTF-8
  std::optional<std::string> html; ///< UTF-8; with text, a multipart/alternative
  std::vector<attachment> attachments;
  std::vector<std::pair<std::string, std::string>> headers; ///< extra fields, UTF-8 values
  std::optional<std::string> message_id; ///< without brackets; generated from the From domain
  std::optional<date_time> date;         ///< default: now, from the clock
  bool include_bcc = false;              ///< Bcc is normally left out of the header
};

/// Serialize a message. The clock supplies the default Date; Message-IDs use a random part.
[[nodiscard]] expected<std::string> build(const message_spec& spec,
                                          const clock& clk = default_clock());

/// A fresh Message-ID ("<random@domain>" without the brackets).
[[nodiscard]] std::string make_message_id(std::string_view domain);

/// Fold one header field ("Name: value") at whitespace so that lines stay within 78 characters
/// where possible (RFC 5322 §2.1.1), ending with CRLF.
[[nodiscard]] std::string fold_header(std::string_view name, std::string_view value);

} // namespace mailkit::mime
