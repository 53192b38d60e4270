// SPDX-License-Identifier: Apache-2.0
// The two drivers of spf::evaluator, and the result's textual forms.
#include <mailkit/core/bytes.hpp>
#include <mailkit/spf/check_host.hpp>

#include <mailkit/dns/drive.hpp>

#include <arpa/inet.h>
#include <cstring>

namespace mailkit::spf {

std::string_view to_string(result r) noexcept {
  switch (r) {
  case result::none:
    return "none";
  case result::neutral:
    return "neutral";
  case result::pass:
    return "pass";
  case result::fail:
    return "fail";
  case result::softfail:
    return "softfail";
  case result::temperror:
    return "temperror";
  case result::permerror:
    return "permerror";
  }
  return "none";
}

std::optional<result> parse_result_name(std::string_view s) noexcept {
  for (auto r : {result::none, result::neutral, result::pass, result::fail, result::softfail,
                 result::temperror, result::permerror})
    if (to_string(r) == s) return r;
  return std::nullopt;
}

std::optional<ip_address> parse_ip(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;
  char buf[64];
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  if (s.find(':') == std::string_view::npos) {
    dns::ipv4 a;
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  dns::ipv6 a;
  if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), mapped, 12) == 0) {
    // RFC 7208 §5: IPv4-mapped IPv6 addresses are treated as IPv4.
    return dns::ipv4{{a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]}};
  }
  return a;
}

std::string to_string(const ip_address& ip) {
  char buf[INET6_ADDRSTRLEN];
  if (const auto* v4 = std::get_if<dns::ipv4>(&ip)) {
    // Dotted quad by hand: inet_ntop formats IPv4 through sprintf, a hot spot here.
    std::string out;
    out.reserve(15);
    for (int k = 0; k < 4; ++k) {
      if (k) out.push_back('.');
      const unsigned b = v4->bytes[static_cast<std::size_t>(k)];
      if (b >= 100) out.push_back(static_cast<char>('0' + b / 100));
      if (b >= 10) out.push_back(static_cast<char>('0' + b / 10 % 10));
      out.push_back(static_cast<char>('0' + b % 10));
    }
    return out;
  } else {
    inet_ntop(AF_INET6, std::get<dns::ipv6>(ip).bytes.data(), buf, sizeof buf);
  }
  return buf;
}

check_params check_params::mail_from(ip_address ip, std::string_view reverse_path,
                                     std::string_view helo) {
  check_params p;
  p.ip = ip;
  p.helo = std::string(helo);
  p.id = identity::mailfrom;
  if (reverse_path.empty()) {
    // RFC 7208 §2.4: a null reverse-path is checked as "postmaster@<HELO>".
    p.sender = "postmaster@" + p.helo;
    p.domain = p.helo;
  } else {
    p.sender = std::string(reverse_path);
    const auto at = p.sender.rfind('@');
    p.domain = at == std::string::npos ? p.sender : p.sender.substr(at + 1);
  }
  return p;
}

check_params check_params::helo_identity(ip_address ip, std::string_view helo) {
  check_params p;
  p.ip = ip;
  p.helo = std::string(helo);
  // RFC 7208 §2.3: <sender> is "postmaster@" + the HELO name, <domain> the HELO name.
  p.sender = "postmaster@" + p.helo;
  p.domain = p.helo;
  p.id = identity::helo;
  return p;
}

check_result check_host(dns::resolver& resolver, const check_params& params) {
  evaluator ev(params);
  return dns::drive(resolver, ev);
}

namespace {

// RFC 7208 §9.1 key-value-pair: a dot-atom (RFC 5322 §3.2.3), else a quoted-string.
std::string quote_value(std::string_view v) {
  return is_dot_atom(v) ? std::string(v) : quoted_string(v);
}

} // namespace

void async_check_host(dns::resolver& resolver, check_params params,
                      std::function<void(check_result)> handler) {
  dns::async_drive(resolver, evaluator(std::move(params)), std::move(handler));
}

std::string received_spf(const check_result& res, const check_params& params) {
  const std::string ip = to_string(params.ip);
  const std::string who = params.sender;
  std::string comment;
  // RFC 7208 §9.1 examples of the comment for each result.
  switch (res.result) {
  case result::pass:
    comment = "domain of " + who + " designates " + ip + " as permitted sender";
    break;
  case result::fail:
    comment = "domain of " + who + " does not designate " + ip + " as permitted sender";
    break;
  case result::softfail:
    comment =
        "transitioning domain of " + who + " does not designate " + ip + " as permitted sender";
    break;
  case result::neutral:
    comment = ip + " is neither permitted nor denied by domain of " + who;
    break;
  case result::none:
    comment = "domain of " + who + " does not designate permitted sender hosts";
    break;
  case result::temperror:
    comment = "error in processing during lookup of " + who;
    break;
  case result::permerror:
    comment = "permanent error in processing during lookup of " + who;
    break;
  }
  std::string out = "Received-SPF: ";
  out += to_string(res.result);
  out += " (" + comment_text(params.receiver + ": " + comment) + ")";
  out += " client-ip=" + ip + ";";
  out += " envelope-from=" + quote_value(params.sender) + ";";
  if (!params.helo.empty()) out += " helo=" + quote_value(params.helo) + ";";
  out += " receiver=" + quote_value(params.receiver) + ";";
  out += std::string(" identity=") + (params.id == identity::helo ? "helo" : "mailfrom") + ";";
  if (!res.mechanism.empty()) out += " mechanism=" + quote_value(res.mechanism) + ";";
  if (!res.problem.empty()) out += " problem=" + quote_value(res.problem) + ";";
  return out;
}

std::string authentication_results_part(const check_result& res, const check_params& params) {
  // RFC 8601 §2.7.2: ptype "smtp", property "mailfrom" or "helo".
  std::string out = "spf=";
  out += to_string(res.result);
  if (!res.problem.empty()) out += " (" + comment_text(res.problem) + ")";
  if (params.id == identity::helo) {
    out += " smtp.helo=" + quote_value(params.helo);
  } else {
    out += " smtp.mailfrom=" + quote_value(params.domain.empty() ? params.sender : params.domain);
  }
  return out;
}

} // namespace mailkit::spf
