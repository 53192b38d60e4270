// SPDX-License-Identifier: Apache-2.0
/// @file message.hpp
/// A parsed message: one owned buffer holding the raw bytes, and an index of parts and header
/// fields pointing into it. Parsing never copies a body; decoding (transfer encoding, charset)
/// happens on request and returns owned bytes.
///
/// The part tree follows RFC 2046 §5.1: a multipart body is split at its boundary delimiters into
/// a preamble, body parts and an epilogue; a message/rfc822 or message/global body is parsed as
/// an embedded message (its headers and body become one child part). Parts are stored depth-first,
/// the root first, so walking in storage order is walking the tree.
///
/// Broken mail is read as mail clients read it, and every deviation is recorded in problems():
/// a missing close delimiter ends the multipart at the enclosing boundary or the end of input; a
/// multipart with no boundary parameter, or with no body part (no delimiter line of its own), is
/// a leaf whose content is its whole body; a header line without a colon ends the header and is
/// the first body line; a delimiter of an enclosing multipart also ends an inner one, even inside
/// a header (RFC 2046 §5.1.2). Limits (header count, header size, nesting depth, part count,
/// message size) either fail the parse or truncate the tree consistently, as limits::on_limit
/// says.
///
/// **Standards**: RFC 5322 §2.1-§2.2 and §3.5 (fields, body), RFC 2045 §6 (transfer encodings),
/// RFC 2046 §5.1 (multipart) and §5.2 (message), RFC 6532 (UTF-8 headers), RFC 6152 (8-bit),
/// RFC 3030 (binary).
/// **Security**: parses untrusted bytes; memory is the input plus O(parts + fields) index entries,
/// both bounded by limits; no recursion on input nesting (an explicit stack bounded by max_depth).
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/mime/address.hpp>
#include <mailkit/mime/content_type.hpp>
#include <mailkit/mime/date.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mime {

/// Hard limits. Every one is explicit; the defaults fit real mail with a wide margin.
struct limits {
  std::size_t max_message_size = 0;       ///< bytes; 0 = no limit (SMTP SIZE is enforced earlier)
  std::size_t max_header_fields = 1000;   ///< per part
  std::size_t max_header_bytes = 1 << 20; ///< per part, the whole header section
  std::size_t max_depth = 64;             ///< nesting of multiparts and embedded messages
  std::size_t max_parts = 10000;          ///< parts in the whole message, the root included
  enum class action {
    truncate, ///< stop indexing at the limit, keep a consistent tree, record a problem
    fail      ///< fail the parse with errc::limit_exceeded
  } on_limit = action::truncate;
};

/// Content-Transfer-Encoding (RFC 2045 §6.1; "binary" also RFC 3030).
enum class transfer_encoding {
  seven_bit,
  eight_bit,
  binary,
  quoted_printable,
  base64,
  uuencode,
  unknown
};

/// A deviation from the standards found while parsing; the parse still succeeded.
struct problem {
  enum class kind {
    missing_close_delimiter,   ///< RFC 2046 §5.1.1: multipart ended without "--boundary--"
    missing_boundary,          ///< multipart/* without a boundary parameter: read as a leaf
    no_body_part,              ///< RFC 2046 §5.1.1: a multipart with no delimiter line of its
                               ///< own (no body part): read as a leaf holding the whole body
    header_line_without_colon, ///< a header line that is no field: the header ended there
    eight_bit_header,          ///< raw non-UTF-8 bytes in a header (read as Windows-1252)
    nul_byte,                  ///< a NUL byte in the header section
    unknown_transfer_encoding, ///< Content-Transfer-Encoding not in RFC 2045 §6.1
    header_field_limit,        ///< max_header_fields reached: later fields not indexed
    header_size_limit,         ///< max_header_bytes reached: the rest of the header is body
    depth_limit,               ///< max_depth reached: the part is a leaf
    part_limit,                ///< max_parts reached: later delimiters are body text
    missing_header_separator,  ///< the input ended inside a header section
  } what;
  std::size_t part = 0;   ///< index of the part concerned
  std::size_t offset = 0; ///< byte offset in the message where it was found
};
[[nodiscard]] std::string_view to_string(problem::kind k) noexcept;

