// SPDX-License-Identifier: Apache-2.0
// Page size (issue 7): nothing in libmail may assume 4 KiB pages. Some arm64 kernels run with
// 16 KiB or 64 KiB pages (RHEL, Asahi, some Ampere images); code that hard-codes 4096 in mmap
// lengths, guard pages or alignment breaks there at start-up. ctest runs this binary under
// qemu-aarch64 with the guest page size set by QEMU_PAGESIZE (4K, 16K, 64K; the test named
// arm64_page_size_<n>k) and natively on x86-64 with the machine's own page size.
//
// What it checks, with the page size the process sees:
//  - sysconf(_SC_PAGESIZE), getpagesize() and the kernel's AT_PAGESZ agree, and equal
//    $MAILKIT_EXPECT_PAGESIZE, so the 64K run really ran with 64K pages;
//  - the hot paths (base64 decoder, DKIM body hasher with both scans, DKIM sign and verify,
//    MIME parse) never read past the end or before the start of their input: every input sits
//    flush against an inaccessible page (PROT_NONE) on both sides, sized from sysconf, so an
//    over-read is a SIGSEGV instead of a silent pass;
//  - start-up and a short exchange: a TLS listener with a generated certificate accepts a
//    loopback client, sends an SMTP greeting and answers EHLO and QUIT; the client parses the
//    replies with smtp::reply_parser; the SMTP server's own start-up and sessions run under the
//    same page sizes as arm64_smtp_server_4k/_64k (tests/arm64/tests.cmake);
//  - the IMAP protocol core (imap::server) behind a TLS listener: greeting, CAPABILITY, LOGIN,
//    SELECT (completed by the test as the session would), LOGOUT, from a loopback TLS client.
#include <mailkit/core/base64.hpp>
#include <mailkit/dkim/dkim.hpp>
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/imap/server.hpp>
#include <mailkit/mime/message.hpp>
#include <mailkit/smtp/reply_parser.hpp>
#include <mailkit/tls/tls.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
namespace dkim = mailkit::dkim;

namespace {

std::size_t page_size() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// `text` copied into an anonymous mapping so that its first byte starts right after an
// inaccessible page (leading) or its last byte ends right before one (trailing).
class guarded {
public:
  enum class placement { leading, trailing };

  guarded(std::string_view text, placement where) {
    const std::size_t page = page_size();
    const std::size_t data_pages = (text.size() + page - 1) / page + 1;
    length_ = (data_pages + 2) * page;
    void* m = ::mmap(nullptr, length_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    base_ = static_cast<char*>(m);
    // The mapping's first and last pages are the guards.
    ok_ = ::mprotect(base_, page, PROT_NONE) == 0 &&
          ::mprotect(base_ + length_ - page, page, PROT_NONE) == 0;
    char* data = where == placement::leading ? base_ + page : base_ + length_ - page - text.size();
    if (!text.empty()) std::memcpy(data, text.data(), text.size());
    view_ = std::string_view(data, text.size());
  }
  ~guarded() {
    if (base_ != nullptr) ::munmap(base_, length_);
  }
  guarded(const guarded&) = delete;
  guarded& operator=(const guarded&) = delete;

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] std::string_view view() const noexcept { return view_; }

private:
  char* base_ = nullptr;
  std::size_t length_ = 0;
  bool ok_ = false;
  std::string_view view_;
};

constexpr guarded::placement both_placements[] = {guarded::placement::leading,
                                                  guarded::placement::trailing};

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
}

// A body that keeps the DKIM scan in its vector loop for most of a page and then ends in every
// kind of byte the scan looks at: whitespace runs, bare LF, trailing blank lines.
std::string dkim_body(std::size_t approx, std::mt19937& rng) {
  static constexpr std::string_view tails[] = {
      "x", "x ", "x\t", "x  \r\n", "x\n", "x\r\n\r\n\r\n", " \t ", "x\r"};
  std::string body;
  while (body.size() < approx) {
    body += "The quick brown fox jumps over the lazy dog";
    body += (rng() % 3 == 0) ? "  \t \r\n" : "\r\n";
  }
  body += tails[rng() % std::size(tails)];
  return body;
}

} // namespace

TEST(PageSize, ProcessSeesOnePageSize) {
  const std::size_t page = page_size();
  EXPECT_EQ(page, static_cast<std::size_t>(::getpagesize()));
  EXPECT_EQ(page, static_cast<std::size_t>(::getauxval(AT_PAGESZ)));
  EXPECT_EQ(page & (page - 1), 0u) << "not a power of two";
  // Registered by tests/arm64/CMakeLists.txt for every run; absent only when run by hand.
  if (const char* want = std::getenv("MAILKIT_EXPECT_PAGESIZE")) {
    EXPECT_EQ(page, std::strtoull(want, nullptr, 10)) << "qemu did not apply QEMU_PAGESIZE";
  }
}

