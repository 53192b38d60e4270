// SPDX-License-Identifier: Apache-2.0
/// @file store.hpp
/// The mail store: domains, accounts, aliases and catch-alls, passwords, quotas, mailboxes and
/// messages, change notifications for IMAP IDLE, and Maildir/mbox import and export.
///
/// Three interfaces carry it, so that a PostgreSQL backend can implement them later
/// (DESIGN.md §6): `directory` (domains, accounts, aliases, authentication, recipient
/// resolution), `mailbox_store` (mailboxes, messages, flags, notifications) and `blob_store`
/// (message bodies). `open()` returns the embedded implementation: SQLite in WAL mode with
/// synchronous=FULL for metadata, and one file per message body written to a temporary file and
/// renamed into place, then the file and its directory fsynced together, all before the row
/// that names it commits.
/// A crash therefore leaves at most an orphan body file, which `open()` removes (recovery scan);
/// never a row without its body. Expunged bodies are removed after the commit.
///
/// Accounts are named by their address ("user@example.com", lower-cased domain). Mailboxes by
/// their name under the account ("INBOX", "Archive/2024"); see mailbox_name.hpp.
///
/// Concurrency: every method is thread-safe. Readers run in parallel on a pool of read-only
/// connections (WAL snapshots); writes are serialized, which gives each mailbox one writer at a
/// time. One process owns a store directory (an exclusive lock file; a second open() fails with
/// errc::store_locked).
///
/// **Standards**: RFC 3501 §2.3.1 (UIDs, UIDVALIDITY, UIDNEXT), RFC 7162 §3.1 (MODSEQ,
/// HIGHESTMODSEQ), RFC 6154 (special-use mailboxes), RFC 5233 (subaddress "+tag"), RFC 3463
/// (enhanced status for quota and delivery failures), RFC 2142 is not enforced (postmaster is an
/// ordinary alias the operator creates).
/// **Security**: touches disk and holds password hashes. Mailbox names and addresses come from
/// peers and are validated before any use; file paths are never built from them (bodies are
/// named by random identifiers).
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/store/error.hpp>
#include <mailkit/store/file_ops.hpp>
#include <mailkit/store/flags.hpp>
#include <mailkit/store/password.hpp>
#include <mailkit/store/structure.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::store {

using uid_type = std::uint32_t;
using modseq_type = std::uint64_t;

// ---------------------------------------------------------------------------------------------
// Directory: domains, accounts, aliases

struct quota {
  std::uint64_t bytes = 0;    ///< 0 = unlimited
  std::uint64_t messages = 0; ///< 0 = unlimited
  friend bool operator==(const quota&, const quota&) = default;
};

struct account_info {
  std::string address;
  quota limit;
  std::uint64_t used_bytes = 0;
  std::uint64_t used_messages = 0;
};

struct auth_result {
  bool ok = false;
  bool rehashed = false; ///< the stored hash was an imported or weaker one and was replaced
  /// When ok: the stored hash the password verifies against now (the new one after a rehash),
  /// for a cache of verified credentials (server/auth_cache.hpp). Never logged or shown.
  std::string verified_hash;
};

/// Where mail for an address goes.
struct delivery_target {
  enum class kind { local, external } where = kind::local;
  std::string address; ///< the account address (local) or the external address
  std::string tag;     ///< RFC 5233 subaddress of the original recipient ("" when none)
  friend bool operator==(const delivery_target&, const delivery_target&) = default;
};

/// The outcome of resolving a recipient; a value, not an error (SMTP turns no_such_user into 550).
struct resolution {
  enum class status {
    local,        ///< one or more targets (local accounts and/or external addresses)
    not_local,    ///< the domain is not hosted here: relay decides
    no_such_user, ///< hosted domain, no account, alias or catch-all matched
  } outcome = status::not_local;
  std::vector<delivery_target> targets;
};

/// Limits on aliases (each tested).
inline constexpr std::size_t max_alias_targets = 1000; ///< targets after expansion
inline constexpr std::size_t max_alias_depth = 8;      ///< alias -> alias nesting
inline constexpr std::size_t max_address_length = 320; ///< RFC 5321 §4.5.3.1: 64 + 1 + 255

