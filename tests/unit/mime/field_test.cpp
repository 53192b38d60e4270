// SPDX-License-Identifier: Apache-2.0
// parse_id_list (RFC 5322 §3.6.4, §4.5.4), parse_text_list (RFC 5322 §3.6.5, RFC 2369) and
// detail::field_body (RFC 5322 §2.2.3).
#include <mailkit/mime/field.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mime = mailkit::mime;
using strings = std::vector<std::string>;

namespace {

struct list_case {
  const char* rule;
  const char* raw;
  strings expected;
};

TEST(field, parse_id_list) {
  const list_case cases[] = {
      {"RFC 5322 §3.6.4 msg-id", "<1234@local.machine.example>", {"1234@local.machine.example"}},
      {"RFC 5322 §3.6.4 References: several, folded",
       "<a@x.test>\r\n <b@y.test>   <c@z.test>",
       {"a@x.test", "b@y.test", "c@z.test"}},
      {"RFC 5322 §3.6.4 comments between ids",
       "(first) <a@x.test> (second) <b@y.test>",
       {"a@x.test", "b@y.test"}},
      {"RFC 5322 §4.5.4 obsolete CFWS inside an id is not part of it",
       "<1234 @ local(blah) .machine .example>",
       {"1234@local.machine.example"}},
      {"RFC 5322 §4.5.4 obsolete In-Reply-To: phrases mixed in",
       "Your message of \"Mon, 1 Jul\" <a@x.test>",
       {"a@x.test"}},
      {"RFC 5322 §4.5.4 a quoted phrase containing '<' is not an id",
       "\"<no>\" <a@x.test>",
       {"a@x.test"}},
      {"lenient: no brackets", "  malformed@id.example \t ", {"malformed@id.example"}},
      {"lenient: one bare word", "m", {"m"}},
      {"lenient: free text without brackets has no id", "your message of Monday", {}},
      {"lenient: bare ids separated by spaces or commas",
       "a@x.test, b@y.test",
       {"a@x.test", "b@y.test"}},
      {"lenient: unclosed bracket", "<a@x.test", {"a@x.test"}},
      {"empty id", "<>", {}},
      {"empty", "", {}},
      {"RFC 5322 §2.2.3 a line break without WSP ends the field",
       "<a@x.test>\n\n <b@y.test>",
       {"a@x.test"}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(mime::parse_id_list(c.raw), c.expected) << c.rule;
}

TEST(field, parse_text_list) {
  const list_case cases[] = {
      {"RFC 5322 §3.6.5 keywords", "simple, list", {"simple", "list"}},
      {"RFC 5322 §3.6.5 trimmed, inner whitespace collapsed, folding removed",
       " multi \r\n list, \r\n with,  cr lf  \r\n",
       {"multi list", "with", "cr lf"}},
      {"RFC 5322 §3.6.5 empty items dropped", ",a,,  ,b,", {"a", "b"}},
      {"RFC 5322 §3.2.4 a comma inside a quoted phrase", "\"a, b\", c", {"\"a, b\"", "c"}},
      {"RFC 2047 §5 (3) encoded words in phrases",
       "=?utf-8?q?caf=C3=A9?=, tea",
       {"caf\xC3\xA9", "tea"}},
      {"RFC 2047 §6.2 adjacent encoded words joined",
       "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=\r\n , listed",
       {"ab", "listed"}},
      {"RFC 6532 §3.2 UTF-8",
       "\xE3\x83\x8F\xE3\x83\xAD\xE3\x83\xBC, x",
       {"\xE3\x83\x8F\xE3\x83\xAD\xE3\x83\xBC", "x"}},
      {"empty", "", {}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(mime::parse_text_list(c.raw), c.expected) << c.rule;
}

TEST(field, field_body) {
  struct body_case {
    const char* rule;
    const char* raw;
    const char* expected;
  };
  const body_case cases[] = {
      {"RFC 5322 §2.2.3 folding with CRLF", "a\r\n b\r\n", "a\r\n b"},
      {"RFC 5322 §2.2.3 folding with bare LF", "a\n\tb\n", "a\n\tb"},
      {"RFC 5322 §2.2.3 the next field is not part of this one", "a\r\nX-Other: b", "a"},
      {"an empty line ends the field", "a\n\n b", "a"},
      {"a bare CR not followed by WSP ends the field", "a\rb", "a"},
      {"no line break", "a b", "a b"},
      {"empty", "", ""},
  };
  for (const auto& c : cases)
    EXPECT_EQ(mime::detail::field_body(c.raw), c.expected) << c.rule;
}

TEST(field, hostile_input_is_bounded) {
  const std::string deep = std::string(200000, '(') + "<a@b>" + std::string(200000, ')');
  EXPECT_TRUE(mime::parse_id_list(deep).empty());
  EXPECT_EQ(mime::parse_id_list(std::string(200000, '<')).size(), 0u);
  EXPECT_TRUE(mime::parse_text_list(std::string(200000, ',')).empty());
  EXPECT_EQ(mime::parse_text_list(std::string(100000, '"')).size(), 1u);
}

} // namespace
