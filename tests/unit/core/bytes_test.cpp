// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/core/log.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace mailkit;

TEST(bytes, case_folding_is_ascii_only) {
  EXPECT_TRUE(iequals("Content-Type", "content-TYPE"));
  EXPECT_FALSE(iequals("\xC3\x89", "\xC3\xA9")); // no locale folding of UTF-8
  EXPECT_TRUE(istarts_with("Subject: x", "SUBJECT"));
  EXPECT_EQ(ifind("abcDEF", "cde"), 2u);
  EXPECT_EQ(to_lower("MiXeD-1"), "mixed-1");
}

TEST(bytes, trim_and_lines) {
  EXPECT_EQ(trim(" \t x y \r\n"), "x y");
  const std::string_view buf = "one\r\ntwo\nthree";
  auto l = line_at(buf, 0);
  EXPECT_EQ(l.text, "one");
  EXPECT_TRUE(l.terminated);
  l = line_at(buf, l.next);
  EXPECT_EQ(l.text, "two");
  l = line_at(buf, l.next);
  EXPECT_EQ(l.text, "three");
  EXPECT_FALSE(l.terminated);
  EXPECT_EQ(line_at("bare\rcr\n", 0).text, "bare\rcr");
}

TEST(bytes, utf8_validation) {
  struct row {
    std::string_view s;
    bool ok;
  };
  // RFC 3629 §4 edge cases as rows.
  const row rows[] = {{"plain", true},         {"caf\xC3\xA9", true},
                      {"\xE2\x82\xAC", true},  {"\xF0\x9F\x98\x80", true},
                      {"\xC0\xAF", false},     {"\xE0\x80\xAF", false},
                      {"\xED\xA0\x80", false}, {"\xF4\x90\x80\x80", false},
                      {"\xC3", false},         {"\xFF", false}};
  for (const auto& r : rows)
    EXPECT_EQ(is_valid_utf8(r.s), r.ok) << r.s;
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_TRUE(has_8bit("abcdefghij\x80"));
  EXPECT_FALSE(has_8bit("abcdefghijklmnop"));
}

TEST(error, permanence) {
  EXPECT_TRUE(is_permanent(make_error_code(errc::malformed_input)));
  EXPECT_FALSE(is_permanent(make_error_code(errc::io_error)));
  EXPECT_FALSE(is_permanent(error_code(ENOSPC, boost::system::system_category())));
  EXPECT_TRUE(is_permanent(error_code(EACCES, boost::system::system_category())));
  EXPECT_FALSE(is_permanent(error_code{}));
  EXPECT_EQ(make_error_code(errc::limit_exceeded).message(), "limit exceeded");
}

TEST(clock, manual_clock_moves_when_told) {
  manual_clock c;
  const auto t0 = c.now();
  c.advance(std::chrono::seconds(5));
  EXPECT_EQ(c.now() - t0, std::chrono::seconds(5));
}

TEST(log, sink_receives_at_or_above_level) {
  std::vector<std::string> seen;
  set_log_sink(
      [&](log_level, std::string_view comp, std::string_view msg) {
        seen.push_back(std::string(comp) + ":" + std::string(msg));
      },
      log_level::notice);
  log(log_level::info, "mime", "dropped");
  log(log_level::warning, "mime", "kept");
  EXPECT_FALSE(log_enabled(log_level::debug));
  set_log_sink({});
  log(log_level::error, "mime", "no sink");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "mime:kept");
}

TEST(HeaderValues, DotAtomTokenQuotedComment) {
  using namespace mailkit;
  EXPECT_TRUE(is_dot_atom("example.com"));
  EXPECT_TRUE(is_dot_atom("a!#$%&'*+-/=?^_`{|}~b"));
  EXPECT_FALSE(is_dot_atom(""));
  EXPECT_FALSE(is_dot_atom(".a"));
  EXPECT_FALSE(is_dot_atom("a."));
  EXPECT_FALSE(is_dot_atom("a..b"));
  EXPECT_FALSE(is_dot_atom("a b"));
  EXPECT_FALSE(is_dot_atom("a@b"));
  EXPECT_TRUE(is_mime_token("mx.example.com"));
  EXPECT_FALSE(is_mime_token("a/b")); // tspecial (RFC 2045 §5.1)
  EXPECT_FALSE(is_mime_token("a@b"));
  EXPECT_FALSE(is_mime_token("\xc3\xa9"));
  EXPECT_FALSE(is_mime_token(""));
  EXPECT_EQ(quoted_string("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
  EXPECT_EQ(quoted_string("x\r\nInjected: y"), "\"xInjected: y\"");
  EXPECT_EQ(comment_text("a (b) \\ c\r\n"), "a \\(b\\) \\\\ c");
}

// copy_bytes and append_bytes take a different path when the destination is 1 to 63 bytes
// after the source modulo 4096 (core/bytes.hpp): every such offset and its neighbours, sizes
// on both sides of the piece size and of several pieces, each compared with memcpy's result.
TEST(bytes, copy_bytes_copies_at_every_alignment) {
  std::vector<unsigned char> src(3 * 4096 + 70 * 1024);
  for (std::size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<unsigned char>(i * 131 + (i >> 8));
  std::vector<unsigned char> dst(src.size() + 8192);
  for (std::size_t delta : {0, 1, 7, 8, 16, 31, 32, 63, 64, 65, 4000, 4095}) {
    for (std::size_t n : {0, 1, 2047, 2048, 2049, 4096, 6000, 65536 + 13}) {
      std::fill(dst.begin(), dst.end(), 0xEE);
      const unsigned char* s = src.data() + 64;
      // The destination `delta` bytes after the source modulo 4096.
      auto base = reinterpret_cast<std::uintptr_t>(dst.data()) + 4096;
      base -= (base - reinterpret_cast<std::uintptr_t>(s)) & 4095;
      unsigned char* d = reinterpret_cast<unsigned char*>(base + delta);
      ASSERT_LE(d + n + 1, dst.data() + dst.size());
      copy_bytes(d, s, n);
      EXPECT_EQ(std::memcmp(d, s, n), 0) << "delta " << delta << " size " << n;
      EXPECT_EQ(d[n], 0xEE) << "wrote past the end: delta " << delta << " size " << n;
      EXPECT_EQ(d[-1], 0xEE) << "wrote before the start: delta " << delta << " size " << n;
    }
  }
}

TEST(bytes, append_bytes_appends_like_append) {
  std::string src(200 * 1024, '\0');
  for (std::size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<char>(i * 7 + 3);
  // Prefixes of every length up to 80 bytes move the destination through every offset from
  // the source that the split path covers, and past it.
  for (std::size_t prefix = 0; prefix < 80; ++prefix) {
    for (std::size_t n : {0, 100, 2048, 2049, 9000, 102400}) {
      std::string out(prefix, 'p');
      std::string want = out;
      const std::string_view piece(src.data() + prefix % 17, n);
      append_bytes(out, piece);
      want.append(piece);
      ASSERT_EQ(out, want) << "prefix " << prefix << " size " << n;
    }
  }
  // Many appends in a row (the queue writer's pattern) stay correct as the string grows.
  std::string out, want;
  for (std::size_t i = 0; i < 60; ++i) {
    const std::string_view piece(src.data() + i, 2000 + i * 97);
    append_bytes(out, piece);
    want.append(piece);
  }
  EXPECT_EQ(out, want);
}
