// SPDX-License-Identifier: Apache-2.0
// core_bench: throughput of the transfer encodings in mailkit::core on 1 MB buffers: base64
// encode (one line and MIME 76-column lines), base64 decode (strict, and the lenient MIME
// decoder on CRLF-wrapped text, whole and streamed in 64 KB chunks), quoted-printable encode and
// decode (mostly-ASCII text and binary). Bytes processed are the input bytes of each call.
#include <mailkit/core/base64.hpp>
#include <mailkit/core/quoted_printable.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t one_mb = 1 << 20;

// A small deterministic generator (splitmix64) so every run sees the same bytes.
class rng {
public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

private:
  std::uint64_t s_;
};

std::string random_bytes(std::size_t n) {
  rng r(42);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = r.next();
    for (std::size_t k = 0; k < 8 && i + k < n; ++k, v >>= 8)
      out[i + k] = static_cast<char>(v & 0xFF);
  }
  return out;
}

// Mail-like text: ASCII words, about one non-ASCII UTF-8 character per 40 bytes (what a
// European-language message carries), lines of about 70 characters ending in CRLF.
std::string mostly_ascii_text(std::size_t n) {
  static constexpr std::string_view words[] = {
      "the",     "meeting", "report", "budget",   "invoice",    "attached", "please",
      "review",  "server",  "Grüße",  "café",     "déjà",       "über",     "release",
      "project", "status",  "update", "customer", "Straße",     "final",    "schedule",
      "with",    "and",     "for",    "a",        "conference", "€",        "notes"};
  rng r(7);
  std::string out;
  out.reserve(n + 100);
  std::size_t col = 0;
  while (out.size() < n) {
    const std::string_view w = words[r.next() % std::size(words)];
    if (col + w.size() + 1 > 70) {
      out += "\r\n";
      col = 0;
    } else if (col != 0) {
      out += ' ';
      ++col;
    }
    out += w;
    col += w.size();
  }
  out.resize(n);
  return out;
}

const std::string& binary_mb() {
  static const std::string s = random_bytes(one_mb);
  return s;
}
const std::string& text_mb() {
  static const std::string s = mostly_ascii_text(one_mb);
  return s;
}

void bm_base64_encode(benchmark::State& state) {
  const std::string& in = binary_mb();
  for (auto _ : state) {
    std::string out = mailkit::base64::encode(in);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_base64_encode);

void bm_base64_encode_lines(benchmark::State& state) {
  const std::string& in = binary_mb();
  for (auto _ : state) {
    std::string out = mailkit::base64::encode_lines(in);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_base64_encode_lines);

void bm_base64_decode_strict(benchmark::State& state) {
  const std::string in = mailkit::base64::encode(binary_mb());
  for (auto _ : state) {
    auto out = mailkit::base64::decode(in);
    if (!out) {
      state.SkipWithError("strict decode failed");
      return;
    }
    benchmark::DoNotOptimize(out->data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_base64_decode_strict);

// The MIME body case: 76-character lines with CRLF (the careful path runs once per line).
void bm_base64_decode_mime(benchmark::State& state) {
  const std::string in = mailkit::base64::encode_lines(binary_mb());
  for (auto _ : state) {
    std::string out = mailkit::base64::decode_mime(in);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_base64_decode_mime);

// The streaming decoder as message::content_to drives it: 64 KB chunks into a reused buffer.
void bm_base64_decode_mime_streamed(benchmark::State& state) {
  const std::string in = mailkit::base64::encode_lines(binary_mb());
  constexpr std::size_t chunk = 64 * 1024;
  std::string out;
  out.reserve(chunk);
  for (auto _ : state) {
    mailkit::base64::decoder d;
    std::size_t total = 0;
    for (std::size_t i = 0; i < in.size(); i += chunk) {
      out.clear();
      d.feed(std::string_view(in).substr(i, chunk), out);
      total += out.size();
    }
    out.clear();
    d.finish(out);
    total += out.size();
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_base64_decode_mime_streamed);

void bm_qp_encode_text(benchmark::State& state) {
  const std::string& in = text_mb();
  for (auto _ : state) {
    std::string out = mailkit::qp::encode(in);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_qp_encode_text);

void bm_qp_encode_binary(benchmark::State& state) {
  const std::string& in = binary_mb();
  for (auto _ : state) {
    std::string out = mailkit::qp::encode(in, mailkit::qp::encode_mode::binary);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_qp_encode_binary);

void bm_qp_decode_text(benchmark::State& state) {
  const std::string in = mailkit::qp::encode(text_mb());
  for (auto _ : state) {
    std::string out = mailkit::qp::decode(in);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_qp_decode_text);

// Worst case for the decoder: every byte escaped (binary through QP, as some mailers do).
void bm_qp_decode_binary(benchmark::State& state) {
  const std::string in = mailkit::qp::encode(binary_mb(), mailkit::qp::encode_mode::binary);
  for (auto _ : state) {
    std::string out = mailkit::qp::decode(in);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(bm_qp_decode_binary);

} // namespace

BENCHMARK_MAIN();
