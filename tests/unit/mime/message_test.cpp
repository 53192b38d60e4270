// SPDX-License-Identifier: Apache-2.0
// The structural parser: part tree, offsets, broken mail, limits, incremental feeding.
#include <mailkit/mime/error.hpp>
#include <mailkit/mime/message.hpp>

#include <gtest/gtest.h>

#include <string>

namespace mime = mailkit::mime;

namespace {

std::string crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n')
      out += "\r\n";
    else
      out += c;
  }
  return out;
}

mime::message must_parse(std::string_view data, const mime::limits& lim = {}) {
  auto m = mime::parse(data, lim);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message());
  return std::move(*m);
}

bool has_problem(const mime::message& m, mime::problem::kind k) {
  for (const auto& p : m.problems())
    if (p.what == k) return true;
  return false;
}

// A compact description of the tree: type, depth and decoded content of every part.
std::string shape(const mime::message& m) {
  std::string out;
  for (const auto& p : m.parts()) {
    out += std::string(p.depth, ' ') + p.type.mime_type();
    if (!p.is_multipart && !p.is_message) out += " [" + m.content(p) + "]";
    out += "\n";
  }
  return out;
}

constexpr std::string_view multipart_lf =
    "From: a@example.com\n"
    "Subject: test\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "This is the preamble.\n"
    "--outer\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "first part\n"
    "--outer \t\n" // RFC 2046 §5.1.1: transport padding after the boundary
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "\n"
    "plain (default type)\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "PGI+aGk8L2I+\n"
    "--inner--\n"
    "inner epilogue\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: embedded\n"
    "\n"
    "embedded body\n"
    "--outer--\n"
    "The epilogue.\n";

} // namespace

TEST(message, single_part_lf_and_crlf) {
  for (const std::string& data : {std::string("Subject: hi\nFrom: x@y\n\nbody\nline2\n"),
                                  crlf("Subject: hi\nFrom: x@y\n\nbody\nline2\n")}) {
    auto m = must_parse(data);
    ASSERT_EQ(m.parts().size(), 1u);
    const auto& root = m.root();
    EXPECT_EQ(root.type.mime_type(), "text/plain"); // RFC 2045 §5.2 default
    EXPECT_TRUE(root.type_defaulted);
    EXPECT_EQ(m.headers().size(), 2u);
    EXPECT_EQ(m.headers()[0].name, "Subject");
    EXPECT_EQ(m.headers()[0].raw, " hi");
    EXPECT_EQ(m.subject(), "hi");
    const bool is_crlf = data.find('\r') != std::string::npos;
    EXPECT_EQ(m.body(root), is_crlf ? "body\r\nline2\r\n" : "body\nline2\n");
    EXPECT_TRUE(m.problems().empty());
  }
}

TEST(message, multipart_tree_and_offsets) {
  for (const std::string& data : {std::string(multipart_lf), crlf(multipart_lf)}) {
    const std::string eol = data.find('\r') != std::string::npos ? "\r\n" : "\n";
    auto m = must_parse(data);
    EXPECT_EQ(shape(m), "multipart/mixed\n"
                        " text/plain [first part]\n"
                        " multipart/alternative\n"
                        "  text/plain [plain (default type)]\n"
                        "  text/html [<b>hi</b>]\n"
                        " message/rfc822\n"
                        "  text/plain [embedded body]\n");
    const auto& root = m.root();
    EXPECT_TRUE(root.is_multipart);
    EXPECT_EQ(root.children, (std::vector<std::size_t>{1, 2, 5}));
    EXPECT_EQ(root.preamble, "This is the preamble.");
    EXPECT_EQ(root.epilogue, "The epilogue." + eol);
    EXPECT_EQ(m.parts()[2].epilogue, "inner epilogue");
    EXPECT_EQ(m.parts()[2].children, (std::vector<std::size_t>{3, 4}));
    EXPECT_TRUE(m.parts()[5].is_message);
    EXPECT_EQ(m.parts()[6].parent, 5u);
    EXPECT_EQ(m.header("Subject", &m.parts()[6]), "embedded");
    EXPECT_EQ(m.charset(m.parts()[1]), "utf-8");
    EXPECT_EQ(m.charset(m.parts()[3]), "us-ascii");
    EXPECT_TRUE(m.problems().empty()) << mime::to_string(m.problems()[0].what);
    for (const auto& p : m.parts()) {
      EXPECT_LE(p.header_begin, p.body_begin);
      EXPECT_LE(p.body_begin, p.body_end);
      EXPECT_LE(p.body_end, data.size());
    }
  }
}

