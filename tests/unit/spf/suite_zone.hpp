// SPDX-License-Identifier: Apache-2.0
/// @file suite_zone.hpp
/// Loads the converted SPF suites (tests/data/spf/convert.py) into dns::static_resolver with
/// the zone-loading rules of tests/data/spf/openspf/PROVENANCE.md:
///  1. a record typed SPF is also served as TXT, unless the name has an explicit TXT entry;
///  2. "TXT: NONE" / "SPF: NONE" mark the type present with no record (so no TXT is
///     synthesised from SPF);
///  3. a bare TIMEOUT entry makes queries of the types the name has no records for time out
///     (so TIMEOUT beside TXT records times out only the other types: the "spftimeout" test
///     expects TXT to answer, "txttimeout" with "TXT: NONE" expects it to time out), and every
///     type when it stands alone;
///  4. a name absent from the zone is NXDOMAIN, except names beginning "error." (timeout);
///  5. names match case-insensitively; CNAMEs are followed (by static_resolver).
/// Header-only so that the benchmark can share it.
#pragma once

#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/spf/check_host.hpp>

#include <boost/json.hpp>

#include <cctype>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailkit::spf::testing {

namespace json = boost::json;

inline std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// static_resolver plus rule 4.
class suite_resolver final : public dns::resolver {
public:
  dns::static_resolver zone;
  std::set<std::string, std::less<>> names; // lower case

  void async_query(std::string_view name, dns::rtype type, dns::query_handler handler) override {
    if (times_out(name)) {
      handler(tl::make_unexpected(dns::make_error_code(dns::errc::timed_out)));
      return;
    }
    zone.async_query(name, type, std::move(handler));
  }

  const dns::query_result* answer_now(std::string_view name, dns::rtype type) override {
    return times_out(name) ? nullptr : zone.answer_now(name, type);
  }

private:
  // PROVENANCE.md zone rule: a name starting "error." that the zone does not hold times out.
  bool times_out(std::string_view name) const {
    if (name.size() < 6) return false;
    for (std::size_t i = 0; i < 6; ++i)
      if (std::tolower(static_cast<unsigned char>(name[i])) != "error."[i]) return false;
    std::string n(name);
    if (!n.empty() && n.back() == '.') n.pop_back();
    return names.find(lower(n)) == names.end();
  }
};

inline dns::txt txt_of(const json::value& v) {
  dns::txt t;
  if (v.is_string()) {
    t.strings.emplace_back(v.as_string().c_str(), v.as_string().size());
  } else {
    for (const auto& s : v.as_array())
      t.strings.emplace_back(s.as_string().c_str(), s.as_string().size());
  }
  return t;
}

inline std::string str(const json::value& v) {
  return std::string(v.as_string().c_str(), v.as_string().size());
}

/// Fill `r` from one zonedata object.
inline void load_zone(suite_resolver& r, const json::object& zonedata) {
  for (const auto& [key, entries] : zonedata) {
    const std::string name = lower(std::string(key));
    r.names.insert(name);
    bool explicit_txt = false, timeout = false;
    for (const auto& e : entries.as_array()) {
      if (e.is_string() && e.as_string() == "TIMEOUT") timeout = true;
      if (e.is_object() && e.as_object().contains("TXT")) explicit_txt = true;
    }
    std::set<dns::rtype> present;
    for (const auto& e : entries.as_array()) {
      if (!e.is_object()) continue;
      for (const auto& [type, value] : e.as_object()) {
        const bool none = value.is_string() && value.as_string() == "NONE";
        if (type == "SPF" || type == "TXT") {
          if (type == "SPF" && explicit_txt) continue; // rule 1
          if (none) continue; // rule 2: present, but no record (a TIMEOUT then applies)
          present.insert(dns::rtype::txt);
          r.zone.add(name, dns::rtype::txt, txt_of(value));
        } else if (type == "A" || type == "AAAA") {
          auto ip = parse_ip(str(value));
          if (!ip) throw std::runtime_error("bad address in zone: " + str(value));
          if (const auto* v4 = std::get_if<dns::ipv4>(&*ip)) {
            r.zone.add(name, dns::rtype::a, *v4);
            present.insert(dns::rtype::a);
          } else {
            r.zone.add(name, dns::rtype::aaaa, std::get<dns::ipv6>(*ip));
            present.insert(dns::rtype::aaaa);
          }
        } else if (type == "MX") {
          const auto& mx = value.as_array();
          dns::mx m;
          m.preference = static_cast<std::uint16_t>(mx.at(0).to_number<int>());
          m.exchange = str(mx.at(1));
          if (!m.exchange.empty() && m.exchange.back() == '.') m.exchange.pop_back();
          r.zone.add(name, dns::rtype::mx, m);
          present.insert(dns::rtype::mx);
        } else if (type == "PTR" || type == "CNAME") {
          std::string target = str(value);
          if (!target.empty() && target.back() == '.') target.pop_back();
          const auto t = type == "PTR" ? dns::rtype::ptr : dns::rtype::cname;
          r.zone.add(name, t, dns::name_rdata{target});
          present.insert(t);
        } else {
          throw std::runtime_error("unknown record type in zone: " + std::string(type));
        }
      }
    }
    if (timeout) { // rule 3
      if (present.empty()) {
        r.zone.fail(name, dns::errc::timed_out);
      } else {
        for (auto t :
             {dns::rtype::a, dns::rtype::aaaa, dns::rtype::mx, dns::rtype::txt, dns::rtype::ptr})
          if (!present.count(t)) r.zone.fail(name, t, dns::errc::timed_out);
      }
    }
  }
}

/// One suite file.
struct suite {
  json::value doc;
  std::vector<std::unique_ptr<suite_resolver>> zones;

  explicit suite(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    doc = json::parse(ss.str());
    for (const auto& z : doc.at("zones").as_array()) {
      zones.push_back(std::make_unique<suite_resolver>());
      load_zone(*zones.back(), z.as_object());
    }
  }
  [[nodiscard]] const json::array& tests() const { return doc.at("tests").as_array(); }
};

/// The check_host() parameters of one test: MAIL FROM identity (postmaster@helo when the
/// mailfrom is empty), or the explicit "domain" of the Stalwart suite.
inline check_params params_of(const json::object& t) {
  auto ip = parse_ip(str(t.at("host")));
  if (!ip) throw std::runtime_error("bad host " + str(t.at("host")));
  const std::string helo = str(t.at("helo"));
  const std::string from = str(t.at("mailfrom"));
  check_params p = check_params::mail_from(*ip, from, helo);
  if (const auto* d = t.if_contains("domain"); d && !t.contains("helo_first")) {
    p.domain = str(*d);
    if (from.empty()) p.sender = "postmaster@" + p.domain;
  }
  p.receiver = "mx.example.com";
  p.timestamp = 1700000000;
  return p;
}

/// Runs one test: with helo_first, the HELO identity is checked first and a fail there is the
/// answer (RFC 7208 §2.3 allows a conclusive HELO check to stand).
inline check_result run_test(dns::resolver& r, const json::object& t) {
  check_params p = params_of(t);
  if (t.contains("helo_first")) {
    check_params h = check_params::helo_identity(p.ip, str(t.at("helo")));
    h.receiver = p.receiver;
    h.timestamp = p.timestamp;
    check_result hr = check_host(r, h);
    if (hr.result == result::fail) return hr;
  }
  return check_host(r, p);
}

} // namespace mailkit::spf::testing
