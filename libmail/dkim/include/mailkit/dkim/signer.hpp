// SPDX-License-Identifier: Apache-2.0
/// @file signer.hpp
/// Signing (RFC 6376 §5): header selection with over-signing, body hash, DKIM-Signature field.
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/dkim/canonicalization.hpp>
#include <mailkit/dkim/keys.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dkim {

/// The header fields signed by default: the ones a reader sees and the MIME structure.
/// Each is over-signed: listed once more than it occurs, so that another instance cannot be
/// added later without breaking the signature (RFC 6376 §8.15).
[[nodiscard]] const std::vector<std::string>& default_signed_headers();

struct sign_options {
  std::string domain;                     ///< d=
  std::string selector;                   ///< s=
  algorithm algo = algorithm::rsa_sha256; ///< must match the key (rsa_sha1 is refused)
  canonicalization header_c = canonicalization::relaxed;
  canonicalization body_c = canonicalization::relaxed;
  /// Header names to sign; empty means default_signed_headers(). From is always signed.
  std::vector<std::string> headers;
  bool oversign = true;     ///< add one extra instance of every name (see above)
  bool body_length = false; ///< write l= (off by default: l= lets anyone append to the body)
  std::string identity;     ///< i= (empty: not written, meaning "@" + domain)
  bool timestamp = true;    ///< write t= (the clock's now, or `signing_time`)
  std::optional<std::chrono::system_clock::time_point> signing_time;
  std::optional<std::chrono::seconds> expire_after; ///< write x= = t + this
  const clock* clk = nullptr;                       ///< default: default_clock()
};

/// Sign a whole message. @return the complete "DKIM-Signature: ...\r\n" field, folded at 78
/// columns, to be prepended to the message.
[[nodiscard]] expected<std::string> sign(std::string_view message, const private_key& key,
                                         const sign_options& options);

/// Sign when the body hash was computed while the body streamed by (body_hasher with the
/// options' body canonicalization, SHA-256). `header_block` is the header section.
[[nodiscard]] expected<std::string> sign_header(std::string_view header_block,
                                                std::string_view body_hash,
                                                std::uint64_t body_length, const private_key& key,
                                                const sign_options& options);

} // namespace mailkit::dkim
