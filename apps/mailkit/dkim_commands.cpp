// SPDX-License-Identifier: Apache-2.0
// `mailkit dkim keygen` and `mailkit dkim rotate`: signing keys and the DNS records to publish
// (dkim/keys.hpp).
#include "commands.hpp"

#include <mailkit/dkim/keys.hpp>

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>

namespace mailkit::cli {

namespace {

struct dkim_args {
  std::string type = "rsa";
  unsigned bits = 2048;
  std::string selector;
  std::string out;
  std::string old_selector;
};

dkim::key_type key_type_of(const std::string& t) {
  return t == "ed25519" ? dkim::key_type::ed25519 : dkim::key_type::rsa;
}

// The private key file is created 0600 and never overwritten.
void write_private(const std::string& path, const std::string& pem) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0)
    throw std::runtime_error(path + " exists: refusing to overwrite a key");
  const mode_t old = ::umask(077);
  std::ofstream f(path, std::ios::binary);
  ::umask(old);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << pem;
  f.close();
  if (!f) throw std::runtime_error("cannot write " + path);
}

void add_dkim_commands(CLI::App& app) {
  auto a = std::make_shared<dkim_args>();
  auto* dkim_cmd = app.add_subcommand("dkim", "DKIM signing keys");
  dkim_cmd->require_subcommand(1);

  auto* keygen = dkim_cmd->add_subcommand(
      "keygen", "generate a signing key, write it (mode 0600) and print its DNS record");
  keygen->add_option("--type", a->type, "rsa or ed25519")
      ->check(CLI::IsMember({"rsa", "ed25519"}))
      ->capture_default_str();
  keygen->add_option("--bits", a->bits, "RSA key size (1024-4096; RFC 8301)")
      ->check(CLI::Range(1024u, 4096u))
      ->capture_default_str();
  keygen->add_option("--selector", a->selector, "selector (default mkYYYYMM)");
  keygen->add_option("--out", a->out, "private key file (PEM, PKCS#8)")->required();
  keygen->callback([a] {
    auto key = dkim::private_key::generate(key_type_of(a->type), a->bits);
    if (!key) throw std::runtime_error("key generation failed: " + key.error().message());
    const std::string selector =
        a->selector.empty() ? dkim::selector_for(std::chrono::system_clock::now()) : a->selector;
    write_private(a->out, key->to_pem());
    std::cout << "; private key written to " << a->out << "\n"
              << "; publish, then sign with --dkim " << selector << "=" << a->out << "\n"
              << dkim::zone_line(selector, key->dns_txt()) << "\n";
  });

  auto* rotate = dkim_cmd->add_subcommand(
      "rotate", "plan a key rotation: a new selector and key, when to switch and to retire");
  rotate->add_option("old_selector", a->old_selector, "the selector in use")->required();
  rotate->add_option("--type", a->type, "rsa or ed25519")
      ->check(CLI::IsMember({"rsa", "ed25519"}))
      ->capture_default_str();
  rotate->add_option("--out", a->out, "private key file for the new key")->required();
  rotate->callback([a] {
    const auto now = std::chrono::system_clock::now();
    auto plan = dkim::plan_rotation(a->old_selector, now, key_type_of(a->type));
    if (!plan) throw std::runtime_error("rotation failed: " + plan.error().message());
    write_private(a->out, plan->new_private_pem);
    auto when = [](std::chrono::system_clock::time_point t) {
      const std::time_t tt = std::chrono::system_clock::to_time_t(t);
      char buf[32];
      std::tm tm{};
      gmtime_r(&tt, &tm);
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
      return std::string(buf);
    };
    std::cout << "; 1. publish the new key now:\n"
              << dkim::zone_line(plan->new_selector, plan->new_txt) << "\n"
              << "; 2. sign with " << plan->new_selector << " (" << a->out << ") after "
              << when(plan->switch_after) << "\n"
              << "; 3. remove " << plan->old_selector << "._domainkey after "
              << when(plan->retire_old_after) << "\n";
  });
}

const command_registration registration{200, &add_dkim_commands};

} // namespace

} // namespace mailkit::cli
