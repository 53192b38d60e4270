// SPDX-License-Identifier: Apache-2.0
// DATA and BDAT receivers and the message-data rules of the server: transparency (RFC 5321
// §4.5.2), line length (§4.5.3.1.6), size (RFC 1870), bounded streaming, unterminated DATA.
#include "server_driver.hpp"

#include <mailkit/smtp/data_receiver.hpp>

#include <gtest/gtest.h>

using namespace mailkit::smtp;
using mailkit::smtp::testing::codes;
using mailkit::smtp::testing::driver;

namespace {

std::string receive(std::string_view in, data_flaws* flaws = nullptr, std::size_t* used = nullptr) {
  server_limits l;
  dot_receiver r(l);
  std::string out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const auto res = r.feed(in.substr(pos), out, 1 << 20);
    pos += res.consumed;
    if (res.finished) break;
    if (res.consumed == 0) break;
  }
  if (flaws) *flaws = r.flaws();
  if (used) *used = pos;
  return out;
}

} // namespace

TEST(SmtpDataReceiver, DotUnstuffing) {
  // RFC 5321 §4.5.2 (and tests/data/smtp chasquid data_dot_stuffing).
  std::size_t used = 0;
  EXPECT_EQ(receive(".From: x\r\n..x\r\n..\r\n.This is stuffy.\r\n\r\n.\r\nAFTER", nullptr, &used),
            "From: x\r\n.x\r\n.\r\nThis is stuffy.\r\n\r\n");
  EXPECT_EQ(used,
            std::string_view(".From: x\r\n..x\r\n..\r\n.This is stuffy.\r\n\r\n.\r\n").size());
}

TEST(SmtpDataReceiver, EmptyMessage) {
  std::size_t used = 0;
  EXPECT_EQ(receive(".\r\n", nullptr, &used), "");
  EXPECT_EQ(used, 3U);
}

TEST(SmtpDataReceiver, BareLineEndingsFlagged) {
  for (std::string_view s : {"a\nb\r\n.\r\n", "a\rb\r\n.\r\n", "a\r\r\n.\r\n", ".\r\r\n.\r\n",
                             "a\r\n.\n.\r\n", "a\r\n.\rx\r\n.\r\n"}) {
    data_flaws f;
    receive(s, &f);
    EXPECT_TRUE(f.bare_line_ending) << s;
  }
  data_flaws f;
  receive("clean\r\nlines\r\n.\r\n", &f);
  EXPECT_FALSE(f.any());
}

TEST(SmtpDataReceiver, LineLength) {
  data_flaws f;
  receive(std::string(998, 'x') + "\r\n.\r\n", &f); // 1000 with CRLF: the maximum
  EXPECT_FALSE(f.line_too_long);
  receive(std::string(999, 'x') + "\r\n.\r\n", &f);
  EXPECT_TRUE(f.line_too_long);
  receive("." + std::string(998, 'x') + "\r\n.\r\n", &f); // the stuffed dot counts on the wire
  EXPECT_TRUE(f.line_too_long);
}

TEST(SmtpDataReceiver, LongLineRefused) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n" + std::string(2000, 'x') +
        "\r\n.\r\nNOOP\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 354, 500, 250}));
  EXPECT_TRUE(d.messages.empty());
  EXPECT_EQ(d.aborted, 1U);
}

TEST(SmtpDataReceiver, SizeLimitExact) {
  server_config cfg = driver::make_default();
  cfg.limits.max_message_size = 100;
  const std::string ok = std::string(98, 'a') + "\r\n"; // 100 octets as stored
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n" + ok + ".\r\n");
  ASSERT_EQ(d.messages.size(), 1U);
  EXPECT_EQ(d.messages[0], ok);
  driver e(cfg);
  e.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n" + ok +
        "b\r\n.\r\nNOOP\r\n");
  EXPECT_TRUE(e.messages.empty());
  EXPECT_EQ(codes(e.out), (std::vector<int>{220, 250, 250, 250, 354, 552, 250}));
  EXPECT_NE(e.out.find("552 5.3.4"), std::string::npos);
  EXPECT_LE(e.sink_bytes, 100U);
}

