// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/base64.hpp>
#include <mailkit/core/error.hpp>

#include <gtest/gtest.h>

#include <random>

namespace b64 = mailkit::base64;

namespace {
struct vector_case {
  std::string_view plain, encoded;
};
// RFC 4648 §10 test vectors.
constexpr vector_case rfc4648[] = {{"", ""},
                                   {"f", "Zg=="},
                                   {"fo", "Zm8="},
                                   {"foo", "Zm9v"},
                                   {"foob", "Zm9vYg=="},
                                   {"fooba", "Zm9vYmE="},
                                   {"foobar", "Zm9vYmFy"}};
} // namespace

TEST(base64, rfc4648_vectors) {
  for (const auto& v : rfc4648) {
    EXPECT_EQ(b64::encode(v.plain), v.encoded);
    auto d = b64::decode(v.encoded);
    ASSERT_TRUE(d) << v.encoded;
    EXPECT_EQ(*d, v.plain);
    EXPECT_EQ(b64::decode_mime(v.encoded), v.plain);
  }
}

TEST(base64, strict_rejects) {
  // Rows: input that RFC 4648 §3 does not allow.
  for (std::string_view bad :
       {"Zg", "Zg=", "Zm9v!", "Z===", "Zg==Zg==", "Zh==", "Zm9=", "Zm 9v", "=Zg="}) {
    auto d = b64::decode(bad);
    EXPECT_FALSE(d) << bad;
    if (!d) {
      EXPECT_EQ(d.error(), mailkit::errc::malformed_input);
      EXPECT_TRUE(mailkit::is_permanent(d.error()));
    }
  }
  auto ws = b64::decode(" Zm9v\r\n YmFy\t", b64::mode::ignore_whitespace);
  ASSERT_TRUE(ws);
  EXPECT_EQ(*ws, "foobar");
}

TEST(base64, mime_lenient) {
  b64::decode_status st;
  EXPECT_EQ(b64::decode_mime("Zm9v\r\nYmFy\r\n", &st), "foobar");
  EXPECT_TRUE(st.clean());
  EXPECT_EQ(b64::decode_mime("Zm9v*YmFy", &st), "foobar");
  EXPECT_TRUE(st.invalid_characters);
  EXPECT_EQ(b64::decode_mime("Zm8=Zm9v", &st), "fo");
  EXPECT_TRUE(st.data_after_padding);
  EXPECT_EQ(b64::decode_mime("Zm9vYg", &st), "foob");
  EXPECT_TRUE(st.incomplete_quantum);
}

TEST(base64, streaming_equals_one_shot_for_every_split) {
  std::mt19937 rng(42);
  std::string data(3000, '\0');
  for (auto& c : data)
    c = static_cast<char>(rng());
  const std::string enc = b64::encode_lines(data);
  for (std::size_t step : {1u, 2u, 3u, 5u, 7u, 64u, 77u, 78u, 1000u}) {
    b64::decoder d;
    std::string out;
    for (std::size_t i = 0; i < enc.size(); i += step)
      d.feed(std::string_view(enc).substr(i, step), out);
    d.finish(out);
    EXPECT_EQ(out, data) << step;
    EXPECT_TRUE(d.status().clean());
  }
}

TEST(base64, encode_lines_wraps_at_76) {
  const std::string enc = b64::encode_lines(std::string(200, 'x'));
  std::size_t start = 0;
  while (start < enc.size()) {
    const std::size_t e = enc.find("\r\n", start);
    ASSERT_NE(e, std::string::npos);
    EXPECT_LE(e - start, 76u);
    start = e + 2;
  }
}
