// SPDX-License-Identifier: Apache-2.0
// The queue: acceptance, ids, delivery states, retry schedule, DSNs (checked by parsing them
// with libmail/mime), deduplication, recovery scan, faults at every write, limits.
#include <mailkit/mime/message.hpp>
#include <mailkit/queue/queue.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace q = mailkit::queue;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A delivery target for the tests: answers each recipient through `answer` and keeps what it
// was given.
class recording_target final : public q::remote_transport {
public:
  std::function<q::delivery_result(const q::delivery_item&)> answer = [](const auto&) {
    return q::delivery_result{q::delivery_result::status::delivered, "2.0.0", "250 ok", ""};
  };
  struct copy {
    std::string queue_id, address, message;
    q::envelope env;
  };
  void deliver(std::span<q::delivery_item> items) override {
    std::lock_guard lock(mu);
    for (auto& it : items) {
      it.result = answer(it);
      got.push_back({std::string(it.queue_id), it.rcpt->address, std::string(it.message), *it.env});
    }
  }
  std::mutex mu;
  std::vector<copy> got;
};

struct fixture : ::testing::Test {
  fs::path dir;
  mailkit::manual_clock clk{
      std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::shared_ptr<recording_target> local = std::make_shared<recording_target>();
  std::shared_ptr<recording_target> remote = std::make_shared<recording_target>();
  std::function<int(q::io_op)> fault;

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_queue_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  q::options opts() {
    q::options o;
    o.path = dir.string();
    o.hostname = "mx.example.com";
    o.clk = &clk;
    o.sync_threads = 2;
    o.fault = [this](q::io_op op) { return fault ? fault(op) : 0; };
    return o;
  }
  std::shared_ptr<q::queue> open(q::options o) {
    auto r = q::queue::open(std::move(o));
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (!r) return nullptr;
    (*r)->set_local(local);
    (*r)->set_remote(remote);
    return *r;
  }
  std::shared_ptr<q::queue> open() { return open(opts()); }

  static q::envelope env(std::string from = "sender@example.org",
                         std::vector<std::string> to = {"user@example.com"}) {
    q::envelope e;
    e.reverse_path = std::move(from);
    for (auto& t : to) {
      q::recipient r;
      r.address = t;
      r.original = t;
      e.recipients.push_back(r);
    }
    return e;
  }
  static constexpr std::string_view body =
      "From: sender@example.org\r\nTo: user@example.com\r\nSubject: hi\r\n\r\nHello.\r\n";
};

std::size_t files_in(const fs::path& p) {
  std::size_t n = 0;
  std::error_code ec;
  for ([[maybe_unused]] const auto& f : fs::directory_iterator(p, ec))
    ++n;
  return n;
}

} // namespace

TEST(QueueIds, UniqueAndSorted) {
  mailkit::manual_clock clk;
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    if (i % 7 == 0) clk.advance(std::chrono::microseconds(1));
    ids.push_back(q::make_queue_id(clk));
  }
  auto sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  // Sorted by time; within one microsecond by the counter (no wrap in 2000 ids).
  EXPECT_EQ(sorted, ids);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_EQ(ids.front().size(), 22u);
}

TEST(QueueRetry, Schedule) {
  q::retry_schedule s;
  EXPECT_EQ(s.interval(1), 5min);
  EXPECT_EQ(s.interval(2), 10min);
  EXPECT_EQ(s.interval(3), 20min);
  EXPECT_EQ(s.interval(6), 160min);
  EXPECT_EQ(s.interval(7), 4h); // 320 min capped at 4 h
  EXPECT_EQ(s.interval(500), 4h);
  EXPECT_EQ(s.give_up, std::chrono::hours(24 * 5));
  q::retry_schedule c{30s, 3.0, 10min, 1h, 0s};
  EXPECT_EQ(c.interval(2), 90s);
  EXPECT_EQ(c.interval(5), 10min);
}

