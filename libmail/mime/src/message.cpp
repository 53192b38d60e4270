// SPDX-License-Identifier: Apache-2.0
// The structural parser: one pass over the buffer, line by line in header sections and by a
// delimiter scan in bodies, building the part tree as offsets. The same code serves the one-shot
// parse() and the incremental parser: it works only on complete lines, and remembers where it
// stopped.
#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/core/quoted_printable.hpp>
#include <mailkit/mime/charset.hpp>
#include <mailkit/mime/encoded_word.hpp>
#include <mailkit/mime/error.hpp>
#include <mailkit/mime/field.hpp>
#include <mailkit/mime/message.hpp>

#include <algorithm>
#include <cstring>

namespace mailkit::mime {

std::string_view to_string(problem::kind k) noexcept {
  switch (k) {
  case problem::kind::missing_close_delimiter:
    return "missing close delimiter";
  case problem::kind::missing_boundary:
    return "multipart without boundary parameter";
  case problem::kind::no_body_part:
    return "multipart without any body part";
  case problem::kind::header_line_without_colon:
    return "header line without colon";
  case problem::kind::eight_bit_header:
    return "8-bit bytes in header that are not UTF-8";
  case problem::kind::nul_byte:
    return "NUL byte in header";
  case problem::kind::unknown_transfer_encoding:
    return "unknown Content-Transfer-Encoding";
  case problem::kind::header_field_limit:
    return "header field count limit reached";
  case problem::kind::header_size_limit:
    return "header size limit reached";
  case problem::kind::depth_limit:
    return "nesting depth limit reached";
  case problem::kind::part_limit:
    return "part count limit reached";
  case problem::kind::missing_header_separator:
    return "input ended inside a header section";
  }
  return "unknown problem";
}

transfer_encoding parse_transfer_encoding(std::string_view raw) noexcept {
  // RFC 2045 §6.1: the mechanism is a case-insensitive token; comments may follow.
  std::string_view v = trim(raw);
  const std::size_t end = v.find_first_of(" \t\r\n(;");
  if (end != std::string_view::npos) v = v.substr(0, end);
  if (v.empty() || iequals(v, "7bit")) return transfer_encoding::seven_bit;
  if (iequals(v, "8bit")) return transfer_encoding::eight_bit;
  if (iequals(v, "binary")) return transfer_encoding::binary;
  if (iequals(v, "quoted-printable")) return transfer_encoding::quoted_printable;
  if (iequals(v, "base64")) return transfer_encoding::base64;
  if (iequals(v, "x-uuencode") || iequals(v, "uuencode") || iequals(v, "x-uue"))
    return transfer_encoding::uuencode;
  return transfer_encoding::unknown;
}

namespace {

constexpr std::size_t npos = std::string_view::npos;

// uuencode (POSIX uuencode(1), the "x-uuencode" transfer encoding): "begin mode name", lines
// whose first character gives the byte count, then "end". Lines outside begin/end are ignored.
class uu_decoder {
public:
  void feed(std::string_view in, std::string& out) {
    std::size_t pos = 0;
    if (!carry_.empty()) {
      const std::size_t nl = in.find('\n');
      if (nl == npos) {
        carry_.append(in);
        return;
      }
      carry_.append(in.substr(0, nl + 1));
      line(trim_right(carry_), out);
      carry_.clear();
      pos = nl + 1;
    }
    while (pos < in.size()) {
      const std::size_t nl = in.find('\n', pos);
      if (nl == npos) {
        carry_.assign(in.substr(pos));
        return;
      }
      line(trim_right(in.substr(pos, nl - pos)), out);
      pos = nl + 1;
    }
  }
  void finish(std::string& out) {
    if (!carry_.empty()) line(trim_right(carry_), out);
    carry_.clear();
  }

private:
  void line(std::string_view l, std::string& out) {
    if (state_ == 0) {
      if (l.substr(0, 6) == "begin ") state_ = 1;
      return;
    }
    if (state_ == 2) return;
    if (l == "end") {
      state_ = 2;
      return;
    }
    if (l.empty()) return;
    const auto v = [](char c) { return static_cast<unsigned>((c - ' ') & 0x3F); };
    std::size_t n = v(l[0]);
    std::size_t i = 1;
    while (n > 0 && i < l.size()) {
      unsigned q[4] = {0, 0, 0, 0};
      for (int k = 0; k < 4; ++k)
        q[k] = (i + k < l.size()) ? v(l[i + k]) : 0;
      const unsigned char b[3] = {static_cast<unsigned char>((q[0] << 2) | (q[1] >> 4)),
                                  static_cast<unsigned char>((q[1] << 4) | (q[2] >> 2)),
                                  static_cast<unsigned char>((q[2] << 6) | q[3])};
      for (int k = 0; k < 3 && n > 0; ++k, --n)
        out.push_back(static_cast<char>(b[k]));
      i += 4;
    }
  }
  std::string carry_;
  int state_ = 0; // 0 before "begin", 1 inside, 2 after "end"
};

bool is_field_name_char(char c) {
  // RFC 5322 §3.6.8: ftext = %d33-57 / %d59-126 (printable US-ASCII except ':').
  const auto u = static_cast<unsigned char>(c);
  return u >= 33 && u <= 126 && c != ':';
}

} // namespace

// ---------------------------------------------------------------------------------------------
// message

message::message() : buffer_(std::make_unique<std::string>()) {}
message::message(message&&) noexcept = default;
message& message::operator=(message&&) noexcept = default;
message::~message() = default;

std::string_view message::raw() const noexcept {
  return *buffer_;
}

std::span<const header_field> message::headers(const part& p) const noexcept {
  return {fields_.data() + p.fields_begin, p.fields_end - p.fields_begin};
}

const header_field* message::field(std::string_view name, const part* p) const noexcept {
  for (const auto& f : headers(p ? *p : root()))
    if (iequals(f.name, name)) return &f;
  return nullptr;
}

std::optional<std::string> message::header(std::string_view name, const part* p) const {
  const header_field* f = field(name, p);
  if (!f) return std::nullopt;
  return f->decoded();
}

std::vector<std::string> message::get_all(std::string_view name, const part* p) const {
  std::vector<std::string> out;
  for (const auto& f : headers(p ? *p : root()))
    if (iequals(f.name, name)) out.push_back(f.decoded());
  return out;
}

std::string_view message::body(const part& p) const noexcept {
  return std::string_view(*buffer_).substr(p.body_begin, p.body_end - p.body_begin);
}

std::string_view message::header_bytes(const part& p) const noexcept {
  return std::string_view(*buffer_).substr(p.header_begin, p.body_begin - p.header_begin);
}

std::string decode_body(std::string_view body, transfer_encoding enc) {
  switch (enc) {
  case transfer_encoding::base64:
    return base64::decode_mime(body);
  case transfer_encoding::quoted_printable:
    return qp::decode(body);
  case transfer_encoding::uuencode: {
    uu_decoder d;
    std::string out;
    d.feed(body, out);
    d.finish(out);
    return out;
  }
  default:
    return std::string(body);
  }
}

std::string message::content(const part& p) const {
  return decode_body(body(p), p.encoding);
}

void message::content_to(const part& p, const std::function<void(std::string_view)>& sink) const {
  constexpr std::size_t chunk = std::size_t{64} * 1024;
  const std::string_view b = body(p);
  std::string out;
  out.reserve(chunk);
  auto each = [&](auto& decoder) {
    for (std::size_t i = 0; i < b.size(); i += chunk) {
      out.clear();
      decoder.feed(b.substr(i, chunk), out);
      if (!out.empty()) sink(out);
    }
    out.clear();
    decoder.finish(out);
    if (!out.empty()) sink(out);
  };
  switch (p.encoding) {
  case transfer_encoding::base64: {
    base64::decoder d;
    each(d);
    break;
  }
  case transfer_encoding::quoted_printable: {
    qp::decoder d;
    each(d);
    break;
  }
  case transfer_encoding::uuencode: {
    uu_decoder d;
    each(d);
    break;
  }
  default:
    for (std::size_t i = 0; i < b.size(); i += chunk)
      sink(b.substr(i, chunk));
  }
}

std::optional<std::string> message::charset(const part& p) const {
  if (auto cs = p.type.param("charset"); cs && !trim(*cs).empty()) return to_lower(trim(*cs));
  // RFC 2046 §4.1.2: the default charset of text/* is US-ASCII.
  if (p.type.type == "text") return std::string("us-ascii");
  return std::nullopt;
}

std::string message::text(const part& p) const {
  std::string bytes = content(p);
  const auto cs = charset(p);
  // RFC 2046 §4.1.2: US-ASCII, the default, is a 7-bit charset, so 8-bit bytes under it (no
  // charset parameter, or charset=us-ascii) mean the label is wrong, and RFC 8621 §4.1.4 lets a
  // reader use heuristics then. Such bytes that form valid UTF-8 are read as UTF-8, which they
  // almost always are (RFC 6532 mail, 8BITMIME senders that omit the label); decoding them by
  // the label (Windows-1252 for "us-ascii", as WHATWG maps it) would show mojibake. Other bytes
  // still go through the label's converter.
  if ((!cs || *cs == "us-ascii") && has_8bit(bytes) && is_valid_utf8(bytes)) return bytes;
  return to_utf8_lenient(bytes, cs ? std::string_view(*cs) : std::string_view("utf-8"));
}

std::optional<std::string> message::subject() const {
  return header("Subject");
}

std::optional<std::string> message::message_id() const {
  const header_field* f = field("Message-ID");
  if (!f) return std::nullopt;
  auto ids = parse_id_list(f->raw);
  if (ids.empty()) return std::nullopt;
  return std::move(ids.front());
}

std::optional<date_time> message::date() const {
  const header_field* f = field("Date");
  if (!f) return std::nullopt;
  return parse_date(f->raw);
}

address_list message::addresses(std::string_view field_name, const part* p) const {
  // Several fields of the same name (broken, but seen) are read as one list, in order.
  address_list all;
  for (const auto& f : headers(p ? *p : root())) {
    if (!iequals(f.name, field_name)) continue;
    address_list one = parse_address_list(f.raw);
    if (one.has_groups && !all.has_groups) {
      if (!all.mailboxes.empty())
        all.groups.push_back(group{std::nullopt, std::move(all.mailboxes)});
      all.mailboxes.clear();
      all.has_groups = true;
    }
    if (all.has_groups) {
      if (one.has_groups)
        for (auto& g : one.groups)
          all.groups.push_back(std::move(g));
      else if (!one.mailboxes.empty())
        all.groups.push_back(group{std::nullopt, std::move(one.mailboxes)});
    } else {
      for (auto& m : one.mailboxes)
        all.mailboxes.push_back(std::move(m));
    }
  }
  return all;
}

std::optional<std::string> message::filename(const part& p) const {
  // RFC 2183 §2.3: the disposition's filename; the Content-Type "name" is the older form.
  if (p.disposition)
    if (auto f = p.disposition->param("filename"); f && !f->empty()) return std::string(*f);
  if (auto n = p.type.param("name"); n && !n->empty()) return std::string(*n);
  return std::nullopt;
}

namespace {

// RFC 8621 §4.1.4: image/*, audio/* and video/* may be shown inline.
bool is_inline_media(const content_type& t) {
  return t.type == "image" || t.type == "audio" || t.type == "video";
}

struct structure_walk {
  const message& m;
  message::body_parts& out;

