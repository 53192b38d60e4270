// SPDX-License-Identifier: Apache-2.0
/// @file verifier.hpp
/// Verification (RFC 6376 §6) of every DKIM-Signature of a message, each with its own result.
///
/// The verifier is sans-I/O: give it the header section, ask it which key records it needs
/// (`key_queries()`), hand it the DNS answers (`provide_key`), feed the body in chunks, and
/// `finish()`. Nothing is fetched behind the caller's back, so an SMTP session can start the DNS
/// queries as soon as the header has arrived and hash the body while they run. `verify()` and
/// `async_verify()` drive it with a dns::resolver.
///
/// Policy choices (each configurable in verify_options): RSA keys under 1024 bits are a
/// permerror (RFC 8301 §3.2), as are keys over 4096 bits (denial of service); rsa-sha1 is a
/// permerror unless allowed, and then passes flagged weak (RFC 8301 §3.1); x= and future t= are
/// judged with a clock skew allowance; a DNS failure is temperror, never pass, unless the body
/// hash already failed (nothing a retry could change: fail).
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/dkim/canonicalization.hpp>
#include <mailkit/dkim/result.hpp>
#include <mailkit/dkim/signature.hpp>
#include <mailkit/dns/resolver.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

struct verify_options {
  const clock* clk = nullptr;           ///< default: default_clock()
  std::chrono::seconds clock_skew{300}; ///< allowance for x= and future t=
  bool allow_rsa_sha1 = false;          ///< RFC 8301 §3.1: off
  unsigned min_rsa_bits = 1024;         ///< RFC 8301 §3.2
  unsigned max_rsa_bits = 4096;
  std::size_t max_signatures = 20; ///< further signatures are permerror, no DNS
  std::size_t max_key_records = 4; ///< TXT records tried per selector
};

/// The result of one signature.
struct signature_result {
  dkim::result result = dkim::result::none;
  std::string reason;    ///< why, in words (empty on pass)
  std::string domain;    ///< d= (header.d)
  std::string selector;  ///< s=
  std::string identity;  ///< i= (header.i)
  std::string algorithm; ///< a= as written
  std::string b_prefix;  ///< the first 12 characters of b= (header.b, RFC 6008)
  unsigned key_bits = 0; ///< RSA modulus size / 256 for Ed25519, when the key was read
  bool weak = false;     ///< passed with rsa-sha1 (RFC 8301)
  bool testing = false;  ///< the key record has t=y
  std::optional<std::uint64_t> body_length; ///< l= when present
  std::uint64_t unsigned_body_octets = 0;   ///< canonical body octets beyond l= (not covered)
  std::size_t field_index = 0;              ///< which DKIM-Signature field (0 = topmost)
};

/// A DNS question the verifier needs answered: TXT at `name`.
struct key_query {
  std::string name;
};

class verifier {
public:
  explicit verifier(verify_options options = {});
  ~verifier();
  verifier(verifier&&) noexcept;
  verifier& operator=(verifier&&) noexcept;

  /// Give the header section (everything before the body; the empty line optional). Signatures
  /// are parsed here. The bytes are copied (headers are small).
  void set_header(std::string_view header_block);
  /// Convenience: set_header + update_body for a whole message in memory.
  void set_message(std::string_view message);

  /// The distinct key records still needed (TXT at selector._domainkey.domain).
  [[nodiscard]] std::vector<key_query> key_queries() const;
  /// The answer to one of those questions (an error means temperror for its signatures).
  void provide_key(std::string_view name, const dns::query_result& answer);
  /// The answer as TXT record texts (strings already concatenated), for callers with their own
  /// DNS. `records` empty means NXDOMAIN/NODATA.
  void provide_key_txt(std::string_view name, const std::vector<std::string>& records);

  /// The next chunk of the body.
  void update_body(std::string_view chunk);
  /// Evaluate every signature. Call once, after the body and the key answers.
  [[nodiscard]] std::vector<signature_result> finish();

  /// Number of DKIM-Signature fields found.
  [[nodiscard]] std::size_t signature_count() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Verify a message with a resolver, blocking until every key query has been answered (the
/// resolver's handlers must run elsewhere or inline, as dns::query requires).
[[nodiscard]] std::vector<signature_result> verify(std::string_view message, dns::resolver& r,
                                                   const verify_options& options = {});

/// Asynchronous: queries run concurrently on the resolver; the handler is called once, from the
/// completion of the last query (or inline when none is needed), with every result.
/// Completion signature: void(std::vector<signature_result>).
void async_verify(std::string message, dns::resolver& r, verify_options options,
                  std::function<void(std::vector<signature_result>)> handler);

/// The best result for a message: pass if any passed, else the most significant
/// (fail > permerror > temperror ...) and none without signatures.
[[nodiscard]] result summarize(const std::vector<signature_result>& results) noexcept;

} // namespace mailkit::dkim
