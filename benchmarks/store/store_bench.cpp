// SPDX-License-Identifier: Apache-2.0
// Google Benchmark for the store's hot paths: a durable append (fsync on), the flags-and-size
// scan of a mailbox, reading a cached structure record, and the Maildir name reader. The store
// lives in a temporary directory on the file system of $TMPDIR (durability included).
#include <mailkit/mime/message.hpp>
#include <mailkit/store/maildir.hpp>
#include <mailkit/store/store.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

using namespace mailkit::store;

namespace {

std::string message(int n) {
  std::string body;
  for (int i = 0; i < 40; ++i)
    body += "Line " + std::to_string(i) + " of a typical short message body.\r\n";
  return "From: s@example.org\r\nTo: b@example.com\r\nSubject: m " + std::to_string(n) +
         "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: "
         "text/plain\r\n\r\n" +
         body + "--x\r\nContent-Type: application/pdf\r\n\r\nAAAA\r\n--x--\r\n";
}

struct fixture {
  std::string dir;
  std::unique_ptr<mail_store> store;
  explicit fixture(int prefill) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mailkit-bench-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    open_options o;
    o.path = dir + "/s";
    o.passwords = {1, 8192};
    store = std::move(*open(o));
    (void)store->add_domain("example.com");
    (void)store->add_account("b@example.com", "x");
    std::vector<std::string> data;
    for (int i = 0; i < prefill; ++i)
      data.push_back(message(i));
    for (int start = 0; start < prefill; start += 1000) {
      std::vector<mail_store::batch_item> items;
      for (int i = start; i < std::min(prefill, start + 1000); ++i) {
        flag_set f;
        f.system = static_cast<std::uint8_t>(i % 3 ? flag_seen : 0);
        items.push_back({data[static_cast<std::size_t>(i)], f, 1600000000 + i});
      }
      (void)store->append_batch("b@example.com", "INBOX", items, false);
    }
  }
  ~fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void BM_append_durable(benchmark::State& state) {
  fixture f(0);
  auto m = message(1);
  for (auto _ : state) {
    auto r = f.store->append("b@example.com", "INBOX", m);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_append_durable)->Unit(benchmark::kMillisecond)->Iterations(200);

void BM_scan_flags_size(benchmark::State& state) {
  fixture f(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto list = f.store->messages("b@example.com", "INBOX");
    benchmark::DoNotOptimize(list);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_scan_flags_size)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_structure_read(benchmark::State& state) {
  auto parsed = mailkit::mime::parse(message(1));
  auto record = serialize(compute_structure(*parsed));
  for (auto _ : state) {
    auto s = deserialize(record);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(record.size()));
}
BENCHMARK(BM_structure_read);

void BM_maildir_name(benchmark::State& state) {
  std::string name = "1700000000.M20P300.mail.example.com,S=1234,W=1260:2,FRSac";
  for (auto _ : state) {
    auto n = parse_maildir_name(name);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_maildir_name);

} // namespace

BENCHMARK_MAIN();
