// SPDX-License-Identifier: Apache-2.0
// Store throughput, one machine-readable line per run (benchmarks/store_bench.sh runs it beside
// Dovecot's doveadm on the same data):
//   store_throughput append DIR N            N durable appends (fsync on, one per transaction)
//   store_throughput append-batch DIR N      the same N messages in one append_batch()
//   store_throughput import DIR MAILDIR      import a Maildir++ tree into a fresh account
//   store_throughput scan DIR ROUNDS         list uid + flags + size of INBOX, ROUNDS times
// Output: "<op> messages=<n> seconds=<s> rate=<messages per second>".
#include <mailkit/store/store.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace mailkit::store;

namespace {

const std::string account = "bench@example.com";

std::unique_ptr<mail_store> open_or_die(const std::string& dir) {
  auto s = open(dir);
  if (!s) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), s.error().message().c_str());
    std::exit(1);
  }
  auto& st = **s;
  (void)st.add_domain("example.com");
  (void)st.add_account(account, "bench");
  return std::move(*s);
}

std::string message(int n) {
  std::string body;
  for (int i = 0; i < 40; ++i)
    body += "Line " + std::to_string(i) +
            " of a typical short message body, about seventy "
            "bytes.\r\n";
  return "From: Sender <sender@example.org>\r\nTo: bench@example.com\r\nSubject: benchmark "
         "message " +
         std::to_string(n) + "\r\nMessage-ID: <b" + std::to_string(n) +
         "@example.org>\r\nDate: Tue, 01 Jul 2003 10:52:37 +0200\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
         body;
}

void print(const char* op, std::size_t n, std::chrono::duration<double> d) {
  std::printf("%s messages=%zu seconds=%.3f rate=%.1f\n", op, n, d.count(),
              d.count() > 0 ? static_cast<double>(n) / d.count() : 0.0);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s append DIR N | import DIR MAILDIR | scan DIR ROUNDS\n",
                 argv[0]);
    return 2;
  }
  std::string op = argv[1], dir = argv[2];
  auto s = open_or_die(dir);
  auto start = std::chrono::steady_clock::now();
  if (op == "append") {
    int n = std::atoi(argv[3]);
    for (int i = 0; i < n; ++i) {
      if (auto r = s->append(account, "INBOX", message(i)); !r) {
        std::fprintf(stderr, "append: %s\n", r.error().message().c_str());
        return 1;
      }
    }
    print("append", static_cast<std::size_t>(n), std::chrono::steady_clock::now() - start);
  } else if (op == "append-batch") {
    int n = std::atoi(argv[3]);
    std::vector<std::string> data;
    for (int i = 0; i < n; ++i)
      data.push_back(message(i));
    start = std::chrono::steady_clock::now();
    std::vector<mail_store::batch_item> items;
    for (int i = 0; i < n; ++i)
      items.push_back({data[static_cast<std::size_t>(i)], {}, 1600000000 + i});
    if (auto r = s->append_batch(account, "INBOX", items, false); !r) {
      std::fprintf(stderr, "append_batch: %s\n", r.error().message().c_str());
      return 1;
    }
    print("append-batch", static_cast<std::size_t>(n), std::chrono::steady_clock::now() - start);
  } else if (op == "import") {
    auto r = import_maildir(*s, account, argv[3]);
    if (!r) {
      std::fprintf(stderr, "import: %s\n", r.error().message().c_str());
      return 1;
    }
    print("import", r->imported + r->duplicates, std::chrono::steady_clock::now() - start);
  } else if (op == "scan") {
    int rounds = std::atoi(argv[3]);
    std::size_t total = 0;
    std::uint64_t checksum = 0;
    for (int i = 0; i < rounds; ++i) {
      auto list = s->messages(account, "INBOX");
      if (!list) {
        std::fprintf(stderr, "scan: %s\n", list.error().message().c_str());
        return 1;
      }
      for (const auto& m : *list)
        checksum += m.size + m.flags.system + m.flags.keywords.size();
      total += list->size();
    }
    print("scan", total, std::chrono::steady_clock::now() - start);
    std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(checksum));
  } else {
    std::fprintf(stderr, "unknown operation %s\n", op.c_str());
    return 2;
  }
  return 0;
}
