// SPDX-License-Identifier: Apache-2.0
// SEARCH HEADER, BODY and TEXT through the store's text index (store/text_index.hpp), driven
// through imap::server and the executor with bytes: decoded text (RFC 2047 headers, base64 and
// quoted-printable bodies, charsets) matched case-insensitively (RFC 9051 §6.4.4), keys combined
// with OR and NOT and with other keys, CHARSET UTF-8 with a literal, expunged and copied
// messages, and the message files no longer read once indexed. Also FETCH BODYSTRUCTURE and
// ENVELOPE from the process-wide text cache give the same bytes as the first, encoded, FETCH.
#include <mailkit/server/imap_executor.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <unistd.h>

namespace fs = std::filesystem;
namespace imap = mailkit::imap;
namespace srv = mailkit::server;

namespace {

struct session {
  imap::server core;
  srv::imap_executor exec;

  explicit session(std::shared_ptr<mailkit::store::mail_store> st)
      : core(cfg()), exec(std::move(st)) {
    core.greet();
    take();
  }
  static imap::server_config cfg() {
    imap::server_config c;
    c.hostname = "imap.example.test";
    c.allow_plaintext_auth = true;
    c.capabilities = srv::imap_executor_capabilities();
    return c;
  }
  std::string take() {
    std::string o(core.output());
    core.consume_output(o.size());
    return o;
  }
  std::string send(std::string_view bytes) {
    core.feed(bytes);
    for (;;) {
      auto ev = core.next_event();
      using k = imap::server_event::kind;
      if (ev.k == k::authenticate) {
        core.auth_result(exec.authenticate(core.user(), core.password()));
      } else if (ev.k == k::execute) {
        exec.execute(core, ev);
        while (exec.pending())
          exec.resume(core);
      } else {
        break;
      }
    }
    return take();
  }
};

bool has(const std::string& out, std::string_view what) {
  return out.find(what) != std::string::npos;
}

struct search_fixture : ::testing::Test {
  fs::path dir;
  std::shared_ptr<mailkit::store::mail_store> store;

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_imap_search_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    mailkit::store::open_options o;
    o.path = (dir / "store").string();
    o.passwords.opslimit = 1;
    o.passwords.memlimit = 8u << 10 << 10;
    auto st = mailkit::store::open(std::move(o));
    ASSERT_TRUE(st) << st.error().message();
    store = std::move(*st);
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account("bob@example.com", "pw-bob-123"));
    // 1: RFC 2047 subject, plain body.
    deliver("From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n"
            "Subject: =?utf-8?q?R=C3=A9union_du_lundi?=\r\n\r\nOrdre du jour: budget\r\n");
    // 2: base64 body (its encoded form holds none of the words).
    deliver("From: Carol <carol@example.org>\r\nTo: bob@example.com\r\nSubject: Numbers\r\n"
            "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "VGhlIHF1YXJ0ZXJseSBGSUdVUkVTIGFyZSBpbg==\r\n");
    // 3: quoted-printable Latin-1 body in a multipart with an attachment.
    deliver("From: Dan <dan@example.net>\r\nTo: bob@example.com\r\nSubject: Caf\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\nUn caf=E9 cr=E8me, merci\r\n"
            "--b\r\nContent-Type: application/pdf; name=\"facture.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n");
  }
  void TearDown() override {
    store.reset();
    fs::remove_all(dir);
  }
  void deliver(const std::string& msg) {
    ASSERT_TRUE(store->deliver("bob@example.com", msg, "INBOX"));
  }
  std::unique_ptr<session> logged_in() {
    auto s = std::make_unique<session>(store);
    EXPECT_TRUE(has(s->send("L LOGIN bob@example.com pw-bob-123\r\n"), "L OK"));
    EXPECT_TRUE(has(s->send("S SELECT INBOX\r\n"), "S OK"));
    return s;
  }
};

} // namespace

