// SPDX-License-Identifier: Apache-2.0
// mime_bench: the hot paths of mailkit::mime. Structural parsing of small (< 16 KB), medium
// (16-256 KB) and large (> 256 KB) messages from the generated corpus (gen_corpus.py; directory
// from $MAILKIT_BENCH_CORPUS, else the build tree's bench-corpus), alone, with a walk that
// transfer-decodes every leaf, and through the incremental parser; the JMAP body structure; the
// header parsers (address lists, dates, encoded words, Content-Type with RFC 2231); and build().
// Without a corpus, messages made by build() stand in so that the binary always runs.
#include <mailkit/mime/mime.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace fs = std::filesystem;
namespace mime = mailkit::mime;

namespace {

struct corpus_class {
  std::vector<std::string> messages;
  std::size_t bytes = 0;
  void add(std::string m) {
    bytes += m.size();
    messages.push_back(std::move(m));
  }
};

struct corpus {
  corpus_class small, medium, large;
  bool generated = false; // true when the corpus directory was missing
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

mime::message_spec sample_spec(std::size_t text_bytes, std::size_t attachment_bytes) {
  mime::message_spec s;
  s.from = {"Jürgen Müller", "juergen@example.com"};
  s.to = {{"Alice Example", "alice@example.org"}, {std::nullopt, "bob@example.net"}};
  s.cc = {{"Carol", "carol@example.com"}};
  s.subject = "Quarterly report – Grüße aus Zürich";
  std::string text;
  while (text.size() < text_bytes)
    text += "Please find the quarterly report attached; the budget review is on Monday. Grüße\n";
  s.text = text;
  s.html = "<html><body><p>" + text + "</p></body></html>";
  if (attachment_bytes != 0) {
    std::string data(attachment_bytes, '\0');
    for (std::size_t i = 0; i < data.size(); ++i)
      data[i] = static_cast<char>((i * 2654435761u) >> 13);
    s.attachments.push_back({"Bericht März.pdf", "application/pdf", std::move(data), false, {}});
  }
  s.message_id = "bench.1@example.com";
  s.date = mime::date_time{2024, 6, 3, 9, 30, 0, 120};
  return s;
}

const corpus& get_corpus() {
  static const corpus c = [] {
    corpus out;
    fs::path dir = MAILKIT_BENCH_CORPUS_DIR;
    if (const char* env = std::getenv("MAILKIT_BENCH_CORPUS"); env && *env) dir = env;
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file() && e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string m = read_file(f);
      if (m.size() < 16 * 1024)
        out.small.add(std::move(m));
      else if (m.size() <= 256 * 1024)
        out.medium.add(std::move(m));
      else
        out.large.add(std::move(m));
    }
    if (files.empty()) {
      out.generated = true;
      for (std::size_t i = 0; i < 8; ++i) {
        out.small.add(mime::build(sample_spec(1000 + 500 * i, 0)).value());
        out.medium.add(mime::build(sample_spec(4000, 16 * 1024 + 16 * 1024 * i)).value());
        out.large.add(mime::build(sample_spec(8000, 512 * 1024 + 128 * 1024 * i)).value());
      }
    }
    return out;
  }();
  return c;
}

const corpus_class& pick(int which) {
  const corpus& c = get_corpus();
  return which == 0 ? c.small : which == 1 ? c.medium : c.large;
}

void finish_bytes(benchmark::State& state, const corpus_class& cls) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * cls.bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * cls.messages.size()));
  state.counters["messages"] = static_cast<double>(cls.messages.size());
  if (get_corpus().generated) state.SetLabel("no corpus: built messages");
}

// One iteration parses every message of the class (the one copy into the message's buffer
// included, as parse(std::string_view) does for any caller holding a view).
void bm_parse(benchmark::State& state) {
  const corpus_class& cls = pick(static_cast<int>(state.range(0)));
  if (cls.messages.empty()) {
    state.SkipWithError("no messages in this size class");
    return;
  }
  for (auto _ : state) {
    for (const std::string& m : cls.messages) {
      auto msg = mime::parse(std::string_view(m));
      if (!msg) {
        state.SkipWithError("parse failed");
        return;
      }
      benchmark::DoNotOptimize(msg->parts().size());
    }
  }
  finish_bytes(state, cls);
}
BENCHMARK(bm_parse)->ArgName("small_medium_large")->Arg(0)->Arg(1)->Arg(2);

