// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the MIME message parser (mailkit::mime::parse and mailkit::mime::parser).
//
// Each input is parsed whole, and again through the incremental parser in chunks whose sizes
// derive from the input; both must give the same tree, fields and problems. The tree must be
// consistent (offsets inside the buffer, header_begin <= body_begin <= body_end, parent and
// children indices agreeing, depth = parent's depth + 1, parts stored depth-first), and every
// accessor a mail client calls (content, content_to, text, filename, charset, body_structure,
// attachments, the decoded header convenience accessors) must run on every part. Decoded text
// must be well-formed UTF-8, as message.hpp promises.
//
// The limits are chosen from the input's hash: the defaults, tight limits that truncate, or
// tight limits that fail, so the limit paths are fuzzed as well.
#include "fuzz_support.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/message.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace mime = mailkit::mime;
using mailkit::fuzz::as_view;
using mailkit::fuzz::within;

// Offset of a view into the message buffer (npos for an empty view, whose address is free).
std::size_t offset_in(std::string_view v, std::string_view buf) {
  if (v.empty()) return std::string_view::npos;
  return static_cast<std::size_t>(v.data() - buf.data());
}

mime::limits pick_limits(std::uint64_t h, std::size_t input_size) {
  mime::limits lim;
  switch (h % 4) {
  case 0:
  case 1:
    break; // the defaults: what real callers use
  case 2:
    lim.max_header_fields = 1 + (h >> 8) % 8;
    lim.max_header_bytes = 16 + (h >> 16) % 256;
    lim.max_depth = 1 + (h >> 24) % 4;
    lim.max_parts = 1 + (h >> 32) % 8;
    break;
  default:
    lim.max_header_fields = 2 + (h >> 8) % 8;
    lim.max_header_bytes = 32 + (h >> 16) % 512;
    lim.max_depth = 1 + (h >> 24) % 4;
    lim.max_parts = 2 + (h >> 32) % 8;
    lim.on_limit = mime::limits::action::fail;
    if ((h >> 40) % 4 == 0 && input_size > 0) lim.max_message_size = 1 + (h >> 42) % input_size;
    break;
  }
  return lim;
}

