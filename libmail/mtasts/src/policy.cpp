// SPDX-License-Identifier: Apache-2.0
// RFC 8461 §3.1 TXT record, §3.2 policy file, §4.1 MX matching, §4.2 and §2 decisions.
#include <mailkit/mtasts/mtasts.hpp>

#include <algorithm>
#include <cctype>

namespace mailkit::mtasts {

namespace {

class category_impl final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.mtasts"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::bad_record:
      return "invalid _mta-sts TXT record";
    case errc::bad_policy:
      return "invalid MTA-STS policy";
    case errc::http_status:
      return "MTA-STS policy host did not answer 200";
    case errc::bad_content_type:
      return "MTA-STS policy is not text/plain";
    case errc::bad_domain:
      return "invalid policy domain";
    }
    return "unknown MTA-STS error";
  }
  bool permanent(int value) const noexcept override {
    const auto e = static_cast<errc>(value);
    return e == errc::bad_record || e == errc::bad_policy || e == errc::bad_domain;
  }
};

bool is_wsp(char c) noexcept {
  return c == ' ' || c == '\t';
}
bool is_alnum(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
std::string_view trim_wsp(std::string_view s) noexcept {
  while (!s.empty() && is_wsp(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back()))
    s.remove_suffix(1);
  return s;
}
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// sts-ext-name / sts-policy-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
bool valid_ext_name(std::string_view n) noexcept {
  if (n.empty() || n.size() > 32 || !is_alnum(n.front())) return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}

// A host name as RFC 8461 §3.2 sts-policy-mx-value's Domain (RFC 5321 §4.1.2): LDH labels of
// 1-63 octets, at most 253 octets, no leading or trailing hyphen. A-labels for IDNs.
bool valid_domain(std::string_view d) noexcept {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > 253) return false;
  std::size_t start = 0;
  while (start <= d.size()) {
    auto end = d.find('.', start);
    if (end == std::string_view::npos) end = d.size();
    const auto label = d.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!is_alnum(c) && c != '-') return false;
    start = end + 1;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

} // namespace

const error_category& category() noexcept {
  static const category_impl instance;
  return instance;
}

std::string_view to_string(mode m) noexcept {
  switch (m) {
  case mode::enforce:
    return "enforce";
  case mode::testing:
    return "testing";
  case mode::none:
    return "none";
  }
  return "none";
}

expected<txt_record> parse_txt_record(std::string_view text) {
  // RFC 8461 §3.1: sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep]
  //                sts-version = %s"v=STSv1"; sts-sep = *WSP %x3B *WSP
  constexpr std::string_view version = "v=STSv1";
  if (text.substr(0, version.size()) != version) return fail(errc::bad_record);
  std::string_view rest = text.substr(version.size());
  txt_record out;
  bool have_id = false;
  std::size_t fields = 0;
  while (!rest.empty()) {
    // sts-sep
    std::size_t i = 0;
    while (i < rest.size() && is_wsp(rest[i]))
      ++i;
    if (i == rest.size() || rest[i] != ';') return fail(errc::bad_record);
    ++i;
    while (i < rest.size() && is_wsp(rest[i]))
      ++i;
    rest.remove_prefix(i);
    if (rest.empty()) break; // the optional trailing sts-sep
    auto end = rest.find(';');
    std::string_view field = end == std::string_view::npos ? rest : rest.substr(0, end);
    rest.remove_prefix(field.size());
    field = trim_wsp(field);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) return fail(errc::bad_record);
    const auto name = field.substr(0, eq);
    const auto value = field.substr(eq + 1);
    if (++fields > 64) return fail(errc::bad_record); // a bound on hostile records
    if (name == "id") {
      // RFC 8461 §3.1: sts-id = %s"id=" 1*32(ALPHA / DIGIT)
      if (have_id || value.empty() || value.size() > 32 ||
          !std::all_of(value.begin(), value.end(), is_alnum))
        return fail(errc::bad_record);
      out.id = std::string(value);
      have_id = true;
    } else {
      // sts-extension = sts-ext-name "=" sts-ext-value; value 1*(%x21-3A / %x3C / %x3E-7E)
      if (!valid_ext_name(name) || value.empty() ||
          !std::all_of(value.begin(), value.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u >= 0x21 && u <= 0x7e && u != ';' && u != '=';
          }))
        return fail(errc::bad_record);
      out.extensions.emplace_back(std::string(name), std::string(value));
    }
  }
  // RFC 8461 §3.1: "id" is REQUIRED.
  if (!have_id) return fail(errc::bad_record);
  return out;
}

