// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/core/clock.hpp>
#include <mailkit/mime/builder.hpp>
#include <mailkit/mime/encoded_word.hpp>
#include <mailkit/mime/error.hpp>
#include <mailkit/mime/message.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mime = mailkit::mime;

namespace {

// 2024-03-01 12:34:56 UTC.
const mailkit::manual_clock fixed_clock{
    mailkit::clock::time_point(std::chrono::seconds(1709296496))};

mime::mailbox mbox(std::string name, std::string addr) {
  return {name.empty() ? std::nullopt : std::optional<std::string>(std::move(name)),
          std::move(addr)};
}

std::string all_bytes() {
  std::string s;
  for (int round = 0; round < 3; ++round)
    for (int b = 0; b < 256; ++b)
      s.push_back(static_cast<char>(b));
  return s;
}

mime::message_spec full_spec() {
  mime::message_spec s;
  s.from = mbox("J\xC3\xBCrgen M\xC3\xBCller", "juergen@example.de");
  s.to = {mbox("\xE5\xB1\xB1\xE7\x94\xB0 \xE5\xA4\xAA\xE9\x83\x8E", "taro@example.jp"),
          mbox("Doe, John \"JD\"", "john@example.com"), mbox("", "bare@example.org")};
  s.cc = {mbox("Zo\xC3\xAB", "zoe@example.net")};
  s.reply_to = {mbox("Replies", "replies@example.de")};
  s.subject = "Gr\xC3\xBC\xC3\x9F"
              "e aus M\xC3\xBCnchen \xE2\x80\x94 a subject long enough to "
              "need several encoded words and folding \xF0\x9F\x98\x80";
  s.text = "Hallo,\r\n\r\nsch\xC3\xB6ne Gr\xC3\xBC\xC3\x9F"
           "e.\r\n-- \r\nJ\xC3\xBCrgen\r\n";
  s.html = "<p>Hallo, <img src=\"cid:logo@example.de\"> sch\xC3\xB6ne Gr\xC3\xBC\xC3\x9F"
           "e.</p>\r\n";
  mime::attachment bin;
  bin.filename = "Pr\xC3\xA4sentation \xE2\x80\x94 Q1 2024 (final, \"approved\") "
                 "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E.bin";
  bin.data = all_bytes();
  s.attachments.push_back(bin);
  mime::attachment txt;
  txt.filename = "notes.txt";
  txt.content_type = "text/plain; charset=utf-8";
  txt.data = "line one\r\nline two without final break";
  s.attachments.push_back(txt);
  mime::attachment logo;
  logo.filename = "logo.png";
  logo.content_type = "image/png";
  logo.data = std::string("\x89PNG\r\n\x1A\n\0\0\0\rIHDR", 16);
  logo.inline_ = true;
  logo.content_id = "logo@example.de";
  s.attachments.push_back(logo);
  s.headers = {{"X-Mailer", "mailkit test"}, {"X-Note", "r\xC3\xA9sum\xC3\xA9"}};
  return s;
}

const mime::part* find_by_filename(const mime::message& m, std::string_view name) {
  for (const auto* p : m.attachments())
    if (m.filename(*p).value_or("") == name) return p;
  return nullptr;
}

TEST(builder, round_trip_full_message) {
  const mime::message_spec spec = full_spec();
  auto built = mime::build(spec, fixed_clock);
  ASSERT_TRUE(built) << built.error().message();
  auto parsed = mime::parse(std::string(*built));
  ASSERT_TRUE(parsed) << parsed.error().message();
  const mime::message& m = *parsed;
  EXPECT_TRUE(m.problems().empty()) << *built;

  EXPECT_EQ(m.subject().value_or(""), spec.subject);
  EXPECT_EQ(m.addresses("From").flatten(), std::vector<mime::mailbox>{spec.from});
  EXPECT_EQ(m.addresses("To").flatten(), spec.to);
  EXPECT_EQ(m.addresses("Cc").flatten(), spec.cc);
  EXPECT_EQ(m.addresses("Reply-To").flatten(), spec.reply_to);
  EXPECT_TRUE(m.addresses("Bcc").empty());
  EXPECT_EQ(m.header("X-Mailer").value_or(""), "mailkit test");
  EXPECT_EQ(m.header("X-Note").value_or(""), "r\xC3\xA9sum\xC3\xA9");
  ASSERT_TRUE(m.date());
  EXPECT_EQ(m.date()->to_unix(), 1709296496);
  ASSERT_TRUE(m.message_id());
  EXPECT_TRUE(m.message_id()->ends_with("@example.de")) << *m.message_id();

  const auto bs = m.body_structure();
  ASSERT_EQ(bs.text_body.size(), 1u) << *built;
  ASSERT_EQ(bs.html_body.size(), 1u);
  EXPECT_EQ(m.text(*bs.text_body[0]), *spec.text);
  EXPECT_EQ(m.text(*bs.html_body[0]), *spec.html);

  // Every attachment, the inline image included, comes back with its name, type and bytes.
  ASSERT_EQ(m.attachments().size(), 3u) << *built;
  for (const auto& a : spec.attachments) {
    const mime::part* p = find_by_filename(m, a.filename);
    ASSERT_NE(p, nullptr) << a.filename << "\n" << *built;
    EXPECT_EQ(m.content(*p), a.data) << a.filename;
    EXPECT_EQ(p->type.mime_type(), mime::parse_content_type(a.content_type).mime_type());
    ASSERT_TRUE(p->disposition);
    EXPECT_EQ(p->disposition->type, a.inline_ ? "inline" : "attachment");
    if (a.content_id) {
      const auto* cid = m.field("Content-ID", p);
      ASSERT_NE(cid, nullptr);
      EXPECT_EQ(cid->unfolded(), "<" + *a.content_id + ">");
    }
  }
}

// Every line CRLF-terminated, none over 998 characters, header lines within 78 unless a single
// word is longer.
void check_lines(const std::string& msg) {
  std::size_t pos = 0;
  bool in_header = true;
  while (pos < msg.size()) {
    const std::size_t lf = msg.find('\n', pos);
    ASSERT_NE(lf, std::string::npos) << "last line unterminated";
    ASSERT_GT(lf, pos) << "bare LF at " << pos;
    ASSERT_EQ(msg[lf - 1], '\r') << "bare LF at " << lf;
    const std::string_view line(msg.data() + pos, lf - 1 - pos);
    EXPECT_EQ(line.find('\r'), std::string_view::npos) << "bare CR in " << line;
    EXPECT_LE(line.size(), 998u);
    if (line.empty()) in_header = false;
    if (in_header) {
      EXPECT_LE(line.size(), 78u) << line;
    }
    pos = lf + 1;
  }
}

TEST(builder, output_lines_are_well_formed) {
  auto built = mime::build(full_spec(), fixed_clock);
  ASSERT_TRUE(built);
  check_lines(*built);
}

// The shape of the tree for each combination of text, html, inline parts and attachments.
struct shape_case {
  bool text, html, inline_image, attachment;
  std::vector<std::string> types; // mime types of the parts, depth-first
};

class shapes : public ::testing::TestWithParam<shape_case> {};

TEST_P(shapes, tree) {
  const auto& c = GetParam();
  mime::message_spec s;
  s.from = mbox("", "a@example.com");
  s.to = {mbox("", "b@example.com")};
  s.subject = "shape";
  if (c.text) s.text = "text body\r\n";
  if (c.html) s.html = "<p>html body</p>\r\n";
  if (c.inline_image) {
    mime::attachment a{"i.png", "image/png", "PNGDATA", true, std::string("i@x")};
    s.attachments.push_back(a);
  }
  if (c.attachment)
    s.attachments.push_back({"a.bin", "application/octet-stream", "DATA", false, {}});
  auto built = mime::build(s, fixed_clock);
  ASSERT_TRUE(built);
  auto m = mime::parse(std::string(*built));
  ASSERT_TRUE(m);
  std::vector<std::string> types;
  for (const auto& p : m->parts())
    types.push_back(p.type.mime_type());
  EXPECT_EQ(types, c.types) << *built;
  EXPECT_TRUE(m->problems().empty()) << *built;
  check_lines(*built + (built->ends_with("\r\n") ? "" : "\r\n"));
}

INSTANTIATE_TEST_SUITE_P(
    combinations, shapes,
    ::testing::Values(
        shape_case{true, false, false, false, {"text/plain"}},
        shape_case{false, true, false, false, {"text/html"}},
        shape_case{false, false, false, false, {"text/plain"}},
        shape_case{true, true, false, false, {"multipart/alternative", "text/plain", "text/html"}},
        shape_case{true,
                   false,
                   false,
                   true,
                   {"multipart/mixed", "text/plain", "application/octet-stream"}},
        shape_case{false, false, false, true, {"multipart/mixed", "application/octet-stream"}},
        shape_case{false, true, true, false, {"multipart/related", "text/html", "image/png"}},
        shape_case{
            true,
            true,
            true,
            false,
            {"multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"}},
        shape_case{true,
                   true,
                   true,
                   true,
                   {"multipart/mixed", "multipart/alternative", "text/plain", "multipart/related",
                    "text/html", "image/png", "application/octet-stream"}},
        // Without HTML to reference it, an inline part is an ordinary part of the mixed body.
        shape_case{true, false, true, false, {"multipart/mixed", "text/plain", "image/png"}}));

struct encoding_case {
  std::string_view text;
  std::string_view encoding;
};

class text_encodings : public ::testing::TestWithParam<encoding_case> {};

TEST_P(text_encodings, chosen_and_reversible) {
  mime::message_spec s;
  s.from = mbox("", "a@example.com");
  s.text = std::string(GetParam().text);
  auto built = mime::build(s, fixed_clock);
  ASSERT_TRUE(built);
  auto m = mime::parse(std::string(*built));
  ASSERT_TRUE(m);
  const auto* cte = m->field("Content-Transfer-Encoding");
  ASSERT_NE(cte, nullptr);
  EXPECT_EQ(cte->unfolded(), GetParam().encoding);
  // Text comes back in canonical form: CRLF line breaks (RFC 2046 §4.1.1).
  std::string canonical;
  for (std::size_t i = 0; i < s.text->size(); ++i) {
    const char c = (*s.text)[i];
    if (c == '\n' && (i == 0 || (*s.text)[i - 1] != '\r'))
      canonical += "\r\n";
    else
      canonical.push_back(c);
  }
  EXPECT_EQ(m->text(m->root()), canonical);
  check_lines(*built + "\r\n");
}

INSTANTIATE_TEST_SUITE_P(
    rfc2045, text_encodings,
    ::testing::Values(
        encoding_case{"short ASCII lines\r\nonly\r\n", "7bit"},
        encoding_case{"bare LF line breaks\nare made CRLF\n", "7bit"}, encoding_case{"", "7bit"},
        encoding_case{"a line that is much longer than seventy-eight characters, which 7bit "
                      "should not carry as it is\r\n",
                      "quoted-printable"},
        encoding_case{"mostly ASCII with an accent: caf\xC3\xA9\r\n", "quoted-printable"},
        encoding_case{"trailing space \r\n.\r\nFrom the start\r\n", "7bit"},
        encoding_case{"tab\tand NUL \x01 control\r\n", "quoted-printable"},
        encoding_case{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE6\x96\x87\xE7\xAB\xA0"
                      "\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82\r\n",
                      "base64"}));

// Header injection and unrepresentable input: refused, nothing written.
struct bad_case {
  std::string_view what;
  std::function<void(mime::message_spec&)> spoil;
};

class refuses : public ::testing::TestWithParam<bad_case> {};

TEST_P(refuses, invalid_argument) {
  mime::message_spec s;
  s.from = mbox("Sender", "sender@example.com");
  s.to = {mbox("Rcpt", "rcpt@example.com")};
  s.subject = "ok";
  s.text = "ok";
  ASSERT_TRUE(mime::build(s, fixed_clock));
  GetParam().spoil(s);
  auto r = mime::build(s, fixed_clock);
  ASSERT_FALSE(r) << GetParam().what << ":\n" << *r;
  EXPECT_EQ(r.error(), mime::errc::invalid_argument) << GetParam().what;
}

INSTANTIATE_TEST_SUITE_P(
    injection, refuses,
    ::testing::Values(
        bad_case{"CRLF in subject", [](auto& s) { s.subject = "hi\r\nBcc: victim@example.com"; }},
        bad_case{"LF in subject", [](auto& s) { s.subject = "hi\nX: y"; }},
        bad_case{"CR in subject", [](auto& s) { s.subject = "hi\rX: y"; }},
        bad_case{"NUL in subject", [](auto& s) { s.subject = std::string("a\0b", 3); }},
        bad_case{"invalid UTF-8 subject", [](auto& s) { s.subject = "caf\xE9"; }},
        bad_case{"CRLF in from name", [](auto& s) { s.from.name = "x\r\nBcc: v@e.com"; }},
        bad_case{"LF in from address", [](auto& s) { s.from.addr = "a@b.com\nBcc: v@e.com"; }},
        bad_case{"from without address", [](auto& s) { s.from.addr.reset(); }},
        bad_case{"address with a space", [](auto& s) { s.to[0].addr = "a b@c.com"; }},
        bad_case{"address with brackets", [](auto& s) { s.to[0].addr = "a@b.com>, <c@d.com"; }},
        bad_case{"CRLF in to name", [](auto& s) { s.to[0].name = "x\r\n y"; }},
        bad_case{"LF in cc", [](auto& s) { s.cc = {mbox("", "c@d.com\n")}; }},
        bad_case{"LF in bcc even when not written",
                 [](auto& s) { s.bcc = {mbox("\n", "c@d.com")}; }},
        bad_case{"CRLF in reply-to", [](auto& s) { s.reply_to = {mbox("", "c@d.com\r\n")}; }},
        bad_case{"CRLF in header value",
                 [](auto& s) {
                   s.headers = {{"X-A", "v\r\nBcc: victim@example.com"}};
                 }},
        bad_case{"CRLF in header name",
                 [](auto& s) {
                   s.headers = {{"X-A\r\nBcc", "v"}};
                 }},
        bad_case{"colon in header name",
                 [](auto& s) {
                   s.headers = {{"X-A: b", "v"}};
                 }},
        bad_case{"space in header name",
                 [](auto& s) {
                   s.headers = {{"X A", "v"}};
                 }},
        bad_case{"empty header name",
                 [](auto& s) {
                   s.headers = {{"", "v"}};
                 }},
        bad_case{"duplicate of a generated field",
                 [](auto& s) {
                   s.headers = {{"Content-Type", "x/y"}};
                 }},
        bad_case{"duplicate Message-ID",
                 [](auto& s) {
                   s.headers = {{"message-id", "<a@b>"}};
                 }},
        bad_case{"CRLF in filename",
                 [](auto& s) {
                   s.attachments.push_back({"a\r\nX: y.txt", "text/plain", "", false, {}});
                 }},
        bad_case{"LF in content type",
                 [](auto& s) {
                   s.attachments.push_back({"a", "text/plain\nX: y", "", false, {}});
                 }},
        bad_case{"content type without subtype",
                 [](auto& s) {
                   s.attachments.push_back({"a", "text", "", false, {}});
                 }},
        bad_case{"multipart attachment",
                 [](auto& s) {
                   s.attachments.push_back({"a", "multipart/mixed", "", false, {}});
                 }},
        bad_case{"CRLF in content id",
                 [](auto& s) {
                   s.attachments.push_back({"a", "image/png", "", true, std::string("a\r\n@b")});
                 }},
        bad_case{
            "bracket in content id",
            [](auto&
                   s) { s.attachments.push_back({"a", "image/png", "", true, std::string("a>@b")}); }},
        bad_case{"CRLF in message id", [](auto& s) { s.message_id = "a@b\r\nX: y"; }},
        bad_case{"brackets in message id", [](auto& s) { s.message_id = "<a@b>"; }},
        bad_case{"invalid UTF-8 text", [](auto& s) { s.text = "\xFF"; }},
        bad_case{"invalid UTF-8 html", [](auto& s) { s.html = "\xC3"; }}),
    [](const auto& test_info) {
      std::string n;
      for (char c : test_info.param.what)
        n.push_back(mailkit::is_alpha(c) || mailkit::is_digit(c) ? c : '_');
      return n;
    });

TEST(builder, bcc_written_only_when_asked) {
  mime::message_spec s;
  s.from = mbox("", "a@example.com");
  s.bcc = {mbox("Hidden", "hidden@example.com")};
  s.text = "x";
  auto without = mime::build(s, fixed_clock);
  ASSERT_TRUE(without);
  EXPECT_EQ(without->find("hidden@example.com"), std::string::npos);
  s.include_bcc = true;
  auto with = mime::build(s, fixed_clock);
  ASSERT_TRUE(with);
  auto m = mime::parse(std::string(*with));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->addresses("Bcc").flatten(), s.bcc);
}

