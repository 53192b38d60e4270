// SPDX-License-Identifier: Apache-2.0
#include "test_support.hpp"

#include <mailkit/core/base64.hpp>
#include <mailkit/dkim/dkim.hpp>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

using namespace mailkit::dkim;
using mailkit::dkim::test::zone;

namespace {

const std::string message = "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                            "From: Joe <joe@example.com>\r\n"
                            "To: Suzie <suzie@example.net>\r\n"
                            "Subject: Is dinner\r\n  ready?\r\n"
                            "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                            "Message-ID: <1@example.com>\r\n"
                            "MIME-Version: 1.0\r\n"
                            "Content-Type: text/plain; charset=utf-8\r\n"
                            "\r\n"
                            "Hi.\r\n\r\nWe lost the game.  Are you   hungry yet?\t\r\n\r\n\r\n";

const mailkit::manual_clock fixed = test::clock_at(1700000000);

struct keys {
  private_key rsa = *private_key::generate(key_type::rsa, 2048);
  private_key ed = *private_key::generate(key_type::ed25519);
};
const keys& the_keys() {
  static const keys k;
  return k;
}

sign_options opts(algorithm a, canonicalization hc = canonicalization::relaxed,
                  canonicalization bc = canonicalization::relaxed) {
  sign_options o;
  o.domain = "example.com";
  o.selector = a == algorithm::ed25519_sha256 ? "ed" : "rsa";
  o.algo = a;
  o.header_c = hc;
  o.body_c = bc;
  o.clk = &fixed;
  return o;
}

zone make_zone() {
  zone z;
  z.txt("rsa._domainkey.example.com", the_keys().rsa.dns_txt());
  z.txt("ed._domainkey.example.com", the_keys().ed.dns_txt());
  return z;
}

std::vector<signature_result> check(const std::string& m, zone& z, verify_options vo = {}) {
  vo.clk = &fixed;
  return verify(m, z, vo);
}

std::string signed_message(const std::string& m, const sign_options& o) {
  const private_key& k = o.algo == algorithm::ed25519_sha256 ? the_keys().ed : the_keys().rsa;
  auto h = sign(m, k, o);
  EXPECT_TRUE(h) << h.error().message();
  return *h + m;
}

} // namespace

TEST(DkimSignVerify, RoundTripAllCombinations) {
  zone z = make_zone();
  for (auto a : {algorithm::rsa_sha256, algorithm::ed25519_sha256})
    for (auto hc : {canonicalization::simple, canonicalization::relaxed})
      for (auto bc : {canonicalization::simple, canonicalization::relaxed}) {
        const std::string m = signed_message(message, opts(a, hc, bc));
        auto r = check(m, z);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].result, result::pass) << r[0].reason << "\n" << m;
        EXPECT_EQ(r[0].domain, "example.com");
        // The same message stored with LF verifies too.
        std::string lf;
        for (char c : m)
          if (c != '\r') lf.push_back(c);
        EXPECT_EQ(check(lf, z)[0].result, result::pass);
      }
}

TEST(DkimSignVerify, HeaderFormat) {
  const auto h = sign(message, the_keys().rsa, opts(algorithm::rsa_sha256));
  ASSERT_TRUE(h);
  // Over-signing: From once + one extra; absent Cc listed once; no l= by default.
  EXPECT_NE(h->find("h=from: from: reply-to: subject: subject:"), std::string::npos) << *h;
  EXPECT_EQ(h->find("l="), std::string::npos);
  EXPECT_NE(h->find("t=1700000000;"), std::string::npos);
  for (std::size_t p = 0, e; p < h->size(); p = e + 2) {
    e = h->find("\r\n", p);
    EXPECT_LE(e - p, 78u) << *h;
  }
}

