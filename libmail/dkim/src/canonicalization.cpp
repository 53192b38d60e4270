// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/canonicalization.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

namespace mailkit::dkim {

// ---------------------------------------------------------------------------------------------
// Header canonicalization (RFC 6376 §3.4.1, §3.4.2)

void canonicalize_header(std::string_view field, canonicalization c, std::string& out, bool crlf) {
  // Strip the final line ending; it is written back as CRLF below.
  if (!field.empty() && field.back() == '\n') field.remove_suffix(1);
  if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
  // Canonical forms are never longer than the field plus CRLF and one CR per bare LF; write
  // through a pointer into space reserved once, then trim.
  const std::size_t base = out.size();
  out.resize(base + 2 * field.size() + 2);
  char* w = out.data() + base;
  if (c == canonicalization::simple) {
    // RFC 6376 §3.4.1: "MUST NOT change the header field in any way". Bare LF inside a folded
    // field is read as the CRLF it stood for on the wire.
    for (std::size_t i = 0; i < field.size(); ++i) {
      if (field[i] == '\n' && (i == 0 || field[i - 1] != '\r')) *w++ = '\r';
      *w++ = field[i];
    }
  } else {
    const std::size_t colon = field.find(':');
    std::string_view name = field.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : field.substr(colon + 1);
    // RFC 6376 §3.4.2: lower-case the name, delete WSP before the colon.
    name = trim_right(name);
    for (char ch : name)
      *w++ = ascii_lower(ch);
    *w++ = ':';
    // Unfold (delete CRLF), compress WSP runs to one SP, delete WSP at the end of the value and
    // after the colon.
    // Bytes above SP are copied in runs (one test per byte); the rest decide one at a time.
    bool pending_sp = false;
    bool any = false;
    const char* v = value.data();
    const char* const e = v + value.size();
    while (v < e) {
      const char ch = *v++;
      if (ch == '\r' || ch == '\n') continue;
      if (ch == ' ' || ch == '\t') {
        pending_sp = any;
        continue;
      }
      if (pending_sp) *w++ = ' ';
      pending_sp = false;
      *w++ = ch;
      any = true;
      while (v<e&& static_cast<unsigned char>(*v)> 0x20)
        *w++ = *v++;
    }
  }
  if (crlf) {
    *w++ = '\r';
    *w++ = '\n';
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
}

// ---------------------------------------------------------------------------------------------
// digest

namespace {

const EVP_MD* md_for(hash_algorithm h) {
  // OpenSSL 3: an explicitly fetched method skips the per-init implicit fetch (and its lock);
  // fetched once per process and kept.
  static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (h == hash_algorithm::sha1) return sha1 ? sha1 : EVP_sha1();
  return sha256 ? sha256 : EVP_sha256();
}

// A few finished contexts per thread, reused: signing and verifying a message take two or
// three digests each, and a reused EVP_MD_CTX saves its allocation (measured: 196 ns for new +
// init + free vs 129 ns for init on a kept context, per digest of 32 bytes).
struct ctx_pool {
  static constexpr std::size_t size = 4;
  EVP_MD_CTX* free[size] = {};
  std::size_t count = 0;
  ~ctx_pool() {
    for (std::size_t i = 0; i < count; ++i)
      EVP_MD_CTX_free(free[i]);
  }
};
thread_local ctx_pool pool;

} // namespace

digest::digest(hash_algorithm h) {
  EVP_MD_CTX* ctx = pool.count > 0 ? pool.free[--pool.count] : EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, md_for(h), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::bad_alloc();
  }
  ctx_ = ctx;
}
digest::~digest() {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  if (ctx == nullptr) return;
  if (pool.count < ctx_pool::size) {
    pool.free[pool.count++] = ctx; // re-initialized (state wiped) by the next EVP_DigestInit_ex
  } else {
    EVP_MD_CTX_free(ctx);
  }
}
digest::digest(digest&& o) noexcept : ctx_(o.ctx_) {
  o.ctx_ = nullptr;
}
digest& digest::operator=(digest&& o) noexcept {
  std::swap(ctx_, o.ctx_);
  return *this;
}
void digest::update(const void* data, std::size_t n) {
  if (n != 0) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
}
std::string digest::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

// ---------------------------------------------------------------------------------------------
// Body canonicalization (RFC 6376 §3.4.3 simple, §3.4.4 relaxed), streaming.
//
// Canonical output is produced in order by two paths. The byte path `step()` is a small state
// machine: line endings are withheld (they may be trailing empty lines, which both algorithms
// delete) until content follows; relaxed also withholds a WSP run until it knows whether the
// line ends (delete) or continues (one SP). The run path hashes bytes straight from the input
// when canonicalization cannot change them: once the state machine has just emitted a content
// byte, everything up to the next "dirty" byte passes through unchanged. Dirty bytes are a bare
// LF (becomes CRLF) for both, and for relaxed also HTAB (becomes SP) and a SP followed by WSP,
// CR or LF (a run to compress or trailing whitespace). Each chunk's tail of line-ending (and, for
// relaxed, WSP) bytes always takes the byte path, so a run never ends in the middle of what the
// state machine must see whole.

namespace {

using v16 = signed char __attribute__((vector_size(16)));

inline v16 load16(const char* p) noexcept {
  v16 v;
  std::memcpy(&v, p, 16);
  return v;
}
inline bool any(v16 m) noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, &m, 8);
  std::memcpy(&b, reinterpret_cast<const char*>(&m) + 8, 8);
  return (a | b) != 0;
}

