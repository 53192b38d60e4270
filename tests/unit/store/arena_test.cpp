// SPDX-License-Identifier: Apache-2.0
// The body arena (libmail/store/src/body_arena.hpp): middling bodies in extents of one
// preallocated file, durable with the commit that names them. Through the store: where bodies
// go, reuse of an expunged body's extent, free space rebuilt from the rows at open, a body
// whose transaction failed, a stale id after reuse (never another message), damage found by
// check(), the arena turned off, no room (bodies stay in the database), concurrent readers.
// Then the arena alone: allocation, coalescing, trimming. (kill -9 of a process appending:
// arena_faults_test.cpp, apart so that ThreadSanitizer, which cannot follow a fork of a
// threaded process, runs this file: tests/tsan.sh.)
#include "store_support.hpp"

#include "../../../libmail/store/src/body_arena.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace mailkit::store;
using namespace mailkit::store::test;
using detail::body_arena;

namespace {

const std::string bob = "bob@example.com";

std::uint64_t offset_of(const std::string& id) {
  return std::stoull(id.substr(1, 12), nullptr, 16);
}

std::string blob_of(mail_store& s, uid_type uid) {
  auto m = s.messages(bob, "INBOX", uid, uid);
  EXPECT_TRUE(m && m->size() == 1);
  return m && m->size() == 1 ? (*m)[0].blob_id : std::string();
}

/// Append `data`; the first middling body of a store goes into the database and asks the
/// arena to prepare space, so wait (bounded) until appends land in the arena.
uid_type append_in_arena(mail_store& s, const std::string& data) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto r = s.append(bob, "INBOX", data);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (!r) return 0;
    if (arena_id(blob_of(s, r->uid))) return r->uid;
    EXPECT_TRUE(s.expunge(bob, "INBOX", std::vector<uid_type>{r->uid}));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "the arena never took a body";
  return 0;
}

class arena_test : public ::testing::Test {
protected:
  void SetUp() override { reopen(); }
  void reopen(std::optional<open_options> o = {}) {
    store.reset();
    store = open_with(o ? *o : arena_options(dir.sub("s")));
    ASSERT_TRUE(store);
    if (!store->account(bob)) {
      ASSERT_TRUE(store->add_domain("example.com"));
      ASSERT_TRUE(store->add_account(bob, "pw"));
    }
  }
  temp_dir dir;
  std::unique_ptr<mail_store> store;
};

} // namespace

TEST_F(arena_test, middling_bodies_go_to_the_arena_small_and_large_ones_do_not) {
  const auto small = message_of(1, 4), middling = message_of(2, 50), large = message_of(3, 200);
  const auto m = append_in_arena(*store, middling);
  ASSERT_NE(m, 0u);
  auto s = store->append(bob, "INBOX", small);
  auto l = store->append(bob, "INBOX", large);
  ASSERT_TRUE(s && l);
  EXPECT_EQ(blob_of(*store, s->uid)[0], 'i'); // in the database
  EXPECT_TRUE(arena_id(blob_of(*store, m)));
  EXPECT_EQ(blob_of(*store, l->uid).size(), 32u); // a file
  EXPECT_EQ(*store->fetch(bob, "INBOX", s->uid), small);
  EXPECT_EQ(*store->fetch(bob, "INBOX", m), middling);
  EXPECT_EQ(*store->fetch(bob, "INBOX", l->uid), large);
  EXPECT_TRUE(std::filesystem::exists(dir.sub("s/bodies.arena")));
  EXPECT_TRUE(store->check()->empty());
  // Deliveries (quota checked in the transaction) take the same path.
  auto d = store->deliver(bob, message_of(4, 60));
  ASSERT_TRUE(d);
  EXPECT_TRUE(arena_id(blob_of(*store, d->uid)));
  EXPECT_EQ(*store->fetch(bob, "INBOX", d->uid), message_of(4, 60));
}

TEST_F(arena_test, an_expunged_body_frees_its_extent_for_the_next_one) {
  const auto a = append_in_arena(*store, message_of(1, 40));
  const auto b = append_in_arena(*store, message_of(2, 40));
  const auto c = append_in_arena(*store, message_of(3, 40));
  const auto b_off = offset_of(blob_of(*store, b));
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{b}));
  const auto d = append_in_arena(*store, message_of(4, 40));
  EXPECT_EQ(offset_of(blob_of(*store, d)), b_off); // best fit: the hole b left
  EXPECT_EQ(*store->fetch(bob, "INBOX", a), message_of(1, 40));
  EXPECT_EQ(*store->fetch(bob, "INBOX", c), message_of(3, 40));
  EXPECT_EQ(*store->fetch(bob, "INBOX", d), message_of(4, 40));
}

