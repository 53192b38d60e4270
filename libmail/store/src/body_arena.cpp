// SPDX-License-Identifier: Apache-2.0
#include "body_arena.hpp"

#include "internal.hpp"

#include <mailkit/core/thread_name.hpp>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mailkit::store::detail {
namespace {

constexpr std::uint64_t block = 4096;
constexpr std::size_t header_size = 32;
constexpr char magic[8] = {'m', 'k', 'b', 'o', 'd', 'y', '0', '1'};
constexpr std::size_t id_size = 1 + 12 + 8 + 16;

constexpr std::uint64_t round_up(std::uint64_t n) {
  return (n + block - 1) / block * block;
}
/// The extent a body of `len` bytes takes: its header and the body, in whole blocks.
constexpr std::uint64_t extent_of(std::uint64_t len) {
  return round_up(header_size + len);
}

struct parsed_id {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t nonce = 0;
};

bool hex_value(std::string_view s, std::uint64_t& out) {
  out = 0;
  for (char c : s) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    out = out << 4 | static_cast<std::uint64_t>(v);
  }
  return true;
}

std::optional<parsed_id> parse_id(std::string_view id) {
  if (id.size() != id_size || id[0] != 'a') return std::nullopt;
  parsed_id p;
  if (!hex_value(id.substr(1, 12), p.offset) || !hex_value(id.substr(13, 8), p.length) ||
      !hex_value(id.substr(21, 16), p.nonce) || p.offset % block != 0)
    return std::nullopt;
  return p;
}

std::string make_id(const parsed_id& p) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string id(id_size, 'a');
  auto put = [&](std::size_t at, std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i, v >>= 4)
      id[at + static_cast<std::size_t>(i)] = digits[v & 15];
  };
  put(1, p.offset, 12);
  put(13, p.length, 8);
  put(21, p.nonce, 16);
  return id;
}

void store_le(unsigned char* at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i, v >>= 8)
    at[i] = static_cast<unsigned char>(v & 0xff);
}
std::uint64_t load_le(const unsigned char* at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = v << 8 | at[i];
  return v;
}

/// The header: magic, nonce, length, offset (little-endian). The offset guards against an
/// extent read at the wrong place; the nonce against an id whose extent was reused.
void encode_header(unsigned char* h, const parsed_id& p) {
  std::memcpy(h, magic, 8);
  store_le(h + 8, p.nonce);
  store_le(h + 16, p.length);
  store_le(h + 24, p.offset);
}
bool header_matches(const unsigned char* h, const parsed_id& p) {
  return std::memcmp(h, magic, 8) == 0 && load_le(h + 8) == p.nonce &&
         load_le(h + 16) == p.length && load_le(h + 24) == p.offset;
}

/// Whether the file system holding `fd` overwrites written blocks in place without metadata,
/// so that waiting for the writeback of a body and then the device flush of the database's
/// log commit makes it durable: ext2/3/4 (one magic) unless data=journal, and XFS.
bool writeback_is_enough(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;
  constexpr long ext4_magic = 0xEF53, xfs_magic = 0x58465342;
  if (fs.f_type == xfs_magic) return true;
  if (fs.f_type != ext4_magic) return false;
  // data=journal sends data through the journal: the writeback wait does not cover it.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return false; // unknown: take no chances
  const std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  std::string line;
  bool found = false;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, majmin;
    f >> id >> parent >> majmin;
    if (majmin != dev) continue;
    found = true;
    if (line.find("data=journal") != std::string::npos) return false;
  }
  return found;
}

} // namespace

bool body_arena::is_id(std::string_view id) noexcept {
  return id.size() == id_size && id[0] == 'a';
}

