// SPDX-License-Identifier: Apache-2.0
// `mailkit domain|user|alias|import|export ...`: manage the mail store (libmail/store).
// `import passwd` carries a HestiaCP/Dovecot server's accounts over with their password hashes;
// `import maildir` their mail (with Dovecot's UIDs where the mailbox is new).
//
// The store directory comes from --store or the MAILKIT_STORE environment variable. Passwords
// are never taken from the command line: they are read from --password-file or, by default,
// from the first line of standard input (so they stay out of `ps` and shell history).
#include "commands.hpp"

#include <mailkit/store/store.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailkit::cli {

namespace {

using namespace mailkit::store;

struct store_args {
  std::string path;
  std::string domain, address, source, password_file, mailbox = "INBOX", fs_path;
  std::vector<std::string> targets;
  std::optional<std::uint64_t> quota_bytes, quota_messages;
  bool cascade = false;
};

store_args& args() {
  static store_args a;
  return a;
}

[[noreturn]] void fail_with(const std::string& what, const mailkit::error_code& ec) {
  throw std::runtime_error(what + ": " + ec.message() + " (" + std::string(enhanced_status(ec)) +
                           ")");
}

std::unique_ptr<mail_store> open_store() {
  if (args().path.empty())
    throw std::runtime_error("no store: give --store PATH or set MAILKIT_STORE");
  auto s = mailkit::store::open(args().path);
  if (!s) fail_with("cannot open the store at " + args().path, s.error());
  return std::move(*s);
}

template <class T>
T must(expected<T> r, const std::string& what) {
  if (!r) fail_with(what, r.error());
  return std::move(*r);
}

inline void must(expected<void> r, const std::string& what) {
  if (!r) fail_with(what, r.error());
}

std::string read_password() {
  std::string line;
  if (!args().password_file.empty()) {
    std::ifstream f(args().password_file);
    if (!f || !std::getline(f, line))
      throw std::runtime_error("cannot read the password file " + args().password_file);
  } else if (!std::getline(std::cin, line)) {
    throw std::runtime_error("no password on standard input (or give --password-file)");
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
    line.pop_back();
  if (line.empty()) throw std::runtime_error("empty password refused");
  return line;
}

std::string quota_text(std::uint64_t v) {
  return v ? std::to_string(v) : "unlimited";
}

void add_store_option(CLI::App* cmd) {
  cmd->add_option("--store", args().path, "store directory")->envname("MAILKIT_STORE");
}

CLI::App* leaf(CLI::App* parent, const char* name, const char* help) {
  auto* c = parent->add_subcommand(name, help);
  add_store_option(c);
  return c;
}

void report(const import_report& r) {
  std::printf("mailboxes %zu, imported %zu, duplicates %zu, failed %zu, Dovecot UIDs kept for "
              "%zu messages and UIDVALIDITY for %zu mailboxes\n",
              r.mailboxes, r.imported, r.duplicates, r.failed, r.uids_kept, r.uidvalidities_kept);
}

} // namespace

void add_store_commands(CLI::App& app) {
  auto& a = args();

  // ---- domain
  auto* domain = app.add_subcommand("domain", "Hosted mail domains");
  domain->require_subcommand(1);
  auto* dadd = leaf(domain, "add", "Host a domain");
  dadd->add_option("domain", a.domain)->required();
  dadd->callback([] { must(open_store()->add_domain(args().domain), "domain add"); });
  auto* dlist = leaf(domain, "list", "List hosted domains");
  dlist->callback([] {
    for (const auto& d : must(open_store()->domains(), "domain list"))
      std::printf("%s\n", d.c_str());
  });
  auto* drm = leaf(domain, "remove", "Stop hosting a domain");
  drm->add_option("domain", a.domain)->required();
  drm->add_flag("--cascade", a.cascade, "also remove its accounts, their mail and aliases");
  drm->callback(
      [] { must(open_store()->remove_domain(args().domain, args().cascade), "domain remove"); });

  // ---- user
  auto* user = app.add_subcommand("user", "Mail accounts");
  user->require_subcommand(1);
  auto* uadd = leaf(user, "add", "Create an account (password from stdin or --password-file)");
  uadd->add_option("address", a.address)->required();
  uadd->add_option("--password-file", a.password_file, "file whose first line is the password");
  uadd->add_option("--quota-bytes", a.quota_bytes, "storage quota in bytes");
  uadd->add_option("--quota-messages", a.quota_messages, "quota in messages");
  uadd->callback([] {
    auto s = open_store();
    auto pw = read_password();
    must(s->add_account(args().address, pw,
                        {args().quota_bytes.value_or(0), args().quota_messages.value_or(0)}),
         "user add");
  });
  auto* ulist = leaf(user, "list", "List accounts with quota and usage");
  ulist->add_option("domain", a.domain, "only this domain");
  ulist->callback([] {
    for (const auto& u : must(open_store()->accounts(args().domain), "user list"))
      std::printf("%s\tmessages %llu/%s\tbytes %llu/%s\n", u.address.c_str(),
                  static_cast<unsigned long long>(u.used_messages),
                  quota_text(u.limit.messages).c_str(),
                  static_cast<unsigned long long>(u.used_bytes), quota_text(u.limit.bytes).c_str());
  });
  auto* upw = leaf(user, "passwd", "Set a password (from stdin or --password-file)");
  upw->add_option("address", a.address)->required();
  upw->add_option("--password-file", a.password_file, "file whose first line is the password");
  upw->callback([] {
    auto s = open_store();
    auto pw = read_password();
    must(s->set_password(args().address, pw), "user passwd");
  });
  auto* urm = leaf(user, "remove", "Remove an account and its mail");
  urm->add_option("address", a.address)->required();
  urm->callback([] { must(open_store()->remove_account(args().address), "user remove"); });
  auto* uq = leaf(user, "quota", "Show or set an account's quota (0 = unlimited)");
  uq->add_option("address", a.address)->required();
  uq->add_option("--bytes", a.quota_bytes, "storage quota in bytes");
  uq->add_option("--messages", a.quota_messages, "quota in messages");
  uq->callback([] {
    auto s = open_store();
    auto acc = must(s->account(args().address), "user quota");
    if (args().quota_bytes || args().quota_messages) {
      quota q{args().quota_bytes.value_or(acc.limit.bytes),
              args().quota_messages.value_or(acc.limit.messages)};
      must(s->set_quota(args().address, q), "user quota");
      acc.limit = q;
    }
    std::printf(
        "%s\tmessages %llu/%s\tbytes %llu/%s\n", acc.address.c_str(),
        static_cast<unsigned long long>(acc.used_messages), quota_text(acc.limit.messages).c_str(),
        static_cast<unsigned long long>(acc.used_bytes), quota_text(acc.limit.bytes).c_str());
  });

  // ---- alias
  auto* alias = app.add_subcommand("alias", "Aliases and catch-all (*@domain)");
  alias->require_subcommand(1);
  auto* aadd = leaf(alias, "add", "Forward an address to one or more targets");
  aadd->add_option("source", a.source, "user@domain or *@domain")->required();
  aadd->add_option("targets", a.targets, "local or external addresses")->required();
  aadd->callback([] { must(open_store()->add_alias(args().source, args().targets), "alias add"); });
  auto* alist = leaf(alias, "list", "List aliases");
  alist->add_option("domain", a.domain, "only this domain");
  alist->callback([] {
    for (const auto& [src, dst] : must(open_store()->aliases(args().domain), "alias list"))
      std::printf("%s\t%s\n", src.c_str(), dst.c_str());
  });
  auto* arm = leaf(alias, "remove", "Remove an alias (or one of its targets)");
  arm->add_option("source", a.source)->required();
  arm->add_option("target", a.address, "only this target");
  arm->callback(
      [] { must(open_store()->remove_alias(args().source, args().address), "alias remove"); });

  // ---- import / export
  auto* imp = app.add_subcommand("import", "Import mail (idempotent: re-running skips what is in)");
  imp->require_subcommand(1);
  auto* imd = leaf(imp, "maildir", "Import a Dovecot/HestiaCP Maildir++ tree into an account");
  imd->add_option("user", a.address)->required();
  imd->add_option("path", a.fs_path)->required();
  imd->callback([] {
    auto s = open_store();
    report(must(import_maildir(*s, args().address, args().fs_path), "import maildir"));
  });
  auto* imb = leaf(imp, "mbox", "Import an mbox file into one mailbox");
  imb->add_option("user", a.address)->required();
  imb->add_option("path", a.fs_path)->required();
  imb->add_option("--mailbox", a.mailbox, "target mailbox (created when missing)");
  imb->callback([] {
    auto s = open_store();
    report(must(import_mbox(*s, args().address, args().fs_path, args().mailbox), "import mbox"));
  });
  auto* ipw = leaf(imp, "passwd",
                   "Create the accounts of a Dovecot/HestiaCP passwd-file, keeping their hashes");
  ipw->add_option("domain", a.domain, "the domain of the file's users (must exist)")->required();
  ipw->add_option("path", a.fs_path, "e.g. /etc/exim4/domains/DOMAIN/passwd")->required();
  ipw->callback([] {
    auto s = open_store();
    auto r = must(import_passwd(*s, args().domain, args().fs_path), "import passwd");
    for (const auto& why : r.refused)
      std::fprintf(stderr, "refused %s\n", why.c_str());
    std::printf("created %zu, existing %zu, refused %zu, bad lines %zu\n", r.created, r.existing,
                r.refused.size(), r.bad_lines);
  });
  auto* exp = app.add_subcommand("export", "Export mail");
  exp->require_subcommand(1);
  auto* emd = leaf(exp, "maildir", "Export an account as a Maildir++ tree Dovecot reads");
  emd->add_option("user", a.address)->required();
  emd->add_option("path", a.fs_path, "a new or empty directory")->required();
  emd->callback([] {
    auto s = open_store();
    report(must(export_maildir(*s, args().address, args().fs_path), "export maildir"));
  });
}

static const command_registration reg{100, &add_store_commands};

} // namespace mailkit::cli