  // RFC 8621 §4.1.4 parseStructure(): text_body / html_body are null once an alternative branch
  // has decided against them, which is why they are pointers.
  void parse(const std::vector<std::size_t>& parts, std::string_view multipart_type,
             bool in_alternative, std::vector<const part*>* html_body,
             std::vector<const part*>* text_body) {
    const std::size_t text_length = text_body ? text_body->size() : npos;
    const std::size_t html_length = html_body ? html_body->size() : npos;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const part& p = m.parts()[parts[i]];
      const bool is_text = p.type.is("text", "plain");
      const bool is_html = p.type.is("text", "html");
      const bool attachment_disposition = p.disposition && p.disposition->type == "attachment";
      const bool is_inline =
          !attachment_disposition && (is_text || is_html || is_inline_media(p.type)) &&
          (i == 0 || (multipart_type != "related" && (is_inline_media(p.type) || !m.filename(p))));
      // A multipart/* part read as a leaf (no boundary parameter, no body part) has no sub-parts;
      // RFC 8621's test on the type alone would then show nothing of it. It is taken as the leaf
      // it is, so its text stays reachable, as an attachment (mail-parser does the same).
      if (p.is_multipart) {
        const std::string_view sub = p.type.subtype;
        parse(p.children, sub, in_alternative || sub == "alternative", html_body, text_body);
      } else if (is_inline) {
        if (multipart_type == "alternative") {
          // RFC 8621's pseudo-code pushes here unconditionally, but an alternative nested in a
          // related/mixed branch of an outer alternative can get a list already decided
          // against (null): the part then joins no body, as in the non-alternative branch.
          if (is_text) {
            if (text_body) text_body->push_back(&p);
          } else if (is_html) {
            if (html_body) html_body->push_back(&p);
          } else {
            out.attachments.push_back(&p);
          }
          continue;
        }
        if (in_alternative) {
          if (is_text) html_body = nullptr;
          if (is_html) text_body = nullptr;
        }
        if (text_body) text_body->push_back(&p);
        if (html_body) html_body->push_back(&p);
        if ((!text_body || !html_body) && is_inline_media(p.type)) out.attachments.push_back(&p);
      } else {
        out.attachments.push_back(&p);
      }
    }
    if (multipart_type == "alternative" && text_body && html_body) {
      // Only an HTML part was found: it serves as the text body too, and the other way round.
      if (text_length == text_body->size() && html_length != html_body->size())
        for (std::size_t i = html_length; i < html_body->size(); ++i)
          text_body->push_back((*html_body)[i]);
      if (html_length == html_body->size() && text_length != text_body->size())
        for (std::size_t i = text_length; i < text_body->size(); ++i)
          html_body->push_back((*text_body)[i]);
    }
  }
};

} // namespace

