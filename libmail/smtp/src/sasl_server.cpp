// SPDX-License-Identifier: Apache-2.0
// SASL PLAIN and LOGIN, server side (sasl_server.hpp).
#include <mailkit/smtp/sasl_server.hpp>

#include <mailkit/core/base64.hpp>

namespace mailkit::smtp {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

// base64 of "Username:" and "Password:" (draft-murchison-sasl-login §2.1).
constexpr std::string_view login_username = "VXNlcm5hbWU6";
constexpr std::string_view login_password = "UGFzc3dvcmQ6";

} // namespace

bool sasl_server::supported(std::string_view mechanism) noexcept {
  return iequals(mechanism, "PLAIN") || iequals(mechanism, "LOGIN");
}

void sasl_server::clear() noexcept {
  phase_ = phase::idle;
  creds_ = {};
}

std::optional<std::string> sasl_server::decode(std::string_view text, bool& bad) const {
  bad = false;
  // RFC 4954 §4: "=" is an empty initial response.
  if (text == "=") return std::string();
  auto d = base64::decode(text);
  if (!d) {
    bad = true;
    return std::nullopt;
  }
  return std::move(*d);
}

sasl_server::step_result sasl_server::finish_plain(std::string_view decoded) {
  // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
  const std::size_t n1 = decoded.find('\0');
  if (n1 == std::string_view::npos) return {status::malformed, {}};
  const std::size_t n2 = decoded.find('\0', n1 + 1);
  if (n2 == std::string_view::npos) return {status::malformed, {}};
  if (decoded.find('\0', n2 + 1) != std::string_view::npos) return {status::malformed, {}};
  const auto authzid = decoded.substr(0, n1);
  const auto authcid = decoded.substr(n1 + 1, n2 - n1 - 1);
  const auto passwd = decoded.substr(n2 + 1);
  // RFC 4616 §2: authcid and passwd are non-empty, each field at most 255 octets.
  if (authcid.empty() || passwd.empty() || authzid.size() > limits_.max_sasl_field ||
      authcid.size() > limits_.max_sasl_field || passwd.size() > limits_.max_sasl_field)
    return {status::malformed, {}};
  creds_.authzid = std::string(authzid);
  creds_.authcid = std::string(authcid);
  creds_.password = std::string(passwd);
  phase_ = phase::idle;
  return {status::done, {}};
}

sasl_server::step_result sasl_server::start(std::string_view argument) {
  clear();
  const std::size_t sp = argument.find(' ');
  const std::string_view mech = argument.substr(0, sp);
  std::optional<std::string_view> initial;
  if (sp != std::string_view::npos) initial = argument.substr(sp + 1);
  if (!supported(mech)) return {status::unsupported, {}};
  creds_.mechanism = iequals(mech, "PLAIN") ? "PLAIN" : "LOGIN";
  if (initial && initial->find(' ') != std::string_view::npos) return {status::malformed, {}};
  if (creds_.mechanism == "PLAIN") {
    if (!initial) {
      phase_ = phase::plain;
      return {status::challenge, {}}; // RFC 4616 §2: empty challenge
    }
    bool bad = false;
    auto d = decode(*initial, bad);
    if (bad) return {status::malformed, {}};
    return finish_plain(*d);
  }
  if (!initial) {
    phase_ = phase::login_user;
    return {status::challenge, std::string(login_username)};
  }
  bool bad = false;
  auto d = decode(*initial, bad);
  if (bad || d->empty() || d->size() > limits_.max_sasl_field) return {status::malformed, {}};
  creds_.authcid = std::move(*d);
  phase_ = phase::login_password;
  return {status::challenge, std::string(login_password)};
}

sasl_server::step_result sasl_server::step(std::string_view line) {
  // RFC 4954 §4: a "*" line cancels the exchange.
  if (line == "*") {
    clear();
    return {status::cancelled, {}};
  }
  bool bad = false;
  auto d = decode(line, bad);
  if (bad) {
    clear();
    return {status::malformed, {}};
  }
  switch (phase_) {
  case phase::plain: {
    auto r = finish_plain(*d);
    if (r.st != status::done) clear();
    return r;
  }
  case phase::login_user:
    if (d->empty() || d->size() > limits_.max_sasl_field) {
      clear();
      return {status::malformed, {}};
    }
    creds_.authcid = std::move(*d);
    phase_ = phase::login_password;
    return {status::challenge, std::string(login_password)};
  case phase::login_password:
    if (d->empty() || d->size() > limits_.max_sasl_field) {
      clear();
      return {status::malformed, {}};
    }
    creds_.password = std::move(*d);
    phase_ = phase::idle;
    return {status::done, {}};
  case phase::idle:
    break;
  }
  clear();
  return {status::malformed, {}};
}

} // namespace mailkit::smtp