TEST(DkimSignVerify, StreamingSignerMatchesOneShot) {
  const auto split = split_header(message);
  body_hasher bh(canonicalization::relaxed, hash_algorithm::sha256);
  for (std::size_t p = split.body_offset; p < message.size(); p += 3)
    bh.update(std::string_view(message).substr(p, std::min<std::size_t>(3, message.size() - p)));
  const std::string hash = bh.finish();
  auto a = sign_header(std::string_view(message).substr(0, split.body_offset), hash,
                       bh.canonical_length(), the_keys().ed, opts(algorithm::ed25519_sha256));
  auto b = sign(message, the_keys().ed, opts(algorithm::ed25519_sha256));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b); // Ed25519 is deterministic
}

TEST(DkimSignVerify, SansIoVerifier) {
  const std::string m = signed_message(message, opts(algorithm::rsa_sha256));
  verify_options vo;
  vo.clk = &fixed;
  verifier v(vo);
  const auto s = split_header(m);
  v.set_header(std::string_view(m).substr(0, s.body_offset));
  const auto qs = v.key_queries();
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_EQ(qs[0].name, "rsa._domainkey.example.com");
  for (std::size_t p = s.body_offset; p < m.size(); ++p)
    v.update_body(std::string_view(m).substr(p, 1));
  v.provide_key_txt(qs[0].name, {the_keys().rsa.dns_txt()});
  EXPECT_TRUE(v.key_queries().empty());
  const auto r = v.finish();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, result::pass) << r[0].reason;
  EXPECT_EQ(r[0].key_bits, 2048u);
}

