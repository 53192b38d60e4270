// SPDX-License-Identifier: Apache-2.0
// mailkitd's configuration: one TOML file (docs/configuration.md) or the embedded default.
#pragma once

#include <mailkit/core/log.hpp>
#include <mailkit/queue/queue.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mailkit::server {
struct mail_server_config;
}
namespace mailkit::dns {
class resolver;
}
namespace mailkit::store {
class mail_store;
}

namespace mailkitd {

/// What mailkitd runs: the server's config plus the daemon's own settings. Kept apart from
/// mail_server_config so this header includes neither the SMTP client nor the server headers.
struct daemon_config {
  std::shared_ptr<mailkit::server::mail_server_config> server;
  /// The embedded default: example domain and user created on first start.
  bool embedded = false;
  std::string example_user;
  mailkit::log_level log_level = mailkit::log_level::info;
  bool json_logs = false;
  std::string config_file; ///< "" for the embedded default
  std::string run_as;      ///< user to switch to after binding the ports ("" = stay)
};

/// Read `path` (TOML). Errors carry the file, line and key.
[[nodiscard]] daemon_config load_config(const std::string& path);
/// The embedded default: ./var, loopback ports 2525/5587/5465/1143/1993, a self-signed
/// certificate, example.test with one user.
[[nodiscard]] daemon_config embedded_config(const std::string& data_dir);
/// The embedded default as a commented TOML file (`mailkitd --print-config`).
[[nodiscard]] std::string default_config_text();

/// The embedded default's example account (mailkitd and mailkit.Server): created once with a
/// random password that is kept (0600) in <data_dir>/example-password so every start can print
/// it. Returns the password; nullopt when the account existed but the file holds none. Throws
/// std::runtime_error when the account cannot be created.
[[nodiscard]] std::optional<std::string> ensure_example_account(mailkit::store::mail_store& store,
                                                                const std::string& address,
                                                                const std::string& data_dir);

/// The [outbound] table of `path` as a remote transport (relay_config.cpp: the SMTP client
/// headers live there). Null when the file has no [outbound] table. TLS-RPT reports of direct
/// delivery are sent for `report_domain` (the first configured domain).
[[nodiscard]] std::shared_ptr<mailkit::queue::remote_transport>
load_outbound(const std::string& path, const std::string& hostname, const std::string& data_dir,
              mailkit::dns::resolver* resolver, const std::string& report_domain);

} // namespace mailkitd
