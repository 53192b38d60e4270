// SPDX-License-Identifier: Apache-2.0
// dkim_throughput: the DKIM hot paths measured with their raw anchors in the same process, one
// line per measurement ("name value unit"), for benchmarks/dkim_bench.sh.
//   hash      body hashing of a 1 MB body (simple, relaxed) in MB/s, beside raw SHA-256 (EVP)
//   sign      DKIM signatures per second, 4 KB and 100 KB messages, rsa-sha256-2048 and ed25519
//   verify    verifications per second (same messages; key record parsed each time)
//   raw       OpenSSL RSA-2048 sign of a digest, libsodium Ed25519 sign of 32 bytes, per second
// Rates are per second of process CPU time (like `openssl speed` without -elapsed).
// Usage: dkim_throughput [seconds-per-measurement]
#include <mailkit/dkim/dkim.hpp>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

using namespace mailkit::dkim;
// CPU time of this process, as `openssl speed` measures by default (user time): on a shared
// machine wall time mostly measures the neighbours.
struct bench_clock {
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<bench_clock, duration>;
  static time_point now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return time_point(duration(std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec));
  }
};

namespace {

double seconds_per = 1.0;

// Run f repeatedly for about seconds_per; return calls per second.
template <class F>
double rate(F&& f) {
  f(); // warm up
  std::size_t n = 0;
  const auto start = bench_clock::now();
  auto now = start;
  do {
    for (int i = 0; i < 4; ++i)
      f();
    n += 4;
    now = bench_clock::now();
  } while (now - start < std::chrono::duration<double>(seconds_per));
  return static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
}

// The measurements a ratio compares run interleaved: each function in turn for a slice of
// seconds_per / slices, `slices` times; each rate is the median of its slice rates. A neighbour
// that takes the CPU (or its SMT sibling) for a while then slows every side alike instead of
// whichever side happened to run at that moment.
std::vector<double> interleaved(const std::vector<std::function<void()>>& fs, int slices = 20) {
  std::vector<std::vector<double>> r(fs.size());
  for (const auto& f : fs)
    f(); // warm up
  for (int s = 0; s < slices; ++s) {
    for (std::size_t k = 0; k < fs.size(); ++k) {
      std::size_t n = 0;
      const auto start = bench_clock::now();
      auto now = start;
      do {
        fs[k]();
        ++n;
        now = bench_clock::now();
      } while (now - start < std::chrono::duration<double>(seconds_per / slices));
      r[k].push_back(static_cast<double>(n) / std::chrono::duration<double>(now - start).count());
    }
  }
  std::vector<double> med;
  for (auto& v : r) {
    std::sort(v.begin(), v.end());
    med.push_back(v[v.size() / 2]);
  }
  return med;
}

// Plain text mail: words, single spaces, CRLF lines of up to 76 columns, a blank line now and
// then, like a newsletter body (no trailing whitespace: the common case relaxed sees).
std::string text_body(std::size_t size) {
  static const char* words[] = {"the",     "quick",    "brown", "fox",       "jumps",
                                "over",    "lazy",     "dog",   "mail",      "server",
                                "message", "delivery", "queue", "signature", "domain",
                                "and",     "of",       "to",    "a",         "in"};
  std::string out;
  out.reserve(size + 100);
  unsigned seed = 7;
  std::size_t col = 0;
  while (out.size() < size) {
    seed = seed * 1103515245 + 12345;
    const char* w = words[(seed >> 16) % 20];
    const std::size_t len = std::char_traits<char>::length(w);
    if (col + len + 1 > 76) {
      out += "\r\n";
      col = 0;
      if ((seed >> 8) % 9 == 0) out += "\r\n";
    } else if (col > 0) {
      out.push_back(' ');
      ++col;
    }
    out.append(w, len);
    col += len;
  }
  out += "\r\n";
  return out;
}

std::string message(std::size_t size) {
  std::string h = "From: Joe <joe@example.com>\r\nTo: Suzie <suzie@example.net>\r\n"
                  "Subject: benchmark message\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                  "Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  return h + text_body(size > h.size() ? size - h.size() : 0);
}

void print(const char* name, double v, const char* unit) {
  std::printf("%s %.1f %s\n", name, v, unit);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1) seconds_per = std::atof(argv[1]);
  if (sodium_init() < 0) return 1;

