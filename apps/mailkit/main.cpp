// SPDX-License-Identifier: Apache-2.0
// mailkit: the operator CLI. Exit codes: 0 success, 1 the command failed, 2 usage error.
#include "commands.hpp"

#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"mailkit: operate and inspect a mailkit mail system"};
  app.require_subcommand(1);
  mailkit::cli::add_mime_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailkit: %s\n", e.what());
    return 1;
  }
  return 0;
}