TEST(DkimSignVerify, AsyncDriver) {
  zone z = make_zone();
  const std::string m = signed_message(message, opts(algorithm::ed25519_sha256));
  std::vector<signature_result> got;
  verify_options vo;
  vo.clk = &fixed;
  async_verify(m, z, vo, [&](std::vector<signature_result> r) { got = std::move(r); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, result::pass);
}

TEST(DkimSignVerify, DnsOutcomes) {
  const std::string m = signed_message(message, opts(algorithm::rsa_sha256));
  zone z;
  z.fail("rsa._domainkey.example.com");
  auto r = check(m, z);
  EXPECT_EQ(r[0].result, result::temperror); // a DNS failure is never pass
  zone nx;
  nx.nxdomain("rsa._domainkey.example.com");
  EXPECT_EQ(check(m, nx)[0].result, result::permerror);
  zone revoked;
  revoked.txt("rsa._domainkey.example.com", "v=DKIM1; k=rsa; p=");
  EXPECT_EQ(check(m, revoked)[0].reason, "key revoked");
  zone wrongtype;
  wrongtype.txt("rsa._domainkey.example.com", the_keys().ed.dns_txt());
  EXPECT_EQ(check(m, wrongtype)[0].result, result::permerror);
  // Two records, one of the wrong type: the right one is used (chasquid 07).
  zone two;
  two.txt("rsa._domainkey.example.com", the_keys().ed.dns_txt());
  two.txt("rsa._domainkey.example.com", the_keys().rsa.dns_txt());
  EXPECT_EQ(check(m, two)[0].result, result::pass);
  // Strict key (t=s) with an i= subdomain.
  auto o = opts(algorithm::rsa_sha256);
  o.identity = "@sub.example.com";
  const std::string ms = signed_message(message, o);
  zone strict;
  strict.txt("rsa._domainkey.example.com", the_keys().rsa.dns_txt() + "; t=s");
  EXPECT_EQ(check(ms, strict)[0].result, result::permerror);
  zone email_only;
  email_only.txt("rsa._domainkey.example.com",
                 "v=DKIM1; s=chat; " + the_keys().rsa.dns_txt().substr(9));
  EXPECT_EQ(check(m, email_only)[0].result, result::permerror);
}

TEST(DkimSignVerify, ExpiryAndFutureWithSkew) {
  zone z = make_zone();
  auto o = opts(algorithm::ed25519_sha256);
  o.expire_after = std::chrono::seconds(3600);
  const std::string m = signed_message(message, o);
  verify_options vo;
  auto at = [&](long long t) {
    auto c = test::clock_at(t);
    vo.clk = &c;
    return verify(m, z, vo)[0].result;
  };
  EXPECT_EQ(at(1700000000), result::pass);
  EXPECT_EQ(at(1700000000 + 3600 + 299), result::pass); // within the skew
  EXPECT_EQ(at(1700000000 + 3600 + 301), result::permerror);
  EXPECT_EQ(at(1700000000 - 299), result::pass);
  EXPECT_EQ(at(1700000000 - 301), result::permerror); // t= in the future
}

// Adversarial: zero false passes.
TEST(DkimAdversarial, BodyAppendedAfterLengthLimit) {
  zone z = make_zone();
  auto o = opts(algorithm::rsa_sha256);
  o.body_length = true;
  const std::string m = signed_message(message, o);
  auto r = check(m, z);
  EXPECT_EQ(r[0].result, result::pass);
  EXPECT_EQ(r[0].unsigned_body_octets, 0u);
  const std::string appended = m + "Click here: http://evil.example/\r\n";
  r = check(appended, z);
  // l= is honoured (RFC 6376 §3.5) and the uncovered remainder is reported.
  EXPECT_EQ(r[0].result, result::pass);
  EXPECT_GT(r[0].unsigned_body_octets, 30u);
  EXPECT_NE(format_resinfo(r[0]).find("unsigned body octets"), std::string::npos);
  // Without l= the same append fails.
  const std::string plain = signed_message(message, opts(algorithm::rsa_sha256));
  EXPECT_EQ(check(plain + "more\r\n", z)[0].result, result::fail);
  // Truncating below l= fails.
  EXPECT_NE(check(m.substr(0, m.size() - 20), z)[0].result, result::pass);
}

TEST(DkimAdversarial, SecondFromAdded) {
  zone z = make_zone();
  for (auto a : {algorithm::rsa_sha256, algorithm::ed25519_sha256}) {
    const std::string m = signed_message(message, opts(a));
    const auto pos = m.find("From: Joe");
    // Above and below the original: over-signing makes both fail.
    EXPECT_EQ(
        check(m.substr(0, pos) + "From: evil@attacker.example\r\n" + m.substr(pos), z)[0].result,
        result::fail);
    const auto ins = m.find("To: Suzie");
    EXPECT_EQ(
        check(m.substr(0, ins) + "From: evil@attacker.example\r\n" + m.substr(ins), z)[0].result,
        result::fail);
    // An added Cc (absent when signed) fails too.
    EXPECT_EQ(check(m.substr(0, ins) + "Cc: x@attacker.example\r\n" + m.substr(ins), z)[0].result,
              result::fail);
    // Changed subject, changed body byte.
    std::string s = m;
    s.replace(s.find("dinner"), 6, "dimmer");
    EXPECT_EQ(check(s, z)[0].result, result::fail);
    std::string b = m;
    b.replace(b.find("lost"), 4, "won!");
    EXPECT_EQ(check(b, z)[0].result, result::fail);
  }
}

TEST(DkimAdversarial, HeaderReordering) {
  zone z = make_zone();
  const std::string m = signed_message(message, opts(algorithm::rsa_sha256));
  // Swapping two different signed fields is harmless by design (RFC 6376 §5.4.2 selects by
  // name), but swapping two instances of the same name changes the hash.
  const std::string two = "From: A <a@example.com>\r\nTo: x@example.net\r\nTo: y@example.net\r\n"
                          "Subject: s\r\n\r\nbody\r\n";
  const std::string s2 = signed_message(two, opts(algorithm::rsa_sha256));
  std::string swapped = s2;
  const auto p1 = swapped.find("To: x@"), p2 = swapped.find("To: y@");
  swapped.replace(p2, 17, "To: x@example.net");
  swapped.replace(p1, 17, "To: y@example.net");
  EXPECT_EQ(check(s2, z)[0].result, result::pass);
  EXPECT_EQ(check(swapped, z)[0].result, result::fail);
  // Moving the signature field below the headers keeps it valid (position is not signed).
  const auto end = m.find("\r\nReceived:");
  std::string moved = m.substr(end + 2);
  const auto blank = moved.find("\r\n\r\n");
  moved.insert(blank + 2, m.substr(0, end + 2));
  EXPECT_EQ(check(moved, z)[0].result, result::pass);
}

TEST(DkimAdversarial, WeakKeysAndSha1) {
  // A 512-bit and a 1024-bit RSA key, made with OpenSSL directly (generate() refuses < 1024).
  auto pem_of = [](unsigned bits) {
    EVP_PKEY* p = EVP_RSA_gen(bits);
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, p, nullptr, nullptr, 0, nullptr, nullptr);
    char* d = nullptr;
    const long n = BIO_get_mem_data(b, &d);
    std::string s(d, static_cast<std::size_t>(n));
    BIO_free(b);
    EVP_PKEY_free(p);
    return s;
  };
  auto weak = private_key::from_pem(pem_of(512));
  ASSERT_TRUE(weak);
  zone z;
  z.txt("rsa._domainkey.example.com", weak->dns_txt());
  auto h = sign(message, *weak, opts(algorithm::rsa_sha256));
  ASSERT_TRUE(h);
  auto r = check(*h + message, z);
  EXPECT_EQ(r[0].result, result::permerror);
  EXPECT_NE(r[0].reason.find("RFC 8301"), std::string::npos);
  auto ok1024 = private_key::from_pem(pem_of(1024));
  zone z2;
  z2.txt("rsa._domainkey.example.com", ok1024->dns_txt());
  EXPECT_EQ(check(*sign(message, *ok1024, opts(algorithm::rsa_sha256)) + message, z2)[0].result,
            result::pass);
  // Signing with rsa-sha1 is refused.
  EXPECT_FALSE(sign(message, the_keys().rsa, opts(algorithm::rsa_sha1)));
}

