// SPDX-License-Identifier: Apache-2.0
// MX resolution over an in-memory zone: preference order, several addresses, implicit MX,
// null MX, NXDOMAIN, unresolvable hosts, DNS failures.
#include <mailkit/relay/mx.hpp>

#include <mailkit/dns/static_resolver.hpp>

#include <gtest/gtest.h>

#include <set>

using namespace mailkit;
using namespace mailkit::relay;

namespace {

mx_options stable() {
  mx_options o;
  o.shuffle = [](std::vector<mx_host>::iterator, std::vector<mx_host>::iterator) {};
  return o;
}

} // namespace

TEST(relay_mx, preference_order_and_addresses) {
  dns::static_resolver z;
  ASSERT_TRUE(z.add("example.test", dns::rtype::mx, "20 backup.example.test"));
  ASSERT_TRUE(z.add("example.test", dns::rtype::mx, "10 mx1.example.test"));
  ASSERT_TRUE(z.add("mx1.example.test", dns::rtype::a, "192.0.2.1"));
  ASSERT_TRUE(z.add("mx1.example.test", dns::rtype::a, "192.0.2.2"));
  ASSERT_TRUE(z.add("mx1.example.test", dns::rtype::aaaa, "2001:db8::1"));
  ASSERT_TRUE(z.add("backup.example.test", dns::rtype::a, "192.0.2.9"));
  const mx_plan p = resolve_mx(z, "example.test", stable());
  ASSERT_EQ(p.hosts.size(), 2u);
  EXPECT_EQ(p.hosts[0].name, "mx1.example.test");
  EXPECT_EQ(p.hosts[0].preference, 10);
  EXPECT_EQ(p.hosts[0].addresses,
            (std::vector<std::string>{"2001:db8::1", "192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(p.hosts[1].name, "backup.example.test");
  EXPECT_EQ(p.hosts[1].addresses, std::vector<std::string>{"192.0.2.9"});
}

TEST(relay_mx, equal_preferences_are_shuffled_within_their_group) {
  dns::static_resolver z;
  for (int i = 0; i < 6; ++i) {
    const std::string h = "mx" + std::to_string(i) + ".example.test";
    ASSERT_TRUE(z.add("example.test", dns::rtype::mx, (i < 5 ? "10 " : "20 ") + h));
    ASSERT_TRUE(z.add(h, dns::rtype::a, "192.0.2." + std::to_string(i + 1)));
  }
  std::set<std::string> firsts;
  for (int round = 0; round < 60; ++round) {
    const mx_plan p = resolve_mx(z, "example.test");
    ASSERT_EQ(p.hosts.size(), 6u);
    EXPECT_EQ(p.hosts.back().name, "mx5.example.test"); // preference 20 always last
    firsts.insert(p.hosts.front().name);
  }
  EXPECT_GT(firsts.size(), 1u);
}

TEST(relay_mx, implicit_mx) {
  dns::static_resolver z;
  ASSERT_TRUE(z.add("plain.test", dns::rtype::a, "192.0.2.7"));
  const mx_plan p = resolve_mx(z, "plain.test", stable());
  ASSERT_EQ(p.hosts.size(), 1u);
  EXPECT_EQ(p.hosts[0].name, "plain.test");
  EXPECT_EQ(p.hosts[0].addresses, std::vector<std::string>{"192.0.2.7"});
}

TEST(relay_mx, null_mx_is_permanent) {
  dns::static_resolver z;
  z.add("nomail.test", dns::rtype::mx, dns::mx{0, ""});
  ASSERT_TRUE(z.add("nomail.test", dns::rtype::a, "192.0.2.8")); // must not be used
  const mx_plan p = resolve_mx(z, "nomail.test", stable());
  EXPECT_TRUE(p.hosts.empty());
  EXPECT_TRUE(p.permanent);
  EXPECT_TRUE(p.null_mx);
  EXPECT_EQ(p.status, "5.1.10");
}

TEST(relay_mx, nxdomain_and_no_address_are_permanent) {
  dns::static_resolver z;
  ASSERT_TRUE(z.add("other.test", dns::rtype::a, "192.0.2.1"));
  mx_plan p = resolve_mx(z, "missing.test", stable());
  EXPECT_TRUE(p.hosts.empty());
  EXPECT_TRUE(p.permanent);
  EXPECT_EQ(p.status, "5.1.2");
  ASSERT_TRUE(z.add("txtonly.test", dns::rtype::txt, "hello"));
  p = resolve_mx(z, "txtonly.test", stable());
  EXPECT_TRUE(p.hosts.empty());
  EXPECT_TRUE(p.permanent);
}

TEST(relay_mx, unresolvable_hosts_are_skipped) {
  dns::static_resolver z;
  ASSERT_TRUE(z.add("example.test", dns::rtype::mx, "10 gone.example.test"));
  ASSERT_TRUE(z.add("example.test", dns::rtype::mx, "20 mx.example.test"));
  ASSERT_TRUE(z.add("mx.example.test", dns::rtype::a, "192.0.2.5"));
  const mx_plan p = resolve_mx(z, "example.test", stable());
  ASSERT_EQ(p.hosts.size(), 1u);
  EXPECT_EQ(p.hosts[0].name, "mx.example.test");
}

TEST(relay_mx, dns_failures_are_transient) {
  dns::static_resolver z;
  z.fail("slow.test", dns::errc::timed_out);
  mx_plan p = resolve_mx(z, "slow.test", stable());
  EXPECT_TRUE(p.hosts.empty());
  EXPECT_FALSE(p.permanent);
  EXPECT_EQ(p.status, "4.4.3");
  ASSERT_TRUE(z.add("half.test", dns::rtype::mx, "10 mx.half.test"));
  z.fail("mx.half.test", dns::errc::servfail);
  p = resolve_mx(z, "half.test", stable());
  EXPECT_TRUE(p.hosts.empty());
  EXPECT_FALSE(p.permanent);
}

TEST(relay_mx, dnssec_security_of_the_mx_and_its_addresses) {
  // RFC 7672 §2.2.1 / §2.2.2: DANE needs a secure MX RRset and secure address records.
  dns::static_resolver z;
  ASSERT_TRUE(z.add("signed.test", dns::rtype::mx, "10 mx.signed.test"));
  ASSERT_TRUE(z.add("signed.test", dns::rtype::mx, "20 mx.unsigned.test"));
  ASSERT_TRUE(z.add("mx.signed.test", dns::rtype::a, "192.0.2.1"));
  ASSERT_TRUE(z.add("mx.unsigned.test", dns::rtype::a, "192.0.2.2"));
  z.set_authenticated("signed.test");
  z.set_authenticated("mx.signed.test");
  ASSERT_TRUE(z.add("plain.test", dns::rtype::mx, "10 mx.signed.test"));
  ASSERT_TRUE(z.add("implicit.test", dns::rtype::a, "192.0.2.3"));
  z.set_authenticated("implicit.test");
  mx_options o = stable();
  o.ipv6 = false;
  const mx_plan p = resolve_mx(z, "signed.test", o);
  ASSERT_EQ(p.hosts.size(), 2u);
  EXPECT_TRUE(p.secure);
  EXPECT_TRUE(p.hosts[0].secure);
  EXPECT_FALSE(p.hosts[1].secure);
  EXPECT_FALSE(resolve_mx(z, "plain.test", o).secure);
  const mx_plan i = resolve_mx(z, "implicit.test", o);
  ASSERT_EQ(i.hosts.size(), 1u);
  EXPECT_TRUE(i.secure);
  EXPECT_TRUE(i.hosts[0].secure);
}