message::body_parts message::body_structure(const part& root) const {
  body_parts out;
  structure_walk w{*this, out};
  w.parse({root.index}, "mixed", false, &out.html_body, &out.text_body);
  return out;
}

std::vector<const part*> message::attachments() const {
  return body_structure().attachments;
}

std::string header_field::unfolded() const {
  return std::string(trim(unfold(raw)));
}
std::string header_field::decoded() const {
  return decode_unstructured(raw);
}

// ---------------------------------------------------------------------------------------------
// parser

namespace {

struct field_off {
  std::size_t offset = 0;    // start of the name
  std::size_t name_end = 0;  // before the colon, trailing WSP removed
  std::size_t raw_begin = 0; // after the colon
  std::size_t raw_end = 0;   // before the final line ending
  std::size_t end = 0;       // after the final line ending
};

struct frame {
  std::size_t part = 0; // the multipart
  std::string boundary;
  bool seen_delimiter = false; // false while in the preamble
};

enum class mode { headers, scan };

} // namespace

struct parser::state {
  limits lim;
  message msg;
  std::string& buf;
  std::vector<field_off> fields;
  std::vector<frame> frames;            // open multiparts, outermost first
  std::vector<std::size_t> open;        // parts whose body_end is not known yet, outermost first
  std::vector<std::size_t> closing_end; // scratch for on_delimiter: where each closed part ends
  mode m = mode::headers;
  std::size_t pos = 0;          // next unprocessed byte; always at a line start
  std::size_t cur = 0;          // the part whose header is being read
  std::size_t header_bytes = 0; // of the current header section
  bool field_pending = false;
  // Per part (same index): where a multipart's preamble ends and its epilogue begins, npos while
  // unknown. Kept as offsets while the buffer may still move.
  struct multipart_span {
    std::size_t preamble_end = npos;
    std::size_t epilogue_begin = npos;
  };
  std::vector<multipart_span> spans;
  bool header_fields_full = false;
  bool spent = false;
  error_code failure;

