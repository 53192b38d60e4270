// SPDX-License-Identifier: Apache-2.0
// `mailkit import hestia`: a HestiaCP (Exim + Dovecot) server's domains, accounts with their
// password hashes, aliases, catch-alls, DKIM keys and Maildirs in one go
// (store/import_hestia.hpp does the work; this prints it). docs/migrate-hestia.md has the steps.
//
// DKIM keys are copied next to the store, to <store>/../dkim/<domain>.<selector>.pem (the
// store is <data_dir>/store, so that is <data_dir>/dkim/ as `mailkit quickstart` uses), checked
// to be keys mailkit can sign with, and printed as the [[outbound.dkim]] tables to add to
// mailkitd.toml together with the DNS record each key stands for (which must be the published
// one: the selector is Hestia's, so nothing changes in DNS).
#include "commands.hpp"

#include <mailkit/dkim/keys.hpp>
#include <mailkit/store/import_hestia.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailkit::cli {

namespace {

struct hestia_args {
  std::string store;
  store::hestia_options options;
};

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

int run_import_hestia(hestia_args& a) {
  namespace fs = std::filesystem;
  if (a.store.empty()) throw std::runtime_error("no store: give --store PATH or set MAILKIT_STORE");
  const fs::path store_dir = fs::absolute(a.store).lexically_normal();
  a.options.dkim_dir = (store_dir.parent_path() / "dkim").string();
  // The store is created when missing (also by a dry run: empty, it changes nothing).
  std::error_code ec;
  fs::create_directories(store_dir, ec);
  if (ec) throw std::runtime_error("cannot create " + store_dir.string() + ": " + ec.message());
  auto st = store::open(store_dir.string());
  if (!st)
    throw std::runtime_error("cannot open the store at " + store_dir.string() + ": " +
                             st.error().message() + " (is mailkitd running?)");
  auto rep = store::import_hestia(**st, a.options);
  if (!rep)
    throw std::runtime_error("import stopped: " + rep.error().message() + " (" +
                             std::string(store::enhanced_status(rep.error())) +
                             "); what was imported stays, re-run to resume");
  const char* would = a.options.dry_run ? " (dry run: nothing written)" : "";
  std::string dkim_tables;
  bool failed = rep->failed();
  for (const auto& e : rep->errors)
    std::fprintf(stderr, "error: %s\n", e.c_str());
  for (auto& d : rep->domains) {
    std::printf("%s (user %s)%s: domain %s\n", d.domain.c_str(),
                d.user.empty() ? "?" : d.user.c_str(), would,
                d.domain_created ? "created" : "existing");
    std::printf("  accounts: created %zu, existing %zu\n", d.accounts_created, d.accounts_existing);
    std::printf("  aliases: added %zu, existing %zu (forwards keeping a copy %zu)\n",
                d.aliases_added, d.aliases_existing, d.forwards_with_copy);
    std::printf("  catch-all: %s\n", d.catch_all.empty() ? "none" : joined(d.catch_all).c_str());
    std::printf("  mail: accounts %zu, mailboxes %zu, imported %zu, duplicates %zu, failed %zu, "
                "Dovecot UIDs kept for %zu\n",
                d.mail_accounts, d.mail.mailboxes, d.mail.imported, d.mail.duplicates,
                d.mail.failed, d.mail.uids_kept);
    if (d.dkim_selector.empty()) {
      std::printf("  DKIM: no key (no dkim.pem)\n");
    } else {
      std::printf("  DKIM: selector %s, key %s (%s)\n", d.dkim_selector.c_str(),
                  d.dkim_key_file.c_str(), d.dkim_copied ? "copied" : "existing");
      // The copy must be a key the signer can load, and its record the published one.
      std::string pem;
      if (!a.options.dry_run || !d.dkim_copied) {
        std::ifstream in(d.dkim_key_file, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        pem = s.str();
      }
      if (!pem.empty()) {
        auto key = dkim::private_key::from_pem(pem);
        if (!key) {
          d.errors.push_back("DKIM key " + d.dkim_key_file + ": " + key.error().message());
          failed = true;
        } else {
          // As a TOML comment: the record of d.domain's zone that the key stands for.
          std::string zone = dkim::zone_line(d.dkim_selector, key->dns_txt());
          dkim_tables += "\n# " + d.domain + " DNS: ";
          for (char c : zone)
            dkim_tables += c == '\n' ? std::string("\n# ") : std::string(1, c);
          dkim_tables += "\n";
        }
      }
      dkim_tables += "[[outbound.dkim]]\ndomain = " + toml_string(d.domain) +
                     "\nselector = " + toml_string(d.dkim_selector) +
                     "\nkey_file = " + toml_string(d.dkim_key_file) + "\n";
    }
    for (const auto& e : d.errors)
      std::fprintf(stderr, "error: %s: %s\n", d.domain.c_str(), e.c_str());
  }
  if (!dkim_tables.empty())
    std::printf("\n# Add to mailkitd.toml (each key's DNS record, as a comment, is the one the "
                "old server published: keep it):\n%s",
                dkim_tables.c_str());
  if (failed) {
    std::fprintf(stderr, "mailkit: import hestia: some items failed (above); the rest is "
                         "imported, and a re-run after fixing them imports only what is missing\n");
    return 1;
  }
  return 0;
}

void add_hestia_commands(CLI::App& app) {
  auto* imp = app.get_subcommand("import");
  auto a = std::make_shared<hestia_args>();
  auto* cmd = imp->add_subcommand(
      "hestia", "Import a HestiaCP/Exim/Dovecot server's domains, accounts, aliases, DKIM keys "
                "and mail (idempotent)");
  cmd->add_option("--store", a->store, "store directory")->envname("MAILKIT_STORE");
  cmd->add_option("--root", a->options.root, "the old server's file system")->capture_default_str();
  cmd->add_option("--user", a->options.users, "only this Hestia user (repeatable)");
  cmd->add_option("--domain", a->options.domains, "only this domain (repeatable)");
  cmd->add_flag("--dry-run", a->options.dry_run, "read everything, change nothing");
  cmd->callback([a] {
    if (int rc = run_import_hestia(*a); rc != 0) throw CLI::RuntimeError(rc);
  });
}

// After 100 (store), which creates the `import` group.
const command_registration registration{110, &add_hestia_commands};

} // namespace

} // namespace mailkit::cli