TEST(DkimAdversarial, FiftySignatures) {
  zone z = make_zone();
  std::string m = message;
  for (int i = 0; i < 49; ++i) {
    auto o = opts(algorithm::ed25519_sha256);
    o.selector = "nokey" + std::to_string(i);
    m = *sign(m, the_keys().ed, o) + m;
  }
  m = signed_message(m, opts(algorithm::ed25519_sha256)); // the only valid one, topmost
  const auto r = check(m, z);
  ASSERT_EQ(r.size(), 50u);
  EXPECT_EQ(r[0].result, result::pass);
  std::size_t passes = 0, limited = 0;
  for (const auto& x : r) {
    passes += x.result == result::pass;
    limited += x.reason.find("too many signatures") != std::string::npos;
  }
  EXPECT_EQ(passes, 1u);
  EXPECT_EQ(limited, 30u);
  EXPECT_LE(z.queries, 20u);
  // Every signature forged onto a tampered copy: none pass.
  std::string t = m;
  t.replace(t.find("lost"), 4, "won!");
  for (const auto& x : check(t, z))
    EXPECT_NE(x.result, result::pass);
}

TEST(DkimAdversarial, FuzzedTagListsNeverPass) {
  zone z = make_zone();
  const std::string m = signed_message(message, opts(algorithm::rsa_sha256));
  const auto hdr_end = m.find("\r\nReceived:");
  const std::string sig = m.substr(0, hdr_end + 2), rest = m.substr(hdr_end + 2);
  std::uint64_t seed = 42;
  int mutated = 0;
  for (int i = 0; i < 2000; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    std::string s = sig;
    const std::size_t pos = 16 + (seed >> 33) % (s.size() - 18);
    const char repl[] = {';', '=', ' ', 'a', '\t', '0', ':', 'X'};
    switch ((seed >> 20) % 3) {
    case 0:
      s[pos] = repl[(seed >> 8) % 8];
      break;
    case 1:
      s.erase(pos, 1 + (seed >> 12) % 5);
      break;
    default:
      s.insert(pos, std::string(1, repl[(seed >> 8) % 8]));
      break;
    }
    if (s.size() < 4 || s.substr(s.size() - 2) != "\r\n") continue;
    const auto r = check(s + rest, z);
    if (r.empty()) continue;
    if (r[0].result == result::pass) {
      // Only harmless edits may pass: whitespace in FWS positions under relaxed canonicalization.
      std::string a, b;
      // (a CR or LF dropped from a fold is unfolded away by relaxed canonicalization too)
      for (char c : s)
        if (!mailkit::is_space(c)) a.push_back(c);
      for (char c : sig)
        if (!mailkit::is_space(c)) b.push_back(c);
      EXPECT_EQ(a, b) << s;
    }
    ++mutated;
  }
  EXPECT_GT(mutated, 1500);
}