expected<std::unique_ptr<body_arena>> body_arena::open(const std::string& path, options opt,
                                                       const std::vector<std::string>& live) {
  std::unique_ptr<body_arena> a(new body_arena);
  a->path_ = path;
  a->opt_ = opt;
  a->opt_.chunk = std::max<std::uint64_t>(round_up(opt.chunk), block);
  a->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (a->fd_ < 0) return tl::unexpected<error_code>(from_errno(errno));
  struct stat st {};
  if (::fstat(a->fd_, &st) != 0) return tl::unexpected<error_code>(from_errno(errno));
  a->by_writeback_ = writeback_is_enough(a->fd_);
  a->takes_bodies_ = opt.takes_new && (a->by_writeback_ || opt.any_file_system);

  // Free space: the gaps between the extents the rows name. Everything below the end of the
  // last of them was prepared before it was taken (space is only ever taken from prepared
  // space), and so is durable; what lies beyond may be zeros a crash left unflushed, and is
  // prepared again. Extents beyond the file's end (a lost or truncated file) are bodies that
  // are gone: check() reports them.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> taken;
  for (const auto& id : live)
    if (auto p = parse_id(id)) taken.emplace_back(p->offset, extent_of(p->length));
  std::sort(taken.begin(), taken.end());
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::lock_guard lock(a->mu_);
  for (auto [off, len] : taken)
    if (off + len <= size) a->prepared_ = std::max(a->prepared_, off + len);
  std::uint64_t end = 0;
  for (auto [off, len] : taken) {
    if (off + len > size) break;
    if (off < end) continue; // the same extent twice (cannot overlap otherwise)
    if (off > end) a->add_free(end, off - end);
    end = off + len;
  }
  // Nothing is prepared until a body asks (put() finding no room): a store that sees no
  // middling body never writes the spare, and a restart does not rewrite it before mail comes
  // (the holes between live bodies are free at once).
  if (a->takes_bodies_) {
    a->preparer_ = std::thread([p = a.get()] {
      name_this_thread("mk-arena");
      p->prepare_loop();
    });
  }
  return a;
}

body_arena::~body_arena() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (preparer_.joinable()) preparer_.join();
  if (fd_ >= 0) ::close(fd_);
}

void body_arena::add_free(std::uint64_t off, std::uint64_t len) {
  if (len == 0 || off + len > prepared_) return;
  auto next = free_.lower_bound(off);
  // Overlapping free space: a release of an extent already free (never expected; refused
  // rather than letting two bodies share space).
  if (next != free_.end() && next->first < off + len) return;
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > off) return;
    if (prev->first + prev->second == off) {
      sizes_.erase({prev->second, prev->first});
      off = prev->first;
      len += prev->second;
      free_total_ -= prev->second;
      free_.erase(prev);
    }
  }
  if (next != free_.end() && off + len == next->first) {
    sizes_.erase({next->second, next->first});
    len += next->second;
    free_total_ -= next->second;
    free_.erase(next);
  }
  free_.emplace(off, len);
  sizes_.emplace(len, off);
  free_total_ += len;
}

bool body_arena::take(std::uint64_t need, std::uint64_t& off) {
  // Best fit: the smallest free extent that holds it (then the lowest offset), so that the
  // space at the end stays whole for later bodies.
  auto it = sizes_.lower_bound({need, 0});
  if (it == sizes_.end()) return false;
  auto [len, at] = *it;
  sizes_.erase(it);
  free_.erase(at);
  if (len > need) {
    free_.emplace(at + need, len - need);
    sizes_.emplace(len - need, at + need);
  }
  free_total_ -= need;
  off = at;
  return true;
}

namespace {
std::uint64_t tail_free(const std::map<std::uint64_t, std::uint64_t>& free, std::uint64_t end) {
  if (free.empty()) return 0;
  auto last = std::prev(free.end());
  return last->first + last->second == end ? last->second : 0;
}
} // namespace