// Parse, walk every part, transfer-decode every leaf (the work of mime_throughput --mode=walk).
void bm_parse_walk_decode(benchmark::State& state) {
  const corpus_class& cls = pick(static_cast<int>(state.range(0)));
  if (cls.messages.empty()) {
    state.SkipWithError("no messages in this size class");
    return;
  }
  for (auto _ : state) {
    for (const std::string& m : cls.messages) {
      auto msg = mime::parse(std::string_view(m));
      if (!msg) {
        state.SkipWithError("parse failed");
        return;
      }
      std::size_t decoded = 0;
      for (const mime::part& p : msg->parts()) {
        if (p.is_multipart || p.is_message) continue;
        decoded += msg->content(p).size();
      }
      benchmark::DoNotOptimize(decoded);
    }
  }
  finish_bytes(state, cls);
}
BENCHMARK(bm_parse_walk_decode)->ArgName("small_medium_large")->Arg(0)->Arg(1)->Arg(2);

// The 53 messages of the stalwart conformance corpus (tests/data/mime/stalwart/eml): small,
// broken and odd mail rather than bulk. Argument 0: structure only; 1: structure plus decoding.
void bm_conformance(benchmark::State& state) {
  static const std::vector<std::string> messages = [] {
    std::vector<std::string> out;
    const fs::path root = fs::path(MAILKIT_SOURCE_DIR) / "tests/data/mime/stalwart/eml";
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file() && e.path().extension() == ".eml") out.push_back(read_file(e.path()));
    return out;
  }();
  if (messages.empty()) {
    state.SkipWithError("no conformance messages found");
    return;
  }
  const bool decode = state.range(0) != 0;
  std::size_t bytes = 0;
  for (const auto& m : messages)
    bytes += m.size();
  for (auto _ : state) {
    for (const std::string& m : messages) {
      auto msg = mime::parse(std::string_view(m));
      if (!msg) {
        state.SkipWithError("parse failed");
        return;
      }
      std::size_t decoded = msg->parts().size();
      if (decode)
        for (const mime::part& p : msg->parts())
          if (!p.is_multipart && !p.is_message) decoded += msg->content(p).size();
      benchmark::DoNotOptimize(decoded);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * messages.size()));
}
BENCHMARK(bm_conformance)->ArgName("decode")->Arg(0)->Arg(1);

// The incremental parser as SMTP DATA or a file read drives it: reserve, then 64 KB chunks.
void bm_parser_feed(benchmark::State& state) {
  const corpus_class& cls = pick(static_cast<int>(state.range(0)));
  if (cls.messages.empty()) {
    state.SkipWithError("no messages in this size class");
    return;
  }
  constexpr std::size_t chunk = 64 * 1024;
  for (auto _ : state) {
    for (const std::string& m : cls.messages) {
      mime::parser p;
      p.reserve(m.size());
      const std::string_view v(m);
      for (std::size_t i = 0; i < v.size(); i += chunk)
        if (!p.feed(v.substr(i, chunk))) {
          state.SkipWithError("feed failed");
          return;
        }
      auto msg = p.finish();
      if (!msg) {
        state.SkipWithError("finish failed");
        return;
      }
      benchmark::DoNotOptimize(msg->parts().size());
    }
  }
  finish_bytes(state, cls);
}
BENCHMARK(bm_parser_feed)->ArgName("small_medium_large")->Arg(1)->Arg(2);

// What a mail client's message list asks of a parsed message: the RFC 8621 body structure,
// attachment names, sender, date and subject. Messages are parsed once, outside the loop.
void bm_summary(benchmark::State& state) {
  const corpus_class& cls = pick(1);
  std::vector<mime::message> msgs;
  for (const std::string& m : cls.messages)
    if (auto msg = mime::parse(std::string_view(m))) msgs.push_back(std::move(*msg));
  if (msgs.empty()) {
    state.SkipWithError("no messages");
    return;
  }
  for (auto _ : state) {
    for (const mime::message& msg : msgs) {
      const auto bs = msg.body_structure();
      for (const mime::part* a : bs.attachments)
        benchmark::DoNotOptimize(msg.filename(*a));
      benchmark::DoNotOptimize(msg.addresses("From"));
      benchmark::DoNotOptimize(msg.date());
      benchmark::DoNotOptimize(msg.subject());
      benchmark::DoNotOptimize(bs.text_body.size());
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * msgs.size()));
}
BENCHMARK(bm_summary);

// ---- header parsers: each iteration parses every sample once; items are values parsed. ----

