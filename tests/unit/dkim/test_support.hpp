// SPDX-License-Identifier: Apache-2.0
// Shared by the DKIM tests: an inline TXT zone (a dns::resolver answering from a map, so the
// tests need nothing of libmail/dns/src), file reading and the fixed clocks of the suites.
#pragma once

#include <mailkit/core/bytes.hpp>
#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/dkim/message.hpp>
#include <mailkit/dns/resolver.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace mailkit::dkim::test {

class zone final : public dns::resolver {
public:
  /// A TXT record at `name` (given whole; stored as 255-octet strings as DNS would).
  void txt(std::string_view name, std::string_view value) {
    dns::txt t;
    for (std::size_t p = 0; p < value.size() || p == 0; p += 255) {
      t.strings.emplace_back(value.substr(p, 255));
      if (value.empty()) break;
    }
    entries_[to_lower(name)].records.push_back(std::move(t));
  }
  void nxdomain(std::string_view name) { entries_[to_lower(name)].nx = true; }
  void fail(std::string_view name) { entries_[to_lower(name)].fail = true; }

  void async_query(std::string_view name, dns::rtype type, dns::query_handler h) override {
    ++queries;
    h(answer(name, type));
  }
  dns::query_result answer(std::string_view name, dns::rtype type) const {
    auto it = entries_.find(to_lower(name));
    dns::answer a;
    a.name = to_lower(name);
    a.type = type;
    a.canonical_name = a.name;
    if (it == entries_.end() || it->second.nx) {
      a.code = dns::rcode::nxdomain;
      return a;
    }
    if (it->second.fail) return tl::unexpected(make_error_code(mailkit::errc::timed_out));
    if (type == dns::rtype::txt)
      for (const auto& t : it->second.records)
        a.records.push_back({t, 300});
    return a;
  }
  std::size_t queries = 0;

private:
  struct entry {
    std::vector<dns::txt> records;
    bool nx = false;
    bool fail = false;
  };
  std::map<std::string, entry> entries_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline mailkit::manual_clock clock_at(long long unix_seconds) {
  return mailkit::manual_clock(
      std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds)));
}

} // namespace mailkit::dkim::test