TEST_F(arena_test, a_copy_shares_the_body_until_its_last_message_goes) {
  const auto a = append_in_arena(*store, message_of(1, 40));
  const auto id = blob_of(*store, a);
  ASSERT_TRUE(store->create_mailbox(bob, "Keep"));
  ASSERT_TRUE(store->copy(bob, "INBOX", std::vector<uid_type>{a}, "Keep"));
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{a}));
  // The extent still holds the copy's body: a new body goes elsewhere.
  const auto b = append_in_arena(*store, message_of(2, 40));
  EXPECT_NE(offset_of(blob_of(*store, b)), offset_of(id));
  EXPECT_EQ(*store->fetch(bob, "Keep", 1), message_of(1, 40));
}

TEST_F(arena_test, free_space_is_rebuilt_from_the_rows_at_open) {
  const auto a = append_in_arena(*store, message_of(1, 40));
  const auto b = append_in_arena(*store, message_of(2, 40));
  const auto c = append_in_arena(*store, message_of(3, 40));
  const auto b_off = offset_of(blob_of(*store, b));
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{b}));
  reopen();
  EXPECT_EQ(*store->fetch(bob, "INBOX", a), message_of(1, 40));
  EXPECT_EQ(*store->fetch(bob, "INBOX", c), message_of(3, 40));
  // The first body after the restart goes into the hole (the spare beyond the last body is
  // prepared again), never over a live body.
  const auto d = append_in_arena(*store, message_of(4, 40));
  EXPECT_EQ(offset_of(blob_of(*store, d)), b_off);
  std::set<std::uint64_t> offsets;
  for (auto uid : {a, c, d})
    EXPECT_TRUE(offsets.insert(offset_of(blob_of(*store, uid))).second);
  EXPECT_EQ(*store->fetch(bob, "INBOX", d), message_of(4, 40));
  EXPECT_TRUE(store->check()->empty());
}

TEST_F(arena_test, a_body_whose_transaction_failed_is_free_again) {
  const auto a = append_in_arena(*store, message_of(1, 40));
  const auto next = offset_of(blob_of(*store, a)) + 44 * 1024; // a's extent: 40 KiB and change
  // No such mailbox: the body is written before the transaction finds that out.
  auto r = store->append(bob, "Nowhere", message_of(2, 40));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::no_such_mailbox));
  const auto b = append_in_arena(*store, message_of(3, 40));
  EXPECT_EQ(offset_of(blob_of(*store, b)), next); // the failed body's extent, given back
}

TEST_F(arena_test, a_stale_id_after_reuse_reads_nothing_not_another_message) {
  const auto a = append_in_arena(*store, message_of(1, 40));
  const auto old_id = blob_of(*store, a);
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{a}));
  const auto b = append_in_arena(*store, message_of(2, 40));
  ASSERT_EQ(offset_of(blob_of(*store, b)), offset_of(old_id));
  auto stale = store->blobs().get(old_id);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error(), make_error_code(errc::corrupt));
  EXPECT_EQ(*store->fetch(bob, "INBOX", b), message_of(2, 40));
}

TEST_F(arena_test, check_and_recovery_report_a_damaged_extent) {
  const auto a = append_in_arena(*store, message_of(1, 40));
  const auto id = blob_of(*store, a);
  store.reset();
  {
    int fd = ::open(dir.sub("s/bodies.arena").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "XXXXXXXX", 8, static_cast<off_t>(offset_of(id))), 8);
    ::close(fd);
  }
  auto o = arena_options(dir.sub("s"));
  o.recover = false;
  reopen(o);
  auto problems = store->check();
  ASSERT_TRUE(problems);
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_EQ((*problems)[0], "missing body: " + id);
  auto rep = store->recover();
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->missing_blobs, 1u);
  EXPECT_FALSE(store->fetch(bob, "INBOX", a));
}