  explicit state(limits l) : lim(l), buf(*msg.buffer_) { new_part(std::nullopt, 0); }

  bool limit_hit(problem::kind k, std::size_t at) {
    if (lim.on_limit == limits::action::fail) {
      failure = make_error_code(errc::limit_exceeded);
      return true;
    }
    msg.problems_.push_back(problem{k, cur, at});
    return false;
  }

  std::size_t new_part(std::optional<std::size_t> parent, std::size_t at) {
    part p;
    p.index = msg.parts_.size();
    p.parent = parent;
    p.depth = parent ? msg.parts_[*parent].depth + 1 : 0;
    p.header_begin = p.body_begin = p.body_end = at;
    p.fields_begin = p.fields_end = fields.size();
    if (parent) msg.parts_[*parent].children.push_back(p.index);
    msg.parts_.push_back(std::move(p));
    spans.emplace_back();
    open.push_back(msg.parts_.size() - 1);
    cur = msg.parts_.size() - 1;
    m = mode::headers;
    header_bytes = 0;
    field_pending = false;
    header_fields_full = false;
    return cur;
  }

  // Returns the frame index (into frames) whose delimiter the line is, and whether it closes.
  // RFC 2046 §5.1.1: dash-boundary := "--" boundary, then "--" for the close delimiter, then
  // optional transport padding (LWSP) before the line ending, nothing else (a line that only
  // starts with "--" boundary is body text). RFC 2046 §5.1.2: outer boundary markers must be
  // recognized "at ANY level of inner nesting", so a delimiter of an enclosing multipart also
  // ends the inner ones.
  [[nodiscard]] std::optional<std::pair<std::size_t, bool>> delimiter(std::string_view line) const {
    if (line.size() < 2 || line[0] != '-' || line[1] != '-') return std::nullopt;
    const std::string_view rest = line.substr(2);
    for (std::size_t i = frames.size(); i-- > 0;) {
      const std::string& b = frames[i].boundary;
      if (rest.size() < b.size() || rest.compare(0, b.size(), b) != 0) continue;
      std::string_view tail = rest.substr(b.size());
      bool close = false;
      if (tail.size() >= 2 && tail[0] == '-' && tail[1] == '-') {
        close = true;
        tail.remove_prefix(2);
      }
      if (std::all_of(tail.begin(), tail.end(), [](char c) { return is_wsp(c) || c == '\r'; }))
        return std::make_pair(i, close);
    }
    return std::nullopt;
  }

