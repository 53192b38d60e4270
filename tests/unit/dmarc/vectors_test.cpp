// SPDX-License-Identifier: Apache-2.0
// Our DMARC vectors (tests/data/dmarc/*.json, each citing the RFC section it checks):
// 001-evaluation.json runs check()/check_from_domains() against a static zone given in the
// mailkit.dns.StaticResolver dict form (tests/python/test_dmarc.py runs the same file through
// the Python binding); 002-record.json checks parse_record() field by field.
#include <mailkit/dmarc/dmarc.hpp>
#include <mailkit/dns/static_resolver.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace mailkit;
namespace json = boost::json;

namespace {

json::value load(const std::string& name) {
  std::ifstream in(std::string(MAILKIT_TEST_DATA) + "/dmarc/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::string str(const json::value& v) {
  return std::string(v.as_string().c_str(), v.as_string().size());
}

// The StaticResolver dict form of PYTHON_API.md.
void load_zone(dns::static_resolver& r, const json::object& zone) {
  for (const auto& [name, types] : zone) {
    if (types.is_string()) { // "TIMEOUT"
      r.fail(name, dns::errc::timed_out);
      continue;
    }
    for (const auto& [type, values] : types.as_object()) {
      if (values.is_string()) {
        r.fail(name, *dns::parse_rtype(type), dns::errc::timed_out);
        continue;
      }
      for (const auto& v : values.as_array()) {
        if (type == "TXT") {
          dns::txt t; // split like a zone file would, 255 octets a string
          const std::string s = str(v);
          for (std::size_t i = 0; i < s.size() || i == 0; i += 255)
            t.strings.push_back(s.substr(i, 255));
          r.add(name, dns::rtype::txt, t);
        } else if (type == "MX") {
          dns::mx m;
          m.preference = static_cast<std::uint16_t>(v.as_array().at(0).to_number<int>());
          m.exchange = str(v.as_array().at(1));
          r.add(name, dns::rtype::mx, m);
        } else if (type == "A" || type == "AAAA") {
          auto ip = spf::parse_ip(str(v));
          ASSERT_TRUE(ip) << str(v);
          if (auto* v4 = std::get_if<dns::ipv4>(&*ip))
            r.add(name, dns::rtype::a, *v4);
          else
            r.add(name, dns::rtype::aaaa, std::get<dns::ipv6>(*ip));
        } else {
          FAIL() << "zone type " << type;
        }
      }
    }
  }
}

dmarc::check_params params_of(const json::object& v) {
  dmarc::check_params p;
  const auto& s = v.at("spf").as_array();
  p.spf_result = *spf::parse_result_name(str(s.at(0)));
  p.spf_domain = str(s.at(1));
  for (const auto& d : v.at("dkim").as_array())
    p.dkim.push_back({str(d.as_array().at(0)), *dmarc::parse_auth_result(str(d.as_array().at(1)))});
  if (const auto* s2 = v.if_contains("sample")) p.sample = s2->to_number<unsigned>();
  return p;
}

std::optional<std::string> tag(const dmarc::check_result& r, const std::string& name) {
  if (!r.rec) return std::nullopt;
  for (const auto& [n, val] : r.rec->tags)
    if (n == name) return val;
  return std::nullopt;
}

} // namespace

TEST(DmarcVectors, Evaluation) {
  const auto doc = load("001-evaluation.json");
  int n = 0;
  for (const auto& vv : doc.at("vectors").as_array()) {
    const auto& v = vv.as_object();
    SCOPED_TRACE(str(v.at("id")) + " (" + str(v.at("rfc")) + ")");
    dns::static_resolver zone;
    load_zone(zone, v.at("zone").as_object());
    const auto p = params_of(v);
    dmarc::check_result r;
    if (const auto* list = v.if_contains("from_domains")) {
      std::vector<std::string> froms;
      for (const auto& f : list->as_array())
        froms.push_back(str(f));
      r = dmarc::check_from_domains(zone, froms, p);
    } else {
      auto q = p;
      q.from_domain = str(v.at("from"));
      r = dmarc::check(zone, q);
      // The async driver gives the same answer.
      std::optional<dmarc::check_result> a;
      dmarc::async_check(zone, q, [&](dmarc::check_result x) { a = std::move(x); });
      ASSERT_TRUE(a);
      EXPECT_EQ(a->result, r.result);
    }
    for (const auto& [key, want] : v.at("expect").as_object()) {
      if (key == "result") {
        EXPECT_EQ(dmarc::to_string(r.result), want.as_string()) << r.problem;
      } else if (key == "policy") {
        EXPECT_EQ(r.policy ? json::value(dmarc::to_string(*r.policy)) : json::value(nullptr), want);
      } else if (key == "disposition") {
        EXPECT_EQ(dmarc::to_string(r.disposition), want.as_string());
      } else if (key == "policy_tag") {
        EXPECT_EQ(r.policy_tag, want.as_string());
      } else if (key == "org_domain") {
        EXPECT_EQ(r.org_domain, want.as_string());
      } else if (key == "record_domain") {
        EXPECT_EQ(r.record_domain, want.as_string());
      } else if (key == "from_domain") {
        EXPECT_EQ(r.from_domain, want.as_string());
      } else if (key == "spf_aligned") {
        EXPECT_EQ(r.spf_aligned, want.as_bool());
      } else if (key == "dkim_aligned") {
        EXPECT_EQ(r.dkim_aligned, want.as_bool());
      } else if (key == "dkim_domain") {
        EXPECT_EQ(r.dkim_domain, want.as_string());
      } else if (key == "sampled_out") {
        EXPECT_EQ(r.sampled_out, want.as_bool());
      } else if (key == "record") {
        if (want.is_null()) {
          EXPECT_FALSE(r.rec);
        } else {
          for (const auto& [t, val] : want.as_object())
            EXPECT_EQ(tag(r, std::string(t)), std::optional<std::string>(str(val))) << t;
        }
      } else {
        ADD_FAILURE() << "unknown expectation " << key;
      }
    }
    ++n;
  }
  EXPECT_GE(n, 60);
}

TEST(DmarcVectors, RecordSyntax) {
  const auto doc = load("002-record.json");
  int n = 0;
  for (const auto& vv : doc.at("vectors").as_array()) {
    const auto& v = vv.as_object();
    SCOPED_TRACE(str(v.at("id")) + " (" + str(v.at("rfc")) + ")");
    auto r = dmarc::parse_record(str(v.at("record")));
    const auto& e = v.at("expect").as_object();
    ASSERT_EQ(r.has_value(), e.at("valid").as_bool()) << (r ? "" : r.error());
    ++n;
    if (!r) continue;
    auto pol = [](std::optional<dmarc::policy> p) {
      return p ? json::value(dmarc::to_string(*p)) : json::value(nullptr);
    };
    auto uris = [](const std::vector<dmarc::report_uri>& l) {
      json::array a;
      for (const auto& u : l)
        a.push_back(json::array{json::value(u.uri), json::value(u.max_size)});
      return json::value(a);
    };
    auto strs = [](const std::vector<std::string>& l) {
      json::array a;
      for (const auto& s : l)
        a.push_back(json::value(s));
      return json::value(a);
    };
    for (const auto& [key, want] : e) {
      if (key == "valid") continue;
      if (key == "p")
        EXPECT_EQ(pol(r->p), want);
      else if (key == "sp")
        EXPECT_EQ(pol(r->sp), want);
      else if (key == "np")
        EXPECT_EQ(pol(r->np), want);
      else if (key == "adkim")
        EXPECT_EQ(r->adkim == dmarc::alignment::strict ? "s" : "r", want.as_string());
      else if (key == "aspf")
        EXPECT_EQ(r->aspf == dmarc::alignment::strict ? "s" : "r", want.as_string());
      else if (key == "pct")
        EXPECT_EQ(r->pct, want.to_number<unsigned>());
      else if (key == "ri")
        EXPECT_EQ(r->ri, want.to_number<std::uint32_t>());
      else if (key == "rua")
        EXPECT_EQ(uris(r->rua), want);
      else if (key == "ruf")
        EXPECT_EQ(uris(r->ruf), want);
      else if (key == "fo")
        EXPECT_EQ(strs(r->fo), want);
      else if (key == "rf")
        EXPECT_EQ(strs(r->rf), want);
      else if (key == "p_from_rua")
        EXPECT_EQ(r->p_from_rua, want.as_bool());
      else if (key == "warnings")
        EXPECT_EQ(r->warnings.size(), want.to_number<std::size_t>());
      else
        ADD_FAILURE() << "unknown expectation " << key;
    }
  }
  EXPECT_GE(n, 20);
}

TEST(DmarcOutput, AuthenticationResults) {
  dmarc::check_result r;
  r.result = dmarc::result::fail;
  r.policy = dmarc::policy::reject;
  r.disposition = dmarc::policy::quarantine;
  r.from_domain = "example.com";
  EXPECT_EQ(dmarc::authentication_results_part(r),
            "dmarc=fail (p=reject dis=quarantine) header.from=example.com");
  dmarc::check_result n;
  n.from_domain = "example.org";
  n.problem = "no DMARC record at _dmarc.example.org";
  EXPECT_EQ(dmarc::authentication_results_part(n),
            "dmarc=none (no DMARC record at _dmarc.example.org) header.from=example.org");
}

TEST(DmarcAlignment, Modes) {
  // RFC 7489 §3.1: strict = identical; relaxed = same organizational domain.
  EXPECT_TRUE(dmarc::aligned("Example.COM", "example.com.", dmarc::alignment::strict));
  EXPECT_FALSE(dmarc::aligned("a.example.com", "example.com", dmarc::alignment::strict));
  EXPECT_TRUE(dmarc::aligned("a.example.com", "b.example.com", dmarc::alignment::relaxed));
  EXPECT_FALSE(dmarc::aligned("example.co.uk", "other.co.uk", dmarc::alignment::relaxed));
  EXPECT_FALSE(dmarc::aligned("", "example.com", dmarc::alignment::relaxed));
}

TEST(DmarcSampling, SeedIsDeterministic) {
  // RFC 7489 §6.6.4: pct sampling; with a seed the draw repeats.
  dns::static_resolver zone;
  zone.add("_dmarc.example.com", dns::rtype::txt, dns::txt{{"v=DMARC1; p=reject; pct=50"}});
  dmarc::check_params p;
  p.from_domain = "example.com";
  int out = 0;
  for (std::uint32_t seed = 0; seed < 200; ++seed) {
    p.seed = seed;
    const auto a = dmarc::check(zone, p);
    const auto b = dmarc::check(zone, p);
    EXPECT_EQ(a.sampled_out, b.sampled_out);
    out += a.sampled_out ? 1 : 0;
  }
  EXPECT_GT(out, 50); // about half of 200 draws fall outside pct=50
  EXPECT_LT(out, 150);
}
