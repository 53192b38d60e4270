// SPDX-License-Identifier: Apache-2.0
// Message composition. The tree is chosen from what the spec holds:
//
//   text | html                          a single leaf
//   text + html                          multipart/alternative [text, html]
//   html + inline parts with a cid       multipart/related [html, inline...] in place of the html
//   any of the above + attachments       multipart/mixed [body, attachment...]
//
// Every input is checked before anything is written: a CR or LF in a header value, name or
// filename would let the caller's data start a new header field (header injection), so the
// whole build fails with errc::invalid_argument instead.
#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/core/quoted_printable.hpp>
#include <mailkit/mime/address.hpp>
#include <mailkit/mime/builder.hpp>
#include <mailkit/mime/content_type.hpp>
#include <mailkit/mime/date.hpp>
#include <mailkit/mime/encoded_word.hpp>
#include <mailkit/mime/error.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkit::mime {
namespace {

constexpr std::string_view crlf = "\r\n";

// RFC 5322 §2.1.1: "Each line of characters SHOULD be no more than 78 characters".
constexpr std::size_t fold_width = 78;
// RFC 5322 §2.1.1: "MUST be no more than 998 characters" (RFC 2045 §2.7 for 7bit/8bit bodies).
constexpr std::size_t max_line = 998;

// A thread's generator for Message-IDs and boundaries, seeded from the OS. These values must be
// unique, not secret: nothing here is a security token.
std::mt19937_64& generator() {
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::array<std::uint32_t, 8> seed{};
    for (auto& s : seed)
      s = rd();
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  return gen;
}

// 128 random bits as 26 base32 characters (RFC 4648 §6 alphabet, lower case): letters and
// digits only, so the result is a valid dot-atom-text and boundary character string.
std::string random_base32_128() {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  auto& gen = generator();
  const std::uint64_t hi = gen();
  const std::uint64_t lo = gen();
  std::string out;
  out.reserve(26);
  for (int i = 0; i < 26; ++i) {
    const int bit = i * 5; // 130 bits of output for 128 of input: the last two are zero
    std::uint32_t v = 0;
    for (int k = 0; k < 5; ++k) {
      const int b = bit + k;
      if (b >= 128) continue;
      const std::uint64_t word = b < 64 ? hi : lo;
      const std::uint64_t set = (word >> (63 - (b % 64))) & 1U;
      v |= static_cast<std::uint32_t>(set) << (4 - k);
    }
    out.push_back(alphabet[v]);
  }
  return out;
}

bool has_line_break(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// A UTF-8 header value the builder can write: no CR, LF or NUL (header injection), and
// well-formed UTF-8 so encoding and decoding give the same text back.
bool valid_value(std::string_view s) noexcept {
  return !has_line_break(s) && is_valid_utf8(s);
}

// RFC 5322 §2.2: field-name = 1*ftext, ftext = %d33-57 / %d59-126.
bool valid_field_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 76) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 33 && c <= 126 && c != ':'; });
}

// Fields the builder writes itself; an extra header with one of these names would duplicate it.
bool reserved_field(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 13> names = {"date",
                                                             "from",
                                                             "to",
                                                             "cc",
                                                             "bcc",
                                                             "reply-to",
                                                             "subject",
                                                             "message-id",
                                                             "mime-version",
                                                             "content-type",
                                                             "content-transfer-encoding",
                                                             "content-disposition",
                                                             "content-id"};
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view n) { return iequals(n, name); });
}

// msg-id / Content-ID content (RFC 5322 §3.6.4): printable, no brackets, no whitespace.
bool valid_id(std::string_view s) noexcept {
  if (s.empty() || s.size() > 900) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7F && c != '<' && c != '>' && c != '"' && c != '\\';
  });
}

bool valid_mailbox(const mailbox& m) noexcept {
  if (m.name && !valid_value(*m.name)) return false;
  if (!m.addr || m.addr->empty() || !valid_value(*m.addr)) return false;
  // An address holding whitespace, brackets or a comma would be read as something else.
  return std::none_of(m.addr->begin(), m.addr->end(), [](char c) {
    return is_wsp(c) || c == '<' || c == '>' || c == ',' || c == ';';
  });
}

/// One MIME entity as written: its header fields (each ending CRLF) and its encoded body.
struct entity {
  std::string header;
  std::string body;
};