TEST(SmtpDataReceiver, UnterminatedDataIsStreamedAndBounded) {
  // 8 MiB without an end: nothing completes, the sink never sees more than the limit, and no
  // chunk exceeds limits.data_chunk; the core never holds the message.
  server_config cfg = driver::make_default();
  cfg.limits.max_message_size = 4 * 1024 * 1024;
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n");
  const std::string block = std::string(998, 'z') + "\r\n";
  std::string piece;
  for (int i = 0; i < 64; ++i)
    piece += block;
  for (int i = 0; i < 128; ++i)
    d.run(piece);
  EXPECT_TRUE(d.messages.empty());
  EXPECT_LE(d.largest_chunk, cfg.limits.data_chunk);
  EXPECT_LE(d.sink_bytes, cfg.limits.max_message_size);
  EXPECT_FALSE(d.closed());
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 354}));
  d.run(".\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 354, 552}));
}

TEST(SmtpDataReceiver, BdatChunks) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nBDAT 5\r\nabc\r\nBDAT 0\r\n"
        "BDAT 10 LAST\r\n.\r\ndef\r\n\r\nNOOP\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 250, 250, 250, 250}));
  ASSERT_EQ(d.messages.size(), 1U);
  EXPECT_EQ(d.messages[0], "abc\r\n.\r\ndef\r\n\r\n"); // no unstuffing in BDAT
  EXPECT_TRUE(d.envelopes[0].chunked);
}

TEST(SmtpDataReceiver, BdatCrLfSplitAcrossChunks) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nBDAT 3\r\nab\rBDAT 3 LAST\r\n\ncd");
  // "ab\r" + "\ncd": the CR/LF pair spans the chunks: legal; the message ends in "cd" (no CRLF).
  ASSERT_EQ(d.messages.size(), 1U) << d.out;
}

TEST(SmtpDataReceiver, BdatEmptyLast) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nBDAT 0 LAST\r\n");
  ASSERT_EQ(d.messages.size(), 1U);
  EXPECT_EQ(d.messages[0], "");
}

TEST(SmtpDataReceiver, BdatRefusedChunkIsSkipped) {
  // RFC 3030 §2: a refused BDAT's octets are still read, never taken as commands.
  driver d;
  d.run("EHLO c\r\nBDAT 16\r\nQUIT\r\nNOOP\r\nxx\r\nNOOP\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 503, 250}));
  EXPECT_FALSE(d.closed());
}

TEST(SmtpDataReceiver, BdatBadSyntaxCloses) {
  for (auto cmd : {"BDAT\r\n", "BDAT x\r\n", "BDAT 10 NOTLAST\r\n", "BDAT -1\r\n",
                   "BDAT 123456789012345678901\r\n"}) {
    driver d;
    d.run(std::string("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\n") + cmd);
    EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 501})) << cmd;
    EXPECT_TRUE(d.closed());
  }
}

TEST(SmtpDataReceiver, BdatSizeLimit) {
  server_config cfg = driver::make_default();
  cfg.limits.max_message_size = 10;
  driver d(cfg);
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nBDAT 6\r\n12345\nBDAT 6 LAST\r\n"
        "67890\n");
  // The bare LF in the first chunk is caught first: 521 and close.
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 521}));
  driver e(cfg);
  e.run("EHLO c\r\nMAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<u@example.org>\r\nBDAT 8\r\n"
        "12345678BDAT 8 LAST\r\n12345678NOOP\r\n");
  EXPECT_EQ(codes(e.out), (std::vector<int>{220, 250, 250, 250, 250, 552, 250}));
  EXPECT_TRUE(e.messages.empty());
  EXPECT_LE(e.sink_bytes, 10U);
}

