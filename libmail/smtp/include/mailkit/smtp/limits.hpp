// SPDX-License-Identifier: Apache-2.0
/// @file limits.hpp
/// Every limit the SMTP server enforces, with the section that sets it. All are explicit, all
/// are configurable, and each has a unit test that crosses it.
///
/// Standards: RFC 5321 §4.5.3.1 (sizes of lines, paths and the recipient buffer), RFC 4954 §4
/// (AUTH line length), RFC 1870 (SIZE), RFC 3461 §4 (ORCPT and ENVID lengths).
/// Security: these bound the memory one session can make the server hold and the work it can
/// make it do; none of them is derived from peer input.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mailkit::smtp {

struct server_limits {
  /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
  std::size_t command_line = 512;
  /// MAIL and RCPT lines after EHLO. RFC 5321 §4.5.3.1.4 lets each service extension raise the
  /// 512 octets (RFC 1870 §3: +26 for SIZE; RFC 3461 §5: ORCPT and ENVID; RFC 6531: UTF-8
  /// addresses are longer in octets). We accept 4096, far above all of them together.
  std::size_t extended_command_line = 4096;
  /// RFC 4954 §4: AUTH lines (the command with its initial response, and continuation lines)
  /// may be up to 12288 octets. This is also the most the line reader ever buffers.
  std::size_t auth_line = 12288;
  /// RFC 5321 §4.5.3.1.6: a text line of the message is at most 1000 octets including CRLF. A
  /// message with a longer line (outside BINARYMIME) is refused with 500 5.5.2 after its end.
  std::size_t text_line = 1000;
  /// RFC 5321 §4.5.3.1.8: at least 100 recipients must be buffered; more get 452 4.5.3.
  std::size_t max_recipients = 100;
  /// The SIZE announced in EHLO (RFC 1870) and enforced on every message: octets as stored
  /// (after dot-unstuffing, with CRLF line ends). Larger messages get 552 5.3.4.
  std::uint64_t max_message_size = 35ULL * 1024 * 1024;
  /// Syntax and sequence errors (500, 501, 502, 503, 504, 555) before 421 4.7.0 and disconnect.
  unsigned max_errors = 10;
  /// Failed AUTH attempts (535, 501 in an exchange) before 421 4.7.0 and disconnect.
  unsigned max_auth_failures = 3;
  /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
  std::size_t max_path = 256;
  /// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
  std::size_t max_local_part = 64;
  /// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
  std::size_t max_domain = 255;
  /// RFC 3461 §4.4: ENVID is at most 100 characters (after xtext decoding).
  std::size_t max_envid = 100;
  /// RFC 3461 §4.2: the ORCPT address is at most 500 characters.
  std::size_t max_orcpt = 500;
  /// RFC 4616 §2: authzid, authcid and password are at most 255 octets each.
  std::size_t max_sasl_field = 255;
  /// Largest piece of message data handed to the sink in one data_chunk event.
  std::size_t data_chunk = 64 * 1024;
};

} // namespace mailkit::smtp