std::optional<txt_record> select_txt_record(const std::vector<std::string>& txts) {
  // RFC 8461 §3.1: "records that do not begin with "v=STSv1;" are discarded. If the number of
  // resulting records is not one, or if the resulting record is syntactically invalid, senders
  // MUST assume the Policy Domain does not have an available MTA-STS Policy."
  const std::string* chosen = nullptr;
  std::size_t count = 0;
  for (const auto& t : txts) {
    std::string_view v = t;
    if (v.substr(0, 7) != "v=STSv1") continue;
    auto after = v.substr(7);
    while (!after.empty() && is_wsp(after.front()))
      after.remove_prefix(1);
    if (after.empty() || after.front() != ';') continue;
    chosen = &t;
    ++count;
  }
  if (count != 1) return std::nullopt;
  auto parsed = parse_txt_record(*chosen);
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

expected<policy> parse_policy(std::string_view text) {
  // RFC 8461 §3.3: bodies over 64 KiB are refused before they reach the parser; a parser fed
  // directly keeps the same bound.
  if (text.size() > max_policy_size) return fail(errc::bad_policy);
  policy out;
  bool have_version = false, have_mode = false, have_max_age = false;
  std::size_t lines = 0;
  while (!text.empty()) {
    // RFC 8461 §3.2: sts-policy-term = LF / CRLF
    auto nl = text.find('\n');
    std::string_view line = nl == std::string_view::npos ? text : text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim_wsp(line).empty()) continue; // blank lines (e.g. a trailing one) carry nothing
    if (++lines > 1000) return fail(errc::bad_policy);
    // sts-policy-field-delim = ":" *WSP; the value ends before trailing *WSP.
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail(errc::bad_policy);
    const auto key = line.substr(0, colon);
    const auto value = trim_wsp(line.substr(colon + 1));
    if (value.empty()) return fail(errc::bad_policy);
    for (char c : value) // sts-policy-vchar / WSP only
      if (static_cast<unsigned char>(c) < 0x20 && !is_wsp(c)) return fail(errc::bad_policy);
    // The RFC does not say what a repeated single-valued field means; an ambiguous policy is
    // treated as invalid rather than guessed at.
    if (key == "version") {
      // sts-policy-version-value = %s"STSv1"
      if (have_version || value != "STSv1") return fail(errc::bad_policy);
      have_version = true;
    } else if (key == "mode") {
      // sts-policy-mode-value = %s"testing" / %s"enforce" / %s"none"
      if (have_mode) return fail(errc::bad_policy);
      if (value == "enforce")
        out.policy_mode = mode::enforce;
      else if (value == "testing")
        out.policy_mode = mode::testing;
      else if (value == "none")
        out.policy_mode = mode::none;
      else
        return fail(errc::bad_policy);
      have_mode = true;
    } else if (key == "max_age") {
      // sts-policy-max-age-value = 1*10DIGIT, "maximum value of 31557600"
      if (have_max_age || value.size() > 10 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail(errc::bad_policy);
      std::uint64_t v = 0;
      for (char c : value)
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      if (v > max_age_limit) return fail(errc::bad_policy);
      out.max_age = static_cast<std::uint32_t>(v);
      have_max_age = true;
    } else if (key == "mx") {
      // sts-policy-mx-value = ["*."] Domain
      std::string_view d = value;
      if (d.substr(0, 2) == "*.") d.remove_prefix(2);
      if (!valid_domain(d)) return fail(errc::bad_policy);
      std::string pattern = lower(value);
      if (pattern.back() == '.') pattern.pop_back();
      out.mx.push_back(std::move(pattern));
    } else {
      // sts-policy-extension: unknown keys are kept, not interpreted.
      if (!valid_ext_name(key)) return fail(errc::bad_policy);
      out.extensions.emplace_back(std::string(key), std::string(value));
    }
  }
  // RFC 8461 §3.2: version, mode and max_age are required; mx "one or more" for a policy that
  // names hosts (mode none needs none: there is nothing to enforce).
  if (!have_version || !have_mode || !have_max_age) return fail(errc::bad_policy);
  if (out.policy_mode != mode::none && out.mx.empty()) return fail(errc::bad_policy);
  return out;
}

bool mx_matches(std::string_view pattern, std::string_view host) noexcept {
  if (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (pattern.empty() || host.empty()) return false;
  if (pattern.substr(0, 2) == "*.") {
    // RFC 8461 §4.1: "the wildcard character "*" ... matches only the left-most label":
    // "*.example.com" matches "mail.example.com" but not "example.com" nor "a.b.example.com".
    const auto suffix = pattern.substr(1); // ".example.com"
    if (host.size() <= suffix.size()) return false;
    const auto label = host.substr(0, host.size() - suffix.size());
    if (label.find('.') != std::string_view::npos) return false;
    return iequals(host.substr(label.size()), suffix);
  }
  return iequals(pattern, host);
}

bool policy::matches(std::string_view host) const {
  return std::any_of(mx.begin(), mx.end(),
                     [&](const std::string& p) { return mx_matches(p, host); });
}

std::string policy::to_text() const {
  std::string out = "version: STSv1\nmode: ";
  out += to_string(policy_mode);
  out += '\n';
  for (const auto& m : mx)
    out += "mx: " + m + "\n";
  out += "max_age: " + std::to_string(max_age) + "\n";
  for (const auto& [k, v] : extensions)
    out += k + ": " + v + "\n";
  return out;
}

bool is_text_plain(std::string_view ct) noexcept {
  // RFC 8461 §3.2: 'the media type ... is "text/plain"'; RFC 2045 §5.1: case-insensitive, with
  // optional parameters after ";".
  ct = trim_wsp(ct.substr(0, ct.find(';')));
  return iequals(ct, "text/plain");
}

std::string_view to_string(verdict v) noexcept {
  switch (v) {
  case verdict::deliver:
    return "deliver";
  case verdict::refuse:
    return "refuse";
  case verdict::deliver_and_report:
    return "deliver-and-report";
  }
  return "deliver";
}

std::string_view to_string(failure f) noexcept {
  switch (f) {
  case failure::none:
    return "none";
  case failure::mx_not_in_policy:
    return "mx-not-in-policy";
  case failure::starttls_not_supported:
    return "starttls-not-supported";
  case failure::certificate_invalid:
    return "certificate-invalid";
  case failure::dane_mismatch:
    return "dane-mismatch";
  }
  return "none";
}

decision decide(const policy* sts, std::string_view mx_host, dane_state dane,
                const tls_outcome& outcome) {
  decision d;
  // RFC 8461 §2: "senders who implement MTA-STS validation MUST NOT allow MTA-STS Policy
  // validation to override a failing DANE validation": DANE, when it applies, decides alone.
  if (dane == dane_state::usable) {
    d.dane_applied = true;
    // RFC 7672 §2.2: with usable TLSA records, delivery requires TLS authenticated by them.
    if (!outcome.tls_established)
      d.reason = failure::starttls_not_supported;
    else if (!outcome.dane_valid)
      d.reason = failure::dane_mismatch;
    d.action = d.reason == failure::none ? verdict::deliver : verdict::refuse;
    return d;
  }
  if (dane == dane_state::unusable) {
    // RFC 7672 §2.2: unusable TLSA records still mean the server supports TLS; deliver only
    // over (unauthenticated) TLS.
    d.dane_applied = true;
    if (!outcome.tls_established) {
      d.reason = failure::starttls_not_supported;
      d.action = verdict::refuse;
    }
    return d;
  }
  if (sts == nullptr || sts->policy_mode == mode::none) return d; // RFC 8461 §5: none
  d.sts_applied = true;
  // RFC 8461 §4.1: the MX host must match a pattern; §4.2: and present a valid certificate
  // for its name over TLS.
  if (!sts->matches(mx_host))
    d.reason = failure::mx_not_in_policy;
  else if (!outcome.tls_established)
    d.reason = failure::starttls_not_supported;
  else if (!outcome.pkix_valid)
    d.reason = failure::certificate_invalid;
  if (d.reason == failure::none) return d;
  // RFC 8461 §5: enforce: "MUST NOT deliver"; testing: deliver and report (RFC 8460).
  d.action = sts->policy_mode == mode::enforce ? verdict::refuse : verdict::deliver_and_report;
  return d;
}

} // namespace mailkit::mtasts
