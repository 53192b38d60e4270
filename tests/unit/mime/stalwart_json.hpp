// SPDX-License-Identifier: Apache-2.0
// Maps mailkit's parsed header values to the JSON shapes of the stalwart mail-parser vectors
// (tests/data/mime/stalwart/PROVENANCE.md), so the conformance harnesses compare whole values.
// Where our model differs from theirs, the mapping says so here, once, for every harness.
#pragma once

#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/mime.hpp>

#include <boost/json.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace mailkit::mime::testing {

namespace json = boost::json;

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline json::value load_json(const std::string& path) {
  return json::parse(read_file(path));
}

inline json::value opt(const std::optional<std::string>& s) {
  return s ? json::value(json::string(*s)) : json::value(nullptr);
}

inline json::object mailbox_json(const mailbox& m) {
  return json::object{{"name", opt(m.name)}, {"address", opt(m.addr)}};
}

// {"List": [...]} for a plain list; {"Group": [{name, addresses}]} when the field used group
// syntax (mailboxes outside any group are nameless groups in both models).
inline json::value address_json(const address_list& l) {
  if (!l.has_groups) {
    json::array a;
    for (const auto& m : l.mailboxes)
      a.push_back(mailbox_json(m));
    return json::object{{"List", a}};
  }
  json::array g;
  for (const auto& grp : l.groups) {
    json::array members;
    for (const auto& m : grp.members)
      members.push_back(mailbox_json(m));
    g.push_back(json::object{{"name", opt(grp.name)}, {"addresses", members}});
  }
  return json::object{{"Group", g}};
}

inline json::object date_json(const date_time& d) {
  // Their zone is a sign flag plus hours and minutes; ours is signed minutes east of UTC.
  const int off = d.tz_offset_minutes;
  const int a = off < 0 ? -off : off;
  return json::object{{"year", d.year},           {"month", d.month},   {"day", d.day},
                      {"hour", d.hour},           {"minute", d.minute}, {"second", d.second},
                      {"tz_before_gmt", off < 0}, {"tz_hour", a / 60},  {"tz_minute", a % 60}};
}

// attributes as [[name, value], ...] (header vectors) or [{name, value}, ...] (message vectors);
// null when there are none.
inline json::object content_type_json(const content_type& ct, bool pairs) {
  json::value attrs = nullptr;
  if (!ct.params.empty()) {
    json::array a;
    for (const auto& p : ct.params) {
      if (pairs)
        a.push_back(json::array{json::string(p.name), json::string(p.value)});
      else
        a.push_back(json::object{{"name", p.name}, {"value", p.value}});
    }
    attrs = a;
  }
  return json::object{{"c_type", ct.type},
                      {"c_subtype", ct.subtype.empty() ? json::value(nullptr)
                                                       : json::value(json::string(ct.subtype))},
                      {"attributes", attrs}};
}

inline json::value host_json(const received_host& h) {
  switch (h.type) {
  case received_host::kind::name:
    return json::object{{"Name", h.value}};
  case received_host::kind::ipv4:
  case received_host::kind::ipv6:
    return json::object{{"IpAddr", h.value}};
  }
  return nullptr;
}

inline json::object received_json(const received& r) {
  json::object o;
  if (r.from) o["from"] = host_json(*r.from);
  if (r.from_ip) o["from_ip"] = *r.from_ip;
  if (r.from_iprev) o["from_iprev"] = *r.from_iprev;
  if (r.by) o["by"] = host_json(*r.by);
  if (r.for_) o["for_"] = *r.for_;
  if (r.with) o["with"] = *r.with;
  if (r.tls_version) o["tls_version"] = *r.tls_version;
  if (r.tls_cipher) o["tls_cipher"] = *r.tls_cipher;
  if (r.id) o["id"] = *r.id;
  if (r.ident) o["ident"] = *r.ident;
  if (r.helo) o["helo"] = host_json(*r.helo);
  if (r.helo_cmd) {
    // Their enum spells the command with an initial capital ("Helo", "Ehlo", "Lhlo").
    std::string c = to_lower(*r.helo_cmd);
    if (!c.empty()) c[0] = ascii_upper(c[0]);
    o["helo_cmd"] = c;
  }
  if (r.via) o["via"] = *r.via;
  if (r.date) o["date"] = date_json(*r.date);
  return o;
}

inline std::string to_crlf(std::string_view lf) {
  std::string out;
  out.reserve(lf.size() + lf.size() / 16);
  for (std::size_t i = 0; i < lf.size(); ++i) {
    if (lf[i] == '\n' && (i == 0 || lf[i - 1] != '\r')) out += '\r';
    out += lf[i];
  }
  return out;
}

// Their serializer sometimes writes a null member and sometimes leaves it out ("attributes":
// null vs. no "attributes"); both mean "absent", so members whose value is null are dropped on
// both sides before comparing.
inline json::value without_nulls(const json::value& v) {
  if (v.is_object()) {
    json::object o;
    for (const auto& kv : v.as_object())
      if (!kv.value().is_null()) o[kv.key()] = without_nulls(kv.value());
    return o;
  }
  if (v.is_array()) {
    json::array a;
    for (const auto& e : v.as_array())
      a.push_back(without_nulls(e));
    return a;
  }
  return v;
}

// Our date_time has no "-0000" (RFC 5322 §3.3: the zone of the local time is unknown): an
// offset of zero is read as either sign, so the sign flag is taken from the expected value when
// the offset is zero. Non-zero offsets are compared in full.
inline void align_zero_zone(json::value& ours, const json::value& expected) {
  if (!ours.is_object() || !expected.is_object()) return;
  auto& o = ours.as_object();
  const auto& e = expected.as_object();
  if (o.contains("tz_hour") && o.at("tz_hour") == json::value(0) &&
      o.at("tz_minute") == json::value(0) && e.contains("tz_before_gmt"))
    o["tz_before_gmt"] = e.at("tz_before_gmt");
}

// Their "with" is an enum of protocol names (RFC 3848 plus "Local"); a protocol outside it is
// dropped. Ours is the RFC 3848 name we recognised, or the word as written ("mapi", "Thrift").
inline json::value with_json(const std::string& with) {
  static const std::set<std::string> theirs = {"SMTP",  "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA",
                                               "LMTP",  "LMTPA", "LMTPS",  "LMTPSA", "HTTP",
                                               "HTTPS", "IMAP",  "POP3",   "MMS"};
  if (with == "LOCAL") return json::string("Local");
  if (theirs.count(with) != 0) return json::string(with);
  return nullptr;
}

inline json::value received_mapped(const mime::received& r, const json::value& expected) {
  json::value v = received_json(r);
  auto& o = v.as_object();
  // Their TLS version is an enum named "TLSv1_3"; ours is the text "TLSv1.3".
  if (r.tls_version) {
    std::string t = *r.tls_version;
    for (char& c : t)
      if (c == '.') c = '_';
    o["tls_version"] = json::string(t);
  }
  if (r.with) o["with"] = with_json(*r.with);
  if (o.contains("date") && expected.is_object() && expected.as_object().contains("date"))
    align_zero_zone(o["date"], expected.as_object().at("date"));
  return v;
}

inline json::value date_mapped(const std::optional<mime::date_time>& d,
                               const json::value& expected) {
  if (!d) return nullptr;
  json::value v = date_json(*d);
  align_zero_zone(v, expected);
  return v;
}

} // namespace mailkit::mime::testing
