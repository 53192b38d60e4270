// SPDX-License-Identifier: Apache-2.0
/// @file imap_executor.hpp
/// Carries out the typed commands of an imap::server's `execute` events against the mail store,
/// for the account that logged in: mailbox management (SELECT/EXAMINE, LIST/LSUB, STATUS,
/// CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE), messages (APPEND, FETCH, STORE, COPY, MOVE,
/// EXPUNGE, SEARCH), the selected-state housekeeping (CLOSE, UNSELECT, NOOP, CHECK) and the
/// updates of other sessions and of delivery (EXISTS, EXPUNGE, FETCH FLAGS), taken from the
/// store's change notifications and pushed at NOOP, CHECK, IDLE and after commands that allow it.
/// The executor is synchronous and owns no socket: the Asio session (imap_service) or a test
/// drives it with the core's events.
///
/// Standards: RFC 9051 §6.3 (authenticated state), §6.4 (selected state), §7 (responses),
/// §2.3.1.1 (UIDs), §7.4 / RFC 3501 §7.4.2 (FETCH data: ENVELOPE, BODYSTRUCTURE,
/// BODY[section]<partial>), RFC 3501 §5.1.3 (modified UTF-7 mailbox names), RFC 6855 (UTF-8
/// names after ENABLE UTF8=ACCEPT), RFC 4315 (UIDPLUS: APPENDUID, COPYUID, UID EXPUNGE),
/// RFC 6851 (MOVE), RFC 6154 (special-use attributes), RFC 5258 (LIST \HasChildren),
/// RFC 7162 §3.1 (MODSEQ in FETCH, HIGHESTMODSEQ, UNCHANGEDSINCE with [MODIFIED]),
/// RFC 2177 (IDLE updates), RFC 4731 (ESEARCH results).
/// Security: every mailbox name comes from the client; it is decoded (modified UTF-7) and
/// handed to the store, which validates and confines it to the logged-in account
/// (store/mailbox_name.hpp). Message data is sent as counted literals (imap/encode.hpp), so
/// stored mail can never inject a response line. Passwords are checked by the store (which
/// costs the same for unknown accounts and rehashes imported hashes).
#pragma once

#include <mailkit/imap/server.hpp>
#include <mailkit/server/auth_cache.hpp>
#include <mailkit/store/store.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkit::server {

/// Capabilities the executor implements (for imap::server_config::capabilities).
[[nodiscard]] std::vector<std::string> imap_executor_capabilities();

class imap_executor {
public:
  explicit imap_executor(std::shared_ptr<store::mail_store> store);
  ~imap_executor();
  imap_executor(const imap_executor&) = delete;
  imap_executor& operator=(const imap_executor&) = delete;

