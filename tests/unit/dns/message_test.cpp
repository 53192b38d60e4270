// SPDX-License-Identifier: Apache-2.0
// The sans-I/O wire format: queries we build, responses we parse, answers we derive.
#include <mailkit/dns/message.hpp>

#include <gtest/gtest.h>

#include <initializer_list>

namespace dns = mailkit::dns;
namespace wire = mailkit::dns::wire;
using bytes = std::vector<std::uint8_t>;

namespace {

wire::resource_record rr(std::string name, dns::rtype t, dns::rdata d, std::uint32_t ttl = 300) {
  wire::resource_record r;
  r.name = std::move(name);
  r.type = static_cast<std::uint16_t>(t);
  r.ttl = ttl;
  r.data = std::move(d);
  return r;
}

// A response to (name, type) with the given sections.
wire::message response(std::string name, dns::rtype t, std::uint16_t rcode = 0) {
  wire::message m;
  m.hdr.id = 0x1234;
  m.hdr.qr = true;
  m.hdr.rd = m.hdr.ra = true;
  m.hdr.rcode = rcode;
  m.questions.push_back({std::move(name), static_cast<std::uint16_t>(t), 1});
  return m;
}

dns::soa example_soa(std::uint32_t minimum) {
  return dns::soa{"ns.example.com", "hostmaster.example.com", 1, 3600, 600, 86400, minimum};
}

bytes raw(std::initializer_list<int> v) {
  bytes out;
  for (int b : v)
    out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

} // namespace

TEST(dns_wire, query_layout) {
  auto q = wire::build_query(0xBEEF, "Mail.Example.com.", 15);
  ASSERT_TRUE(q);
  const bytes expected = raw({0xBE, 0xEF, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1, // header
                              4, 'M', 'a', 'i', 'l', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c',
                              'o', 'm', 0, 0, 15, 0, 1,
                              // RFC 6891 §6.1.2 OPT: root, type 41, payload 1232, TTL 0, RDLEN 0
                              0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(*q, expected);
  auto m = wire::parse_message(*q);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->hdr.rd);
  EXPECT_TRUE(m->hdr.ad); // RFC 6840 §5.7
  EXPECT_FALSE(m->hdr.qr);
  ASSERT_TRUE(m->edns);
  EXPECT_EQ(m->edns->udp_payload, 1232);
  EXPECT_FALSE(m->edns->dnssec_ok);
}

TEST(dns_wire, query_options) {
  wire::query_options o;
  o.edns = false;
  o.authentic_data = false;
  auto q = wire::build_query(1, "a.b", 1, o);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->size(), 12u + 5 + 4);
  EXPECT_EQ((*q)[3], 0x00);
  o.edns = true;
  o.dnssec_ok = true;
  q = wire::build_query(1, "a.b", 1, o);
  ASSERT_TRUE(q);
  auto m = wire::parse_message(*q);
  ASSERT_TRUE(m && m->edns);
  EXPECT_TRUE(m->edns->dnssec_ok);
}

TEST(dns_wire, query_name_limits) {
  // RFC 1035 §2.3.4: labels of 63 octets at most, names of 255 in wire form.
  const std::string l63(63, 'a'), l64(64, 'a');
  EXPECT_TRUE(wire::build_query(1, l63 + ".com", 1));
  EXPECT_FALSE(wire::build_query(1, l64 + ".com", 1));
  EXPECT_FALSE(wire::build_query(1, "a..com", 1));
  std::string long_name;
  for (int i = 0; i < 4; ++i)
    long_name += l63 + ".";
  EXPECT_FALSE(wire::build_query(1, long_name + "com", 1)); // 4*64 + 4 + 1 > 255
  // Escapes of the presentation form (RFC 1035 §5.1).
  auto q = wire::build_query(1, "a\\.b.c", 1);
  ASSERT_TRUE(q);
  auto m = wire::parse_message(*q);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->questions[0].name, "a\\.b.c");
  EXPECT_EQ((*q)[12], 3); // one label "a.b"
}