TEST_F(fixture, AcceptDurableAndDeliver) {
  std::string id;
  {
    auto qq = open();
    auto r = qq->enqueue(env(), body, "Received: by test\r\n");
    ASSERT_TRUE(r) << r.error().message();
    id = *r;
    EXPECT_TRUE(fs::exists(dir / "msg" / id));
    EXPECT_EQ(files_in(dir / "tmp"), 0u);
    auto st = qq->status(id);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->recipients.at(0).state, q::recipient_state::pending);
    EXPECT_EQ(st->env.received, 1700000000000000);
  }
  // The record survives the process: reopen and deliver.
  auto qq = open();
  EXPECT_EQ(qq->recovery().messages, 1u);
  EXPECT_EQ(qq->deliver_due(), 1u);
  ASSERT_EQ(local->got.size(), 1u);
  EXPECT_EQ(local->got[0].queue_id, id);
  EXPECT_EQ(local->got[0].message, "Received: by test\r\n" + std::string(body));
  EXPECT_FALSE(qq->status(id));
  EXPECT_FALSE(fs::exists(dir / "msg" / id));
  EXPECT_EQ(qq->stats().delivered, 1u);
  EXPECT_EQ(qq->stats().messages, 0u);
}

TEST_F(fixture, EnvelopeKept) {
  auto qq = open();
  auto e = env("s@example.org", {"a@example.com", "b@example.net"});
  e.recipients[1].where = q::route::remote;
  e.recipients[0].notify = q::notify::success;
  e.recipients[0].orcpt = "rfc822;A@example.com";
  e.ret = q::ret_type::full;
  e.envid = "xyz";
  e.smtputf8 = true;
  e.auth = "s@example.org";
  auto id = qq->enqueue(e, body);
  ASSERT_TRUE(id);
  auto st = qq->status(*id);
  ASSERT_TRUE(st);
  e.id = *id;
  e.received = st->env.received;
  EXPECT_EQ(st->env, e);
}

TEST_F(fixture, SecondOpenIsLocked) {
  auto a = open();
  auto b = q::queue::open(opts());
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), make_error_code(q::errc::locked));
}

TEST_F(fixture, TransientThenRetryThenDelivered) {
  auto qq = open();
  int calls = 0;
  local->answer = [&](const auto&) {
    ++calls;
    if (calls < 3)
      return q::delivery_result{q::delivery_result::status::transient, "4.2.2", "452 full", ""};
    return q::delivery_result{q::delivery_result::status::delivered, "2.0.0", "250 ok", ""};
  };
  auto id = qq->enqueue(env(), body);
  ASSERT_TRUE(id);
  EXPECT_EQ(qq->deliver_due(), 1u);
  auto st = qq->status(*id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->recipients[0].state, q::recipient_state::deferred);
  EXPECT_EQ(st->recipients[0].next_attempt, 1700000000 + 300);
  EXPECT_EQ(st->recipients[0].status, "4.2.2");
  EXPECT_EQ(qq->deliver_due(), 0u); // not due yet
  clk.advance(299s);
  EXPECT_EQ(qq->deliver_due(), 0u);
  clk.advance(1s);
  EXPECT_EQ(qq->deliver_due(), 1u);
  st = qq->status(*id);
  EXPECT_EQ(st->recipients[0].next_attempt, 1700000000 + 300 + 600);
  EXPECT_EQ(st->recipients[0].attempts, 2u);
  // The deferred state is durable too.
  qq.reset();
  qq = open();
  st = qq->status(*id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->recipients[0].state, q::recipient_state::deferred);
  EXPECT_EQ(st->recipients[0].attempts, 2u);
  clk.advance(600s);
  EXPECT_EQ(qq->deliver_due(), 1u);
  EXPECT_FALSE(qq->status(*id));
  EXPECT_EQ(remote->got.size(), 0u); // no DSN: delivered in the end
}

namespace {

// The parts of a DSN, parsed with libmail/mime.
struct parsed_dsn {
  std::string content_type, report_type, status_text, returned_type, returned, text;
};

parsed_dsn parse_dsn(const std::string& m) {
  parsed_dsn d;
  auto msg = mailkit::mime::parse(m);
  EXPECT_TRUE(msg);
  if (!msg) return d;
  const auto& root = msg->root();
  d.content_type = root.type.type + "/" + root.type.subtype;
  for (const auto& [k, v] : root.type.params)
    if (k == "report-type") d.report_type = v;
  for (auto c : root.children) {
    const auto& p = msg->parts()[c];
    const std::string t = p.type.type + "/" + p.type.subtype;
    if (t == "text/plain")
      d.text = msg->content(p);
    else if (t == "message/delivery-status" || t == "message/global-delivery-status")
      d.status_text = std::string(msg->body(p));
    else {
      d.returned_type = t;
      d.returned = std::string(msg->body(p));
    }
  }
  return d;
}

} // namespace