  // ---- body hashing, 1 MB
  const std::string body = text_body(1 << 20);
  const double mb = static_cast<double>(body.size()) / 1e6;
  {
    auto hash_with = [&](canonicalization c) {
      return [&body, c] {
        body_hasher h(c, hash_algorithm::sha256);
        // SMTP DATA arrives in pieces: feed 64 KiB chunks.
        for (std::size_t p = 0; p < body.size(); p += 65536)
          h.update(std::string_view(body).substr(p, 65536));
        (void)h.finish();
      };
    };
    const auto r =
        interleaved({[&] {
                       digest d(hash_algorithm::sha256);
                       d.update(body);
                       (void)d.finish();
                     },
                     hash_with(canonicalization::simple), hash_with(canonicalization::relaxed)});
    print("hash_raw_sha256_MBps", mb * r[0], "MB/s");
    print("hash_simple_MBps", mb * r[1], "MB/s");
    print("hash_relaxed_MBps", mb * r[2], "MB/s");
  }

  // ---- raw anchors
  auto rsa = *private_key::generate(key_type::rsa, 2048);
  auto ed = *private_key::generate(key_type::ed25519);
  const std::string dg(32, '\x5a');
  auto options_for = [](const private_key& k) {
    sign_options o;
    o.domain = "example.com";
    o.selector = "sel";
    o.algo = k.type() == key_type::rsa ? algorithm::rsa_sha256 : algorithm::ed25519_sha256;
    return o;
  };
  // The 4 KB signing rates are compared with the raw signing rates: measured interleaved.
  const std::string m4k = message(4096);
  double sign4k[2] = {0, 0};
  {
    const sign_options o = options_for(rsa);
    const auto r = interleaved({[&] { (void)rsa.sign_digest(dg, hash_algorithm::sha256); },
                                [&] { (void)sign(m4k, rsa, o); }});
    print("raw_rsa2048_sign_per_s", r[0], "ops/s");
    sign4k[0] = r[1];
  }
  {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[64];
    crypto_sign_keypair(pk, sk);
    const sign_options o = options_for(ed);
    const auto r =
        interleaved({[&] {
                       crypto_sign_detached(
                           sig, nullptr, reinterpret_cast<const unsigned char*>(dg.data()), 32, sk);
                     },
                     [&] { (void)sign(m4k, ed, o); }});
    print("raw_ed25519_sign_per_s", r[0], "ops/s");
    sign4k[1] = r[1];
  }

  // ---- DKIM sign / verify
  for (std::size_t size : {std::size_t{4096}, std::size_t{102400}}) {
    const std::string m = message(size);
    for (auto* k : {&rsa, &ed}) {
      const sign_options o = options_for(*k);
      const char* an = k->type() == key_type::rsa ? "rsa2048" : "ed25519";
      const std::string sk = std::to_string(size / 1024) + "k";
      print(("sign_" + std::string(an) + "_" + sk + "_per_s").c_str(),
            size == 4096 ? sign4k[k == &rsa ? 0 : 1] : rate([&] { (void)sign(m, *k, o); }),
            "ops/s");
      const std::string signed_m = *sign(m, *k, o) + m;
      const std::string txt = k->dns_txt();
      print(("verify_" + std::string(an) + "_" + sk + "_per_s").c_str(), rate([&] {
              verifier v;
              v.set_message(signed_m);
              v.provide_key_txt("sel._domainkey.example.com", {txt});
              auto r = v.finish();
              if (r.empty() || r[0].result != result::pass) std::abort();
            }),
            "ops/s");
    }
  }
  return 0;
}