TEST_F(arena_test, turned_off_new_bodies_stay_in_the_database_and_old_ones_stay_readable) {
  const auto a = append_in_arena(*store, message_of(1, 40));
  auto o = arena_options(dir.sub("s"));
  o.arena_body_min = 0;
  reopen(o);
  EXPECT_EQ(*store->fetch(bob, "INBOX", a), message_of(1, 40));
  auto b = store->append(bob, "INBOX", message_of(2, 40));
  ASSERT_TRUE(b);
  EXPECT_EQ(blob_of(*store, b->uid)[0], 'i');
  ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{a}));
  reopen(o);
  // Nothing left in it: the file goes.
  EXPECT_FALSE(std::filesystem::exists(dir.sub("s/bodies.arena")));
  EXPECT_EQ(*store->fetch(bob, "INBOX", b->uid), message_of(2, 40));
}

TEST_F(arena_test, without_room_on_the_file_system_bodies_stay_in_the_database) {
  auto o = arena_options(dir.sub("s"));
  o.arena_min_free = std::uint64_t(1) << 60; // never that much free
  reopen(o);
  for (int i = 0; i < 20; ++i) {
    auto r = store->append(bob, "INBOX", message_of(i, 40));
    ASSERT_TRUE(r);
    EXPECT_EQ(blob_of(*store, r->uid)[0], 'i');
    EXPECT_EQ(*store->fetch(bob, "INBOX", r->uid), message_of(i, 40));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TEST_F(arena_test, readers_during_expunges_and_appends_see_their_message_or_nothing) {
  // Writers reuse extents while readers fetch by UID: a fetch returns the message it asked
  // for or an error (expunged meanwhile), never another message's bytes.
  std::vector<uid_type> uids;
  for (int i = 0; i < 8; ++i)
    uids.push_back(append_in_arena(*store, message_of(i, 30 + i)));
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, read_ok{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      while (!stop) {
        auto all = store->messages(bob, "INBOX");
        if (!all) continue;
        for (const auto& m : *all) {
          auto data = store->fetch(bob, "INBOX", m.uid);
          if (!data) continue;
          if (data->size() != m.size) ++wrong;
          // The subject names the message's number; its lines must all name the same.
          auto at = data->find("Subject: message ");
          if (at == std::string::npos) {
            ++wrong;
            continue;
          }
          const auto n = std::stoi(data->substr(at + 17));
          if (*data != message_of(n, 30 + n % 8)) ++wrong;
          ++read_ok;
        }
      }
    });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (int round = 0; round < 300 && std::chrono::steady_clock::now() < deadline; ++round) {
    const auto victim = uids[static_cast<std::size_t>(round) % uids.size()];
    ASSERT_TRUE(store->expunge(bob, "INBOX", std::vector<uid_type>{victim}));
    const int n = 8 + round;
    auto r = store->append(bob, "INBOX", message_of(n, 30 + n % 8));
    ASSERT_TRUE(r);
    uids[static_cast<std::size_t>(round) % uids.size()] = r->uid;
  }
  stop = true;
  for (auto& t : readers)
    t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(read_ok.load(), 0);
  EXPECT_TRUE(store->check()->empty());
}

// ---- the arena alone ------------------------------------------------------------------------

namespace {

body_arena::options small_arena() {
  body_arena::options o;
  o.chunk = 64 * 1024;
  o.spare = 128 * 1024;
  o.min_free = 0;
  o.any_file_system = true;
  return o;
}

std::unique_ptr<body_arena> open_arena(const std::string& path,
                                       const std::vector<std::string>& live = {},
                                       body_arena::options o = small_arena()) {
  auto a = body_arena::open(path, o, live);
  EXPECT_TRUE(a) << (a ? "" : a.error().message());
  return a ? std::move(*a) : nullptr;
}

std::string put_when_ready(body_arena& a, std::string_view data) {
  for (int i = 0; i < 100; ++i) {
    if (auto id = a.put(data)) return *id;
    a.wait_prepared();
  }
  ADD_FAILURE() << "no room";
  return {};
}

} // namespace

TEST(body_arena_alone, bodies_round_trip_and_extents_are_whole_blocks) {
  temp_dir dir;
  auto a = open_arena(dir.sub("arena"));
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->put("first")); // nothing prepared before the first body asks
  const auto x = put_when_ready(*a, "first");
  const auto y = put_when_ready(*a, std::string(5000, 'y'));
  const auto z = put_when_ready(*a, "third");
  EXPECT_EQ(offset_of(x), 0u);
  EXPECT_EQ(offset_of(y), 4096u);     // header + 5 bytes: one block
  EXPECT_EQ(offset_of(z), 4096u * 3); // header + 5000 bytes: two blocks
  ASSERT_TRUE(a->settle());
  EXPECT_EQ(*a->get(x), "first");
  EXPECT_EQ(*a->get(y), std::string(5000, 'y'));
  EXPECT_EQ(*a->get(z), "third");
  EXPECT_TRUE(a->holds(y));
  // Malformed ids, or an id whose length or nonce differs from the header: nothing.
  EXPECT_FALSE(a->get("a123"));
  auto other_nonce = x;
  other_nonce[36] = other_nonce[36] == '0' ? '1' : '0';
  EXPECT_EQ(a->get(other_nonce).error(), make_error_code(errc::corrupt));
  EXPECT_FALSE(a->holds(other_nonce));
}