class directory {
public:
  virtual ~directory() = default;

  virtual expected<void> add_domain(std::string_view domain) = 0;
  /// errc::cannot_delete while accounts exist unless `cascade`, which removes them and their mail.
  virtual expected<void> remove_domain(std::string_view domain, bool cascade = false) = 0;
  virtual expected<std::vector<std::string>> domains() = 0;

  /// Create an account with the special-use mailboxes of RFC 6154 (INBOX, Sent, Drafts, Junk,
  /// Trash, Archive), all subscribed. The domain must exist.
  virtual expected<void> add_account(std::string_view address, std::string_view password,
                                     quota q = {}) = 0;
  /// Create an account keeping an imported hash ("{SHA512-CRYPT}$6$..."), for migrations.
  virtual expected<void> add_account_with_hash(std::string_view address,
                                               std::string_view stored_hash, quota q = {}) = 0;
  virtual expected<void> remove_account(std::string_view address) = 0;
  virtual expected<std::vector<account_info>> accounts(std::string_view domain = {}) = 0;
  virtual expected<account_info> account(std::string_view address) = 0;
  /// An account's quota limits, without its usage (errc::no_such_account as account()). The
  /// SQLite store answers from memory between changes of the directory, so a delivery path
  /// that finds no limit needs no read of the account's usage.
  virtual expected<quota> account_quota(std::string_view address) {
    auto a = account(address);
    if (!a) return make_unexpected(a.error());
    return a->limit;
  }
  virtual expected<void> set_password(std::string_view address, std::string_view password) = 0;
  virtual expected<void> set_quota(std::string_view address, quota q) = 0;
  /// Verify a password; an unknown account is ok=false (not an error, and it costs the same
  /// hashing work so that timing does not tell which accounts exist). A verified password whose
  /// stored hash needs a rehash is rehashed to Argon2id here.
  virtual expected<auth_result> authenticate(std::string_view address,
                                             std::string_view password) = 0;
  /// The stored password hash of an account (nullopt for an unknown one): a cache of verified
  /// credentials compares it with the hash it verified against, so that set_password or a
  /// rehash makes the cached entry miss. A read only; the hash is a secret (never logged).
  virtual expected<std::optional<std::string>> password_hash(std::string_view address) = 0;

  /// Add targets to an alias. `source` is "user@domain" or "*@domain" (catch-all); targets are
  /// addresses, local or external. The source's domain must be hosted.
  virtual expected<void> add_alias(std::string_view source,
                                   std::span<const std::string> targets) = 0;
  /// Remove one target, or every target when `target` is empty.
  virtual expected<void> remove_alias(std::string_view source, std::string_view target = {}) = 0;
  /// (source, target) pairs, sorted.
  virtual expected<std::vector<std::pair<std::string, std::string>>>
  aliases(std::string_view domain = {}) = 0;

  /// Resolve an envelope recipient: subaddress split at "+", aliases expanded (one to many,
  /// nested up to max_alias_depth), then the account, then the domain's catch-all.
  virtual expected<resolution> resolve_recipient(std::string_view address) = 0;
};

// ---------------------------------------------------------------------------------------------
// Mailboxes and messages

struct mailbox_info {
  std::string name;
  std::string special_use; ///< RFC 6154 attribute ("\\Sent") or ""
  bool subscribed = false;
  std::uint32_t uidvalidity = 0;
  uid_type uidnext = 1;
  modseq_type highestmodseq = 0;
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;
};

struct message_info {
  uid_type uid = 0;
  modseq_type modseq = 0;
  flag_set flags;
  std::int64_t internal_date = 0; ///< Unix seconds
  std::uint64_t size = 0;
  std::string blob_id;
};

struct append_result {
  std::uint32_t uidvalidity = 0;
  uid_type uid = 0;
  modseq_type modseq = 0;
};

/// A change to a mailbox, as IMAP IDLE and NOOP report it.
struct change {
  enum class kind { appended, flags_changed, expunged } what = kind::appended;
  uid_type uid = 0;
  modseq_type modseq = 0;
  flag_set flags; ///< appended and flags_changed
};

