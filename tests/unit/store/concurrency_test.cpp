// SPDX-License-Identifier: Apache-2.0
// Many readers and writers on one mailbox at once: appends, flag changes, expunges, copies and
// moves from several threads while others list, fetch and wait for notifications (IMAP IDLE).
// Every thread starts at one latch, and the flag, expunge and copy threads follow the appenders
// (they act on UIDs that exist), so the operations really overlap; the tests check that they did.
// Run under TSan by tests/tsan.sh (the tsan preset) in `make test`, and in the dev build. Every
// loop is bounded in count and in time.
#include "store_support.hpp"

#include <atomic>
#include <latch>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace mailkit::store;
using namespace mailkit::store::test;

namespace {

using clock_type = std::chrono::steady_clock;

/// Wait (bounded) until `pred` holds; false when the deadline passed first.
template <class Pred>
bool wait_until(Pred pred, clock_type::time_point deadline) {
  while (!pred()) {
    if (clock_type::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

} // namespace

TEST(store_concurrency, append_flag_expunge_and_read_in_parallel) {
  temp_dir dir;
  auto o = options_for(dir.sub("s"));
  o.read_connections = 3;
  auto opened = open(o);
  ASSERT_TRUE(opened);
  auto& s = **opened;
  const std::string bob = "bob@example.com";
  ASSERT_TRUE(s.add_domain("example.com"));
  ASSERT_TRUE(s.add_account(bob, "pw"));
  auto sub = s.subscribe(bob, "INBOX");
  ASSERT_TRUE(sub);
  auto archive_sub = s.subscribe(bob, "Archive"); // a second session, IDLE on another mailbox
  ASSERT_TRUE(archive_sub);

  constexpr int appenders = 3, per_appender = 40, readers = 3;
  constexpr int total = appenders * per_appender;
  const auto deadline = clock_type::now() + std::chrono::seconds(60);
  std::atomic<int> appended{0}, failures{0}, appenders_left{appenders};
  std::atomic<uid_type> highest_uid{0};
  std::atomic<bool> done{false};
  std::mutex uids_mutex;
  std::set<uid_type> uids;
  std::vector<std::thread> threads;
  // Appenders, flag, expunge, copy/move threads and readers all start together.
  std::latch start(appenders + 3 + readers);
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < per_appender; ++i) {
        auto r = s.append(bob, "INBOX", sample_message(t * 1000 + i));
        if (!r) {
          ++failures;
          continue;
        }
        {
          std::lock_guard lock(uids_mutex);
          if (!uids.insert(r->uid).second) ++failures; // a UID handed out twice
        }
        uid_type seen = highest_uid.load();
        while (seen < r->uid && !highest_uid.compare_exchange_weak(seen, r->uid)) {
        }
        ++appended;
      }
      --appenders_left;
    });
  }
  // Flags on messages that exist, while the appenders still run: a random UID at or below the
  // highest appended so far, \Flagged toggled on and off.
  std::atomic<std::size_t> flag_changes{0}, flag_calls_while_appending{0};
  threads.emplace_back([&] {
    start.arrive_and_wait();
    std::mt19937 rng(7);
    flag_set f;
    f.add("\\Flagged");
    for (int i = 0; i < 400 && clock_type::now() < deadline; ++i) {
      if (!wait_until([&] { return highest_uid.load() > 0; }, deadline)) break;
      std::uniform_int_distribution<uid_type> pick(1, highest_uid.load());
      std::vector<uid_type> one{pick(rng)};
      if (appenders_left.load() > 0) ++flag_calls_while_appending;
      auto r = s.store_flags(bob, "INBOX", one, i % 2 ? flag_mode::remove : flag_mode::add, f);
      if (!r)
        ++failures;
      else
        flag_changes += r->changed.size();
      if (appenders_left.load() == 0 && i >= 100) break;
    }
  });
  // Expunge every fourth UID as soon as it exists.
  std::atomic<std::size_t> expunged_count{0};
  threads.emplace_back([&] {
    start.arrive_and_wait();
    for (uid_type u = 4; u <= total; u += 4) {
      if (!wait_until([&] { return highest_uid.load() >= u; }, deadline)) break;
      std::vector<uid_type> one{u};
      auto r = s.expunge(bob, "INBOX", std::span<const uid_type>(one));
      if (!r)
        ++failures;
      else
        expunged_count += r->size();
    }
  });
  // COPY to Archive, MOVE to Trash (RFC 6851): atomic, never half.
  std::atomic<std::size_t> copied{0}, moved{0};
  threads.emplace_back([&] {
    start.arrive_and_wait();
    for (uid_type u = 3; u < total; u += 5) {
      if (!wait_until([&] { return highest_uid.load() > u; }, deadline)) break;
      std::vector<uid_type> one{u};
      auto c = s.copy(bob, "INBOX", one, "Archive");
      if (!c)
        ++failures;
      else
        copied += c->size();
      std::vector<uid_type> other{u + 1};
      auto m = s.move(bob, "INBOX", other, "Trash");
      if (!m)
        ++failures;
      else
        moved += m->size();
    }
  });
  // Readers: list, fetch, structure and status, until the writers are done. Paced (1 ms between
  // rounds) so that they keep reading for as long as the writers write, however fast either is;
  // bounded by the deadline and a count.
  std::atomic<std::size_t> reads{0}, reads_while_writing{0};
  std::mutex sizes_mutex;
  std::set<std::size_t> list_sizes; // distinct states the readers saw
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 20000 && !done && clock_type::now() < deadline; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const bool writing = appenders_left.load() > 0;
        auto list = s.messages(bob, "INBOX");
        if (!list) {
          ++failures;
          continue;
        }
        uid_type last = 0;
        for (const auto& m : *list) {
          if (m.uid <= last) ++failures;
          last = m.uid;
        }
        if (!list->empty()) {
          // The message may be expunged between the list and the fetch: that is the only
          // acceptable failure.
          const auto& m = list->back();
          auto body = s.fetch(bob, "INBOX", m.uid);
          if (body ? body->size() != m.size
                   : body.error() != make_error_code(errc::no_such_message))
            ++failures;
          auto st = s.structure(bob, "INBOX", m.uid);
          if (!st && st.error() != make_error_code(errc::no_such_message)) ++failures;
        }
        auto mb = s.mailbox(bob, "INBOX");
        // Read after the list: its counters cover everything the list showed.
        if (!mb || mb->uidnext <= last) ++failures;
        ++reads;
        if (writing) ++reads_while_writing;
        std::lock_guard lock(sizes_mutex);
        list_sizes.insert(list->size());
      }
    });
  }
  // What an IDLE session sees must be a history it can apply in order: per UID, "appended"
  // first, flag changes only while the message exists, "expunged" last and once; MODSEQs never
  // go backwards (changes arrive in commit order).
  std::atomic<int> notified{0}, out_of_order{0};
  std::map<uid_type, int> state; // 1 = exists, 2 = expunged; only the idle thread touches it
  modseq_type last_modseq = 0;
  auto apply = [&](const change& c) {
    if (c.modseq < last_modseq) ++out_of_order;
    last_modseq = c.modseq;
    auto& st = state[c.uid];
    switch (c.what) {
    case change::kind::appended:
      if (st != 0) ++out_of_order;
      st = 1;
      ++notified;
      break;
    case change::kind::flags_changed:
      if (st != 1) ++out_of_order;
      break;
    case change::kind::expunged:
      if (st != 1) ++out_of_order;
      st = 2;
      break;
    }
  };
  std::thread idle([&] { // an IDLE session
    while (!done) {
      if ((*sub)->wait_for(std::chrono::milliseconds(20)))
        for (const auto& c : (*sub)->poll())
          apply(c);
    }
  });
  // The writers finish first; the readers stop once they have.
  for (std::size_t i = 0; i < static_cast<std::size_t>(appenders + 3); ++i)
    threads[i].join();
  done = true;
  for (std::size_t i = appenders + 3; i < threads.size(); ++i)
    threads[i].join();
  idle.join();
  for (const auto& c : (*sub)->poll())
    apply(c);

  EXPECT_LT(clock_type::now(), deadline) << "a thread waited until the deadline";
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_FALSE((*sub)->overflowed());
  EXPECT_EQ(appended.load(), total);
  EXPECT_EQ(notified.load(), appended.load());
  // The operations overlapped: flag changes and reads ran while appends were in flight, and the
  // readers saw the mailbox in several intermediate states.
  EXPECT_GT(flag_changes.load(), 0u);
  EXPECT_GT(flag_calls_while_appending.load(), 0u);
  EXPECT_GT(reads_while_writing.load(), 0u);
  EXPECT_GE(list_sizes.size(), 3u);
  // The other session was told of every copy, and each landed whole.
  std::size_t archive_events = 0;
  for (const auto& c : (*archive_sub)->poll())
    if (c.what == change::kind::appended) ++archive_events;
  EXPECT_EQ(archive_events, copied.load());
  EXPECT_EQ(s.mailbox(bob, "Archive")->messages, copied.load());
  EXPECT_EQ(s.mailbox(bob, "Trash")->messages, moved.load());
  EXPECT_GT(copied.load() + moved.load(), 0u);
  EXPECT_GT(expunged_count.load(), 0u);
  auto problems = s.check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << (problems->empty() ? "" : problems->front());
  auto mb = s.mailbox(bob, "INBOX");
  ASSERT_TRUE(mb);
  EXPECT_EQ(mb->uidnext, static_cast<uid_type>(total + 1));
  auto expunged = s.expunged_since(bob, "INBOX", 0);
  ASSERT_TRUE(expunged);
  EXPECT_EQ(mb->messages + expunged->size(), static_cast<std::size_t>(total));
}

