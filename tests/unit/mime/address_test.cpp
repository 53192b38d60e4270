// SPDX-License-Identifier: Apache-2.0
// parse_address_list, address_list::flatten and format_mailbox (RFC 5322 §3.4, §4.4; RFC 2047
// §5; RFC 6532 §3.2).
#include <mailkit/mime/address.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace mime = mailkit::mime;
using mime::mailbox;

namespace {

std::optional<std::string> none = std::nullopt;
mailbox mb(std::optional<std::string> name, std::optional<std::string> addr) {
  return mailbox{std::move(name), std::move(addr)};
}

struct list_case {
  const char* rule;
  const char* raw;
  std::vector<mailbox> expected;
};

const list_case list_cases[] = {
    {"RFC 5322 §3.4 addr-spec", "jdoe@example.org", {mb(none, "jdoe@example.org")}},
    {"RFC 5322 §3.4 name-addr",
     "John Doe <jdoe@example.org>",
     {mb("John Doe", "jdoe@example.org")}},
    {"RFC 5322 §3.2.4 quoted display name with specials",
     R"("Giant; \"Big\" Box" <box@example.net>)",
     {mb(R"(Giant; "Big" Box)", "box@example.net")}},
    {"RFC 5322 §3.4 list, empty elements ignored (§4.4 obs-addr-list)",
     "a@x.test, , <b@y.test>,Who? <c@z.test>",
     {mb(none, "a@x.test"), mb(none, "b@y.test"), mb("Who?", "c@z.test")}},
    {"RFC 5322 §3.2.2 comments become the name", "<a@b.test> (Alice)", {mb("Alice", "a@b.test")}},
    {"RFC 5322 §3.2.2 comment appended to a phrase",
     "Bob (work) <b@c.test>",
     {mb("Bob (work)", "b@c.test")}},
    {"RFC 5322 §3.2.2 nested comments keep their inner parentheses",
     "x@y.test (a (b) c)",
     {mb("a (b) c", "x@y.test")}},
    {"RFC 5322 §4.4 obs-route kept", "<@relay.test:u@d.test>", {mb(none, "@relay.test:u@d.test")}},
    {"RFC 5322 §4.4 CFWS inside an angle-addr is not part of it",
     "<u (c) @ d . test >",
     {mb("c", "u@d.test")}},
    {"RFC 5322 §3.4.1 quoted local part kept when needed",
     R"(<"john doe"@x.test>)",
     {mb(none, R"("john doe"@x.test)")}},
    {"RFC 5322 §3.4.1 quotes dropped when not needed",
     R"(<"john"@x.test>)",
     {mb(none, "john@x.test")}},
    {"RFC 2047 §5 (3) encoded display name",
     "=?utf-8?q?J=C3=B6rg?= <j@x.test>",
     {mb("J\xC3\xB6rg", "j@x.test")}},
    {"RFC 2047 §6.2 adjacent encoded words joined",
     "=?utf-8?q?a?= =?utf-8?q?b?= <a@b.test>",
     {mb("ab", "a@b.test")}},
    {"RFC 6532 §3.2 UTF-8 name and address",
     "J\xC3\xB6rg <j\xC3\xB6rg@b\xC3\xBC"
     "cher.test>",
     {mb("J\xC3\xB6rg", "j\xC3\xB6rg@b\xC3\xBC"
                        "cher.test")}},
    {"RFC 5322 §2.2.3 folded value",
     "Mary\r\n Smith\r\n\t<mary@x.test>",
     {mb("Mary Smith", "mary@x.test")}},
    {"RFC 5322 §2.2.3 a line break without WSP ends the field",
     "a@x.test\nb@y.test",
     {mb(none, "a@x.test")}},
    {"lenient: unclosed angle-addr", "Ann <ann@x.test", {mb("Ann", "ann@x.test")}},
    {"lenient: name after the angle-addr", "<a@b.test> Ann", {mb("Ann", "a@b.test")}},
    {"lenient: bare name", "Undisclosed", {mb("Undisclosed", none)}},
    {"RFC 2369 §3.4 \"NO (comment)\"",
     "NO (posting not allowed)",
     {mb("posting not allowed", "NO")}},
    {"lenient: two angle-addrs without a comma",
     "<a@b.test> <c@d.test>",
     {mb(none, "a@b.test"), mb(none, "c@d.test")}},
    {"lenient: name and bare address", "John jdoe@x.test", {mb("John", "jdoe@x.test")}},
    {"empty field", "", {}},
    {"only CFWS", "  (nothing here)  ", {mb("nothing here", none)}},
};

TEST(address, parse_list) {
  for (const auto& c : list_cases) {
    const auto l = mime::parse_address_list(c.raw);
    EXPECT_FALSE(l.has_groups) << c.rule;
    EXPECT_EQ(l.mailboxes, c.expected) << c.rule << ": " << c.raw;
    EXPECT_EQ(l.flatten(), c.expected) << c.rule;
  }
}

