// SPDX-License-Identifier: Apache-2.0
// Sequence sets, SEARCH and FETCH arguments, dates and string encoding.
#include <mailkit/imap/imap.hpp>

#include <gtest/gtest.h>

using namespace mailkit::imap;

namespace {

std::vector<token> toks(std::string_view args) {
  auto t = tokenize(args);
  EXPECT_TRUE(t) << args;
  return t ? *t : std::vector<token>{};
}

using ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

} // namespace

TEST(ImapSequence, ParseResolveContains) {
  auto s = sequence_set::parse("4:2,7,9:*,8");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->resolve(12), (ranges{{2, 4}, {7, 12}}));
  EXPECT_TRUE(s->contains(3, 12));
  EXPECT_FALSE(s->contains(5, 12));
  EXPECT_TRUE(s->contains(12, 12));
  // "*" in an empty mailbox matches nothing; "5:*" with largest 3 is 3:5.
  auto star = sequence_set::parse("*");
  ASSERT_TRUE(star);
  EXPECT_TRUE(star->resolve(0).empty());
  EXPECT_EQ(sequence_set::parse("5:*")->resolve(3), (ranges{{3, 5}}));
  EXPECT_TRUE(sequence_set::parse("$")->is_saved_result()); // RFC 5182
  for (const char* bad : {"", "0", "1:0", "4294967296", "1,,2", "1:", ":3", "a", "1-3", "01"})
    EXPECT_FALSE(sequence_set::parse(bad)) << bad;
  EXPECT_TRUE(sequence_set::parse("4294967295"));
  EXPECT_EQ(sequence_set::format(sequence_set::compress({5, 1, 2, 3, 9, 10})), "1:3,5,9:10");
}

TEST(ImapSequence, RangeCountIsBounded) {
  std::string many;
  for (std::size_t i = 0; i <= max_sequence_ranges; ++i)
    many += (i ? "," : "") + std::to_string(i % 1000 + 1);
  EXPECT_FALSE(sequence_set::parse(many));
}

TEST(ImapSearch, EveryKeyOfRfc3501AndRfc9051) {
  const char* keys =
      "ALL ANSWERED BCC b BEFORE 1-Feb-1994 BODY x CC c DELETED DRAFT FLAGGED FROM f "
      "HEADER X-Spam yes KEYWORD $Label LARGER 100 NEW NOT SEEN OLD ON 2-Mar-2020 "
      "OR SEEN UNSEEN RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 "
      "SINCE 29-Feb-2024 SMALLER 5 SUBJECT \"hello world\" TEXT t TO to UID 1:* UNANSWERED "
      "UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $Junk UNSEEN 1,3:4 (FLAGGED SEEN) MODSEQ 5 "
      "OLDER 60 YOUNGER 60";
  auto s = parse_search(toks(keys));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->key.o, search_key::op::and_);
  EXPECT_EQ(s->key.children.size(), 40u);
  const auto& c = s->key.children;
  EXPECT_EQ(c[2].o, search_key::op::header);
  EXPECT_EQ(c[2].text, "Bcc");
  EXPECT_EQ(c[2].value, "b");
  EXPECT_EQ(c[3].o, search_key::op::before);
  EXPECT_EQ(c[3].day, 8797); // 1994-02-01
  EXPECT_EQ(c[10].text, "X-Spam");
  EXPECT_EQ(c[10].value, "yes");
  EXPECT_EQ(c[14].o, search_key::op::not_);
  EXPECT_EQ(c[14].children[0].text, "\\Seen");
  EXPECT_EQ(c[17].o, search_key::op::or_);
  EXPECT_EQ(c[17].children.size(), 2u);
  EXPECT_EQ(c[36].o, search_key::op::and_);
  EXPECT_EQ(c[37].o, search_key::op::modseq);
  EXPECT_EQ(c[37].number, 5u);
}

TEST(ImapSearch, ReturnCharsetAndErrors) {
  auto s = parse_search(toks("RETURN (MIN COUNT) CHARSET utf-8 TEXT \"caf\xc3\xa9\""));
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ret.esearch && s->ret.min && s->ret.count && !s->ret.all);
  EXPECT_EQ(s->charset, "UTF-8");
  auto all = parse_search(toks("RETURN () ALL")); // RFC 4731 §3.1: RETURN () is ALL
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->ret.all);
  auto cs = parse_search(toks("CHARSET KOI8-R ALL"));
  ASSERT_FALSE(cs);
  EXPECT_EQ(cs.error(), make_error_code(errc::bad_charset));
  auto date = parse_search(toks("SINCE 30-Feb-2024"));
  ASSERT_FALSE(date);
  EXPECT_EQ(date.error(), make_error_code(errc::bad_date));
  for (const char* bad : {"", "OR SEEN", "NOT", "LARGER x", "UID 0", "KEYWORD \\Seen", "FOO",
                          "HEADER X", "()", "RETURN (FIRST) ALL"})
    EXPECT_FALSE(parse_search(toks(bad))) << bad;
  std::string deep;
  for (std::size_t i = 0; i <= max_search_depth; ++i)
    deep += "NOT ";
  auto d = parse_search(toks(deep + "ALL"));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), make_error_code(errc::too_deep));
}