/// A subscription to one mailbox's changes. Thread-safe: the store pushes from the writing
/// thread, a session polls or waits from its own. Dropping the last reference unsubscribes.
class subscription {
public:
  /// Everything queued since the last poll (oldest first).
  std::vector<change> poll();
  /// Wait until a change is queued or `timeout` passes; true when changes are waiting.
  bool wait_for(std::chrono::milliseconds timeout);
  /// Called (on the writing thread, after the commit, with the store's writer lock held so that
  /// changes arrive in commit order) for every change as well as queueing it; it must not call
  /// back into the store.
  void on_change(std::function<void(const change&)> callback);
  /// Changes queued beyond this limit are dropped and `overflowed()` becomes true: the session
  /// must then resynchronize (a full FETCH of flags) instead of trusting the queue.
  static constexpr std::size_t max_queued = 100000;
  [[nodiscard]] bool overflowed() const;

  // Internal: used by the store.
  void push(const change& c);

private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<change> queue_;
  std::function<void(const change&)> callback_;
  bool overflowed_ = false;
};

enum class flag_mode { add, remove, replace };

class mailbox_store {
public:
  virtual ~mailbox_store() = default;

  /// Create a mailbox (and missing parents, RFC 3501 §6.3.3). errc::already_exists when present.
  virtual expected<void> create_mailbox(std::string_view account, std::string_view name,
                                        std::string_view special_use = {}) = 0;
  /// Delete a mailbox and its messages; INBOX cannot be deleted (RFC 3501 §6.3.4).
  virtual expected<void> delete_mailbox(std::string_view account, std::string_view name) = 0;
  /// Rename a mailbox and its children; the new name gets a new UIDVALIDITY only if it existed
  /// before (never: errc::already_exists). INBOX cannot be renamed (errc::cannot_delete).
  virtual expected<void> rename_mailbox(std::string_view account, std::string_view from,
                                        std::string_view to) = 0;
  virtual expected<std::vector<mailbox_info>> mailboxes(std::string_view account) = 0;
  virtual expected<mailbox_info> mailbox(std::string_view account, std::string_view name) = 0;
  /// Subscribe (the mailbox must exist) or unsubscribe (any subscribed name, RFC 9051 §6.3.8).
  /// Subscriptions are kept apart from mailboxes: DELETE keeps one, RENAME moves it.
  virtual expected<void> set_subscribed(std::string_view account, std::string_view name,
                                        bool subscribed) = 0;
  /// The subscribed names, sorted; some may name no mailbox (RFC 9051 §6.3.7).
  virtual expected<std::vector<std::string>> subscriptions(std::string_view account) = 0;