TEST(message, delimiter_needs_exact_boundary) {
  // "--abc-def" is not a delimiter of boundary "abc" (RFC 2046 §5.1.1: only LWSP may follow).
  const std::string data =
      "Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\n--abc-def\n--abcx\nx\n--abc--\n";
  auto m = must_parse(data);
  ASSERT_EQ(m.parts().size(), 2u);
  EXPECT_EQ(m.content(m.parts()[1]), "--abc-def\n--abcx\nx");
}

TEST(message, missing_close_delimiters) {
  // The inner multipart never closes; the outer delimiter ends it; the outer never closes either.
  const std::string data = "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: "
                           "multipart/mixed; boundary=i\n\n"
                           "--i\n\ninner\n--o\n\nsecond\n";
  auto m = must_parse(data);
  EXPECT_EQ(shape(m),
            "multipart/mixed\n multipart/mixed\n  text/plain [inner]\n text/plain [second\n]\n");
  int missing = 0;
  for (const auto& p : m.problems())
    if (p.what == mime::problem::kind::missing_close_delimiter) ++missing;
  EXPECT_EQ(missing, 2);
}

TEST(message, missing_boundary_parameter_is_a_leaf) {
  auto m = must_parse("Content-Type: multipart/mixed\n\n--x\n\nhello\n");
  ASSERT_EQ(m.parts().size(), 1u);
  EXPECT_FALSE(m.root().is_multipart);
  EXPECT_TRUE(has_problem(m, mime::problem::kind::missing_boundary));
}

TEST(message, header_line_without_colon_starts_body) {
  auto m = must_parse("Subject: x\nthis is not a header\nmore\n");
  EXPECT_EQ(m.headers().size(), 1u);
  EXPECT_EQ(m.body(m.root()), "this is not a header\nmore\n");
  EXPECT_TRUE(has_problem(m, mime::problem::kind::header_line_without_colon));
}

TEST(message, folded_fields_and_obsolete_whitespace_before_colon) {
  auto m = must_parse("Subject : folded\n  across\n\tlines\nX: y\n\nb");
  ASSERT_EQ(m.headers().size(), 2u);
  EXPECT_EQ(m.headers()[0].name, "Subject");
  EXPECT_EQ(m.headers()[0].raw, " folded\n  across\n\tlines");
  EXPECT_EQ(m.headers()[0].unfolded(), "folded  across\tlines");
  EXPECT_EQ(m.body(m.root()), "b");
}

TEST(message, headers_only_message) {
  auto m = must_parse("Subject: only\n");
  EXPECT_EQ(m.subject(), "only");
  EXPECT_EQ(m.body(m.root()), "");
  EXPECT_TRUE(m.problems().empty());
}

TEST(message, mbox_from_line_is_skipped) {
  auto m = must_parse("From someone@example.com Sat Jan  3 01:05:34 1996\nSubject: s\n\nb\n");
  ASSERT_EQ(m.headers().size(), 1u);
  EXPECT_EQ(m.subject(), "s");
}

TEST(message, digest_default_type_is_message_rfc822) {
  // RFC 2046 §5.1.5
  auto m = must_parse(
      "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody one\n--d--\n");
  ASSERT_EQ(m.parts().size(), 3u);
  EXPECT_EQ(m.parts()[1].type.mime_type(), "message/rfc822");
  EXPECT_EQ(m.header("Subject", &m.parts()[2]), "one");
}