TEST_F(fixture, PermanentFailureBouncesPerRfc3464) {
  auto qq = open();
  local->answer = [](const auto&) {
    return q::delivery_result{q::delivery_result::status::permanent, "5.1.1",
                              "550 5.1.1 no such user", ""};
  };
  auto e = env("sender@example.org", {"nobody@example.com", "other@example.com"});
  e.envid = "ENV+42";
  e.recipients[0].orcpt = "rfc822;Nobody@Example.com";
  e.ret = q::ret_type::full;
  e.client = "192.0.2.7";
  auto id = qq->enqueue(e, body);
  ASSERT_TRUE(id);
  qq->deliver_due(); // fails both, queues one DSN (remote route by default)
  EXPECT_FALSE(qq->status(*id));
  EXPECT_EQ(qq->stats().bounced, 2u);
  EXPECT_EQ(qq->stats().dsns, 1u);
  qq->deliver_due(); // delivers the DSN to the remote transport
  ASSERT_EQ(remote->got.size(), 1u);
  const auto& bounce = remote->got[0];
  EXPECT_EQ(bounce.address, "sender@example.org");
  EXPECT_TRUE(bounce.env.reverse_path.empty()); // RFC 5321 §4.5.5: from <>
  EXPECT_TRUE(bounce.env.bounce);
  auto d = parse_dsn(bounce.message);
  EXPECT_EQ(d.content_type, "multipart/report");
  EXPECT_EQ(d.report_type, "delivery-status");
  EXPECT_NE(d.status_text.find("Reporting-MTA: dns; mx.example.com"), std::string::npos);
  EXPECT_NE(d.status_text.find("Original-Envelope-Id: ENV+2B42"), std::string::npos)
      << d.status_text;
  EXPECT_NE(d.status_text.find("Original-Recipient: rfc822;Nobody@Example.com"), std::string::npos);
  EXPECT_NE(d.status_text.find("Final-Recipient: rfc822; nobody@example.com"), std::string::npos);
  EXPECT_NE(d.status_text.find("Final-Recipient: rfc822; other@example.com"), std::string::npos);
  EXPECT_NE(d.status_text.find("Action: failed"), std::string::npos);
  EXPECT_NE(d.status_text.find("Status: 5.1.1"), std::string::npos);
  EXPECT_NE(d.status_text.find("Diagnostic-Code: smtp; 550 5.1.1 no such user"), std::string::npos);
  EXPECT_NE(d.status_text.find("Arrival-Date: "), std::string::npos);
  EXPECT_EQ(d.returned_type, "message/rfc822"); // RET=FULL
  EXPECT_NE(d.returned.find("Hello."), std::string::npos);
  EXPECT_NE(bounce.message.find("Auto-Submitted: auto-replied"), std::string::npos);
}

TEST_F(fixture, RetHdrsReturnsHeadersOnly) {
  auto qq = open();
  local->answer = [](const auto&) {
    return q::delivery_result{q::delivery_result::status::permanent, "5.2.2", "552 full", ""};
  };
  auto e = env();
  e.ret = q::ret_type::hdrs;
  ASSERT_TRUE(qq->enqueue(e, body));
  qq->deliver_due();
  qq->deliver_due();
  ASSERT_EQ(remote->got.size(), 1u);
  auto d = parse_dsn(remote->got[0].message);
  EXPECT_EQ(d.returned_type, "text/rfc822-headers");
  EXPECT_NE(d.returned.find("Subject: hi"), std::string::npos);
  EXPECT_EQ(d.returned.find("Hello."), std::string::npos);
}