void check_tree(const mime::message& m, std::string_view input, const mime::limits& lim) {
  const std::string_view buf = m.raw();
  MAILKIT_FUZZ_CHECK(buf == input);
  const auto& parts = m.parts();
  const auto& fields = m.all_fields();
  MAILKIT_FUZZ_CHECK(!parts.empty());
  MAILKIT_FUZZ_CHECK(parts.size() <= lim.max_parts || lim.max_parts == 0);
  MAILKIT_FUZZ_CHECK(!parts[0].parent && parts[0].depth == 0);

  for (std::size_t i = 0; i < parts.size(); ++i) {
    const mime::part& p = parts[i];
    MAILKIT_FUZZ_CHECK(p.index == i);
    MAILKIT_FUZZ_CHECK(p.header_begin <= p.body_begin);
    MAILKIT_FUZZ_CHECK(p.body_begin <= p.body_end);
    MAILKIT_FUZZ_CHECK(p.body_end <= buf.size());
    MAILKIT_FUZZ_CHECK(p.depth <= lim.max_depth);
    MAILKIT_FUZZ_CHECK(p.fields_begin <= p.fields_end && p.fields_end <= fields.size());
    MAILKIT_FUZZ_CHECK(p.fields_end - p.fields_begin <= lim.max_header_fields);
    MAILKIT_FUZZ_CHECK(within(p.preamble, buf) && within(p.epilogue, buf));
    MAILKIT_FUZZ_CHECK(within(m.body(p), buf) && within(m.header_bytes(p), buf));
    MAILKIT_FUZZ_CHECK(m.body(p).size() == p.body_end - p.body_begin);
    if (p.is_message) MAILKIT_FUZZ_CHECK(p.children.size() == 1);
    if (!p.is_multipart && !p.is_message) MAILKIT_FUZZ_CHECK(p.children.empty());

    if (p.parent) {
      const std::size_t up = *p.parent;
      MAILKIT_FUZZ_CHECK(up < i); // depth-first storage: a parent precedes its children
      MAILKIT_FUZZ_CHECK(p.depth == parts[up].depth + 1);
      bool listed = false;
      for (const std::size_t c : parts[up].children)
        listed = listed || c == i;
      MAILKIT_FUZZ_CHECK(listed);
      // A child lies inside its parent's body.
      MAILKIT_FUZZ_CHECK(p.header_begin >= parts[up].body_begin);
      MAILKIT_FUZZ_CHECK(p.body_end <= parts[up].body_end);
    }
    std::size_t previous_end = p.body_begin;
    for (const std::size_t c : p.children) {
      MAILKIT_FUZZ_CHECK(c > i && c < parts.size());
      MAILKIT_FUZZ_CHECK(parts[c].parent && *parts[c].parent == i);
      // Siblings are in order and do not overlap.
      MAILKIT_FUZZ_CHECK(parts[c].header_begin >= previous_end);
      previous_end = parts[c].body_end;
    }

    // Fields of a part: views into the buffer, in order, inside the part's header section.
    const auto hs = m.headers(p);
    MAILKIT_FUZZ_CHECK(hs.size() == p.fields_end - p.fields_begin);
    if (!hs.empty()) MAILKIT_FUZZ_CHECK(hs.data() == fields.data() + p.fields_begin);
    for (const mime::header_field& f : hs) {
      MAILKIT_FUZZ_CHECK(within(f.name, buf) && within(f.raw, buf));
      MAILKIT_FUZZ_CHECK(f.offset <= f.end && f.end <= buf.size());
      MAILKIT_FUZZ_CHECK(f.offset >= p.header_begin && f.end <= p.body_begin);
      MAILKIT_FUZZ_CHECK(mailkit::is_valid_utf8(f.decoded()));
      (void)f.unfolded();
    }
  }
  for (const mime::problem& pr : m.problems()) {
    MAILKIT_FUZZ_CHECK(pr.part < parts.size());
    MAILKIT_FUZZ_CHECK(pr.offset <= buf.size());
    MAILKIT_FUZZ_CHECK(!mime::to_string(pr.what).empty());
  }
}

void check_accessors(const mime::message& m) {
  for (const mime::part& p : m.parts()) {
    (void)m.filename(p);
    (void)m.charset(p);
    if (p.is_multipart || p.is_message) {
      (void)m.body_structure(p);
      continue;
    }
    const std::string content = m.content(p);
    std::string streamed;
    m.content_to(p, [&](std::string_view chunk) { streamed.append(chunk); });
    MAILKIT_FUZZ_CHECK(streamed == content);
    if (p.type.type == "text" || p.type_defaulted)
      MAILKIT_FUZZ_CHECK(mailkit::is_valid_utf8(m.text(p)));
  }
  (void)m.body_structure();
  (void)m.attachments();
  if (const auto s = m.subject()) MAILKIT_FUZZ_CHECK(mailkit::is_valid_utf8(*s));
  (void)m.message_id();
  (void)m.date();
  (void)m.addresses("From");
  (void)m.addresses("To");
  (void)m.get_all("Received");
}

bool same_content_type(const std::optional<mime::content_type>& a,
                       const std::optional<mime::content_type>& b) {
  return a.has_value() == b.has_value() && (!a || *a == *b);
}

