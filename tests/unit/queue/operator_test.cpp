// SPDX-License-Identifier: Apache-2.0
// The queue's operator actions: list, hold (persisted across a restart, never attempted),
// release, delete (record and file gone, a DSN only when asked), and their errors.
#include <mailkit/queue/queue.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <thread>

namespace q = mailkit::queue;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

class counting_target final : public q::remote_transport {
public:
  q::delivery_result answer{q::delivery_result::status::delivered, "2.0.0", "250 ok", ""};
  void deliver(std::span<q::delivery_item> items) override {
    std::lock_guard lock(mu);
    for (auto& it : items) {
      it.result = answer;
      addresses.push_back(it.rcpt->address);
    }
  }
  std::mutex mu;
  std::vector<std::string> addresses;
};

struct ops : ::testing::Test {
  fs::path dir;
  mailkit::manual_clock clk{
      std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::shared_ptr<counting_target> local = std::make_shared<counting_target>();
  std::shared_ptr<counting_target> remote = std::make_shared<counting_target>();

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_queue_ops_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  std::shared_ptr<q::queue> open() {
    q::options o;
    o.path = dir.string();
    o.hostname = "mx.example.com";
    o.clk = &clk;
    o.sync_threads = 1;
    auto r = q::queue::open(std::move(o));
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (!r) return nullptr;
    (*r)->set_local(local);
    (*r)->set_remote(remote);
    return *r;
  }
  static q::envelope env(std::string from, std::vector<std::string> to, bool remote_route) {
    q::envelope e;
    e.reverse_path = std::move(from);
    for (auto& t : to) {
      q::recipient r;
      r.address = t;
      r.original = t;
      r.where = remote_route ? q::route::remote : q::route::local;
      e.recipients.push_back(r);
    }
    return e;
  }
  static constexpr std::string_view body =
      "From: s@example.org\r\nTo: far@example.net\r\nSubject: hi\r\n\r\nHello.\r\n";
};

} // namespace

TEST_F(ops, ListShowsEnvelopeStateAttemptsAndReply) {
  auto qq = open();
  remote->answer = {q::delivery_result::status::transient, "4.4.1", "421 relay unreachable", ""};
  auto a = qq->enqueue(env("s@example.org", {"far@example.net", "far2@example.net"}, true), body);
  ASSERT_TRUE(a);
  qq->deliver_due();
  clk.advance(1s);
  auto b = qq->enqueue(env("t@example.org", {"x@example.net"}, true), body);
  ASSERT_TRUE(b);
  auto l = qq->list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].env.id, *a); // acceptance order
  EXPECT_EQ(l[0].env.reverse_path, "s@example.org");
  ASSERT_EQ(l[0].recipients.size(), 2u);
  EXPECT_EQ(l[0].recipients[1].state, q::recipient_state::deferred);
  EXPECT_EQ(l[0].recipients[1].attempts, 1u);
  EXPECT_EQ(l[0].recipients[1].last_reply, "421 relay unreachable");
  EXPECT_EQ(l[0].recipients[1].next_attempt, 1700000000 + 300);
  EXPECT_EQ(l[0].size, body.size());
  EXPECT_EQ(l[0].env.received, 1700000000000000);
  EXPECT_FALSE(l[0].held);
  EXPECT_EQ(l[1].recipients[0].state, q::recipient_state::pending);
  EXPECT_EQ(qq->list(1).size(), 1u);
}

TEST_F(ops, HeldIsNeverAttemptedAndSurvivesRestart) {
  std::string id;
  {
    auto qq = open();
    auto r = qq->enqueue(env("s@example.org", {"far@example.net"}, true), body);
    ASSERT_TRUE(r);
    id = *r;
    ASSERT_TRUE(qq->hold(id));
    ASSERT_TRUE(qq->hold(id)); // idempotent
    EXPECT_EQ(qq->deliver_due(), 0u);
    qq->flush(); // flush does not release a hold
    EXPECT_EQ(qq->deliver_due(), 0u);
    EXPECT_TRUE(qq->status(id)->held);
    EXPECT_EQ(qq->stats().held, 1u);
  }
  {
    // The hold is in the database: a restart keeps it, and a week later it is still there,
    // neither attempted nor expired.
    auto qq = open();
    ASSERT_TRUE(qq);
    EXPECT_EQ(qq->recovery().messages, 1u);
    clk.advance(24h * 7);
    EXPECT_EQ(qq->deliver_due(), 0u);
    auto st = qq->status(id);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->held);
    EXPECT_EQ(st->recipients[0].attempts, 0u);
    EXPECT_TRUE(remote->addresses.empty());
    // Released: delivered at the next pass.
    ASSERT_TRUE(qq->release(id));
    EXPECT_EQ(qq->deliver_due(), 1u);
    EXPECT_FALSE(qq->status(id));
    EXPECT_EQ(remote->addresses.size(), 1u);
  }
}