TEST(dns_wire, every_type_round_trips) {
  auto m = response("example.com", dns::rtype::a);
  m.answers = {
      rr("example.com", dns::rtype::a, dns::ipv4{{192, 0, 2, 1}}),
      rr("example.com", dns::rtype::aaaa,
         dns::ipv6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}),
      rr("example.com", dns::rtype::mx, dns::mx{10, "mx.example.com"}),
      rr("example.com", dns::rtype::mx, dns::mx{0, ""}), // RFC 7505 null MX
      rr("example.com", dns::rtype::txt, dns::txt{{"v=spf1 ", "-all", ""}}),
      rr("example.com", dns::rtype::ns, dns::name_rdata{"ns1.example.com"}),
      rr("example.com", dns::rtype::soa, example_soa(60)),
      rr("_25._tcp.mx.example.com", dns::rtype::tlsa,
         dns::tlsa{3, 1, 1, std::string("\x01\x02\xff", 3)}),
      rr("1.2.0.192.in-addr.arpa", dns::rtype::ptr, dns::name_rdata{"host.example.com"}),
      rr("_submissions._tcp.example.com", dns::rtype::srv, dns::srv{0, 1, 465, "mail.example.com"}),
      rr("_imap._tcp.example.com", dns::rtype::srv, dns::srv{0, 0, 0, ""}), // RFC 6186 "."
      rr("example.com", dns::rtype::caa, dns::caa{128, "issue", "letsencrypt.org"}),
  };
  m.edns = wire::edns_info{4096, 0, true};
  const auto b = wire::build_message(m);
  auto p = wire::parse_message(b);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->answers.size(), m.answers.size());
  for (std::size_t i = 0; i < m.answers.size(); ++i) {
    EXPECT_EQ(p->answers[i].name, m.answers[i].name);
    EXPECT_EQ(p->answers[i].type, m.answers[i].type);
    EXPECT_EQ(p->answers[i].ttl, m.answers[i].ttl);
    ASSERT_TRUE(p->answers[i].data);
    EXPECT_EQ(*p->answers[i].data, *m.answers[i].data) << i;
  }
  ASSERT_TRUE(p->edns);
  EXPECT_EQ(p->edns->udp_payload, 4096);
  EXPECT_TRUE(p->edns->dnssec_ok);
  EXPECT_TRUE(p->hdr.qr);
  EXPECT_EQ(p->hdr.id, 0x1234);
}

TEST(dns_wire, compression_pointers) {
  // Response for example.com A with the answer owner compressed to the question name, and an MX
  // exchange compressed to a suffix ("mx" + pointer to example.com).
  bytes b = raw({0,    1,   0x81, 0x80, 0, 1,   0,   2,   0, 0,  0,  0, 7,   'e',  'x',  'a',
                 'm',  'p', 'l',  'e',  3, 'c', 'o', 'm', 0, 0,  15, 0, 1,   0xC0, 12,   0,
                 15,   0,   1,    0,    0, 0,   60,  0,   7, 0,  10, 2, 'm', 'x',  0xC0, 12,
                 0xC0, 12,  0,    15,   0, 1,   0,   0,   0, 30, 0,  4, 0,   20,   0xC0, 43});
  auto a = wire::parse_answer(b, "example.com", dns::rtype::mx);
  ASSERT_TRUE(a) << a.error().message();
  auto mx = a->mx_records();
  ASSERT_EQ(mx.size(), 2u);
  EXPECT_EQ(mx[0].exchange, "mx.example.com");
  EXPECT_EQ(mx[1].exchange, "mx.example.com"); // pointer to a pointer
  EXPECT_EQ(a->ttl, 30u);
}

TEST(dns_wire, hostile_names_rejected) {
  const bytes header = raw({0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0});
  auto with = [&](bytes question) {
    bytes b = header;
    b.insert(b.end(), question.begin(), question.end());
    return wire::parse_message(b);
  };
  // Rows: pointer to itself, forward pointer, pointer loop through a label, reserved label
  // types 0x40 and 0x80, label past the end, missing terminator, 256-octet name.
  EXPECT_FALSE(with(raw({0xC0, 12, 0, 1, 0, 1})));
  EXPECT_FALSE(with(raw({0xC0, 20, 0, 1, 0, 1, 0, 0})));
  EXPECT_FALSE(with(raw({1, 'a', 0xC0, 12, 0, 1, 0, 1})));
  EXPECT_FALSE(with(raw({0x41, 'a', 0, 0, 1, 0, 1})));
  EXPECT_FALSE(with(raw({0x81, 'a', 0, 0, 1, 0, 1})));
  EXPECT_FALSE(with(raw({5, 'a', 'b'})));
  EXPECT_FALSE(with(raw({1, 'a'})));
  bytes big;
  for (int i = 0; i < 5; ++i) {
    big.push_back(63);
    big.insert(big.end(), 63, 'x');
  }
  big.push_back(0);
  big.insert(big.end(), {0, 1, 0, 1});
  EXPECT_FALSE(with(big));
  // Counts larger than the message.
  EXPECT_FALSE(wire::parse_message(raw({0, 1, 0x81, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0})));
  EXPECT_FALSE(wire::parse_message(raw({0, 1, 0x81})));
}

