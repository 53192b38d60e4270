// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/base64.hpp>
#include <mailkit/core/error.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace mailkit::base64 {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint32_t bad = 0x01FFFFFF; // bit 24 marks "not in the alphabet"

// value[c]: the 6-bit value of c, or 0xFF.
constexpr std::array<std::uint8_t, 256> make_values() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t)
    v = 0xFF;
  for (unsigned i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}
constexpr auto values = make_values();

// dN[c]: the bits character N of a quantum contributes to the 24-bit group, already placed so
// that byte 0 of the result is the first output byte. OR-ing the four gives the group, or a value
// with bit 24 set when any character was outside the alphabet.
template <int N>
constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    const std::uint32_t v = values[c];
    if (v == 0xFF) {
      t[c] = bad;
      continue;
    }
    if constexpr (N == 0) t[c] = v << 2;
    if constexpr (N == 1) t[c] = (v >> 4) | ((v & 0x0F) << 12);
    if constexpr (N == 2) t[c] = ((v >> 2) << 8) | ((v & 0x03) << 22);
    if constexpr (N == 3) t[c] = v << 16;
  }
  return t;
}
constexpr auto d0 = make_table<0>();
constexpr auto d1 = make_table<1>();
constexpr auto d2 = make_table<2>();
constexpr auto d3 = make_table<3>();

inline std::uint32_t quantum(const unsigned char* p) noexcept {
  return d0[p[0]] | d1[p[1]] | d2[p[2]] | d3[p[3]];
}

inline void put3(char* o, std::uint32_t g) noexcept {
  o[0] = static_cast<char>(g & 0xFF);
  o[1] = static_cast<char>((g >> 8) & 0xFF);
  o[2] = static_cast<char>((g >> 16) & 0xFF);
}

// Store the three bytes of a group with one 4-byte write; the caller guarantees one byte of
// slack after them, which the next group (or the final resize) overwrites.
inline void put3_wide(char* o, std::uint32_t g) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(o, &g, 4);
  } else {
    put3(o, g);
  }
}

} // namespace

void encode_append(std::string_view data, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + encoded_size(data.size()));
  char* o = out.data() + start;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  for (; n >= 3; n -= 3, p += 3, o += 4) {
    const std::uint32_t g = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
    o[0] = alphabet[(g >> 18) & 63];
    o[1] = alphabet[(g >> 12) & 63];
    o[2] = alphabet[(g >> 6) & 63];
    o[3] = alphabet[g & 63];
  }
  if (n > 0) {
    const std::uint32_t g = (std::uint32_t{p[0]} << 16) | (n == 2 ? std::uint32_t{p[1]} << 8 : 0);
    o[0] = alphabet[(g >> 18) & 63];
    o[1] = alphabet[(g >> 12) & 63];
    o[2] = n == 2 ? alphabet[(g >> 6) & 63] : '=';
    o[3] = '=';
  }
}

std::string encode(std::string_view data) {
  std::string out;
  encode_append(data, out);
  return out;
}

std::string encode_lines(std::string_view data, std::size_t line_length, std::string_view eol) {
  // Whole quanta per line: a line of 76 characters carries 57 input bytes.
  const std::size_t per_line = line_length >= 4 ? line_length / 4 * 3 : 3;
  std::string out;
  out.reserve(encoded_size(data.size()) + (data.size() / per_line + 1) * eol.size());
  for (std::size_t i = 0; i < data.size(); i += per_line) {
    encode_append(data.substr(i, per_line), out);
    out.append(eol);
  }
  return out;
}

