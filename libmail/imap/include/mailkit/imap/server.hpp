// SPDX-License-Identifier: Apache-2.0
/// @file server.hpp
/// The IMAP server protocol core, sans-I/O: the connection's state machine (RFC 9051 §3), the
/// commands that need no mailbox (CAPABILITY, NOOP outside a mailbox, LOGOUT, STARTTLS, LOGIN,
/// AUTHENTICATE PLAIN, ENABLE, ID, NAMESPACE, IDLE's framing), and every refusal (BAD for
/// syntax, NO or BAD for a command in the wrong state, NO [TOOBIG], BYE after too many errors).
/// Every other command reaches the session as an `execute` event with its typed form; the
/// session writes untagged responses with `untagged()` and ends the command with `complete()`.
///
/// Standards: RFC 9051 §3 (states), §6.1 (any state), §6.2 (STARTTLS §6.2.1, AUTHENTICATE
/// §6.2.2, LOGIN §6.2.3: refused with PRIVACYREQUIRED before TLS and LOGINDISABLED advertised),
/// §7.1 (response codes), §7.5 (continuation); RFC 3501 (the same for IMAP4rev1 clients);
/// RFC 4959 (SASL-IR); RFC 4616 (PLAIN); RFC 5161 (ENABLE, ENABLED); RFC 2971 (ID);
/// RFC 2342 (NAMESPACE); RFC 2177 (IDLE, "+ idling", DONE); RFC 9051 §7.1 / RFC 5530 codes.
/// Security: all input is hostile; the reader bounds it (reader.hpp). After STARTTLS is
/// accepted, anything the client pipelined behind it is discarded (the IMAP form of
/// CVE-2011-0411). Credentials are handed to the session once and never written to output.
/// Failed authentications and bad commands are counted; past the limits the core says BYE.
#pragma once

#include <mailkit/imap/commands.hpp>
#include <mailkit/imap/reader.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::imap {

struct server_config {
  std::string hostname = "localhost";
  bool tls_available = false; ///< STARTTLS can be offered
  bool tls_active = false;    ///< implicit TLS (port 993) or STARTTLS done
  /// LOGIN and AUTHENTICATE without TLS (loopback listeners only; RFC 9051 §6.2.3 says no
  /// otherwise).
  bool allow_plaintext_auth = false;
  reader_limits limits;
  unsigned max_errors = 20;       ///< BAD answers before BYE and close
  unsigned max_auth_failures = 3; ///< failed LOGIN/AUTHENTICATE before BYE and close
  /// Capabilities of the session after authentication (what it implements), e.g. "IDLE",
  /// "UIDPLUS", "MOVE", "CONDSTORE" ...; IMAP4rev1, IMAP4rev2, LITERAL+/LITERAL-, ENABLE, ID,
  /// SASL-IR, AUTH=PLAIN, STARTTLS and LOGINDISABLED are added by the core as they apply.
  std::vector<std::string> capabilities;
  /// ENABLE-able extensions the session supports ("CONDSTORE", "QRESYNC", "UTF8=ACCEPT",
  /// "IMAP4REV2").
  std::vector<std::string> enableable = {"IMAP4REV2", "CONDSTORE", "QRESYNC", "UTF8=ACCEPT"};
};

/// What the session must do next.
struct server_event {
  enum class kind : std::uint8_t {
    need_input,   ///< write output(), then feed more bytes
    starttls,     ///< write output(), do the TLS handshake, then call tls_established()
    authenticate, ///< check user()/password(); answer with auth_result()
    execute,      ///< carry out `cmd` (tag in tag()), then complete()
    idle_done,    ///< the client ended IDLE: stop pushing, then complete() the IDLE command
    close,        ///< write output() and close the connection
  };
  kind k = kind::need_input;
  typed_command cmd;
  bool uid = false; ///< the command had the UID prefix
};

class server {
public:
  explicit server(server_config cfg);