// One writer and many readers on one mailbox, as IMAP has it (the delivering or selecting
// session writes, the others read): each reader's successive views only move forward (UIDNEXT
// and HIGHESTMODSEQ never go back, an expunged UID never reappears), and every view is a
// consistent snapshot (no message above UIDNEXT, none with a MODSEQ above HIGHESTMODSEQ).
TEST(store_concurrency, one_writer_many_readers_see_monotonic_snapshots) {
  temp_dir dir;
  auto o = options_for(dir.sub("s"));
  o.read_connections = 4;
  auto opened = open(o);
  ASSERT_TRUE(opened);
  auto& s = **opened;
  const std::string bob = "bob@example.com";
  ASSERT_TRUE(s.add_domain("example.com"));
  ASSERT_TRUE(s.add_account(bob, "pw"));

  constexpr int readers = 4, rounds = 60;
  const auto deadline = clock_type::now() + std::chrono::seconds(60);
  std::atomic<bool> writer_done{false};
  std::atomic<int> failures{0};
  std::mutex why_mutex;
  std::string first_failure; // what went wrong first, for the report
  auto fail = [&](const std::string& why) {
    if (failures++ == 0) {
      std::lock_guard lock(why_mutex);
      first_failure = why;
    }
  };
  std::atomic<std::size_t> snapshots_while_writing{0};
  std::latch start(readers + 1);
  std::thread writer([&] {
    start.arrive_and_wait();
    flag_set seen;
    seen.system = flag_seen;
    for (int i = 0; i < rounds && clock_type::now() < deadline; ++i) {
      auto a = s.append(bob, "INBOX", sample_message(i));
      if (!a) {
        fail("append: " + a.error().message());
        break;
      }
      std::vector<uid_type> one{a->uid};
      if (!s.store_flags(bob, "INBOX", one, flag_mode::add, seen)) fail("store_flags");
      if (i % 3 == 2 && !s.expunge(bob, "INBOX", std::span<const uid_type>(one))) fail("expunge");
    }
    writer_done = true;
  });
  std::vector<std::thread> pool;
  for (int r = 0; r < readers; ++r) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      uid_type last_uidnext = 0;
      modseq_type last_highest = 0;
      std::set<uid_type> gone;
      for (int i = 0; i < 5000 && clock_type::now() < deadline; ++i) {
        const bool writing = !writer_done.load();
        // In this order: the status, read last, covers the list and the vanished UIDs, and the
        // UIDs that had vanished before this list was read are not in it.
        auto list = s.messages(bob, "INBOX");
        auto vanished = s.expunged_since(bob, "INBOX", 0);
        auto mb = s.mailbox(bob, "INBOX");
        if (!list || !mb || !vanished) {
          fail("a read failed");
          break;
        }
        if (mb->uidnext < last_uidnext || mb->highestmodseq < last_highest)
          fail("went back: uidnext " + std::to_string(last_uidnext) + " -> " +
               std::to_string(mb->uidnext) + ", highestmodseq " + std::to_string(last_highest) +
               " -> " + std::to_string(mb->highestmodseq));
        last_uidnext = mb->uidnext;
        last_highest = mb->highestmodseq;
        for (const auto& m : *list) {
          if (m.uid >= mb->uidnext || m.modseq > mb->highestmodseq)
            fail("uid " + std::to_string(m.uid) + " modseq " + std::to_string(m.modseq) +
                 " beyond uidnext " + std::to_string(mb->uidnext) + " highestmodseq " +
                 std::to_string(mb->highestmodseq));
          if (gone.count(m.uid)) fail("expunged uid " + std::to_string(m.uid) + " reappeared");
        }
        for (uid_type u : *vanished)
          if (u >= mb->uidnext) fail("vanished uid " + std::to_string(u) + " beyond uidnext");
        gone.insert(vanished->begin(), vanished->end());
        if (writing) ++snapshots_while_writing;
        if (!writing) break; // one last look after the writer finished
      }
    });
  }
  writer.join();
  for (auto& t : pool)
    t.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_LT(clock_type::now(), deadline);
  EXPECT_GT(snapshots_while_writing.load(), 0u);
  auto mb = s.mailbox(bob, "INBOX");
  ASSERT_TRUE(mb);
  EXPECT_EQ(mb->uidnext, static_cast<uid_type>(rounds + 1));
  EXPECT_EQ(mb->messages, static_cast<std::uint32_t>(rounds - rounds / 3));
  EXPECT_TRUE(s.check()->empty());
}