expected<std::string> decode(std::string_view text, mode m) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  unsigned quad = 0;
  int have = 0;
  int pad = 0;
  for (const char ch : text) {
    if (m == mode::ignore_whitespace && (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'))
      continue;
    if (ch == '=') {
      // RFC 4648 §3.2: padding only completes the final quantum, after two or three characters.
      if (have < 2) return fail(errc::malformed_input);
      ++pad;
      if (have + pad > 4) return fail(errc::malformed_input);
      continue;
    }
    const std::uint8_t v = values[static_cast<unsigned char>(ch)];
    if (v == 0xFF || pad > 0) return fail(errc::malformed_input);
    quad = (quad << 6) | v;
    if (++have == 4) {
      out.push_back(static_cast<char>(quad >> 16));
      out.push_back(static_cast<char>((quad >> 8) & 0xFF));
      out.push_back(static_cast<char>(quad & 0xFF));
      quad = 0;
      have = 0;
    }
  }
  if (have == 0) return out;
  if (have + pad != 4) return fail(errc::malformed_input); // RFC 4648 §3.2: padding required
  // RFC 4648 §3.5: the unused bits of the last quantum must be zero.
  if (have == 2) {
    if (quad & 0x0F) return fail(errc::malformed_input);
    out.push_back(static_cast<char>(quad >> 4));
  } else {
    if (quad & 0x03) return fail(errc::malformed_input);
    out.push_back(static_cast<char>(quad >> 10));
    out.push_back(static_cast<char>((quad >> 2) & 0xFF));
  }
  return out;
}

void decoder::feed(std::string_view in, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  const std::size_t start = out.size();
  // Room for every quantum the input can hold, plus one pending from an earlier chunk; the
  // string is shrunk to what was written at the end.
  out.resize(start + (in.size() / 4 + 2) * 3 + 1); // +1: slack for put3_wide
  char* o = out.data() + start;

  auto slow = [&](unsigned char c) {
    if (padded_) {
      if (values[c] != 0xFF)
        status_.data_after_padding = true;
      else if (c != '=' && !(c == ' ' || c == '\t' || c == '\r' || c == '\n'))
        status_.invalid_characters = true;
      return;
    }
    const std::uint8_t v = values[c];
    if (v != 0xFF) {
      quad_ = (quad_ << 6) | v;
      if (++have_ == 4) {
        put3(o, ((quad_ >> 16) & 0xFF) | (((quad_ >> 8) & 0xFF) << 8) | ((quad_ & 0xFF) << 16));
        o += 3;
        quad_ = 0;
        have_ = 0;
      }
    } else if (c == '=') {
      padded_ = true; // RFC 2045 §6.8: '=' marks the end of the encoded data
    } else if (!(c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
      status_.invalid_characters = true;
    }
  };

  while (p < end) {
    if (have_ == 0 && !padded_) {
      // Fast loop: whole quanta of alphabet characters, two at a time when possible.
      while (end - p >= 8) {
        const std::uint32_t a = quantum(p);
        const std::uint32_t b = quantum(p + 4);
        if ((a | b) & 0xFF000000u) break;
        put3_wide(o, a);
        put3_wide(o + 3, b);
        o += 6;
        p += 8;
      }
      if (end - p >= 4) {
        const std::uint32_t a = quantum(p);
        if (!(a & 0xFF000000u)) {
          put3(o, a);
          o += 3;
          p += 4;
          continue;
        }
      }
      if (p == end) break;
    }
    // Careful path: one character, then back to the fast loop at the next quantum boundary.
    slow(*p++);
  }
  out.resize(static_cast<std::size_t>(o - out.data()));
}

void decoder::finish(std::string& out) {
  // A quantum cut short: 2 characters give 1 byte, 3 give 2; a single character gives nothing.
  if (have_ == 2) out.push_back(static_cast<char>(quad_ >> 4));
  if (have_ == 3) {
    out.push_back(static_cast<char>(quad_ >> 10));
    out.push_back(static_cast<char>((quad_ >> 2) & 0xFF));
  }
  if (have_ != 0 && !padded_) status_.incomplete_quantum = true;
  if (have_ == 1) status_.incomplete_quantum = true;
  quad_ = 0;
  have_ = 0;
}

std::string decode_mime(std::string_view text, decode_status* status) {
  decoder d;
  std::string out;
  d.feed(text, out);
  d.finish(out);
  if (status) *status = d.status();
  return out;
}

} // namespace mailkit::base64
