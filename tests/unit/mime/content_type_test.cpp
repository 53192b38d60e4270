// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/content_type.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace mime = mailkit::mime;
using namespace std::string_view_literals;

namespace {

struct ct_case {
  std::string_view input;
  std::string_view type; // empty: nothing usable
  std::string_view subtype;
  std::vector<mime::parameter> params;
};

std::string describe(const mime::content_type& ct) {
  std::string out = "[" + ct.type + "][" + ct.subtype + "]";
  for (const auto& p : ct.params)
    out += " {" + p.name + "=" + p.value + "}";
  return out;
}

class parse_cases : public ::testing::TestWithParam<ct_case> {};

TEST_P(parse_cases, parses) {
  const auto& c = GetParam();
  const mime::content_type ct = mime::parse_content_type(c.input);
  EXPECT_EQ(ct.type, c.type) << c.input << " -> " << describe(ct);
  EXPECT_EQ(ct.subtype, c.subtype) << c.input << " -> " << describe(ct);
  EXPECT_EQ(ct.params, c.params) << c.input << " -> " << describe(ct);
  for (const auto& p : ct.params)
    EXPECT_TRUE(mailkit::is_valid_utf8(p.value));
}

// Rows taken from the header vectors of the mail-parser conformance suite where a reading is
// not obvious, plus RFC 2045/2231 examples and security rows.
INSTANTIATE_TEST_SUITE_P(
    rfc2045, parse_cases,
    ::testing::Values(
        ct_case{"text/plain; charset=us-ascii", "text", "plain", {{"charset", "us-ascii"}}},
        ct_case{"Text/HTML; Charset=\"UTF-8\"", "text", "html", {{"charset", "UTF-8"}}},
        ct_case{"image/ jpeg\n", "image", "jpeg", {}},
        ct_case{" message / rfc822\n", "message", "rfc822", {}},
        ct_case{"inline\n", "inline", "", {}},
        ct_case{" text/plain; charset =us-ascii (Plain text)\n",
                "text",
                "plain",
                {{"charset", "us-ascii"}}},
        ct_case{"(hello) text (plain) / (world) plain (eod); charset=us-ascii\n",
                "text",
                "plain",
                {{"charset", "us-ascii"}}},
        ct_case{"multipart/mixed; boundary=\"foo\n bar\"\n",
                "multipart",
                "mixed",
                {{"boundary", "foo bar"}}},
        ct_case{"text/plain/format;charset=us-ascii\n",
                "text",
                "plain/format",
                {{"charset", "us-ascii"}}},
        ct_case{"name=value\n", "name=value", "", {}}, ct_case{"test/\n", "test", "", {}},
        // Nothing usable: no type before the '/'.
        ct_case{"/invalid\n", "", "", {}}, ct_case{";charset=us-ascii\n", "", "", {}},
        ct_case{"/ ; name=value\n", "", "", {}}, ct_case{"", "", "", {}},
        // Names without values, values without names.
        ct_case{"text/plain ;;;;; = ;; name=\"value\"\n", "text", "plain", {{"name", "value"}}},
        ct_case{"text/plain; name=  \n", "text", "plain", {}},
        ct_case{"test/test; =\"value\"\n", "test", "test", {}},
        // A fold stands in for a missing ';'.
        ct_case{"message/external-body;\n    access-type=mail-server\n     "
                "server=\"listserv@bogus.bitnet\";\n",
                "message",
                "external-body",
                {{"access-type", "mail-server"}, {"server", "listserv@bogus.bitnet"}}},
        // Unterminated quoted strings run to the end of the field, folds keep their WSP.
        ct_case{"inva/lid; name=\"   \n    \"; test=test\n",
                "inva",
                "lid",
                {{"name", "       "}, {"test", "test"}}},
        ct_case{"inva/lid; name=\"   \n", "inva", "lid", {{"name", "   "}}},
        // Escapes inside quoted strings.
        ct_case{" inline; filename=\"  best \\\"file\\\" ever with \\\\ escaped ' stuff.  \"\n",
                "inline",
                "",
                {{"filename", "  best \"file\" ever with \\ escaped ' stuff.  "}}},
        // The field ends at a line break not followed by WSP.
        ct_case{" \t\r message/rfc822 \t ;charset=us-ascii\r\n\nX: y",
                "message",
                "rfc822",
                {{"charset", "us-ascii"}}},
        ct_case{"\n text/plain\r\n", "text", "plain", {}},
        // Raw UTF-8 is kept.
        ct_case{"\xC3\xA1/\xC3\xA9; \xC3\xA1=\xC3\xA9\n",
                "\xC3\xA1",
                "\xC3\xA9",
                {{"\xC3\xA1", "\xC3\xA9"}}}));

INSTANTIATE_TEST_SUITE_P(
    rfc2231, parse_cases,
    ::testing::Values(
        ct_case{"message/external-body; access-type=URL;\n    URL*0=\"ftp://\";\n    "
                "URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"\n",
                "message",
                "external-body",
                {{"access-type", "URL"},
                 {"url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"}}},
        ct_case{
            "application/x-stuff;\n     title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A\n",
            "application",
            "x-stuff",
            {{"title-language", "en-us"}, {"title", "This is ***fun***"}}},
        // Missing ';' between the type and the first parameter (a fold instead).
        ct_case{"application/x-stuff\n   title*0*=us-ascii'en'This%20is%20even%20more%20\n   "
                "title*1*=%2A%2A%2Afun%2A%2A%2A%20\n   title*2=\"isn't it!\"\n",
                "application",
                "x-stuff",
                {{"title-language", "en"}, {"title", "This is even more ***fun*** isn't it!"}}},
        // Senders that repeat "charset'" on every segment.
        ct_case{"application/pdf\n   filename*0*=iso-8859-1'es'%D1and%FA\n   "
                "filename*1*=iso-8859-1'%20r%E1pido\n   filename*2*=\"iso-8859-1' (versi%F3n "
                "\\'99 \\\"oficial\\\").pdf\"\n",
                "application",
                "pdf",
                {{"filename-language", "es"},
                 {"filename", "\xC3\x91"
                              "and\xC3\xBA r\xC3\xA1pido (versi\xC3\xB3n '99 "
                              "\"oficial\").pdf"}}},
        ct_case{"text/plain; name*=\"iso-8859-1''HasenundFr%F6sche.txt\"\n",
                "text",
                "plain",
                {{"name", "HasenundFr\xC3\xB6sche.txt"}}},
        // Segments out of order, duplicates, stray '%', a NUL byte: sorted, first wins, kept.
        ct_case{"test/encoded; key4*=us-ascii''foo; key*9999=ba%; key2*0=a; "
                "key3*0*=us-ascii'en'xyz; key*0=\"f\0oo\"; key2*1*=b%25; "
                "key3*1=plop%; key*1=baz; *=test; =test2;\n"sv,
                "test",
                "encoded",
                {{"key4", "foo"},
                 {"key2", "ab%"},
                 {"key3-language", "en"},
                 {"key3", "xyzplop%"},
                 {"key", std::string("f\0oobazba%", 10)}}},
        // Hostile names: stray '*'s, absurd section numbers.
        ct_case{"malicious/attempt; 1*2*=a; 3**=b; 4***=c; *5**6*=d;*****7*8*=e; "
                "9*10*11*12*13*14=f; 15*x***fff*===g;1 * 999999999999999999 *= h; 18 "
                "*=*=*=*=*==i;\n",
                "malicious",
                "attempt",
                {{"3", "b"},
                 {"4", "c"},
                 {"5", "d"},
                 {"15", "==g"},
                 {"1", "ha"},
                 {"18", "*=*=*=*==i"},
                 {"7", "e"},
                 {"9", "f"}}},
        // A UTF-8 character split between two segments is joined before conversion.
        ct_case{"attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC.txt",
                "attachment",
                "",
                {{"filename", "\xE2\x82\xAC.txt"}}},
        // The RFC 2231 form wins over the plain fallback, in either order.
        ct_case{"attachment; filename=\"fallback.txt\"; filename*=utf-8''r%C3%A9al.txt",
                "attachment",
                "",
                {{"filename", "r\xC3\xA9"
                              "al.txt"}}},
        ct_case{"attachment; filename*=utf-8''r%C3%A9al.txt; filename=\"fallback.txt\"",
                "attachment",
                "",
                {{"filename", "r\xC3\xA9"
                              "al.txt"}}},
        // Plain duplicates: the first wins.
        ct_case{"text/plain; charset=utf-8; charset=iso-8859-1",
                "text",
                "plain",
                {{"charset", "utf-8"}}},
        // Unknown charset: UTF-8 if it is, else Windows-1252.
        ct_case{"a/b; n*=x-unknown''%E9t%E9", "a", "b", {{"n", "\xC3\xA9t\xC3\xA9"}}}));

INSTANTIATE_TEST_SUITE_P(
    rfc2047_in_parameters, parse_cases,
    ::testing::Values(
        ct_case{" image/png;\n   name=\"=?utf-8?q?=E3=83=8F=E3=83=AD?=.png\"\n",
                "image",
                "png",
                {{"name", "\xE3\x83\x8F\xE3\x83\xAD.png"}}},
        // Quoted: a space between words is content; a folded split is not.
        ct_case{"image/jpeg;\n   name=\"=?iso-8859-1?B?4Q==?= =?utf-8?B?w6k=?= "
                "=?iso-8859-1?q?=ED?=.jpeg\"\n",
                "image",
                "jpeg",
                {{"name", "\xC3\xA1 \xC3\xA9 \xC3\xAD.jpeg"}}},
        ct_case{"image/jpeg;\n   name==?iso-8859-1?B?4Q==?= =?utf-8?B?w6k=?= "
                "=?iso-8859-1?q?=ED?=.jpeg\n",
                "image",
                "jpeg",
                {{"name", "\xC3\xA1\xC3\xA9\xC3\xAD.jpeg"}}},
        ct_case{"attachment;\r\n\tfilename=\"=?utf-8?Q?Auftragsbest=C3=A4tigung_X=2EPD?=\r\n "
                "=?utf-8?Q?F?=\"\r\n",
                "attachment",
                "",
                {{"filename", "Auftragsbest\xC3\xA4tigung X.PDF"}}},
        ct_case{
            " image/gif;\n   name==?iso-8859-6?b?5dHNyMcgyMfk2cfk5Q==?=.gif\n",
            "image",
            "gif",
            {{"name", "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9"
                      "\xD8\xA7\xD9\x84\xD9\x85.gif"}}}));

TEST(content_type, continuation_segments_are_bounded) {
  std::string raw = "application/octet-stream";
  for (int i = 0; i < 5000; ++i)
    raw += "; n*" + std::to_string(i) + "=x";
  const auto ct = mime::parse_content_type(raw);
  ASSERT_EQ(ct.params.size(), 1u);
  EXPECT_EQ(ct.params[0].value, std::string(1000, 'x'));
}

TEST(content_type, many_distinct_parameters_stay_linear) {
  std::string raw = "text/plain";
  for (int i = 0; i < 100000; ++i)
    raw += "; p" + std::to_string(i) + "=v";
  const auto ct = mime::parse_content_type(raw);
  ASSERT_EQ(ct.params.size(), 100000u);
  EXPECT_EQ(ct.params.back().name, "p99999");
}

TEST(content_type, unterminated_comment_and_garbage_do_not_crash) {
  EXPECT_EQ(mime::parse_content_type("text/plain; (unterminated").params.size(), 0u);
  EXPECT_EQ(mime::parse_content_type("text/plain; a=\"\\").params,
            (std::vector<mime::parameter>{{"a", "\\"}}));
  EXPECT_EQ(mime::parse_content_type(std::string_view("\0/\0", 3)).type, std::string(1, '\0'));
  EXPECT_EQ(mime::parse_content_type("text/plain; a=(b)c").params.size(), 0u);
}

TEST(content_type, members) {
  const auto ct = mime::parse_content_type("Text/Plain; Charset=utf-8; format=flowed");
  EXPECT_EQ(ct.mime_type(), "text/plain");
  EXPECT_TRUE(ct.is("text"));
  EXPECT_TRUE(ct.is("TEXT", "PLAIN"));
  EXPECT_FALSE(ct.is("text", "html"));
  EXPECT_FALSE(ct.is("multipart"));
  EXPECT_EQ(ct.param("CHARSET").value_or(""), "utf-8");
  EXPECT_EQ(ct.param("format").value_or(""), "flowed");
  EXPECT_FALSE(ct.param("boundary"));
  EXPECT_EQ(mime::parse_content_type("inline").mime_type(), "inline");
}

struct format_case {
  std::string_view name;
  std::string_view value;
  std::string_view expected;
};

class format_cases : public ::testing::TestWithParam<format_case> {};

TEST_P(format_cases, formats) {
  const auto& c = GetParam();
  EXPECT_EQ(mime::format_parameter(c.name, c.value), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    rfc2231, format_cases,
    ::testing::Values(format_case{"charset", "utf-8", "; charset=utf-8"},
                      format_case{"filename", "my file.pdf", "; filename=\"my file.pdf\""},
                      format_case{"filename", "a\"b\\c", "; filename=\"a\\\"b\\\\c\""},
                      format_case{"boundary", "=_x/y", "; boundary=\"=_x/y\""},
                      format_case{"name", "", "; name=\"\""},
                      format_case{"filename", "r\xC3\xA9sum\xC3\xA9.pdf",
                                  "; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"},
                      // Control characters are not written raw either.
                      format_case{"filename", "a\tb", "; filename*=utf-8''a%09b"}));

// parse(format(x)) == x, including long values split into RFC 2231 segments.
class format_round_trip : public ::testing::TestWithParam<std::string_view> {};

TEST_P(format_round_trip, parses_back) {
  const std::string header = "attachment" + mime::format_parameter("filename", GetParam());
  const auto ct = mime::parse_content_type(header);
  ASSERT_EQ(ct.params.size(), 1u) << header;
  EXPECT_EQ(ct.params[0].value, GetParam()) << header;
  // No segment is longer than a folded line can hold.
  std::size_t start = 0;
  while ((start = header.find("; ", start)) != std::string::npos) {
    const std::size_t end = header.find("; ", start + 2);
    EXPECT_LE((end == std::string::npos ? header.size() : end) - start, 80u) << header;
    start += 2;
  }
}

INSTANTIATE_TEST_SUITE_P(
    values, format_round_trip,
    ::testing::Values("report.pdf", "quarterly report (final).pdf", "it's \"quoted\".txt",
                      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x95\xE3\x82\xA1"
                      "\xE3\x82\xA4\xE3\x83\xAB\xE5\x90\x8D\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82"
                      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x95\xE3\x82\xA1"
                      "\xE3\x82\xA4\xE3\x83\xAB.txt",
                      "caf\xC3\xA9 100% 'special' *chars*.txt", "=?utf-8?Q?not_a_word?=.txt",
                      "\xF0\x9F\x98\x80.png"));

} // namespace
