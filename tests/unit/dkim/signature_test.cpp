// SPDX-License-Identifier: Apache-2.0
#include <mailkit/dkim/auth_results.hpp>
#include <mailkit/dkim/key_record.hpp>
#include <mailkit/dkim/signature.hpp>

#include <gtest/gtest.h>

using namespace mailkit::dkim;

namespace {
const std::string good =
    "v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=sel; t=100; x=200; l=42;\r\n"
    "\th=From : To:subject; i=joe@mail.example.com; q=dns/txt; z=From:joe;\r\n"
    "\tbh=47DEQpj8HBSa+/TXW5TJKYHwQfXnl6zJLDT3FWmz5pA=; b=dGVz\r\n dA==";
}

TEST(DkimSignature, ParsesEveryTag) {
  const auto r = parse_signature(good);
  ASSERT_TRUE(r.sig) << r.error;
  const signature& s = *r.sig;
  EXPECT_EQ(s.algo, algorithm::rsa_sha256);
  EXPECT_EQ(s.header_c, canonicalization::relaxed);
  EXPECT_EQ(s.body_c, canonicalization::simple);
  EXPECT_EQ(s.d, "example.com");
  EXPECT_EQ(s.s, "sel");
  EXPECT_EQ(s.h, (std::vector<std::string>{"From", "To", "subject"}));
  EXPECT_EQ(s.i, "joe@mail.example.com");
  EXPECT_EQ(*s.l, 42u);
  EXPECT_EQ(*s.t, 100u);
  EXPECT_EQ(*s.x, 200u);
  EXPECT_EQ(s.b, "test");
  EXPECT_EQ(s.bh.size(), 32u);
  EXPECT_EQ(s.key_name(), "sel._domainkey.example.com");
  EXPECT_EQ(s.z, "From:joe");
}

TEST(DkimSignature, Defaults) {
  const auto r =
      parse_signature("v=1; a=ed25519-sha256; d=a.example; s=s; h=from; bh=AAAA; b=AAAA");
  ASSERT_TRUE(r.sig) << r.error;
  EXPECT_EQ(r.sig->header_c, canonicalization::simple);
  EXPECT_EQ(r.sig->body_c, canonicalization::simple);
  EXPECT_EQ(r.sig->i, "@a.example");
  EXPECT_EQ(r.sig->q, "dns/txt");
  const auto c =
      parse_signature("v=1; a=rsa-sha256; c=relaxed; d=a.example; s=s; h=from; bh=AAAA; b=AAAA");
  ASSERT_TRUE(c.sig);
  EXPECT_EQ(c.sig->body_c, canonicalization::simple);
}

// Every permerror reason: table rows (field, expected fragment of the reason).
TEST(DkimSignature, PermerrorReasons) {
  const std::string base = "a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA";
  const std::pair<std::string, std::string> rows[] = {
      {base, "missing required tag v="},
      {"v=1; " + base + "; v=1", "duplicate tag"},
      {"v=2; " + base, "unsupported version"},
      {"v=1; a=rsa-md5; d=example.com; s=s; h=from; bh=AAAA; b=AAAA",
       "unknown signature algorithm"},
      {"v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA", "missing required tag b="},
      {"v=1; a=rsa-sha256; d=example.com; s=s; h=from; b=AAAA", "missing required tag bh="},
      {"v=1; a=rsa-sha256; s=s; h=from; bh=AAAA; b=AAAA", "missing required tag d="},
      {"v=1; a=rsa-sha256; d=example.com; h=from; bh=AAAA; b=AAAA", "missing required tag s="},
      {"v=1; a=rsa-sha256; d=example.com; s=s; bh=AAAA; b=AAAA", "missing required tag h="},
      {"v=1; " + base + "; c=fancy", "unknown canonicalization"},
      {"v=1; " + base + "; c=relaxed/fancy", "unknown canonicalization"},
      {"v=1; a=rsa-sha256; d=example.com; s=s; h=to:subject; bh=AAAA; b=AAAA", "From is not in h="},
      {"v=1; a=rsa-sha256; d=example.com; s=s; h=from::to; bh=AAAA; b=AAAA", "empty header name"},
      {"v=1; " + base + "; i=joe@other.com", "i= domain"},
      {"v=1; " + base + "; i=joe@badexample.com", "i= domain"},
      {"v=1; " + base + "; i=nobody", "i= has no"},
      {"v=1; " + base + "; l=12a", "l= is not"},
      {"v=1; " + base + "; t=-5", "t= is not"},
      {"v=1; " + base + "; x=1234567890123", "x= is not"},
      {"v=1; " + base + "; t=200; x=100", "x= is before t="},
      {"v=1; " + base + "; q=dns", "query method"},
      {"v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AA!A; b=AAAA", "bh= is not valid base64"},
      {"v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=A", "b= is not valid base64"},
      {"v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=", "b= is empty"},
      {"v=1; a=rsa-sha256; d=exa mple.com; s=s; h=from; bh=AAAA; b=AAAA", "d= is not"},
      {"v=1; a=rsa-sha256; d=example.com; s=; h=from; bh=AAAA; b=AAAA", "s= is not"},
      {"v=1; 9x=3; " + base, "bad tag name"},
      {"v=1; novalue; " + base, "tag without"},
  };
  for (const auto& [field, why] : rows) {
    const auto r = parse_signature(field);
    EXPECT_FALSE(r.sig) << field;
    EXPECT_NE(r.error.find(why), std::string::npos) << field << " -> " << r.error;
  }
  // Unknown q= methods are ignored when dns/txt is listed (RFC 6376 §3.5).
  EXPECT_TRUE(parse_signature("v=1; " + base + "; q=foo/bar:dns/txt").sig);
  // Unknown tags are ignored.
  EXPECT_TRUE(parse_signature("v=1; " + base + "; future=1").sig);
  // i= equal to a subdomain of d= is fine.
  EXPECT_TRUE(parse_signature("v=1; " + base + "; i=@sub.EXAMPLE.com").sig);
}

