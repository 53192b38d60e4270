// SPDX-License-Identifier: Apache-2.0
// Message bodies in one preallocated file beside the database (not installed).
#pragma once

#include <mailkit/store/error.hpp>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mailkit::store::detail {

/// Bodies of middling size (open_options::arena_body_min up to inline_body_max) written to
/// extents of one file, `bodies.arena`, instead of into the database's pages: SQLite then
/// neither copies them into its page cache, nor checksums them into the log, nor copies them
/// again into the database at a checkpoint. What that would cost, measured: docs/queue.md.
///
/// Durability without a second device flush. The file's space is prepared ahead by a thread
/// (zeros written and flushed, so the blocks are allocated and written), and a body goes
/// only into prepared space: overwriting it needs no file-system metadata. put() writes the
/// body and starts its writeback; settle(), which the store calls before each COMMIT, waits
/// until every body put so far has reached the device, and the COMMIT's own flush of the
/// write-ahead log then makes those writes durable with the row that names them: a body is on
/// stable storage before any committed row can name it. That holds where an overwrite of
/// written blocks needs no metadata and the file shares the database's device (ext4 without
/// data=journal, XFS). Elsewhere (btrfs, tmpfs, ...) the arena takes no new bodies (they stay
/// in the database's pages) unless options::any_file_system, and then settle() flushes the
/// file itself (fdatasync), which is correct everywhere and costs a flush.
///
/// Which extents are taken is not written anywhere but the database: the rows' body ids name
/// their extents ("a", offset, length, nonce), and at open the free space is the prepared part
/// of the file minus the extents the rows name. A body written for a transaction that never
/// committed (a crash, a rollback) is free space again after a restart, and until then the
/// store releases it. Each extent begins with a header naming its body id's nonce, length and
/// offset: a reader holding an id whose message was expunged and whose extent was reused gets
/// errc::corrupt (the body is gone), never another message. Writes into an extent exclude
/// readers (a shared mutex), so a reader never sees a body half overwritten.
class body_arena {
public:
  struct options {
    std::uint64_t chunk = 8ull << 20;     ///< space prepared at a time
    std::uint64_t spare = 16ull << 20;    ///< prepared free space kept ahead of the bodies
    std::uint64_t min_free = 64ull << 20; ///< the file system's free space it never prepares
    /// Take bodies on any file system, settling by fdatasync where writeback is not enough
    /// (tests; elsewhere the store keeps those bodies in the database).
    bool any_file_system = false;
    /// false: only the bodies already there are read and released (the store no longer puts
    /// bodies into the arena, open_options::arena_body_min 0); nothing is prepared.
    bool takes_new = true;
  };

  /// Open (create) the arena at `path`; `live` are the body ids the database's rows name.
  /// The store holds its directory's lock, so one process at a time opens an arena.
  static expected<std::unique_ptr<body_arena>> open(const std::string& path, options opt,
                                                    const std::vector<std::string>& live);
  ~body_arena();
  body_arena(const body_arena&) = delete;
  body_arena& operator=(const body_arena&) = delete;

  /// "a" and 36 hex digits: offset (12), length (8), nonce (16). 37 characters: apart from
  /// the database's ("i" and 32) and the files' (32), and within what caches of ids keep (40).
  static bool is_id(std::string_view id) noexcept;

  /// Write `data` into a free prepared extent and start its writeback. nullopt when there is
  /// no prepared extent large enough (the preparing thread is behind, or the file system is
  /// short of space) or the write failed: the caller keeps the body another way.
  std::optional<std::string> put(std::string_view data);
  /// Whether put() may succeed on this file system (see the class comment).
  bool takes_bodies() const noexcept { return takes_bodies_; }
  /// Before a COMMIT: every body put so far is on the device (see the class comment).
  expected<void> settle();
  /// The body named `id`; errc::corrupt when its extent no longer holds it.
  expected<std::string> get(std::string_view id);
  /// Whether the extent named `id` holds its body (its header matches).
  bool holds(std::string_view id);
  /// `id`'s extent is free again: after the commit that removed the last row naming it, or
  /// for a body whose transaction did not commit.
  void release(std::string_view id);

  struct usage {
    std::uint64_t prepared = 0; ///< bytes of the file prepared for bodies
    std::uint64_t free = 0;     ///< of those, bytes free
    bool by_writeback = false;  ///< settle() waits for writeback (true) or flushes the file
    bool takes_bodies = false;  ///< put() is used (false: bodies stay in the database)
  };
  usage stats() const;
  /// Wait until the preparing thread has nothing to do (tests).
  void wait_prepared();

private:
  body_arena() = default;
  void add_free(std::uint64_t off, std::uint64_t len); // mu_ held
  bool take(std::uint64_t need, std::uint64_t& off);   // mu_ held
  void prepare_loop();
  bool prepare_one(std::uint64_t from, std::uint64_t len);
  /// Bodies in [lo, hi) are put and not settled yet.
  void note_pending(std::uint64_t lo, std::uint64_t hi);

  int fd_ = -1;
  std::string path_;
  options opt_;
  bool by_writeback_ = false;

  mutable std::mutex mu_;
  std::map<std::uint64_t, std::uint64_t> free_;             ///< offset -> length
  std::set<std::pair<std::uint64_t, std::uint64_t>> sizes_; ///< (length, offset)
  std::uint64_t free_total_ = 0;
  std::uint64_t prepared_ = 0; ///< [0, prepared_) is zeroed or holds bodies, and durable
  bool stop_ = false;
  bool preparing_ = false;
  bool backoff_ = false; ///< the last preparation failed (no room); retried every second
  bool wanted_ = false;  ///< a body was put or asked for: until then nothing is prepared
  std::condition_variable cv_, idle_;
  std::thread preparer_;

  std::shared_mutex rw_; ///< writers of extents exclusive, readers shared
  bool takes_bodies_ = false;
  std::mutex pend_mu_; ///< bodies put and not settled yet: their range of the file
  std::uint64_t pend_lo_ = 0, pend_hi_ = 0;
};

} // namespace mailkit::store::detail