TEST(SmtpDataReceiver, BinaryMimeNeedsBdat) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<u@example.org>\r\nDATA\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 503}));
}

TEST(SmtpDataReceiver, RsetDuringBdatAbortsTheMessage) {
  driver d;
  d.run("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nBDAT 3\r\nabcRSET\r\n");
  EXPECT_EQ(codes(d.out), (std::vector<int>{220, 250, 250, 250, 250, 250}));
  EXPECT_EQ(d.aborted, 1U);
  EXPECT_TRUE(d.messages.empty());
}

TEST(SmtpDataReceiver, ChunkReceiverDirect) {
  server_limits l;
  chunk_receiver r(l);
  r.reset(false);
  r.start_chunk(5);
  std::string out;
  auto res = r.feed("abc\r\nEXTRA", out, 100);
  EXPECT_EQ(res.consumed, 5U);
  EXPECT_TRUE(res.finished);
  EXPECT_EQ(out, "abc\r\n");
  r.start_chunk(1);
  res = r.feed("\r", out, 100);
  r.finish_message();
  EXPECT_TRUE(r.flaws().bare_line_ending); // a CR at the very end is bare
}

// feed_in_place: a chunk without stuffing is a piece of the input itself; a removed dot, a
// CRLF split between two inputs or a bare line ending makes it a copy, with the same octets
// feed() gives.
TEST(SmtpDataReceiver, InPlaceWhereNothingIsUnstuffed) {
  server_limits l;
  {
    dot_receiver r(l);
    const std::string in = "Subject: x\r\n\r\nbody line\r\nmore\r\n.\r\nQUIT\r\n";
    std::string out;
    std::string_view piece;
    const auto res = r.feed_in_place(in, piece, out, 1 << 20);
    EXPECT_TRUE(res.finished);
    EXPECT_EQ(res.consumed, in.size() - 6);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(piece, "Subject: x\r\n\r\nbody line\r\nmore\r\n");
    EXPECT_EQ(piece.data(), in.data()); // not copied
  }
  {
    dot_receiver r(l);
    const std::string in = "a\r\n..b\r\nc\r\n.\r\n";
    std::string out;
    std::string_view piece;
    r.feed_in_place(in, piece, out, 1 << 20);
    EXPECT_TRUE(piece.empty());
    EXPECT_EQ(out, "a\r\n.b\r\nc\r\n");
  }
  {
    // The CR at the end of one input, its LF at the start of the next.
    dot_receiver r(l);
    std::string out;
    std::string_view piece;
    const std::string first = "line one\r";
    auto res = r.feed_in_place(first, piece, out, 1 << 20);
    EXPECT_EQ(res.consumed, first.size());
    EXPECT_EQ(piece, "line one");
    const std::string second = "\nline two\r\n.\r\n";
    res = r.feed_in_place(second, piece, out, 1 << 20);
    EXPECT_TRUE(res.finished);
    EXPECT_TRUE(piece.empty());
    EXPECT_EQ(out, "\r\nline two\r\n");
  }
  {
    // The chunk limit: pieces of at most max_out octets, then the rest.
    dot_receiver r(l);
    const std::string in = std::string(100, 'x') + "\r\n" + std::string(50, 'y') + "\r\n.\r\n";
    std::string all;
    std::size_t pos = 0;
    for (int guard = 0; guard < 100 && pos < in.size(); ++guard) {
      std::string out;
      std::string_view piece;
      const auto res = r.feed_in_place(std::string_view(in).substr(pos), piece, out, 40);
      EXPECT_LE(piece.size() + out.size(), 40U);
      all += piece.empty() ? out : std::string(piece);
      pos += res.consumed;
      if (res.finished) break;
    }
    EXPECT_EQ(all, in.substr(0, in.size() - 3));
    EXPECT_FALSE(r.flaws().any());
  }
}
