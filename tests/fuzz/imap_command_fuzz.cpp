// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the IMAP command reader (reader.hpp) fed the input whole and in small
// chunks (both must give the same events), then the typed commands (commands.hpp), SEARCH and
// FETCH argument parsing on every command read, and the string encoder's round trip.
#include "fuzz_support.hpp"

#include <mailkit/imap/imap.hpp>

namespace {

using namespace mailkit::imap;

std::vector<event> run(std::string_view in, std::size_t chunk, const reader_limits& limits) {
  command_reader r(limits);
  std::vector<event> out;
  for (std::size_t pos = 0; pos < in.size(); pos += chunk) {
    r.feed(in.substr(pos, chunk));
    for (;;) {
      event ev = r.next();
      if (ev.k == event::kind::need_more) break;
      // Nothing is buffered beyond one line, or the literal being read, plus what was fed.
      out.push_back(std::move(ev));
      if (out.back().k == event::kind::fatal) return out;
    }
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  reader_limits limits;
  limits.line = 512;
  limits.literal = 256;
  limits.append_literal = 2048;
  limits.command = 4096;
  limits.tokens = 200;
  limits.depth = 8;
  limits.literal_plus = size % 2 == 0;
  const auto whole = run(in, in.size() ? in.size() : 1, limits);
  const auto bytes = run(in, 7, limits);
  MAILKIT_FUZZ_CHECK(whole.size() == bytes.size());
  for (std::size_t i = 0; i < whole.size() && i < bytes.size(); ++i) {
    MAILKIT_FUZZ_CHECK(whole[i].k == bytes[i].k);
    MAILKIT_FUZZ_CHECK(whole[i].cmd.args.size() == bytes[i].cmd.args.size());
  }
  for (const auto& ev : whole) {
    if (ev.k != event::kind::command) continue;
    MAILKIT_FUZZ_CHECK(!ev.cmd.tag.empty() && !ev.cmd.name.empty());
    (void)parse_search(ev.cmd.args);
    if (auto t = parse_typed(ev.cmd)) {
      (void)allowed_in(*t, session_state::not_authenticated);
      (void)allowed_in(*t, session_state::selected);
    }
    if (!ev.cmd.args.empty()) {
      (void)parse_fetch(std::span<const token>(ev.cmd.args).subspan(1));
      (void)sequence_set::parse(ev.cmd.args[0].text);
      (void)parse_date_time(ev.cmd.args[0].text);
      (void)parse_search_date(ev.cmd.args[0].text);
      // Whatever a client sent as a string, the encoder writes it back readable.
      std::string cmd = "t X ";
      append_astring(cmd, ev.cmd.args[0].text, size % 3 == 0);
      auto back = parse_command(cmd + "\r\n");
      MAILKIT_FUZZ_CHECK(ev.cmd.args[0].k == token::kind::list || !back ||
                         back->args[0].text == ev.cmd.args[0].text);
    }
  }
  return 0;
}
