// SPDX-License-Identifier: Apache-2.0
// mime_throughput: whole-message MIME throughput of mailkit, for comparison with the anchors
// (anchors/gmime_parse.c, anchors/python_email.py) that do the same work:
//   --mode=walk (default)  parse, visit every part, transfer-decode every leaf's content
//   --mode=parse           parse only (the part tree and every part's MIME fields)
// Files are read into memory first; the clock covers only the parsing (the copy into the
// message's buffer included). --repeat N parses each file N times.
//   --decode=stream (default)  content_to() into a counting sink, 64 KB at a time: the work of
//                              GMime's g_mime_data_wrapper_write_to_stream into a null stream
//   --decode=copy              content(): the decoded bytes as one owned string, as the Python
//                              binding and Python's get_payload(decode=True) return them
// --peak parses one file, read from disk in 64 KB chunks into an incremental parser that reserved
// the file's size, walks and decodes it, and reports the peak RSS (getrusage ru_maxrss) and its
// ratio to the input size.
//
// Output, one line: "mailkit-mime mode=walk decode=stream files=200 repeat=5 bytes=...
// parts=... decoded=... seconds=... mb_per_s=..." (MB = 10^6 bytes; bytes, parts and decoded
// count every repetition). --peak adds peak_rss_kb, baseline_rss_kb and ratio. Exit status:
// 0 success, 1 unreadable file or parse failure, 2 usage.
#include <mailkit/mime/message.hpp>

#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mime = mailkit::mime;

namespace {

struct options {
  bool peak = false;
  bool walk = true;
  bool stream = true;
  long repeat = 1;
  std::vector<std::string> files;
};

struct tally {
  std::size_t parts = 0;
  std::size_t decoded = 0;
};

int usage() {
  std::fprintf(stderr, "usage: mime_throughput [--peak] [--repeat N] [--mode=parse|walk] "
                       "[--decode=stream|copy] FILES...\n");
  return 2;
}

long max_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss; // kilobytes on Linux
}

bool read_whole(const std::string& path, std::string& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  struct stat st {};
  if (fstat(fileno(f), &st) == 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[64 * 1024];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  const bool ok = !std::ferror(f);
  std::fclose(f);
  return ok;
}

// Visit every part (storage order is depth-first) and transfer-decode every leaf.
void walk(const mime::message& msg, const options& opt, tally& t) {
  for (const mime::part& p : msg.parts()) {
    ++t.parts;
    if (!opt.walk || p.is_multipart || p.is_message) continue;
    if (opt.stream) {
      msg.content_to(p, [&t](std::string_view chunk) { t.decoded += chunk.size(); });
    } else {
      t.decoded += msg.content(p).size();
    }
  }
}

const char* mode_name(const options& opt) {
  return opt.walk ? "walk" : "parse";
}

int run_peak(const options& opt) {
  if (opt.files.size() != 1) {
    std::fprintf(stderr, "mime_throughput: --peak takes exactly one file\n");
    return 2;
  }
  const std::string& path = opt.files.front();
  const long baseline_kb = max_rss_kb();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "mime_throughput: cannot open %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  struct stat st {};
  if (fstat(fileno(f), &st) != 0) {
    std::fclose(f);
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  mime::parser parser;
  parser.reserve(static_cast<std::size_t>(st.st_size));
  std::vector<char> buf(64 * 1024);
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    if (!parser.feed(std::string_view(buf.data(), n))) {
      std::fprintf(stderr, "mime_throughput: %s: parse failed\n", path.c_str());
      std::fclose(f);
      return 1;
    }
  }
  std::fclose(f);
  auto msg = parser.finish();
  if (!msg) {
    std::fprintf(stderr, "mime_throughput: %s: %s\n", path.c_str(), msg.error().message().c_str());
    return 1;
  }
  tally t;
  walk(*msg, opt, t);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long peak_kb = max_rss_kb();
  const double input = static_cast<double>(st.st_size);
  std::printf("mailkit-mime mode=peak decode=%s files=1 repeat=1 bytes=%lld parts=%zu decoded=%zu "
              "seconds=%.4f mb_per_s=%.1f peak_rss_kb=%ld baseline_rss_kb=%ld ratio=%.3f\n",
              opt.stream ? "stream" : "copy", static_cast<long long>(st.st_size), t.parts,
              t.decoded, seconds, input / 1e6 / seconds, peak_kb, baseline_kb,
              static_cast<double>(peak_kb) * 1024.0 / input);
  return 0;
}

int run_throughput(const options& opt) {
  std::vector<std::string> data(opt.files.size());
  std::size_t total = 0;
  for (std::size_t i = 0; i < opt.files.size(); ++i) {
    if (!read_whole(opt.files[i], data[i])) {
      std::fprintf(stderr, "mime_throughput: cannot read %s: %s\n", opt.files[i].c_str(),
                   std::strerror(errno));
      return 1;
    }
    total += data[i].size();
  }
  tally t;
  const auto start = std::chrono::steady_clock::now();
  for (long r = 0; r < opt.repeat; ++r) {
    for (std::size_t i = 0; i < data.size(); ++i) {
      auto msg = mime::parse(std::string_view(data[i]));
      if (!msg) {
        std::fprintf(stderr, "mime_throughput: %s: %s\n", opt.files[i].c_str(),
                     msg.error().message().c_str());
        return 1;
      }
      walk(*msg, opt, t);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double bytes = static_cast<double>(total) * static_cast<double>(opt.repeat);
  std::printf("mailkit-mime mode=%s decode=%s files=%zu repeat=%ld bytes=%.0f parts=%zu "
              "decoded=%zu seconds=%.4f mb_per_s=%.1f\n",
              mode_name(opt), opt.stream ? "stream" : "copy", data.size(), opt.repeat, bytes,
              t.parts, t.decoded, seconds, bytes / 1e6 / seconds);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--peak") {
      opt.peak = true;
    } else if (a == "--repeat" && i + 1 < argc) {
      opt.repeat = std::strtol(argv[++i], nullptr, 10);
    } else if (a.substr(0, 9) == "--repeat=") {
      opt.repeat = std::strtol(argv[i] + 9, nullptr, 10);
    } else if (a == "--mode=walk") {
      opt.walk = true;
    } else if (a == "--mode=parse") {
      opt.walk = false;
    } else if (a == "--decode=stream") {
      opt.stream = true;
    } else if (a == "--decode=copy") {
      opt.stream = false;
    } else if (a == "--") {
      for (++i; i < argc; ++i)
        opt.files.emplace_back(argv[i]);
    } else if (a.substr(0, 2) == "--") {
      return usage();
    } else {
      opt.files.emplace_back(a);
    }
  }
  if (opt.files.empty() || opt.repeat < 1) return usage();
  return opt.peak ? run_peak(opt) : run_throughput(opt);
}