/// One header field. Views point into the message's buffer and stay valid while the message lives
/// (also when the message object is moved).
struct header_field {
  std::string_view name;  ///< as written, without the colon (trailing whitespace removed)
  std::string_view raw;   ///< everything after the colon up to the field's final line ending:
                          ///< still folded, leading whitespace kept (DKIM needs it verbatim)
  std::size_t offset = 0; ///< where the field starts in the message
  std::size_t end = 0;    ///< offset after the field's final line ending
  /// The value unfolded, with leading and trailing whitespace removed (no RFC 2047 decoding).
  [[nodiscard]] std::string unfolded() const;
  /// The value unfolded and RFC 2047/RFC 6532 decoded to UTF-8, as for an unstructured field.
  [[nodiscard]] std::string decoded() const;
};

class message;

/// One node of the tree. Offsets are into the message buffer.
struct part {
  std::size_t index = 0;             ///< position in message::parts()
  std::optional<std::size_t> parent; ///< none for the root
  std::vector<std::size_t> children; ///< body parts of a multipart, or the embedded message
  std::size_t depth = 0;
  std::size_t header_begin = 0; ///< first byte of the header section
  std::size_t body_begin = 0;   ///< first byte of the body (after the blank line)
  std::size_t body_end = 0;     ///< end of the body (before the CRLF preceding a delimiter)
  std::size_t fields_begin = 0, fields_end = 0; ///< range in message::all_fields()
  content_type type; ///< parsed Content-Type, or the RFC 2045 §5.2 / RFC 2046 §5.1.5 default
  bool type_defaulted = true;              ///< no usable Content-Type field
  std::optional<content_type> disposition; ///< parsed Content-Disposition
  transfer_encoding encoding = transfer_encoding::seven_bit;
  bool is_multipart = false; ///< a multipart whose body was split into children
  bool is_message = false;   ///< a message/rfc822 or message/global holding one child
  std::string_view preamble; ///< multipart only
  std::string_view epilogue; ///< multipart only
};

/// A parsed message. Move-only; views handed out stay valid while it lives.
class message {
public:
  message(message&&) noexcept;
  message& operator=(message&&) noexcept;
  ~message();

  /// The raw bytes as given.
  [[nodiscard]] std::string_view raw() const noexcept;
  [[nodiscard]] const std::vector<part>& parts() const noexcept { return parts_; }
  [[nodiscard]] const part& root() const noexcept { return parts_.front(); }
  [[nodiscard]] const std::vector<problem>& problems() const noexcept { return problems_; }

  /// Header fields of a part (the root by default), in order.
  [[nodiscard]] std::span<const header_field> headers(const part& p) const noexcept;
  [[nodiscard]] std::span<const header_field> headers() const noexcept { return headers(root()); }
  /// Every field of every part, part by part.
  [[nodiscard]] const std::vector<header_field>& all_fields() const noexcept { return fields_; }
  /// The first field with this name (case-insensitive), or nullptr.
  [[nodiscard]] const header_field* field(std::string_view name,
                                          const part* p = nullptr) const noexcept;
  /// The first value with this name, unfolded and RFC 2047 decoded; nullopt when absent.
  [[nodiscard]] std::optional<std::string> header(std::string_view name,
                                                  const part* p = nullptr) const;
  /// Every value with this name, decoded, in order.
  [[nodiscard]] std::vector<std::string> get_all(std::string_view name,
                                                 const part* p = nullptr) const;

  /// The raw (still transfer-encoded) body of a part: for a multipart the whole body with
  /// delimiters, for an embedded message the whole embedded message.
  [[nodiscard]] std::string_view body(const part& p) const noexcept;
  /// The header section and body of a part as it stands in the message (for message/rfc822
  /// children and IMAP BODY[n.MIME]).
  [[nodiscard]] std::string_view header_bytes(const part& p) const noexcept;
  /// The transfer-decoded body of a leaf part (base64, quoted-printable; others as they are).
  [[nodiscard]] std::string content(const part& p) const;
  /// Decode in chunks into `sink`, for large parts: memory stays at one chunk.
  void content_to(const part& p, const std::function<void(std::string_view)>& sink) const;
  /// The decoded content of a text part as UTF-8 (charset from the part, lenient conversion).
  /// 8-bit content under the 7-bit default or a "us-ascii" label is read as UTF-8 when it is
  /// valid UTF-8 (RFC 8621 §4.1.4 allows such heuristics), else by the label.
  [[nodiscard]] std::string text(const part& p) const;

