// SPDX-License-Identifier: Apache-2.0
// Subcommand registration for the operator CLI: each module's commands live in their own file.
#pragma once

#include <CLI/CLI.hpp>

namespace mailkit::cli {

/// `mailkit mime ...`: show a message's structure, print its text.
void add_mime_commands(CLI::App& app);

} // namespace mailkit::cli
