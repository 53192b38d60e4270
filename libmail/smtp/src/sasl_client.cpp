// SPDX-License-Identifier: Apache-2.0
// Client credentials and SASL PLAIN/LOGIN encodings (sasl_client.hpp).
#include <mailkit/smtp/sasl_client.hpp>

#include <mailkit/core/base64.hpp>

#include <openssl/crypto.h>

namespace mailkit::smtp {

secret& secret::operator=(const secret& other) {
  if (this != &other) {
    wipe();
    value_ = other.value_;
  }
  return *this;
}

secret& secret::operator=(secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

void secret::wipe() noexcept {
  // OPENSSL_cleanse: a memset the optimiser may not remove.
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
}

std::string_view to_string(auth_mechanism m) noexcept {
  switch (m) {
  case auth_mechanism::automatic:
    return "auto";
  case auth_mechanism::plain:
    return "plain";
  case auth_mechanism::login:
    return "login";
  }
  return "auto";
}

std::optional<auth_mechanism> parse_auth_mechanism(std::string_view name) noexcept {
  auto eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      char c = a[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != b[i]) return false;
    }
    return true;
  };
  if (eq(name, "auto") || eq(name, "automatic")) return auth_mechanism::automatic;
  if (eq(name, "plain")) return auth_mechanism::plain;
  if (eq(name, "login")) return auth_mechanism::login;
  return std::nullopt;
}

std::string sasl_plain_response(const credentials& c) {
  std::string raw;
  raw.reserve(c.username.size() + c.password.reveal().size() + 2);
  raw += '\0'; // RFC 4616 §2: empty authzid
  raw += c.username;
  raw += '\0';
  raw += c.password.reveal();
  std::string out = base64::encode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

bool initial_response_fits(std::string_view mechanism, std::string_view response) noexcept {
  // "AUTH" SP mechanism SP response CRLF
  return 4 + 1 + mechanism.size() + 1 + response.size() + 2 <= max_command_line;
}

} // namespace mailkit::smtp