TEST(DkimSignature, RemoveB) {
  EXPECT_EQ(remove_b_value("v=1; b=abc\r\n def; bh=xyz"), "v=1; b=; bh=xyz");
  EXPECT_EQ(remove_b_value("v=1; bh=xyz; b= abc "), "v=1; bh=xyz; b=");
}

TEST(DkimKeyRecord, Parses) {
  auto r = parse_key_record("v=DKIM1; k=rsa; h=sha1:sha256; s=email; t=y:s; n=hi; p=AAAA");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.key.testing());
  EXPECT_TRUE(r.key.strict());
  EXPECT_TRUE(r.key.allows_hash("sha256"));
  EXPECT_TRUE(r.key.allows_email());
  EXPECT_EQ(r.key.p.size(), 3u);
  r = parse_key_record("p=");
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.key.revoked);
  EXPECT_EQ(r.key.k, "rsa");
  EXPECT_FALSE(parse_key_record("v=DKIM2; p=AAAA").ok);
  EXPECT_FALSE(parse_key_record("k=rsa; v=DKIM1; p=AAAA").ok);
  EXPECT_FALSE(parse_key_record("k=rsa").ok);
  EXPECT_FALSE(parse_key_record("k=rsa; t; p=AAAA").ok);
  EXPECT_FALSE(parse_key_record("p=A!AA").ok);
  auto s = parse_key_record("s=chat; h=md5; p=AAAA");
  ASSERT_TRUE(s.ok);
  EXPECT_FALSE(s.key.allows_email());
  EXPECT_FALSE(s.key.allows_hash("sha256"));
  // RFC 4871 g= is just an unknown tag now.
  EXPECT_TRUE(parse_key_record("v=DKIM1; g=*poe; p=AAAA").ok);
}

TEST(DkimAuthResults, ParseOtherHosts) {
  const auto ar = parse_authentication_results(
      "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 "
      "header.b=\"abc/def\";\r\n       spf=pass (google.com: domain of a@b.c designates 1.2.3.4 "
      "as permitted sender) smtp.mailfrom=a@b.c;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) "
      "header.from=example.com; dkim/1=fail reason=\"bad sig\"");
  ASSERT_TRUE(ar);
  EXPECT_EQ(ar->authserv_id, "mx.google.com");
  ASSERT_EQ(ar->methods.size(), 4u);
  EXPECT_EQ(ar->methods[0].method, "dkim");
  EXPECT_EQ(ar->methods[0].result, "pass");
  ASSERT_EQ(ar->methods[0].properties.size(), 3u);
  EXPECT_EQ(ar->methods[0].properties[2].value, "abc/def");
  EXPECT_EQ(ar->methods[1].properties[0].property, "mailfrom");
  EXPECT_EQ(ar->methods[1].comments.size(), 1u);
  EXPECT_EQ(ar->methods[3].version, "1");
  EXPECT_EQ(ar->methods[3].reason, "bad sig");
  const auto none = parse_authentication_results("example.org 1; none");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->none);
  EXPECT_EQ(none->version, "1");
  EXPECT_FALSE(parse_authentication_results(""));
}

TEST(DkimAuthResults, FormatRoundTrip) {
  signature_result r;
  r.result = result::pass;
  r.domain = "example.com";
  r.identity = "@example.com";
  r.selector = "sel";
  r.algorithm = "rsa-sha256";
  r.b_prefix = "abcdefghijkl";
  r.key_bits = 2048;
  const std::string ri = format_resinfo(r);
  EXPECT_EQ(ri, "dkim=pass (2048-bit key) header.d=example.com header.i=@example.com "
                "header.s=sel header.a=rsa-sha256 header.b=abcdefgh");
  const std::string field = format_authentication_results("mx.example.net", {ri});
  const auto parsed = parse_authentication_results(field.substr(field.find(':') + 1));
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->methods.size(), 1u);
  EXPECT_EQ(parsed->methods[0].properties.size(), 5u);
  EXPECT_EQ(format_resinfos({}), "dkim=none");
}