TEST(message, transfer_encodings_decode) {
  auto m = must_parse("Content-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 =\nsoft  \nnext\n");
  EXPECT_EQ(m.content(m.root()), "caf\xC3\xA9 soft\nnext\n");
  auto b = must_parse("Content-Transfer-Encoding: BASE64\n\naGVs\nbG8=\n");
  EXPECT_EQ(b.content(b.root()), "hello");
  auto u =
      must_parse("Content-Transfer-Encoding: x-uuencode\n\nbegin 644 f.txt\n%:&5L;&\\`\n`\nend\n");
  EXPECT_EQ(u.content(u.root()), "hello");
  auto x = must_parse("Content-Transfer-Encoding: x-strange\n\nraw\n");
  EXPECT_EQ(x.content(x.root()), "raw\n");
  EXPECT_TRUE(has_problem(x, mime::problem::kind::unknown_transfer_encoding));
}

TEST(message, content_to_matches_content) {
  std::string payload;
  for (int i = 0; i < 200000; ++i)
    payload += static_cast<char>('A' + (i * 7) % 26);
  std::string body;
  // base64 of payload in 76-character lines, built by hand here to keep the test independent.
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string line;
  for (std::size_t i = 0; i + 3 <= payload.size(); i += 3) {
    const unsigned g = (unsigned(static_cast<unsigned char>(payload[i])) << 16) |
                       (unsigned(static_cast<unsigned char>(payload[i + 1])) << 8) |
                       static_cast<unsigned char>(payload[i + 2]);
    for (int k = 3; k >= 0; --k)
      line += alphabet[(g >> (6 * k)) & 63];
    if (line.size() == 76) {
      body += line + "\r\n";
      line.clear();
    }
  }
  body += line + "\r\n";
  const std::string expect = payload.substr(0, payload.size() / 3 * 3);
  auto m = must_parse(
      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body);
  EXPECT_EQ(m.content(m.root()), expect);
  std::string chunked;
  m.content_to(m.root(), [&](std::string_view c) { chunked.append(c); });
  EXPECT_EQ(chunked, expect);
}

TEST(message, incremental_feeding_gives_the_same_tree) {
  const std::string inputs[] = {std::string(multipart_lf), crlf(multipart_lf),
                                "Content-Type: multipart/mixed; boundary=-\n\n---\n\na\n-----\n",
                                "Subject: x\nbroken\n--b\n"};
  for (const std::string& data : inputs) {
    auto whole = must_parse(data);
    for (std::size_t step = 1; step <= data.size(); step = step < 8 ? step + 1 : step * 2) {
      mime::parser p;
      for (std::size_t i = 0; i < data.size(); i += step)
        ASSERT_TRUE(p.feed(std::string_view(data).substr(i, step)));
      auto m = p.finish();
      ASSERT_TRUE(m) << step;
      ASSERT_EQ(m->parts().size(), whole.parts().size()) << step;
      for (std::size_t k = 0; k < whole.parts().size(); ++k) {
        EXPECT_EQ(m->parts()[k].body_begin, whole.parts()[k].body_begin) << step;
        EXPECT_EQ(m->parts()[k].body_end, whole.parts()[k].body_end) << step;
        EXPECT_EQ(m->parts()[k].children, whole.parts()[k].children) << step;
      }
      EXPECT_EQ(m->problems().size(), whole.problems().size()) << step;
      EXPECT_EQ(shape(*m), shape(whole)) << step;
    }
  }
}

TEST(message, views_survive_moves) {
  auto m = must_parse("Subject: s\n\nb"); // short enough for a small-string buffer
  const std::string_view name = m.headers()[0].name;
  mime::message moved = std::move(m);
  EXPECT_EQ(name, "Subject");
  EXPECT_EQ(moved.headers()[0].name.data(), name.data());
}