TEST_F(ops, ReleaseRetriesDeferredNowAndWorkersSeeIt) {
  auto qq = open();
  remote->answer = {q::delivery_result::status::transient, "4.4.1", "421 later", ""};
  auto id = qq->enqueue(env("s@example.org", {"far@example.net"}, true), body);
  ASSERT_TRUE(id);
  qq->deliver_due(); // deferred for 5 minutes
  ASSERT_TRUE(qq->hold(*id));
  ASSERT_TRUE(qq->release(*id));
  remote->answer = {q::delivery_result::status::delivered, "2.0.0", "250 ok", ""};
  // With workers running: the release wakes them (no need to wait for the retry time).
  qq->start();
  for (int i = 0; i < 250 && qq->status(*id); ++i)
    std::this_thread::sleep_for(20ms);
  qq->stop();
  EXPECT_FALSE(qq->status(*id));
  EXPECT_EQ(remote->addresses.size(), 2u);
}

TEST_F(ops, DeleteRemovesRecordAndFileWithoutDsn) {
  std::string id;
  {
    auto qq = open();
    auto r = qq->enqueue(env("s@example.org", {"far@example.net"}, true), body);
    ASSERT_TRUE(r);
    id = *r;
    ASSERT_TRUE(fs::exists(dir / "msg" / id));
    ASSERT_TRUE(qq->remove(id));
    EXPECT_FALSE(fs::exists(dir / "msg" / id));
    EXPECT_FALSE(qq->status(id));
    EXPECT_EQ(qq->stats().messages, 0u);
    EXPECT_EQ(qq->stats().bytes, 0u);
    EXPECT_EQ(qq->stats().removed, 1u);
    EXPECT_EQ(qq->stats().dsns, 0u);
    EXPECT_EQ(qq->deliver_due(), 0u);
    auto again = qq->remove(id);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), make_error_code(q::errc::not_found));
  }
  // Gone for good: nothing comes back at a restart.
  auto qq = open();
  EXPECT_EQ(qq->recovery().messages, 0u);
  EXPECT_EQ(qq->recovery().missing_files, 0u);
  EXPECT_TRUE(qq->list().empty());
}

TEST_F(ops, DeleteWithNotificationSendsAFailureDsn) {
  auto qq = open();
  auto id = qq->enqueue(env("s@example.org", {"far@example.net"}, true), body);
  ASSERT_TRUE(id);
  ASSERT_TRUE(qq->hold(*id));
  ASSERT_TRUE(qq->remove(*id, true));
  EXPECT_EQ(qq->stats().dsns, 1u);
  // The DSN is the one message left; it goes to the sender (remote here).
  auto l = qq->list();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(l[0].env.bounce);
  EXPECT_EQ(l[0].env.reverse_path, "");
  EXPECT_EQ(l[0].recipients.size(), 1u);
  EXPECT_EQ(l[0].env.recipients[0].address, "s@example.org");
  qq->deliver_due();
  EXPECT_EQ(remote->addresses, std::vector<std::string>{"s@example.org"});
}

TEST_F(ops, UnknownIdsAreNotFound) {
  auto qq = open();
  EXPECT_EQ(qq->hold("00ff").error(), make_error_code(q::errc::not_found));
  EXPECT_EQ(qq->release("00ff").error(), make_error_code(q::errc::not_found));
  EXPECT_EQ(qq->remove("00ff").error(), make_error_code(q::errc::not_found));
  EXPECT_TRUE(mailkit::is_permanent(make_error_code(q::errc::not_found)));
  EXPECT_FALSE(mailkit::is_permanent(make_error_code(q::errc::busy)));
}

TEST_F(ops, OldDatabaseWithoutHeldColumnIsUpgraded) {
  std::string id;
  {
    auto qq = open();
    id = *qq->enqueue(env("s@example.org", {"far@example.net"}, true), body);
  }
  // A queue database written before the hold column existed.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "queue.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE messages DROP COLUMN held", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto qq = open();
  ASSERT_TRUE(qq);
  EXPECT_EQ(qq->recovery().messages, 1u);
  EXPECT_TRUE(qq->hold(id));
  EXPECT_EQ(qq->deliver_due(), 0u);
}