  /// Verify the credentials of an `authenticate` event; the account address on success.
  /// Through the cache of verified credentials when one is set (set_auth_cache).
  [[nodiscard]] std::optional<std::string> authenticate(std::string_view user,
                                                        std::string_view password);
  /// Share a cache of verified credentials (the service's, one per process); null: none.
  void set_auth_cache(std::shared_ptr<auth_cache> cache) { auth_cache_ = std::move(cache); }
  /// Carry out the command of an `execute` event on `s` (untagged responses, then complete()).
  /// For IDLE, pending updates are written and the command stays open: the session calls
  /// push_updates() when changes() signals, and finish_idle() on the `idle_done` event.
  void execute(imap::server& s, const imap::server_event& ev);
  /// Carry out the command of an `execute` event without touching the store, when it can be:
  /// a FETCH served from what the session knows of its messages and from the cache of encoded
  /// texts, or one that reads the text of a few small messages (`direct_text_messages`,
  /// `direct_text_bytes`: two store reads, no writes). The Asio session calls this on its I/O
  /// thread first, so that such a FETCH costs no trip to a store worker and back. False: nothing
  /// was done (no output), call execute() on a worker. True: done, or started with the rest pending
  /// (resume() on a worker reads what was not cached); at most `inline_chunk_bytes` of output are
  /// written here.
  [[nodiscard]] bool execute_without_io(imap::server& s, const imap::server_event& ev);
  /// A command whose responses are written in chunks (a FETCH of many messages) is still
  /// running: the session writes output() to the client, then calls resume(), until false.
  [[nodiscard]] bool pending() const noexcept { return job_ != nullptr; }
  void resume(imap::server& s);
  /// The pending FETCH can go on without the store (its next texts are cached, as far as is
  /// known: its last chunk needed no store read): the session may call resume_without_io()
  /// on its I/O thread instead of resume() on a worker, once the output so far is written.
  [[nodiscard]] bool resumable_without_io() const noexcept;
  /// resume() without store access: at most `inline_chunk_bytes` of output; stops (and
  /// resumable_without_io() turns false) at the first message that needs the store.
  void resume_without_io(imap::server& s);
  /// Output a FETCH writes before it pauses for the session (memory per connection).
  static constexpr std::size_t fetch_chunk_bytes = 1 << 20;
  /// Output execute_without_io() writes before it leaves the rest to resume(): the time the
  /// I/O thread (shared by every session) spends on one FETCH.
  static constexpr std::size_t inline_chunk_bytes = 256 << 10;
  /// A FETCH of message text (BODY.PEEK[...], BINARY.PEEK) runs on the I/O thread, reading
  /// the store there, when it names at most this many messages of at most this many bytes.
  static constexpr std::size_t direct_text_messages = 4;
  static constexpr std::size_t direct_text_bytes = 64 << 10;
  /// Messages whose structures one store read returns.
  static constexpr std::size_t fetch_structure_batch = 1000;

  /// Write the updates of other sessions and of delivery to the selected mailbox (EXISTS,
  /// EXPUNGE, FETCH FLAGS). Called during IDLE; NOOP and CHECK call it themselves.
  void push_updates(imap::server& s);
  /// End IDLE (the `idle_done` event).
  void finish_idle(imap::server& s);
  /// The store dropped changes for this session (more than store::subscription::max_queued):
  /// the next push_updates() or finish_idle() resynchronizes from a fresh listing.
  [[nodiscard]] bool resync_needed() const;
  /// Do the store reads of that resynchronization now (a new subscription, the listing),
  /// without touching the session's core: the Asio session runs this on a worker thread, so
  /// that push_updates() and finish_idle(), which run on the I/O thread, only write responses.
  void prepare_resync();
  /// The change subscription of the selected mailbox (nullptr when none is selected): the
  /// session waits on it during IDLE.
  [[nodiscard]] std::shared_ptr<store::subscription> changes() const { return sub_; }
  /// The logged-in account ("" before authentication).
  [[nodiscard]] const std::string& account() const noexcept { return account_; }

private:
  struct selected {
    std::string name; ///< canonical store name (UTF-8)
    bool read_only = false;
    bool condstore = false;
    std::vector<store::uid_type> uids; ///< index + 1 = message sequence number
    /// What the session knows of its messages, by UID: read at SELECT (the same listing that
    /// gives `uids`), kept current by the change feed and by this session's own writes, so
    /// that a FETCH of FLAGS, UID, MODSEQ, INTERNALDATE, RFC822.SIZE and cached texts reads
    /// no row. Messages appended since SELECT are read from the store at the next FETCH.
    /// Memory: one entry per message of the selected mailbox (about 150 bytes).
    std::vector<store::message_info> known;
  };