TEST(ImapFetch, ItemsMacrosSectionsPartials) {
  auto f = parse_fetch(toks("FULL"));
  ASSERT_TRUE(f);
  ASSERT_EQ(f->items.size(), 5u);
  EXPECT_EQ(f->items[4].k, fetch_item::kind::body);

  auto g = parse_fetch(toks("(UID FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<10.20> "
                            "BODY[] BODY[3.MIME] BINARY.PEEK[1]<0.5> BINARY.SIZE[2] RFC822.HEADER "
                            "MODSEQ) (CHANGEDSINCE 7 VANISHED)"));
  ASSERT_TRUE(g) << g.error().message();
  ASSERT_EQ(g->items.size(), 9u);
  const auto& h = g->items[2];
  EXPECT_EQ(h.k, fetch_item::kind::section);
  EXPECT_TRUE(h.peek);
  EXPECT_EQ(h.sec.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(h.sec.s, section::spec::header_fields);
  EXPECT_EQ(h.sec.fields, (std::vector<std::string>{"From", "To"}));
  ASSERT_TRUE(h.partial);
  EXPECT_EQ(h.partial->first, 10u);
  EXPECT_EQ(h.partial->second, 20u);
  // RFC 9051 §7.5.2: the response drops .PEEK and names the origin only.
  EXPECT_EQ(h.response_name, "BODY[1.2.HEADER.FIELDS (FROM TO)]<10>");
  EXPECT_EQ(g->items[3].response_name, "BODY[]");
  EXPECT_FALSE(g->items[3].peek);
  EXPECT_EQ(g->items[4].sec.s, section::spec::mime);
  EXPECT_EQ(g->items[5].k, fetch_item::kind::binary);
  EXPECT_EQ(g->items[6].k, fetch_item::kind::binary_size);
  EXPECT_TRUE(g->items[7].peek); // RFC822.HEADER is BODY.PEEK[HEADER]
  EXPECT_EQ(g->changed_since, 7u);
  EXPECT_TRUE(g->vanished);

  for (const char* bad :
       {"BODY[MIME]", "BODY[0]", "BODY[1.]", "BODY[HEADER.FIELDS ()]", "BODY[HEADER.FIELDS]",
        "BINARY[TEXT]", "BINARY.SIZE[1]<0.1>", "BODY[]<1>", "BODY[]<0.0>", "FOO",
        "(FLAGS) (VANISHED)", "(FLAGS) (CHANGEDSINCE x)", "()"})
    EXPECT_FALSE(parse_fetch(toks(bad))) << bad;
  EXPECT_FALSE(tokenize("BODY[")); // an unclosed section never reaches the FETCH parser
}

TEST(ImapDate, SearchDatesAndDateTimes) {
  EXPECT_EQ(*parse_search_date("1-Jan-1970"), 0);
  EXPECT_EQ(*parse_search_date("01-jan-1970"), 0);
  EXPECT_EQ(*parse_search_date("29-Feb-2000"), 11016);
  for (const char* bad : {"29-Feb-1900", "32-Jan-2000", "1-Foo-2000", "1-Jan-20", "", "1Jan2000"})
    EXPECT_FALSE(parse_search_date(bad)) << bad;
  auto t = parse_date_time("17-Jul-1996 02:44:25 -0700");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 837596665);
  EXPECT_EQ(*parse_date_time(" 7-Jul-1996 02:44:25 +0000"), 836707465);
  EXPECT_FALSE(parse_date_time("17-Jul-1996 24:00:00 +0000"));
  EXPECT_FALSE(parse_date_time("17-Jul-1996 02:44:25 0700"));
  EXPECT_EQ(format_date_time(837596665), "17-Jul-1996 09:44:25 +0000");
  EXPECT_EQ(format_date_time(836707465, -120), " 7-Jul-1996 00:44:25 -0200");
  EXPECT_EQ(days_of(-1), -1);
}

TEST(ImapEncode, AtomsQuotedAndLiterals) {
  std::string out;
  append_astring(out, "INBOX");
  out += ' ';
  append_astring(out, "a b");
  out += ' ';
  append_astring(out, "nil");
  out += ' ';
  append_string(out, "q\"\\");
  out += ' ';
  append_string(out, "line\r\nbreak");
  out += ' ';
  append_string(out, "caf\xc3\xa9");
  out += ' ';
  append_string(out, "caf\xc3\xa9", true);
  EXPECT_EQ(out, "INBOX \"a b\" \"nil\" \"q\\\"\\\\\" {11}\r\nline\r\nbreak {5}\r\ncaf\xc3\xa9 "
                 "\"caf\xc3\xa9\"");
  // Everything written reads back as the same string.
  const std::vector<std::string> samples = {
      "", "x", "a b", "\"", "\\", "NIL", "]", std::string(2000, 'z'), std::string("n\0l", 3)};
  for (const std::string& s : samples) {
    std::string cmd = "t SELECT ";
    append_astring(cmd, s);
    auto c = parse_command(cmd + "\r\n");
    ASSERT_TRUE(c) << s;
    EXPECT_EQ(c->args[0].text, s);
  }
}