// RFC 2046 §4.1.1: text in canonical form has CRLF line breaks; bare CR and bare LF become CRLF.
std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += crlf;
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += crlf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct text_stats {
  std::size_t eight_bit = 0;
  std::size_t longest_line = 0;
  bool controls = false; // NUL or other bytes 7bit text must not carry (RFC 2045 §2.7)
};

text_stats measure(std::string_view crlf_text) {
  text_stats st;
  std::size_t line = 0;
  for (std::size_t i = 0; i < crlf_text.size(); ++i) {
    const auto u = static_cast<unsigned char>(crlf_text[i]);
    if (u == '\r' && i + 1 < crlf_text.size() && crlf_text[i + 1] == '\n') {
      st.longest_line = std::max(st.longest_line, line);
      line = 0;
      ++i;
      continue;
    }
    ++line;
    if (u >= 0x80)
      ++st.eight_bit;
    else if ((u < 0x20 && u != '\t') || u == 0x7F)
      st.controls = true;
  }
  st.longest_line = std::max(st.longest_line, line);
  return st;
}

entity text_entity(std::string_view utf8, std::string_view subtype) {
  entity e;
  const std::string canonical = to_crlf(utf8);
  const text_stats st = measure(canonical);
  e.header = fold_header("Content-Type",
                         "text/" + std::string(subtype) + format_parameter("charset", "utf-8"));
  if (st.eight_bit == 0 && !st.controls && st.longest_line <= fold_width) {
    // RFC 2045 §2.7: 7bit data is short lines of US-ASCII; nothing to encode.
    e.header += fold_header("Content-Transfer-Encoding", "7bit");
    e.body = canonical;
  } else if (st.eight_bit * 3 > canonical.size()) {
    // Mostly non-Latin text: base64 costs 4/3, quoted-printable would cost nearly 3x.
    e.header += fold_header("Content-Transfer-Encoding", "base64");
    e.body = base64::encode_lines(canonical);
    if (e.body.ends_with(crlf)) e.body.resize(e.body.size() - 2);
  } else {
    // RFC 2045 §6.7: quoted-printable keeps mostly-ASCII text readable and lines short.
    e.header += fold_header("Content-Transfer-Encoding", "quoted-printable");
    e.body = qp::encode(canonical, qp::encode_mode::text, crlf);
  }
  return e;
}

expected<entity> attachment_entity(const attachment& a) {
  if (!valid_value(a.filename) || has_line_break(a.content_type))
    return fail(errc::invalid_argument);
  const content_type ct = parse_content_type(a.content_type);
  // A leaf needs a full type/subtype; a multipart cannot be an attachment's declared type
  // because its body would have to be split at a boundary the builder did not write.
  if (ct.type.empty() || ct.subtype.empty() || ct.type == "multipart")
    return fail(errc::invalid_argument);
  if (a.content_id && !valid_id(*a.content_id)) return fail(errc::invalid_argument);

  std::string type_value = ct.mime_type();
  bool has_name = false;
  for (const auto& p : ct.params) {
    if (!valid_value(p.value) || !valid_field_name(p.name)) return fail(errc::invalid_argument);
    has_name = has_name || p.name == "name";
    type_value += format_parameter(p.name, p.value);
  }
  // RFC 2183 §2.3 filename on the disposition; "name" on Content-Type too for older readers.
  if (!has_name && !a.filename.empty()) type_value += format_parameter("name", a.filename);

  entity e;
  e.header = fold_header("Content-Type", type_value);
  std::string disposition = a.inline_ ? "inline" : "attachment";
  if (!a.filename.empty()) disposition += format_parameter("filename", a.filename);
  e.header += fold_header("Content-Disposition", disposition);
  if (a.content_id) e.header += fold_header("Content-ID", "<" + *a.content_id + ">");

  const std::string_view data = a.data;
  const text_stats st = measure(data);
  const bool lines_ok = st.longest_line <= max_line && data.find('\0') == std::string_view::npos;
  // RFC 2046 §5.2.1: message/rfc822 must not be base64 or quoted-printable encoded, so an
  // embedded message goes as it is whenever its lines allow.
  if (ct.type == "message" && lines_ok && to_crlf(data) == data) {
    e.header += fold_header("Content-Transfer-Encoding", st.eight_bit == 0 ? "7bit" : "8bit");
    e.body = std::string(data);
    return e;
  }
  // RFC 2045 §6.8: base64 for everything else, lines of 76 characters.
  e.header += fold_header("Content-Transfer-Encoding", "base64");
  e.body = base64::encode_lines(data);
  if (e.body.ends_with(crlf)) e.body.resize(e.body.size() - 2);
  return e;
}