TEST(builder, explicit_date_and_message_id) {
  mime::message_spec s;
  s.from = mbox("", "a@example.com");
  s.text = "x";
  s.message_id = "unique.123@example.com";
  s.date = mime::date_time{2003, 7, 1, 10, 52, 37, 120};
  auto built = mime::build(s, fixed_clock);
  ASSERT_TRUE(built);
  auto m = mime::parse(std::string(*built));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->message_id().value_or(""), "unique.123@example.com");
  EXPECT_EQ(m->date(), s.date);
}

TEST(fold_header, folds_at_single_spaces_within_78_columns) {
  std::string value;
  for (int i = 0; i < 30; ++i)
    value += "word" + std::to_string(i) + " ";
  value += "end";
  const std::string folded = mime::fold_header("Subject", value);
  ASSERT_TRUE(folded.ends_with("\r\n"));
  std::size_t pos = 0;
  int lines = 0;
  while (pos < folded.size()) {
    const std::size_t end = folded.find("\r\n", pos);
    EXPECT_LE(end - pos, 78u);
    if (lines > 0) {
      EXPECT_EQ(folded[pos], ' ');
    }
    pos = end + 2;
    ++lines;
  }
  EXPECT_GT(lines, 1);
  // Unfolding gives the field back exactly.
  EXPECT_EQ(mime::unfold(folded), "Subject: " + value);
  EXPECT_EQ(mime::decode_unstructured(folded.substr(9)), value);
}

