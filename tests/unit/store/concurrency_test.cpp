// SPDX-License-Identifier: Apache-2.0
// Many readers and writers on one mailbox at once: appends, flag changes, expunges, copies and
// moves from several threads while others list, fetch and wait for notifications (IMAP IDLE).
// Run under TSan by the tsan preset. Loops are bounded in count.
#include "store_support.hpp"

#include <atomic>
#include <map>
#include <set>
#include <thread>

using namespace mailkit::store;
using namespace mailkit::store::test;

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

  constexpr int appenders = 3, per_appender = 40;
  std::atomic<int> appended{0}, failures{0};
  std::atomic<bool> done{false};
  std::mutex uids_mutex;
  std::set<uid_type> uids;
  std::vector<std::thread> threads;
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_appender; ++i) {
        auto r = s.append(bob, "INBOX", sample_message(t * 1000 + i));
        if (!r) {
          ++failures;
          continue;
        }
        std::lock_guard lock(uids_mutex);
        if (!uids.insert(r->uid).second) ++failures; // a UID handed out twice
        ++appended;
      }
    });
  }
  threads.emplace_back([&] { // flags
    flag_set f;
    f.add("\\Flagged");
    for (uid_type u = 1; u <= 200 && !done; ++u) {
      std::vector<uid_type> one{u};
      if (!s.store_flags(bob, "INBOX", one, flag_mode::add, f)) ++failures;
    }
  });
  threads.emplace_back([&] { // expunge every fourth UID
    for (uid_type u = 4; u <= 120 && !done; u += 4) {
      std::vector<uid_type> one{u};
      if (!s.expunge(bob, "INBOX", std::span<const uid_type>(one))) ++failures;
    }
  });
  std::atomic<std::size_t> copied{0}, moved{0};
  threads.emplace_back([&] { // COPY to Archive, MOVE to Trash (RFC 6851): atomic, never half
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (uid_type u = 3; u <= 120 && !done; u += 5) {
      // Follow the appenders (bounded wait), so that most UIDs exist when copied.
      while (appended.load() <= static_cast<int>(u) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
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
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] { // readers
      for (int i = 0; i < 100; ++i) {
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
          auto body = s.fetch(bob, "INBOX", list->back().uid);
          if (!body && body.error() != make_error_code(errc::no_such_message)) ++failures;
        }
        if (!s.mailbox(bob, "INBOX")) ++failures;
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
  for (auto& t : threads)
    t.join();
  done = true;
  idle.join();
  for (const auto& c : (*sub)->poll())
    apply(c);

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_FALSE((*sub)->overflowed());
  EXPECT_EQ(appended.load(), appenders * per_appender);
  EXPECT_EQ(notified.load(), appended.load());
  // The other session was told of every copy, and each landed whole.
  std::size_t archive_events = 0;
  for (const auto& c : (*archive_sub)->poll())
    if (c.what == change::kind::appended) ++archive_events;
  EXPECT_EQ(archive_events, copied.load());
  EXPECT_EQ(s.mailbox(bob, "Archive")->messages, copied.load());
  EXPECT_EQ(s.mailbox(bob, "Trash")->messages, moved.load());
  EXPECT_GT(copied.load() + moved.load(), 0u);
  auto problems = s.check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << (problems->empty() ? "" : problems->front());
  auto mb = s.mailbox(bob, "INBOX");
  ASSERT_TRUE(mb);
  EXPECT_EQ(mb->uidnext, static_cast<uid_type>(appenders * per_appender + 1));
  auto expunged = s.expunged_since(bob, "INBOX", 0);
  ASSERT_TRUE(expunged);
  EXPECT_EQ(mb->messages + expunged->size(), static_cast<std::size_t>(appenders * per_appender));
}
