// SPDX-License-Identifier: Apache-2.0
// The IMAP command reader: tokens, literals (synchronizing, LITERAL+, LITERAL-, literal8),
// line mode, and every limit of reader_limits crossed once.
#include <mailkit/imap/reader.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace mailkit::imap;
using namespace std::string_literals;

namespace {

std::vector<event> drain(command_reader& r) {
  std::vector<event> out;
  for (;;) {
    event ev = r.next();
    if (ev.k == event::kind::need_more) return out;
    out.push_back(std::move(ev));
  }
}

} // namespace

TEST(ImapReader, SimpleCommandsAndTags) {
  auto c = parse_command("a001 login bob \"pa ss\\\"w\"\r\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tag, "a001");
  EXPECT_EQ(c->name, "LOGIN");
  ASSERT_EQ(c->args.size(), 2u);
  EXPECT_TRUE(c->args[0].is_atom());
  EXPECT_EQ(c->args[1].k, token::kind::quoted);
  EXPECT_EQ(c->args[1].text, "pa ss\"w");

  auto u = parse_command("A2 UID fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.512>)\r\n");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->uid);
  EXPECT_EQ(u->name, "FETCH");
  ASSERT_EQ(u->args.size(), 2u);
  ASSERT_EQ(u->args[1].k, token::kind::list);
  ASSERT_EQ(u->args[1].items.size(), 2u);
  EXPECT_EQ(u->args[1].items[1].text, "BODY.PEEK[HEADER.FIELDS (From To)]<0.512>");

  // RFC 9051 §9: a tag has no "+", "*", "(", "%", "\" or DQUOTE.
  for (const char* bad : {"+ NOOP\r\n", "* NOOP\r\n", "a(b NOOP\r\n", "\"a\" NOOP\r\n"})
    EXPECT_FALSE(parse_command(bad)) << bad;
  EXPECT_FALSE(parse_command("tagonly\r\n"));
  EXPECT_FALSE(parse_command("a UID\r\n"));
}

TEST(ImapReader, SyntaxErrorsAreRefusedWithTheTag) {
  command_reader r;
  r.feed("x1 SELECT \"unterminated\r\nx2 NOOP\r\n");
  auto evs = drain(r);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].k, event::kind::refused);
  EXPECT_EQ(evs[0].tag, "x1");
  EXPECT_EQ(evs[0].error, make_error_code(errc::syntax));
  EXPECT_EQ(evs[1].k, event::kind::command);
  EXPECT_EQ(evs[1].cmd.name, "NOOP");
  // Unbalanced parentheses, "\" escapes other than quoted-specials, double spaces, NUL.
  for (const char* bad : {"a LIST (a b\r\n", "a LIST a b)\r\n", "a LOGIN \"a\\b\" c\r\n",
                          "a  NOOP\r\n", "a LOGIN b\"c\"\r\n", "a LOGIN {3\r\n"})
    EXPECT_FALSE(parse_command(bad)) << bad;
}

TEST(ImapReader, SynchronizingLiteralAsksForContinuation) {
  command_reader r;
  r.feed("A3 LOGIN {3}\r\n");
  auto evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].k, event::kind::continuation);
  r.feed("bob");
  EXPECT_TRUE(drain(r).empty());
  r.feed(" {4}\r\n");
  evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].k, event::kind::continuation);
  r.feed("p\r\nw\r\n"); // a literal holds CRLF octets
  evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  ASSERT_EQ(evs[0].k, event::kind::command);
  ASSERT_EQ(evs[0].cmd.args.size(), 2u);
  EXPECT_EQ(evs[0].cmd.args[0].k, token::kind::literal);
  EXPECT_EQ(evs[0].cmd.args[0].text, "bob");
  EXPECT_EQ(evs[0].cmd.args[1].text, "p\r\nw");
}

TEST(ImapReader, NonSynchronizingAndLiteral8) {
  command_reader r;
  r.feed("A4 APPEND INBOX (\\Seen) {5+}\r\nhello\r\nA5 APPEND INBOX ~{3+}\r\na\0b\r\n"s);
  auto evs = drain(r);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].k, event::kind::command);
  EXPECT_EQ(evs[0].cmd.args.back().text, "hello");
  EXPECT_EQ(evs[1].k, event::kind::command);
  EXPECT_TRUE(evs[1].cmd.args.back().literal8);
  EXPECT_EQ(evs[1].cmd.args.back().text, std::string("a\0b", 3));
}

TEST(ImapReader, ByteAtATimeGivesTheSameCommand) {
  const std::string wire = "t1 APPEND \"Sent\" (\\Seen $Label) {11+}\r\nSubject: x\n\r\n";
  command_reader r;
  std::vector<event> evs;
  for (char c : wire) {
    r.feed(std::string_view(&c, 1));
    for (auto& e : drain(r))
      evs.push_back(std::move(e));
  }
  ASSERT_EQ(evs.size(), 1u);
  ASSERT_EQ(evs[0].k, event::kind::command);
  EXPECT_EQ(evs[0].cmd.args.size(), 3u);
  EXPECT_EQ(evs[0].cmd.args[2].text, "Subject: x\n");
}

