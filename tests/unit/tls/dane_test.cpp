// SPDX-License-Identifier: Apache-2.0
// DANE TLSA matching (RFC 7671 §5, RFC 7672 §3): the pure matcher over DER chains, and the
// OpenSSL verification step in a real TLS handshake over an in-memory BIO pair.
#include <mailkit/tls/dane.hpp>
#include <mailkit/tls/tls.hpp>

#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace dane = mailkit::tls::dane;

namespace {

struct key_free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct x509_free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, key_free>;
using cert_ptr = std::unique_ptr<X509, x509_free>;

struct identity {
  key_ptr key;
  cert_ptr cert;
};

// A certificate for `cn` (also a DNS subjectAltName unless `ca`), signed by `issuer` or by
// itself, valid from an hour ago for a day (or already expired when `expired`).
identity make_identity(const std::string& cn, const identity* issuer, bool ca,
                       bool expired = false) {
  identity id;
  id.key.reset(EVP_EC_gen("P-256"));
  id.cert.reset(X509_new());
  X509* x = id.cert.get();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), expired ? -2 * 86400 : -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), expired ? -86400 : 86400);
  X509_set_pubkey(x, id.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer->cert.get()) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->cert.get() : x, x, nullptr, nullptr, 0);
  const auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(ext, nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  };
  if (ca) {
    add(NID_basic_constraints, "critical,CA:TRUE");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add(NID_subject_alt_name, "DNS:" + cn);
  }
  X509_sign(x, issuer != nullptr ? issuer->key.get() : id.key.get(), EVP_sha256());
  return id;
}

std::string der(X509* x) {
  unsigned char* buf = nullptr;
  const int n = i2d_X509(x, &buf);
  std::string out(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
  OPENSSL_free(buf);
  return out;
}

dane::tlsa_record record(std::uint8_t u, std::uint8_t s, std::uint8_t m, X509* x) {
  auto data = dane::association_data(der(x), static_cast<dane::selector>(s),
                                     static_cast<dane::matching_type>(m));
  EXPECT_TRUE(data);
  return {u, s, m, data ? *data : std::string()};
}

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

class dane_test : public ::testing::Test {
protected:
  void SetUp() override {
    ca = make_identity("Test DANE CA", nullptr, true);
    leaf = make_identity("mx.example.test", &ca, false);
    other_ca = make_identity("Other CA", nullptr, true);
    chain = {der(leaf.cert.get()), der(ca.cert.get())};
  }
  identity ca, leaf, other_ca;
  std::vector<std::string> chain;
  const std::vector<std::string> names{"mx.example.test"};
};

} // namespace

TEST_F(dane_test, usable_records_for_smtp) {
  EXPECT_TRUE(dane::usable({3, 1, 1, std::string(32, 'x')}));
  EXPECT_TRUE(dane::usable({2, 0, 2, std::string(64, 'x')}));
  EXPECT_TRUE(dane::usable({3, 0, 0, "der"}));
  EXPECT_FALSE(dane::usable({0, 0, 1, std::string(32, 'x')})); // PKIX-TA: RFC 7672 §3.1.3
  EXPECT_FALSE(dane::usable({1, 0, 1, std::string(32, 'x')})); // PKIX-EE
  EXPECT_FALSE(dane::usable({3, 2, 1, std::string(32, 'x')})); // selector
  EXPECT_FALSE(dane::usable({3, 1, 3, std::string(32, 'x')})); // matching type
  EXPECT_FALSE(dane::usable({3, 1, 1, std::string(31, 'x')})); // digest length
  EXPECT_FALSE(dane::usable({3, 1, 0, ""}));
}

TEST_F(dane_test, dane_ee_all_selectors_and_matching_types) {
  for (std::uint8_t s : {0, 1})
    for (std::uint8_t m : {0, 1, 2}) {
      auto r = dane::match_chain(chain, {record(3, s, m, leaf.cert.get())}, names, now());
      ASSERT_TRUE(r);
      EXPECT_TRUE(r->matched) << int(s) << int(m);
      EXPECT_EQ(r->depth, 0);
    }
  // RFC 7672 §3.2.1: DANE-EE ignores names and dates.
  auto expired = make_identity("elsewhere.example", &ca, false, true);
  auto r = dane::match_chain({der(expired.cert.get())}, {record(3, 1, 1, expired.cert.get())},
                             names, now());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->matched);
  // A different key does not match.
  r = dane::match_chain(chain, {record(3, 1, 1, other_ca.cert.get())}, names, now());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->matched);
}