TEST(message, depth_limit_truncates_or_fails) {
  std::string data;
  for (int i = 0; i < 10; ++i)
    data += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
            std::to_string(i) + "\n";
  data += "\nleaf\n";
  mime::limits lim;
  lim.max_depth = 3;
  auto m = must_parse(data, lim);
  std::size_t deepest = 0;
  for (const auto& p : m.parts())
    deepest = std::max(deepest, p.depth);
  EXPECT_EQ(deepest, 3u);
  EXPECT_TRUE(has_problem(m, mime::problem::kind::depth_limit));
  lim.on_limit = mime::limits::action::fail;
  auto f = mime::parse(data, lim);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error(), mime::errc::limit_exceeded);
  EXPECT_TRUE(mailkit::is_permanent(f.error()));
}

TEST(message, part_limit_keeps_a_consistent_tree) {
  std::string data = "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 20; ++i)
    data += "--b\n\npart " + std::to_string(i) + "\n";
  data += "--b--\n";
  mime::limits lim;
  lim.max_parts = 5;
  auto m = must_parse(data, lim);
  EXPECT_EQ(m.parts().size(), 5u);
  EXPECT_TRUE(has_problem(m, mime::problem::kind::part_limit));
  // The last part holds the rest, delimiters included: nothing is dropped.
  EXPECT_NE(m.content(m.parts()[4]).find("part 19"), std::string::npos);
}

TEST(message, header_limits) {
  std::string data;
  for (int i = 0; i < 50; ++i)
    data += "X-" + std::to_string(i) + ": v\n";
  data += "\nbody";
  mime::limits lim;
  lim.max_header_fields = 10;
  auto m = must_parse(data, lim);
  EXPECT_EQ(m.headers().size(), 10u);
  EXPECT_EQ(m.body(m.root()), "body");
  EXPECT_TRUE(has_problem(m, mime::problem::kind::header_field_limit));
  lim = {};
  lim.max_header_bytes = 100;
  auto s = must_parse(data, lim);
  EXPECT_TRUE(has_problem(s, mime::problem::kind::header_size_limit));
  EXPECT_LT(s.headers().size(), 20u);
}

TEST(message, message_size_limit) {
  mime::limits lim;
  lim.max_message_size = 10;
  auto r = mime::parse(std::string(11, 'a'), lim);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), mime::errc::message_too_large);
  mime::parser p(lim);
  EXPECT_TRUE(p.feed("0123456789"));
  EXPECT_FALSE(p.feed("x"));
}

TEST(message, attachments_and_filenames) {
  const std::string data = "Content-Type: multipart/mixed; boundary=m\n\n"
                           "--m\nContent-Type: text/plain\n\nbody\n"
                           "--m\nContent-Type: application/pdf; "
                           "name=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERg==\n"
                           "--m\nContent-Type: text/plain\nContent-Disposition: attachment; "
                           "filename=notes.txt\n\nnotes\n"
                           "--m\nContent-Type: image/png\nContent-Disposition: inline\n\nPNG\n"
                           "--m\nContent-Type: message/rfc822\n\nSubject: fwd\n\nx\n"
                           "--m--\n";
  auto m = must_parse(data);
  const auto att = m.attachments();
  ASSERT_EQ(att.size(), 3u);
  EXPECT_EQ(m.filename(*att[0]), "a.pdf");
  EXPECT_EQ(m.content(*att[0]), "%PDF");
  EXPECT_EQ(m.filename(*att[1]), "notes.txt");
  EXPECT_TRUE(att[2]->is_message);
  // RFC 8621 §4.1.4: an inline image in multipart/mixed is shown with the text, not attached.
  const auto s = m.body_structure();
  ASSERT_EQ(s.text_body.size(), 2u);
  EXPECT_EQ(s.text_body[0]->index, 1u);
  EXPECT_EQ(s.text_body[1]->type.mime_type(), "image/png");
  EXPECT_EQ(s.html_body.size(), 2u);
}

