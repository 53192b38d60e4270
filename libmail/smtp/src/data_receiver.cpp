// SPDX-License-Identifier: Apache-2.0
// DATA and BDAT receivers (data_receiver.hpp).
#include <mailkit/smtp/data_receiver.hpp>

#include <cstdint>
#include <cstring>

namespace mailkit::smtp {

void dot_receiver::reset() noexcept {
  state_ = state::line_start;
  line_len_ = 0;
  size_ = 0;
  flaws_ = {};
}

/// The octets of one run(): appended to `text`, or, while they are one contiguous piece of
/// `in` and `in_place` allows it, only noted as [begin, begin + len) of `in`. The first octets
/// that do not continue that piece (a removed dot lies between, or they are not from `in`)
/// move the piece into `text` and everything after goes there too.
struct dot_receiver::output {
  std::string& text;
  std::string_view in;
  bool in_place = false;
  const char* begin = nullptr;
  std::size_t len = 0;

  [[nodiscard]] std::size_t size() const noexcept { return text.size() + len; }
  [[nodiscard]] bool from_in(std::string_view b) const noexcept {
    const auto at = reinterpret_cast<std::uintptr_t>(b.data());
    const auto lo = reinterpret_cast<std::uintptr_t>(in.data());
    return at >= lo && at + b.size() <= lo + in.size();
  }
  void append(std::string_view b) {
    if (in_place) {
      if (from_in(b) && (len == 0 || b.data() == begin + len)) {
        if (len == 0) begin = b.data();
        len += b.size();
        return;
      }
      text.append(begin, len);
      len = 0;
      in_place = false;
    }
    text.append(b);
  }
};

void dot_receiver::emit(output& out, std::string_view bytes) {
  if (flaws_.too_big) {
    size_ += bytes.size();
    return;
  }
  // RFC 1870 §6.3 / RFC 5321 §4.5.3.1.7: the server enforces its announced size; the octets
  // past it are dropped here so the sink never sees more than the limit.
  if (size_ + bytes.size() > limits_.max_message_size) {
    flaws_.too_big = true;
    size_ += bytes.size();
    return;
  }
  size_ += bytes.size();
  out.append(bytes);
}

receive_result dot_receiver::feed(std::string_view in, std::string& out, std::size_t max_out) {
  output o{out, in};
  return run(in, o, max_out);
}

receive_result dot_receiver::feed_in_place(std::string_view in, std::string_view& piece,
                                           std::string& out, std::size_t max_out) {
  output o{out, in, out.empty()};
  const receive_result r = run(in, o, max_out);
  piece = o.len > 0 ? std::string_view(o.begin, o.len) : std::string_view();
  return r;
}

receive_result dot_receiver::run(std::string_view in, output& out, std::size_t max_out) {
  std::size_t i = 0;
  const std::size_t n = in.size();
  auto note_line = [&](std::size_t len) {
    // RFC 5321 §4.5.3.1.6: text line at most 1000 octets including the CRLF.
    if (len > limits_.text_line) flaws_.line_too_long = true;
  };
  // A CRLF is appended as a unit, so stop while two octets still fit (and allow at least two).
  const std::size_t cap = max_out < 2 ? 2 : max_out;
  while (i < n && out.size() + 2 <= cap) {
    const char c = in[i];
    switch (state_) {
    case state::line_start:
      if (c == '.') {
        state_ = state::dot;
        line_len_ = 1;
        ++i;
      } else {
        state_ = state::mid;
        line_len_ = 0;
      }
      break;
    case state::dot:
      if (c == '\r') {
        state_ = state::dot_cr;
        ++i;
      } else {
        // RFC 5321 §4.5.2: a line starting with a period and having other characters: the
        // first period is deleted.
        state_ = state::mid;
      }
      break;
    case state::dot_cr:
      if (c == '\n') {
        // RFC 5321 §4.1.1.4: <CRLF>.<CRLF> is the end of mail data, and nothing else is.
        ++i;
        state_ = state::line_start;
        return {i, true};
      }
      // ".\r" followed by something else: the dot is stuffing, the CR is bare.
      flaws_.bare_line_ending = true;
      emit(out, "\r");
      ++line_len_;
      state_ = c == '\r' ? state::cr : state::mid;
      if (c == '\r') ++i;
      break;
    case state::mid: {
      // Fast path: the text up to the next CR or LF, and with it every following line that
      // ends in CRLF and whose successor does not start with a period, in one append (what
      // the states would emit byte for byte: nothing to unstuff, no bare line ending).
      std::size_t j = i;
      std::size_t len = line_len_;
      const std::size_t room = cap - out.size();
      const std::size_t stop = (n - i > room) ? i + room : n;
      for (;;) {
        const std::size_t from = j;
        // The first CR or LF in [j, stop): the next LF by memchr (vectorized; a per-byte loop
        // here was a twentieth of the server's CPU on 100 KB messages), then the first CR
        // before it.
        const auto* lf = static_cast<const char*>(std::memchr(in.data() + j, '\n', stop - j));
        const std::size_t end = lf ? static_cast<std::size_t>(lf - in.data()) : stop;
        const auto* cr = static_cast<const char*>(std::memchr(in.data() + j, '\r', end - j));
        j = cr ? static_cast<std::size_t>(cr - in.data()) : end;
        len += j - from;
        if (j + 2 < stop && in[j] == '\r' && in[j + 1] == '\n' && in[j + 2] != '.') {
          note_line(len + 2);
          len = 0;
          j += 2;
          continue;
        }
        break;
      }
      if (j > i) {
        emit(out, in.substr(i, j - i));
        line_len_ = len;
        if (line_len_ + 2 > limits_.text_line) note_line(line_len_ + 2);
        i = j;
        break;
      }
      if (c == '\r') {
        state_ = state::cr;
        ++i;
      } else if (c == '\n') {
        // RFC 5321 §2.3.8: LF only as part of CRLF. A bare LF is content of a refused message
        // and does not start a line: "<LF>.<LF>" and "<LF>.<CR><LF>" can never end DATA.
        flaws_.bare_line_ending = true;
        emit(out, "\n");
        line_len_ = 0;
        ++i;
      }
      break;
    }
    case state::cr:
      if (c == '\n') {
        // The CR and this LF, from `in` when the CR was read from it too (one piece with what
        // came before).
        emit(out, i > 0 && in[i - 1] == '\r' ? in.substr(i - 1, 2) : std::string_view("\r\n"));
        note_line(line_len_ + 2);
        line_len_ = 0;
        state_ = state::line_start;
        ++i;
      } else {
        // RFC 5321 §2.3.8: CR only as part of CRLF. "<CR>.<CR>" is content.
        flaws_.bare_line_ending = true;
        emit(out, "\r");
        ++line_len_;
        if (c == '\r') {
          ++i; // this CR is now the pending one
        } else {
          state_ = state::mid;
        }
      }
      break;
    }
  }
  return {i, false};
}

void chunk_receiver::reset(bool binary) noexcept {
  binary_ = binary;
  pending_cr_ = false;
  line_len_ = 0;
  remaining_ = 0;
  size_ = 0;
  flaws_ = {};
}

void chunk_receiver::finish_message() noexcept {
  if (pending_cr_ && !binary_) flaws_.bare_line_ending = true;
  pending_cr_ = false;
}

receive_result chunk_receiver::feed(std::string_view in, std::string& out, std::size_t max_out,
                                    bool discard) {
  std::size_t take = in.size();
  if (take > remaining_) take = static_cast<std::size_t>(remaining_);
  if (!discard) {
    const std::size_t room = max_out > out.size() ? max_out - out.size() : 0;
    if (take > room) take = room;
  }
  const std::string_view part = in.substr(0, take);
  remaining_ -= take;
  if (discard) return {take, remaining_ == 0};
  if (!binary_) {
    for (const char c : part) {
      if (pending_cr_) {
        pending_cr_ = false;
        if (c == '\n') {
          // RFC 5321 §4.5.3.1.6: at most 1000 octets including CRLF.
          if (line_len_ + 2 > limits_.text_line) flaws_.line_too_long = true;
          line_len_ = 0;
          continue;
        }
        flaws_.bare_line_ending = true; // RFC 5321 §2.3.8: CR only in CRLF
        ++line_len_;
      }
      if (c == '\r') {
        pending_cr_ = true;
      } else if (c == '\n') {
        flaws_.bare_line_ending = true; // RFC 5321 §2.3.8: LF only in CRLF
        line_len_ = 0;
      } else {
        ++line_len_;
      }
    }
    if (line_len_ + 2 > limits_.text_line) flaws_.line_too_long = true;
  }
  // RFC 1870 / RFC 3030 §2: the size limit covers the whole message, every chunk together.
  if (flaws_.too_big || size_ + part.size() > limits_.max_message_size) {
    flaws_.too_big = true;
  } else {
    out.append(part);
  }
  size_ += part.size();
  return {take, remaining_ == 0};
}

} // namespace mailkit::smtp