  void do_select(imap::server& s, const imap::cmd_select& c);
  /// RFC 7162 §3.2.5.2: the highest UID of a QRESYNC seq-match list up to which the client's
  /// sequence numbers still name the same UIDs (0 when the first pair already differs).
  [[nodiscard]] store::uid_type
  matched_uid(const std::pair<imap::sequence_set, imap::sequence_set>& seq_match) const;
  void do_list(imap::server& s, const imap::cmd_list& c);
  void do_status(imap::server& s, const imap::cmd_status& c);
  void do_append(imap::server& s, const imap::cmd_append& c);
  /// False only without_io_: the FETCH needs the store before its first response.
  bool do_fetch(imap::server& s, const imap::cmd_fetch& c, bool uid);
  void run_fetch(imap::server& s);
  void do_store(imap::server& s, const imap::cmd_store& c, bool uid);
  void do_copy(imap::server& s, const imap::cmd_copy& c, bool uid);
  void do_expunge(imap::server& s, const imap::cmd_expunge& c);
  void do_search(imap::server& s, const imap::cmd_search& c, bool uid);
  void do_close(imap::server& s, bool expunge);

  /// Decode a client mailbox name (modified UTF-7 unless UTF8=ACCEPT).
  [[nodiscard]] std::optional<std::string> client_name(const imap::server& s,
                                                       std::string_view name) const;
  /// Encode a store name for a response (modified UTF-7 unless UTF8=ACCEPT).
  [[nodiscard]] std::string wire_name(const imap::server& s, std::string_view name) const;
  /// UIDs of the selected mailbox that `set` names (sequence numbers or UIDs).
  [[nodiscard]] std::vector<store::uid_type> resolve(const imap::sequence_set& set, bool uid) const;
  [[nodiscard]] std::uint32_t seq_of(store::uid_type uid) const;
  /// RFC 9051 §9: a message sequence number names an existing message ("*" aside); false
  /// (answer BAD) otherwise. UID sets may name UIDs that do not exist.
  [[nodiscard]] bool valid_set(const imap::sequence_set& set, bool uid) const;
  /// Process queued changes; when `allow_expunge` is false (FETCH, STORE, SEARCH by sequence
  /// number, RFC 9051 §7.5.1) they stay queued.
  void apply_changes(imap::server& s, bool allow_expunge);
  /// After the subscription overflowed: a new one, and the differences from a fresh listing.
  void resync(imap::server& s);
  void fail(imap::server& s, const mailkit::error_code& ec, std::string_view what);
  /// The entry of `uid` in the selected mailbox's `known` list (nullptr: not known).
  [[nodiscard]] store::message_info* known_of(store::uid_type uid);
  /// A flag change (from the feed or this session's own STORE): applied unless the entry
  /// already holds a later one (higher MODSEQ).
  void note_flags(store::uid_type uid, const store::flag_set& flags, store::modseq_type modseq);
  /// Bring `known` up to date for `uids` (sorted) before a FETCH: the feed's flag changes, and
  /// the rows of messages not known yet. False when it cannot be trusted (the feed overflowed:
  /// the FETCH reads the rows instead, until the resynchronization).
  [[nodiscard]] expected<bool> refresh_known(const std::vector<store::uid_type>& uids);

  std::shared_ptr<store::mail_store> store_;
  std::shared_ptr<auth_cache> auth_cache_;
  std::string account_;
  std::optional<selected> sel_;
  std::shared_ptr<store::subscription> sub_;
  std::vector<store::change> deferred_; ///< polled but not yet reported
  /// (uid, modseq) of flag changes this session made and already reported (or silenced).
  std::set<std::pair<store::uid_type, store::modseq_type>> own_;
  std::vector<store::uid_type> saved_; ///< RFC 5182 SEARCH SAVE result ("$")
  struct fetch_job;
  std::unique_ptr<fetch_job> job_; ///< the FETCH being written in chunks
  bool without_io_ = false;        ///< in execute_without_io(): no store access but small texts
  /// The pending FETCH's next chunk needs the store: it stopped without_io_ at a text not
  /// cached, or its last chunk read structures.
  bool stalled_ = false;
  struct prepared_resync {
    std::shared_ptr<store::subscription> sub;
    std::vector<store::message_info> messages;
  };
  std::unique_ptr<prepared_resync> prepared_; ///< prepare_resync()'s reads, not yet applied
};

} // namespace mailkit::server