constexpr std::array address_samples = {
    std::string_view(" Alice Example <alice@example.org>"),
    std::string_view(" \"Smith, John\" <john.smith@example.com>, Mary <mary@example.net>,\r\n"
                     " bob@example.org"),
    std::string_view(" =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>,\r\n"
                     " =?iso-8859-1?Q?Fran=E7ois_Dubois?= <francois@example.fr>"),
    std::string_view(" undisclosed-recipients:;"),
    std::string_view(" Team: alice@example.org, \"Bob (work)\" <bob@example.com>;,\r\n"
                     " carol@example.net (Carol Comment)"),
    std::string_view(" <@route.example:user@example.com>, Pete(A nice \\) chap) <pete(his account)"
                     "@silly.test(his host)>"),
};

constexpr std::array date_samples = {
    std::string_view(" Tue, 01 Jul 2003 10:52:37 +0200"),
    std::string_view(" Mon, 3 Jun 2024 09:30:00 -0700 (PDT)"),
    std::string_view(" 21 Nov 97 09:55:06 GMT"),
    std::string_view(" Fri, 21 Nov 1997 09:55:06 -0600"),
    std::string_view(" Thu,\r\n 13\r\n   Feb\r\n 1969\r\n 23:32\r\n -0330 (Newfoundland Time)"),
    std::string_view(" Sat, 14 Sep 2024 23:59:60 +0000"),
};

constexpr std::array encoded_samples = {
    std::string_view(" Quarterly report for the budget meeting on Monday"),
    std::string_view(" =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Z=C3=BCrich?="),
    std::string_view(" =?UTF-8?B?0J/RgNC40LLQtdGCINC40Lcg0JzQvtGB0LrQstGL?="),
    std::string_view(" Re: =?iso-8859-1?Q?Caf=E9?= =?iso-8859-1?Q?_cr=E8me?= und mehr"),
    std::string_view(" =?utf-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?=\r\n =?utf-8?B?44Gn44GZ?="),
    std::string_view(" [SPAM]=?windows-1252?Q?=80100_offer?= now"),
};

constexpr std::array content_type_samples = {
    std::string_view(" text/plain; charset=\"utf-8\""),
    std::string_view(" multipart/mixed;\r\n boundary=\"----=_Part_1234_5678.1717406400000\""),
    std::string_view(" application/pdf; name=\"=?UTF-8?Q?Bericht_M=C3=A4rz.pdf?=\""),
    std::string_view(" attachment;\r\n filename*0*=utf-8''Bericht%20M%C3%A4rz%20;\r\n"
                     " filename*1*=2024%20final.pdf"),
    std::string_view(" multipart/related; type=\"text/html\"; boundary=b1 (comment); start=<a@b>"),
    std::string_view(" TEXT/HTML; CHARSET=ISO-8859-1; format=flowed; delsp=yes"),
};

template <class Samples, class Fn>
void run_samples(benchmark::State& state, const Samples& samples, Fn fn) {
  std::size_t bytes = 0;
  for (std::string_view s : samples)
    bytes += s.size();
  for (auto _ : state)
    for (std::string_view s : samples)
      benchmark::DoNotOptimize(fn(s));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void bm_parse_address_list(benchmark::State& state) {
  run_samples(state, address_samples,
              [](std::string_view s) { return mime::parse_address_list(s); });
}
BENCHMARK(bm_parse_address_list);

void bm_parse_date(benchmark::State& state) {
  run_samples(state, date_samples, [](std::string_view s) { return mime::parse_date(s); });
}
BENCHMARK(bm_parse_date);

void bm_decode_unstructured(benchmark::State& state) {
  run_samples(state, encoded_samples,
              [](std::string_view s) { return mime::decode_unstructured(s); });
}
BENCHMARK(bm_decode_unstructured);

void bm_parse_content_type(benchmark::State& state) {
  run_samples(state, content_type_samples,
              [](std::string_view s) { return mime::parse_content_type(s); });
}
BENCHMARK(bm_parse_content_type);

// ---- composing ----

// build() of a text+HTML message, without and with a 1 MB attachment; bytes are the output.
void bm_build(benchmark::State& state) {
  const mime::message_spec spec = sample_spec(4000, static_cast<std::size_t>(state.range(0)));
  const mailkit::manual_clock clk;
  std::size_t out_bytes = 0;
  for (auto _ : state) {
    auto out = mime::build(spec, clk);
    if (!out) {
      state.SkipWithError("build failed");
      return;
    }
    out_bytes = out->size();
    benchmark::DoNotOptimize(out->data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out_bytes));
}
BENCHMARK(bm_build)->ArgName("attachment_bytes")->Arg(0)->Arg(1 << 20);

} // namespace

BENCHMARK_MAIN();
