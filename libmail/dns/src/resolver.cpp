// SPDX-License-Identifier: Apache-2.0
// The value side of resolver.hpp: error category, record types, addresses, answer views,
// name utilities and the blocking query() helper.
#include <mailkit/dns/resolver.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <future>

namespace mailkit::dns {
namespace {

class category_impl final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.dns"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::timed_out:
      return "DNS query timed out";
    case errc::servfail:
      return "DNS server failure (SERVFAIL)";
    case errc::refused:
      return "DNS query refused (REFUSED)";
    case errc::network:
      return "DNS network error";
    case errc::formerr:
      return "DNS server could not read the query (FORMERR)";
    case errc::notimp:
      return "DNS query type not implemented by the server (NOTIMP)";
    case errc::bad_name:
      return "not a valid domain name";
    case errc::bad_response:
      return "malformed DNS response";
    case errc::cancelled:
      return "DNS query cancelled";
    }
    return "unknown mailkit.dns error";
  }
  bool permanent(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
    case errc::formerr:
    case errc::notimp:
    case errc::bad_name:
      return true;
    default:
      return false;
    }
  }
};

char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view strip_dot(std::string_view s) noexcept {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

constexpr char hex_digits[] = "0123456789abcdef";

} // namespace

const error_category& category() noexcept {
  static const category_impl instance;
  return instance;
}

std::string_view to_string(rtype t) noexcept {
  switch (t) {
  case rtype::a:
    return "A";
  case rtype::ns:
    return "NS";
  case rtype::cname:
    return "CNAME";
  case rtype::soa:
    return "SOA";
  case rtype::ptr:
    return "PTR";
  case rtype::mx:
    return "MX";
  case rtype::txt:
    return "TXT";
  case rtype::aaaa:
    return "AAAA";
  case rtype::tlsa:
    return "TLSA";
  case rtype::srv:
    return "SRV";
  case rtype::caa:
    return "CAA";
  }
  return "?";
}

expected<rtype> parse_rtype(std::string_view name) {
  static constexpr rtype all[] = {rtype::a,    rtype::ns,  rtype::cname, rtype::soa,
                                  rtype::ptr,  rtype::mx,  rtype::txt,   rtype::aaaa,
                                  rtype::tlsa, rtype::srv, rtype::caa};
  for (const rtype t : all) {
    const std::string_view s = to_string(t);
    if (s.size() == name.size() && std::equal(s.begin(), s.end(), name.begin(), [](char x, char y) {
          return x == (y >= 'a' && y <= 'z' ? y - 32 : y);
        }))
      return t;
  }
  return fail(mailkit::errc::invalid_argument);
}

// ---- addresses ------------------------------------------------------------------------------

std::string to_string(const ipv4& a) {
  std::string out;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i) out.push_back('.');
    out += std::to_string(a.bytes[i]);
  }
  return out;
}

// RFC 5952 §4: lower-case hex, no leading zeros, the longest run of two or more zero groups
// (the first of equal runs) as "::"; §5: IPv4-mapped addresses end in dotted decimal.
std::string to_string(const ipv6& a) {
  std::uint16_t g[8];
  for (std::size_t i = 0; i < 8; ++i)
    g[i] = static_cast<std::uint16_t>((a.bytes[2 * i] << 8) | a.bytes[2 * i + 1]);
  const bool mapped =
      g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xFFFF;
  const std::size_t groups = mapped ? 6 : 8;
  int best = -1, best_len = 0;
  for (std::size_t i = 0; i < groups;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < groups && g[j] == 0)
      ++j;
    if (static_cast<int>(j - i) > best_len) {
      best = static_cast<int>(i);
      best_len = static_cast<int>(j - i);
    }
    i = j;
  }
  if (best_len < 2) best = -1; // RFC 5952 §4.2.2: a single 0 group is not shortened
  std::string out;
  for (std::size_t i = 0; i < groups; ++i) {
    if (best >= 0 && static_cast<int>(i) == best) {
      out += "::";
      i += static_cast<std::size_t>(best_len) - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out.push_back(':');
    char buf[5];
    int n = 0;
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const int nib = (g[i] >> shift) & 0xF;
      if (nib != 0 || started || shift == 0) {
        buf[n++] = hex_digits[nib];
        started = true;
      }
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (mapped) {
    if (out.back() != ':') out.push_back(':');
    out += std::to_string(a.bytes[12]) + "." + std::to_string(a.bytes[13]) + "." +
           std::to_string(a.bytes[14]) + "." + std::to_string(a.bytes[15]);
  }
  return out;
}

expected<ipv4> parse_ipv4(std::string_view s) {
  // inet_pton accepts exactly four decimal octets, without leading zeros (no octal surprises).
  if (s.empty() || s.size() > 15) return fail(mailkit::errc::invalid_argument);
  const std::string z(s);
  ipv4 a;
  if (inet_pton(AF_INET, z.c_str(), a.bytes.data()) != 1)
    return fail(mailkit::errc::invalid_argument);
  return a;
}

expected<ipv6> parse_ipv6(std::string_view s) {
  if (s.empty() || s.size() > 45) return fail(mailkit::errc::invalid_argument);
  const std::string z(s);
  ipv6 a;
  if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) != 1)
    return fail(mailkit::errc::invalid_argument);
  return a;
}