TEST(fold_header, keeps_short_values_and_unbreakable_words) {
  EXPECT_EQ(mime::fold_header("To", "a@b.com"), "To: a@b.com\r\n");
  const std::string word(100, 'x');
  EXPECT_EQ(mime::fold_header("X", word), "X: " + word + "\r\n");
  // Runs of blanks are never split: the fold would change them for some readers.
  const std::string spaced = std::string(70, 'a') + "   " + std::string(20, 'b');
  EXPECT_EQ(mime::fold_header("X", spaced), "X: " + spaced + "\r\n");
  EXPECT_EQ(mime::fold_header("X", ""), "X: \r\n");
}

TEST(message_id, random_and_well_formed) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = mime::make_message_id("example.com");
    ASSERT_TRUE(id.ends_with("@example.com")) << id;
    const std::string left = id.substr(0, id.find('@'));
    EXPECT_EQ(left.size(), 26u); // 128 bits in base32
    for (char c : left)
      EXPECT_TRUE(mailkit::is_alpha(c) || mailkit::is_digit(c)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  // A domain that could break the field is cleaned, an empty one replaced.
  EXPECT_TRUE(mime::make_message_id("exa mple.com>\r\n").ends_with("@example.com"));
  EXPECT_TRUE(mime::make_message_id("").ends_with("@localhost"));
}

TEST(builder, boundaries_differ_between_messages) {
  mime::message_spec s;
  s.from = mbox("", "a@example.com");
  s.text = "t";
  s.html = "<p>h</p>";
  auto a = mime::build(s, fixed_clock);
  auto b = mime::build(s, fixed_clock);
  ASSERT_TRUE(a && b);
  auto ma = mime::parse(std::string(*a));
  auto mb = mime::parse(std::string(*b));
  ASSERT_TRUE(ma && mb);
  EXPECT_NE(ma->root().type.param("boundary"), mb->root().type.param("boundary"));
}

} // namespace
