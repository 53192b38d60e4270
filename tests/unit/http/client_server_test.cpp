// SPDX-License-Identifier: Apache-2.0
// The HTTPS client against the HTTPS server helper, both on loopback: routing by Host and SNI,
// certificate and name validation, no redirects, body size caps, deadlines, POST with bounded
// request bodies (a TLS-RPT report endpoint).
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/http/http.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace http = mailkit::http;
namespace tls = mailkit::tls;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct host_files {
  std::string cert, key;
};

host_files write_identity(const fs::path& dir, const std::string& name,
                          const std::vector<std::string>& san) {
  auto pair = tls::make_self_signed(san);
  EXPECT_TRUE(pair);
  host_files f{(dir / (name + ".pem")).string(), (dir / (name + ".key")).string()};
  std::ofstream(f.cert) << pair->certificate_pem;
  std::ofstream(f.key) << pair->private_key_pem;
  return f;
}

class http_test : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("mailkit-http-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const auto good = write_identity(dir_, "good", {"www.good.test"});
    const auto other = write_identity(dir_, "other", {"www.other.test"});
    const auto wrong = write_identity(dir_, "wrong", {"not-this-name.test"});
    untrusted_ = write_identity(dir_, "untrusted", {"www.untrusted.test"});
    // The client trusts good, other and wrong (each self-signed is its own anchor).
    {
      std::ofstream ca(dir_ / "ca.pem");
      for (const auto* f : {&good, &other, &wrong})
        ca << std::ifstream(f->cert).rdbuf();
    }
    ca_file_ = (dir_ / "ca.pem").string();

    const auto ctx = [](const host_files& f) {
      auto c = tls::make_server_context({f.cert, f.key});
      EXPECT_TRUE(c);
      return *c;
    };
    http::server_options so;
    http::virtual_host g{"www.good.test", ctx(good), {}};
    g.routes["/hello"] = {200, "text/plain", "hello\n"};
    g.routes["/moved"] = {301, "text/plain", "moved\n"};
    g.routes["/big"] = {200, "text/plain", std::string(70000, 'a')};
    g.routes["/big-chunked"] = {200, "text/plain", std::string(70000, 'a'), true};
    g.routes["/lying"] = {200, "text/plain", std::string(1000, 'a'), false, 131193};
    g.routes["/chunked"] = {200, "text/plain", "in chunks\n", true};
    http::route reports{202, "text/plain", "accepted\n"};
    reports.max_request_body = 1000;
    g.routes["/reports"] = reports;
    so.hosts.push_back(std::move(g));
    http::virtual_host o{"www.other.test", ctx(other), {}};
    o.routes["/hello"] = {200, "text/html", "<p>other</p>"};
    so.hosts.push_back(std::move(o));
    so.hosts.push_back({"www.wrong.test", ctx(wrong), {{"/hello", {200, "text/plain", "x"}}}});
    so.hosts.push_back(
        {"www.untrusted.test", ctx(untrusted_), {{"/hello", {200, "text/plain", "x"}}}});
    auto s = http::server::start(std::move(so));
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
    for (const char* name :
         {"www.good.test", "www.other.test", "www.wrong.test", "www.untrusted.test"})
      ASSERT_TRUE(resolver_.add(name, mailkit::dns::rtype::a, "127.0.0.1"));
    resolver_.add("www.nowhere.test", mailkit::dns::rtype::txt, "no address");
  }
  static void TearDownTestSuite() {
    server_.reset();
    fs::remove_all(dir_);
  }

  static http::client_options options() {
    http::client_options o;
    o.ca_file = ca_file_;
    o.port = server_->port();
    o.resolver = &resolver_;
    o.timeout = 5s;
    return o;
  }

  static inline fs::path dir_;
  static inline std::string ca_file_;
  static inline host_files untrusted_;
  static inline std::unique_ptr<http::server> server_;
  static inline mailkit::dns::static_resolver resolver_;
};

} // namespace

TEST_F(http_test, get_routes_by_host) {
  auto r = http::get("www.good.test", "/hello", options());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->content_type, "text/plain");
  EXPECT_EQ(r->body, "hello\n");
  r = http::get("www.other.test.", "/hello", options());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->content_type, "text/html");
  EXPECT_EQ(r->body, "<p>other</p>");
  r = http::get("www.good.test", "/missing", options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404u);
  r = http::get("www.good.test", "/chunked", options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "in chunks\n");
}

TEST_F(http_test, redirects_are_returned_not_followed) {
  auto r = http::get("www.good.test", "/moved", options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301u);
}

TEST_F(http_test, body_size_is_capped) {
  for (const char* target : {"/big", "/big-chunked", "/lying"}) {
    auto r = http::get("www.good.test", target, options());
    ASSERT_FALSE(r) << target;
    EXPECT_EQ(r.error(), http::errc::body_too_large) << target;
  }
  auto o = options();
  o.max_body = 100000;
  auto r = http::get("www.good.test", "/big", o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), 70000u);
}

TEST_F(http_test, certificates_are_validated) {
  auto r = http::get("www.untrusted.test", "/hello", options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http::errc::certificate_invalid);
  r = http::get("www.wrong.test", "/hello", options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http::errc::certificate_invalid);
}

TEST_F(http_test, connection_failures) {
  auto r = http::get("www.nowhere.test", "/", options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http::errc::resolve_failed);
  EXPECT_FALSE(http::get("", "/", options()));
  EXPECT_FALSE(http::get("www.good.test", "no-slash", options()));

  // A listener that accepts and never answers: the deadline ends the exchange.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto o = options();
  o.port = ntohs(a.sin_port);
  o.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  r = http::get("www.good.test", "/hello", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http::errc::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ::close(fd);

  // Nobody listening.
  o.port = ntohs(a.sin_port);
  o.timeout = 2s;
  r = http::get("www.good.test", "/hello", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http::errc::connect_failed);
  EXPECT_GE(server_->requests(), 1u);
}

TEST_F(http_test, post_to_a_route_that_accepts_it) {
  const auto before = server_->received().size();
  auto r = http::post("www.good.test", "/reports?x=1", "application/tlsrpt+gzip",
                      std::string("\x1f\x8b report", 9), options());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 202u);
  EXPECT_EQ(r->body, "accepted\n");
  const auto got = server_->received();
  ASSERT_EQ(got.size(), before + 1);
  EXPECT_EQ(got.back().host, "www.good.test");
  EXPECT_EQ(got.back().target, "/reports?x=1");
  EXPECT_EQ(got.back().content_type, "application/tlsrpt+gzip");
  EXPECT_EQ(got.back().body, std::string("\x1f\x8b report", 9));

  // RFC 9110 §15.5.14: a body over the route's limit is refused, not read.
  r = http::post("www.good.test", "/reports", "application/json", std::string(2000, 'x'),
                 options());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 413u);
  // Routes without a POST limit, and unknown paths, refuse POST.
  r = http::post("www.good.test", "/hello", "text/plain", "x", options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405u);
  r = http::post("www.good.test", "/nowhere", "text/plain", "x", options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404u);
  EXPECT_EQ(server_->received().size(), before + 1);
  // A media type is required, and may not break the header block.
  EXPECT_EQ(http::post("www.good.test", "/reports", "", "x", options()).error(),
            http::errc::invalid_request);
  EXPECT_EQ(http::post("www.good.test", "/reports", "a\r\nX: y", "x", options()).error(),
            http::errc::invalid_request);
}