TEST(dns_wire, rdata_length_must_match) {
  // An A record with RDLENGTH 5.
  bytes b = raw({0, 1,    0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0,
                 1, 0xC0, 12,   0,    1, 0, 1, 0, 0, 0, 1, 0, 5, 1,   2, 3, 4, 5});
  EXPECT_FALSE(wire::parse_message(b));
  // A TXT string running past its RDATA.
  b = raw({0, 1, 0x81, 0x80, 0, 1,  0, 1, 0, 0, 0, 0, 1, 'a', 0, 0,   16,
           0, 1, 0xC0, 12,   0, 16, 0, 1, 0, 0, 0, 1, 0, 3,   5, 'a', 'b'});
  EXPECT_FALSE(wire::parse_message(b));
  // An unknown type is skipped whole.
  b = raw({0, 1, 0x81, 0x80, 0, 1,  0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1,
           0, 1, 0xC0, 12,   0, 99, 0, 1, 0, 0, 0, 1, 0, 3,   1, 2, 3});
  auto m = wire::parse_message(b);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_FALSE(m->answers[0].data);
}

TEST(dns_wire, ttl_top_bit_is_zero) {
  // RFC 2181 §8.
  auto m = response("a.example", dns::rtype::a);
  m.answers.push_back(rr("a.example", dns::rtype::a, dns::ipv4{{1, 2, 3, 4}}, 0x80000001u));
  auto p = wire::parse_message(wire::build_message(m));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->answers[0].ttl, 0u);
}

TEST(dns_wire, answer_follows_cname_chain) {
  auto m = response("www.example.com", dns::rtype::a);
  m.hdr.ad = true;
  m.answers = {rr("www.example.com", dns::rtype::cname, dns::name_rdata{"web.example.net"}, 100),
               rr("WEB.example.net", dns::rtype::cname, dns::name_rdata{"host.example.org"}, 50),
               rr("host.example.org", dns::rtype::a, dns::ipv4{{192, 0, 2, 7}}, 600),
               rr("unrelated.example", dns::rtype::a, dns::ipv4{{192, 0, 2, 8}}, 600)};
  auto a = wire::parse_answer(wire::build_message(m), "WWW.example.com.", dns::rtype::a);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "www.example.com");
  EXPECT_EQ(a->canonical_name, "host.example.org");
  ASSERT_EQ(a->a().size(), 1u);
  EXPECT_EQ(dns::to_string(a->a()[0]), "192.0.2.7");
  EXPECT_EQ(a->ttl, 50u); // lowest along the chain
  EXPECT_TRUE(a->authenticated);
  // Asking for the CNAME itself does not follow it.
  auto c = response("www.example.com", dns::rtype::cname);
  c.answers = m.answers;
  auto ca = wire::parse_answer(wire::build_message(c), "www.example.com", dns::rtype::cname);
  ASSERT_TRUE(ca);
  EXPECT_EQ(ca->names(), std::vector<std::string>{"web.example.net"});
}

TEST(dns_wire, cname_loop_is_bad_response) {
  auto m = response("a.example", dns::rtype::a);
  m.answers = {rr("a.example", dns::rtype::cname, dns::name_rdata{"b.example"}),
               rr("b.example", dns::rtype::cname, dns::name_rdata{"a.example"})};
  auto a = wire::parse_answer(wire::build_message(m), "a.example", dns::rtype::a);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), dns::make_error_code(dns::errc::bad_response));
}

