// SPDX-License-Identifier: Apache-2.0
// Conformance: the Public Suffix List test vectors (tests/data/psl/test_psl.txt, from Debian's
// publicsuffix package) against registrable_domain(), which gives DMARC its organizational
// domain (RFC 7489 §3.2). Every checkPublicSuffix(input, expected) line is one case.
#include <mailkit/dmarc/org_domain.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

using namespace mailkit;

TEST(Psl, DebianTestVectors) {
  std::ifstream in(std::string(MAILKIT_TEST_DATA) + "/psl/test_psl.txt");
  ASSERT_TRUE(in);
  const std::regex call(R"(^checkPublicSuffix\((null|'([^']*)'),\s*(null|'([^']*)')\);)");
  std::string line;
  int cases = 0, passed = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, call)) continue;
    ++cases;
    const bool input_null = m[1] == "null";
    const std::optional<std::string> want =
        m[3] == "null" ? std::nullopt : std::optional<std::string>(m[4].str());
    const std::optional<std::string> got =
        input_null ? std::nullopt : dmarc::registrable_domain(m[2].str());
    if (got == want) {
      ++passed;
    } else {
      ADD_FAILURE() << line << " -> " << (got ? *got : "null");
    }
  }
  EXPECT_EQ(cases, 78);
  EXPECT_EQ(passed, cases);
  std::printf("[ psl      ] %d/%d passed (list: %s)\n", passed, cases, dmarc::psl_source().c_str());
}

TEST(Psl, OrganizationalDomainFallsBackToTheDomain) {
  // RFC 7489 §3.2: a public suffix, or a name with no registrable domain, stands for itself.
  EXPECT_EQ(dmarc::organizational_domain("co.uk"), "co.uk");
  EXPECT_EQ(dmarc::organizational_domain("Mail.Example.CO.UK."), "example.co.uk");
  EXPECT_EQ(dmarc::organizational_domain("a.b.example.com"), "example.com");
}
