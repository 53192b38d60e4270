// SPDX-License-Identifier: Apache-2.0
// The Asio service (server_session.hpp) on loopback with an in-process policy: asynchronous
// answers from another thread, the end-of-data reply only after the policy's commit (DESIGN.md
// §4), sink failures, connection limits and graceful shutdown.
#include <mailkit/smtp/server_session.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using namespace mailkit::smtp;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct memory_sink : message_sink {
  explicit memory_sink(std::string* out, bool fail) : out_(out), fail_(fail) {}
  mailkit::expected<void> write(std::string_view chunk) override {
    if (fail_) return mailkit::fail(mailkit::errc::io_error);
    buf_.append(chunk);
    return {};
  }
  mailkit::expected<void> finish() override { return {}; }
  void abort() noexcept override { buf_.clear(); }
  void commit() { *out_ = buf_; }
  std::string* out_;
  bool fail_;
  std::string buf_;
};

struct test_policy : policy {
  std::atomic<bool> committed{false};
  std::atomic<int> closes{0};
  bool fail_writes = false;
  std::string stored;

  void on_rcpt(const session_info&, const envelope&, const recipient& r,
               decision_handler done) override {
    // Answer from another thread, as a policy doing a database lookup would.
    std::thread([r, done = std::move(done)] {
      done(r.address.domain == "example.org"
               ? decision::accept()
               : decision::respond(make_reply(550, "5.1.1", "no such user")));
    }).detach();
  }
  mailkit::expected<std::unique_ptr<message_sink>> open_message(const session_info&,
                                                                const envelope&) override {
    return std::make_unique<memory_sink>(&stored, fail_writes);
  }
  void on_message(const session_info&, const envelope& e, std::unique_ptr<message_sink> sink,
                  decision_handler done) override {
    std::shared_ptr<message_sink> s(std::move(sink));
    const auto rcpts = e.recipients.size();
    std::thread([this, s, rcpts, done = std::move(done)] {
      static_cast<memory_sink*>(s.get())->commit(); // "fsync"
      committed = true;
      done(decision::respond(make_reply(250, "2.0.0", "queued as Q" + std::to_string(rcpts))));
    }).detach();
  }
  void on_close(const session_info&, close_reason) override { ++closes; }
};

struct fixture {
  explicit fixture(service_options o = {}) {
    o.hostname = "mx.test";
    o.listeners = {{"127.0.0.1", 0, listener_mode::mx}};
    pol = std::make_shared<test_policy>();
    svc = std::make_shared<service>(io.get_executor(), o, pol);
    EXPECT_TRUE(svc->listen());
    svc->start();
    port = svc->endpoints().at(0).port();
    thread = std::thread([this] { io.run(); });
  }
  ~fixture() {
    std::promise<void> drained;
    svc->shutdown(std::chrono::milliseconds(2000), [&] { drained.set_value(); });
    drained.get_future().wait();
    work.reset();
    io.stop();
    thread.join();
  }
  asio::io_context io;
  // Keeps io.run() going after a test's own shutdown has closed every socket and acceptor.
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::shared_ptr<test_policy> pol;
  std::shared_ptr<service> svc;
  std::uint16_t port = 0;
  std::thread thread;
};

struct client {
  explicit client(std::uint16_t port) : sock(ctx) {
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  std::string reply() {
    std::string all;
    while (true) {
      const std::size_t n = asio::read_until(sock, asio::dynamic_buffer(buf), "\r\n");
      std::string line = buf.substr(0, n);
      buf.erase(0, n);
      all += line;
      if (line.size() < 4 || line[3] != '-') return all;
    }
  }
  std::string cmd(const std::string& s) {
    asio::write(sock, asio::buffer(s));
    return reply();
  }
  asio::io_context ctx;
  tcp::socket sock;
  std::string buf;
};

} // namespace

TEST(SmtpService, EndOfDataReplyComesAfterCommit) {
  fixture f;
  client c(f.port);
  EXPECT_EQ(c.reply().substr(0, 3), "220");
  EXPECT_EQ(c.cmd("EHLO c\r\n").substr(0, 3), "250");
  EXPECT_EQ(c.cmd("MAIL FROM:<a@example.net>\r\n").substr(0, 3), "250");
  EXPECT_EQ(c.cmd("RCPT TO:<x@elsewhere.example>\r\n").substr(0, 3), "550");
  EXPECT_EQ(c.cmd("RCPT TO:<b@example.org>\r\n").substr(0, 3), "250");
  EXPECT_EQ(c.cmd("DATA\r\n").substr(0, 3), "354");
  const std::string r = c.cmd("Subject: t\r\n\r\n..dot\r\n.\r\n");
  EXPECT_EQ(r, "250 2.0.0 queued as Q1\r\n");
  EXPECT_TRUE(f.pol->committed.load()); // the 250 was written only after the commit
  EXPECT_EQ(f.pol->stored, "Subject: t\r\n\r\n.dot\r\n");
  EXPECT_EQ(c.cmd("QUIT\r\n").substr(0, 3), "221");
}

TEST(SmtpService, SinkFailureIs451) {
  fixture f;
  f.pol->fail_writes = true;
  client c(f.port);
  c.reply();
  c.cmd("EHLO c\r\n");
  c.cmd("MAIL FROM:<>\r\n");
  c.cmd("RCPT TO:<b@example.org>\r\n");
  c.cmd("DATA\r\n");
  EXPECT_EQ(c.cmd("x\r\n.\r\n").substr(0, 9), "451 4.3.0");
  EXPECT_FALSE(f.pol->committed.load());
}

TEST(SmtpService, PerIpConnectionLimit) {
  service_options o;
  o.max_connections_per_ip = 1;
  fixture f(o);
  client a(f.port);
  EXPECT_EQ(a.reply().substr(0, 3), "220");
  client b(f.port);
  EXPECT_EQ(b.reply().substr(0, 9), "421 4.7.0");
  EXPECT_EQ(f.svc->stats().refused_limits, 1U);
}

TEST(SmtpService, ShutdownClosesIdleSessionsWith421) {
  auto f = std::make_unique<fixture>();
  client c(f->port);
  c.reply();
  EXPECT_EQ(c.cmd("EHLO c\r\n").substr(0, 3), "250");
  std::promise<void> drained;
  f->svc->shutdown(std::chrono::milliseconds(5000), [&] { drained.set_value(); });
  EXPECT_EQ(c.reply().substr(0, 9), "421 4.3.2");
  drained.get_future().wait();
  EXPECT_EQ(f->svc->stats().active, 0U);
  EXPECT_EQ(f->pol->closes.load(), 1);
}
