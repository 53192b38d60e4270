// SPDX-License-Identifier: Apache-2.0
/// @file import_hestia.hpp
/// Migration of a HestiaCP (Exim + Dovecot) server's mail in one go: its domains, accounts with
/// their password hashes and quotas, aliases, forwards and catch-alls, DKIM keys and Maildirs.
/// `mailkit import hestia` is a thin shell over import_hestia().
///
/// What is read, every path under `hestia_options::root` (so that a copy of the old server's
/// files, or a test's fake root, can be imported):
///  - domains: /usr/local/hestia/data/users/<user>/mail.conf (lines `DOMAIN='example.com' ...`),
///    or, for a box without Hestia's data directory, the directories of /etc/exim4/domains/;
///  - accounts: /etc/exim4/domains/<domain>/passwd, a Dovecot passwd-file (import_passwd():
///    hashes kept and rehashed at the first login, quota from `userdb_quota_rule=*:storage=`);
///  - aliases: /etc/exim4/domains/<domain>/aliases, Exim lsearch lines `source@domain: t1,t2`
///    (`*@domain` is the catch-all). Hestia also writes an account's forwards there: Exim
///    delivers those to the account as well (its `aliases` router is `unseen`) unless the
///    account is listed in /etc/exim4/domains/<domain>/fwd_only;
///  - DKIM: /etc/exim4/domains/<domain>/dkim.pem (the private key behind the published
///    `<selector>._domainkey` record), the selector Hestia signs with being "mail" unless
///    DKIM_SELECTOR='...' is set on the domain's mail.conf line or in mail/<domain>.conf;
///  - mail: /home/<user>/mail/<domain>/<account>/, Maildir++ written by Dovecot
///    (import_maildir(): Dovecot's UIDs and UIDVALIDITY kept).
///
/// Idempotent: existing domains, accounts and alias targets are left alone, messages already
/// present are skipped, an identical DKIM key file is kept; a re-run imports nothing new.
/// Autoreplies, spam settings, rate limits and webmail data are not carried over
/// (docs/migrate-hestia.md).
///
/// **Standards**: none of its own (Dovecot passwd-file and Maildir++ formats, Exim lsearch
/// files as HestiaCP writes them).
/// **Security**: reads the old server's files as given (an operator's input, trusted as much as
/// the operator trusts that server) and copies private keys: key files are written mode 0600,
/// never over an existing different file. Domain and account names from the files are
/// validated by the store before they name anything, and a name that could leave its directory
/// ("..", "/") is refused before it becomes part of a path.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/store/store.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace mailkit::store {

struct hestia_options {
  std::string root = "/";           ///< the old server's file system
  std::vector<std::string> users;   ///< only these Hestia users (empty: every one)
  std::vector<std::string> domains; ///< only these domains (empty: every one)
  bool dry_run = false;             ///< read everything, change nothing, count what would be done
  std::string dkim_dir;             ///< where DKIM keys go (<dir>/<domain>.<selector>.pem); ""
                                    ///< leaves them where they are (reported, not copied)
};

/// What happened to one domain. With dry_run, the counts are what a real run would do.
struct hestia_domain_report {
  std::string domain;
  std::string user;            ///< the Hestia user owning it ("" when not found)
  bool domain_created = false; ///< false: it was hosted here already
  std::size_t accounts_created = 0;
  std::size_t accounts_existing = 0;
  std::size_t aliases_added = 0;      ///< (source, target) pairs new in the store
  std::size_t aliases_existing = 0;   ///< pairs the store had already
  std::vector<std::string> catch_all; ///< the targets of *@domain, as in the file
  std::size_t forwards_with_copy = 0; ///< forwards that also keep a copy in the account
  import_report mail;                 ///< summed over the accounts' Maildirs
  std::size_t mail_accounts = 0;      ///< accounts whose Maildir was found
  std::string dkim_selector;          ///< "" when the domain has no dkim.pem
  std::string dkim_key_file;          ///< where the key is now (the copy, or the original)
  bool dkim_copied = false;           ///< false: an identical copy existed, or no dkim_dir
  std::vector<std::string> errors;    ///< "what: why", one per failure; the rest went on
};

struct hestia_report {
  std::vector<hestia_domain_report> domains;
  std::vector<std::string> errors; ///< failures not tied to one domain
  [[nodiscard]] bool failed() const {
    if (!errors.empty()) return true;
    for (const auto& d : domains)
      if (!d.errors.empty()) return true;
    return false;
  }
};

/// Limits of the Hestia readers (mail.conf, aliases, fwd_only): longer files are refused.
inline constexpr std::size_t max_hestia_file = 16u << 20;

/// One line of an Exim lsearch aliases file.
struct hestia_alias {
  std::string source;               ///< lower-cased "user@domain" or "*@domain"
  std::vector<std::string> targets; ///< as written, split at ","
};
/// Read an aliases file: `key: value` or `key value` lines, '#' comments, blank lines; a line
/// starting with white space continues the previous one (Exim lsearch). Lines whose source is
/// not in `domain` or that have no target are returned in `bad`.
struct hestia_aliases {
  std::vector<hestia_alias> aliases;
  std::vector<std::string> bad;
};
[[nodiscard]] hestia_aliases parse_hestia_aliases(std::string_view file, std::string_view domain);

/// The value of KEY='value' on a Hestia conf line ("" when absent).
[[nodiscard]] std::string hestia_conf_value(std::string_view line, std::string_view key);

/// Import a HestiaCP server into `store`. Failures to read one file or to create one thing are
/// collected in the report and the import goes on; an error is returned only when going on
/// makes no sense (the store cannot write: disk full, I/O error), after which a re-run resumes.
[[nodiscard]] expected<hestia_report> import_hestia(mail_store& store,
                                                    const hestia_options& options);

} // namespace mailkit::store