// RFC 2046 §5.1.1: the boundary "must not appear inside any of the encapsulated parts". A
// random 128-bit one practically never does; it is checked anyway, and "=_" cannot occur in
// base64 or quoted-printable output at all.
bool occurs_in(std::string_view delimiter, const std::vector<entity>& parts) {
  return std::any_of(parts.begin(), parts.end(), [&](const entity& p) {
    return p.header.find(delimiter) != std::string::npos ||
           p.body.find(delimiter) != std::string::npos;
  });
}

expected<entity> multipart_entity(std::string_view subtype, const std::vector<entity>& parts) {
  std::string boundary;
  for (int attempt = 0;; ++attempt) {
    if (attempt == 16) return fail(errc::invalid_argument); // cannot happen with a working RNG
    boundary = "=_mk_" + random_base32_128();
    if (!occurs_in("--" + boundary, parts)) break;
  }
  entity e;
  e.header = fold_header("Content-Type", "multipart/" + std::string(subtype) +
                                             format_parameter("boundary", boundary));
  // RFC 2046 §5.1.1: the CRLF before each delimiter belongs to the delimiter, so a body that
  // does not end with a line break comes back without one.
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) e.body += crlf;
    e.body += "--";
    e.body += boundary;
    e.body += crlf;
    e.body += parts[i].header;
    e.body += crlf;
    e.body += parts[i].body;
  }
  e.body += crlf;
  e.body += "--";
  e.body += boundary;
  e.body += "--";
  return e;
}

expected<std::string> mailbox_list(const std::vector<mailbox>& list) {
  std::string out;
  for (const auto& m : list) {
    if (!valid_mailbox(m)) return fail(errc::invalid_argument);
    if (!out.empty()) out += ", ";
    out += format_mailbox(m);
  }
  return out;
}

std::string domain_of(const mailbox& m) {
  if (!m.addr) return {};
  const auto at = m.addr->rfind('@');
  return at == std::string::npos ? std::string() : m.addr->substr(at + 1);
}

} // namespace

std::string fold_header(std::string_view name, std::string_view value) {
  std::string out(name);
  out.push_back(':');
  std::size_t line_len = out.size();
  // Break points: the space after the colon, and any single space between two non-blank
  // characters. Folding there is lossless for every reader (RFC 5322 §2.2.3 unfolding removes
  // only the CRLF, and readers that collapse whitespace around a fold still see one space).
  // Each chunk below starts with its space.
  bool first = true;
  const auto emit = [&](std::string_view word) {
    const std::size_t size = word.size() + 1;
    // The first chunk moves to a line of its own only when that makes it fit: an encoded word
    // of 75 characters after "Subject: " would not (RFC 2047 §2 wants such lines within 76).
    const bool fold = line_len + size > fold_width && (!first || size <= fold_width);
    if (fold) {
      out += crlf;
      line_len = 0;
    }
    out.push_back(' ');
    out += word;
    line_len += size;
    first = false;
  };
  std::size_t word_begin = 0;
  for (std::size_t i = 1; i + 1 < value.size(); ++i) {
    if (value[i] == ' ' && !is_wsp(value[i - 1]) && !is_wsp(value[i + 1])) {
      emit(value.substr(word_begin, i - word_begin));
      word_begin = i + 1;
    }
  }
  emit(value.substr(word_begin));
  out += crlf;
  return out;
}

std::string make_message_id(std::string_view domain) {
  // RFC 5322 §3.6.4: id-right is a dot-atom-text; anything else in the domain is dropped.
  std::string right;
  for (char c : domain)
    if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || static_cast<unsigned char>(c) >= 0x80)
      right.push_back(c);
  while (!right.empty() && right.front() == '.')
    right.erase(0, 1);
  while (!right.empty() && right.back() == '.')
    right.pop_back();
  if (right.empty() || !is_valid_utf8(right)) right = "localhost";
  return random_base32_128() + "@" + right;
}