TEST_F(fixture, NoBounceToNullSenderNorForBouncesNorNever) {
  auto qq = open();
  local->answer = [](const auto&) {
    return q::delivery_result{q::delivery_result::status::permanent, "5.1.1", "550 no", ""};
  };
  ASSERT_TRUE(qq->enqueue(env(""), body)); // null reverse path
  auto b = env("x@example.org");
  b.bounce = true; // a DSN itself: no bounce loop
  ASSERT_TRUE(qq->enqueue(b, body));
  auto n = env("y@example.org");
  n.recipients[0].notify = q::notify::never;
  ASSERT_TRUE(qq->enqueue(n, body));
  auto s = env("z@example.org");
  s.recipients[0].notify = q::notify::success; // no FAILURE: no failure DSN
  ASSERT_TRUE(qq->enqueue(s, body));
  qq->deliver_due();
  qq->deliver_due();
  EXPECT_EQ(qq->stats().bounced, 4u);
  EXPECT_EQ(qq->stats().dsns, 0u);
  EXPECT_TRUE(remote->got.empty());
  EXPECT_TRUE(qq->ids().empty());
}

TEST_F(fixture, SuccessNotification) {
  auto qq = open();
  auto e = env();
  e.recipients[0].notify = q::notify::success | q::notify::failure;
  ASSERT_TRUE(qq->enqueue(e, body));
  qq->deliver_due();
  qq->deliver_due();
  ASSERT_EQ(remote->got.size(), 1u);
  auto d = parse_dsn(remote->got[0].message);
  EXPECT_NE(d.status_text.find("Action: delivered"), std::string::npos);
  EXPECT_EQ(d.returned_type, "text/rfc822-headers"); // RFC 3461 §4.3: no content on success
}

TEST_F(fixture, GiveUpAfterFiveDaysWithDelayWarningFirst) {
  auto qq = open();
  local->answer = [](const auto&) {
    return q::delivery_result{q::delivery_result::status::transient, "4.4.1", "connection refused",
                              ""};
  };
  auto id = qq->enqueue(env(), body);
  ASSERT_TRUE(id);
  for (int i = 0; i < 200 && qq->status(*id); ++i) {
    qq->deliver_due();
    clk.advance(1h);
  }
  EXPECT_FALSE(qq->status(*id));
  qq->deliver_due();
  qq->deliver_due();
  // One delay warning (after 4 hours), then the failure (4.4.7) after 5 days.
  ASSERT_EQ(remote->got.size(), 2u);
  auto warn = parse_dsn(remote->got[0].message);
  EXPECT_NE(warn.status_text.find("Action: delayed"), std::string::npos);
  EXPECT_NE(warn.status_text.find("Will-Retry-Until: "), std::string::npos);
  auto fin = parse_dsn(remote->got[1].message);
  EXPECT_NE(fin.status_text.find("Action: failed"), std::string::npos);
  EXPECT_NE(fin.status_text.find("Status: 4.4.7"), std::string::npos);
}

TEST_F(fixture, HeldIsNeitherAnAttemptNorExpiredNorWarned) {
  // A relay quota hold, every hour for 7 days: never bounced, never warned, no attempt counted,
  // and the recipient comes back exactly at its hold_until.
  auto qq = open();
  std::int64_t until = 0;
  local->answer = [&](const auto&) {
    until = std::chrono::duration_cast<std::chrono::seconds>(clk.now().time_since_epoch()).count() +
            3600;
    q::delivery_result r{q::delivery_result::status::held, "4.3.1",
                         "455 Maximum messages sent per day reached", ""};
    r.hold_until = until;
    return r;
  };
  auto id = qq->enqueue(env(), body);
  ASSERT_TRUE(id);
  for (int i = 0; i < 7 * 24; ++i) {
    qq->deliver_due();
    auto st = qq->status(*id);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->recipients[0].state, q::recipient_state::deferred);
    EXPECT_EQ(st->recipients[0].attempts, 0u);
    EXPECT_EQ(st->recipients[0].next_attempt, until);
    clk.advance(1h);
  }
  EXPECT_EQ(local->got.size(), 7u * 24u); // tried at each hold's end, held again
  EXPECT_TRUE(remote->got.empty());       // no delay warning, no bounce
  EXPECT_EQ(qq->stats().bounced, 0u);
  // The quota is back: delivered.
  local->answer = [](const auto&) {
    return q::delivery_result{q::delivery_result::status::delivered, "2.0.0", "250 ok", ""};
  };
  qq->deliver_due();
  EXPECT_FALSE(qq->status(*id));
  EXPECT_EQ(qq->stats().delivered, 1u);
}

