// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the queue record parser (a database row read back at every open): no crash,
// bounded output, and whatever parses serializes back to a record that parses to the same
// envelope (the format is canonical once read). Also builds a DSN for the parsed envelope with
// the input as the returned message, which must not crash and must end with its boundary.
#include "fuzz_support.hpp"

#include <mailkit/queue/dsn.hpp>
#include <mailkit/queue/envelope.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  auto e = mailkit::queue::parse_record(in);
  if (!e) return 0;
  MAILKIT_FUZZ_CHECK(!e->recipients.empty());
  MAILKIT_FUZZ_CHECK(e->recipients.size() <= mailkit::queue::max_record_recipients);
  const std::string again = mailkit::queue::serialize_record(*e);
  auto back = mailkit::queue::parse_record(again);
  MAILKIT_FUZZ_CHECK(back && *back == *e);
  std::vector<mailkit::queue::dsn_recipient> rs;
  for (const auto& r : e->recipients)
    rs.push_back({&r, mailkit::queue::dsn_action::failed, "5.1.1", r.original, r.address, 0, 0});
  mailkit::queue::dsn_params p;
  p.reporting_mta = "mx.example";
  const std::string dsn = mailkit::queue::make_dsn(*e, in, rs, p);
  MAILKIT_FUZZ_CHECK(dsn.size() >= 4 && dsn.substr(dsn.size() - 4) == "--\r\n");
  return 0;
}
