// SPDX-License-Identifier: Apache-2.0
/// @file sasl_client.hpp
/// Client credentials and the two SASL mechanisms relays ask for: PLAIN and LOGIN.
///
/// Standards: RFC 4954 (SMTP AUTH: the AUTH command, 334 challenges, "*" to cancel, the initial
/// response), RFC 4616 (PLAIN: authzid NUL authcid NUL passwd), draft-murchison-sasl-login
/// (LOGIN: the user name and the password each answer one 334 challenge), RFC 4648 §4 (base64).
///
/// Security: `secret` holds a password or API key. It has no stream operator and no implicit
/// conversion; its only printable form is "<redacted>", so a credential cannot reach a log by
/// accident. Its memory is overwritten when it is destroyed or reassigned.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailkit::smtp {

/// A password or API key that never prints itself.
class secret {
public:
  secret() = default;
  explicit secret(std::string value) : value_(std::move(value)) {}
  secret(const secret&) = default;
  secret(secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  secret& operator=(const secret& other);
  secret& operator=(secret&& other) noexcept;
  ~secret() { wipe(); }

  /// The value itself, for the one place that must send it (the SASL exchange).
  [[nodiscard]] const std::string& reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  /// "<redacted>" (or "" when empty): what logs and error messages may show.
  [[nodiscard]] std::string_view redacted() const noexcept {
    return value_.empty() ? std::string_view() : std::string_view("<redacted>");
  }

private:
  void wipe() noexcept;
  std::string value_;
};

/// A user name and its secret. The user name may be long: OCI Email Delivery's SMTP user names
/// are OCIDs of 150+ characters.
inline namespace client_types {
struct credentials {
  std::string username;
  secret password;
};
} // namespace client_types

/// Which SASL mechanism to use.
enum class auth_mechanism {
  automatic, ///< the first of PLAIN, LOGIN that the server lists in EHLO AUTH
  plain,     ///< PLAIN even if the server does not list it (OCI needs PLAIN)
  login,     ///< LOGIN even if the server does not list it
};

/// "auto", "plain", "login".
[[nodiscard]] std::string_view to_string(auth_mechanism m) noexcept;
[[nodiscard]] std::optional<auth_mechanism> parse_auth_mechanism(std::string_view name) noexcept;

/// RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd, base64 encoded. The
/// authorization identity is left empty (act as the authenticated user).
[[nodiscard]] std::string sasl_plain_response(const credentials& c);

/// RFC 5321 §4.5.3.1.4 limits a command line to 512 octets including CRLF. RFC 4954 §4: "If use
/// of the initial response argument would cause the AUTH command to exceed this length, the
/// client MUST NOT use the initial response parameter" and sends it after the 334 instead,
/// where servers must accept the encoded response whatever its length (RFC 4954 §4 names 12288
/// octets as enough for deployed mechanisms).
inline constexpr std::size_t max_command_line = 512;

/// Does "AUTH <mechanism> <response>\r\n" fit the command line limit?
[[nodiscard]] bool initial_response_fits(std::string_view mechanism,
                                         std::string_view response) noexcept;

} // namespace mailkit::smtp