// Group commit: writers that meet at the store's single writer share one transaction and one
// WAL flush, each in a savepoint of its own. Work that fails inside the shared transaction
// (here a COPY that inserts its rows, then finds the quota exceeded, and a COPY to a mailbox
// that does not exist) must roll back alone: the appends beside it commit, get their UIDs and
// their notifications; the failed work leaves no row, no usage and no notification.
TEST(store_concurrency, group_commit_keeps_each_writers_work_apart) {
  temp_dir dir;
  auto opened = open(options_for(dir.sub("s")));
  ASSERT_TRUE(opened);
  auto& s = **opened;
  const std::string bob = "bob@example.com", alice = "alice@example.com";
  ASSERT_TRUE(s.add_domain("example.com"));
  ASSERT_TRUE(s.add_account(bob, "pw"));
  ASSERT_TRUE(s.add_account(alice, "pw"));
  ASSERT_TRUE(s.append(alice, "INBOX", sample_message(9000)));
  ASSERT_TRUE(s.set_quota(alice, quota{0, 1})); // full: any copy exceeds it
  auto bob_sub = s.subscribe(bob, "INBOX");
  auto alice_sub = s.subscribe(alice, "Archive");
  ASSERT_TRUE(bob_sub && alice_sub);

  const auto deadline = clock_type::now() + std::chrono::seconds(60);
  constexpr int appenders = 4, min_each = 30, max_each = 400, failers = 2;
  // Enough writes shared a commit: the test has seen grouping, not just concurrency.
  auto grouped = [&] {
    auto w = s.write_counters();
    return w.writes >= w.commits + 20;
  };
  std::atomic<int> appended{0}, failures{0}, appenders_left{appenders};
  std::atomic<int> quota_refusals{0}, missing_refusals{0};
  std::mutex uids_mutex;
  std::set<uid_type> uids;
  std::vector<std::thread> threads;
  std::latch start(appenders + failers);
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < max_each && clock_type::now() < deadline; ++i) {
        if (i >= min_each && grouped()) break;
        auto r = s.append(bob, "INBOX", sample_message(t * 1000 + i));
        if (!r) {
          ++failures;
          continue;
        }
        std::lock_guard lock(uids_mutex);
        if (!uids.insert(r->uid).second) ++failures; // a UID handed out twice
        ++appended;
      }
      --appenders_left;
    });
  }
  const std::vector<uid_type> one{1};
  for (int t = 0; t < failers; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 5000 && appenders_left.load() > 0 && clock_type::now() < deadline; ++i) {
        auto r =
            t == 0 ? s.copy(alice, "INBOX", one, "Archive") : s.copy(alice, "INBOX", one, "Nope");
        if (r) {
          ++failures;
        } else if (r.error() == make_error_code(errc::over_quota) ||
                   r.error() == make_error_code(errc::exceeds_quota)) {
          ++quota_refusals;
        } else if (r.error() == make_error_code(errc::no_such_mailbox)) {
          ++missing_refusals;
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();

  EXPECT_LT(clock_type::now(), deadline) << "a thread waited until the deadline";
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(grouped()) << s.write_counters().writes << " writes in " << s.write_counters().commits
                         << " commits";
  EXPECT_GT(quota_refusals.load(), 0);
  EXPECT_GT(missing_refusals.load(), 0);
  // Bob's appends all committed, in UID order, each notified once.
  auto mb = s.mailbox(bob, "INBOX");
  ASSERT_TRUE(mb);
  EXPECT_EQ(mb->messages, static_cast<std::uint32_t>(appended.load()));
  EXPECT_EQ(mb->uidnext, static_cast<uid_type>(appended.load() + 1));
  EXPECT_EQ(uids.size(), static_cast<std::size_t>(appended.load()));
  modseq_type last = 0;
  int notified = 0;
  for (const auto& c : (*bob_sub)->poll()) {
    EXPECT_EQ(c.what, change::kind::appended);
    EXPECT_GT(c.modseq, last);
    last = c.modseq;
    ++notified;
  }
  EXPECT_EQ(notified, appended.load());
  // Alice's failed copies left nothing: no row, no usage, no notification.
  EXPECT_EQ(s.mailbox(alice, "Archive")->messages, 0u);
  EXPECT_EQ(s.mailbox(alice, "Archive")->uidnext, 1u);
  EXPECT_TRUE((*alice_sub)->poll().empty());
  auto acc = s.account(alice);
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->used_messages, 1u);
  auto bob_acc = s.account(bob);
  ASSERT_TRUE(bob_acc);
  EXPECT_EQ(bob_acc->used_messages, static_cast<std::uint64_t>(appended.load()));
  auto problems = s.check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << (problems->empty() ? "" : problems->front());
}

