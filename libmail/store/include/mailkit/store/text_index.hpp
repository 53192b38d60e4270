// SPDX-License-Identifier: Apache-2.0
/// @file text_index.hpp
/// The text index behind IMAP SEARCH TEXT, BODY and HEADER: the decoded text of every message
/// (header fields RFC 2047-decoded, text bodies transfer-decoded from base64 and
/// quoted-printable and converted to UTF-8 through libmail/mime), case-folded, in an SQLite FTS5
/// table with the trigram tokenizer. A search asks the index for the messages holding the
/// string instead of reading every message file.
///
/// Layout: one database per account, `<store>/text/<32 hex>.db` (the hex is a BLAKE2b hash of
/// the account address: no peer-chosen name reaches a path). Rows are keyed by the body's blob
/// identifier, so COPY and MOVE (which share the body) need no index work. The index is a cache
/// of the message bodies: a message appended is indexed by the store's index thread after its
/// commit (the append does not wait; a search waits for queued index work first); one stored
/// before the index existed, delivered in a batch, or whose indexing failed, is indexed lazily
/// by the first search that meets it; rows of expunged bodies are dropped by the index thread
/// after the expunge; a damaged index
/// file is removed and rebuilt. The database runs with synchronous=NORMAL: a crash can lose the
/// last rows, which are then indexed again lazily.
///
/// Results are exact, not approximate: the trigram index answers a phrase query by the exact
/// sequence of trigrams, which for text folded the same way is substring containment. Strings of
/// fewer than 3 characters (no trigram) scan the stored folded text instead. A message whose
/// text exceeds `max_indexed_text` is marked incomplete and matched by reading its file.
///
/// Matching (RFC 9051 §6.4.4: "case-insensitive substring"): both sides are folded by
/// `fold_text`, which applies Unicode simple case folding for Latin (Basic, Latin-1,
/// Extended-A, Extended Additional), Greek, Cyrillic, Armenian and fullwidth Latin; other
/// scripts compare exactly. Invalid UTF-8 octets fold to U+FFFD, and CR LF to LF.
///
/// **Standards**: RFC 9051 §6.4.4 and RFC 3501 §6.4.4 (SEARCH BODY, HEADER, TEXT), RFC 2047
/// (encoded words in header fields), RFC 2045 §6 (content transfer encodings).
/// **Security**: indexes untrusted message content (through libmail/mime's bounded parser) and
/// writes files under the store directory only. Search strings are bound as FTS5 phrase strings
/// (quotes doubled), never spliced into SQL.
#pragma once

#include <mailkit/core/expected.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mime {
class message;
}

namespace mailkit::store {

class mail_store;
using uid_type = std::uint32_t;

/// What a text search looks at (RFC 9051 §6.4.4).
enum class text_field {
  header, ///< HEADER field-name string: the named top-level field's decoded value
  body,   ///< BODY string: the decoded text parts (embedded messages included)
  text,   ///< TEXT string: header fields, MIME part header fields and body text
};

struct text_query {
  text_field field = text_field::text;
  std::string header_name; ///< for text_field::header
  std::string needle;      ///< UTF-8
};

/// Decoded text above this many bytes (per message) is not indexed: such a message is matched
/// by reading its file.
inline constexpr std::size_t max_indexed_text = 8u << 20;

/// Case-fold UTF-8 for matching (see the file comment). Never fails.
[[nodiscard]] std::string fold_text(std::string_view s);

/// The decoded, folded text of a message as the index stores it.
struct indexed_text {
  std::string header;   ///< "name: value\n" per top-level field, unfolded and RFC 2047 decoded
  std::string body;     ///< the text parts, "\n" between parts
  std::string parts;    ///< header fields of MIME parts and embedded messages, as `header`
  bool complete = true; ///< false when cut at max_indexed_text
};
[[nodiscard]] indexed_text extract_text(const mime::message& msg,
                                        std::size_t limit = max_indexed_text);
/// Whether extracted text matches a query (the reference the index is checked against).
[[nodiscard]] bool text_matches(const indexed_text& t, const text_query& q);

namespace detail {
class text_index_impl;
}

/// The per-account FTS5 databases of one store. Thread-safe (one mutex per account).
class text_index {
public:
  /// `dir` is created when missing. `min_free`: below this many free bytes on the file system
  /// of `dir`, nothing is added to the index (see add() and match()); 0 for no reserve.
  explicit text_index(std::string dir, std::uint64_t min_free = 0);
  ~text_index();
  text_index(const text_index&) = delete;
  text_index& operator=(const text_index&) = delete;

  /// Index one body. Idempotent (a body already present is left alone). errc::disk_full, with
  /// nothing written, when the file system has less than `min_free` bytes free: the body is
  /// then indexed by the first search that meets it with room to spare.
  expected<void> add(std::string_view account, std::string_view blob, const mime::message& msg);
  /// Drop the rows of bodies that no longer exist.
  expected<void> forget(std::string_view account, std::span<const std::string> blobs);
  /// Remove an account's database.
  void drop_account(std::string_view account);

  /// For each of `blobs`, whether its message matches `q`. Bodies not indexed yet are read with
  /// `load` (raw message bytes) and indexed now; a body `load` cannot read is an error. When
  /// the file system is short of space (under `min_free`) they are matched by reading them and
  /// not indexed; when the index cannot be opened or written (a full disk, a damaged or
  /// unreadable file) every body is matched by reading it: the answer is exact either way.
  using loader = std::function<expected<std::string>(const std::string& blob)>;
  expected<std::vector<bool>> match(std::string_view account, std::span<const std::string> blobs,
                                    const text_query& q, const loader& load);

  /// Whether the file system of the index has at least `min_free` bytes free (always true
  /// with no reserve; true too when the free space cannot be read).
  [[nodiscard]] bool has_room() const;

  /// How many bodies of the account are indexed (tests, diagnostics).
  expected<std::size_t> size(std::string_view account);

private:
  std::unique_ptr<detail::text_index_impl> impl_;
};

namespace detail {
/// What the embedded store exposes to search_text (implemented by the SQLite store).
class text_search_host {
public:
  virtual ~text_search_host() = default;
  virtual text_index& text() = 0;
  /// The account's address as the store keys it (errc::invalid_argument when malformed).
  virtual expected<std::string> canonical_account(std::string_view account) = 0;
  /// (uid, blob) of the mailbox's messages, in UID order.
  virtual expected<std::vector<std::pair<uid_type, std::string>>>
  message_blobs(std::string_view account, std::string_view mailbox) = 0;
  virtual expected<std::string> blob_data(const std::string& blob) = 0;
};
} // namespace detail

/// The UIDs (ascending) of the mailbox's messages matching `q`, through the store's text index.
/// errc::invalid_argument when the store has no text index (the caller then scans).
[[nodiscard]] expected<std::vector<uid_type>> search_text(mail_store& store,
                                                          std::string_view account,
                                                          std::string_view mailbox,
                                                          const text_query& q);

} // namespace mailkit::store