inline bool dirty_simple(const char* p, std::size_t i) noexcept {
  return p[i] == '\n' && p[i - 1] != '\r';
}
inline bool dirty_relaxed(const char* p, std::size_t i) noexcept {
  const char c = p[i];
  if (c == '\t') return true;
  if (c == '\n') return p[i - 1] != '\r';
  if (c == ' ') {
    const char n = p[i + 1];
    return n == ' ' || n == '\t' || n == '\r' || n == '\n';
  }
  return false;
}

// First dirty index in [from, end); requires from >= 1 and, for relaxed, p[end] readable or the
// byte before end being content (the caller guarantees the latter). Portable byte loop.
std::size_t scan_portable(const char* p, std::size_t from, std::size_t end, bool relaxed) {
  if (relaxed) {
    for (std::size_t i = from; i < end; ++i)
      if (dirty_relaxed(p, i)) return i;
  } else {
    for (std::size_t i = from; i < end; ++i)
      if (dirty_simple(p, i)) return i;
  }
  return end;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(MAILKIT_PORTABLE)
// x86-64 with AVX2 (chosen at run time): simple canonicalization hashes almost every byte straight
// from the buffer, so the scan is the only cost it adds to SHA-256; halving its instructions is
// what brings simple to within a few percent of raw SHA-256 (benchmarks/dkim_bench.sh).
#define MAILKIT_DKIM_SCAN_AVX2 1
using v32 = signed char __attribute__((vector_size(32)));

// The scan_vector test on 32-byte vectors, 128 bytes per test. Returns the start of the first
// 128-byte block that holds a dirty byte (or where too few bytes remain; relaxed reads one byte
// past each block for the SP lookahead, so it stays one byte short of `end`); the byte loop then
// pins the index. The upper halves of the YMM registers are cleared before returning, as the x86
// ABI expects: without it every SSE instruction after this call pays the AVX-SSE transition
// penalty (measured: relaxed fell from 75% to 40% of raw SHA-256).
template <bool Relaxed>
__attribute__((target("avx2"))) std::size_t scan_avx2_blocks(const char* p, std::size_t from,
                                                             std::size_t end) {
  std::size_t i = from;
  const v32 lf = v32{} + '\n';
  const v32 cr = v32{} + '\r';
  const v32 tab = v32{} + '\t';
  const v32 sp = v32{} + ' ';
  constexpr std::size_t need = Relaxed ? 129 : 128;
  while (i + need <= end) {
    v32 m = {};
    for (int k = 0; k < 128; k += 32) {
      v32 cur, prev;
      std::memcpy(&cur, p + i + k, 32);
      std::memcpy(&prev, p + i + k - 1, 32);
      m |= (cur == lf) & (prev != cr);
      if constexpr (Relaxed) {
        v32 next;
        std::memcpy(&next, p + i + k + 1, 32);
        const v32 ws_or_eol = (next == sp) | (next == tab) | (next == cr) | (next == lf);
        m |= (cur == tab) | ((cur == sp) & ws_or_eol);
      }
    }
    std::uint64_t w[4];
    std::memcpy(w, &m, 32);
    if ((w[0] | w[1] | w[2] | w[3]) != 0) break;
    i += 128;
  }
  __builtin_ia32_vzeroupper();
  return i;
}

// No dirty byte before the block the vector loop stopped at, so the byte loop finds the first
// one within 128 bytes (or scans the short tail).
std::size_t scan_avx2(const char* p, std::size_t from, std::size_t end, bool relaxed) {
  const std::size_t i =
      relaxed ? scan_avx2_blocks<true>(p, from, end) : scan_avx2_blocks<false>(p, from, end);
  return scan_portable(p, i, end, relaxed);
}

bool have_avx2() noexcept {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

// The same with 16-byte vectors, 64 bytes per test; the byte loop pins the exact index.
std::size_t scan_vector(const char* p, std::size_t from, std::size_t end, bool relaxed) {
  std::size_t i = from;
  const v16 lf = {'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                  '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n'};
  const v16 cr = lf + 3;
  const v16 tab = lf - 1;
  const v16 sp = lf + 22;
  if (!relaxed) {
    while (i + 64 <= end) {
      v16 m = {};
      for (int k = 0; k < 64; k += 16) {
        const v16 cur = load16(p + i + k);
        const v16 prev = load16(p + i + k - 1);
        m |= (cur == lf) & (prev != cr);
      }
      if (any(m)) return scan_portable(p, i, i + 64, false);
      i += 64;
    }
    return scan_portable(p, i, end, false);
  }
  // relaxed reads p[i + 16] for the SP lookahead: stay one byte short of `end`.
  while (i + 65 <= end) {
    v16 m = {};
    for (int k = 0; k < 64; k += 16) {
      const v16 cur = load16(p + i + k);
      const v16 prev = load16(p + i + k - 1);
      const v16 next = load16(p + i + k + 1);
      const v16 ws_or_eol = (next == sp) | (next == tab) | (next == cr) | (next == lf);
      m |= (cur == tab) | ((cur == lf) & (prev != cr)) | ((cur == sp) & ws_or_eol);
    }
    if (any(m)) return scan_portable(p, i, i + 64, true);
    i += 64;
  }
  return scan_portable(p, i, end, true);
}

constexpr char crlf_block[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
                              "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

} // namespace

body_hasher::body_hasher(canonicalization c, hash_algorithm h, std::optional<std::uint64_t> limit)
    : digest_(h), c_(c), limit_(limit) {}

void body_hasher::emit(const char* p, std::size_t n) {
  total_ += n;
  if (limit_) {
    // RFC 6376 §3.5 l=: only the first l octets of the canonical body are hashed.
    const std::uint64_t room = *limit_ - hashed_;
    if (n > room) n = static_cast<std::size_t>(room);
  }
  hashed_ += n;
  digest_.update(p, n);
}

void body_hasher::flush_buf() {
  if (buf_len_ != 0) {
    emit(buf_, buf_len_);
    buf_len_ = 0;
  }
}

void body_hasher::out_byte(char c) {
  if (buf_len_ == sizeof buf_) flush_buf();
  buf_[buf_len_++] = c;
}

void body_hasher::flush_withheld() {
  if (withheld_ == 0) return;
  flush_buf();
  while (withheld_ > 0) {
    const std::uint64_t k = std::min<std::uint64_t>(withheld_, (sizeof crlf_block - 1) / 2);
    emit(crlf_block, static_cast<std::size_t>(k * 2));
    withheld_ -= k;
  }
}

// One byte through the state machine; true when it was emitted as line content.
bool body_hasher::step(char c) {
  if (c == '\n') {
    // A line ends (CRLF, or a bare LF read as CRLF). Relaxed (§3.4.4 a): WSP at the end of a
    // line is deleted. Both (§3.4.3, §3.4.4 b): empty lines at the end are deleted, so the line
    // ending waits until content follows.
    pending_cr_ = false;
    pending_wsp_ = false;
    ++withheld_;
    return false;
  }
  if (pending_cr_) {
    // A CR not followed by LF is ordinary content.
    pending_cr_ = false;
    flush_withheld();
    if (pending_wsp_) out_byte(' ');
    pending_wsp_ = false;
    out_byte('\r');
    content_ = true;
  }
  if (c == '\r') {
    pending_cr_ = true;
    return false;
  }
  if (c_ == canonicalization::relaxed && (c == ' ' || c == '\t')) {
    // §3.4.4 b: "Reduce all sequences of WSP within a line to a single SP character."
    pending_wsp_ = true;
    return false;
  }
  flush_withheld();
  if (pending_wsp_) out_byte(' ');
  pending_wsp_ = false;
  out_byte(c);
  content_ = true;
  return true;
}

void body_hasher::update(std::string_view chunk) {
  const char* p = chunk.data();
  const std::size_t n = chunk.size();
  const bool relaxed = c_ == canonicalization::relaxed;
  // The tail: line-ending bytes (and WSP for relaxed) at the end of the chunk.
  std::size_t k = n;
  if (relaxed) {
    while (k > 0 && (p[k - 1] == '\r' || p[k - 1] == '\n' || p[k - 1] == ' ' || p[k - 1] == '\t'))
      --k;
  } else {
    while (k > 0 && (p[k - 1] == '\r' || p[k - 1] == '\n'))
      --k;
  }
  std::size_t i = 0;
  while (i < k) {
    // Byte path until a content byte has been emitted: then the state is clean.
    bool content = false;
    while (i < k && !content)
      content = step(p[i++]);
    if (i >= k) break;
    // Run path, in windows of 16 KiB so that the bytes scanned are still in L1/L2 when hashed.
    for (;;) {
      const std::size_t window_end = std::min(k, i + 16384);
      std::size_t d;
      if (portable_) {
        d = scan_portable(p, i, window_end, relaxed);
#ifdef MAILKIT_DKIM_SCAN_AVX2
      } else if (have_avx2()) {
        d = scan_avx2(p, i, window_end, relaxed);
#endif
      } else {
        d = scan_vector(p, i, window_end, relaxed);
      }
      if (d > i) {
        flush_buf();
        emit(p + i, d - i);
        i = d;
      }
      if (d < window_end || d >= k) break; // a dirty byte, or the end of the prefix
    }
  }
  for (; i < n; ++i)
    step(p[i]);
}

std::string body_hasher::finish() {
  if (pending_cr_) {
    pending_cr_ = false;
    flush_withheld();
    if (pending_wsp_) out_byte(' ');
    pending_wsp_ = false;
    out_byte('\r');
    content_ = true;
  }
  if (c_ == canonicalization::simple) {
    // §3.4.3: trailing empty lines deleted; "If there is no body or no trailing CRLF on the
    // message body, a CRLF is added." Either way exactly one CRLF ends the canonical body.
    out_byte('\r');
    out_byte('\n');
  } else {
    // §3.4.4: a body of only empty lines (or nothing) is empty; otherwise it ends in one CRLF.
    // A WSP run at the very end without a line ending is kept as one SP, as dkimpy and
    // Mail::DKIM do (the RFC adds the CRLF after deleting line-end whitespace).
    if (pending_wsp_ && withheld_ == 0) {
      out_byte(' ');
      content_ = true;
    }
    if (content_) {
      out_byte('\r');
      out_byte('\n');
    }
  }
  withheld_ = 0;
  flush_buf();
  return digest_.finish();
}

std::string canonicalize_body(std::string_view body, canonicalization c) {
  // Reference implementation by the byte path alone, used by tests to cross-check the runs.
  std::string out;
  std::size_t withheld = 0;
  bool content = false, pend_wsp = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    char ch = body[i];
    if (ch == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
    if (ch == '\n') {
      ++withheld;
      pend_wsp = false;
      continue;
    }
    if (c == canonicalization::relaxed && (ch == ' ' || ch == '\t')) {
      pend_wsp = true;
      continue;
    }
    for (; withheld > 0; --withheld)
      out += "\r\n";
    if (pend_wsp) out.push_back(' ');
    pend_wsp = false;
    out.push_back(ch);
    content = true;
  }
  if (c == canonicalization::simple) {
    out += "\r\n";
  } else {
    if (pend_wsp && withheld == 0) {
      out.push_back(' ');
      content = true;
    }
    if (content) out += "\r\n";
  }
  return out;
}

} // namespace mailkit::dkim