  /// Convenience accessors on the root header, decoded.
  [[nodiscard]] std::optional<std::string> subject() const;
  [[nodiscard]] std::optional<std::string> message_id() const; ///< without angle brackets
  [[nodiscard]] std::optional<date_time> date() const;
  [[nodiscard]] address_list addresses(std::string_view field_name, const part* p = nullptr) const;

  /// Which parts a reader shows as the text body, the HTML body and the attachments, by the
  /// algorithm of RFC 8621 §4.1.4 (JMAP's textBody/htmlBody/attachments). An embedded message
  /// counts as one attachment; its own structure is found by calling this on its root part.
  struct body_parts {
    std::vector<const part*> text_body;
    std::vector<const part*> html_body;
    std::vector<const part*> attachments;
  };
  [[nodiscard]] body_parts body_structure(const part& root) const;
  [[nodiscard]] body_parts body_structure() const { return body_structure(root()); }
  /// The attachments of body_structure(): what a mail client lists as attached files.
  [[nodiscard]] std::vector<const part*> attachments() const;
  /// The filename of a part: disposition filename, else Content-Type name; RFC 2231/2047 decoded.
  [[nodiscard]] std::optional<std::string> filename(const part& p) const;
  /// The charset of a text part (lower case), "us-ascii" by default for text/* (RFC 2046 §4.1.2).
  [[nodiscard]] std::optional<std::string> charset(const part& p) const;

private:
  friend class parser;
  message();
  std::unique_ptr<std::string> buffer_; // heap-held so views survive moves of the message
  std::vector<part> parts_;
  std::vector<header_field> fields_;
  std::vector<problem> problems_;
};

/// Incremental parser: feed the message in chunks as it arrives (SMTP DATA, a file), then
/// finish(). Work is done as complete lines arrive, so finish() costs only the last lines.
/// Memory: the retained buffer (the message itself) plus the index; nothing else grows with
/// the input.
class parser {
public:
  explicit parser(limits lim = {});
  parser(parser&&) noexcept;
  parser& operator=(parser&&) noexcept;
  ~parser();

  /// Append bytes. Fails with errc::message_too_large past limits::max_message_size, or with
  /// errc::limit_exceeded when on_limit is fail and a limit is reached; the parser is then spent.
  /// The error is the first limit the message reaches read in order (bytes past the size limit
  /// are not parsed), so it is the same however the input is cut into chunks, and the same as
  /// parse() gives for the whole input.
  expected<void> feed(std::string_view chunk);
  /// Input complete: close every open part and return the message. The parser is then spent.
  expected<message> finish();
  /// Bytes fed so far.
  [[nodiscard]] std::size_t size() const noexcept;
  /// Reserve room for a message of about this size (a file's size, the SMTP SIZE parameter), so
  /// the buffer is allocated once: without it, growth by doubling briefly holds two copies.
  void reserve(std::size_t expected_size);

private:
  friend expected<message> parse(std::string data, const limits& lim);
  struct state;
  std::unique_ptr<state> st_;
};

/// Parse a whole message, taking ownership of the bytes (no copy).
[[nodiscard]] expected<message> parse(std::string data, const limits& lim = {});
/// Parse a whole message from a view (one copy into the message's buffer).
[[nodiscard]] expected<message> parse(std::string_view data, const limits& lim = {});
[[nodiscard]] inline expected<message> parse(const char* data, const limits& lim = {}) {
  return parse(std::string_view(data), lim);
}

/// Transfer-decode a body (what message::content does for one part).
[[nodiscard]] std::string decode_body(std::string_view body, transfer_encoding enc);
/// The encoding named by a Content-Transfer-Encoding value.
[[nodiscard]] transfer_encoding parse_transfer_encoding(std::string_view raw) noexcept;

} // namespace mailkit::mime
