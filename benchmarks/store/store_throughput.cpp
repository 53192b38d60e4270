// SPDX-License-Identifier: Apache-2.0
// Store throughput, one machine-readable line per run (benchmarks/store_bench.sh runs it beside
// Dovecot's doveadm on the same data):
//   store_throughput append DIR N|MAILDIR    durable appends (fsync on, one per transaction) of
//                                            N generated messages or of MAILDIR/cur's files
//   store_throughput append-batch DIR N|MAILDIR  the same messages in one append_batch()
//   store_throughput import DIR MAILDIR      import a Maildir++ tree into a fresh account
//   store_throughput scan DIR ROUNDS         list uid + flags + size of INBOX, ROUNDS times
//   store_throughput scan-structure DIR ROUNDS  the same plus each message's cached structure
//                                            (what FETCH BODYSTRUCTURE reads), ROUNDS times
// Output: "<op> messages=<n> seconds=<s> rate=<messages per second>".
#include <mailkit/store/store.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
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

// The messages to append: N generated ones, or the files of MAILDIR/cur in name order (the
// data Dovecot is given in the same run). Read before the clock starts.
std::vector<std::string> load(const std::string& what) {
  std::vector<std::string> out;
  if (std::filesystem::is_directory(what)) {
    std::vector<std::filesystem::path> names;
    for (const auto& e : std::filesystem::directory_iterator(what + "/cur"))
      names.push_back(e.path());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      std::ifstream f(n, std::ios::binary);
      std::ostringstream ss;
      ss << f.rdbuf();
      out.push_back(ss.str());
    }
  } else {
    int n = std::atoi(what.c_str());
    for (int i = 0; i < n; ++i)
      out.push_back(message(i));
  }
  return out;
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
    auto data = load(argv[3]);
    start = std::chrono::steady_clock::now();
    for (const auto& d : data) {
      if (auto r = s->append(account, "INBOX", d); !r) {
        std::fprintf(stderr, "append: %s\n", r.error().message().c_str());
        return 1;
      }
    }
    print("append", data.size(), std::chrono::steady_clock::now() - start);
  } else if (op == "append-batch") {
    auto data = load(argv[3]);
    const auto n = data.size();
    start = std::chrono::steady_clock::now();
    std::vector<mail_store::batch_item> items;
    for (std::size_t i = 0; i < n; ++i)
      items.push_back({data[i], {}, 1600000000 + static_cast<std::int64_t>(i)});
    if (auto r = s->append_batch(account, "INBOX", items, false); !r) {
      std::fprintf(stderr, "append_batch: %s\n", r.error().message().c_str());
      return 1;
    }
    print("append-batch", n, std::chrono::steady_clock::now() - start);
  } else if (op == "import") {
    auto r = import_maildir(*s, account, argv[3]);
    if (!r) {
      std::fprintf(stderr, "import: %s\n", r.error().message().c_str());
      return 1;
    }
    print("import", r->imported + r->duplicates, std::chrono::steady_clock::now() - start);
  } else if (op == "scan" || op == "scan-structure") {
    const bool with_structure = op == "scan-structure";
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
      if (with_structure) {
        // Every cached structure, streamed in UID order, as FETCH 1:* BODYSTRUCTURE reads them.
        std::size_t seen = 0;
        auto st = s->for_each_structure(account, "INBOX", 1, UINT32_MAX,
                                        [&](mailkit::store::uid_type uid, const auto& ms) {
                                          checksum += uid + ms.parts.size() + ms.size;
                                          ++seen;
                                          return true;
                                        });
        if (!st || seen != list->size()) {
          std::fprintf(stderr, "structures: %s\n",
                       st ? "count differs" : st.error().message().c_str());
          return 1;
        }
      }
      total += list->size();
    }
    print(op.c_str(), total, std::chrono::steady_clock::now() - start);
    std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(checksum));
  } else {
    std::fprintf(stderr, "unknown operation %s\n", op.c_str());
    return 2;
  }
  return 0;
}