  // Where a body ends before the delimiter line starting at `line_start`: the CRLF (or LF) just
  // before the delimiter belongs to it (RFC 2046 §5.1.1), but never before the body began.
  [[nodiscard]] std::size_t end_before(std::size_t line_start, std::size_t floor) const {
    std::size_t e = line_start;
    if (e > floor && buf[e - 1] == '\n') {
      --e;
      if (e > floor && buf[e - 1] == '\r') --e;
    }
    return std::max(e, floor);
  }

  void close_part(std::size_t idx, std::size_t at) {
    part& p = msg.parts_[idx];
    if (p.body_begin > at) {
      // A header cut short by a delimiter of an enclosing multipart: the body is empty, and the
      // line break after the last field is the one that belongs to the delimiter (RFC 2046
      // §5.1.1), so the field ends before it, inside the part.
      p.body_begin = at;
      for (std::size_t i = p.fields_begin; i < p.fields_end; ++i) {
        fields[i].end = std::min(fields[i].end, at);
        fields[i].raw_end = std::min(fields[i].raw_end, at);
      }
    }
    if (p.header_begin > at) p.header_begin = at;
    p.body_end = at;
  }

  // A delimiter of frames[fi] at [line_start, line_next).
  bool on_delimiter(std::size_t fi, bool close, std::size_t line_start, std::size_t line_next) {
    const std::size_t mp = frames[fi].part;
    if (!close && msg.parts_.size() >= lim.max_parts) {
      // The delimiter would open one part too many: it stays body text of the current part.
      if (limit_hit(problem::kind::part_limit, line_start)) return false;
      return true;
    }
    // Close every part nested inside the multipart (its current body part and anything in it).
    // A nested part never ends after its parent: when a part's header ends on the line just
    // before the delimiter, that line break belongs to the delimiter (RFC 2046 §5.1.1), so the
    // inner part is empty and ends where its parent does.
    std::size_t first_closed = open.size();
    while (first_closed > 0 && open[first_closed - 1] != mp)
      --first_closed;
    std::size_t ceiling = npos;
    closing_end.resize(open.size() - first_closed);
    for (std::size_t k = first_closed; k < open.size(); ++k) {
      part& p = msg.parts_[open[k]];
      const std::size_t floor =
          (m == mode::headers && open[k] == cur) ? p.header_begin : p.body_begin;
      closing_end[k - first_closed] = ceiling = std::min(ceiling, end_before(line_start, floor));
    }
    while (!open.empty() && open.back() != mp) {
      const std::size_t idx = open.back();
      close_part(idx, closing_end[open.size() - 1 - first_closed]);
      multipart_closed(idx, line_start);
      open.pop_back();
    }
    // Frames deeper than fi belong to parts just closed.
    frames.resize(fi + 1);
    frame& f = frames[fi];
    part& mpart = msg.parts_[mp];
    if (!f.seen_delimiter) {
      spans[mp].preamble_end = end_before(line_start, mpart.body_begin);
      f.seen_delimiter = true;
    }
    if (close) {
      // The epilogue runs to the end of the multipart's body, known when the multipart closes.
      spans[mp].epilogue_begin = line_next;
      frames.pop_back();
      m = mode::scan;
      return true;
    }
    new_part(mp, line_next);
    return true;
  }

  // Append a chunk and parse its complete lines. Past max_message_size only the bytes up to the
  // limit are taken: the error is then the first limit the message reaches read in order (a
  // structural limit within those bytes, else the size), which does not depend on where the
  // input was cut into chunks, nor on whether it came whole to parse().
  bool append(std::string_view chunk) {
    bool too_large = false;
    if (lim.max_message_size != 0 && buf.size() + chunk.size() > lim.max_message_size) {
      chunk = chunk.substr(0, lim.max_message_size - buf.size());
      too_large = true;
    }
    buf.append(chunk);
    if (!run(false)) return false;
    if (too_large) {
      failure = make_error_code(errc::message_too_large);
      return false;
    }
    return true;
  }

  [[nodiscard]] bool epilogue_started(std::size_t idx) const {
    return spans[idx].epilogue_begin != npos;
  }