TEST(message, body_structure_alternative_and_related) {
  const std::string data = "Content-Type: multipart/alternative; boundary=a\n\n"
                           "--a\nContent-Type: text/plain\n\nplain\n"
                           "--a\nContent-Type: multipart/related; boundary=r\n\n"
                           "--r\nContent-Type: text/html\n\n<img src=cid:x>\n"
                           "--r\nContent-Type: image/png; name=x.png\nContent-ID: <x>\n\nPNG\n"
                           "--r--\n--a--\n";
  auto m = must_parse(data);
  const auto s = m.body_structure();
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(m.content(*s.text_body[0]), "plain");
  ASSERT_EQ(s.html_body.size(), 1u);
  EXPECT_EQ(s.html_body[0]->type.mime_type(), "text/html");
  ASSERT_EQ(s.attachments.size(), 1u); // the related image, referenced by cid
  EXPECT_EQ(m.filename(*s.attachments[0]), "x.png");
}

TEST(message, nul_and_eight_bit_headers_are_reported_not_fatal) {
  std::string data = "Subject: caf\xE9\nX-Nul: a";
  data += '\0';
  data += "b\n\nbody";
  auto m = must_parse(data);
  EXPECT_TRUE(has_problem(m, mime::problem::kind::eight_bit_header));
  EXPECT_TRUE(has_problem(m, mime::problem::kind::nul_byte));
  EXPECT_EQ(m.body(m.root()), "body");
}

// ---------------------------------------------------------------------------------------------
// Regressions from the stalwart corpus triage and the fuzzer (tests/unit/mime/stalwart_*).

namespace {

// The RFC 8621 §4.1.4 example: a list manager wrapped a text/HTML message with a header and a
// footer. Labels A..K are the part bodies.
constexpr std::string_view rfc8621_example =
    "Content-Type: multipart/mixed; boundary=m1\n\n"
    "--m1\nContent-Type: text/plain\nContent-Disposition: inline\n\nA\n"
    "--m1\nContent-Type: multipart/mixed; boundary=m2\n\n"
    "--m2\nContent-Type: multipart/alternative; boundary=alt\n\n"
    "--alt\nContent-Type: multipart/mixed; boundary=m3\n\n"
    "--m3\nContent-Type: text/plain\nContent-Disposition: inline\n\nB\n"
    "--m3\nContent-Type: image/jpeg\nContent-Disposition: inline\n\nC\n"
    "--m3\nContent-Type: text/plain\nContent-Disposition: inline\n\nD\n"
    "--m3--\n"
    "--alt\nContent-Type: multipart/related; boundary=rel\n\n"
    "--rel\nContent-Type: text/html\n\nE\n"
    "--rel\nContent-Type: image/jpeg\n\nF\n"
    "--rel--\n"
    "--alt--\n"
    "--m2\nContent-Type: image/jpeg\nContent-Disposition: attachment\n\nG\n"
    "--m2\nContent-Type: application/x-excel\n\nH\n"
    "--m2\nContent-Type: message/rfc822\n\nSubject: J\n\nJ\n"
    "--m2--\n"
    "--m1\nContent-Type: text/plain\nContent-Disposition: inline\n\nK\n"
    "--m1--\n";

std::string labels(const mime::message& m, const std::vector<const mime::part*>& parts) {
  std::string out;
  for (const mime::part* p : parts)
    out += p->is_message ? std::string("J") : m.content(*p);
  return out;
}

} // namespace

TEST(message, body_structure_follows_the_rfc_8621_example) {
  // RFC 8621 §4.1.4: "textBody => [ A, B, C, D, K ], htmlBody => [ A, E, K ],
  // attachments => [ C, F, G, H, J ]".
  auto m = must_parse(rfc8621_example);
  const auto s = m.body_structure();
  EXPECT_EQ(labels(m, s.text_body), "ABCDK");
  EXPECT_EQ(labels(m, s.html_body), "AEK");
  EXPECT_EQ(labels(m, s.attachments), "CFGHJ");
}

