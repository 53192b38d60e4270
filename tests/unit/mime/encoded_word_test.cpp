// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/encoded_word.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace mime = mailkit::mime;

namespace {

struct text_case {
  std::string_view input;
  std::string_view expected;
};

class unfold_cases : public ::testing::TestWithParam<text_case> {};

TEST_P(unfold_cases, removes_line_breaks_keeps_wsp) {
  EXPECT_EQ(mime::unfold(GetParam().input), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(rfc5322, unfold_cases,
                         ::testing::Values(text_case{"a\r\n b", "a b"}, text_case{"a\n\tb", "a\tb"},
                                           text_case{" a\r\n  b\r\n", " a  b"},
                                           text_case{"a\rb", "ab"}, text_case{"plain", "plain"},
                                           text_case{"", ""}));

class unstructured : public ::testing::TestWithParam<text_case> {};

TEST_P(unstructured, decodes) {
  const std::string got = mime::decode_unstructured(GetParam().input);
  EXPECT_EQ(got, GetParam().expected) << "input: " << GetParam().input;
  EXPECT_TRUE(mailkit::is_valid_utf8(got));
}

INSTANTIATE_TEST_SUITE_P(
    rfc2047, unstructured,
    ::testing::Values(
        text_case{"Saying Hello\n", "Saying Hello"},
        // RFC 2047 §8 examples.
        text_case{"=?ISO-8859-1?Q?a?=", "a"}, text_case{"=?ISO-8859-1?Q?a?= b", "a b"},
        text_case{"=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"},
        text_case{"=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab"},
        text_case{"=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=", "ab"},
        text_case{"=?ISO-8859-1?Q?a_b?=", "a b"},
        text_case{"=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"},
        text_case{"=?iso-8859-1?q?caf=E9?=", "caf\xC3\xA9"},
        text_case{"=?UTF-8?B?w6k=?=", "\xC3\xA9"},
        // A fold and the blanks around it read as one space; other runs are kept.
        text_case{" Fwd: \n\tSaying \n Hello\r\n", "Fwd: Saying Hello"},
        text_case{"a;  b", "a;  b"},
        // A line break not followed by WSP ends the field: the next field is not part of it.
        text_case{" FWD: \n Saying Hello \nX-Mailer: 123\r\n", "FWD: Saying Hello"},
        // Multi-byte characters split across adjacent words in one charset are joined first.
        text_case{"=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\xE2\x82\xAC"},
        text_case{"=?utf-8?Q?=E2=82?=\r\n =?UTF-8?Q?=AC?=", "\xE2\x82\xAC"},
        text_case{"=?shift_jis?B?gg==?= =?shift_jis?B?sQ==?=", "\xE3\x81\x93"},
        // Different charsets are converted separately.
        text_case{"=?utf-8?Q?=E2=82?= =?iso-8859-1?Q?=AC?=", "\xEF\xBF\xBD\xEF\xBF\xBD\xC2\xAC"},
        // RFC 2231 §5 language suffix.
        text_case{"=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"},
        // Lenient readings mail clients apply.
        text_case{"=?iso-8859-1?q?this is some text?=", "this is some text"},
        text_case{"[SPAM]=?utf-8?B?SGk=?=", "[SPAM] Hi"},
        text_case{"Some text =?utf-8?Q?"
                  "?=here",
                  "Some text  here"},
        text_case{"=?ISO-8859-1?Q?a?==?ISO-8859-1?Q?b?=", "ab"},
        text_case{"=?utf-8?Q?Hello\r\n   \t  _there!?=", "Hello there!"},
        text_case{"=?utf-8?B?SGVs\r\n bG8=?=", "Hello"}, text_case{"=?utf-8?q?a=ZZ?=", "a=ZZ"},
        // Not encoded words: left as written.
        text_case{" let's = try =?iso-8859-1? to break\n =? the \n parser\n",
                  "let's = try =?iso-8859-1? to break =? the parser"},
        text_case{"=?utf-8?X?abc?=", "=?utf-8?X?abc?="},
        text_case{"=?utf-8?Q?abc", "=?utf-8?Q?abc"},
        text_case{"=?"
                  "?Q?abc?=",
                  "=?"
                  "?Q?abc?="},
        // Unknown charsets: UTF-8 bytes shown as such, others replaced.
        text_case{"=?x-unknown?Q?caf=C3=A9?=", "caf\xC3\xA9"},
        text_case{"=?x-unknown?Q?caf=E9?=", "caf\xEF\xBF\xBD"},
        // RFC 6532 raw UTF-8, and raw 8-bit that is not UTF-8 (read as Windows-1252).
        text_case{"\xE3\x83\x8F\xE3\x83\xAD\xE3\x83\xBC \n",
                  "\xE3\x83\x8F\xE3\x83\xAD\xE3\x83\xBC"},
        text_case{"caf\xE9 \x93ok\x94", "caf\xC3\xA9 \xE2\x80\x9Cok\xE2\x80\x9D"},
        // Decoded control characters stay (they are text), but output stays valid UTF-8.
        text_case{"=?utf-8?Q?=FF=FE?=", "\xEF\xBF\xBD\xEF\xBF\xBD"}, text_case{"", ""},
        text_case{" \r\n ", ""}));

TEST(decode_unstructured, many_unclosed_words_stay_linear) {
  // Each "=?" that never closes must not trigger a scan of the rest of the field (quadratic
  // time on a 1 MB header would hang this test).
  std::string raw;
  for (int i = 0; i < 200000; ++i)
    raw += "=?a?q?x ";
  EXPECT_EQ(mime::decode_unstructured(raw), raw.substr(0, raw.size() - 1));
}

TEST(decode_words, same_rules_without_unfolding) {
  EXPECT_EQ(mime::decode_words("=?utf-8?Q?Andr=C3=A9?= Pirard"), "Andr\xC3\xA9 Pirard");
  EXPECT_EQ(mime::decode_words("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
  EXPECT_EQ(mime::decode_words("John =?US-ASCII*EN?Q?Doe?="), "John Doe");
  EXPECT_EQ(mime::decode_words("  plain  "), "plain");
}

// What a reader gets back from encode_words: decode_unstructured(encode_words(x)) == x.
class encode_round_trip : public ::testing::TestWithParam<std::string_view> {};

void check_words(const std::string& encoded) {
  EXPECT_EQ(encoded.find('\r'), std::string::npos);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  std::size_t start = 0;
  while (start < encoded.size()) {
    std::size_t end = encoded.find(' ', start);
    if (end == std::string::npos) end = encoded.size();
    const std::string word = encoded.substr(start, end - start);
    // RFC 2047 §2: at most 75 characters per encoded word.
    EXPECT_LE(word.size(), 75u) << word;
    // Each word decodes on its own to valid UTF-8: no sequence was split between words.
    EXPECT_TRUE(mailkit::is_valid_utf8(mime::decode_unstructured(word))) << word;
    start = end + 1;
  }
}

TEST_P(encode_round_trip, unstructured) {
  const std::string_view text = GetParam();
  const std::string encoded = mime::encode_words(text);
  EXPECT_EQ(mime::decode_unstructured(encoded), text) << encoded;
  if (encoded != text) check_words(encoded);
}

TEST_P(encode_round_trip, phrase) {
  const std::string_view text = GetParam();
  const std::string encoded = mime::encode_phrase(text);
  EXPECT_EQ(mime::decode_words(encoded), text) << encoded;
  if (encoded == text) return;
  check_words(encoded);
  // RFC 2047 §5 (3): inside a Q word in a phrase only letters, digits and !*+-/ stay literal.
  for (char c : encoded) {
    const bool ok = mailkit::is_alpha(c) || mailkit::is_digit(c) ||
                    std::string_view("!*+-/=?_ ").find(c) != std::string_view::npos;
    EXPECT_TRUE(ok) << "character " << c << " in " << encoded;
  }
}

INSTANTIATE_TEST_SUITE_P(
    texts, encode_round_trip,
    ::testing::Values(
        "Hello world", "caf\xC3\xA9 au lait",
        "Gr\xC3\xBC\xC3\x9F"
        "e, \"Freunde\" (alle) <hi>",
        "=?utf-8?Q?looks_encoded?=", "under_score = equals? question",
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xE4\xBD\xA0\xE5\xA5\xBD\xEF"
        "\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95"
        "\x8C\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",
        "Emoji \xF0\x9F\x98\x80\xF0\x9F\x98\x81\xF0\x9F\x98\x82 and a long tail of ASCII words "
        "that goes on well past seventy-five characters so it must be split into several words",
        "tab\there", "\xC3\xA9"));

TEST(encode_words, ascii_is_unchanged_and_choice_of_q_or_b) {
  EXPECT_EQ(mime::encode_words("Plain subject"), "Plain subject");
  // Mostly ASCII: Q is shorter. Mostly non-Latin: B is shorter.
  EXPECT_EQ(mime::encode_words("Caf\xC3\xA9 au lait"), "=?utf-8?Q?Caf=C3=A9_au_lait?=");
  EXPECT_EQ(mime::encode_words("caf\xC3\xA9"), "=?utf-8?B?Y2Fmw6k=?=");
  EXPECT_EQ(mime::encode_words("\xE4\xBD\xA0\xE5\xA5\xBD"), "=?utf-8?B?5L2g5aW9?=");
  EXPECT_EQ(mime::encode_phrase("Andr\xC3\xA9 Pirard"), "=?utf-8?Q?Andr=C3=A9_Pirard?=");
  EXPECT_EQ(mime::encode_phrase("Andr\xC3\xA9 P."), "=?utf-8?B?QW5kcsOpIFAu?=");
}

} // namespace
