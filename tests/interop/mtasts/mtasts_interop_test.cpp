// SPDX-License-Identifier: Apache-2.0
// MTA-STS and DANE against real peers on loopback:
//  - the mta-sts-snawoot scenarios (tests/data/mtasts): the _mta-sts TXT records of
//    dnsmasq.conf.appendix served by nsd behind unbound, the policies of nginx.conf served by
//    http::server with certificates made here (bad-cert1: a CA the client does not trust;
//    bad-cert2: a certificate without the mta-sts name), over real DNS and real HTTPS;
//  - DANE: a DNSSEC-signed zone with matching and mismatching TLSA records behind the
//    validating unbound (DANE-EE(3) and DANE-TA(2), the latter with a CA chain made by the
//    openssl command), an unsigned zone (no AD: DANE does not apply) and a bogus one
//    (SERVFAIL: defer), then real TLS handshakes with the OpenSSL DANE step.
#include "../dns/dns_servers.hpp"

#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/http/http.hpp>
#include <mailkit/mtasts/cache.hpp>
#include <mailkit/mtasts/dane.hpp>
#include <mailkit/mtasts/mtasts.hpp>
#include <mailkit/tls/dane.hpp>
#include <mailkit/tls/tls.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <gtest/gtest.h>

#include <openssl/pem.h>

#include <map>

namespace dns = mailkit::dns;
namespace http = mailkit::http;
namespace m = mailkit::mtasts;
namespace t = mailkit::test;
namespace tls = mailkit::tls;
using namespace std::chrono_literals;

