// SPDX-License-Identifier: Apache-2.0
// Names and values of resolver.hpp: IDNA, comparisons, reverse names, addresses, record types.
#include <mailkit/dns/resolver.hpp>

#include <gtest/gtest.h>

namespace dns = mailkit::dns;

TEST(dns_names, to_ascii_ascii) {
  EXPECT_EQ(dns::to_ascii("Example.COM.").value(), "example.com");
  EXPECT_EQ(dns::to_ascii("_dmarc.Example.com").value(), "_dmarc.example.com"); // no STD3 rules
  EXPECT_EQ(dns::to_ascii("sel._domainkey.example.com").value(), "sel._domainkey.example.com");
  EXPECT_EQ(dns::to_ascii("xn--bcher-kva.example").value(), "xn--bcher-kva.example");
}

TEST(dns_names, to_ascii_idna2008_uts46) {
  // Rows: U-label in, A-label out (UTS #46 non-transitional processing, IDNA2008).
  struct row {
    const char* in;
    const char* out;
  };
  for (const row r :
       {row{"bücher.example", "xn--bcher-kva.example"},
        row{"BÜCHER.example", "xn--bcher-kva.example"}, // UTS #46 maps case
        row{"faß.de", "xn--fa-hia.de"},                 // non-transitional: ß kept
        row{"例え.テスト", "xn--r8jz45g.xn--zckzah"}, row{"münchen.de.", "xn--mnchen-3ya.de"},
        row{"_dmarc.bücher.example", "_dmarc.xn--bcher-kva.example"}}) {
    auto a = dns::to_ascii(r.in);
    ASSERT_TRUE(a) << r.in;
    EXPECT_EQ(*a, r.out) << r.in;
  }
}

TEST(dns_names, to_ascii_rejects) {
  const std::string l63(63, 'a'), l64(64, 'a');
  EXPECT_TRUE(dns::to_ascii(l63 + ".example"));
  EXPECT_FALSE(dns::to_ascii(l64 + ".example"));
  EXPECT_FALSE(dns::to_ascii(""));
  EXPECT_FALSE(dns::to_ascii("."));
  EXPECT_FALSE(dns::to_ascii("a..example"));
  EXPECT_FALSE(dns::to_ascii(".example"));
  std::string n;
  while (n.size() < 250)
    n += "abcdefghi.";
  n += "com"; // 253 octets is the most
  EXPECT_EQ(n.size(), 253u);
  EXPECT_TRUE(dns::to_ascii(n));
  EXPECT_FALSE(dns::to_ascii("x" + n));
  // Invalid UTF-8 and disallowed code points fail IDNA.
  EXPECT_FALSE(dns::to_ascii("bad\xff.example"));
  EXPECT_FALSE(dns::to_ascii("a\xe2\x80\x8d\xe2\x80\x8d.example")); // ZWJ without context
  auto e = dns::to_ascii("a\xff");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), dns::make_error_code(dns::errc::bad_name));
  EXPECT_TRUE(mailkit::is_permanent(e.error()));
}

TEST(dns_names, same_name) {
  EXPECT_TRUE(dns::same_name("Example.COM", "example.com."));
  EXPECT_TRUE(dns::same_name("a.b.", "A.B"));
  EXPECT_FALSE(dns::same_name("a.b", "a.bc"));
  EXPECT_FALSE(dns::same_name("ä.b", "Ä.b")); // only ASCII folds (RFC 4343)
}

TEST(dns_names, reverse_names) {
  EXPECT_EQ(dns::reverse_name(dns::parse_ipv4("192.0.2.1").value()), "1.2.0.192.in-addr.arpa");
  // RFC 3596 §2.5 example.
  EXPECT_EQ(dns::reverse_name(dns::parse_ipv6("4321:0:1:2:3:4:567:89ab").value()),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa");
}

TEST(dns_names, addresses) {
  EXPECT_EQ(dns::to_string(dns::parse_ipv4("10.0.0.255").value()), "10.0.0.255");
  for (const char* bad : {"1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "", "a.b.c.d"})
    EXPECT_FALSE(dns::parse_ipv4(bad)) << bad;
  // RFC 5952 §4 canonical text, and §5 for IPv4-mapped addresses.
  struct row {
    const char* in;
    const char* out;
  };
  for (const row r :
       {row{"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        row{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
        row{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
        row{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"}, row{"::", "::"}, row{"::1", "::1"},
        row{"1::", "1::"}, row{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
        row{"fe80::abcd:ef01", "fe80::abcd:ef01"}}) {
    auto a = dns::parse_ipv6(r.in);
    ASSERT_TRUE(a) << r.in;
    EXPECT_EQ(dns::to_string(*a), r.out) << r.in;
  }
  for (const char* bad : {"1:2:3:4:5:6:7:8:9", "::1::", "12345::", "g::", "", "1.2.3.4"})
    EXPECT_FALSE(dns::parse_ipv6(bad)) << bad;
}

TEST(dns_names, rtypes) {
  for (auto t : {dns::rtype::a, dns::rtype::aaaa, dns::rtype::mx, dns::rtype::txt, dns::rtype::ptr,
                 dns::rtype::cname, dns::rtype::ns, dns::rtype::soa, dns::rtype::tlsa,
                 dns::rtype::srv, dns::rtype::caa}) {
    EXPECT_EQ(dns::parse_rtype(dns::to_string(t)).value(), t);
  }
  EXPECT_EQ(dns::parse_rtype("aaaa").value(), dns::rtype::aaaa);
  EXPECT_EQ(dns::parse_rtype("Mx").value(), dns::rtype::mx);
  EXPECT_EQ(dns::parse_rtype("srv").value(), dns::rtype::srv);
  EXPECT_FALSE(dns::parse_rtype("NAPTR"));
  EXPECT_FALSE(dns::parse_rtype(""));
}

TEST(dns_names, answer_views) {
  dns::answer a;
  a.records = {{dns::mx{20, "b"}, 1},
               {dns::mx{10, "a"}, 1},
               {dns::mx{20, "c"}, 1},
               {dns::txt{{"v=spf1 ", "-all"}}, 1},
               {dns::name_rdata{"n"}, 1}};
  const auto mx = a.mx_records();
  ASSERT_EQ(mx.size(), 3u);
  EXPECT_EQ(mx[0].exchange, "a");
  EXPECT_EQ(mx[1].exchange, "b"); // stable among equal preferences
  EXPECT_EQ(mx[2].exchange, "c");
  EXPECT_EQ(a.txt_joined(), std::vector<std::string>{"v=spf1 -all"});
  EXPECT_EQ(a.names(), std::vector<std::string>{"n"});
  EXPECT_TRUE(a.a().empty());
  EXPECT_FALSE(a.empty());
}
