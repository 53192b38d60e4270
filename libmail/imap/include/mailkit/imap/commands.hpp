// SPDX-License-Identifier: Apache-2.0
/// @file commands.hpp
/// Typed IMAP commands: the reader's generic tokens turned into one struct per command, checked
/// against the grammar of its RFC, and the states of RFC 9051 §3 in which each is allowed.
///
/// Standards: RFC 9051 §3 (states), §6.1-§6.4 (every command and its arguments), §9 (grammar);
/// RFC 3501 §6 (LSUB, CHECK, the IMAP4rev1 forms); RFC 2177 (IDLE); RFC 2342 (NAMESPACE);
/// RFC 2971 (ID: at most 30 field-value pairs, fields at most 30 octets, values 1024);
/// RFC 3502 (MULTIAPPEND); RFC 3691 (UNSELECT); RFC 4315 (UID EXPUNGE); RFC 4959 (SASL-IR);
/// RFC 5161 (ENABLE); RFC 5258 (LIST-EXTENDED selection and return options); RFC 5819
/// (LIST-STATUS); RFC 6154 (SPECIAL-USE selection and return options); RFC 6851 (MOVE);
/// RFC 7162 (CONDSTORE: SELECT (CONDSTORE), STORE (UNCHANGEDSINCE), STATUS HIGHESTMODSEQ;
/// QRESYNC: SELECT (QRESYNC (uidvalidity modseq [known-uids [seq-match]]))); RFC 9208 (QUOTA:
/// GETQUOTA, GETQUOTAROOT, SETQUOTA).
/// Security: input is the reader's tokens (already bounded). Mailbox names are returned as
/// sent (modified UTF-7 or, after ENABLE UTF8=ACCEPT, UTF-8); the store validates and confines
/// them (store/mailbox_name.hpp).
#pragma once

#include <mailkit/imap/fetch.hpp>
#include <mailkit/imap/reader.hpp>
#include <mailkit/imap/search.hpp>
#include <mailkit/imap/sequence.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace mailkit::imap {

/// RFC 9051 §3.
enum class session_state : std::uint8_t { not_authenticated, authenticated, selected, logout };

struct cmd_capability {};
struct cmd_noop {};
struct cmd_logout {};
struct cmd_starttls {};
struct cmd_check {};
struct cmd_close {};
struct cmd_unselect {};
struct cmd_idle {};
struct cmd_namespace {};
struct cmd_login {
  std::string user, password;
};
struct cmd_authenticate {
  std::string mechanism;                       ///< upper case
  std::optional<std::string> initial_response; ///< SASL-IR, still base64 ("=" = empty)
};
struct cmd_enable {
  std::vector<std::string> capabilities; ///< upper case
};
struct cmd_id {
  /// Field-value pairs (NIL values kept as nullopt); empty for "ID NIL".
  std::vector<std::pair<std::string, std::optional<std::string>>> fields;
};
struct cmd_select {
  std::string mailbox;
  bool read_only = false; ///< EXAMINE
  bool condstore = false;
  struct qresync_params {
    std::uint32_t uidvalidity = 0;
    std::uint64_t modseq = 0;
    std::optional<sequence_set> known_uids;
    std::optional<std::pair<sequence_set, sequence_set>> seq_match; ///< (seqs uids)
  };
  std::optional<qresync_params> qresync;
};
struct cmd_create {
  std::string mailbox;
  std::vector<std::string> special_use; ///< RFC 6154 §3: CREATE x (USE (\Archive))
};
struct cmd_delete {
  std::string mailbox;
};
struct cmd_rename {
  std::string from, to;
};
struct cmd_subscribe {
  std::string mailbox;
  bool subscribe = true; ///< false: UNSUBSCRIBE
};
struct cmd_list {
  std::string reference;
  std::vector<std::string> patterns; ///< one, or several with LIST-EXTENDED
  bool lsub = false;                 ///< RFC 3501 LSUB
  // RFC 5258 §3.1 selection options.
  bool subscribed = false, remote = false, recursive_match = false, special_use_only = false;
  // RFC 5258 §3.2 return options; RFC 5819 STATUS; RFC 6154 SPECIAL-USE.
  bool return_subscribed = false, return_children = false, return_special_use = false;
  std::vector<std::string> return_status; ///< STATUS items, upper case
  bool extended = false;                  ///< any extended syntax was used
};
struct cmd_status {
  std::string mailbox;
  std::vector<std::string> items; ///< upper case: MESSAGES UIDNEXT UIDVALIDITY UNSEEN
                                  ///< DELETED SIZE RECENT HIGHESTMODSEQ
};
struct cmd_append {
  std::string mailbox;
  struct message {
    std::vector<std::string> flags;
    std::optional<std::int64_t> internal_date; ///< unix seconds
    std::string data;
    bool binary = false; ///< literal8 (RFC 3516 §4.2)
  };
  std::vector<message> messages; ///< more than one with MULTIAPPEND (RFC 3502)
};
struct cmd_expunge {
  std::optional<sequence_set> uids; ///< UID EXPUNGE (RFC 4315 §2.1)
};
struct cmd_search {
  search_command search;
};
struct cmd_fetch {
  sequence_set set;
  fetch_command fetch;
};
struct cmd_store {
  sequence_set set;
  enum class mode : std::uint8_t { replace, add, remove } how = mode::replace;
  bool silent = false;
  std::vector<std::string> flags;
  std::optional<std::uint64_t> unchanged_since; ///< RFC 7162 §3.1.3
};
struct cmd_copy {
  sequence_set set;
  std::string mailbox;
  bool move = false; ///< MOVE (RFC 6851)
};
struct cmd_getquota {
  std::string root;
};
struct cmd_getquotaroot {
  std::string mailbox;
};
struct cmd_setquota {
  std::string root;
  std::vector<std::pair<std::string, std::uint64_t>> limits; ///< (STORAGE 512)
};

using typed_command =
    std::variant<cmd_capability, cmd_noop, cmd_logout, cmd_starttls, cmd_check, cmd_close,
                 cmd_unselect, cmd_idle, cmd_namespace, cmd_login, cmd_authenticate, cmd_enable,
                 cmd_id, cmd_select, cmd_create, cmd_delete, cmd_rename, cmd_subscribe, cmd_list,
                 cmd_status, cmd_append, cmd_expunge, cmd_search, cmd_fetch, cmd_store, cmd_copy,
                 cmd_getquota, cmd_getquotaroot, cmd_setquota>;

/// Limits of RFC 2971 §3.3 (ID).
inline constexpr std::size_t max_id_fields = 30;
inline constexpr std::size_t max_id_field = 30;
inline constexpr std::size_t max_id_value = 1024;
/// Messages in one MULTIAPPEND.
inline constexpr std::size_t max_multiappend = 1000;

/// Turn a command into its typed form. `uid` commands (UID FETCH/STORE/COPY/MOVE/SEARCH/
/// EXPUNGE) keep cmd.uid for the caller. errc::unknown_command for a name this server does not
/// implement; errc::syntax, errc::bad_sequence, errc::bad_date, errc::bad_charset otherwise.
[[nodiscard]] mailkit::expected<typed_command> parse_typed(const command& cmd);

/// Is the command allowed in `state` (RFC 9051 §6: "any state", "not authenticated",
/// "authenticated" (also valid in selected), "selected")?
[[nodiscard]] bool allowed_in(const typed_command& c, session_state state) noexcept;

} // namespace mailkit::imap