namespace {

const t::fs::path data = t::fs::path(MAILKIT_TEST_DATA) / "mtasts";

struct pem_files {
  std::string cert, key, pem;
};

pem_files make_cert(const t::fs::path& dir, const std::string& tag,
                    const std::vector<std::string>& names) {
  auto pair = tls::make_self_signed(names);
  if (!pair) throw std::runtime_error("make_self_signed failed");
  pem_files f{(dir / (tag + ".pem")).string(), (dir / (tag + ".key")).string(),
              pair->certificate_pem};
  std::ofstream(f.cert) << pair->certificate_pem;
  std::ofstream(f.key) << pair->private_key_pem;
  return f;
}

// A CA and a leaf for `name` issued by it, made with the openssl command: the chain file (leaf
// then CA) and key for a server context, and the CA's PEM (the DANE-TA trust anchor).
struct chain_files {
  std::string chain, key, ca_pem;
};

chain_files make_chain(const t::fs::path& dir, const std::string& name) {
  const std::string openssl = "/usr/bin/openssl";
  t::require_program(openssl.c_str());
  const auto p = [&](const std::string& f) { return (dir / f).string(); };
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  (void)t::run(with(with({openssl, "req", "-x509"}, ec),
                    {"-keyout", p("ta.key"), "-out", p("ta.pem"), "-days", "2", "-subj",
                     "/CN=mailkit test TA", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign"}),
               dir);
  (void)t::run(with(with({openssl, "req"}, ec),
                    {"-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + name,
                     "-addext", "subjectAltName=DNS:" + name}),
               dir);
  (void)t::run({openssl, "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ta.pem"), "-CAkey",
                p("ta.key"), "-set_serial", "2", "-days", "2", "-copy_extensions", "copy", "-out",
                p(name + ".leaf.pem")},
               dir);
  chain_files f{p(name + ".chain.pem"), p(name + ".key"), t::read_file(dir / "ta.pem")};
  std::ofstream(f.chain) << t::read_file(dir / (name + ".leaf.pem")) << f.ca_pem;
  if (f.ca_pem.empty() || t::read_file(dir / (name + ".leaf.pem")).empty())
    throw std::runtime_error("openssl could not make the DANE-TA chain");
  return f;
}

std::string der_of(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char* buf = nullptr;
  const int n = i2d_X509(x, &buf);
  std::string out(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
  OPENSSL_free(buf);
  X509_free(x);
  return out;
}

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// nginx's "return 200 \"...\\n...\";" string: the text between the quotes, \n unescaped.
std::string unquote(std::string_view s) {
  const auto a = s.find('"');
  const auto b = s.rfind('"');
  std::string out;
  for (std::size_t i = a + 1; i < b; ++i) {
    if (s[i] == '\\' && i + 1 < b && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct site {
  std::string host; // mta-sts.<domain>
  http::route policy;
  bool untrusted_cert = false;
};

// The policy servers of nginx.conf: server_name, the return of the policy location, the media
// type override, BAD_CERTS. The two Lua-generated overlength bodies are made here as upstream's
// Lua does: a policy followed by 2049 lines of 64 'a' (131193 octets announced).
std::vector<site> read_nginx_sites() {
  std::ifstream in(data / "nginx.conf");
  std::vector<site> out;
  std::string line;
  bool in_policy = false;
  while (std::getline(in, line)) {
    if (line.find("server_name") != std::string::npos) {
      site s;
      auto name = line.substr(line.find("server_name") + 11);
      name.erase(0, name.find_first_not_of(" \t"));
      s.host = name.substr(0, name.find(';'));
      out.push_back(s);
    } else if (out.empty()) {
      continue;
    } else if (line.find("BAD_CERTS/") != std::string::npos) {
      out.back().untrusted_cert = true;
    } else if (line.find("location = /.well-known/mta-sts.txt") != std::string::npos) {
      in_policy = true;
    } else if (in_policy && line.find("text/html") != std::string::npos) {
      out.back().policy.content_type = "text/html";
    } else if (in_policy && line.find("return ") != std::string::npos) {
      const auto pos = line.find("return ") + 7;
      out.back().policy.status = static_cast<unsigned>(std::stoul(line.substr(pos)));
      out.back().policy.body = unquote(line.substr(pos));
      in_policy = false;
    } else if (in_policy && line.find("content_by_lua_block") != std::string::npos) {
      std::string body = "version: STSv1\nmode: enforce\nmax_age: 86400\nmx: mail.loc\n";
      for (int i = 0; i <= 2048; ++i)
        body += std::string(64, 'a');
      out.back().policy.body = body;
      if (out.back().host.find("chunked") != std::string::npos)
        out.back().policy.chunked = true;
      else
        out.back().policy.announced_length = 131193;
      in_policy = false;
    }
  }
  return out;
}

// The "loc" zone from dnsmasq.conf.appendix: address=/name/ip -> A, txt-record=name,"text" ->
// TXT (the catch-all address=/loc/ becomes A records of the names the tests ask for).
std::string loc_zone() {
  std::ifstream in(data / "dnsmasq.conf.appendix");
  std::string zone = "$ORIGIN loc.\n$TTL 300\n"
                     "@ IN SOA ns.loc. hostmaster.loc. 1 3600 600 86400 300\n"
                     "@ NS ns\nns A 127.0.0.1\nmail A 127.0.0.1\n";
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("address=/", 0) == 0) {
      const auto name = line.substr(9, line.find('/', 9) - 9);
      if (name == "loc") continue;
      zone += name + ". A 127.0.0.1\n";
    } else if (line.rfind("txt-record=", 0) == 0) {
      const auto comma = line.find(',');
      zone += line.substr(11, comma - 11) + ". TXT " + line.substr(comma + 1) + "\n";
    }
  }
  return zone;
}

std::map<std::string, std::string> read_tsv(const std::string& file) {
  std::ifstream in(data / file);
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

class mtasts_interop : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = t::test_dir("mtasts");
    // HTTPS: one virtual host per nginx server block.
    const auto sites = read_nginx_sites();
    std::ofstream ca(dir_ / "ca.pem");
    http::server_options so;
    for (const auto& s : sites) {
      // bad-cert2: "certificate lacks the name" -> a certificate for the bare domain only.
      const bool wrong_name = s.host == "mta-sts.bad-cert2.loc";
      const auto files = make_cert(dir_, s.host, {wrong_name ? s.host.substr(8) : s.host});
      if (!s.untrusted_cert) ca << files.pem; // self-signed: each is its own trust anchor
      auto ctx = tls::make_server_context({files.cert, files.key});
      if (!ctx) throw std::runtime_error("server context");
      http::virtual_host vh{s.host, *ctx, {}};
      vh.routes["/.well-known/mta-sts.txt"] = s.policy;
      so.hosts.push_back(std::move(vh));
    }
    // DANE: the SMTP server stand-in presents mx.dane.test's certificate.
    const auto mx = make_cert(dir_, "mx.dane.test", {"mx.dane.test"});
    const auto other = make_cert(dir_, "other", {"mx.dane.test"});
    auto mx_ctx = tls::make_server_context({mx.cert, mx.key});
    if (!mx_ctx) throw std::runtime_error("server context");
    so.hosts.push_back({"mx.dane.test", *mx_ctx, {}});
    // DANE-TA(2): mx-ta.dane.test presents a leaf issued by a CA that only its TLSA record
    // names (RFC 7671 §5.2: the chain up to the anchor, the leaf carrying the MX name).
    const auto ta = make_chain(dir_, "mx-ta.dane.test");
    auto ta_ctx = tls::make_server_context({ta.chain, ta.key});
    if (!ta_ctx) throw std::runtime_error("server context (DANE-TA chain)");
    so.hosts.push_back({"mx-ta.dane.test", *ta_ctx, {}});
    ca.close();
    ca_file_ = (dir_ / "ca.pem").string();
    auto srv = http::server::start(std::move(so));
    if (!srv) throw std::runtime_error("https server: " + srv.error().message());
    https_ = std::move(*srv);

    // DNS: loc (unsigned), dane.test (signed), bogus-dane.test (signed, wrong anchor).
    std::ofstream(dir_ / "loc.zone")
        << loc_zone() << "_25._tcp.mx.insecure.loc. TLSA 3 1 1 "
        << hex(*tls::dane::association_data(der_of(mx.pem),
                                            tls::dane::selector::subject_public_key_info,
                                            tls::dane::matching_type::sha256))
        << "\n";
    const auto spki_hash = [](const std::string& pem) {
      return hex(*tls::dane::association_data(der_of(pem),
                                              tls::dane::selector::subject_public_key_info,
                                              tls::dane::matching_type::sha256));
    };
    std::ofstream(dir_ / "dane.test.zone")
        << "$ORIGIN dane.test.\n$TTL 300\n"
        << "@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300\n"
        << "@ NS ns\nns A 127.0.0.1\nmx A 127.0.0.1\nmx-bad A 127.0.0.1\nmx-pkix A 127.0.0.1\n"
        << "mx-ta A 127.0.0.1\nmx-ta-wrong A 127.0.0.1\n"
        << "_25._tcp.mx-ta TLSA 2 0 1 "
        << hex(*tls::dane::association_data(der_of(ta.ca_pem),
                                            tls::dane::selector::full_certificate,
                                            tls::dane::matching_type::sha256))
        << "\n"
        << "_25._tcp.mx-ta-wrong TLSA 2 1 1 " << spki_hash(other.pem) << "\n"
        << "_25._tcp.mx TLSA 3 1 1 " << spki_hash(mx.pem) << "\n"
        << "_25._tcp.mx-bad TLSA 3 1 1 " << spki_hash(other.pem) << "\n"
        << "_25._tcp.mx-pkix TLSA 1 1 1 " << spki_hash(mx.pem) << "\n";
    std::ofstream(dir_ / "bogus-dane.test.zone")
        << "$ORIGIN bogus-dane.test.\n$TTL 300\n"
        << "@ IN SOA ns.bogus-dane.test. hostmaster.bogus-dane.test. 1 3600 600 86400 300\n"
        << "@ NS ns\nns A 127.0.0.1\nmx A 127.0.0.1\n"
        << "_25._tcp.mx TLSA 3 1 1 " << spki_hash(mx.pem) << "\n";
    const std::string ds = t::sign_zone(dir_, "dane.test", dir_ / "dane.test.zone");
    (void)t::sign_zone(dir_, "bogus-dane.test", dir_ / "bogus-dane.test.zone");
    const std::string wrong_ds = t::unrelated_ds(dir_, "bogus-dane.test");
    nsd_ = std::make_unique<t::nsd_server>(
        dir_, std::vector<t::zone_spec>{{"loc", dir_ / "loc.zone"},
                                        {"dane.test", dir_ / "dane.test.signed"},
                                        {"bogus-dane.test", dir_ / "bogus-dane.test.signed"}});
    unbound_ = std::make_unique<t::unbound_server>(
        dir_, std::vector<std::string>{"loc", "dane.test", "bogus-dane.test"}, nsd_->port(),
        std::vector<std::string>{ds, wrong_ds});
    dns::cares_options o;
    o.servers = {unbound_->address()};
    o.timeout = 2000ms;
    resolver_ = std::make_unique<dns::cares_resolver>(o);
  }
  static void TearDownTestSuite() {
    resolver_.reset();
    https_.reset();
    unbound_.reset();
    nsd_.reset();
    if (::testing::UnitTest::GetInstance()->Passed()) t::fs::remove_all(dir_);
  }

  static m::fetch_options fetch_options() {
    m::fetch_options f;
    f.ca_file = ca_file_;
    f.port = https_->port();
    f.timeout = 10s;
    return f;
  }

  // A TLS handshake to the stand-in MX with the DANE step for `host`'s records.
  static bool dane_handshake(const std::string& host,
                             const std::vector<tls::dane::tlsa_record>& records) {
    boost::asio::io_context ioc;
    tls::client_options co;
    auto ctx = tls::make_client_context(co);
    if (!ctx || !tls::dane::enable_dane_context((*ctx)->native_handle())) return false;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> s(ioc, **ctx);
    s.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), https_->port()});
    if (!tls::dane::enable_dane(s.native_handle(), host, {}, records)) return false;
    boost::system::error_code ec;
    s.handshake(boost::asio::ssl::stream_base::client, ec);
    // DANE-EE matches the leaf (depth 0), DANE-TA an issuer (depth >= 1).
    return !ec && tls::dane::matched_depth(s.native_handle()) >= 0;
  }