// WAL checkpoints with a small threshold under two writers and a reader: the background
// checkpointer copies the bulk, a commit that finds it close behind copies the rest under the
// writer lock so that the log starts again from its beginning. Whatever the interleaving, the
// WAL stays bounded (far behind, the committing thread checkpoints everything) and every
// acknowledged append is there, consistent, after reopening.
TEST(store_concurrency, checkpoints_keep_the_wal_bounded_under_writers) {
  temp_dir dir;
  const std::string path = dir.sub("s");
  const std::string bob = "bob@example.com";
  constexpr std::size_t cp = 32;
  constexpr int writers = 2, per_writer = 150;
  std::atomic<int> failures{0};
  std::atomic<std::uintmax_t> largest_wal{0};
  {
    auto o = options_for(path);
    o.checkpoint_pages = cp;
    auto opened = open(o);
    ASSERT_TRUE(opened);
    auto& s = **opened;
    ASSERT_TRUE(s.add_domain("example.com"));
    ASSERT_TRUE(s.add_account(bob, "pw"));
    const auto deadline = clock_type::now() + std::chrono::seconds(60);
    std::atomic<bool> done{false};
    std::vector<std::thread> threads;
    std::latch start(writers + 1);
    const std::string filler(6000, 'c');
    for (int t = 0; t < writers; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < per_writer && clock_type::now() < deadline; ++i)
          if (!s.append(bob, "INBOX", sample_message(t * 1000 + i, filler))) ++failures;
      });
    }
    std::thread watcher([&] { // a reader, and the WAL's size as the writers go
      start.arrive_and_wait();
      for (int i = 0; i < 100000 && !done && clock_type::now() < deadline; ++i) {
        if (!s.messages(bob, "INBOX")) ++failures;
        std::error_code ec;
        const auto size = std::filesystem::file_size(path + "/store.db-wal", ec);
        if (!ec && size > largest_wal) largest_wal = size;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    for (auto& t : threads)
      t.join();
    done = true;
    watcher.join();
    EXPECT_LT(clock_type::now(), deadline);
  }
  EXPECT_EQ(failures.load(), 0);
  // Bounded: the log started again from its beginning over and over. Not exactly 8 x the
  // threshold: a reader's snapshot can hold a checkpoint back while commits go on (about 9x
  // seen here). 24 x the threshold of the store's 4 KiB pages (with their 24-byte frame
  // headers) is about 3.2 MB; the 300 messages' bodies alone are 1.8 MB, and each commit
  // also writes its row, index, mailbox and account pages.
  EXPECT_LE(largest_wal.load(), 24 * cp * (4096 + 24));
  auto s = open_store(path);
  ASSERT_TRUE(s);
  auto mb = s->mailbox(bob, "INBOX");
  ASSERT_TRUE(mb);
  EXPECT_EQ(mb->messages, static_cast<std::uint32_t>(writers * per_writer));
  auto problems = s->check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << (problems->empty() ? "" : problems->front());
}