// The guard itself must work, or the tests below prove nothing: the byte after the data traps,
// the last byte of the data does not. Checked in-process with a SIGSEGV handler: no fork and no
// core file (qemu-user writes a guest core for every uncaught SIGSEGV).
static sigjmp_buf guard_jump;
static void on_guard_fault(int) {
  siglongjmp(guard_jump, 1);
}

TEST(PageSize, GuardPagesTrapOverReads) {
  guarded g("abc", guarded::placement::trailing);
  ASSERT_TRUE(g.ok());
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = on_guard_fault;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(::sigaction(SIGSEGV, &sa, &old), 0);
  volatile bool last_read = false;
  volatile bool past_trapped = false;
  if (sigsetjmp(guard_jump, 1) == 0) {
    volatile char c = g.view().data()[g.view().size() - 1];
    (void)c;
    last_read = true;
  }
  if (sigsetjmp(guard_jump, 1) == 0) {
    volatile char c = g.view().data()[g.view().size()];
    (void)c;
  } else {
    past_trapped = true;
  }
  ::sigaction(SIGSEGV, &old, nullptr);
  EXPECT_TRUE(last_read);
  EXPECT_TRUE(past_trapped);
}

TEST(PageSize, Base64DecoderStaysInsideItsInput) {
  std::mt19937 rng(7);
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{4},
                           std::size_t{7}, std::size_t{8}, std::size_t{57}, page_size() - 1,
                           page_size(), page_size() + 5, 3 * page_size() + 1}) {
    std::string raw(size, '\0');
    for (auto& c : raw)
      c = static_cast<char>(rng());
    const std::string encoded = mailkit::base64::encode_lines(raw, 76, "\r\n");
    for (auto where : both_placements) {
      guarded g(encoded, where);
      ASSERT_TRUE(g.ok());
      mailkit::base64::decode_status st;
      EXPECT_EQ(mailkit::base64::decode_mime(g.view(), &st), raw) << "size " << size;
      // Unpadded tails and stray bytes take the careful path right up to the guard.
      const std::string cut = encoded.substr(0, encoded.size() > 3 ? encoded.size() - 3 : 0);
      guarded h(cut, where);
      ASSERT_TRUE(h.ok());
      mailkit::base64::decoder d;
      std::string out;
      d.feed(h.view(), out);
      d.finish(out);
      EXPECT_LE(out.size(), raw.size());
    }
  }
}

TEST(PageSize, DkimBodyHasherStaysInsideItsInput) {
  std::mt19937 rng(11);
  int runs = 0;
  for (std::size_t approx : {std::size_t{1}, std::size_t{63}, std::size_t{65}, page_size() - 40,
                             page_size() + 100, 2 * page_size()}) {
    const std::string body = dkim_body(approx, rng);
    for (auto c : {dkim::canonicalization::simple, dkim::canonicalization::relaxed}) {
      const std::string want = sha256(dkim::canonicalize_body(body, c));
      for (auto where : both_placements) {
        guarded g(body, where);
        ASSERT_TRUE(g.ok());
        for (bool portable : {false, true}) {
          dkim::body_hasher h(c, dkim::hash_algorithm::sha256);
          h.force_portable_scan(portable);
          h.update(g.view());
          EXPECT_EQ(h.finish(), want) << "size " << body.size() << " portable " << portable;
          ++runs;
        }
      }
    }
  }
  EXPECT_EQ(runs, 6 * 2 * 2 * 2);
}

TEST(PageSize, DkimSignVerifyAndMimeParseFromGuardedBuffers) {
  std::mt19937 rng(13);
  const std::string header = "From: Joe <joe@example.com>\r\n"
                             "To: Suzie <suzie@example.net>\r\n"
                             "Subject: page size\r\n"
                             "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                             "Message-ID: <pages@example.com>\r\n"
                             "MIME-Version: 1.0\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "\r\n";
  const std::string message = header + dkim_body(page_size() + 300, rng);
  auto rsa = dkim::private_key::generate(dkim::key_type::rsa, 2048);
  auto ed = dkim::private_key::generate(dkim::key_type::ed25519);
  ASSERT_TRUE(rsa && ed);
  mailkit::dns::static_resolver zone;
  ASSERT_TRUE(zone.add("rsa._domainkey.example.com", mailkit::dns::rtype::txt, rsa->dns_txt()));
  ASSERT_TRUE(zone.add("ed._domainkey.example.com", mailkit::dns::rtype::txt, ed->dns_txt()));

  for (auto where : both_placements) {
    guarded g(message, where);
    ASSERT_TRUE(g.ok());
    for (const auto* key : {&*rsa, &*ed}) {
      dkim::sign_options o;
      o.domain = "example.com";
      o.selector = key == &*rsa ? "rsa" : "ed";
      o.algo = key == &*rsa ? dkim::algorithm::rsa_sha256 : dkim::algorithm::ed25519_sha256;
      auto field = dkim::sign(g.view(), *key, o);
      ASSERT_TRUE(field) << field.error().message();
      guarded signed_msg(*field + message, where);
      ASSERT_TRUE(signed_msg.ok());
      const auto results = dkim::verify(signed_msg.view(), zone);
      ASSERT_EQ(results.size(), 1u);
      EXPECT_EQ(results[0].result, dkim::result::pass) << results[0].reason;
    }
    auto parsed = mailkit::mime::parse(g.view());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->subject(), "page size");
  }
}