  static inline t::fs::path dir_;
  static inline std::string ca_file_;
  static inline std::unique_ptr<http::server> https_;
  static inline std::unique_ptr<t::nsd_server> nsd_;
  static inline std::unique_ptr<t::unbound_server> unbound_;
  static inline std::unique_ptr<dns::cares_resolver> resolver_;
};

} // namespace

TEST_F(mtasts_interop, snawoot_resolve_status) {
  const auto expected = read_tsv("resolve_status.tsv");
  ASSERT_GE(expected.size(), 20u);
  int ran = 0;
  for (const auto& [domain, want] : expected) {
    SCOPED_TRACE(domain);
    auto r = m::fetch(*resolver_, domain, fetch_options());
    const std::string got = !r ? "FETCH_ERROR" : *r ? "VALID" : "NONE";
    EXPECT_EQ(got, want) << (r ? "" : r.error().message());
    ++ran;
  }
  EXPECT_EQ(ran, static_cast<int>(expected.size()));
}

TEST_F(mtasts_interop, snawoot_fetch_failure_reasons) {
  const std::map<std::string, mailkit::error_code> reasons = {
      {"bad-policy1.loc", m::errc::bad_policy},
      {"bad-policy3.loc", m::errc::bad_content_type},
      {"bad-policy4.loc", m::errc::http_status},
      {"static-overlength.loc", http::errc::body_too_large},
      {"chunked-overlength.loc", http::errc::body_too_large},
      {"bad-cert1.loc", http::errc::certificate_invalid},
      {"bad-cert2.loc", http::errc::certificate_invalid},
  };
  for (const auto& [domain, ec] : reasons) {
    auto r = m::fetch(*resolver_, domain, fetch_options());
    ASSERT_FALSE(r) << domain;
    EXPECT_EQ(r.error(), ec) << domain << ": " << r.error().message();
  }
  auto good = m::fetch(*resolver_, "good.loc", fetch_options());
  ASSERT_TRUE(good && *good);
  EXPECT_EQ((*good)->id, "20180907T090909");
  EXPECT_EQ((*good)->value.policy_mode, m::mode::enforce);
  EXPECT_EQ((*good)->value.mx, std::vector<std::string>{"mail.loc"});
}

