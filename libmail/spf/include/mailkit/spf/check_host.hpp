// SPDX-License-Identifier: Apache-2.0
/// @file check_host.hpp
/// The check_host() function of RFC 7208 as a sans-I/O `evaluator` that asks DNS questions and
/// consumes their answers, plus two thin drivers: `check_host` (blocking, through dns::query)
/// and `async_check_host` (through resolver::async_query). Also the two ways of reporting a
/// result: Received-SPF (RFC 7208 §9.1) and the "spf" method of Authentication-Results
/// (RFC 8601 §2.7.2).
///
/// **Standards**: RFC 7208 §2.3-§2.6, §4 (check_host), §5 (mechanisms), §6 (modifiers), §7
/// (macros), §9.1; RFC 8601 §2.7.2.
/// **Security**: evaluates records published by the sender's domain: bounded by the 10
/// DNS-querying terms and 2 void lookups of §4.6.4 (configurable in `limits`), 10 MX and 10 PTR
/// names per term, and the DNS message size. No I/O of its own.
#pragma once

#include <mailkit/dns/resolver.hpp>
#include <mailkit/spf/record.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace mailkit::spf {

/// RFC 7208 §2.6 results, in the RFC's words.
enum class result : std::uint8_t { none, neutral, pass, fail, softfail, temperror, permerror };

[[nodiscard]] std::string_view to_string(result r) noexcept;
/// "pass", "fail", ... (lower case, as to_string gives them).
[[nodiscard]] std::optional<result> parse_result_name(std::string_view s) noexcept;

/// The connecting client's address.
using ip_address = std::variant<dns::ipv4, dns::ipv6>;

/// "192.0.2.1", "2001:db8::1"; an IPv4-mapped IPv6 address becomes IPv4 (RFC 7208 §5:
/// "IPv4-mapped IPv6 addresses ... MUST be treated as IPv4").
[[nodiscard]] std::optional<ip_address> parse_ip(std::string_view s);
[[nodiscard]] std::string to_string(const ip_address& ip);

/// Which identity is checked (RFC 7208 §2.3, §2.4).
enum class identity : std::uint8_t { mailfrom, helo };

/// Processing limits (RFC 7208 §4.6.4).
struct limits {
  unsigned dns_terms = 10;   ///< include, a, mx, ptr, exists, redirect
  unsigned void_lookups = 2; ///< terms whose lookup gave NXDOMAIN or no records
  unsigned mx_names = 10;    ///< MX records one "mx" may give (more: permerror)
  unsigned ptr_names = 10;   ///< PTR names one "ptr" or %{p} looks at (the rest ignored)
};

/// The arguments of check_host() and the macro values that are not derived from them.
struct check_params {
  ip_address ip;
  std::string sender;               ///< <sender>: "local@domain" (local "postmaster" when empty)
  std::string domain;               ///< <domain>: where the first record is looked up
  std::string helo;                 ///< HELO/EHLO name (%{h})
  std::string receiver = "unknown"; ///< %{r}: this host's name, for explanations
  std::int64_t timestamp = 0;       ///< %{t}; 0: the current time
  identity id = identity::mailfrom;
  struct limits limits;

  /// The MAIL FROM identity (RFC 7208 §2.4): <sender> = reverse-path, or "postmaster@<helo>"
  /// when the reverse-path is null; <domain> = its domain part.
  static check_params mail_from(ip_address ip, std::string_view reverse_path,
                                std::string_view helo);
  /// The HELO identity (RFC 7208 §2.3): <sender> = "postmaster@<helo>", <domain> = <helo>.
  static check_params helo_identity(ip_address ip, std::string_view helo);
};

/// What check_host() found.
struct check_result {
  spf::result result = spf::result::none;
  std::string mechanism;     ///< the term that matched ("-all", "include:x"), "default" when none
                             ///< did, "" when evaluation did not get that far
  std::string explanation;   ///< expanded exp= text on fail (RFC 7208 §6.2), else ""
  std::string problem;       ///< why: permerror/temperror/none reason, "" otherwise
  std::string domain;        ///< the <domain> checked at the top
  unsigned dns_lookups = 0;  ///< DNS-querying terms evaluated (RFC 7208 §4.6.4)
  unsigned void_lookups = 0; ///< void lookups counted
  unsigned queries = 0;      ///< DNS questions asked in total
};

/// One DNS question the evaluator needs answered.
struct question {
  std::string name;
  dns::rtype type = dns::rtype::txt;
};

/// check_host() as a state machine with no I/O. Usage:
/// @code
///   spf::evaluator ev(params);
///   while (const spf::question* q = ev.next()) ev.feed(dns::query(r, q->name, q->type));
///   spf::check_result res = ev.take_result();
/// @endcode
/// Answers must be fed in order, one per question. Not copyable; movable.
class evaluator {
public:
  explicit evaluator(check_params params);
  ~evaluator();
  evaluator(evaluator&&) noexcept;
  evaluator& operator=(evaluator&&) noexcept;
  evaluator(const evaluator&) = delete;
  evaluator& operator=(const evaluator&) = delete;

  /// The pending question, or nullptr once the result is known. Starts evaluation on the
  /// first call.
  [[nodiscard]] const question* next();
  /// The answer to the pending question (an error_code of dns::category() for timeouts etc.).
  void feed(dns::query_result answer);
  /// The same without a copy: `answer` must stay valid (unchanged) until the evaluator is
  /// destroyed, as answers from dns::resolver::answer_now() do while the resolver is unchanged.
  void feed_borrowed(const dns::query_result& answer);
  [[nodiscard]] bool done() const noexcept;
  /// The result; valid once next() returned nullptr.
  [[nodiscard]] const check_result& result() const noexcept;
  [[nodiscard]] check_result take_result() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Blocking check_host() through dns::query (see resolver.hpp on executors).
[[nodiscard]] check_result check_host(dns::resolver& resolver, const check_params& params);

/// Asynchronous check_host(). Completion: `void(check_result)`, called exactly once, on the
/// thread where the resolver completes its last query (inline when every answer is inline,
/// as with static_resolver). `resolver` must outlive the operation.
void async_check_host(dns::resolver& resolver, check_params params,
                      std::function<void(check_result)> handler);

/// RFC 7208 §9.1 Received-SPF header field, complete with "Received-SPF: " and no CRLF:
/// `pass (receiver: comment) client-ip=...; envelope-from=...; helo=...; receiver=...;
/// identity=...; mechanism=...; problem=...`.
[[nodiscard]] std::string received_spf(const check_result& res, const check_params& params);

/// RFC 8601 §2.7.2 resinfo for Authentication-Results: `spf=pass smtp.mailfrom=example.com`
/// (or smtp.helo=...), with a comment giving the problem when there is one.
[[nodiscard]] std::string authentication_results_part(const check_result& res,
                                                      const check_params& params);

} // namespace mailkit::spf
