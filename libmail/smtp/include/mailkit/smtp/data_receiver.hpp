// SPDX-License-Identifier: Apache-2.0
/// @file data_receiver.hpp
/// The message-data receivers of the SMTP server, sans-I/O: `dot_receiver` for DATA (the end is
/// <CRLF>.<CRLF>, dot-stuffing removed) and `chunk_receiver` for BDAT (the end is the announced
/// octet count). Both stream: they append at most a caller-chosen number of octets to the
/// caller's buffer per call and never hold the message.
///
/// Standards: RFC 5321 §4.1.1.4 (the end of mail data is exactly <CRLF>.<CRLF>), §4.5.2
/// (transparency: a leading dot is removed), §2.3.8 (CR and LF only as CRLF), §4.5.3.1.6 (text
/// lines at most 1000 octets); RFC 3030 §2-§3 (BDAT chunks, BINARYMIME has no line structure).
///
/// Security (SMTP smuggling): only the five octets CR LF "." CR LF end DATA. A bare LF or bare
/// CR anywhere marks the message `bare_line_ending` and the receiver keeps reading until the
/// real end, so sequences such as <LF>.<LF>, <LF>.<CR><LF>, <CR><LF>.<LF>, <CR>.<CR> or
/// <CR><LF>.<CR><CR><LF> are message content, never an end and never the start of a second
/// message. The server then refuses the whole message (521 5.5.2) and closes the connection, as
/// chasquid does: after such bytes the client's framing cannot be trusted, and a message that
/// contains them could smuggle a second one through a less careful next hop. BDAT content
/// (outside BINARYMIME) gets the same bare CR/LF check, for the second reason.
#pragma once

#include <mailkit/smtp/limits.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace mailkit::smtp {

/// What was wrong with a received message; several can be set.
struct data_flaws {
  bool bare_line_ending = false; ///< a CR not followed by LF, or an LF not preceded by CR
  bool line_too_long = false;    ///< a line over limits.text_line octets (RFC 5321 §4.5.3.1.6)
  bool too_big = false;          ///< more than limits.max_message_size octets; the rest dropped
  [[nodiscard]] bool any() const noexcept { return bare_line_ending || line_too_long || too_big; }
};

/// Progress of one feed() call.
struct receive_result {
  std::size_t consumed = 0; ///< octets of the input used
  bool finished = false;    ///< the end of the data (DATA) or of the chunk (BDAT) was reached
};

/// DATA: reads up to and including <CRLF>.<CRLF> (the CRLF of the DATA command counts as the
/// first one, so an empty message is ".\r\n").
class dot_receiver {
public:
  explicit dot_receiver(const server_limits& limits) : limits_(limits) {}

  /// Start a new message.
  void reset() noexcept;

  /// Consume from `in` and append the message octets (unstuffed, CRLF line ends) to `out`,
  /// stopping before `out` would exceed `max_out` octets (at least 2, since a CRLF is appended
  /// whole) or when the end is found. Octets past the size limit
  /// are counted but not appended. The terminating ".\r\n" is consumed, not appended.
  receive_result feed(std::string_view in, std::string& out, std::size_t max_out);
  /// As feed(), without copying octets that are one contiguous piece of `in` (nothing
  /// unstuffed, dropped or refused among them, the usual case): they are then `piece`, a part
  /// of `in`, and `out` is untouched; otherwise `piece` is empty and they are appended to
  /// `out` as by feed(). `out` must be empty.
  receive_result feed_in_place(std::string_view in, std::string_view& piece, std::string& out,
                               std::size_t max_out);

  [[nodiscard]] const data_flaws& flaws() const noexcept { return flaws_; }
  /// Message octets so far (including dropped ones past the size limit).
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

private:
  enum class state { line_start, dot, dot_cr, mid, cr };
  struct output; // where run() puts the octets (data_receiver.cpp)
  receive_result run(std::string_view in, output& out, std::size_t max_out);
  void emit(output& out, std::string_view bytes);

  server_limits limits_;
  state state_ = state::line_start;
  std::size_t line_len_ = 0;
  std::uint64_t size_ = 0;
  data_flaws flaws_;
};

/// BDAT: reads exactly the announced number of octets of each chunk; the message is the
/// concatenation of its chunks.
class chunk_receiver {
public:
  explicit chunk_receiver(const server_limits& limits) : limits_(limits) {}

  /// Start a new message; `binary` for BODY=BINARYMIME (no line checks, RFC 3030 §3).
  void reset(bool binary) noexcept;
  /// Start the next chunk of `octets` octets.
  void start_chunk(std::uint64_t octets) noexcept { remaining_ = octets; }
  /// The message ends with this chunk: a CR left pending at its end is a bare CR.
  void finish_message() noexcept;

  /// Consume at most the rest of the chunk from `in`, appending to `out` up to `max_out`.
  /// `discard`: consume without appending or checking (a chunk of a refused BDAT).
  receive_result feed(std::string_view in, std::string& out, std::size_t max_out,
                      bool discard = false);

  [[nodiscard]] std::uint64_t remaining() const noexcept { return remaining_; }
  [[nodiscard]] const data_flaws& flaws() const noexcept { return flaws_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

private:
  server_limits limits_;
  bool binary_ = false;
  bool pending_cr_ = false;
  std::size_t line_len_ = 0;
  std::uint64_t remaining_ = 0;
  std::uint64_t size_ = 0;
  data_flaws flaws_;
};

} // namespace mailkit::smtp