TEST_F(mtasts_interop, snawoot_refdata_enforce_decisions) {
  // refdata.tsv: "OK secure match=<mx>" where an enforce policy applies (the MX must then
  // present valid TLS), NOTFOUND otherwise. Requests name Postfix next hops: "[domain]",
  // "domain:port", IP literals (never a policy).
  std::ifstream in(data / "refdata.tsv");
  std::string line;
  int ran = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    std::string request = line.substr(0, tab);
    std::string want = line.substr(tab + 1);
    while (!want.empty() && want.back() == ' ')
      want.pop_back();
    std::string next_hop = request.substr(request.find(' ') + 1);
    if (next_hop.front() == '[') {
      next_hop = next_hop.substr(1, next_hop.find(']') - 1);
    } else if (const auto colon = next_hop.find(':'); colon != std::string::npos) {
      next_hop = next_hop.substr(0, colon);
    }
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(next_hop, ec);
    std::string got = "NOTFOUND";
    if (ec) {
      auto r = m::fetch(*resolver_, next_hop, fetch_options());
      if (r && *r) {
        const auto& p = (*r)->value;
        // Enforce: delivery without valid TLS to a matching MX is refused.
        const auto d = m::decide(&p, p.mx.empty() ? "" : p.mx.front(), m::dane_state::none,
                                 m::tls_outcome{false, false, false});
        if (d.action == m::verdict::refuse) {
          got = "OK secure match=";
          for (std::size_t i = 0; i < p.mx.size(); ++i)
            got += (i ? ":" : "") + p.mx[i];
          got += " servername=hostname";
        }
      }
    }
    EXPECT_EQ(got, want) << request;
    ++ran;
  }
  EXPECT_GE(ran, 20);
}