std::optional<std::string> body_arena::put(std::string_view data) {
  if (!takes_bodies_ || data.size() > 0xffffffffu) return std::nullopt;
  // Ids hold the offset in 12 hex digits: 256 TiB, far beyond any mailbox.
  const std::uint64_t need = extent_of(data.size());
  parsed_id p;
  {
    std::lock_guard lock(mu_);
    wanted_ = true;
    bool ok = take(need, p.offset);
    if (!ok || tail_free(free_, prepared_) < opt_.spare) cv_.notify_one();
    if (!ok) return std::nullopt;
  }
  p.length = data.size();
  randombytes_buf(&p.nonce, sizeof p.nonce);
  unsigned char h[header_size];
  encode_header(h, p);
  bool written = true;
  {
    // No reader sees the extent while it changes (a stale id's reader reads the header after
    // the body is complete, and then finds it does not match).
    std::unique_lock w(rw_);
    std::uint64_t done = 0;
    const std::uint64_t total = header_size + data.size();
    while (done < total) {
      iovec iov[2];
      int n = 0;
      if (done < header_size) iov[n++] = {h + done, header_size - done};
      const std::uint64_t body_done = done > header_size ? done - header_size : 0;
      iov[n++] = {const_cast<char*>(data.data()) + body_done, data.size() - body_done};
      ssize_t r = ::pwritev(fd_, iov, n, static_cast<off_t>(p.offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        written = false;
        break;
      }
      done += static_cast<std::uint64_t>(r);
    }
  }
  if (!written) {
    std::lock_guard lock(mu_);
    add_free(p.offset, need);
    return std::nullopt;
  }
  // The device starts on it while SQLite builds the commit; settle() waits for the end.
  if (by_writeback_)
    (void)::sync_file_range(fd_, static_cast<off_t>(p.offset), static_cast<off_t>(need),
                            SYNC_FILE_RANGE_WRITE);
  note_pending(p.offset, p.offset + need);
  return make_id(p);
}

void body_arena::note_pending(std::uint64_t lo, std::uint64_t hi) {
  std::lock_guard lock(pend_mu_);
  if (pend_lo_ == pend_hi_) {
    pend_lo_ = lo;
    pend_hi_ = hi;
  } else {
    pend_lo_ = std::min(pend_lo_, lo);
    pend_hi_ = std::max(pend_hi_, hi);
  }
}

expected<void> body_arena::settle() {
  std::uint64_t lo, hi;
  {
    std::lock_guard lock(pend_mu_);
    lo = pend_lo_;
    hi = pend_hi_;
    pend_lo_ = pend_hi_ = 0;
  }
  if (lo == hi) return {};
  // Only the bodies' range: the preparing thread's zeros (beyond every body) are not waited
  // for. A failure puts the range back, so that no later commit goes without it.
  int rc = by_writeback_
               ? ::sync_file_range(fd_, static_cast<off_t>(lo), static_cast<off_t>(hi - lo),
                                   SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                       SYNC_FILE_RANGE_WAIT_AFTER)
               : ::fdatasync(fd_);
  if (rc != 0) {
    const int e = errno;
    note_pending(lo, hi);
    return tl::unexpected<error_code>(from_errno(e));
  }
  return {};
}

expected<std::string> body_arena::get(std::string_view id) {
  auto p = parse_id(id);
  if (!p) return tl::unexpected<error_code>(make_error_code(errc::invalid_argument));
  std::string out(p->length, '\0');
  unsigned char h[header_size];
  std::shared_lock r(rw_);
  std::uint64_t done = 0;
  const std::uint64_t total = header_size + p->length;
  while (done < total) {
    iovec iov[2];
    int n = 0;
    if (done < header_size) iov[n++] = {h + done, header_size - done};
    const std::uint64_t body_done = done > header_size ? done - header_size : 0;
    if (body_done < p->length) iov[n++] = {out.data() + body_done, p->length - body_done};
    ssize_t got = ::preadv(fd_, iov, n, static_cast<off_t>(p->offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return tl::unexpected<error_code>(from_errno(errno));
    if (got == 0) return tl::unexpected<error_code>(make_error_code(errc::corrupt)); // gone
    done += static_cast<std::uint64_t>(got);
  }
  if (!header_matches(h, *p)) return tl::unexpected<error_code>(make_error_code(errc::corrupt));
  return out;
}

bool body_arena::holds(std::string_view id) {
  auto p = parse_id(id);
  if (!p) return false;
  unsigned char h[header_size];
  std::shared_lock r(rw_);
  return ::pread(fd_, h, header_size, static_cast<off_t>(p->offset)) ==
             static_cast<ssize_t>(header_size) &&
         header_matches(h, *p);
}

void body_arena::release(std::string_view id) {
  auto p = parse_id(id);
  if (!p) return;
  std::lock_guard lock(mu_);
  add_free(p->offset, extent_of(p->length));
  if (tail_free(free_, prepared_) > opt_.spare + 4 * opt_.chunk) cv_.notify_one();
}

body_arena::usage body_arena::stats() const {
  std::lock_guard lock(mu_);
  return {prepared_, free_total_, by_writeback_, takes_bodies_};
}

void body_arena::wait_prepared() {
  if (!takes_bodies_) return;
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] {
    const auto tail = tail_free(free_, prepared_);
    return stop_ || !wanted_ ||
           (!preparing_ && tail >= opt_.spare && tail <= opt_.spare + 4 * opt_.chunk) || backoff_;
  });
}

bool body_arena::prepare_one(std::uint64_t from, std::uint64_t len) {
  // Room first: the arena never takes the space that mail, retries and expunges need.
  auto room = [&](std::uint64_t more) {
    struct statvfs vfs {};
    return ::fstatvfs(fd_, &vfs) == 0 &&
           static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize >= opt_.min_free + more;
  };
  if (!room(len)) return false;
  // Zeros written (not fallocate: its unwritten extents would need metadata at the first
  // write of a body), then flushed with the size: from here on a body's write is data only.
  // In pieces, each written out before the next: a commit's flush meanwhile waits behind one
  // piece in the device's queue, not behind the whole chunk.
  static const std::vector<char> zeros(256u << 10, '\0');
  std::uint64_t done = 0;
  while (done < len) {
    // Mail may be filling the disk meanwhile: stop (and give the space back) rather than
    // take what its deliveries need.
    if (done > 0 && !room(0)) break;
    const auto n = std::min<std::uint64_t>(zeros.size(), len - done);
    ssize_t r = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(from + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    (void)::sync_file_range(fd_, static_cast<off_t>(from + done), r,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
    done += static_cast<std::uint64_t>(r);
  }
  if (done < len || ::fdatasync(fd_) != 0) {
    (void)::ftruncate(fd_, static_cast<off_t>(from)); // give back what was allocated
    return false;
  }
  return true;
}

void body_arena::prepare_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto tail = tail_free(free_, prepared_);
    const bool grow = wanted_ && tail < opt_.spare;
    const bool trim = tail > opt_.spare + 4 * opt_.chunk;
    if (stop_) return;
    if (!grow && !trim) {
      backoff_ = false;
      idle_.notify_all();
      cv_.wait(lock);
      continue;
    }
    if (trim) {
      // Much free space at the end (mail deleted): give the file system back all but the
      // spare. No body is there, and the preparing thread is the only one to move the end.
      const std::uint64_t keep_end = prepared_ - tail + opt_.spare;
      if (::ftruncate(fd_, static_cast<off_t>(keep_end)) == 0) {
        auto last = std::prev(free_.end());
        sizes_.erase({last->second, last->first});
        free_total_ -= last->second;
        free_.erase(last);
        prepared_ = keep_end;
        add_free(keep_end - opt_.spare, opt_.spare);
      }
      continue;
    }
    const std::uint64_t from = prepared_;
    preparing_ = true;
    lock.unlock();
    const bool ok = prepare_one(from, opt_.chunk);
    lock.lock();
    preparing_ = false;
    if (ok) {
      prepared_ = from + opt_.chunk;
      add_free(from, opt_.chunk);
      continue;
    }
    // Short of space or failing: bodies stay in the database meanwhile; try again later.
    backoff_ = true;
    idle_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
  }
}

} // namespace mailkit::store::detail