// libFuzzer crash-36fcd42cc1ac24a2080cdb0c6bb47bfbe1471fa3 (mime_message_fuzz): with a size limit
// below the input's size and tight structural limits that fail, parse() failed with
// message_too_large before reading anything, while the incremental parser, fed in pieces, reached
// the header size limit first and failed with limit_exceeded. The error is now the first limit the
// message reaches read in order, whichever way it arrives.
constexpr std::string_view fuzz_crash_36fcd42c =
    "Content-Type: multipart/mixed; boundary=\"1\"\n"
    "MIME-Version: 1.0\n"
    "\n"
    "--1\n"
    "Content-Type: text/pmain\n"
    "\n"
    "hello, world\n"
    "--1est@example.org>\n"
    "Subject: Hello world\n"
    "From: Test User <test@example.org>\n"
    "To: Another User <test2@example.org>\n"
    "Message-Id: <1.2.3.4@example>\n"
    "Mime-Version: 1.0\n"
    "Date: Sun, 23 May 2007 04:58:08 +0300\n"
    "Content-Type: multipart/signed; micalg=pgp-sha1;\n"
    "\tprotocol=\"application/pgp-signature\";\n"
    "\tboundary=\"=-GNQXLhuj24Pl1aCkk4/d\"\n"
    "\n"
    "--=-GNQXLhuj24Pl1aCkk4/d\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "There was a day=20\n"
    "a happy=20day\n"
    "\n"
    "--=-GNQXLhuj24Pl1aCkk4/d\n"
    "Content-Type: application/pgp-signature; name=signature.asc\n"
    "\n"
    "invalid\n"
    "\n"
    "Content-Type: multipart/mixed; boundary=\"1\"\n"
    "MIME-Version: 2.0\n"
    "\n"
    "--1\n"
    "Content-Type: text/plain\n"
    "\n"
    "hello, world\n"
    "--1\n"
    "Content-Type: multipart/mixed; boundary=\"1\"\n"
    "MIME-Version: abc\n"
    "\n"
    "--1\n"
    "Content-Type: text/plain\n"
    "\n"
    "hello, world\n"
    "--1\n"
    "Content-Type: multipart/mixed; boundary=\"1\"\n"
    "MIME-Version:\n"
    "\n"
    "--1\n"
    "Content-Type: text/plain\n"
    "\n"
    "hello, world\n"
    "--1\n";

TEST(message, size_limit_error_does_not_depend_on_chunking) {
  ASSERT_EQ(fuzz_crash_36fcd42c.size(), 979u);
  mime::limits lim; // what the fuzzer chose for this input
  lim.max_header_fields = 2;
  lim.max_header_bytes = 142;
  lim.max_depth = 1;
  lim.max_parts = 2;
  lim.max_message_size = 976;
  lim.on_limit = mime::limits::action::fail;
  const auto whole = mime::parse(fuzz_crash_36fcd42c, lim);
  ASSERT_FALSE(whole);
  EXPECT_EQ(whole.error(), mime::errc::limit_exceeded);
  for (std::size_t step : {1u, 7u, 64u, 578u, 768u, 976u, 977u, 979u}) {
    mime::parser p(lim);
    mailkit::error_code error;
    for (std::size_t i = 0; i < fuzz_crash_36fcd42c.size() && !error; i += step)
      if (auto r = p.feed(fuzz_crash_36fcd42c.substr(i, step)); !r) error = r.error();
    if (!error) {
      auto m = p.finish();
      ASSERT_FALSE(m) << step;
      error = m.error();
    }
    EXPECT_EQ(error, whole.error()) << step;
  }
  // With no structural limit in reach, the size limit is the error, however the input arrives.
  lim = {};
  lim.max_message_size = 976;
  const auto too_large = mime::parse(fuzz_crash_36fcd42c, lim);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error(), mime::errc::message_too_large);
  mime::parser p(lim);
  EXPECT_TRUE(p.feed(fuzz_crash_36fcd42c.substr(0, 500)));
  const auto r = p.feed(fuzz_crash_36fcd42c.substr(500));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), mime::errc::message_too_large);
}