TEST(DkimKeys, PemRoundTripAndTxt) {
  for (auto* k : {&the_keys().rsa, &the_keys().ed}) {
    const std::string pem = k->to_pem();
    EXPECT_NE(pem.find("BEGIN PRIVATE KEY"), std::string::npos);
    auto back = private_key::from_pem(pem);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->public_key_data(), k->public_key_data());
    EXPECT_EQ(back->dns_txt(), k->dns_txt());
  }
  const std::string txt = the_keys().rsa.dns_txt();
  const auto parts = split_txt(txt);
  EXPECT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].size(), 255u);
  EXPECT_EQ(parts[0] + parts[1], txt);
  EXPECT_NE(zone_line("mk202401", txt).find("mk202401._domainkey IN TXT ( \"v=DKIM1; k=rsa; p="),
            std::string::npos);
  EXPECT_FALSE(private_key::from_pem("garbage"));
  // dkimpy's Ed25519 key file form (base64 seed).
  const std::string seed = mailkit::base64::encode(std::string(32, '\x07'));
  auto ed = private_key::from_pem(seed);
  ASSERT_TRUE(ed);
  EXPECT_EQ(ed->type(), key_type::ed25519);
}

TEST(DkimKeys, SelectorRotation) {
  const auto t =
      std::chrono::system_clock::time_point(std::chrono::seconds(1710028800)); // 2024-03-10
  EXPECT_EQ(selector_for(t), "mk202403");
  auto plan = plan_rotation("mk202402", t, key_type::ed25519);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->new_selector, "mk202403");
  EXPECT_NE(plan->new_txt.find("k=ed25519"), std::string::npos);
  EXPECT_GT(plan->retire_old_after, plan->switch_after);
  auto same = plan_rotation("mk202403", t, key_type::ed25519);
  EXPECT_EQ(same->new_selector, "mk202403b");
}

TEST(DkimSignVerify, NoSignatureIsNone) {
  zone z;
  EXPECT_TRUE(check(message, z).empty());
  EXPECT_EQ(summarize({}), result::none);
  EXPECT_FALSE(sign("Subject: no from\r\n\r\nx\r\n", the_keys().rsa, opts(algorithm::rsa_sha256)));
}

// The signer builds the relaxed canonical form of its own DKIM-Signature field while writing
// it (signer.cpp), and falls back to canonicalize_header when i= or a caller's header name holds
// WSP. Both paths must give the hash the verifier recomputes from the folded field.
TEST(DkimSignVerify, SignerCanonicalFormMatchesVerifier) {
  zone z = make_zone();
  const std::string m = "From: Joe <joe@example.com>\r\nTo: a@example.net\r\nSubject: x\r\n"
                        "X-Long: " +
                        std::string(300, 'y') + "\r\n\r\nbody\r\n";
  for (auto a : {algorithm::rsa_sha256, algorithm::ed25519_sha256}) {
    // Fast path: many h= entries and a long field that folds several times.
    auto o = opts(a);
    o.headers = {"From", "To", "Subject", "X-Long", "Date", "Cc", "References", "Reply-To"};
    o.identity = "joe@example.com";
    auto r = check(signed_message(m, o), z);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r[0].result, result::pass) << r[0].reason;
    // Fallback: a header name with a space (never present, so it selects nothing) makes the
    // signer canonicalize the field it wrote.
    o.headers = {"From", "X Odd"};
    r = check(signed_message(m, o), z);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r[0].result, result::pass) << r[0].reason;
    // Simple header canonicalization takes the field as written.
    auto s = opts(a, canonicalization::simple, canonicalization::simple);
    r = check(signed_message(m, s), z);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r[0].result, result::pass) << r[0].reason;
  }
}
