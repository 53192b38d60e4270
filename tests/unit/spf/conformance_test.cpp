// SPDX-License-Identifier: Apache-2.0
// Conformance: the OpenSPF RFC 7208 suite (all 203 tests), the RFC 4408 suite (all 191: where
// RFC 7208 changed a result the suite accepts either) and the SPF tests of
// Stalwart's mail-auth, each run against dns::static_resolver loaded with the suite's zone
// (suite_zone.hpp). Explanations are compared where the suite gives one (not "DEFAULT").
#include "suite_zone.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

using namespace mailkit;
using namespace mailkit::spf::testing;

namespace {

const std::string data = std::string(MAILKIT_TEST_DATA) + "/spf/";

struct tally {
  int run = 0, passed = 0;
  std::vector<std::string> failures;
};

// Where we expect another result than the suite, and why: the Stalwart tests that contradict
// RFC 7208 as the OpenSPF RFC 7208 suite reads it. (The RFC 4408 edition needs no such rows:
// where RFC 7208 changed a result, its expectations already list both.) Each row states the result
// we give; a row whose test is gone, or which the suite's own expectation would already accept,
// fails the test.
struct deviation {
  const char* result;
  const char* why;
};
using deviations = std::map<std::string, deviation>;

const deviations& stalwart_deviations() {
  static const deviations m = {
      {"all.yml#16",
       {"permerror", "RFC 7208 §4.6: a syntax error anywhere is a permerror, even after a "
                     "matching -all (OpenSPF detect-errors-anywhere); mail-auth stops at -all"}},
      {"basic.yml#30",
       {"permerror", "RFC 7208 §4.6.4: ten a: terms on NXDOMAIN names exceed the 2 void "
                     "lookups (OpenSPF void-over-limit); mail-auth has no void limit"}},
      {"exists.yml#77",
       {"fail", "RFC 7208 §5.7: exists asks for A even for an IPv6 client (OpenSPF "
                "exists-ip6only); mail-auth asks AAAA"}},
      {"macro.yml#129",
       {"fail", "RFC 7208 §5.7: exists asks for A even for an IPv6 client (OpenSPF "
                "exists-ip6only); mail-auth asks AAAA"}},
      {"ip.yml#123",
       {"fail", "RFC 7208 §5: an IPv4 client never matches ip6:, not even ::ffff:a.b.c.d "
                "(OpenSPF cidr6-ip4); mail-auth matches it"}},
  };
  return m;
}

std::string describe(const json::object& t, const spf::check_result& r) {
  std::ostringstream os;
  os << str(t.at("name")) << " [" << str(t.at("scenario")) << "] spec " << str(t.at("spec"))
     << ": got " << spf::to_string(r.result) << " (mechanism '" << r.mechanism << "', problem '"
     << r.problem << "', explanation '" << r.explanation << "'), want "
     << json::serialize(t.at("result"));
  if (const auto* e = t.if_contains("explanation")) os << " explanation " << json::serialize(*e);
  return os.str();
}

tally run_suite(const std::string& file, const deviations& dev, int* deviated) {
  suite s(data + file);
  tally out;
  std::size_t dev_seen = 0;
  for (const auto& tv : s.tests()) {
    const auto& t = tv.as_object();
    const std::string name = str(t.at("name"));
    auto& zone = *s.zones.at(static_cast<std::size_t>(t.at("zone").to_number<int>()));
    const spf::check_result r = run_test(zone, t);
    ++out.run;
    bool ok = false;
    for (const auto& want : t.at("result").as_array())
      if (want.as_string() == spf::to_string(r.result)) ok = true;
    if (ok && r.result == spf::result::fail) {
      if (const auto* e = t.if_contains("explanation"); e && e->as_string() != "DEFAULT")
        ok = r.explanation == str(*e);
    }
    if (auto d = dev.find(name); d != dev.end()) {
      ++dev_seen;
      if (ok) {
        out.failures.push_back("deviation row no longer needed: " + name);
      } else if (spf::to_string(r.result) != d->second.result) {
        out.failures.push_back("deviation " + name + ": " + describe(t, r) + "; row says " +
                               d->second.result);
      } else {
        ++*deviated;
        ++out.passed;
      }
      continue;
    }
    if (ok)
      ++out.passed;
    else
      out.failures.push_back(describe(t, r));
  }
  if (dev_seen != dev.size()) out.failures.push_back("a deviation row names no test");
  return out;
}

void report(const tally& t) {
  for (const auto& f : t.failures)
    ADD_FAILURE() << f;
}

} // namespace

TEST(SpfConformance, Rfc7208AllTests) {
  int deviated = 0;
  const tally t = run_suite("openspf/rfc7208-tests.json", {}, &deviated);
  report(t);
  EXPECT_EQ(t.run, 203);
  EXPECT_EQ(t.passed, 203);
  std::printf("[ rfc7208  ] %d/%d passed\n", t.passed, t.run);
}

TEST(SpfConformance, Rfc4408TestsKeptByRfc7208) {
  int deviated = 0;
  const tally t = run_suite("openspf/rfc4408-tests.json", {}, &deviated);
  report(t);
  EXPECT_EQ(t.run, 191);
  EXPECT_EQ(t.passed, 191);
  std::printf("[ rfc4408  ] %d/%d passed\n", t.passed, t.run);
}

TEST(SpfConformance, StalwartMailAuth) {
  int deviated = 0;
  const tally t = run_suite("stalwart/spf-tests.json", stalwart_deviations(), &deviated);
  report(t);
  EXPECT_EQ(t.run, 163);
  EXPECT_EQ(t.passed, 163);
  std::printf("[ stalwart ] %d/%d as expected, %d of them documented deviations\n", t.passed, t.run,
              deviated);
}