TEST_F(fixture, DuplicateIsCountedNotRedelivered) {
  auto qq = open();
  local->answer = [](const auto&) {
    return q::delivery_result{q::delivery_result::status::duplicate, "2.0.0", "already there", ""};
  };
  auto id = qq->enqueue(env(), body);
  ASSERT_TRUE(id);
  qq->deliver_due();
  EXPECT_FALSE(qq->status(*id));
  EXPECT_EQ(qq->stats().duplicates, 1u);
  EXPECT_EQ(qq->stats().delivered, 1u);
}

TEST_F(fixture, RemoteWithoutTransportStaysDeferred) {
  auto o = opts();
  auto r = q::queue::open(o);
  ASSERT_TRUE(r);
  auto qq = *r;
  qq->set_local(local); // no remote transport
  auto e = env("s@example.org", {"far@example.net"});
  e.recipients[0].where = q::route::remote;
  auto id = qq->enqueue(e, body);
  ASSERT_TRUE(id);
  qq->deliver_due();
  auto st = qq->status(*id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->recipients[0].state, q::recipient_state::deferred);
  EXPECT_EQ(st->recipients[0].status, "4.4.1");
  // A transport appears: flush() retries now.
  qq->set_remote(remote);
  qq->flush();
  qq->deliver_due();
  EXPECT_FALSE(qq->status(*id));
  EXPECT_EQ(remote->got.size(), 1u);
}

TEST_F(fixture, RecoveryScan) {
  std::string kept, lost;
  {
    auto qq = open();
    kept = *qq->enqueue(env("a@example.org"), body);
    lost = *qq->enqueue(env("b@example.org"), body);
  }
  // A partial write, a file that was renamed but never committed, a record without its file.
  std::ofstream(dir / "tmp" / "s123-partial") << "half a message";
  std::ofstream(dir / "msg" / "0000000000000000000000") << "never acknowledged";
  fs::remove(dir / "msg" / lost);
  auto qq = open();
  const auto& rep = qq->recovery();
  EXPECT_EQ(rep.temp_files_removed, 1u);
  EXPECT_EQ(rep.orphan_files_removed, 1u);
  EXPECT_EQ(rep.missing_files, 1u);
  EXPECT_EQ(rep.messages, 1u);
  EXPECT_FALSE(fs::exists(dir / "msg" / "0000000000000000000000"));
  EXPECT_FALSE(qq->status(lost));
  EXPECT_TRUE(qq->status(kept));
  EXPECT_EQ(qq->stats().dsns, 1u); // the sender of the lost message is told
  qq->deliver_due();
  qq->deliver_due();
  ASSERT_EQ(remote->got.size(), 1u);
  EXPECT_EQ(remote->got[0].address, "b@example.org");
}

// Disk full or EIO at each write step: a clear temporary error, and nothing left behind.
TEST_F(fixture, FaultAtEveryStep) {
  for (auto op : {q::io_op::create, q::io_op::write, q::io_op::fsync, q::io_op::rename,
                  q::io_op::fsync_dir, q::io_op::commit}) {
    for (int err : {ENOSPC, EIO}) {
      fault = [&](q::io_op o) { return o == op ? err : 0; };
      {
        auto qq = open();
        auto r = qq->enqueue(env(), body);
        ASSERT_FALSE(r) << static_cast<int>(op);
        EXPECT_EQ(r.error(),
                  make_error_code(err == ENOSPC ? q::errc::disk_full : q::errc::io_error));
        EXPECT_EQ(q::reply_for(r.error()).code, err == ENOSPC ? 452 : 451);
        EXPECT_TRUE(qq->ids().empty());
        EXPECT_EQ(files_in(dir / "msg"), 0u);
        EXPECT_EQ(files_in(dir / "tmp"), 0u);
        fault = nullptr;
        // The queue still works after the fault.
        auto ok = qq->enqueue(env(), body);
        ASSERT_TRUE(ok);
        qq->deliver_due();
      }
      auto qq = open();
      EXPECT_TRUE(qq->ids().empty());
      EXPECT_EQ(qq->recovery().orphan_files_removed, 0u);
    }
  }
}

