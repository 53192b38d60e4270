// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the DNS wire parser (mailkit/dns/message.hpp), the code that reads every
// response a resolver gets from the network. Invariants: parsing never reads out of bounds or
// loops (ASan and the time limit check that); a parsed message re-encodes to bytes that parse
// to the same values; interpreting it as an answer to its own question never fails in any way
// other than an error code.
#include "fuzz_support.hpp"

#include <mailkit/dns/message.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace wire = mailkit::dns::wire;

namespace {

bool same_records(const std::vector<wire::resource_record>& a,
                  const std::vector<wire::resource_record>& b) {
  // build_message() writes only the records it can encode (those with data).
  std::size_t j = 0;
  for (const auto& r : a) {
    if (!r.data) continue;
    if (j >= b.size()) return false;
    const auto& s = b[j++];
    if (s.name != r.name || s.type != r.type || s.klass != r.klass || s.ttl != r.ttl || !s.data ||
        !(*s.data == *r.data))
      return false;
  }
  return j == b.size();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  auto m = wire::parse_message(in);
  if (!m) return 0;
  MAILKIT_FUZZ_CHECK(m->questions.size() == m->hdr.qdcount);
  MAILKIT_FUZZ_CHECK(m->answers.size() <= m->hdr.ancount);

  const auto out = wire::build_message(*m);
  if (out.size() <= 65535) { // decompressed names can make the copy larger than the original
    auto again = wire::parse_message(out);
    MAILKIT_FUZZ_CHECK(again.has_value());
    MAILKIT_FUZZ_CHECK(again->hdr.id == m->hdr.id && again->hdr.rcode == m->hdr.rcode &&
                       again->hdr.ad == m->hdr.ad && again->hdr.tc == m->hdr.tc);
    MAILKIT_FUZZ_CHECK(again->questions.size() == m->questions.size());
    for (std::size_t i = 0; i < m->questions.size(); ++i)
      MAILKIT_FUZZ_CHECK(again->questions[i].name == m->questions[i].name &&
                         again->questions[i].type == m->questions[i].type);
    MAILKIT_FUZZ_CHECK(same_records(m->answers, again->answers));
    MAILKIT_FUZZ_CHECK(same_records(m->authority, again->authority));
    MAILKIT_FUZZ_CHECK(same_records(m->additional, again->additional));
    MAILKIT_FUZZ_CHECK(again->edns.has_value() == m->edns.has_value());
  }

  if (m->questions.size() == 1) {
    const auto& q = m->questions[0];
    auto a = wire::to_answer(*m, q.name, static_cast<mailkit::dns::rtype>(q.type));
    if (a) {
      MAILKIT_FUZZ_CHECK(a->code == mailkit::dns::rcode::noerror || a->records.empty());
      for (const auto& r : a->records)
        MAILKIT_FUZZ_CHECK(r.ttl >= a->ttl);
      (void)a->mx_records();
      (void)a->txt_joined();
    }
  }
  return 0;
}
