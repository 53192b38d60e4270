// SPDX-License-Identifier: Apache-2.0
// The SEARCH text index: folding, text extraction (RFC 2047 headers, base64 and
// quoted-printable bodies, charsets), exact results against a reference scan, maintenance at
// append, copy, move, expunge and mailbox deletion, lazy indexing of older messages, recovery
// from a damaged index file, messages too large to index, and a disk short of space.
#include "store_support.hpp"

#include <mailkit/mime/message.hpp>
#include <mailkit/store/text_index.hpp>

#include <filesystem>
#include <fstream>
#include <random>

using namespace mailkit::store;
using namespace mailkit::store::test;

namespace {

class text_index_test : public ::testing::Test {
protected:
  void SetUp() override {
    store = open_store(dir.sub("s"));
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account(bob, "pw"));
  }
  uid_type add(const std::string& data, std::string_view mailbox = "INBOX") {
    auto r = store->append(bob, mailbox, data);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? r->uid : 0;
  }
  std::vector<uid_type> find(text_field f, std::string needle, std::string name = {},
                             std::string_view mailbox = "INBOX") {
    auto r = search_text(*store, bob, mailbox, {f, std::move(name), std::move(needle)});
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : std::vector<uid_type>{};
  }
  std::size_t indexed() {
    auto* host = dynamic_cast<mailkit::store::detail::text_search_host*>(store.get());
    auto n = host->text().size(bob);
    EXPECT_TRUE(n);
    return n ? *n : 0;
  }
  temp_dir dir;
  std::unique_ptr<mail_store> store;
  const std::string bob = "bob@example.com";
};

std::string msg(std::string_view subject, std::string_view body, std::string_view extra = {}) {
  return "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: " +
         std::string(subject) + "\r\n" + std::string(extra) +
         "Message-ID: <x@example.org>\r\n\r\n" + std::string(body) + "\r\n";
}

using uids = std::vector<uid_type>;

} // namespace

