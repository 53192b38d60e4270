// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the DATA and BDAT receivers (data_receiver.hpp). The same input fed whole
// and in input-derived pieces must give the same message, the same end and the same flaws; the
// output never exceeds the size limit; only <CRLF>.<CRLF> ends DATA.
#include "fuzz_support.hpp"

#include <mailkit/smtp/data_receiver.hpp>

namespace {

struct outcome {
  std::string message;
  std::size_t consumed = 0;
  bool finished = false;
  bool bare = false, long_line = false, too_big = false;
  bool operator==(const outcome&) const = default;
};

// `in_place`: feed_in_place() (octets as a piece of the input where possible), which must give
// exactly what feed() gives.
outcome run_dot(const std::vector<std::string_view>& pieces, std::size_t max_out,
                bool in_place = false) {
  mailkit::smtp::server_limits l;
  l.max_message_size = 4096;
  mailkit::smtp::dot_receiver r(l);
  outcome o;
  std::string pending;
  for (auto piece : pieces) {
    pending.append(piece);
    std::size_t pos = 0;
    while (pos < pending.size() && !o.finished) {
      std::string chunk;
      std::string_view piece;
      const std::string_view rest = std::string_view(pending).substr(pos);
      const auto res =
          in_place ? r.feed_in_place(rest, piece, chunk, max_out) : r.feed(rest, chunk, max_out);
      // A piece is part of the input and comes alone.
      MAILKIT_FUZZ_CHECK(piece.empty() || chunk.empty());
      MAILKIT_FUZZ_CHECK(piece.empty() ||
                         (piece.data() >= rest.data() &&
                          piece.data() + piece.size() <= rest.data() + rest.size()));
      if (!piece.empty()) chunk.assign(piece);
      MAILKIT_FUZZ_CHECK(chunk.size() <= std::max<std::size_t>(max_out, 2));
      o.message += chunk;
      pos += res.consumed;
      o.finished = res.finished;
      if (res.consumed == 0 && chunk.empty()) break;
    }
    o.consumed += pos;
    pending.erase(0, pos);
    if (o.finished) break;
  }
  o.bare = r.flaws().bare_line_ending;
  o.long_line = r.flaws().line_too_long;
  o.too_big = r.flaws().too_big;
  MAILKIT_FUZZ_CHECK(o.message.size() <= l.max_message_size);
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailkit::smtp;
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  const std::uint64_t seed = mailkit::fuzz::input_hash(in);
  const outcome whole = run_dot({in}, 1 << 20);
  const outcome pieces = run_dot(mailkit::fuzz::split(in, seed), 1 + seed % 97);
  MAILKIT_FUZZ_CHECK(whole == pieces);
  MAILKIT_FUZZ_CHECK(run_dot({in}, 1 << 20, true) == whole);
  MAILKIT_FUZZ_CHECK(run_dot(mailkit::fuzz::split(in, seed), 1 + seed % 97, true) == whole);
  if (whole.finished) {
    // RFC 5321 §4.1.1.4: the end is CRLF "." CRLF, with the DATA command's CRLF as the first.
    const std::string framed = "\r\n" + std::string(in.substr(0, whole.consumed));
    MAILKIT_FUZZ_CHECK(framed.size() >= 5 &&
                       framed.compare(framed.size() - 5, 5, "\r\n.\r\n") == 0);
    MAILKIT_FUZZ_CHECK(framed.find("\r\n.\r\n") == framed.size() - 5);
  }
  // BDAT: the chunk length alone frames the data; the message is the bytes themselves.
  server_limits l;
  l.max_message_size = 4096;
  chunk_receiver r(l);
  r.reset(seed & 1);
  mailkit::fuzz::rng rng(seed);
  std::size_t pos = 0;
  std::string msg;
  while (pos < in.size()) {
    const std::size_t n = 1 + rng.below(64);
    r.start_chunk(n);
    while (r.remaining() > 0 && pos < in.size()) {
      const auto res = r.feed(in.substr(pos), msg, msg.size() + 1 + rng.below(32));
      pos += res.consumed;
    }
  }
  r.finish_message();
  MAILKIT_FUZZ_CHECK(msg.size() <= l.max_message_size);
  if (!r.flaws().too_big) MAILKIT_FUZZ_CHECK(msg == in);
  return 0;
}
