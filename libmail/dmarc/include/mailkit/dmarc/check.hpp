// SPDX-License-Identifier: Apache-2.0
/// @file check.hpp
/// DMARC evaluation of one message (RFC 7489 §6.6): policy discovery at _dmarc.<From domain>,
/// then at _dmarc.<organizational domain> (§6.6.3); identifier alignment of the SPF and DKIM
/// results with the From domain, strict or relaxed (§3.1); the applicable policy (p, sp, or
/// RFC 9091 np for a non-existent subdomain); pct sampling (§6.6.4, seedable); and the
/// Authentication-Results "dmarc" method (§11.2). As with SPF, the core is a sans-I/O
/// `evaluator`; `check` (blocking) and `async_check` drive it.
///
/// Inputs are results, not messages: the caller passes the From domain(s) (§6.6.1: a message
/// with no From domain, or several, is handled by `check_from_domains`), the SPF result and its
/// domain, and each DKIM signature's d= with its result.
///
/// **Standards**: RFC 7489 §3.1, §3.2, §6.3, §6.6.1-§6.6.4, §11.2; RFC 9091 §4 (np=);
/// RFC 8601 (Authentication-Results).
/// **Security**: reads DNS data chosen by the sender's domain; at most 5 DNS questions per
/// From domain. The PSL is read from disk once per process.
#pragma once

#include <mailkit/dmarc/org_domain.hpp>
#include <mailkit/dmarc/record.hpp>
#include <mailkit/dns/resolver.hpp>
#include <mailkit/spf/check_host.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mailkit::dmarc {

/// RFC 7489 §11.2 result values.
enum class result : std::uint8_t { none, pass, fail, temperror, permerror };
[[nodiscard]] std::string_view to_string(result r) noexcept;

/// A DKIM verification outcome as RFC 8601 names it ("pass", "fail", "neutral", "policy",
/// "temperror", "permerror", "none"). Only pass authenticates; temperror matters for the
/// DMARC temperror rule.
enum class auth_result : std::uint8_t { none, pass, fail, neutral, policy, temperror, permerror };
[[nodiscard]] std::optional<auth_result> parse_auth_result(std::string_view s) noexcept;

struct dkim_input {
  std::string domain; ///< the signature's d=
  auth_result result = auth_result::none;
};

struct check_params {
  std::string from_domain; ///< RFC5322.From domain
  spf::result spf_result = spf::result::none;
  std::string spf_domain; ///< the domain SPF checked (MAIL FROM, or HELO for a null path)
  std::vector<dkim_input> dkim;
  /// pct sampling (RFC 7489 §6.6.4): when set, this number in [0, 100) is the draw; otherwise
  /// a draw from std::mt19937 seeded with `seed` (or std::random_device when unset).
  std::optional<unsigned> sample;
  std::optional<std::uint32_t> seed;
};

struct check_result {
  dmarc::result result = dmarc::result::none;
  std::string from_domain;
  std::string org_domain;    ///< organizational domain of from_domain (always set)
  std::optional<record> rec; ///< the record that applied; nullopt without a usable one
  std::string record_domain; ///< where it was found: from_domain or org_domain
  /// The published policy for this From domain: p, or sp for a subdomain, or np for a
  /// non-existent subdomain; also on pass; nullopt without a usable record.
  std::optional<dmarc::policy> policy;
  std::string policy_tag; ///< "p", "sp" or "np"
  /// What to do: none on pass or without a policy; on fail the policy, lowered one step when
  /// pct sampling excluded the message (RFC 7489 §6.6.4).
  dmarc::policy disposition = dmarc::policy::none;
  bool sampled_out = false;
  bool spf_aligned = false;  ///< SPF passed and its domain is aligned
  bool dkim_aligned = false; ///< some DKIM signature passed with an aligned d=
  std::string dkim_domain;   ///< the aligned passing d=, when dkim_aligned
  std::string problem;       ///< why none / temperror / permerror
};

/// RFC 7489 §3.1: are `a` and `b` aligned in `mode`? Relaxed compares organizational domains.
[[nodiscard]] bool aligned(std::string_view a, std::string_view b, alignment mode);

/// One DNS question.
struct question {
  std::string name;
  dns::rtype type = dns::rtype::txt;
};

/// The sans-I/O evaluator: `while (auto* q = ev.next()) ev.feed(answer(q));`.
class evaluator {
public:
  explicit evaluator(check_params params);
  ~evaluator();
  evaluator(evaluator&&) noexcept;
  evaluator& operator=(evaluator&&) noexcept;
  [[nodiscard]] const question* next();
  void feed(dns::query_result answer);
  [[nodiscard]] bool done() const noexcept;
  [[nodiscard]] const check_result& result() const noexcept;
  [[nodiscard]] check_result take_result() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Blocking evaluation through dns::query.
[[nodiscard]] check_result check(dns::resolver& resolver, const check_params& params);

/// Asynchronous evaluation. Completion `void(check_result)`, exactly once, on the thread where
/// the resolver completes its last query (inline for static_resolver).
void async_check(dns::resolver& resolver, check_params params,
                 std::function<void(check_result)> handler);

/// RFC 7489 §6.6.1: a message whose From field has several domains is checked for each, and
/// the most strict disposition among those that fail wins; with no From domain at all the
/// result is none with problem "no RFC5322.From domain" (the message is not RFC 5322 valid
/// and the caller may reject it, §6.6.1). `base` supplies SPF, DKIM and sampling.
[[nodiscard]] check_result check_from_domains(dns::resolver& resolver,
                                              const std::vector<std::string>& from_domains,
                                              const check_params& base);

/// check_from_domains, asynchronously: the domains are checked one after the other. Completion
/// `void(check_result)`, exactly once, as for async_check (inline when no domain is usable).
void async_check_from_domains(dns::resolver& resolver, std::vector<std::string> from_domains,
                              check_params base, std::function<void(check_result)> handler);

/// RFC 7489 §11.2 / RFC 8601: "dmarc=fail (p=reject dis=quarantine) header.from=example.com";
/// header.from is quoted when it is not a dot-atom.
[[nodiscard]] std::string authentication_results_part(const check_result& res);

} // namespace mailkit::dmarc