  // A part that may be a multipart has just closed at `at` (its own close delimiter, an enclosing
  // delimiter or the end of input).
  void multipart_closed(std::size_t idx, std::size_t at) {
    part& p = msg.parts_[idx];
    if (!p.is_multipart) return;
    if (p.children.empty()) {
      // RFC 2046 §5.1.1: a multipart body holds at least one body part (multipart-body :=
      // [preamble CRLF] dash-boundary ... body-part ...). With none, there is no structure to
      // show: the part is read as a leaf whose content is its whole body, as Python's email and
      // mail-parser read it, rather than hiding the text in a preamble no reader displays.
      p.is_multipart = false;
      msg.problems_.push_back(problem{problem::kind::no_body_part, idx, at});
      return;
    }
    // RFC 2046 §5.1.1: the multipart ended without its close delimiter.
    if (!epilogue_started(idx))
      msg.problems_.push_back(problem{problem::kind::missing_close_delimiter, idx, at});
  }

  // The header section of `cur` ended; the body starts at `body_at`. With open_children false
  // (a header cut by a delimiter or by the end of input) a multipart or message part stays a
  // leaf: it has no body to hold children.
  bool end_header(std::size_t body_at, bool open_children = true) {
    part& p = msg.parts_[cur];
    p.body_begin = body_at;
    p.fields_end = fields.size();
    field_pending = false;
    const std::string_view b(buf);
    // Interpret the MIME fields of the part.
    const part* parent = p.parent ? &msg.parts_[*p.parent] : nullptr;
    bool have_type = false;
    for (std::size_t i = p.fields_begin; i < p.fields_end; ++i) {
      const field_off& f = fields[i];
      const std::string_view name = b.substr(f.offset, f.name_end - f.offset);
      const std::string_view raw = b.substr(f.raw_begin, f.raw_end - f.raw_begin);
      // RFC 2045 §9 / RFC 2183: when a field appears twice, the first one counts.
      if (!have_type && iequals(name, "Content-Type")) {
        content_type ct = parse_content_type(raw);
        if (!ct.type.empty() && !ct.subtype.empty()) {
          p.type = std::move(ct);
          p.type_defaulted = false;
          have_type = true;
        }
      } else if (!p.disposition && iequals(name, "Content-Disposition")) {
        content_type d = parse_content_type(raw);
        if (!d.type.empty()) p.disposition = std::move(d);
      } else if (iequals(name, "Content-Transfer-Encoding") &&
                 p.encoding == transfer_encoding::seven_bit) {
        p.encoding = parse_transfer_encoding(raw);
        if (p.encoding == transfer_encoding::unknown)
          msg.problems_.push_back(problem{problem::kind::unknown_transfer_encoding, cur, f.offset});
      }
    }
    if (!have_type) {
      // RFC 2046 §5.1.5: in a multipart/digest the default is message/rfc822; elsewhere RFC 2045
      // §5.2: text/plain; charset=us-ascii.
      if (parent && parent->type.is("multipart", "digest")) {
        p.type.type = "message";
        p.type.subtype = "rfc822";
      } else {
        p.type.type = "text";
        p.type.subtype = "plain";
        p.type.params.push_back(parameter{"charset", "us-ascii"});
      }
    }
    m = mode::scan;
    if (!open_children) return true;
    const bool encoded = p.encoding == transfer_encoding::base64 ||
                         p.encoding == transfer_encoding::quoted_printable ||
                         p.encoding == transfer_encoding::uuencode;
    if (p.type.type == "multipart") {
      const auto boundary = p.type.param("boundary");
      if (!boundary || boundary->empty()) {
        msg.problems_.push_back(problem{problem::kind::missing_boundary, cur, body_at});
        return true;
      }
      if (p.depth + 1 > lim.max_depth) {
        if (limit_hit(problem::kind::depth_limit, body_at)) return false;
        return true;
      }
      p.is_multipart = true;
      frames.push_back(frame{cur, std::string(*boundary), false});
      return true;
    }
    // RFC 2046 §5.2.1: message/rfc822 bodies are 7bit, 8bit or binary; an encoded one (seen in
    // the wild) is left as a leaf whose content() decodes to the message.
    if (p.type.type == "message" && (p.type.subtype == "rfc822" || p.type.subtype == "global") &&
        !encoded) {
      if (p.depth + 1 > lim.max_depth) {
        if (limit_hit(problem::kind::depth_limit, body_at)) return false;
        return true;
      }
      if (msg.parts_.size() >= lim.max_parts) {
        if (limit_hit(problem::kind::part_limit, body_at)) return false;
        return true;
      }
      const std::size_t parent_idx = cur;
      msg.parts_[parent_idx].is_message = true;
      new_part(parent_idx, body_at);
    }
    return true;
  }