TEST_F(mtasts_interop, cache_over_the_wire) {
  const auto path = dir_ / "policies.db";
  auto cache = m::sqlite_policy_cache::open(path.string());
  ASSERT_TRUE(cache);
  const auto source = m::network_source(*resolver_, fetch_options());
  mailkit::manual_clock clock(mailkit::clock::time_point(1700000000s));
  auto r = m::resolve(**cache, source, "good.loc", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_TRUE(r->fetched);
  const auto requests = https_->requests();
  r = m::resolve(**cache, source, "good.loc", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_FALSE(r->fetched);
  EXPECT_EQ(https_->requests(), requests);
  // fast-expire.loc: max_age 1; a second later it is fetched again.
  r = m::resolve(**cache, source, "fast-expire.loc", clock);
  ASSERT_TRUE(r && r->active && r->fetched);
  clock.advance(2s);
  r = m::resolve(**cache, source, "fast-expire.loc", clock);
  ASSERT_TRUE(r && r->active);
  EXPECT_TRUE(r->fetched);
  // A failing fetch with nothing cached: no policy, the error recorded (for TLS-RPT).
  r = m::resolve(**cache, source, "bad-cert1.loc", clock);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->active);
  EXPECT_EQ(r->error, http::errc::certificate_invalid);
}

TEST_F(mtasts_interop, dane_signed_zone_matching_and_mismatching) {
  // Matching TLSA, authenticated: DANE applies and the handshake passes.
  auto l = m::lookup_tlsa(*resolver_, "mx.dane.test");
  ASSERT_TRUE(l) << l.error().message();
  ASSERT_EQ(l->state, m::dane_state::usable);
  const bool ok = dane_handshake("mx.dane.test", l->records);
  EXPECT_TRUE(ok);
  auto d = m::decide(nullptr, "mx.dane.test", l->state, m::tls_outcome{true, false, ok});
  EXPECT_EQ(d.action, m::verdict::deliver);
  EXPECT_TRUE(d.dane_applied);

  // Mismatching TLSA: the handshake fails, and MTA-STS cannot override it (RFC 8461 §2).
  l = m::lookup_tlsa(*resolver_, "mx-bad.dane.test");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->state, m::dane_state::usable);
  const bool bad = dane_handshake("mx-bad.dane.test", l->records);
  EXPECT_FALSE(bad);
  m::policy sts = *m::parse_policy("version: STSv1\nmode: enforce\nmx: *.dane.test\nmax_age: 60");
  d = m::decide(&sts, "mx-bad.dane.test", l->state, m::tls_outcome{true, true, bad});
  EXPECT_EQ(d.action, m::verdict::refuse);
  EXPECT_EQ(d.reason, m::failure::dane_mismatch);

  // DANE-TA(2): the presented chain leads to the CA the record names; a record naming another
  // key fails the handshake.
  l = m::lookup_tlsa(*resolver_, "mx-ta.dane.test");
  ASSERT_TRUE(l) << l.error().message();
  ASSERT_EQ(l->state, m::dane_state::usable);
  ASSERT_EQ(l->records.size(), 1u);
  EXPECT_EQ(l->records.front().usage, 2);
  EXPECT_TRUE(dane_handshake("mx-ta.dane.test", l->records));
  l = m::lookup_tlsa(*resolver_, "mx-ta-wrong.dane.test");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->state, m::dane_state::usable);
  EXPECT_FALSE(dane_handshake("mx-ta-wrong.dane.test", l->records));

  // Only a PKIX-EE record: authenticated but unusable for SMTP.
  l = m::lookup_tlsa(*resolver_, "mx-pkix.dane.test");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, m::dane_state::unusable);

  // Unsigned zone: records without AD are ignored.
  l = m::lookup_tlsa(*resolver_, "mx.insecure.loc");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, m::dane_state::none);

  // Bogus signatures: the validating resolver answers SERVFAIL, delivery is deferred.
  l = m::lookup_tlsa(*resolver_, "mx.bogus-dane.test");
  EXPECT_FALSE(l);
}
