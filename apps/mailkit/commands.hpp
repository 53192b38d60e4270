// SPDX-License-Identifier: Apache-2.0
// Subcommand registration for the operator CLI: each module's commands live in their own file.
#pragma once

#include <CLI/CLI.hpp>

namespace mailkit::cli {

/// `mailkit mime ...`: show a message's structure, print its text.
void add_mime_commands(CLI::App& app);

/// Registration of a module's subcommands from its own source file, so that modules do not edit
/// main.cpp: `static const command_registration reg{order, &add_x_commands};`. main() adds the
/// registered groups in ascending `order` after `mime`. Orders in use: 100 store (domain, user,
/// alias, import), 200 dkim, 300 smtp/queue, 400 dns.
struct command_registration {
  command_registration(int order, void (*add)(CLI::App&));
};

/// Add every registered group to `app` (main.cpp).
void add_registered_commands(CLI::App& app);

} // namespace mailkit::cli