expected<std::string> build(const message_spec& spec, const clock& clk) {
  // Header injection and representability checks, all before anything is written.
  if (!valid_mailbox(spec.from) || !valid_value(spec.subject)) return fail(errc::invalid_argument);
  if (spec.text && !is_valid_utf8(*spec.text)) return fail(errc::invalid_argument);
  if (spec.html && !is_valid_utf8(*spec.html)) return fail(errc::invalid_argument);
  if (spec.message_id && !valid_id(*spec.message_id)) return fail(errc::invalid_argument);
  for (const auto& [name, value] : spec.headers)
    if (!valid_field_name(name) || reserved_field(name) || !valid_value(value))
      return fail(errc::invalid_argument);

  std::string head;
  const date_time date =
      spec.date ? *spec.date
                : date_time::from_unix(
                      std::chrono::duration_cast<std::chrono::seconds>(clk.now().time_since_epoch())
                          .count());
  head += fold_header("Date", date.to_rfc5322());
  head += fold_header("From", format_mailbox(spec.from));
  const auto add_list = [&](std::string_view field,
                            const std::vector<mailbox>& list) -> expected<void> {
    auto v = mailbox_list(list);
    if (!v) return unexpected(v.error());
    if (!list.empty()) head += fold_header(field, *v);
    return {};
  };
  if (auto r = add_list("Reply-To", spec.reply_to); !r) return unexpected(r.error());
  if (auto r = add_list("To", spec.to); !r) return unexpected(r.error());
  if (auto r = add_list("Cc", spec.cc); !r) return unexpected(r.error());
  // RFC 5322 §3.6.3: Bcc recipients are normally not shown to the others.
  if (auto r = mailbox_list(spec.bcc); !r) return unexpected(r.error());
  if (spec.include_bcc)
    if (auto r = add_list("Bcc", spec.bcc); !r) return unexpected(r.error());
  if (!spec.subject.empty()) head += fold_header("Subject", encode_words(spec.subject));
  const std::string id = spec.message_id ? *spec.message_id : make_message_id(domain_of(spec.from));
  head += fold_header("Message-ID", "<" + id + ">");
  for (const auto& [name, value] : spec.headers)
    head += fold_header(name, encode_words(value));
  head += fold_header("MIME-Version", "1.0");

  // The body tree.
  std::vector<entity> inline_parts;
  std::vector<entity> attached;
  for (const auto& a : spec.attachments) {
    auto e = attachment_entity(a);
    if (!e) return unexpected(e.error());
    // Inline parts with a Content-ID belong next to the HTML that references them (RFC 2387);
    // without HTML there is nothing to reference them, so they are ordinary parts.
    if (a.inline_ && a.content_id && spec.html)
      inline_parts.push_back(std::move(*e));
    else
      attached.push_back(std::move(*e));
  }

  std::optional<entity> html;
  if (spec.html) {
    html = text_entity(*spec.html, "html");
    if (!inline_parts.empty()) {
      std::vector<entity> related;
      related.push_back(std::move(*html));
      for (auto& p : inline_parts)
        related.push_back(std::move(p));
      auto r = multipart_entity("related", related);
      if (!r) return unexpected(r.error());
      html = std::move(*r);
    }
  }
  std::optional<entity> body;
  if (spec.text && html) {
    std::vector<entity> alternatives;
    alternatives.push_back(text_entity(*spec.text, "plain"));
    alternatives.push_back(std::move(*html));
    auto r = multipart_entity("alternative", alternatives);
    if (!r) return unexpected(r.error());
    body = std::move(*r);
  } else if (html) {
    body = std::move(html);
  } else if (spec.text || attached.empty()) {
    // A message with no text at all still gets an (empty) text part to show.
    body = text_entity(spec.text ? *spec.text : std::string_view(), "plain");
  }
  entity root;
  const bool root_is_multipart =
      !attached.empty() || body->header.find("multipart/") != std::string::npos;
  if (!attached.empty()) {
    std::vector<entity> mixed;
    if (body) mixed.push_back(std::move(*body));
    for (auto& p : attached)
      mixed.push_back(std::move(p));
    auto r = multipart_entity("mixed", mixed);
    if (!r) return unexpected(r.error());
    root = std::move(*r);
  } else {
    root = std::move(*body);
  }

  std::string out = std::move(head);
  out += root.header;
  out += crlf; // RFC 5322 §2.1: an empty line separates the header from the body
  out += root.body;
  // End on a line break where the last line is a delimiter; a single text body is written
  // exactly as given so it reads back unchanged (SMTP adds the final CRLF if needed,
  // RFC 5321 §4.1.1.4).
  if (root_is_multipart) out += crlf;
  return out;
}

} // namespace mailkit::mime
