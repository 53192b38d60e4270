// SPDX-License-Identifier: Apache-2.0
/// @file canonicalization.hpp
/// Header and body canonicalization (RFC 6376 §3.4) and the streaming body hasher.
///
/// The body hasher is fed the body in chunks of any size, as SMTP DATA or a file read delivers
/// it, and never keeps a copy: runs of bytes that canonicalization leaves unchanged go straight
/// from the caller's buffer to the digest; only the few bytes around a change (a whitespace run,
/// a bare LF, the trailing empty lines) pass through a small state machine. The scan for such
/// bytes uses 16-byte vectors (GCC/Clang vector extensions, so x86-64 and AArch64 alike) with a
/// byte loop as its portable twin. Bare LF line endings are read as CRLF (as Mail::DKIM and
/// OpenDKIM do), so a message stored with LF verifies like its wire form.
#pragma once

#include <mailkit/core/simd.hpp>
#include <mailkit/dkim/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mailkit::dkim {

/// Append the canonical form of one header field (name, colon, value) to `out`, with CRLF.
/// `field` is the whole raw field (folded lines included, final line ending optional).
/// simple (§3.4.1): unchanged (bare LF made CRLF); relaxed (§3.4.2): name lower-cased, unfolded,
/// WSP runs made one SP, WSP around the colon and at the end removed.
void canonicalize_header(std::string_view field, canonicalization c, std::string& out,
                         bool crlf = true);

/// An incremental message digest (OpenSSL EVP).
class digest {
public:
  explicit digest(hash_algorithm h);
  ~digest();
  digest(digest&&) noexcept;
  digest& operator=(digest&&) noexcept;
  digest(const digest&) = delete;
  digest& operator=(const digest&) = delete;
  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// The digest bytes; the object can not be updated afterwards.
  [[nodiscard]] std::string finish();

private:
  void* ctx_ = nullptr; // EVP_MD_CTX
};

/// Streaming body canonicalizer and hasher (RFC 6376 §3.4.3, §3.4.4, §3.7 body hash).
class body_hasher {
public:
  /// @param limit the l= value: hash only the first `limit` canonical octets (§3.5 l=).
  body_hasher(canonicalization c, hash_algorithm h, std::optional<std::uint64_t> limit = {});

  /// Feed the next chunk of the body (the bytes after the empty line ending the header).
  void update(std::string_view chunk);
  /// End of body: the digest of the canonical body (or of its first `limit` octets).
  [[nodiscard]] std::string finish();

  /// Canonical body octets produced so far (all of them, also those past the limit).
  [[nodiscard]] std::uint64_t canonical_length() const noexcept { return total_; }
  /// Octets actually hashed (≤ limit).
  [[nodiscard]] std::uint64_t hashed_length() const noexcept { return hashed_; }

  /// Testing hook: scan with the byte loop instead of vectors (both must give the same digest).
  void force_portable_scan(bool on) noexcept { portable_ = on; }

private:
  bool step(char c);
  void emit(const char* p, std::size_t n);
  void flush_buf();
  void out_byte(char c);
  void flush_withheld();

  digest digest_;
  canonicalization c_;
  std::optional<std::uint64_t> limit_;
  std::uint64_t total_ = 0;
  std::uint64_t hashed_ = 0;
  std::uint64_t withheld_ = 0; // line endings not yet emitted (may be trailing empty lines)
  bool pending_cr_ = false;    // a CR whose LF may be in the next chunk
  bool pending_wsp_ = false;   // relaxed: a WSP run not yet emitted
  bool content_ = false;       // some non-empty line content was emitted
  bool portable_ = mailkit::simd::portable();
  std::size_t buf_len_ = 0;
  char buf_[256];
};

/// One-shot canonical body (tests, small bodies).
[[nodiscard]] std::string canonicalize_body(std::string_view body, canonicalization c);

} // namespace mailkit::dkim