  /// Append a message. The body is durable before the row commits; the UID is new (never
  /// reused). `internal_date` defaults to now. Quota is not checked here (IMAP APPEND by the
  /// owner); deliver() checks it.
  virtual expected<append_result> append(std::string_view account, std::string_view mailbox,
                                         std::string_view data, const flag_set& flags = {},
                                         std::optional<std::int64_t> internal_date = {}) = 0;
  /// Deliver into an account's mailbox (INBOX by default) with the quota checked in the same
  /// transaction: errc::over_quota (transient) or errc::exceeds_quota (permanent).
  virtual expected<append_result> deliver(std::string_view account, std::string_view data,
                                          std::string_view mailbox = "INBOX",
                                          const flag_set& flags = {}) = 0;
  /// Messages with uid in [first, last], in UID order.
  virtual expected<std::vector<message_info>> messages(std::string_view account,
                                                       std::string_view mailbox, uid_type first = 1,
                                                       uid_type last = UINT32_MAX) = 0;
  /// Messages whose modseq is greater than `since` (RFC 7162 CHANGEDSINCE).
  virtual expected<std::vector<message_info>>
  changed_since(std::string_view account, std::string_view mailbox, modseq_type since) = 0;
  /// UIDs expunged with a modseq greater than `since` (RFC 7162 QRESYNC VANISHED).
  virtual expected<std::vector<uid_type>>
  expunged_since(std::string_view account, std::string_view mailbox, modseq_type since) = 0;
  /// The raw message bytes.
  virtual expected<std::string> fetch(std::string_view account, std::string_view mailbox,
                                      uid_type uid) = 0;
  /// The cached structure (no reparse).
  virtual expected<message_structure> structure(std::string_view account, std::string_view mailbox,
                                                uid_type uid) = 0;
  /// The cached structures of the messages with UIDs in [first, last], in UID order, in one
  /// read (FETCH BODYSTRUCTURE / ENVELOPE over a range).
  virtual expected<std::vector<std::pair<uid_type, message_structure>>>
  structures(std::string_view account, std::string_view mailbox, uid_type first = 1,
             uid_type last = UINT32_MAX) = 0;
  /// The same, streamed: `visit` gets each structure in UID order and returns false to stop.
  /// Nothing is held beyond the message being visited (FETCH 1:* BODYSTRUCTURE on a large
  /// mailbox). The visitor must not call back into the store.
  virtual expected<void>
  for_each_structure(std::string_view account, std::string_view mailbox, uid_type first,
                     uid_type last,
                     const std::function<bool(uid_type, const message_structure&)>& visit) = 0;
  /// Change flags; each message whose flags change gets a new MODSEQ (one per call). With
  /// `unchanged_since` (RFC 7162 §3.1.3), messages modified after it are left alone and their
  /// UIDs returned in `modified`. Returns the messages that changed, with their new flags.
  struct store_result {
    std::vector<message_info> changed;
    std::vector<uid_type> modified;
  };
  virtual expected<store_result> store_flags(std::string_view account, std::string_view mailbox,
                                             std::span<const uid_type> uids, flag_mode mode,
                                             const flag_set& flags,
                                             std::optional<modseq_type> unchanged_since = {}) = 0;
  /// Copy messages; returns (source uid, destination uid) pairs (RFC 4315 COPYUID).
  virtual expected<std::vector<std::pair<uid_type, uid_type>>> copy(std::string_view account,
                                                                    std::string_view from,
                                                                    std::span<const uid_type> uids,
                                                                    std::string_view to) = 0;
  /// Move messages atomically (RFC 6851): copy and expunge in one transaction.
  virtual expected<std::vector<std::pair<uid_type, uid_type>>> move(std::string_view account,
                                                                    std::string_view from,
                                                                    std::span<const uid_type> uids,
                                                                    std::string_view to) = 0;
  /// Expunge the given UIDs, or every \Deleted message when `uids` is nullopt. Returns the
  /// expunged UIDs. Bodies no longer referenced are removed after the commit.
  virtual expected<std::vector<uid_type>>
  expunge(std::string_view account, std::string_view mailbox,
          std::optional<std::span<const uid_type>> uids = {}) = 0;
  /// Subscribe to a mailbox's changes.
  virtual expected<std::shared_ptr<subscription>> subscribe(std::string_view account,
                                                            std::string_view mailbox) = 0;
};

// ---------------------------------------------------------------------------------------------
// Blobs

/// Message bodies by identifier. put() returns only once the body is durable. The store's
/// blobs() covers both kinds of body: files (32 hex digits) and bodies kept inside the
/// database ("i" and 32 hex digits); its put() writes a file.
class blob_store {
public:
  virtual ~blob_store() = default;
  virtual expected<std::string> put(std::string_view data) = 0;
  /// Store several bodies; all are durable when it returns (the embedded store fsyncs each
  /// file but each directory once). On failure none of them is left behind.
  virtual expected<std::vector<std::string>> put_many(std::span<const std::string_view> data);
  virtual expected<std::string> get(std::string_view id) = 0;
  virtual expected<void> remove(std::string_view id) = 0;
  /// Every stored identifier (the recovery scan).
  virtual expected<std::vector<std::string>> list() = 0;
};

/// The embedded blob store: <root>/<2 hex>/<32 hex>, written through `ops`.
[[nodiscard]] expected<std::unique_ptr<blob_store>>
open_file_blob_store(std::string root, std::shared_ptr<file_ops> ops = posix_file_ops());

// ---------------------------------------------------------------------------------------------
// The store

