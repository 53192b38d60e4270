// SPDX-License-Identifier: Apache-2.0
// The sans-I/O readers: Maildir file names, dovecot-keywords, dovecot-uidlist, mbox, modified
// UTF-7, mailbox names, flags, and the structure record (round trip and damage).
#include <mailkit/mime/message.hpp>
#include <mailkit/store/error.hpp>
#include <mailkit/store/mailbox_name.hpp>
#include <mailkit/store/maildir.hpp>
#include <mailkit/store/structure.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

using namespace mailkit::store;

TEST(maildir_name, dovecot_names) {
  auto n = parse_maildir_name("1700000000.M20P300.mail.example.com,S=1234,W=1260:2,FRSac");
  EXPECT_EQ(n.base, "1700000000.M20P300.mail.example.com,S=1234,W=1260");
  EXPECT_EQ(n.size, 1234u);
  EXPECT_EQ(n.virtual_size, 1260u);
  EXPECT_EQ(n.system, flag_flagged | flag_answered | flag_seen);
  EXPECT_EQ(n.keyword_letters, 0b101u);
  auto d = parse_maildir_name("x:2,DT");
  EXPECT_EQ(d.system, flag_draft | flag_deleted);
  auto p = parse_maildir_name("x:2,P");
  EXPECT_TRUE(p.passed);
  auto none = parse_maildir_name("1700000000.M1P2.host");
  EXPECT_EQ(none.system, 0);
  EXPECT_FALSE(none.size);
  EXPECT_EQ(parse_maildir_name("x:1,S").system, 0); // "1," carries no flags
  EXPECT_FALSE(parse_maildir_name("x,S=notanumber:2,").size);
  EXPECT_EQ(maildir_info(flag_seen | flag_draft | flag_flagged, "ca"), ":2,DFSac");
}

TEST(dovecot_keywords, letters_and_garbage) {
  auto k = parse_dovecot_keywords("0 $Junk\n1 NonJunk\r\n2 \n26 TooFar\nx y\n3 has space\n4 "
                                  "\\Seen\n5 Work\n");
  EXPECT_EQ(k[0], "$Junk");
  EXPECT_EQ(k[1], "NonJunk");
  EXPECT_EQ(k[2], "");
  EXPECT_EQ(k[3], ""); // not an atom
  EXPECT_EQ(k[4], ""); // a system flag is no keyword
  EXPECT_EQ(k[5], "Work");
}

TEST(dovecot_uidlist, versions) {
  auto v3 = parse_dovecot_uidlist("3 V1700000000 N4 G3085f01b7f11094c501100008c4a11c1\n"
                                  "1 :1700000001.M1P1.host,S=10\n"
                                  "3 W120 :1700000003.M3P1.host,S=12:2,S\n"
                                  "bad line\n0 :zero\n");
  ASSERT_TRUE(v3);
  EXPECT_EQ(v3->uidvalidity, 1700000000u);
  EXPECT_EQ(v3->next_uid, 4u);
  EXPECT_EQ(v3->uids.size(), 2u);
  EXPECT_EQ(v3->uids.at("1700000003.M3P1.host,S=12"), 3u);
  auto v1 = parse_dovecot_uidlist("1 1234 7\n5 1700000001.M1P1.host\n");
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->uidvalidity, 1234u);
  EXPECT_EQ(v1->uids.at("1700000001.M1P1.host"), 5u);
  // Fuzz regression (store_keywords_fuzz): a record whose name is only the info part.
  auto empty_name = parse_dovecot_uidlist("3 V1 N2\n2 ::0.mail,S=110\n1 :\n");
  ASSERT_TRUE(empty_name);
  EXPECT_TRUE(empty_name->uids.empty());
  EXPECT_FALSE(parse_dovecot_uidlist("garbage\n"));
  EXPECT_FALSE(parse_dovecot_uidlist(""));
}

TEST(mbox, mboxrd_split_unescape_and_flags) {
  std::string file = "From alice@example.org Thu Nov 24 18:22:48 1986\n"
                     "Subject: one\nStatus: RO\nX-Status: AF\n\n>From the start\n>>From deep\n"
                     "\n"
                     "From bob@example.org Fri Jan  2 03:04:05 2004\n"
                     "Subject: two\n\nbody\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, file.size()}) {
    mbox_reader r;
    for (std::size_t i = 0; i < file.size(); i += chunk)
      ASSERT_TRUE(r.feed(std::string_view(file).substr(i, chunk)));
    ASSERT_TRUE(r.finish());
    auto msgs = r.take();
    ASSERT_EQ(msgs.size(), 2u) << chunk;
    EXPECT_EQ(msgs[0].data, "Subject: one\n\nFrom the start\n>From deep\n");
    EXPECT_EQ(msgs[0].flags.system, flag_seen | flag_answered | flag_flagged);
    EXPECT_EQ(msgs[0].date, 533240568);
    EXPECT_EQ(msgs[1].data, "Subject: two\n\nbody\n");
    EXPECT_EQ(msgs[1].date, 1073012645);
  }
  mbox_reader o(mbox_reader::variant::mboxo);
  ASSERT_TRUE(o.feed("From x Thu Nov 24 18:22:48 1986\n\n>From a\n>>From b\n"));
  ASSERT_TRUE(o.finish());
  EXPECT_EQ(o.take()[0].data, "\nFrom a\n>>From b\n");
}