// ---- answers --------------------------------------------------------------------------------

std::string txt::joined() const {
  std::string out;
  std::size_t n = 0;
  for (const auto& s : strings)
    n += s.size();
  out.reserve(n);
  for (const auto& s : strings)
    out += s;
  return out;
}

std::vector<ipv4> answer::a() const {
  std::vector<ipv4> out;
  for (const auto& r : records)
    if (const auto* v = std::get_if<ipv4>(&r.data)) out.push_back(*v);
  return out;
}

std::vector<ipv6> answer::aaaa() const {
  std::vector<ipv6> out;
  for (const auto& r : records)
    if (const auto* v = std::get_if<ipv6>(&r.data)) out.push_back(*v);
  return out;
}

std::vector<mx> answer::mx_records() const {
  std::vector<mx> out;
  for (const auto& r : records)
    if (const auto* v = std::get_if<mx>(&r.data)) out.push_back(*v);
  // RFC 5321 §5.1: lower preference first; equal preferences keep the order received (the
  // caller randomizes if it wants to).
  std::stable_sort(out.begin(), out.end(),
                   [](const mx& x, const mx& y) { return x.preference < y.preference; });
  return out;
}

std::vector<std::string> answer::txt_joined() const {
  std::vector<std::string> out;
  for (const auto& r : records)
    if (const auto* v = std::get_if<txt>(&r.data)) out.push_back(v->joined());
  return out;
}

std::vector<std::string> answer::names() const {
  std::vector<std::string> out;
  for (const auto& r : records)
    if (const auto* v = std::get_if<name_rdata>(&r.data)) out.push_back(v->name);
  return out;
}

std::vector<srv> answer::srv_records() const {
  std::vector<srv> out;
  for (const auto& r : records)
    if (const auto* v = std::get_if<srv>(&r.data)) out.push_back(*v);
  std::stable_sort(out.begin(), out.end(),
                   [](const srv& a, const srv& b) { return a.priority < b.priority; });
  return out;
}

std::vector<caa> answer::caa_records() const {
  std::vector<caa> out;
  for (const auto& r : records)
    if (const auto* v = std::get_if<caa>(&r.data)) out.push_back(*v);
  return out;
}

// ---- blocking helper ------------------------------------------------------------------------

query_result query(resolver& r, std::string_view name, rtype type) {
  // The handler may run inline (static zone, cache hit) or on another thread; a promise covers
  // both. It must not run on this thread later, which is why the resolver's executor has to be
  // driven elsewhere (resolver.hpp).
  auto done = std::make_shared<std::promise<query_result>>();
  auto result = done->get_future();
  r.async_query(name, type, [done](query_result res) { done->set_value(std::move(res)); });
  return result.get();
}

// ---- names ----------------------------------------------------------------------------------

bool same_name(std::string_view a, std::string_view b) noexcept {
  a = strip_dot(a);
  b = strip_dot(b);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string reverse_name(const ipv4& a) {
  // RFC 1035 §3.5: the octets in reverse order under in-addr.arpa.
  return std::to_string(a.bytes[3]) + "." + std::to_string(a.bytes[2]) + "." +
         std::to_string(a.bytes[1]) + "." + std::to_string(a.bytes[0]) + ".in-addr.arpa";
}

std::string reverse_name(const ipv6& a) {
  // RFC 3596 §2.5: 32 nibbles, least significant first, under ip6.arpa.
  std::string out;
  out.reserve(64 + 8);
  for (std::size_t i = 16; i-- > 0;) {
    out.push_back(hex_digits[a.bytes[i] & 0xF]);
    out.push_back('.');
    out.push_back(hex_digits[a.bytes[i] >> 4]);
    out.push_back('.');
  }
  out += "ip6.arpa";
  return out;
}

} // namespace mailkit::dns