// The incremental parser must build exactly the tree the one-shot parse builds.
void check_same(const mime::message& a, const mime::message& b) {
  const std::string_view ba = a.raw();
  const std::string_view bb = b.raw();
  MAILKIT_FUZZ_CHECK(ba == bb);
  MAILKIT_FUZZ_CHECK(a.parts().size() == b.parts().size());
  for (std::size_t i = 0; i < a.parts().size(); ++i) {
    const mime::part& x = a.parts()[i];
    const mime::part& y = b.parts()[i];
    MAILKIT_FUZZ_CHECK(x.parent == y.parent && x.children == y.children && x.depth == y.depth);
    MAILKIT_FUZZ_CHECK(x.header_begin == y.header_begin && x.body_begin == y.body_begin &&
                       x.body_end == y.body_end);
    MAILKIT_FUZZ_CHECK(x.fields_begin == y.fields_begin && x.fields_end == y.fields_end);
    MAILKIT_FUZZ_CHECK(x.type == y.type && x.type_defaulted == y.type_defaulted);
    MAILKIT_FUZZ_CHECK(same_content_type(x.disposition, y.disposition));
    MAILKIT_FUZZ_CHECK(x.encoding == y.encoding);
    MAILKIT_FUZZ_CHECK(x.is_multipart == y.is_multipart && x.is_message == y.is_message);
    MAILKIT_FUZZ_CHECK(x.preamble.size() == y.preamble.size() &&
                       offset_in(x.preamble, ba) == offset_in(y.preamble, bb));
    MAILKIT_FUZZ_CHECK(x.epilogue.size() == y.epilogue.size() &&
                       offset_in(x.epilogue, ba) == offset_in(y.epilogue, bb));
  }
  MAILKIT_FUZZ_CHECK(a.all_fields().size() == b.all_fields().size());
  for (std::size_t i = 0; i < a.all_fields().size(); ++i) {
    const mime::header_field& x = a.all_fields()[i];
    const mime::header_field& y = b.all_fields()[i];
    MAILKIT_FUZZ_CHECK(x.offset == y.offset && x.end == y.end);
    MAILKIT_FUZZ_CHECK(x.name.size() == y.name.size() &&
                       offset_in(x.name, ba) == offset_in(y.name, bb));
    MAILKIT_FUZZ_CHECK(x.raw.size() == y.raw.size() &&
                       offset_in(x.raw, ba) == offset_in(y.raw, bb));
  }
  MAILKIT_FUZZ_CHECK(a.problems().size() == b.problems().size());
  for (std::size_t i = 0; i < a.problems().size(); ++i) {
    const mime::problem& x = a.problems()[i];
    const mime::problem& y = b.problems()[i];
    MAILKIT_FUZZ_CHECK(x.what == y.what && x.part == y.part && x.offset == y.offset);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = as_view(data, size);
  const std::uint64_t h = mailkit::fuzz::input_hash(in);
  const mime::limits lim = pick_limits(h, in.size());

  auto whole = mime::parse(in, lim);

  mime::parser inc(lim);
  if ((h >> 48) & 1) inc.reserve(in.size());
  mailkit::error_code feed_error;
  for (const std::string_view piece : mailkit::fuzz::split(in, h ^ 0x5a5a5a5a5a5a5a5aULL)) {
    if (auto r = inc.feed(piece); !r) {
      feed_error = r.error();
      break;
    }
  }
  auto chunked =
      feed_error ? mailkit::expected<mime::message>(tl::unexpected(feed_error)) : inc.finish();

  // Both ways succeed or fail alike; failure is only allowed where a limit says so.
  MAILKIT_FUZZ_CHECK(whole.has_value() == chunked.has_value());
  if (!whole) {
    MAILKIT_FUZZ_CHECK(lim.on_limit == mime::limits::action::fail || lim.max_message_size != 0);
    MAILKIT_FUZZ_CHECK(whole.error() == chunked.error());
    return 0;
  }
  check_tree(*whole, in, lim);
  check_same(*whole, *chunked);
  check_accessors(*whole);

  // A moved message keeps its views valid (message.hpp: the buffer is heap-held).
  mime::message moved = std::move(*chunked);
  check_tree(moved, in, lim);
  return 0;
}
