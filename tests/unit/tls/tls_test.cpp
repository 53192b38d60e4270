// SPDX-License-Identifier: Apache-2.0
// mailkit::tls: self-signed generation, context loading errors, and real handshakes over a
// loopback socket pair: verification passes for the certificate's names and fails otherwise,
// and nothing older than TLS 1.2 is accepted.
#include <mailkit/tls/tls.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace asio = boost::asio;
namespace tls = mailkit::tls;
using tcp = asio::ip::tcp;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/mailkit-tls-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

struct handshake_result {
  boost::system::error_code client;
  boost::system::error_code server;
  int version = 0;
};

// One handshake between a server context and a client context over loopback TCP.
handshake_result handshake(tls::context& server_ctx, tls::context& client_ctx,
                           const std::string& host, bool verify_host) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  handshake_result r;
  std::thread server([&] {
    asio::io_context sio;
    asio::ssl::stream<tcp::socket> s(sio, server_ctx);
    tcp::socket sock(sio);
    boost::system::error_code ec;
    tcp::socket accepted = acceptor.accept(sio, ec);
    if (ec) {
      r.server = ec;
      return;
    }
    s.next_layer() = std::move(accepted);
    s.handshake(asio::ssl::stream_base::server, r.server);
  });
  asio::ssl::stream<tcp::socket> c(io, client_ctx);
  c.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  EXPECT_TRUE(tls::prepare_client(c.native_handle(), host, verify_host).has_value());
  c.handshake(asio::ssl::stream_base::client, r.client);
  if (!r.client) r.version = SSL_version(c.native_handle());
  boost::system::error_code ignored;
  c.next_layer().close(ignored);
  server.join();
  return r;
}

} // namespace

TEST(Tls, SelfSignedLoadsAndVerifiesForItsNames) {
  temp_dir dir;
  auto pair = tls::make_self_signed({"mail.example.test", "localhost", "127.0.0.1"});
  ASSERT_TRUE(pair.has_value());
  EXPECT_NE(pair->certificate_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(pair->private_key_pem.find("PRIVATE KEY"), std::string::npos);
  write(dir.path / "cert.pem", pair->certificate_pem);
  write(dir.path / "key.pem", pair->private_key_pem);
  auto server =
      tls::make_server_context({(dir.path / "cert.pem").string(), (dir.path / "key.pem").string()});
  ASSERT_TRUE(server.has_value()) << tls::last_openssl_error();
  tls::client_options copts;
  copts.ca_file = (dir.path / "cert.pem").string();
  auto client = tls::make_client_context(copts);
  ASSERT_TRUE(client.has_value());

  for (const char* name : {"mail.example.test", "localhost", "127.0.0.1", "MAIL.example.test."}) {
    auto r = handshake(**server, **client, name, true);
    EXPECT_FALSE(r.client) << name << ": " << r.client.message();
    EXPECT_GE(r.version, tls::min_protocol_version) << name;
  }
  // RFC 6125: a name the certificate does not carry fails verification.
  auto wrong = handshake(**server, **client, "other.example.test", true);
  EXPECT_TRUE(wrong.client);
  // Without host verification the chain alone is checked: passes.
  auto unchecked = handshake(**server, **client, "other.example.test", false);
  EXPECT_FALSE(unchecked.client) << unchecked.client.message();
}

TEST(Tls, UntrustedCertificateFailsUnlessVerificationIsOff) {
  temp_dir dir;
  auto pair = tls::make_self_signed({"mail.example.test"});
  auto other = tls::make_self_signed({"mail.example.test"});
  ASSERT_TRUE(pair && other);
  write(dir.path / "cert.pem", pair->certificate_pem);
  write(dir.path / "key.pem", pair->private_key_pem);
  write(dir.path / "other.pem", other->certificate_pem);
  auto server =
      tls::make_server_context({(dir.path / "cert.pem").string(), (dir.path / "key.pem").string()});
  ASSERT_TRUE(server);
  tls::client_options strict;
  strict.ca_file = (dir.path / "other.pem").string(); // trusts a different key
  auto client = tls::make_client_context(strict);
  ASSERT_TRUE(client);
  EXPECT_TRUE(handshake(**server, **client, "mail.example.test", true).client);

  tls::client_options opportunistic;
  opportunistic.verify_peer = false;
  auto lax = tls::make_client_context(opportunistic);
  ASSERT_TRUE(lax);
  EXPECT_FALSE(handshake(**server, **lax, "mail.example.test", false).client);
}

TEST(Tls, OldProtocolVersionsAreRefused) {
  temp_dir dir;
  auto pair = tls::make_self_signed({"localhost"});
  ASSERT_TRUE(pair);
  write(dir.path / "cert.pem", pair->certificate_pem);
  write(dir.path / "key.pem", pair->private_key_pem);
  auto server =
      tls::make_server_context({(dir.path / "cert.pem").string(), (dir.path / "key.pem").string()});
  ASSERT_TRUE(server);
  // A client that offers only TLS 1.1: RFC 8996 says the server must not negotiate it.
  tls::context old(tls::context::tls_client);
  SSL_CTX_set_security_level(old.native_handle(), 0);
  SSL_CTX_set_min_proto_version(old.native_handle(), TLS1_1_VERSION);
  SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_1_VERSION);
  SSL_CTX_set_verify(old.native_handle(), SSL_VERIFY_NONE, nullptr);
  auto r = handshake(**server, old, "localhost", false);
  EXPECT_TRUE(r.client);
  EXPECT_TRUE(r.server);
}

