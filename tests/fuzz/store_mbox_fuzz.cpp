// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the mbox splitter: the result does not depend on how the input is cut into
// chunks, and messages never exceed the limits.
#include "fuzz_support.hpp"

#include <mailkit/store/maildir.hpp>

#include <cstddef>
#include <cstdint>

namespace {

struct outcome {
  bool ok = true;
  std::vector<mailkit::store::mbox_message> messages;
};

outcome run(const std::vector<std::string_view>& pieces, mailkit::store::mbox_reader::variant v) {
  mailkit::store::mbox_limits lim;
  lim.max_line = 4096;
  lim.max_message = 1 << 16;
  mailkit::store::mbox_reader r(v, lim);
  outcome o;
  for (auto p : pieces) {
    if (!r.feed(p)) {
      o.ok = false;
      return o;
    }
    for (auto& m : r.take())
      o.messages.push_back(std::move(m));
  }
  if (!r.finish()) {
    o.ok = false;
    return o;
  }
  for (auto& m : r.take())
    o.messages.push_back(std::move(m));
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  for (auto v : {mailkit::store::mbox_reader::variant::mboxrd,
                 mailkit::store::mbox_reader::variant::mboxo}) {
    auto whole = run({in}, v);
    auto pieces = run(mailkit::fuzz::split(in, mailkit::fuzz::input_hash(in)), v);
    MAILKIT_FUZZ_CHECK(whole.ok == pieces.ok);
    if (!whole.ok) continue;
    MAILKIT_FUZZ_CHECK(whole.messages.size() == pieces.messages.size());
    for (std::size_t i = 0; i < whole.messages.size(); ++i) {
      MAILKIT_FUZZ_CHECK(whole.messages[i].data == pieces.messages[i].data);
      MAILKIT_FUZZ_CHECK(whole.messages[i].date == pieces.messages[i].date);
      MAILKIT_FUZZ_CHECK(whole.messages[i].data.size() <= in.size());
    }
  }
  (void)mailkit::store::parse_mbox_from_date(in);
  return 0;
}