TEST_F(fixture, FaultWhileRecordingDeliveryRedeliversLater) {
  auto qq = open();
  auto id = qq->enqueue(env(), body);
  ASSERT_TRUE(id);
  fault = [](q::io_op o) { return o == q::io_op::commit ? EIO : 0; };
  qq->deliver_due();
  fault = nullptr;
  // Not recorded: still queued, the target will be asked again (and dedups by queue id).
  EXPECT_TRUE(qq->status(*id));
  clk.advance(31s);
  qq->deliver_due();
  EXPECT_FALSE(qq->status(*id));
  EXPECT_EQ(local->got.size(), 2u);
  EXPECT_EQ(local->got[0].queue_id, local->got[1].queue_id);
}

TEST_F(fixture, Limits) {
  auto o = opts();
  o.limits.max_message_size = 100;
  o.limits.max_recipients = 2;
  o.limits.max_messages = 2;
  auto qq = open(o);
  auto w = qq->create_message();
  EXPECT_EQ(w->write(std::string(101, 'x')).error(), make_error_code(q::errc::message_too_large));
  w->abort();
  auto r = qq->enqueue(env("s@example.org", {"a@x", "b@x", "c@x"}), "x\r\n");
  EXPECT_EQ(r.error(), make_error_code(q::errc::too_many_recipients));
  r = qq->enqueue(env("s@example.org", {}), "x\r\n");
  EXPECT_EQ(r.error(), make_error_code(q::errc::no_recipients));
  EXPECT_TRUE(qq->enqueue(env(), "x\r\n"));
  EXPECT_TRUE(qq->enqueue(env(), "x\r\n"));
  r = qq->enqueue(env(), "x\r\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(q::errc::queue_full));
  EXPECT_EQ(q::reply_for(r.error()).code, 452);
}

TEST_F(fixture, LargeMessageSpillsToDisk) {
  auto o = opts();
  o.memory_buffer = 1000;
  auto qq = open(o);
  auto w = qq->create_message();
  std::string big;
  for (int i = 0; i < 2000; ++i)
    big += "line " + std::to_string(i) + "\r\n";
  for (std::size_t i = 0; i < big.size(); i += 777)
    ASSERT_TRUE(w->write(std::string_view(big).substr(i, 777)));
  EXPECT_FALSE(w->in_memory());
  EXPECT_EQ(*w->contents(), big);
  EXPECT_EQ(files_in(dir / "tmp"), 1u);
  std::promise<mailkit::expected<std::string>> p;
  qq->async_enqueue(std::move(w), env(), [&](auto r) { p.set_value(r); });
  auto id = p.get_future().get();
  ASSERT_TRUE(id);
  EXPECT_EQ(files_in(dir / "tmp"), 0u);
  qq->deliver_due();
  ASSERT_EQ(local->got.size(), 1u);
  EXPECT_EQ(local->got[0].message, big);
}

TEST_F(fixture, ConcurrentAcceptanceWithWorkers) {
  auto o = opts();
  o.sync_threads = 4;
  o.delivery_threads = 2;
  auto qq = open(o);
  qq->start();
  constexpr int n = 60;
  std::vector<std::promise<mailkit::expected<std::string>>> ps(n);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = t; i < n; i += 4) {
        auto w = qq->create_message();
        (void)w->write(body);
        qq->async_enqueue(std::move(w), env(), [&ps, i](auto r) { ps[i].set_value(r); });
      }
    });
  for (auto& t : ts)
    t.join();
  std::set<std::string> ids;
  for (auto& p : ps) {
    auto r = p.get_future().get();
    ASSERT_TRUE(r);
    ids.insert(*r);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < 200 && qq->stats().delivered < n; ++i)
    std::this_thread::sleep_for(20ms);
  qq->stop();
  EXPECT_EQ(qq->stats().delivered, static_cast<std::uint64_t>(n));
  EXPECT_LE(qq->stats().group_commits, static_cast<std::uint64_t>(n));
  EXPECT_EQ(local->got.size(), static_cast<std::size_t>(n));
}