namespace {

// A server context with a freshly generated self-signed certificate for mail.example.test and a
// client context that trusts it (OpenSSL allocates and maps its own memory here).
struct tls_pair {
  std::shared_ptr<mailkit::tls::context> server, client;
};
void make_tls_pair(tls_pair& out) {
  auto pair = mailkit::tls::make_self_signed({"mail.example.test"});
  ASSERT_TRUE(pair) << pair.error().message();
  char tmpl[] = "/tmp/mailkit-pagesize-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string cert = dir + "/cert.pem";
  const std::string key = dir + "/key.pem";
  for (const auto& [path, text] :
       {std::pair{cert, pair->certificate_pem}, std::pair{key, pair->private_key_pem}}) {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
    std::fclose(f);
  }
  auto server_ctx = mailkit::tls::make_server_context({cert, key});
  mailkit::tls::client_options co;
  co.ca_file = cert;
  auto client_ctx = mailkit::tls::make_client_context(co);
  std::remove(cert.c_str());
  std::remove(key.c_str());
  ::rmdir(dir.c_str());
  ASSERT_TRUE(server_ctx && client_ctx);
  out.server = *server_ctx;
  out.client = *client_ctx;
}

} // namespace

// Server start-up and a short exchange over loopback: a TLS listener with a freshly generated
// certificate (OpenSSL allocates and maps its own memory here), a greeting, EHLO, QUIT.
TEST(PageSize, TlsListenerStartsAndAnswersAnSmtpExchange) {
  tls_pair ctx;
  ASSERT_NO_FATAL_FAILURE(make_tls_pair(ctx));

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::string server_error;
  std::thread server([&] {
    boost::system::error_code ec;
    asio::io_context sio;
    asio::ssl::stream<tcp::socket> s(sio, *ctx.server);
    s.next_layer() = acceptor.accept(sio, ec);
    if (!ec) s.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) asio::write(s, asio::buffer(std::string_view("220 mail.example.test ESMTP\r\n")), ec);
    asio::streambuf in;
    for (int commands = 0; !ec && commands < 2; ++commands) {
      const std::size_t n = asio::read_until(s, in, "\r\n", ec);
      if (ec) break;
      std::string line(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + n);
      in.consume(n);
      const std::string reply = line.starts_with("EHLO ")
                                    ? "250-mail.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                                    : "221 2.0.0 Bye\r\n";
      asio::write(s, asio::buffer(reply), ec);
    }
    if (ec) server_error = ec.message();
  });
  // Declared before the client stream, so destroyed after it: the client's socket is closed
  // first, which ends the server's read, and only then is the server thread joined.
  struct joiner {
    std::thread& t;
    ~joiner() {
      if (t.joinable()) t.join();
    }
  } join_server{server};

  asio::ssl::stream<tcp::socket> c(io, *ctx.client);
  boost::system::error_code ec;
  c.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(mailkit::tls::prepare_client(c.native_handle(), "mail.example.test", true));
  c.handshake(asio::ssl::stream_base::client, ec);
  ASSERT_FALSE(ec) << ec.message();

  mailkit::smtp::reply_parser parser;
  auto next_reply = [&]() -> std::optional<mailkit::smtp::reply> {
    for (int reads = 0; reads < 16; ++reads) {
      auto r = parser.next();
      if (!r) return std::nullopt;
      if (*r) return **r;
      char buf[512];
      boost::system::error_code rec;
      const std::size_t n = c.read_some(asio::buffer(buf), rec);
      if (rec) return std::nullopt;
      parser.feed(std::string_view(buf, n));
    }
    return std::nullopt;
  };
  const auto greeting = next_reply();
  ASSERT_TRUE(greeting);
  EXPECT_EQ(greeting->code, 220);
  asio::write(c, asio::buffer(std::string_view("EHLO client.example.test\r\n")), ec);
  const auto ehlo = next_reply();
  ASSERT_TRUE(ehlo);
  EXPECT_EQ(ehlo->code, 250);
  EXPECT_EQ(ehlo->lines.size(), 3u);
  asio::write(c, asio::buffer(std::string_view("QUIT\r\n")), ec);
  const auto quit = next_reply();
  ASSERT_TRUE(quit);
  EXPECT_EQ(quit->code, 221);
  c.next_layer().close(ec);
  server.join();
  EXPECT_EQ(server_error, "");
}