TEST(address, groups) {
  // RFC 5322 §3.4: group = display-name ":" [group-list] ";"
  auto l = mime::parse_address_list("A Group:Ed <c@a.test>,joe@w.test;, x@y.test");
  ASSERT_TRUE(l.has_groups);
  ASSERT_EQ(l.groups.size(), 2u);
  EXPECT_EQ(l.groups[0].name, "A Group");
  EXPECT_EQ(l.groups[0].members,
            (std::vector<mailbox>{mb("Ed", "c@a.test"), mb(none, "joe@w.test")}));
  // Mailboxes outside any group are a group with no name (address.hpp).
  EXPECT_EQ(l.groups[1].name, none);
  EXPECT_EQ(l.groups[1].members, std::vector<mailbox>{mb(none, "x@y.test")});
  EXPECT_EQ(l.flatten().size(), 3u);

  // RFC 5322 §3.4: an empty group.
  l = mime::parse_address_list("Undisclosed recipients:;");
  ASSERT_EQ(l.groups.size(), 1u);
  EXPECT_EQ(l.groups[0].name, "Undisclosed recipients");
  EXPECT_TRUE(l.groups[0].members.empty());
  EXPECT_TRUE(l.flatten().empty());

  // Lenient: an unterminated group ends at the end of the field.
  l = mime::parse_address_list("G: a@b.test, c@d.test");
  ASSERT_EQ(l.groups.size(), 1u);
  EXPECT_EQ(l.groups[0].members.size(), 2u);

  // A ':' inside an angle-addr (obs-route) or after an '@' does not open a group.
  l = mime::parse_address_list("<@r.test:a@b.test>");
  EXPECT_FALSE(l.has_groups);
}

TEST(address, hostile_input_is_bounded) {
  // Deep comment nesting and long runs of specials must stay linear (no recursion, no
  // quadratic rescans).
  const std::string deep = std::string(200000, '(') + "x" + std::string(200000, ')');
  EXPECT_NO_FATAL_FAILURE((void)mime::parse_address_list(deep));
  const std::string commas(200000, ',');
  EXPECT_TRUE(mime::parse_address_list(commas).empty());
  std::string many;
  for (int i = 0; i < 20000; ++i)
    many += "a@b.test, ";
  EXPECT_EQ(mime::parse_address_list(many).mailboxes.size(), 20000u);
  // Colons after an address are text, not groups; each must cost O(1).
  EXPECT_EQ(mime::parse_address_list("a@b.test " + std::string(200000, ':')).mailboxes.size(), 1u);
  const std::string junk =
      std::string(100000, ')') + std::string(100000, '>') + "\"" + std::string(100000, '\\');
  EXPECT_NO_FATAL_FAILURE((void)mime::parse_address_list(junk));
}

struct format_case {
  const char* rule;
  mailbox m;
  const char* expected;
};

TEST(address, format_mailbox) {
  const format_case cases[] = {
      {"bare address", mb(none, "a@b.test"), "a@b.test"},
      {"RFC 5322 §3.2.5 atoms need no quotes", mb("John Doe", "j@d.test"), "John Doe <j@d.test>"},
      {"RFC 5322 §3.2.4 specials are quoted", mb("Doe, John", "j@d.test"),
       "\"Doe, John\" <j@d.test>"},
      {"RFC 5322 §3.2.4 quoted-pair for DQUOTE and backslash", mb("a\"b\\c", "x@y.test"),
       "\"a\\\"b\\\\c\" <x@y.test>"},
      {"header injection: CR LF in a name become spaces", mb("Eve\r\nBcc: x@evil.test", "e@v.test"),
       "\"Eve  Bcc: x@evil.test\" <e@v.test>"},
      {"header injection: CR LF dropped from an address", mb(none, "e@v.test\r\nBcc: x"),
       "e@v.testBcc: x"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(mime::format_mailbox(c.m), c.expected) << c.rule;

  // RFC 2047 §5 (3): a non-ASCII name is encoded, and reads back to the same name.
  const mailbox m = mb("J\xC3\xB6rg M\xC3\xBCller", "j@x.test");
  const std::string f = mime::format_mailbox(m);
  EXPECT_EQ(f.find('\xC3'), std::string::npos) << f;
  EXPECT_EQ(mime::parse_address_list(f).mailboxes, std::vector<mailbox>{m}) << f;
}

// Regression (fuzz, mime_address_fuzz regress-name-like-encoded-word): an ASCII name that looks
// like an encoded word was written as atoms, and read back decoded (here to nothing). RFC 2047
// §5: such text is itself encoded.
TEST(address, format_mailbox_encodes_names_that_look_like_encoded_words) {
  for (const char* name : {"=?Z?b?\?=", "=?utf-8?Q?hi?=", "\"=?utf-8?B?aGk=?=\" x", "a=?b"}) {
    const mailbox m = mb(name, "z@e.test");
    const std::string f = mime::format_mailbox(m);
    EXPECT_TRUE(f.starts_with("=?utf-8?")) << f;
    EXPECT_EQ(mime::parse_address_list(f).mailboxes, std::vector<mailbox>{m}) << f;
  }
  // "=" and "?" alone are atext and stay as they are.
  EXPECT_EQ(mime::format_mailbox(mb("a=b?", "z@e.test")), "a=b? <z@e.test>");
}

} // namespace
