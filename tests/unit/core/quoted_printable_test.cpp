// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/quoted_printable.hpp>

#include <gtest/gtest.h>

#include <random>

namespace qp = mailkit::qp;

TEST(quoted_printable, decode_rules) {
  struct row {
    std::string_view in, out;
  };
  // RFC 2045 §6.7 rules as table rows.
  const row rows[] = {
      {"caf=C3=A9", "caf\xC3\xA9"},          // (1) general 8-bit representation
      {"a=3db", "a=b"},                      // lowercase hex accepted
      {"soft=\r\nbreak", "softbreak"},       // (5) soft line break
      {"soft=  \r\nbreak", "softbreak"},     // transport padding after '='
      {"soft=\nbreak", "softbreak"},         // LF-only input
      {"trail   \r\nnext", "trail\r\nnext"}, // (3) trailing whitespace removed
      {"keep=20\r\n", "keep \r\n"},          // encoded whitespace is data
      {"bad=ZZescape", "bad=ZZescape"},      // invalid escape kept literally
      {"end=", "end"},                       // soft break at the very end
      {"end   ", "end"},
  };
  for (const auto& r : rows)
    EXPECT_EQ(qp::decode(r.in), r.out) << r.in;
  qp::decode_status st;
  (void)qp::decode("x=G1", &st);
  EXPECT_TRUE(st.invalid_escapes);
}

TEST(quoted_printable, streaming_equals_one_shot) {
  const std::string in = "Line one=20with =3D signs   \r\nsoft=\r\nbreak=\n and=C3=A9  \nlast=";
  const std::string whole = qp::decode(in);
  for (std::size_t step = 1; step <= in.size(); ++step) {
    qp::decoder d;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += step)
      d.feed(std::string_view(in).substr(i, step), out);
    d.finish(out);
    EXPECT_EQ(out, whole) << step;
  }
}

TEST(quoted_printable, encode_round_trip_and_line_length) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::string data(static_cast<std::size_t>(rng() % 500), '\0');
    for (auto& c : data)
      c = static_cast<char>(rng() % 4 == 0 ? rng() : ' ' + rng() % 95);
    const std::string enc = qp::encode(data, qp::encode_mode::binary);
    EXPECT_EQ(qp::decode(enc), data);
    std::size_t start = 0;
    while (start < enc.size()) {
      std::size_t e = enc.find("\r\n", start);
      if (e == std::string::npos) e = enc.size();
      EXPECT_LE(e - start, 76u); // RFC 2045 §6.7 (5)
      start = e + 2;
    }
  }
  EXPECT_EQ(qp::encode("a \nb", qp::encode_mode::text), "a=20\r\nb");
  EXPECT_EQ(qp::decode(qp::encode(".\nFrom me", qp::encode_mode::text)), ".\r\nFrom me");
  EXPECT_EQ(qp::encode(".\nFrom me").substr(0, 3), "=2E");
}