TEST_F(dane_test, dane_ta_requires_presented_anchor_chain_and_name) {
  auto r = dane::match_chain(chain, {record(2, 0, 1, ca.cert.get())}, names, now());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->matched);
  EXPECT_EQ(r->depth, 1);
  r = dane::match_chain(chain, {record(2, 1, 2, ca.cert.get())}, names, now());
  ASSERT_TRUE(r && r->matched);
  // RFC 7672 §3.2.2: the leaf must carry the reference identifier.
  r = dane::match_chain(chain, {record(2, 0, 1, ca.cert.get())}, {"mx.other.test"}, now());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->matched);
  // The anchor must be in the chain the server sent (RFC 7671 §5.2.2 bare keys: not supported).
  r = dane::match_chain({chain[0]}, {record(2, 0, 1, ca.cert.get())}, names, now());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->matched);
  // A chain whose leaf was not signed by the anchor.
  auto rogue = make_identity("mx.example.test", &other_ca, false);
  r = dane::match_chain({der(rogue.cert.get()), der(ca.cert.get())},
                        {record(2, 0, 1, ca.cert.get())}, names, now());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->matched);
  // An expired leaf under DANE-TA.
  auto old = make_identity("mx.example.test", &ca, false, true);
  r = dane::match_chain({der(old.cert.get()), der(ca.cert.get())}, {record(2, 0, 1, ca.cert.get())},
                        names, now());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->matched);
  // PKIX-TA records are ignored even when they match.
  r = dane::match_chain(chain, {record(0, 0, 1, ca.cert.get())}, names, now());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->matched);
}

TEST_F(dane_test, bad_input) {
  EXPECT_FALSE(dane::match_chain({}, {}, names, now()));
  EXPECT_FALSE(dane::match_chain({"not a certificate"}, {}, names, now()));
  EXPECT_FALSE(dane::match_chain({chain[0] + "x"}, {}, names, now()));
  EXPECT_FALSE(dane::association_data("junk", dane::selector::full_certificate,
                                      dane::matching_type::sha256));
}

namespace {

// A TLS handshake between a client SSL and a server SSL over a BIO pair: true when both
// completed; false when either failed. Bounded in rounds.
bool handshake(SSL* client, SSL* server) {
  bool c_done = false, s_done = false;
  for (int round = 0; round < 200 && !(c_done && s_done); ++round) {
    if (!c_done) {
      const int rc = SSL_do_handshake(client);
      if (rc == 1)
        c_done = true;
      else if (SSL_get_error(client, rc) != SSL_ERROR_WANT_READ)
        return false;
    }
    if (!s_done) {
      const int rc = SSL_do_handshake(server);
      if (rc == 1)
        s_done = true;
      else if (SSL_get_error(server, rc) != SSL_ERROR_WANT_READ)
        return false;
    }
  }
  return c_done && s_done;
}

struct ssl_free {
  void operator()(SSL* p) const noexcept { SSL_free(p); }
};
struct ctx_free {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};

} // namespace

TEST_F(dane_test, openssl_verification_step) {
  std::unique_ptr<SSL_CTX, ctx_free> sctx(SSL_CTX_new(TLS_server_method()));
  ASSERT_EQ(SSL_CTX_use_certificate(sctx.get(), leaf.cert.get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(sctx.get(), leaf.key.get()), 1);
  X509_up_ref(ca.cert.get());
  ASSERT_EQ(SSL_CTX_add_extra_chain_cert(sctx.get(), ca.cert.get()), 1);

  mailkit::tls::client_options co;
  co.verify_peer = true;
  auto cctx = mailkit::tls::make_client_context(co);
  ASSERT_TRUE(cctx);
  ASSERT_TRUE(dane::enable_dane_context((*cctx)->native_handle()));

  struct attempt {
    std::vector<dane::tlsa_record> records;
    std::vector<std::string> names;
    bool ok;
    int depth;
  };
  const std::vector<attempt> attempts = {
      {{record(3, 1, 1, leaf.cert.get())}, {}, true, 0},
      {{record(2, 0, 1, ca.cert.get())}, {}, true, 1},
      {{record(3, 1, 1, other_ca.cert.get())}, {}, false, -1},
      {{record(3, 1, 1, other_ca.cert.get()), record(3, 0, 2, leaf.cert.get())}, {}, true, 0},
  };
  for (const auto& a : attempts) {
    std::unique_ptr<SSL, ssl_free> client(SSL_new((*cctx)->native_handle()));
    std::unique_ptr<SSL, ssl_free> server(SSL_new(sctx.get()));
    BIO *b1 = nullptr, *b2 = nullptr;
    ASSERT_EQ(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
    SSL_set_bio(client.get(), b1, b1);
    SSL_set_bio(server.get(), b2, b2);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    ASSERT_TRUE(dane::enable_dane(client.get(), "mx.example.test", a.names, a.records));
    EXPECT_EQ(handshake(client.get(), server.get()), a.ok);
    if (a.ok) {
      EXPECT_EQ(dane::matched_depth(client.get()), a.depth);
    }
  }
  // DANE-TA with a name the leaf does not carry fails the handshake.
  std::unique_ptr<SSL, ssl_free> client(SSL_new((*cctx)->native_handle()));
  std::unique_ptr<SSL, ssl_free> server(SSL_new(sctx.get()));
  BIO *b1 = nullptr, *b2 = nullptr;
  ASSERT_EQ(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
  SSL_set_bio(client.get(), b1, b1);
  SSL_set_bio(server.get(), b2, b2);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  ASSERT_TRUE(
      dane::enable_dane(client.get(), "mx.wrong.test", {}, {record(2, 0, 1, ca.cert.get())}));
  EXPECT_FALSE(handshake(client.get(), server.get()));
  // No usable record: refused up front.
  std::unique_ptr<SSL, ssl_free> c2(SSL_new((*cctx)->native_handle()));
  EXPECT_FALSE(
      dane::enable_dane(c2.get(), "mx.example.test", {}, {{1, 0, 1, std::string(32, 'a')}}));
}
