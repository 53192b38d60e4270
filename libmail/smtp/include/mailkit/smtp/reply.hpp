// SPDX-License-Identifier: Apache-2.0
/// @file reply.hpp
/// SMTP replies as values, shared by the server (which formats them) and the client (which
/// parses them).
///
/// Standards: RFC 5321 §4.2 (reply codes, multi-line replies), RFC 2034 §3 and RFC 3463
/// (enhanced status codes `class.subject.detail`). A reply is an outcome, never an error: a 550
/// is a value the caller decides about.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::smtp {

/// RFC 3463 §2: `class "." subject "." detail`, class 2, 4 or 5, subject 0-999, detail 0-999.
struct enhanced_status {
  int klass = 0;   ///< 2 success, 4 persistent transient failure, 5 permanent failure
  int subject = 0; ///< 0 other, 1 addressing, 2 mailbox, 3 mail system, 4 network, 5 protocol,
                   ///< 6 content, 7 security or policy
  int detail = 0;

  /// Parse the text form at the start of `text` ("5.1.1", no leading space). RFC 3463 §2 limits
  /// subject and detail to 1-3 digits.
  [[nodiscard]] static std::optional<enhanced_status> parse(std::string_view text);
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const enhanced_status&, const enhanced_status&) = default;
};

/// One complete reply (all lines of a multi-line reply).
struct reply {
  int code = 0; ///< 200-599
  std::optional<enhanced_status> enhanced;
  std::vector<std::string> lines; ///< text of each line: no code, separator or enhanced code

  [[nodiscard]] bool positive_completion() const noexcept { return code / 100 == 2; }
  [[nodiscard]] bool positive_intermediate() const noexcept { return code / 100 == 3; }
  [[nodiscard]] bool transient_failure() const noexcept { return code / 100 == 4; }
  [[nodiscard]] bool permanent_failure() const noexcept { return code / 100 == 5; }
  /// The lines joined with "\n".
  [[nodiscard]] std::string text() const;
  friend bool operator==(const reply&, const reply&) = default;
};

/// Build a reply; `status` is the enhanced code in text form ("2.1.0") or empty for none.
[[nodiscard]] reply make_reply(int code, std::string_view status, std::string_view text);

/// The wire form: one "code-text\r\n" line per line and "code text\r\n" for the last (RFC 5321
/// §4.2.1), each line prefixed by the enhanced code when there is one (RFC 2034 §3). Lines that
/// contain CR or LF are split there, so a reply text can never inject a second reply. An empty
/// reply text gives "code\r\n" (or "code x.y.z\r\n").
[[nodiscard]] std::string format_reply(const reply& r);

} // namespace mailkit::smtp