struct open_options {
  std::string path;          ///< directory; created when missing
  password_policy passwords; ///< Argon2id cost for new hashes
  std::shared_ptr<file_ops> files = posix_file_ops();
  std::chrono::milliseconds busy_timeout{5000};
  std::size_t read_connections = 4; ///< parallel readers
  bool subaddressing = true;        ///< RFC 5233 "user+tag"
  char subaddress_separator = '+';
  bool over_quota_permanent = false;   ///< answer 5.2.2 instead of 4.2.2 when full
  bool recover = true;                 ///< run the orphan scan at open
  std::function<std::int64_t()> clock; ///< Unix seconds; the system clock by default
  /// Bodies up to this size are made durable by the commit that adds their message (one WAL
  /// flush: no file creation, no file and directory flushes before the commit): inside the
  /// database, or from arena_body_min on in the body arena. Larger bodies are files of the
  /// blob store. 0 keeps every body in a file. SQLite's own measurements put the crossover
  /// between in-database and file blobs near 100 KiB for 4 KiB pages.
  std::size_t inline_body_max = 128 * 1024;
  /// Bodies from this size up to inline_body_max go to the body arena, `bodies.arena` beside
  /// the database, on file systems that overwrite written blocks in place (ext4 without
  /// data=journal, XFS): written before the commit, without passing through SQLite's page
  /// cache, log checksums and checkpoint copies, and made durable by the commit's own flush
  /// of the log (docs/store.md). Smaller bodies, and any body while the arena has no room
  /// prepared, stay in the database. 0: no arena (bodies already there stay readable).
  std::size_t arena_body_min = 16 * 1024;
  /// Free bytes the arena leaves on its file system: it prepares space (in 8 MiB steps,
  /// 16 MiB kept ahead) only while more than this stays free.
  std::uint64_t arena_min_free = 64ull << 20;
  /// Use the arena on any file system, flushing its file at each commit where waiting for its
  /// writeback is not enough (tests on tmpfs; elsewhere such bodies stay in the database).
  bool arena_on_any_file_system = false;
  /// WAL pages after which a background thread checkpoints the database (the committing
  /// thread never does); 0 leaves SQLite's automatic checkpoint in the commit path.
  std::size_t checkpoint_pages = 2000;
  /// Free bytes the text index leaves to mail: below this much free space on the store's file
  /// system the index thread and searches add nothing to the index (a search reads the message
  /// files the index lacks instead), so that the cache cannot take space that appends and
  /// deliveries need, nor the space an operator frees on a full disk. 0: no reserve.
  std::uint64_t text_index_min_free = 64ull << 20;
};

struct recovery_report {
  std::size_t orphan_blobs_removed = 0;
  std::size_t temp_files_removed = 0;
  std::size_t missing_blobs = 0; ///< rows whose body file is gone (reported, not deleted)
};

struct import_report {
  std::size_t mailboxes = 0;          ///< mailboxes seen (created or existing)
  std::size_t imported = 0;           ///< messages appended
  std::size_t duplicates = 0;         ///< already present (same content and date): skipped
  std::size_t failed = 0;             ///< unreadable files, skipped
  std::size_t uids_kept = 0;          ///< messages appended with the UID dovecot-uidlist gave them
  std::size_t uidvalidities_kept = 0; ///< mailboxes that took over Dovecot's UIDVALIDITY
};

/// The message write path since open(): writes (appends, deliveries, flag changes, expunges,
/// copies, moves) and the commits, each one WAL flush, that made them durable. Concurrent
/// writers share a commit (group commit), so writes / commits is the batching achieved.
struct write_stats {
  std::uint64_t writes = 0;
  std::uint64_t commits = 0;
};

/// The whole store: what open() returns.
class mail_store : public directory, public mailbox_store {
public:
  [[nodiscard]] virtual write_stats write_counters() const { return {}; }
  [[nodiscard]] virtual blob_store& blobs() = 0;
  /// Remove orphan bodies and temporary files (also run by open()).
  virtual expected<recovery_report> recover() = 0;
  /// Check the database (PRAGMA integrity_check, foreign keys, counters) and that every row's
  /// body exists. Returns the problems found (empty when consistent).
  virtual expected<std::vector<std::string>> check() = 0;
  /// Append unless a message with the same content hash and internal date is already in the
  /// mailbox (imports are idempotent). nullopt when it was a duplicate.
  virtual expected<std::optional<append_result>>
  append_unique(std::string_view account, std::string_view mailbox, std::string_view data,
                const flag_set& flags, std::int64_t internal_date) = 0;

