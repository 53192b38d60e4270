// SPDX-License-Identifier: Apache-2.0
// mailkit: the operator CLI. Exit codes: 0 success, 1 the command failed, 2 usage error.
#include "commands.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace mailkit::cli {

namespace {

struct registered_group {
  int order;
  void (*add)(CLI::App&);
};

// Function-local: registrations run from other translation units' static initialisers.
std::vector<registered_group>& registered_groups() {
  static std::vector<registered_group> groups;
  return groups;
}

} // namespace

command_registration::command_registration(int order, void (*add)(CLI::App&)) {
  registered_groups().push_back({order, add});
}

void add_registered_commands(CLI::App& app) {
  auto groups = registered_groups();
  std::stable_sort(
      groups.begin(), groups.end(),
      [](const registered_group& a, const registered_group& b) { return a.order < b.order; });
  for (const auto& g : groups)
    g.add(app);
}

} // namespace mailkit::cli

int main(int argc, char** argv) {
  CLI::App app{"mailkit: operate and inspect a mailkit mail system"};
  app.require_subcommand(1);
  mailkit::cli::add_mime_commands(app);
  mailkit::cli::add_registered_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code(); // a command's own failure (`check` found errors: 1)
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailkit: %s\n", e.what());
    return 1;
  }
  return 0;
}