TEST(message, multipart_without_body_parts_is_a_leaf) {
  // RFC 2046 §5.1.1: a multipart body holds at least one body part. Without any delimiter of its
  // own (stalwart malformed/002), or with only the close delimiter, there is no structure: the
  // text is the part's content, not a preamble no reader shows.
  for (const std::string& data :
       {std::string("Content-Type: multipart/mixed; boundary=\"ab\"\n\nbody\n"),
        crlf("Content-Type: multipart/mixed; boundary=\"ab\"\n\nbody\n"),
        std::string("Content-Type: multipart/mixed; boundary=b\n\npre\n--b--\nepi\n")}) {
    auto m = must_parse(data);
    ASSERT_EQ(m.parts().size(), 1u);
    EXPECT_FALSE(m.root().is_multipart);
    EXPECT_EQ(m.root().type.mime_type(), "multipart/mixed");
    EXPECT_EQ(m.body(m.root()),
              data.substr(data.find("\n\n") != std::string::npos ? data.find("\n\n") + 2
                                                                 : data.find("\r\n\r\n") + 4));
    EXPECT_TRUE(has_problem(m, mime::problem::kind::no_body_part));
    EXPECT_FALSE(has_problem(m, mime::problem::kind::missing_close_delimiter));
    // Its content is reachable: it is listed as an attachment.
    ASSERT_EQ(m.attachments().size(), 1u);
  }
  // An inner multipart ended by the outer delimiter before any of its own (stalwart
  // malformed/001: "--ab" is not a delimiter of boundary "a").
  auto m = must_parse("Content-Type: multipart/mixed; boundary=\"ab\"\n\n--ab\n"
                      "Content-Type: multipart/mixed; boundary=\"a\"\n\n--ab\n"
                      "Content-Type: text/plain\n\n--a\n\n");
  EXPECT_EQ(shape(m), "multipart/mixed\n multipart/mixed []\n text/plain [--a\n\n]\n");
  EXPECT_FALSE(m.parts()[1].is_multipart);
}

TEST(message, header_cut_short_by_its_own_delimiter_keeps_the_body_part) {
  // Stalwart malformed/007: a multipart header without its blank line, directly followed by the
  // first delimiter of its own boundary. The line ends the header (it is no field) and, being the
  // body's first line, is also that delimiter: the body part it opens is found.
  const std::string data = "Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\n"
                           "Content-Type: multipart/mixed; boundary=\"ab\"\nMIME-Version: 1.0\n"
                           "--ab\nContent-Type: text/plain\n\nx\n--ab--\n--a--\n";
  for (const std::string& d : {data, crlf(data)}) {
    auto m = must_parse(d);
    EXPECT_EQ(shape(m), "multipart/mixed\n multipart/mixed\n  text/plain [x]\n");
    EXPECT_EQ(m.headers(m.parts()[1]).size(), 2u);
    EXPECT_TRUE(has_problem(m, mime::problem::kind::header_line_without_colon));
    EXPECT_FALSE(has_problem(m, mime::problem::kind::missing_close_delimiter));
  }
  // The same for a header cut by a non-field line that is no delimiter: the body starts there.
  auto m = must_parse("Content-Type: multipart/mixed; boundary=b\nnot a field\n--b\n\nx\n--b--\n");
  EXPECT_EQ(shape(m), "multipart/mixed\n text/plain [x]\n");
  EXPECT_EQ(m.root().preamble, "not a field");
}