  /// One message of a batch.
  struct batch_item {
    std::string_view data;
    flag_set flags;
    std::int64_t internal_date = 0;
    /// The UID to give it (a migration keeping the old server's UIDs), or 0 for the next one.
    /// Honoured when it is at or above the UID the message would otherwise get (UIDs only
    /// ascend, gaps are allowed: RFC 3501 §2.3.1.1); otherwise the next UID is used.
    uid_type uid = 0;
  };
  /// Append many messages in one transaction (imports): the bodies are made durable together,
  /// then every row commits at once, or none does. With `unique`, messages already present
  /// (same content hash and internal date) are skipped: their entry in the result is nullopt.
  /// At most max_batch items.
  static constexpr std::size_t max_batch = 10000;
  virtual expected<std::vector<std::optional<append_result>>>
  append_batch(std::string_view account, std::string_view mailbox,
               std::span<const batch_item> items, bool unique) = 0;

  /// Migrations: take over the old server's UIDVALIDITY for a mailbox that has never held a
  /// message (UIDNEXT 1, no MODSEQ, nothing expunged), so that clients keep their caches when
  /// the UIDs are kept too. true when the mailbox now has `uidvalidity` (also when it already
  /// had it), false when it was not fresh (it keeps its own). Later UIDVALIDITY values of the
  /// store stay above it.
  virtual expected<bool> adopt_uidvalidity(std::string_view account, std::string_view mailbox,
                                           std::uint32_t uidvalidity) = 0;
  /// Raise UIDNEXT to at least `uidnext` (never lowers it): UIDs the old server handed out
  /// for messages since expunged are never given again.
  virtual expected<void> raise_uidnext(std::string_view account, std::string_view mailbox,
                                       uid_type uidnext) = 0;
};

[[nodiscard]] expected<std::unique_ptr<mail_store>> open(open_options options);
[[nodiscard]] inline expected<std::unique_ptr<mail_store>> open(std::string path) {
  open_options o;
  o.path = std::move(path);
  return open(std::move(o));
}

/// The schema version this build writes (the migrations table records every one applied).
inline constexpr int schema_version = 3;

// ---------------------------------------------------------------------------------------------
// Import and export (maildir.cpp parses; import.cpp drives the store)

/// Import a Dovecot Maildir++ tree (root = INBOX with cur/new/tmp, ".Sub.Folder" subfolders in
/// modified UTF-7, dovecot-keywords, dovecot-uidlist order, "subscriptions") into an account.
/// Internal dates come from the file mtime (as Dovecot does). Re-running skips duplicates.
[[nodiscard]] expected<import_report> import_maildir(mail_store& store, std::string_view account,
                                                     const std::string& path);
/// Import an mbox file into one mailbox (created when missing).
[[nodiscard]] expected<import_report> import_mbox(mail_store& store, std::string_view account,
                                                  const std::string& path,
                                                  std::string_view mailbox = "INBOX");
struct passwd_import_report {
  std::size_t created = 0;          ///< accounts created with their old hash
  std::size_t existing = 0;         ///< accounts already here: left as they are
  std::size_t bad_lines = 0;        ///< unreadable lines of the file
  std::vector<std::string> refused; ///< "user: reason" (unsupported scheme, other domain, ...)
};
/// Create the accounts of a Dovecot passwd-file (HestiaCP: /etc/exim4/domains/<domain>/passwd)
/// in `domain`, which must exist, keeping each password hash (verified and rehashed to Argon2id
/// at the first login) and the quota of "userdb_quota_rule=*:storage=". Users without a domain
/// ("bob") belong to `domain`; a user of another domain is refused. Existing accounts are not
/// touched, so the import can be re-run. Plaintext and unsalted schemes are refused per line.
[[nodiscard]] expected<passwd_import_report>
import_passwd(mail_store& store, std::string_view domain, const std::string& path);

/// Export an account to a Maildir++ tree that Dovecot reads (flags and keywords in file names,
/// dovecot-keywords, mtime = internal date). The target must not exist or be empty.
[[nodiscard]] expected<import_report> export_maildir(mail_store& store, std::string_view account,
                                                     const std::string& path);

} // namespace mailkit::store