TEST_F(search_fixture, DecodedTextCaseInsensitive) {
  auto s_owner = logged_in();
  auto& s = *s_owner;
  EXPECT_TRUE(has(s.send("a SEARCH BODY figures\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("b SEARCH BODY VGhl\r\n"), "* SEARCH\r\n")) << "not the encoded form";
  EXPECT_TRUE(has(s.send("c SEARCH SUBJECT \"reunion\"\r\n"), "* SEARCH\r\n"));
  EXPECT_TRUE(has(s.send("d SEARCH CHARSET UTF-8 SUBJECT {6+}\r\nRÉUNI\r\n"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(s.send("e SEARCH CHARSET UTF-8 BODY {5+}\r\nCAFÉ\r\n"), "* SEARCH 3\r\n"));
  EXPECT_TRUE(has(s.send("f SEARCH TEXT facture.pdf\r\n"), "* SEARCH 3\r\n"));
  EXPECT_TRUE(has(s.send("g SEARCH BODY facture\r\n"), "* SEARCH\r\n")) << "a MIME header";
  EXPECT_TRUE(has(s.send("h SEARCH HEADER From EXAMPLE.ORG\r\n"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(s.send("i SEARCH HEADER X-None \"\"\r\n"), "* SEARCH\r\n"));
  EXPECT_TRUE(has(s.send("j SEARCH HEADER Subject \"\"\r\n"), "* SEARCH 1 2 3\r\n"));
  EXPECT_TRUE(has(s.send("k SEARCH FROM dan\r\n"), "* SEARCH 3\r\n"));
  EXPECT_TRUE(has(s.send("l SEARCH TO bob\r\n"), "* SEARCH 1 2 3\r\n"));
}

TEST_F(search_fixture, TextKeysCombine) {
  auto s_owner = logged_in();
  auto& s = *s_owner;
  EXPECT_TRUE(has(s.send("a SEARCH NOT BODY merci\r\n"), "* SEARCH 1 2\r\n"));
  EXPECT_TRUE(has(s.send("b SEARCH OR BODY budget SUBJECT numbers\r\n"), "* SEARCH 1 2\r\n"));
  EXPECT_TRUE(has(s.send("c SEARCH 2:3 TEXT e\r\n"), "* SEARCH 2 3\r\n"));
  EXPECT_TRUE(has(s.send("d UID SEARCH RETURN (COUNT) TEXT bob\r\n"), "COUNT 3"));
  EXPECT_TRUE(has(s.send("e SEARCH BODY ud\r\n"), "* SEARCH 1\r\n")) << "2 characters";
}

TEST_F(search_fixture, ExpungedCopiedAndNoFileRead) {
  auto s_owner = logged_in();
  auto& s = *s_owner;
  EXPECT_TRUE(has(s.send("a COPY 2 Archive\r\n"), "a OK"));
  EXPECT_TRUE(has(s.send("b STORE 2 +FLAGS (\\Deleted)\r\n"), "b OK"));
  EXPECT_TRUE(has(s.send("c EXPUNGE\r\n"), "c OK"));
  EXPECT_TRUE(has(s.send("d SEARCH BODY quarterly\r\n"), "* SEARCH\r\n"));
  EXPECT_TRUE(has(s.send("e SELECT Archive\r\n"), "e OK"));
  EXPECT_TRUE(has(s.send("f SEARCH BODY quarterly\r\n"), "* SEARCH 1\r\n"));
  // Indexed at delivery: with the bodies gone, SEARCH still answers from the index.
  auto list = store->blobs().list();
  ASSERT_TRUE(list);
  for (const auto& id : *list)
    ASSERT_TRUE(store->blobs().remove(id));
  EXPECT_TRUE(has(s.send("g SEARCH TEXT FIGURES\r\n"), "* SEARCH 1\r\n"));
}

TEST_F(search_fixture, CachedFetchTextsAreTheEncodedOnes) {
  auto s_owner = logged_in();
  auto& s = *s_owner;
  const auto first = s.send("a FETCH 1:3 (ENVELOPE BODY BODYSTRUCTURE)\r\n");
  ASSERT_TRUE(has(first, "a OK")) << first;
  // A second session reads the texts from the cache; the bytes are the same.
  auto t_owner = logged_in();
  auto& t = *t_owner;
  const auto second = t.send("a FETCH 1:3 (ENVELOPE BODY BODYSTRUCTURE)\r\n");
  EXPECT_EQ(first, second);
  EXPECT_TRUE(has(second, "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"iso-8859-1\")"))
      << second;
}