TEST(mbox, limits_and_bad_start) {
  mbox_reader bad;
  EXPECT_FALSE(bad.feed("Subject: not an mbox\n"));
  mbox_limits lim;
  lim.max_line = 64;
  mbox_reader longline(mbox_reader::variant::mboxrd, lim);
  ASSERT_TRUE(longline.feed("From x Thu Nov 24 18:22:48 1986\n"));
  EXPECT_EQ(longline.feed(std::string(100, 'a')).error(), make_error_code(errc::limit_exceeded));
  lim.max_line = 1024;
  lim.max_message = 100;
  mbox_reader big(mbox_reader::variant::mboxrd, lim);
  ASSERT_TRUE(big.feed("From x Thu Nov 24 18:22:48 1986\n"));
  std::string body;
  for (int i = 0; i < 20; ++i)
    body += "0123456789\n";
  EXPECT_EQ(big.feed(body).error(), make_error_code(errc::limit_exceeded));
  EXPECT_FALSE(parse_mbox_from_date("From x"));
  EXPECT_FALSE(parse_mbox_from_date("From x Thu Foo 24 18:22:48 1986"));
}

TEST(mailbox_names, rules_and_limits) {
  EXPECT_EQ(*normalize_mailbox_name("inbox"), "INBOX");
  EXPECT_EQ(*normalize_mailbox_name("InBox/Sub"), "INBOX/Sub");
  EXPECT_EQ(*normalize_mailbox_name("Sub/inbox"), "Sub/inbox");
  EXPECT_EQ(*normalize_mailbox_name("Ärger/日本"), "Ärger/日本");
  std::string comp(max_name_component, 'a');
  EXPECT_TRUE(normalize_mailbox_name(comp));
  EXPECT_FALSE(normalize_mailbox_name(comp + "a"));
  std::string deep;
  for (std::size_t i = 0; i < max_name_depth; ++i)
    deep += (i ? "/" : "") + std::string("d");
  EXPECT_TRUE(normalize_mailbox_name(deep));
  EXPECT_FALSE(normalize_mailbox_name(deep + "/d"));
  std::string long_name;
  while (long_name.size() <= max_mailbox_name)
    long_name += "abcdefghij/";
  EXPECT_FALSE(normalize_mailbox_name(long_name + "x"));
  for (const char* bad : {"", "/", "a//b", "a/", "/a", ".", "..", "a/..", "a\tb", "a\x7f", "*",
                          "a%", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"})
    EXPECT_FALSE(normalize_mailbox_name(bad)) << bad;
}

TEST(mutf7, rfc3501_examples) {
  // RFC 3501 §5.1.3 example.
  EXPECT_EQ(*decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/台北/日本語");
  EXPECT_EQ(encode_mutf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(*decode_mutf7("&AOQ-rger"), "ärger");
  EXPECT_EQ(encode_mutf7("ärger"), "&AOQ-rger");
  EXPECT_EQ(*decode_mutf7("A&-B"), "A&B");
  EXPECT_EQ(encode_mutf7("A&B"), "A&-B");
  EXPECT_EQ(*decode_mutf7(encode_mutf7("😀 emoji")), "😀 emoji");
  for (const char* bad : {"&", "&U,BTFw", "&@@-", "&2D0-", "\xc3\xa4"})
    EXPECT_FALSE(decode_mutf7(bad)) << bad;
}

TEST(flags, parse_and_text) {
  flag_set f;
  EXPECT_TRUE(f.add("\\seen"));
  EXPECT_TRUE(f.add("\\Recent")); // accepted, not stored
  EXPECT_TRUE(f.add("$Junk"));
  EXPECT_TRUE(f.add("$Junk"));
  EXPECT_FALSE(f.add("two words"));
  EXPECT_FALSE(f.add("(paren"));
  EXPECT_FALSE(f.add(std::string(max_keyword_length + 1, 'k')));
  EXPECT_EQ(f.system, flag_seen);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"\\Seen", "$Junk"}));
  EXPECT_EQ(flag_set::from_text(flag_draft, "b a  a"), (flag_set{flag_draft, {"a", "b"}}));
  flag_set many;
  for (std::size_t i = 0; i < max_keywords_per_message; ++i)
    EXPECT_TRUE(many.add("k" + std::to_string(i)));
  EXPECT_FALSE(many.add("one-more"));
}

TEST(structure, round_trip_and_damage) {
  auto m = mailkit::mime::parse(
      "From: a@b.c\r\nSubject: x\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n"
      "--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n--q\r\nContent-Type: message/rfc822\r\n\r\n"
      "From: inner@x.y\r\nSubject: inner\r\n\r\nin\r\n--q--\r\n");
  ASSERT_TRUE(m);
  auto s = compute_structure(*m);
  ASSERT_GE(s.parts.size(), 4u);
  auto inner = std::find_if(s.parts.begin(), s.parts.end(), [](auto& p) { return p.is_message; });
  ASSERT_NE(inner, s.parts.end());
  ASSERT_TRUE(inner->message_envelope);
  EXPECT_EQ(inner->message_envelope->subject, "inner");
  auto bytes = serialize(s);
  auto back = deserialize(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  // Every truncation and every single-byte change is either rejected or reads as a record
  // within the limits; none may crash (the fuzzer covers the rest).
  for (std::size_t i = 0; i < bytes.size(); ++i)
    EXPECT_FALSE(deserialize(std::string_view(bytes).substr(0, i))) << i;
  EXPECT_EQ(deserialize("nope").error(), make_error_code(errc::corrupt));
  EXPECT_FALSE(deserialize(bytes + "x"));
  structure_limits tight;
  tight.max_parts = 1;
  EXPECT_FALSE(deserialize(bytes, tight));
}

// The body's line count (BODYSTRUCTURE's lines, RFC 3501 section 7.4.2) is counted eight bytes
// at a time in blocks of 255 words: lengths on each side of those boundaries, line ends at
// every offset of a word, runs of line ends that fill a block, and a last line without its end.
TEST(structure, body_line_count_at_every_length) {
  auto lines_of = [](const std::string& body) {
    auto m = mailkit::mime::parse("From: a@b.c\r\nSubject: x\r\n\r\n" + body);
    EXPECT_TRUE(m);
    return compute_structure(*m).parts.at(0).lines;
  };
  auto expected = [](const std::string& body) {
    auto n = static_cast<std::uint64_t>(std::count(body.begin(), body.end(), '\n'));
    return n + (!body.empty() && body.back() != '\n' ? 1 : 0);
  };
  for (std::size_t len :
       {0u, 1u, 7u, 8u, 9u, 15u, 16u, 2039u, 2040u, 2041u, 2047u, 4080u, 4081u, 100000u}) {
    for (std::size_t step : {1u, 2u, 3u, 7u, 8u, 13u, 80u}) {
      std::string body(len, 'a');
      for (std::size_t i = step - 1; i < len; i += step)
        body[i] = '\n';
      EXPECT_EQ(lines_of(body), expected(body)) << len << " " << step;
    }
  }
  std::string bytes; // every byte value, so that only LF counts (0x8a and 0x0b are not LF)
  for (int i = 0; i < 256 * 40; ++i)
    bytes.push_back(static_cast<char>(i % 256 == '\r' ? 'x' : i % 256));
  EXPECT_EQ(lines_of(bytes), expected(bytes));
}

TEST(dovecot_passwd, fields_quotas_and_bad_lines) {
  // The entries are views into the input: it must outlive them.
  const std::string input =
      "# comment\n"
      "\n"
      "bob:{SHA512-CRYPT}$6$s$h:1000:1000::/home/bob::userdb_quota_rule=*:storage=2G\r\n"
      "carol@example.com:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$a$b\n"
      "dave:{MD5}$1$x$y:admin:mail::/home/admin:50:userdb_mail=maildir:~/x "
      "userdb_quota_rule=*:storage=50M\n"
      "erin:{BLF-CRYPT}$2y$05$z::::::userdb_quota_rule=*:storage=300\n"
      "frank:{BLF-CRYPT}$2y$05$z::::::userdb_quota_rule=*:storage=12X\n"
      ":nouser\n"
      "nopassword:\n"
      "justaname\n" +
      std::string(max_passwd_line + 1, 'x') + "\n";
  auto f = parse_dovecot_passwd(input);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->entries.size(), 5u);
  EXPECT_EQ(f->bad_lines, 4u);
  EXPECT_EQ(f->entries[0].user, "bob");
  EXPECT_EQ(f->entries[0].hash, "{SHA512-CRYPT}$6$s$h");
  EXPECT_EQ(f->entries[0].quota_bytes, std::optional<std::uint64_t>(2ull << 30));
  EXPECT_EQ(f->entries[1].user, "carol@example.com");
  EXPECT_FALSE(f->entries[1].quota_bytes);
  EXPECT_EQ(f->entries[2].quota_bytes, std::optional<std::uint64_t>(50ull << 20));
  EXPECT_EQ(f->entries[3].quota_bytes, std::optional<std::uint64_t>(300ull << 10)); // kilobytes
  EXPECT_FALSE(f->entries[4].quota_bytes);                                          // bad unit
  auto overflow = parse_dovecot_passwd("a:b::::::userdb_quota_rule=*:storage=99999999999999999T\n");
  ASSERT_TRUE(overflow);
  EXPECT_FALSE(overflow->entries.at(0).quota_bytes);
}
