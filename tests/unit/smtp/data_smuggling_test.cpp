// SPDX-License-Identifier: Apache-2.0
// SMTP smuggling: every end-of-data look-alike, through DATA and BDAT, pipelined and not,
// fed whole and byte by byte. The invariant: never two messages, never a smuggled command run.
#include "server_driver.hpp"

#include <gtest/gtest.h>

using namespace mailkit::smtp;
using mailkit::smtp::testing::codes;
using mailkit::smtp::testing::driver;

namespace {

struct variant {
  const char* name;
  std::string_view seq;
};

// The fake ends (a smuggled second message starts right after them).
const variant fake_ends[] = {
    {"LF.LF", "\n.\n"},
    {"LF.CRLF", "\n.\r\n"},
    {"CRLF.LF", "\r\n.\n"},
    {"CR.CR", "\r.\r"},
    {"CRLF.CRCRLF", "\r\n.\r\r\n"},
    {"CR.CRLF", "\r.\r\n"},
    {"CRLF.CR", "\r\n.\r"},
    {"LF.CR", "\n.\r"},
    {"CRCRLF.CRLF", "\r\r\n.\r\n"},
};

const std::string smuggled = "MAIL FROM:<admin@example.org>\r\nRCPT TO:<victim@example.org>\r\n"
                             "DATA\r\nSubject: smuggled\r\n\r\nevil\r\n";

std::string data_session(std::string_view fake_end, bool pipelined) {
  std::string head = "EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n";
  std::string body = "Subject: real\r\n\r\nhello" + std::string(fake_end) + smuggled + "\r\n.\r\n";
  return pipelined ? head + body + "QUIT\r\n" : head + body;
}

} // namespace

TEST(SmtpSmuggling, DataNeverEndsEarly) {
  int cases = 0;
  for (const auto& v : fake_ends) {
    for (bool pipelined : {false, true}) {
      for (std::size_t piece : {std::string_view::npos, std::size_t{1}, std::size_t{3}}) {
        for (bool borrow : {false, true}) { // feed() and feed_borrowed()
          driver d;
          d.borrow = borrow;
          const std::string in = data_session(v.seq, pipelined);
          if (pipelined) {
            d.run(in, piece);
          } else {
            // Not pipelined: the client waits for 354 before the data.
            const std::size_t split = in.find("DATA\r\n") + 6;
            d.run(in.substr(0, split), piece);
            d.run(in.substr(split), piece);
          }
          SCOPED_TRACE(std::string(v.name) + (pipelined ? " pipelined" : "") + " piece " +
                       std::to_string(piece) + (borrow ? " borrowed" : ""));
          EXPECT_TRUE(d.messages.empty());
          EXPECT_EQ(d.aborted, 1U);
          // The smuggled MAIL/RCPT/DATA were never commands: no second 250/354.
          EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 354, 521}));
          EXPECT_NE(d.out.find("521 5.5.2"), std::string::npos);
          EXPECT_TRUE(d.closed());
          EXPECT_EQ(d.s.why_closed(), close_reason::bare_line_ending);
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 9 * 2 * 3 * 2);
}

TEST(SmtpSmuggling, BdatNeverMakesTwoMessages) {
  int cases = 0;
  for (const auto& v : fake_ends) {
    for (bool pipelined : {false, true}) {
      for (std::size_t piece : {std::string_view::npos, std::size_t{1}}) {
        for (bool borrow : {false, true}) {
          SCOPED_TRACE(std::string(v.name) + (pipelined ? " pipelined" : "") + " piece " +
                       std::to_string(piece) + (borrow ? " borrowed" : ""));
          const std::string content =
              "Subject: real\r\n\r\nhello" + std::string(v.seq) + smuggled + "\r\n.\r\n";
          const std::string head =
              "EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n";
          const std::string bdat = "BDAT " + std::to_string(content.size()) + " LAST\r\n" + content;
          driver d;
          d.borrow = borrow;
          if (pipelined) {
            d.run(head + bdat + "QUIT\r\n", piece);
          } else {
            d.run(head, piece);
            d.run(bdat, piece);
          }
          EXPECT_TRUE(d.messages.empty());
          EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 521}));
          EXPECT_TRUE(d.closed());
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 9 * 2 * 2 * 2);
}

TEST(SmtpSmuggling, BinaryMimeCarriesTheBytesAsOneMessage) {
  // RFC 3030 §3: BINARYMIME content has no line structure; the chunk length alone frames it,
  // so the look-alikes are content of exactly one message and no command inside runs.
  for (const auto& v : fake_ends) {
    SCOPED_TRACE(v.name);
    const std::string content = "hello" + std::string(v.seq) + smuggled + "\r\n.\r\n";
    driver d;
    d.run("EHLO c\r\nMAIL FROM:<a@example.net> BODY=BINARYMIME\r\nRCPT TO:<b@example.org>\r\n"
          "BDAT " +
          std::to_string(content.size()) + " LAST\r\n" + content + "NOOP\r\n");
    ASSERT_EQ(d.messages.size(), 1U);
    EXPECT_EQ(d.messages[0], content);
    EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 250, 250}));
  }
}

TEST(SmtpSmuggling, ChasquidBadDotAfterTooBig) {
  // tests/data/smtp/chasquid: a message over the size limit, then "\n.\n" and pipelined
  // commands, then the real end: the bare LF still wins (521), nothing is executed.
  server_config cfg = driver::make_default();
  cfg.limits.max_message_size = 1024;
  driver d(cfg);
  std::string in = "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n";
  for (int i = 0; i < 20; ++i)
    in += std::string(99, 'a') + "\r\n";
  in += ".\nHELP\r\nHELP\r\n.\r\n";
  d.run(in);
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 354, 521}));
  EXPECT_LE(d.sink_bytes, 1024U);
}

TEST(SmtpSmuggling, GoodEndAfterCrlfOnly) {
  // The real end, split at every position, gives exactly one message.
  const std::string in = "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n"
                         "a\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nb\r\n.\r\n";
  for (std::size_t piece = 1; piece < 12; ++piece) {
    driver d;
    d.run(in, piece);
    ASSERT_EQ(d.messages.size(), 2U) << piece;
    EXPECT_EQ(d.messages[0], "a\r\n");
    EXPECT_EQ(d.messages[1], "b\r\n");
  }
}
