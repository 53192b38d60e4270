// SPDX-License-Identifier: Apache-2.0
/// @file sasl_server.hpp
/// The server half of SASL PLAIN and LOGIN as used by SMTP AUTH, sans-I/O: it turns the AUTH
/// argument and the client's continuation lines into credentials, and never judges them (the
/// policy does).
///
/// Standards: RFC 4954 §4 (AUTH, initial response, "=" for an empty one, "*" cancels, 334
/// challenges in base64), RFC 4616 §2 (PLAIN: [authzid] NUL authcid NUL passwd, each at most
/// 255 octets), draft-murchison-sasl-login (LOGIN: "Username:" then "Password:").
/// Security: decodes untrusted input; holds a password until the exchange ends, in an owned
/// string the caller should not log.
#pragma once

#include <mailkit/smtp/limits.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mailkit::smtp {

/// What a finished exchange produced.
inline namespace server_types {
struct credentials {
  std::string mechanism; ///< "PLAIN" or "LOGIN"
  std::string authzid;   ///< identity to act as; empty = the same as authcid
  std::string authcid;   ///< identity whose password this is
  std::string password;
};
} // namespace server_types

class sasl_server {
public:
  enum class status {
    challenge,   ///< send "334 " + challenge and wait for a line
    done,        ///< credentials() is complete
    malformed,   ///< bad base64 or message (reply 501 5.5.2)
    cancelled,   ///< the client sent "*" (RFC 4954 §4: reply 501)
    unsupported, ///< mechanism not offered (RFC 4954 §4: reply 504 5.5.4)
  };
  struct step_result {
    status st = status::malformed;
    std::string challenge; ///< base64 text for the 334 reply
  };

  explicit sasl_server(const server_limits& limits) : limits_(limits) {}

  /// Is `mechanism` (case-insensitive) one this server implements?
  [[nodiscard]] static bool supported(std::string_view mechanism) noexcept;

  /// Begin an exchange: `argument` is the text after "AUTH " (mechanism and optional initial
  /// response).
  step_result start(std::string_view argument);
  /// One continuation line from the client (without CRLF).
  step_result step(std::string_view line);

  [[nodiscard]] const credentials& result() const noexcept { return creds_; }
  /// Forget everything, including the password.
  void clear() noexcept;

private:
  enum class phase { idle, plain, login_user, login_password };
  step_result finish_plain(std::string_view decoded);
  std::optional<std::string> decode(std::string_view text, bool& bad) const;

  server_limits limits_;
  phase phase_ = phase::idle;
  credentials creds_;
};

} // namespace mailkit::smtp