TEST(ImapReader, LiteralOverTheLimitIsRefusedBeforeAnyOctet) {
  reader_limits l;
  l.literal = 10;
  l.append_literal = 100;
  command_reader r(l);
  // Synchronizing: NO [TOOBIG], no "+" (RFC 9051 §7.5), the client sends nothing more.
  r.feed("a1 LOGIN {11}\r\na2 NOOP\r\n");
  auto evs = drain(r);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].k, event::kind::refused);
  EXPECT_EQ(evs[0].tag, "a1");
  EXPECT_EQ(evs[0].error, make_error_code(errc::literal_too_large));
  EXPECT_EQ(evs[0].announced, 11u);
  EXPECT_EQ(evs[1].cmd.name, "NOOP");
  // APPEND has its own larger limit.
  r.feed("a3 APPEND INBOX {50+}\r\n" + std::string(50, 'x') + "\r\n");
  evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].k, event::kind::command);
  // Non-synchronizing over the limit: refused, its octets skipped, the next command read.
  r.feed("a4 LOGIN {60+}\r\n" + std::string(60, 'y') + " {3+}\r\npw\n\r\na5 NOOP\r\n");
  evs = drain(r);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].k, event::kind::refused);
  EXPECT_EQ(evs[0].tag, "a4");
  EXPECT_EQ(evs[1].cmd.tag, "a5");
  // A length no limit can skip: the connection must close.
  r.feed("a6 LOGIN {99999999999999999999+}\r\n");
  evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].k, event::kind::fatal);
}

TEST(ImapReader, LiteralMinusRefusesLargeNonSynchronizingLiterals) {
  reader_limits l;
  l.literal_plus = false; // RFC 7888 §5: LITERAL-, at most 4096 octets
  command_reader r(l);
  r.feed("a1 LOGIN {4096+}\r\n" + std::string(4096, 'a') + " b\r\n");
  auto evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].k, event::kind::command);
  r.feed("a2 LOGIN {4097+}\r\n" + std::string(4097, 'a') + " b\r\na3 NOOP\r\n");
  evs = drain(r);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].k, event::kind::refused);
  EXPECT_EQ(evs[0].error, make_error_code(errc::literal_too_large));
  EXPECT_EQ(evs[1].cmd.tag, "a3");
}

TEST(ImapReader, LineLimitDropsTheLineAndKeepsReading) {
  reader_limits l;
  l.line = 100;
  command_reader r(l);
  r.feed("L1 SEARCH " + std::string(200, 'x'));
  auto evs = drain(r);
  ASSERT_EQ(evs.size(), 1u); // refused before the line ends: nothing is buffered beyond it
  EXPECT_EQ(evs[0].k, event::kind::refused);
  EXPECT_EQ(evs[0].tag, "L1");
  EXPECT_EQ(evs[0].error, make_error_code(errc::line_too_long));
  EXPECT_LE(r.buffered(), 101u);
  r.feed(std::string(1000, 'y'));
  EXPECT_TRUE(drain(r).empty());
  EXPECT_LE(r.buffered(), 101u);
  r.feed("\r\nL2 NOOP\r\n");
  evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].cmd.tag, "L2");
}

TEST(ImapReader, DepthTokensAndCommandSize) {
  reader_limits l;
  l.depth = 4;
  l.tokens = 50;
  l.command = 300;
  EXPECT_TRUE(parse_command("a SEARCH ((((ALL))))\r\n", l));
  auto deep = parse_command("a SEARCH (((((ALL)))))\r\n", l);
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error(), make_error_code(errc::too_deep));
  std::string many = "a SEARCH";
  for (int i = 0; i < 60; ++i)
    many += " ALL";
  auto m = parse_command(many + "\r\n", l);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), make_error_code(errc::too_many_tokens));
  // Text and literals together over `command` (APPEND messages excepted).
  auto big = parse_command("a LOGIN {200+}\r\n" + std::string(200, 'u') + " {200+}\r\n" +
                               std::string(200, 'p') + "\r\n",
                           l);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), make_error_code(errc::literal_too_large));
}

TEST(ImapReader, LineModeForIdleAndAuthenticate) {
  command_reader r;
  r.feed("i1 IDLE\r\n");
  auto evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].cmd.name, "IDLE");
  r.set_line_mode(true);
  r.feed("DONE\r\n");
  evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].k, event::kind::line);
  EXPECT_EQ(evs[0].text, "DONE");
  r.set_line_mode(false);
  r.feed("\r\n\r\ni2 NOOP\r\n"); // empty lines between commands are ignored
  evs = drain(r);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].cmd.tag, "i2");
}

TEST(ImapReader, EightBitOnlyInStrings) {
  // RFC 6855 §3: UTF-8 in quoted strings and literals; atoms stay ASCII.
  auto q = parse_command("a SELECT \"Entw\xc3\xbcrfe\"\r\n");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->args[0].text, "Entw\xc3\xbcrfe");
  EXPECT_FALSE(parse_command("a SELECT Entw\xc3\xbcrfe\r\n"));
}