  /// The greeting (RFC 9051 §7.1.1 "* OK [CAPABILITY ...] ready"), or a PREAUTH/BYE variant
  /// chosen by the session; call once before anything else.
  void greet();
  void feed(std::string_view bytes);
  [[nodiscard]] server_event next_event();

  /// The answer to an `authenticate` event: the canonical user name on success.
  void auth_result(std::optional<std::string> user);
  /// End the command of the last `execute` (or IDLE) event: "OK", "NO" or "BAD", an optional
  /// response code without brackets ("READ-WRITE", "APPENDUID 5 7", "TRYCREATE") and a text.
  /// An OK to SELECT/EXAMINE enters the selected state; to CLOSE or UNSELECT, or a NO to
  /// SELECT/EXAMINE, leaves it (RFC 9051 §6.3.2).
  void complete(std::string_view status, std::string_view code, std::string_view text);
  /// Append an untagged response ("* " is added, CRLF too unless `line` ends with a literal's
  /// octets already followed by more text: callers pass the whole response).
  void untagged(std::string_view line);
  /// The TLS handshake after a starttls event succeeded.
  void tls_established();
  /// Send "* BYE <text>" and close (timeouts, shutdown).
  void bye(std::string_view text);

  [[nodiscard]] std::string_view output() const noexcept { return out_; }
  void consume_output(std::size_t n) { out_.erase(0, n); }
  /// output() then consume_output() of all of it, without a copy: `into` receives the bytes
  /// (its old contents are dropped) and the core keeps `into`'s buffer for what comes next.
  void take_output(std::string& into) {
    into.clear();
    out_.swap(into);
  }

  [[nodiscard]] session_state state() const noexcept { return state_; }
  [[nodiscard]] const std::string& user() const noexcept { return user_; }
  [[nodiscard]] const std::string& password() const noexcept { return password_; }
  [[nodiscard]] const std::string& tag() const noexcept { return tag_; }
  [[nodiscard]] bool tls_active() const noexcept { return cfg_.tls_active; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// ENABLEd extensions (upper case).
  [[nodiscard]] bool enabled(std::string_view ext) const noexcept;
  /// Client ID fields from the ID command (RFC 2971), for the log.
  [[nodiscard]] const std::vector<std::pair<std::string, std::optional<std::string>>>&
  client_id() const noexcept {
    return client_id_;
  }
  /// The capability list for the current state (without "CAPABILITY").
  [[nodiscard]] std::string capability_list() const;

private:
  enum class pending : std::uint8_t { none, auth, execute, sasl_response, idle, starttls };

  void tagged(std::string_view tag, std::string_view status, std::string_view code,
              std::string_view text);
  bool refuse(std::string_view tag, const mailkit::error_code& ec, std::size_t announced);
  bool handle_builtin(const std::string& tag, const typed_command& c, bool uid, server_event& ev);
  bool start_plain(const std::string& tag, std::string_view b64, server_event& ev);
  bool auth_allowed() const noexcept { return cfg_.tls_active || cfg_.allow_plaintext_auth; }

  server_config cfg_;
  command_reader reader_;
  std::string out_;
  session_state state_ = session_state::not_authenticated;
  pending pending_ = pending::none;
  std::string tag_;
  typed_command pending_cmd_;
  std::string user_, password_;
  std::vector<std::string> enabled_;
  std::vector<std::pair<std::string, std::optional<std::string>>> client_id_;
  unsigned errors_ = 0;
  unsigned auth_failures_ = 0;
  bool closed_ = false;
  bool close_after_output_ = false;
};

/// Decode an RFC 4616 PLAIN message ("authzid NUL authcid NUL passwd", base64). nullopt when it
/// is not base64, has not exactly two NULs, or a field is over 255 octets (RFC 4616 §2).
struct plain_credentials {
  std::string authzid, authcid, password;
};
[[nodiscard]] std::optional<plain_credentials> decode_plain(std::string_view base64);

} // namespace mailkit::imap
