// SPDX-License-Identifier: Apache-2.0
// An SQLite VFS that gathers a transaction's writes to its write-ahead log (not installed).
#pragma once

namespace mailkit::store::detail {

/// The name of an SQLite VFS ("mailkit-wal") that passes everything to the default VFS,
/// except that the writes to a write-ahead log (files opened with SQLITE_OPEN_WAL) are
/// gathered while they follow one another and reach the file in one pwrite: SQLite writes
/// each frame as two writes (24-byte header, page), 70 system calls for a 100 KB message.
///
/// Nothing is kept from the file longer than until the next operation that could observe
/// it: a sync, read, truncate, size query, memory map, file control or close first writes
/// what is gathered, and a write elsewhere in the file writes it before its own bytes (the
/// file receives the same writes in the same order, fewer and larger). An error of that
/// write (SQLITE_FULL when the disk is full) is the result of the operation that caused it.
///
/// Only for connections with `PRAGMA synchronous=FULL` (or EXTRA): SQLite then syncs the log
/// at every commit, before it publishes the commit to other connections, which is what
/// writes the gathered frames. With NORMAL a commit publishes frames without a sync and
/// other connections would read the log before they reach it.
///
/// Registered on the first call (thread-safe); nullptr if SQLite has no default VFS.
const char* wal_coalescing_vfs() noexcept;

} // namespace mailkit::store::detail