TEST(dns_wire, negative_answers_take_soa_ttl) {
  // RFC 2308 §5: min(SOA TTL, MINIMUM).
  auto nx = response("nope.example.com", dns::rtype::a, 3);
  nx.authority = {rr("example.com", dns::rtype::soa, example_soa(120), 3600)};
  auto a = wire::parse_answer(wire::build_message(nx), "nope.example.com", dns::rtype::a);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, dns::rcode::nxdomain);
  EXPECT_TRUE(a->empty());
  EXPECT_EQ(a->ttl, 120u);
  nx.authority[0].ttl = 30;
  a = wire::parse_answer(wire::build_message(nx), "nope.example.com", dns::rtype::a);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ttl, 30u);

  auto nodata = response("example.com", dns::rtype::aaaa);
  nodata.authority = {rr("example.com", dns::rtype::soa, example_soa(300), 3600)};
  a = wire::parse_answer(wire::build_message(nodata), "example.com", dns::rtype::aaaa);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, dns::rcode::noerror);
  EXPECT_TRUE(a->empty());
  EXPECT_EQ(a->ttl, 300u);

  // No SOA: not cacheable.
  nodata.authority.clear();
  a = wire::parse_answer(wire::build_message(nodata), "example.com", dns::rtype::aaaa);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ttl, 0u);
}

TEST(dns_wire, rcodes_become_errors) {
  struct row {
    std::uint16_t rcode;
    dns::errc error;
  };
  for (const row r :
       {row{1, dns::errc::formerr}, row{2, dns::errc::servfail}, row{4, dns::errc::notimp},
        row{5, dns::errc::refused}, row{9, dns::errc::bad_response}}) {
    auto m = response("example.com", dns::rtype::a, r.rcode);
    auto a = wire::parse_answer(wire::build_message(m), "example.com", dns::rtype::a);
    ASSERT_FALSE(a) << r.rcode;
    EXPECT_EQ(a.error(), dns::make_error_code(r.error)) << r.rcode;
  }
  EXPECT_FALSE(mailkit::is_permanent(dns::make_error_code(dns::errc::servfail)));
  EXPECT_FALSE(mailkit::is_permanent(dns::make_error_code(dns::errc::timed_out)));
  EXPECT_TRUE(mailkit::is_permanent(dns::make_error_code(dns::errc::notimp)));
  EXPECT_TRUE(mailkit::is_permanent(dns::make_error_code(dns::errc::bad_name)));
  EXPECT_EQ(std::string(dns::category().name()), "mailkit.dns");
}

TEST(dns_wire, extended_rcode_from_opt) {
  // RFC 6891 §6.1.3: BADVERS (16) = upper bits 1 in the OPT TTL, lower bits 0 in the header.
  auto m = response("example.com", dns::rtype::a, 16);
  m.edns = wire::edns_info{};
  auto p = wire::parse_message(wire::build_message(m));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->hdr.rcode, 16);
  EXPECT_FALSE(wire::to_answer(*p, "example.com", dns::rtype::a));
}

TEST(dns_wire, response_must_match_question) {
  auto m = response("example.com", dns::rtype::a);
  m.answers = {rr("example.com", dns::rtype::a, dns::ipv4{{1, 2, 3, 4}})};
  const auto b = wire::build_message(m);
  EXPECT_TRUE(wire::parse_answer(b, "EXAMPLE.com", dns::rtype::a));
  EXPECT_FALSE(wire::parse_answer(b, "example.org", dns::rtype::a));
  EXPECT_FALSE(wire::parse_answer(b, "example.com", dns::rtype::aaaa));
  m.hdr.qr = false;
  EXPECT_FALSE(wire::parse_answer(wire::build_message(m), "example.com", dns::rtype::a));
  m.hdr.qr = true;
  m.hdr.tc = true; // truncated: the transport should have retried over TCP
  EXPECT_FALSE(wire::parse_answer(wire::build_message(m), "example.com", dns::rtype::a));
}

TEST(dns_wire, odd_label_octets_escape) {
  // A label with a dot and a space in it reads in presentation form and survives a round trip.
  bytes b =
      raw({0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', ' ', 1, '\\', 0, 0, 1, 0, 1});
  auto m = wire::parse_message(b);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->questions[0].name, "a\\.\\032.\\\\");
  EXPECT_EQ(wire::build_message(*m), b);
}