TEST(Tls, LoadErrorsAreNamed) {
  temp_dir dir;
  auto a = tls::make_self_signed({"a.example.test"});
  auto b = tls::make_self_signed({"b.example.test"});
  ASSERT_TRUE(a && b);
  write(dir.path / "a.pem", a->certificate_pem);
  write(dir.path / "b.key", b->private_key_pem);
  write(dir.path / "junk", "not pem");
  auto missing = tls::make_server_context({(dir.path / "none.pem").string(), "x"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), tls::errc::certificate_unreadable);
  EXPECT_TRUE(mailkit::is_permanent(missing.error()));
  auto badkey =
      tls::make_server_context({(dir.path / "a.pem").string(), (dir.path / "junk").string()});
  ASSERT_FALSE(badkey);
  EXPECT_EQ(badkey.error(), tls::errc::private_key_unreadable);
  auto mismatch =
      tls::make_server_context({(dir.path / "a.pem").string(), (dir.path / "b.key").string()});
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error(), tls::errc::key_mismatch);
  tls::client_options copts;
  copts.ca_file = (dir.path / "junk").string();
  auto client = tls::make_client_context(copts);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error(), tls::errc::trust_store_unreadable);
}

TEST(Tls, EnsureSelfSignedCreatesOnceAndReloads) {
  temp_dir dir;
  const auto cert = (dir.path / "sub" / "cert.pem").string();
  const auto key = (dir.path / "sub" / "key.pem").string();
  auto created = tls::ensure_self_signed(cert, key, {"localhost"});
  ASSERT_TRUE(created);
  EXPECT_TRUE(*created);
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto again = tls::ensure_self_signed(cert, key, {"localhost"});
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);

  auto holder = tls::reloadable_server_context::create({cert, key});
  ASSERT_TRUE(holder);
  auto first = (*holder)->current();
  // A broken replacement keeps the old context in service.
  write(cert, "broken");
  EXPECT_FALSE((*holder)->reload());
  EXPECT_EQ((*holder)->current(), first);
  // A good replacement is picked up.
  std::filesystem::remove(cert);
  std::filesystem::remove(key);
  ASSERT_TRUE(tls::ensure_self_signed(cert, key, {"localhost"}));
  EXPECT_TRUE((*holder)->reload());
  EXPECT_NE((*holder)->current(), first);
}

TEST(Tls, PrepareClientRejectsBadNames) {
  tls::context ctx(tls::context::tls_client);
  SSL* ssl = SSL_new(ctx.native_handle());
  EXPECT_FALSE(tls::prepare_client(ssl, "", true));
  EXPECT_FALSE(tls::prepare_client(ssl, ".", true));
  EXPECT_FALSE(tls::prepare_client(ssl, std::string(300, 'a'), true));
  EXPECT_TRUE(tls::prepare_client(ssl, "mx.example.test", true));
  SSL_free(ssl);
}
