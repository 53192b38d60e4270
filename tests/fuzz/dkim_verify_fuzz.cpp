// SPDX-License-Identifier: Apache-2.0
// Fuzz target for whole-message DKIM verification through the sans-I/O verifier: the input is a
// message, fed to the verifier header first and then body chunks of input-derived sizes; every
// key query is answered, alternately with a fixed Ed25519 record, a 1024-bit RSA record, a
// garbage record, NXDOMAIN or a DNS error. Invariants: one result per DKIM-Signature field, every
// result has a reason unless it passes, a DNS error never passes, and the answers are consumed.
#include "fuzz_support.hpp"

#include <mailkit/dkim/message.hpp>
#include <mailkit/dkim/verifier.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::dkim;
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const std::uint64_t seed = mailkit::fuzz::input_hash(in);
  static const mailkit::manual_clock clk(
      std::chrono::system_clock::time_point(std::chrono::seconds(1667843664)));
  verify_options vo;
  vo.clk = &clk;
  vo.allow_rsa_sha1 = (seed & 1) != 0;
  verifier v(vo);
  const split_message s = split_header(in);
  v.set_header(in.substr(0, s.body_offset));
  const auto queries = v.key_queries();
  MAILKIT_FUZZ_CHECK(queries.size() <= vo.max_signatures);
  std::size_t i = 0;
  for (const auto& q : queries) {
    switch ((seed >> (2 * (i++ % 16))) % 5) {
    case 0:
      v.provide_key_txt(q.name,
                        {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="});
      break;
    case 1:
      v.provide_key_txt(q.name, {"v=DKIM1; k=rsa; "
                                 "p="
                                 "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6W"
                                 "k08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/"
                                 "8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+"
                                 "2kryOTIKT+l/K4w3QIDAQAB"});
      break;
    case 2:
      v.provide_key_txt(q.name, {std::string(in.substr(0, 300))});
      break;
    case 3:
      v.provide_key_txt(q.name, {});
      break;
    default:
      v.provide_key(q.name, tl::unexpected(make_error_code(mailkit::errc::timed_out)));
      break;
    }
  }
  MAILKIT_FUZZ_CHECK(v.key_queries().empty());
  for (std::string_view piece : mailkit::fuzz::split(in.substr(s.body_offset), seed))
    v.update_body(piece);
  const auto results = v.finish();
  MAILKIT_FUZZ_CHECK(results.size() == v.signature_count());
  for (const auto& r : results) {
    MAILKIT_FUZZ_CHECK(r.result != result::none);
    if (r.result != result::pass) MAILKIT_FUZZ_CHECK(!r.reason.empty());
  }
  (void)summarize(results);
  return 0;
}