TEST(text_fold, folds_case_across_scripts) {
  EXPECT_EQ(fold_text("HeLLo"), "hello");
  EXPECT_EQ(fold_text("ÄÖÜ É Ÿ"), "äöü é ÿ");
  EXPECT_EQ(fold_text("ĄĆĘŁŃŚŹŻ"), "ąćęłńśźż");
  EXPECT_EQ(fold_text("ΣΟΦΊΑ ς"), "σοφία σ");
  EXPECT_EQ(fold_text("ПРИВЕТ Ёж"), "привет ёж");
  EXPECT_EQ(fold_text("ȘȚ ẞ"), "șț ß");
  EXPECT_EQ(fold_text("日本語"), "日本語");
  EXPECT_EQ(fold_text("a\r\nb\rc"), "a\nb\rc");
  // Invalid UTF-8 (a stray continuation, an overlong, a surrogate) folds to U+FFFD per octet.
  EXPECT_EQ(fold_text("a\x80z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(fold_text("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(fold_text("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(text_extract, decodes_headers_bodies_and_charsets) {
  auto m = mailkit::mime::parse(std::string(
      "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
      "Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Sch=F6ne Gr=FC=DFe, MEETING am Montag=\r\n um zehn\r\n"
      "--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "PHA+SGVsbG8gV29ybGQ8L3A+\r\n"
      "--b\r\nContent-Type: application/pdf; name=\"Rechnung.pdf\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nU0VDUkVUIFBERiBURVhU\r\n"
      "--b--\r\n"));
  ASSERT_TRUE(m);
  auto t = extract_text(*m);
  EXPECT_TRUE(t.complete);
  EXPECT_NE(t.header.find("subject: grüße aus köln\n"), std::string::npos) << t.header;
  EXPECT_NE(t.header.find("from: jürgen <j@example.org>\n"), std::string::npos) << t.header;
  EXPECT_NE(t.body.find("schöne grüße, meeting am montag um zehn"), std::string::npos) << t.body;
  EXPECT_NE(t.body.find("<p>hello world</p>"), std::string::npos) << t.body;
  EXPECT_EQ(t.body.find("secret pdf"), std::string::npos) << "attachments are not text";
  EXPECT_NE(t.parts.find("rechnung.pdf"), std::string::npos) << t.parts;

  EXPECT_TRUE(text_matches(t, {text_field::header, "SUBJECT", "GRÜSSE"}) == false);
  EXPECT_TRUE(text_matches(t, {text_field::header, "SUBJECT", "GRÜßE"}));
  EXPECT_FALSE(text_matches(t, {text_field::header, "From", "GRÜßE"}));
  EXPECT_TRUE(text_matches(t, {text_field::header, "subject", ""}));
  EXPECT_FALSE(text_matches(t, {text_field::header, "cc", ""}));
  EXPECT_TRUE(text_matches(t, {text_field::body, "", "Montag um"}));
  EXPECT_FALSE(text_matches(t, {text_field::body, "", "Rechnung"}));
  EXPECT_TRUE(text_matches(t, {text_field::text, "", "Rechnung"}));
}

TEST_F(text_index_test, finds_decoded_text_case_insensitively) {
  add(msg("=?utf-8?b?UmVwb3J0IMO8YmVyIGRhcyBKYWhy?=", "nothing here"));
  add(msg("plain", "PGgxPlF1YXJ0ZXJseSBSZXBvcnQ8L2gxPg==",
          "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"));
  add(msg("other", "Caf=C3=A9 au lait, ol=C3=A9",
          "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n"));
  EXPECT_EQ(find(text_field::text, "REPORT"), (uids{1, 2}));
  EXPECT_EQ(find(text_field::header, "report über", "Subject"), (uids{1}));
  EXPECT_EQ(find(text_field::body, "quarterly report"), (uids{2}));
  EXPECT_EQ(find(text_field::body, "CAFÉ AU"), (uids{3}));
  EXPECT_EQ(find(text_field::body, "LÉ"), (uids{3})) << "2 characters: the stored-text scan";
  EXPECT_EQ(find(text_field::text, "é"), (uids{3}));
  EXPECT_EQ(find(text_field::body, "report"), (uids{2})) << "BODY does not look at headers";
  EXPECT_EQ(find(text_field::header, "", "subject"), (uids{1, 2, 3}));
  EXPECT_EQ(find(text_field::header, "", "X-Missing"), uids{});
  EXPECT_EQ(find(text_field::text, ""), (uids{1, 2, 3}));
  EXPECT_EQ(find(text_field::text, "\"quoted\" OR x*"), uids{}) << "FTS5 syntax is not parsed";
  EXPECT_EQ(find(text_field::header, "example.org", "to"), uids{});
  EXPECT_EQ(find(text_field::header, "example.org", "FROM"), (uids{1, 2, 3}));
}

TEST_F(text_index_test, results_equal_a_reference_scan) {
  // Random messages over a small alphabet make every needle length hit and miss often.
  std::mt19937 rng(42);
  const std::string alphabet = "abAB cé\"";
  auto random_text = [&](std::size_t n) {
    std::string s;
    std::uniform_int_distribution<std::size_t> pick(0, 7);
    for (std::size_t i = 0; i < n; ++i) {
      auto k = pick(rng);
      s += k == 6 ? std::string("é") : std::string(1, alphabet[k]);
    }
    return s;
  };
  std::vector<indexed_text> texts;
  for (int i = 0; i < 60; ++i) {
    auto data = msg(random_text(12), random_text(40),
                    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
    add(data);
    auto parsed = mailkit::mime::parse(data);
    ASSERT_TRUE(parsed);
    texts.push_back(extract_text(*parsed));
  }
  int checked = 0, nonempty = 0;
  for (int q = 0; q < 150; ++q) {
    std::uniform_int_distribution<std::size_t> len(1, 6);
    const auto needle = random_text(len(rng));
    for (auto f : {text_field::text, text_field::body, text_field::header}) {
      text_query query{f, f == text_field::header ? "Subject" : "", needle};
      uids expected;
      for (std::size_t i = 0; i < texts.size(); ++i)
        if (text_matches(texts[i], query)) expected.push_back(static_cast<uid_type>(i + 1));
      EXPECT_EQ(find(f, needle, query.header_name), expected) << "needle '" << needle << "'";
      ++checked;
      nonempty += !expected.empty();
    }
  }
  EXPECT_EQ(checked, 450);
  EXPECT_GT(nonempty, 100);
}

TEST_F(text_index_test, maintained_at_append_copy_move_and_expunge) {
  add(msg("one", "the unicorn text"));
  add(msg("two", "nothing"));
  EXPECT_EQ(indexed(), 2u) << "indexed at append, before any search";
  ASSERT_TRUE(store->create_mailbox(bob, "Archive/2024"));
  ASSERT_TRUE(store->deliver(bob, msg("three", "another unicorn")));
  EXPECT_EQ(indexed(), 3u) << "indexed at delivery";

  const uid_type one[] = {1};
  ASSERT_TRUE(store->copy(bob, "INBOX", one, "Archive/2024"));
  EXPECT_EQ(indexed(), 3u) << "a copy shares the body and its index row";
  EXPECT_EQ(find(text_field::body, "unicorn", {}, "Archive/2024"), (uids{1}));
  EXPECT_EQ(find(text_field::body, "unicorn"), (uids{1, 3}));

  ASSERT_TRUE(store->move(bob, "INBOX", one, "Archive/2024"));
  EXPECT_EQ(find(text_field::body, "unicorn"), (uids{3}));
  EXPECT_EQ(find(text_field::body, "unicorn", {}, "Archive/2024"), (uids{1, 2}));
  EXPECT_EQ(indexed(), 3u);

  const uid_type first[] = {1};
  ASSERT_TRUE(store->expunge(bob, "Archive/2024", std::span<const uid_type>(first)));
  EXPECT_EQ(indexed(), 3u) << "the body is still named by the moved copy";
  const uid_type second[] = {2};
  ASSERT_TRUE(store->expunge(bob, "Archive/2024", std::span<const uid_type>(second)));
  EXPECT_EQ(indexed(), 2u) << "the last reference is gone: so is the row";
  EXPECT_EQ(find(text_field::body, "unicorn", {}, "Archive/2024"), uids{});

  ASSERT_TRUE(store->copy(bob, "INBOX", std::span<const uid_type>(second), "Archive"));
  EXPECT_FALSE(store->delete_mailbox(bob, "INBOX")); // INBOX stays
  const uid_type three[] = {3};
  ASSERT_TRUE(store->move(bob, "INBOX", three, "Archive/2024"));
  ASSERT_TRUE(store->delete_mailbox(bob, "Archive/2024"));
  EXPECT_EQ(indexed(), 1u) << "deleting a mailbox drops its bodies' rows";
}

TEST_F(text_index_test, older_messages_are_indexed_lazily_and_files_are_not_reread) {
  for (int i = 0; i < 20; ++i)
    add(msg("n" + std::to_string(i), i % 2 ? "odd message" : "even message"));
  // A store from before the index: its directory is gone.
  store.reset();
  std::filesystem::remove_all(dir.sub("s/text"));
  store = open_store(dir.sub("s"));
  ASSERT_TRUE(store);
  EXPECT_EQ(indexed(), 0u);
  EXPECT_EQ(find(text_field::body, "ODD MESS").size(), 10u);
  EXPECT_EQ(indexed(), 20u);

  // Once indexed, a search reads no message file: remove the bodies behind the store's back.
  auto list = store->blobs().list();
  ASSERT_TRUE(list);
  for (const auto& id : *list)
    ASSERT_TRUE(store->blobs().remove(id));
  EXPECT_EQ(find(text_field::body, "even").size(), 10u);
  EXPECT_EQ(find(text_field::header, "n1", "subject"),
            (uids{2, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}));
}

TEST_F(text_index_test, a_damaged_index_is_rebuilt) {
  add(msg("alpha", "needle in a haystack"));
  add(msg("beta", "no such thing"));
  // Indexed before the store closes (closing leaves queued index work to the lazy path, and
  // then there would be no file to damage).
  ASSERT_EQ(indexed(), 2u);
  store.reset();
  for (const auto& e : std::filesystem::directory_iterator(dir.sub("s/text"))) {
    std::ofstream out(e.path(), std::ios::binary | std::ios::trunc);
    out << std::string(8192, 'x');
  }
  store = open_store(dir.sub("s"));
  ASSERT_TRUE(store);
  EXPECT_EQ(find(text_field::body, "HAYSTACK"), (uids{1}));
  EXPECT_EQ(indexed(), 2u);
}

TEST_F(text_index_test, a_message_too_large_to_index_is_matched_from_its_file) {
  std::string big;
  while (big.size() <= max_indexed_text)
    big += "filler line of the large message\r\n";
  big += "the last line holds the zebra\r\n";
  add(msg("huge", big));
  add(msg("small", "a zebra too"));
  add(msg("small", "nothing"));
  EXPECT_EQ(find(text_field::body, "ZEBRA"), (uids{1, 2}));
  EXPECT_EQ(find(text_field::body, "filler line"), (uids{1}));
  EXPECT_EQ(find(text_field::text, "xyz"), uids{});
}

TEST_F(text_index_test, accounts_are_separate) {
  ASSERT_TRUE(store->add_account("carol@example.com", "pw"));
  add(msg("mine", "shared words"));
  ASSERT_TRUE(store->append("carol@example.com", "INBOX", msg("hers", "shared words")));
  EXPECT_EQ(find(text_field::body, "shared"), (uids{1}));
  auto other = search_text(*store, "carol@example.com", "INBOX", {text_field::body, "", "shared"});
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, (uids{1}));
  ASSERT_TRUE(store->remove_account("carol@example.com"));
  EXPECT_EQ(indexed(), 1u);
}

TEST_F(text_index_test, removing_a_domain_removes_its_accounts_indexes) {
  ASSERT_TRUE(store->add_domain("other.org"));
  ASSERT_TRUE(store->add_account("dan@other.org", "pw"));
  ASSERT_TRUE(store->append("dan@other.org", "INBOX", msg("theirs", "some words")));
  add(msg("mine", "other words"));
  auto files = [&] {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.sub("s/text")))
      n += e.path().extension() == ".db";
    return n;
  };
  EXPECT_EQ(indexed(), 1u); // bob's; text() also waits for the index work the appends queued
  EXPECT_EQ(files(), 2u);
  ASSERT_TRUE(store->remove_domain("other.org", true));
  EXPECT_EQ(files(), 1u);
  EXPECT_EQ(find(text_field::body, "words"), (uids{1}));
}

// The index is a cache: short of space it gives way to mail. With a reserve no file system
// meets, the index thread indexes nothing and creates no file, and searches answer exactly by
// reading the message files; with room again, the first search indexes what it meets.
TEST_F(text_index_test, short_of_space_the_index_adds_nothing_and_searches_read_the_files) {
  store.reset();
  auto o = options_for(dir.sub("s"));
  o.text_index_min_free = UINT64_MAX;
  auto opened = open(o);
  ASSERT_TRUE(opened);
  store = std::move(*opened);
  auto* host = dynamic_cast<mailkit::store::detail::text_search_host*>(store.get());
  ASSERT_NE(host, nullptr);
  EXPECT_FALSE(host->text().has_room());
  add(msg("alpha", "the unicorn text"));
  add(msg("beta", "nothing"));
  ASSERT_TRUE(store->deliver(bob, msg("gamma", "another unicorn")));
  EXPECT_EQ(find(text_field::body, "UNICORN"), (uids{1, 3}));
  EXPECT_EQ(find(text_field::header, "bet", "subject"), (uids{2}));
  EXPECT_EQ(find(text_field::text, "zz"), uids{});
  const uid_type first[] = {1};
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::span<const uid_type>(first)));
  EXPECT_EQ(find(text_field::body, "unicorn"), (uids{3}));
  std::size_t files = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir.sub("s/text"), ec))
    files += e.path().extension() == ".db";
  EXPECT_EQ(files, 0u) << "no index file was created without room";

  store.reset();
  store = open_store(dir.sub("s")); // the default reserve, which this disk has
  ASSERT_TRUE(store);
  EXPECT_EQ(find(text_field::body, "unicorn"), (uids{3}));
  EXPECT_EQ(indexed(), 2u) << "indexed by the search, once there was room";
}
