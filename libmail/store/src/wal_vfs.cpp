// SPDX-License-Identifier: Apache-2.0
#include "wal_vfs.hpp"

#include <mailkit/core/bytes.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mailkit::store::detail {
namespace {

sqlite3_vfs* base_vfs = nullptr; // the default VFS when ours was registered
sqlite3_vfs wal_vfs;

/// Gathered bytes are written once they would pass this (and a larger write goes directly).
constexpr std::size_t max_gathered = 1u << 20;
/// The largest write handed to the base VFS at once: the unix VFS writes at most 128 KiB - 1
/// bytes per pwrite and fails (SQLITE_FULL) a remainder that is a multiple of 128 KiB.
constexpr std::size_t max_write = (128u << 10) - 4096;

/// The gathered bytes start at the same offset in a memory page as their first byte in a file
/// page, so the kernel copies them into the page cache page by page with source and
/// destination equally aligned (its `rep movsb` is slow for some misalignments on AMD Zen,
/// as glibc's is: core/bytes.hpp). This much memory beyond the capacity makes room for it.
constexpr std::size_t page_slack = 4096;

/// A write-ahead log file: ours in front, the base VFS's file in the memory right after it.
struct wal_file {
  sqlite3_file base; // pMethods = &wal_methods
  sqlite3_file* real;
  unsigned char* mem; // cap + page_slack bytes; the gathered ones start at gathered()
  std::size_t len;    // gathered bytes, for the file from offset `at`
  std::size_t cap;
  sqlite3_int64 at;
};

/// Where the gathered bytes start: at `at`'s offset in its page.
unsigned char* gathered(wal_file* f) {
  return f->mem + (static_cast<std::size_t>(f->at) & (page_slack - 1));
}

wal_file* self(sqlite3_file* f) {
  return reinterpret_cast<wal_file*>(f);
}

/// Writes what is gathered. The bytes are dropped on failure too: the error reaches SQLite
/// through the operation that needed them, and SQLite abandons the transaction they were
/// part of (their frames are never published).
int flush(wal_file* f) {
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < f->len && rc == SQLITE_OK;) {
    const std::size_t n = std::min(f->len - done, max_write);
    rc = f->real->pMethods->xWrite(f->real, gathered(f) + done, static_cast<int>(n),
                                   f->at + static_cast<sqlite3_int64>(done));
    done += n;
  }
  f->len = 0;
  return rc;
}

int x_close(sqlite3_file* p) {
  auto* f = self(p);
  const int rc = flush(f);
  const int rc2 = f->real->pMethods->xClose(f->real);
  std::free(f->mem);
  f->mem = nullptr;
  f->cap = 0;
  return rc != SQLITE_OK ? rc : rc2;
}