// The IMAP protocol core at this page size: a TLS listener drives imap::server (the sans-I/O
// core mailkitd's IMAP sessions run) through greeting, CAPABILITY, LOGIN, SELECT and LOGOUT.
TEST(PageSize, TlsListenerRunsAnImapExchange) {
  tls_pair ctx;
  ASSERT_NO_FATAL_FAILURE(make_tls_pair(ctx));

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::string server_error;
  std::thread server([&] {
    boost::system::error_code ec;
    asio::io_context sio;
    asio::ssl::stream<tcp::socket> s(sio, *ctx.server);
    s.next_layer() = acceptor.accept(sio, ec);
    if (!ec) s.handshake(asio::ssl::stream_base::server, ec);
    mailkit::imap::server_config cfg;
    cfg.hostname = "mail.example.test";
    cfg.tls_active = true;
    cfg.capabilities = {"IDLE"};
    mailkit::imap::server core(cfg);
    core.greet();
    char buf[4096];
    for (int rounds = 0; !ec && rounds < 64; ++rounds) {
      bool closing = false;
      for (bool more = true; more;) {
        auto ev = core.next_event();
        using kind = mailkit::imap::server_event::kind;
        switch (ev.k) {
        case kind::authenticate:
          core.auth_result(core.password() == "pw" ? std::optional<std::string>(core.user())
                                                   : std::nullopt);
          break;
        case kind::execute:
          core.untagged("0 EXISTS");
          core.complete("OK", "READ-WRITE", "SELECT completed");
          break;
        case kind::close:
          closing = true;
          more = false;
          break;
        default:
          more = false;
          break;
        }
      }
      if (!core.output().empty()) {
        asio::write(s, asio::buffer(core.output()), ec);
        core.consume_output(core.output().size());
      }
      if (closing || ec) break;
      const std::size_t n = s.read_some(asio::buffer(buf), ec);
      if (!ec) core.feed(std::string_view(buf, n));
    }
    if (ec) server_error = ec.message();
  });
  struct joiner {
    std::thread& t;
    ~joiner() {
      if (t.joinable()) t.join();
    }
  } join_server{server};

  asio::ssl::stream<tcp::socket> c(io, *ctx.client);
  boost::system::error_code ec;
  c.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(mailkit::tls::prepare_client(c.native_handle(), "mail.example.test", true));
  c.handshake(asio::ssl::stream_base::client, ec);
  ASSERT_FALSE(ec) << ec.message();
  std::string got;
  // Read until a line starting with `prefix` has arrived; return everything read.
  auto until = [&](std::string_view prefix) {
    for (int reads = 0; reads < 32; ++reads) {
      for (std::size_t pos = 0; pos < got.size();) {
        const std::size_t end = got.find("\r\n", pos);
        if (end == std::string::npos) break;
        if (std::string_view(got).substr(pos, end - pos).starts_with(prefix)) {
          std::string all = got.substr(0, end + 2);
          got.erase(0, end + 2);
          return all;
        }
        pos = end + 2;
      }
      char buf[1024];
      boost::system::error_code rec;
      const std::size_t n = c.read_some(asio::buffer(buf), rec);
      if (rec) break;
      got.append(buf, n);
    }
    return std::string();
  };
  EXPECT_NE(until("* OK [CAPABILITY IMAP4rev1 IMAP4rev2").find("AUTH=PLAIN"), std::string::npos);
  asio::write(c, asio::buffer(std::string_view("a1 CAPABILITY\r\n")), ec);
  EXPECT_NE(until("a1 OK").find("* CAPABILITY IMAP4rev1"), std::string::npos);
  asio::write(c, asio::buffer(std::string_view("a2 LOGIN bob pw\r\n")), ec);
  EXPECT_NE(until("a2 ").find("a2 OK [CAPABILITY"), std::string::npos);
  asio::write(c, asio::buffer(std::string_view("a3 SELECT INBOX\r\n")), ec);
  EXPECT_NE(until("a3 ").find("* 0 EXISTS\r\na3 OK [READ-WRITE]"), std::string::npos);
  asio::write(c, asio::buffer(std::string_view("a4 LOGOUT\r\n")), ec);
  EXPECT_NE(until("a4 ").find("* BYE"), std::string::npos);
  c.next_layer().close(ec);
  server.join();
  EXPECT_EQ(server_error, "");
}
