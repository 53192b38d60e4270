// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/base64.hpp>
#include <mailkit/dkim/canonicalization.hpp>
#include <mailkit/dkim/message.hpp>

#include <gtest/gtest.h>

#include <random>

using namespace mailkit::dkim;

namespace {

std::string streamed(std::string_view body, canonicalization c, std::size_t chunk, bool portable,
                     std::optional<std::uint64_t> limit = {}) {
  body_hasher h(c, hash_algorithm::sha256, limit);
  h.force_portable_scan(portable);
  for (std::size_t p = 0; p < body.size(); p += chunk)
    h.update(body.substr(p, chunk));
  return h.finish();
}

std::string sha256(std::string_view s) {
  digest d(hash_algorithm::sha256);
  d.update(s);
  return d.finish();
}

} // namespace

// RFC 6376 §3.4.5 example.
TEST(DkimCanon, Rfc6376Example) {
  const std::string h1 = "A: X\r\n";
  const std::string h2 = "B : Y\t\r\n\tZ  \r\n";
  std::string out;
  canonicalize_header(h1, canonicalization::relaxed, out);
  canonicalize_header(h2, canonicalization::relaxed, out);
  EXPECT_EQ(out, "a:X\r\nb:Y Z\r\n");
  out.clear();
  canonicalize_header(h2, canonicalization::simple, out);
  EXPECT_EQ(out, h2);
  const std::string body = " C \r\nD \t E\r\n\r\n\r\n";
  EXPECT_EQ(canonicalize_body(body, canonicalization::relaxed), " C\r\nD E\r\n");
  EXPECT_EQ(canonicalize_body(body, canonicalization::simple), " C \r\nD \t E\r\n");
}

TEST(DkimCanon, EmptyBodies) {
  EXPECT_EQ(canonicalize_body("", canonicalization::simple), "\r\n");
  EXPECT_EQ(canonicalize_body("", canonicalization::relaxed), "");
  EXPECT_EQ(canonicalize_body("\r\n\r\n", canonicalization::relaxed), "");
  EXPECT_EQ(canonicalize_body("  \r\n\t\r\n", canonicalization::relaxed), "");
  EXPECT_EQ(canonicalize_body("\r\n\r\n", canonicalization::simple), "\r\n");
  // RFC 6376 §3.4.3: the well-known hashes of the empty body.
  EXPECT_EQ(mailkit::base64::encode(streamed("", canonicalization::simple, 1, false)),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  EXPECT_EQ(mailkit::base64::encode(streamed("", canonicalization::relaxed, 1, false)),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(DkimCanon, NoTrailingCrlfAndBareLf) {
  EXPECT_EQ(canonicalize_body("abc", canonicalization::simple), "abc\r\n");
  EXPECT_EQ(canonicalize_body("abc", canonicalization::relaxed), "abc\r\n");
  EXPECT_EQ(canonicalize_body("a\nb\n\n", canonicalization::simple), "a\r\nb\r\n");
  EXPECT_EQ(canonicalize_body("a  \nb\t\tc \n", canonicalization::relaxed), "a\r\nb c\r\n");
}

// The streaming hasher, in every chunking and with both scans, equals the reference.
TEST(DkimCanon, StreamingMatchesReference) {
  std::mt19937 rng(12345);
  const char alphabet[] = {'a', 'b', ' ', ' ', '\t', '\r', '\n', '\n', 'x', '\xc3', '.'};
  int cases = 0;
  for (int round = 0; round < 400; ++round) {
    std::string body;
    const std::size_t len = rng() % (round < 200 ? 64 : 2000);
    for (std::size_t i = 0; i < len; ++i) {
      if (rng() % 4 == 0) {
        body += "\r\n";
        continue;
      }
      body.push_back(alphabet[rng() % sizeof alphabet]);
    }
    for (auto c : {canonicalization::simple, canonicalization::relaxed}) {
      const std::string want = sha256(canonicalize_body(body, c));
      for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
                                std::size_t{64}, std::size_t{65}, std::size_t{100000}})
        for (bool portable : {false, true}) {
          ASSERT_EQ(streamed(body, c, chunk, portable), want)
              << "round " << round << " chunk " << chunk << " canon " << int(c);
          ++cases;
        }
    }
  }
  EXPECT_GT(cases, 1000);
}

TEST(DkimCanon, LongRunsUseVectorPath) {
  std::string body;
  for (int i = 0; i < 5000; ++i)
    body += "The quick brown fox jumps over the lazy dog, again.\r\n";
  body += "tab\there  and trailing   \r\n\r\n\r\n";
  for (auto c : {canonicalization::simple, canonicalization::relaxed}) {
    const std::string want = sha256(canonicalize_body(body, c));
    EXPECT_EQ(streamed(body, c, 65536, false), want);
    EXPECT_EQ(streamed(body, c, 4093, false), want);
    EXPECT_EQ(streamed(body, c, 4093, true), want);
  }
}

TEST(DkimCanon, LengthLimit) {
  const std::string body = "hello world\r\nsecond line\r\n";
  const std::string canon = canonicalize_body(body, canonicalization::simple);
  body_hasher h(canonicalization::simple, hash_algorithm::sha256, 5);
  h.update(body);
  EXPECT_EQ(h.finish(), sha256(canon.substr(0, 5)));
  EXPECT_EQ(h.hashed_length(), 5u);
  EXPECT_EQ(h.canonical_length(), canon.size());
}

TEST(DkimMessage, SplitHeader) {
  const std::string m = "A: 1\r\nB: 2\r\n  cont\r\nC:3\r\n\r\nbody\r\n";
  const auto s = split_header(m);
  ASSERT_EQ(s.fields.size(), 3u);
  EXPECT_EQ(s.fields[1].raw, "B: 2\r\n  cont\r\n");
  EXPECT_EQ(s.fields[1].name, "B");
  EXPECT_EQ(s.fields[2].value, "3");
  EXPECT_EQ(m.substr(s.body_offset), "body\r\n");
  const auto lf = split_header("A: 1\nB: 2\n\nbody\n");
  EXPECT_EQ(lf.fields.size(), 2u);
  EXPECT_EQ(lf.body_offset, 11u);
  const auto nobody = split_header("A: 1\r\n");
  EXPECT_EQ(nobody.fields.size(), 1u);
  EXPECT_EQ(nobody.body_offset, 6u);
}