int x_read(sqlite3_file* p, void* out, int amount, sqlite3_int64 offset) {
  auto* f = self(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

/// Room for `need` gathered bytes (the ones there keep their place). Starts at 256 KiB (a
/// 100 KB message's commit is about 145 KB), then max_gathered. false without memory.
bool reserve(wal_file* f, std::size_t need) {
  if (need <= f->cap) return true;
  const std::size_t want = std::max(need, f->cap == 0 ? std::size_t{256} << 10 : max_gathered);
  auto* nm = static_cast<unsigned char*>(std::realloc(f->mem, want + page_slack));
  if (!nm) return false;
  f->mem = nm;
  f->cap = want;
  return true;
}

int x_write(sqlite3_file* p, const void* data, int amount, sqlite3_int64 offset) {
  auto* f = self(p);
  const auto n = static_cast<std::size_t>(amount);
  if (f->len > 0 && offset == f->at + static_cast<sqlite3_int64>(f->len) &&
      f->len + n <= max_gathered && reserve(f, f->len + n)) {
    copy_bytes(gathered(f) + f->len, data, n);
    f->len += n;
    return SQLITE_OK;
  }
  // Not the continuation of what is gathered: that goes first, in the order SQLite wrote it.
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  if (n > max_write || !reserve(f, n))
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
  f->at = offset;
  f->len = n;
  copy_bytes(gathered(f), data, n);
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* p, sqlite3_int64 size) {
  auto* f = self(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* p, int flags) {
  auto* f = self(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* p, sqlite3_int64* size) {
  auto* f = self(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* p, int level) {
  auto* f = self(p);
  return f->real->pMethods->xLock(f->real, level);
}

int x_unlock(sqlite3_file* p, int level) {
  auto* f = self(p);
  return f->real->pMethods->xUnlock(f->real, level);
}

int x_check_reserved_lock(sqlite3_file* p, int* out) {
  auto* f = self(p);
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

int x_file_control(sqlite3_file* p, int op, void* arg) {
  auto* f = self(p);
  // SQLITE_FCNTL_SIZE_HINT and the like may look at or change the file.
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int x_sector_size(sqlite3_file* p) {
  auto* f = self(p);
  return f->real->pMethods->xSectorSize(f->real);
}

int x_device_characteristics(sqlite3_file* p) {
  auto* f = self(p);
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

int x_shm_map(sqlite3_file* p, int region, int size, int extend, void volatile** out) {
  auto* f = self(p);
  if (f->real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return f->real->pMethods->xShmMap(f->real, region, size, extend, out);
}

int x_shm_lock(sqlite3_file* p, int offset, int n, int flags) {
  auto* f = self(p);
  if (f->real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

void x_shm_barrier(sqlite3_file* p) {
  auto* f = self(p);
  if (f->real->pMethods->iVersion < 2) return;
  f->real->pMethods->xShmBarrier(f->real);
}

int x_shm_unmap(sqlite3_file* p, int del) {
  auto* f = self(p);
  if (f->real->pMethods->iVersion < 2) return SQLITE_OK;
  return f->real->pMethods->xShmUnmap(f->real, del);
}

int x_fetch(sqlite3_file* p, sqlite3_int64 offset, int amount, void** out) {
  auto* f = self(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  if (f->real->pMethods->iVersion < 3) {
    *out = nullptr; // no mapping: SQLite reads instead
    return SQLITE_OK;
  }
  return f->real->pMethods->xFetch(f->real, offset, amount, out);
}

int x_unfetch(sqlite3_file* p, sqlite3_int64 offset, void* ptr) {
  auto* f = self(p);
  if (f->real->pMethods->iVersion < 3) return SQLITE_OK;
  return f->real->pMethods->xUnfetch(f->real, offset, ptr);
}

sqlite3_io_methods wal_methods;

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* p, int flags, int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    // Every other file is the base VFS's own, in the same memory (szOsFile covers it).
    return base_vfs->xOpen(base_vfs, name, p, flags, out_flags);
  }
  auto* f = self(p);
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(p) +
                                            ((sizeof(wal_file) + 7) & ~std::size_t{7}));
  f->mem = nullptr;
  f->len = 0;
  f->cap = 0;
  f->at = 0;
  const int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
  // SQLite calls xClose only for a file whose pMethods is set.
  f->base.pMethods = (rc == SQLITE_OK && f->real->pMethods) ? &wal_methods : nullptr;
  if (rc != SQLITE_OK && f->real->pMethods) f->real->pMethods->xClose(f->real);
  return rc;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return base_vfs->xDelete(base_vfs, name, sync_dir);
}
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return base_vfs->xAccess(base_vfs, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return base_vfs->xFullPathname(base_vfs, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) {
  return base_vfs->xDlOpen(base_vfs, name);
}
void x_dl_error(sqlite3_vfs*, int n, char* out) {
  base_vfs->xDlError(base_vfs, n, out);
}
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return base_vfs->xDlSym(base_vfs, h, sym);
}
void x_dl_close(sqlite3_vfs*, void* h) {
  base_vfs->xDlClose(base_vfs, h);
}
int x_randomness(sqlite3_vfs*, int n, char* out) {
  return base_vfs->xRandomness(base_vfs, n, out);
}
int x_sleep(sqlite3_vfs*, int us) {
  return base_vfs->xSleep(base_vfs, us);
}
int x_current_time(sqlite3_vfs*, double* out) {
  return base_vfs->xCurrentTime(base_vfs, out);
}
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
  return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

const char* do_register() noexcept {
  base_vfs = sqlite3_vfs_find(nullptr);
  if (!base_vfs || base_vfs->iVersion < 2) return nullptr;

  wal_methods = sqlite3_io_methods{};
  wal_methods.iVersion = 3;
  wal_methods.xClose = x_close;
  wal_methods.xRead = x_read;
  wal_methods.xWrite = x_write;
  wal_methods.xTruncate = x_truncate;
  wal_methods.xSync = x_sync;
  wal_methods.xFileSize = x_file_size;
  wal_methods.xLock = x_lock;
  wal_methods.xUnlock = x_unlock;
  wal_methods.xCheckReservedLock = x_check_reserved_lock;
  wal_methods.xFileControl = x_file_control;
  wal_methods.xSectorSize = x_sector_size;
  wal_methods.xDeviceCharacteristics = x_device_characteristics;
  wal_methods.xShmMap = x_shm_map;
  wal_methods.xShmLock = x_shm_lock;
  wal_methods.xShmBarrier = x_shm_barrier;
  wal_methods.xShmUnmap = x_shm_unmap;
  wal_methods.xFetch = x_fetch;
  wal_methods.xUnfetch = x_unfetch;

  wal_vfs = sqlite3_vfs{};
  wal_vfs.iVersion = 2;
  wal_vfs.szOsFile =
      static_cast<int>(((sizeof(wal_file) + 7) & ~std::size_t{7})) + base_vfs->szOsFile;
  wal_vfs.mxPathname = base_vfs->mxPathname;
  wal_vfs.zName = "mailkit-wal";
  wal_vfs.xOpen = x_open;
  wal_vfs.xDelete = x_delete;
  wal_vfs.xAccess = x_access;
  wal_vfs.xFullPathname = x_full_pathname;
  wal_vfs.xDlOpen = x_dl_open;
  wal_vfs.xDlError = x_dl_error;
  wal_vfs.xDlSym = x_dl_sym;
  wal_vfs.xDlClose = x_dl_close;
  wal_vfs.xRandomness = x_randomness;
  wal_vfs.xSleep = x_sleep;
  wal_vfs.xCurrentTime = x_current_time;
  wal_vfs.xGetLastError = x_get_last_error;
  wal_vfs.xCurrentTimeInt64 = x_current_time_int64;
  if (sqlite3_vfs_register(&wal_vfs, 0) != SQLITE_OK) return nullptr;
  return wal_vfs.zName;
}

} // namespace

const char* wal_coalescing_vfs() noexcept {
  static const char* name = do_register(); // C++11: initialised once, thread-safe
  return name;
}

} // namespace mailkit::store::detail