  // The header section ended without its blank line: the line at `start` is the first body line.
  // It is scanned as body too, so when it is the delimiter of the part's own boundary (a
  // multipart header cut short, as in "Content-Type: multipart/mixed; boundary=b" directly
  // followed by "--b"), the body part it opens is found.
  bool body_starts_at(std::size_t start) {
    pos = start;
    return end_header(start);
  }

  // One complete header line [start, next) whose text (without line ending) is `text`.
  // Returns false on a fatal limit.
  bool header_line(std::string_view text, std::size_t start, std::size_t next) {
    part& p = msg.parts_[cur];
    // RFC 2046 §5.1.2: a delimiter of an enclosing multipart ends even a header that never got
    // its blank line.
    if (!frames.empty()) {
      if (auto d = delimiter(text)) {
        // The part's type still counts; its body is empty.
        if (!end_header(start, false)) return false;
        return on_delimiter(d->first, d->second, start, next);
      }
    }
    if (text.empty()) return end_header(next); // RFC 5322 §2.1: a blank line ends the header
    if (start == 0 && cur == 0 && text.substr(0, 5) == "From ") {
      // An mbox "From " separator before the first field: not part of the message header.
      p.header_begin = next;
      return true;
    }
    header_bytes += next - start;
    if (header_bytes > lim.max_header_bytes) {
      // The rest of the section is read as body: the consistent truncation.
      if (limit_hit(problem::kind::header_size_limit, start)) return false;
      return body_starts_at(start);
    }
    if (std::memchr(text.data(), '\0', text.size()) != nullptr)
      msg.problems_.push_back(problem{problem::kind::nul_byte, cur, start});
    if (is_wsp(text[0])) {
      // RFC 5322 §2.2.3: a line starting with WSP continues the previous field (unfolding).
      if (field_pending) {
        field_off& f = fields.back();
        f.raw_end = start + text.size();
        f.end = next;
        return true;
      }
      if (p.fields_begin == fields.size()) {
        // Leading whitespace before any field: not a header at all; the body starts here.
        msg.problems_.push_back(problem{problem::kind::header_line_without_colon, cur, start});
        return body_starts_at(start);
      }
      return true; // continuation of a field we did not index (over the field limit)
    }
    const std::size_t colon = text.find(':');
    std::size_t name_len = colon == npos ? 0 : colon;
    while (name_len > 0 && is_wsp(text[name_len - 1]))
      --name_len; // RFC 5322 §4.5: obs WSP
    const bool is_field =
        colon != npos && name_len > 0 &&
        std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(name_len),
                    is_field_name_char);
    if (!is_field) {
      // Not a field (RFC 5322 §2.2): readers take it as the first body line of a message that
      // lacks the blank separator line.
      msg.problems_.push_back(problem{problem::kind::header_line_without_colon, cur, start});
      return body_starts_at(start);
    }
    if (fields.size() - p.fields_begin >= lim.max_header_fields) {
      if (!header_fields_full) {
        header_fields_full = true;
        if (limit_hit(problem::kind::header_field_limit, start)) return false;
      }
      field_pending = false;
      return true;
    }
    field_off f;
    f.offset = start;
    f.name_end = start + name_len;
    f.raw_begin = start + colon + 1;
    f.raw_end = start + text.size();
    f.end = next;
    fields.push_back(f);
    field_pending = true;
    return true;
  }

  // Process complete lines (and, when final, the last incomplete one).
  bool run(bool final) {
    const std::string_view b(buf);
    while (pos < b.size()) {
      if (m == mode::headers) {
        const line_view l = line_at(b, pos);
        if (!l.terminated && !final) return true;
        const std::size_t start = pos;
        pos = l.next;
        if (!header_line(l.text, start, l.next)) return false;
        continue;
      }
      // Scanning a body for delimiters.
      if (frames.empty()) {
        pos = b.size(); // nothing can end this body but the end of input
        return true;
      }
      std::size_t i = pos;
      bool found = false;
      while (i < b.size()) {
        const void* hit = std::memchr(b.data() + i, '-', b.size() - i);
        if (hit == nullptr) {
          i = b.size();
          break;
        }
        const auto h = static_cast<std::size_t>(static_cast<const char*>(hit) - b.data());
        if ((h == pos || b[h - 1] == '\n') && h + 1 < b.size() && b[h + 1] == '-') {
          const line_view l = line_at(b, h);
          if (!l.terminated && !final) {
            pos = h; // decide when the line is complete
            return true;
          }
          if (auto d = delimiter(l.text)) {
            pos = l.next;
            found = true;
            if (!on_delimiter(d->first, d->second, h, l.next)) return false;
            break;
          }
          i = l.next;
          continue;
        }
        if (h + 1 >= b.size() && (h == pos || b[h - 1] == '\n') && !final) {
          pos = h; // a lone '-' at a line start at the end of input so far
          return true;
        }
        i = h + 1;
      }
      if (!found) {
        if (final) {
          pos = b.size();
          return true;
        }
        // Resume at the start of the last incomplete line: no delimiter lies before it.
        if (const void* nl = memrchr(b.data() + pos, '\n', b.size() - pos))
          pos = static_cast<std::size_t>(static_cast<const char*>(nl) - b.data()) + 1;
        return true;
      }
    }
    return true;
  }

  expected<message> finish() {
    if (!run(true)) return tl::unexpected(failure);
    const std::size_t end = buf.size();
    if (m == mode::headers) {
      // A body part cut inside its header; a root message of header fields only is normal.
      if (cur != 0)
        msg.problems_.push_back(problem{problem::kind::missing_header_separator, cur, end});
      if (!end_header(end, false)) return tl::unexpected(failure);
    }
    while (!open.empty()) {
      const std::size_t idx = open.back();
      close_part(idx, end);
      multipart_closed(idx, end);
      open.pop_back();
    }
    const std::string_view b(buf);
    // Views are made now that the buffer no longer moves.
    msg.fields_.reserve(fields.size());
    for (const field_off& f : fields) {
      header_field h;
      h.name = b.substr(f.offset, f.name_end - f.offset);
      h.raw = b.substr(f.raw_begin, f.raw_end - f.raw_begin);
      h.offset = f.offset;
      h.end = f.end;
      msg.fields_.push_back(h);
    }
    for (part& p : msg.parts_) {
      for (std::size_t i = p.fields_begin; i < p.fields_end; ++i) {
        const std::string_view raw = msg.fields_[i].raw;
        // RFC 6532 §3.2 allows UTF-8 only; other 8-bit bytes are read as Windows-1252.
        if (has_8bit(raw) && !is_valid_utf8(raw))
          msg.problems_.push_back(
              problem{problem::kind::eight_bit_header, p.index, msg.fields_[i].offset});
      }
      if (!p.is_multipart) continue;
      const multipart_span& sp = spans[p.index];
      // With no delimiter at all, the whole body is preamble.
      const std::size_t pre_end = sp.preamble_end != npos ? sp.preamble_end : p.body_end;
      p.preamble = b.substr(p.body_begin, pre_end - p.body_begin);
      if (sp.epilogue_begin != npos && sp.epilogue_begin <= p.body_end)
        p.epilogue = b.substr(sp.epilogue_begin, p.body_end - sp.epilogue_begin);
      else
        p.epilogue = b.substr(p.body_end, 0);
    }
    spent = true;
    return std::move(msg);
  }
};

