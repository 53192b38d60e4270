// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the TLS-RPT parsers (RFC 8460 §3 TXT record and rua URIs, §4.4 JSON report,
// gzip): any bytes give a value or an error, never a crash; a parsed report survives a round
// trip through to_json(); gunzip stops at its output limit; parsed rua URIs carry no octet that
// could break an SMTP path or an HTTP request line.
#include "fuzz_support.hpp"

#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace r = mailkit::tlsrpt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);

  if (const auto rec = r::parse_txt_record(in)) MAILKIT_FUZZ_CHECK(!rec->rua.empty());
  // rua URIs: what comes out can go into an SMTP path or an HTTP request line.
  if (const auto a = r::parse_mailto_uri(in))
    MAILKIT_FUZZ_CHECK(a->find('@') != std::string::npos &&
                       a->find_first_of("\r\n <>") == std::string::npos);
  if (const auto u = r::parse_https_uri(in))
    MAILKIT_FUZZ_CHECK(!u->host.empty() && u->port != 0 && u->target.front() == '/' &&
                       u->target.find_first_of("\r\n ") == std::string::npos);

  if (const auto rep = r::parse_report(in)) {
    const auto again = r::parse_report(r::to_json(*rep));
    MAILKIT_FUZZ_CHECK(again);
    MAILKIT_FUZZ_CHECK(again->report_id == rep->report_id &&
                       again->organization_name == rep->organization_name &&
                       again->policies.size() == rep->policies.size());
    for (std::size_t i = 0; i < rep->policies.size(); ++i) {
      MAILKIT_FUZZ_CHECK(again->policies[i].total_failure_session_count ==
                         rep->policies[i].total_failure_session_count);
      MAILKIT_FUZZ_CHECK(again->policies[i].failure_details.size() ==
                         rep->policies[i].failure_details.size());
    }
  }
  // Received reports arrive gzipped (RFC 8460 §5.1): a bomb costs at most the limit.
  if (const auto plain = r::gunzip(in, 64 * 1024)) MAILKIT_FUZZ_CHECK(plain->size() <= 64 * 1024);
  return 0;
}
