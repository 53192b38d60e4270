// SPDX-License-Identifier: Apache-2.0
// spf_throughput [SECONDS]: SPF check_host() evaluations per second over the 203 tests of the
// OpenSPF RFC 7208 suite, each against its zone in a dns::static_resolver (the same loading as
// the conformance test, tests/unit/spf/suite_zone.hpp), and DMARC evaluations per second over
// tests/data/dmarc/001-evaluation.json. Prints one line:
//   spf_evals_per_s=N dmarc_evals_per_s=N spf_checks=203 dmarc_checks=N
// benchmarks/spf_bench.sh runs it beside pyspf (benchmarks/spf_pyspf.py) on the same suite.
#include "suite_zone.hpp"

#include <mailkit/dmarc/dmarc.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace mailkit;
using clock_type = std::chrono::steady_clock;
namespace json = boost::json;

namespace {

struct dmarc_case {
  std::unique_ptr<dns::static_resolver> zone;
  dmarc::check_params params;
};

std::vector<dmarc_case> load_dmarc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto doc = json::parse(ss.str());
  std::vector<dmarc_case> out;
  for (const auto& vv : doc.at("vectors").as_array()) {
    const auto& v = vv.as_object();
    if (!v.contains("from")) continue;
    dmarc_case c;
    c.zone = std::make_unique<dns::static_resolver>();
    for (const auto& [name, types] : v.at("zone").as_object()) {
      if (types.is_string()) {
        c.zone->fail(name, dns::errc::timed_out);
        continue;
      }
      for (const auto& [type, values] : types.as_object()) {
        for (const auto& val : values.as_array()) {
          if (type == "TXT") {
            c.zone->add(name, dns::rtype::txt, dns::txt{{spf::testing::str(val)}});
          } else if (type == "MX") {
            c.zone->add(name, dns::rtype::mx,
                        dns::mx{static_cast<std::uint16_t>(val.as_array()[0].to_number<int>()),
                                spf::testing::str(val.as_array()[1])});
          } else {
            auto ip = spf::parse_ip(spf::testing::str(val));
            if (auto* v4 = std::get_if<dns::ipv4>(&*ip))
              c.zone->add(name, dns::rtype::a, *v4);
            else
              c.zone->add(name, dns::rtype::aaaa, std::get<dns::ipv6>(*ip));
          }
        }
      }
    }
    c.params.from_domain = spf::testing::str(v.at("from"));
    const auto& s = v.at("spf").as_array();
    c.params.spf_result = *spf::parse_result_name(spf::testing::str(s[0]));
    c.params.spf_domain = spf::testing::str(s[1]);
    for (const auto& d : v.at("dkim").as_array())
      c.params.dkim.push_back({spf::testing::str(d.as_array()[0]),
                               *dmarc::parse_auth_result(spf::testing::str(d.as_array()[1]))});
    c.params.sample = 0;
    out.push_back(std::move(c));
  }
  return out;
}

template <class F>
double per_second(double seconds, std::size_t batch, F&& run_batch) {
  std::size_t done = 0;
  const auto start = clock_type::now();
  double elapsed = 0;
  do {
    run_batch();
    done += batch;
    elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  } while (elapsed < seconds);
  return static_cast<double>(done) / elapsed;
}

} // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const std::string root = MAILKIT_SOURCE_DIR;
  spf::testing::suite s(root + "/tests/data/spf/openspf/rfc7208-tests.json");
  std::vector<std::pair<dns::resolver*, spf::check_params>> checks;
  for (const auto& tv : s.tests()) {
    const auto& t = tv.as_object();
    checks.emplace_back(s.zones.at(static_cast<std::size_t>(t.at("zone").to_number<int>())).get(),
                        spf::testing::params_of(t));
  }
  const auto dmarc_cases = load_dmarc(root + "/tests/data/dmarc/001-evaluation.json");

  std::size_t sink = 0;
  const double spf_rate = per_second(seconds, checks.size(), [&] {
    for (auto& [r, p] : checks)
      sink += static_cast<std::size_t>(spf::check_host(*r, p).result);
  });
  const double dmarc_rate = per_second(seconds, dmarc_cases.size(), [&] {
    for (auto& c : dmarc_cases)
      sink += static_cast<std::size_t>(dmarc::check(*c.zone, c.params).result);
  });
  std::printf("spf_evals_per_s=%.0f dmarc_evals_per_s=%.0f spf_checks=%zu dmarc_checks=%zu "
              "sink=%zu\n",
              spf_rate, dmarc_rate, checks.size(), dmarc_cases.size(), sink % 10);
  return 0;
}