TEST(body_arena_alone, freed_neighbours_merge_and_the_end_is_given_back) {
  temp_dir dir;
  auto a = open_arena(dir.sub("arena"));
  ASSERT_TRUE(a);
  std::vector<std::string> ids;
  for (int i = 0; i < 64; ++i)
    ids.push_back(put_when_ready(*a, std::string(10000, char('a' + i % 26))));
  ASSERT_TRUE(a->settle());
  a->wait_prepared();
  struct stat st {};
  ASSERT_EQ(::stat(dir.sub("arena").c_str(), &st), 0);
  const auto full = static_cast<std::uint64_t>(st.st_size);
  EXPECT_GE(full, 64u * 12288);
  // Three neighbours freed: one hole that holds a body three times as large.
  a->release(ids[10]);
  a->release(ids[12]);
  a->release(ids[11]);
  const auto big = put_when_ready(*a, std::string(3 * 12288 - 32, 'B'));
  EXPECT_EQ(offset_of(big), offset_of(ids[10]));
  // A release twice (never expected) does not make the space free twice.
  a->release(ids[20]);
  a->release(ids[20]);
  const auto p = put_when_ready(*a, std::string(10000, 'p'));
  const auto q = put_when_ready(*a, std::string(10000, 'q'));
  EXPECT_NE(offset_of(p), offset_of(q));
  // Everything freed: the file shrinks to the spare.
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (i < 10 || i > 12) a->release(ids[i]);
  a->release(big);
  a->release(p);
  a->release(q);
  a->wait_prepared();
  ASSERT_EQ(::stat(dir.sub("arena").c_str(), &st), 0);
  EXPECT_LE(static_cast<std::uint64_t>(st.st_size), 128u * 1024);
  EXPECT_EQ(a->stats().free, a->stats().prepared);
}

TEST(body_arena_alone, open_takes_the_named_extents_and_frees_the_rest) {
  temp_dir dir;
  std::vector<std::string> ids;
  {
    auto a = open_arena(dir.sub("arena"));
    ASSERT_TRUE(a);
    for (int i = 0; i < 6; ++i)
      ids.push_back(put_when_ready(*a, std::string(6000, char('0' + i))));
    ASSERT_TRUE(a->settle());
  }
  // Rows name bodies 0, 2 and 5 (1, 3, 4 were expunged, or their transactions never
  // committed): those stay, the rest is free, beyond the last is prepared again.
  auto a = open_arena(dir.sub("arena"), {ids[0], ids[2], ids[5]});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->stats().prepared, offset_of(ids[5]) + 8192);
  EXPECT_EQ(a->stats().free, 3u * 8192);
  for (int i : {0, 2, 5})
    EXPECT_EQ(*a->get(ids[static_cast<std::size_t>(i)]), std::string(6000, char('0' + i)));
  std::set<std::uint64_t> live = {offset_of(ids[0]), offset_of(ids[2]), offset_of(ids[5])};
  for (int i = 0; i < 10; ++i) {
    const auto id = put_when_ready(*a, std::string(6000, 'n'));
    EXPECT_FALSE(live.count(offset_of(id))) << i;
  }
  for (int i : {0, 2, 5})
    EXPECT_EQ(*a->get(ids[static_cast<std::size_t>(i)]), std::string(6000, char('0' + i)));
}