TEST(message, header_cut_by_an_enclosing_delimiter_stays_inside_its_part) {
  // Found by the fuzz invariants on stalwart thirdparty/015 (CRLF): an embedded message whose
  // header runs into the outer delimiter. The line break before the delimiter belongs to the
  // delimiter (RFC 2046 §5.1.1), so the message ends before it; the last field must end there
  // too, not after the line break, outside its part.
  const std::string data = crlf("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
                                "Content-Type: message/rfc822\n\n"
                                "Subject: inner\nContent-Type: multipart/alternative; boundary=i\n"
                                "--o--\n");
  auto m = must_parse(data);
  ASSERT_EQ(m.parts().size(), 3u);
  const mime::part& inner = m.parts()[2];
  EXPECT_EQ(m.header("Subject", &inner), "inner");
  EXPECT_FALSE(inner.is_multipart); // its header was cut: no body to hold children
  for (const mime::part& p : m.parts()) {
    for (const mime::header_field& f : m.headers(p)) {
      EXPECT_GE(f.offset, p.header_begin);
      EXPECT_LE(f.end, p.body_begin) << f.name;
    }
    if (p.parent) {
      EXPECT_LE(p.body_end, m.parts()[*p.parent].body_end);
    }
  }
  EXPECT_EQ(m.headers(inner).back().raw, " multipart/alternative; boundary=i");
}

TEST(message, text_without_charset_that_is_utf8_reads_as_utf8) {
  // Stalwart thirdparty/010: 8-bit text with no charset parameter. RFC 2046 §4.1.2's default,
  // US-ASCII, is 7-bit, so the label is wrong; valid UTF-8 is read as UTF-8 (RFC 8621 §4.1.4
  // allows such heuristics), not as Windows-1252 mojibake.
  const std::string utf8 = "\xE4\xBA\xBA\xE6\xA8\xA9"; // "人権"
  auto m = must_parse("Content-Transfer-Encoding: 8bit\n\n" + utf8);
  EXPECT_EQ(m.charset(m.root()), "us-ascii");
  EXPECT_EQ(m.text(m.root()), utf8);
  auto labelled = must_parse("Content-Type: text/plain; charset=us-ascii\n\n" + utf8);
  EXPECT_EQ(labelled.text(labelled.root()), utf8);
  // Bytes that are not UTF-8 still go through the label's converter (us-ascii reads as
  // Windows-1252, as WHATWG maps it), and a declared charset is never second-guessed.
  auto latin = must_parse("Content-Type: text/plain\n\ncaf\xE9");
  EXPECT_EQ(latin.text(latin.root()), "caf\xC3\xA9");
  auto declared = must_parse("Content-Type: text/plain; charset=iso-8859-1\n\n" + utf8);
  EXPECT_NE(declared.text(declared.root()), utf8);
}

TEST(message, alternative_nested_under_a_decided_branch_does_not_crash) {
  // Found by mime_message_fuzz: an alternative inside a mixed part inside an alternative, after
  // an inline part of that mixed branch decided against the HTML body (RFC 8621 §4.1.4
  // parseStructure sets it to null). The nested alternative's HTML part then joins no body, and
  // the outer alternative, having found only text, uses the text parts as its HTML body too.
  auto m = must_parse("Content-Type: multipart/alternative; boundary=a\n\n"
                      "--a\nContent-Type: multipart/mixed; boundary=b\n\n"
                      "--b\nContent-Type: text/plain\n\nplain\n"
                      "--b\nContent-Type: multipart/alternative; boundary=c\n\n"
                      "--c\nContent-Type: text/html\n\n<p>x</p>\n"
                      "--c\nContent-Type: text/plain\n\ny\n"
                      "--c--\n--b--\n--a--\n");
  const auto s = m.body_structure();
  ASSERT_EQ(s.text_body.size(), 2u);
  EXPECT_EQ(s.html_body, s.text_body);
  EXPECT_TRUE(s.attachments.empty());
}