parser::parser(limits lim) : st_(std::make_unique<state>(lim)) {}
parser::parser(parser&&) noexcept = default;
parser& parser::operator=(parser&&) noexcept = default;
parser::~parser() = default;

std::size_t parser::size() const noexcept {
  return st_ ? st_->buf.size() : 0;
}

void parser::reserve(std::size_t expected_size) {
  if (!st_ || st_->spent) return;
  if (st_->lim.max_message_size != 0)
    expected_size = std::min(expected_size, st_->lim.max_message_size);
  st_->buf.reserve(expected_size);
}

expected<void> parser::feed(std::string_view chunk) {
  if (!st_ || st_->spent || st_->failure) return fail(errc::invalid_argument);
  if (!st_->append(chunk)) return tl::unexpected(st_->failure);
  return {};
}

expected<message> parser::finish() {
  if (!st_ || st_->spent) return fail(errc::invalid_argument);
  if (st_->failure) return tl::unexpected(st_->failure);
  return st_->finish();
}

expected<message> parse(std::string data, const limits& lim) {
  parser p(lim);
  const bool too_large = lim.max_message_size != 0 && data.size() > lim.max_message_size;
  // As parser::append: past the size limit only the bytes within it are parsed, so a structural
  // limit reached first is the error, exactly as when the same bytes are fed in chunks.
  if (too_large) data.resize(lim.max_message_size);
  // Adopt the caller's bytes as the message buffer: no copy.
  p.st_->buf = std::move(data);
  if (!p.st_->run(false)) return tl::unexpected(p.st_->failure);
  if (too_large) return fail(errc::message_too_large);
  return p.finish();
}

expected<message> parse(std::string_view data, const limits& lim) {
  std::string copy;
  append_bytes(copy, data);
  return parse(std::move(copy), lim);
}

} // namespace mailkit::mime
