// SPDX-License-Identifier: Apache-2.0
/// @file authenticate.hpp
/// Sender authentication of one received message in a single call: SPF on the envelope
/// (RFC 7208), DKIM verification of every signature (RFC 6376), DMARC on the From domain(s)
/// (RFC 7489) with those results, and the Authentication-Results field that reports all three
/// (RFC 8601). This is what an SMTP server calls at the end of DATA; it is also usable offline on
/// a stored message when the envelope (client IP, HELO, MAIL FROM) is known.
///
/// The SPF identity is MAIL FROM, or the HELO name when the reverse-path is null (RFC 7208 §2.4;
/// reported as smtp.helo). DMARC receives the SPF result with the domain SPF checked, and each
/// signature's d= with its result; the From domains come from every From field of the message
/// (RFC 7489 §6.6.1: none gives dmarc=none; several distinct domains are each checked and the
/// strictest failing policy applies).
///
/// **Standards**: RFC 7208 §2.3, §2.4; RFC 6376 §6; RFC 7489 §6.6.1-§6.6.4; RFC 8601 §2.2,
/// §2.7.1, §2.7.2, §5 (authserv-id).
/// **Security**: everything here is untrusted input: the message, the envelope and the DNS data
/// the sender's domains publish. DNS work is bounded by each module's limits (SPF: 10 terms and
/// 2 void lookups; DKIM: max_signatures key queries; DMARC: 5 questions per distinct From
/// domain). The message is read, never changed; the returned field is for the caller to prepend
/// after removing any Authentication-Results fields carrying its own authserv-id (RFC 8601 §5).
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/dkim/verifier.hpp>
#include <mailkit/dmarc/check.hpp>
#include <mailkit/dns/resolver.hpp>
#include <mailkit/mime/message.hpp>
#include <mailkit/spf/check_host.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dmarc {

/// Policy knobs; the defaults are what a receiving MTA wants.
struct authenticate_options {
  spf::limits spf_limits;    ///< RFC 7208 §4.6.4 limits
  dkim::verify_options dkim; ///< key sizes, rsa-sha1, clock skew (its clock is replaced by
                             ///< authenticate_params::clk when that is set)
  /// pct sampling (RFC 7489 §6.6.4): fixed draw in [0, 100) or a seed; random when both unset.
  std::optional<unsigned> sample;
  std::optional<std::uint32_t> seed;
};

/// The envelope and context of one received message.
struct authenticate_params {
  spf::ip_address ip;         ///< the SMTP client's address
  std::string helo;           ///< EHLO/HELO argument as given
  std::string mail_from;      ///< MAIL FROM reverse-path without angle brackets; "" for <>
  std::string authserv_id;    ///< this host's authserv-id (RFC 8601 §2.5), e.g. "mx.example.org"
  const clock* clk = nullptr; ///< "now" for DKIM x=/t= and SPF %{t}; default_clock() when null
  authenticate_options options;
};

/// Everything the checks found.
struct authentication {
  spf::check_result spf;                    ///< SPF on MAIL FROM (or HELO for a null path)
  spf::check_params spf_params;             ///< what SPF checked (identity, sender, domain)
  std::vector<dkim::signature_result> dkim; ///< one per DKIM-Signature field, topmost first
  check_result dmarc;                       ///< DMARC for the From domain(s)
  std::vector<std::string> from_domains;    ///< the From domains found, lower case, distinct
  std::size_t from_fields = 0;              ///< number of From fields (RFC 5322 says exactly 1)
  /// The complete field, ready to prepend: "Authentication-Results: <authserv-id>;\r\n\tspf=...;
  /// \r\n\tdkim=...;\r\n\tdmarc=...\r\n" (folded, ending in CRLF).
  std::string header;
};

/// Authenticate a message given as bytes (header and body, CRLF or LF line endings). Blocking:
/// the resolver's handlers must run inline or on another thread (resolver.hpp).
/// @param resolver answers every SPF, DKIM key and DMARC question
/// @param message the message as received (without our own trace fields)
/// @param params envelope, authserv-id, clock and options
/// @return the three results and the Authentication-Results field
[[nodiscard]] authentication authenticate(dns::resolver& resolver, std::string_view message,
                                          const authenticate_params& params);

/// The same for a message already parsed (its raw bytes are verified; its From fields are read
/// from the index).
[[nodiscard]] authentication authenticate(dns::resolver& resolver, const mime::message& message,
                                          const authenticate_params& params);

/// Asynchronous: SPF and DKIM run concurrently, then DMARC. Completion `void(authentication)`,
/// called exactly once, on the thread where the resolver completes the last query (inline when
/// every answer is inline, as with static_resolver). `resolver` and `params.clk` (when set) must
/// outlive the operation; the message is owned by the operation.
void async_authenticate(dns::resolver& resolver, std::string message, authenticate_params params,
                        std::function<void(authentication)> handler);

/// The From domains of a message (RFC 7489 §6.6.1): the domain of every mailbox in every From
/// field of the top-level header, lower case, without duplicates. `fields` receives the number of
/// From fields. Mailboxes without a domain, or with a domain literal, give none.
[[nodiscard]] std::vector<std::string> from_domains(const mime::message& message,
                                                    std::size_t* fields = nullptr);

/// "Authentication-Results: <authserv-id>;\r\n\t<spf>;\r\n\t<dkim>...;\r\n\t<dmarc>\r\n" for the
/// results in `a` (its `header` member is ignored). The authserv-id is quoted when it is not a
/// plain token (RFC 8601 §2.2).
[[nodiscard]] std::string authentication_results(std::string_view authserv_id,
                                                 const authentication& a);

} // namespace mailkit::dmarc
