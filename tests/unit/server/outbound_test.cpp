// SPDX-License-Identifier: Apache-2.0
// server::outbound, the queue's remote transport over relay::transport, without a network: the
// outcome table, bulk detection, quota holds (kept, never bounced, released at the reset),
// permanent refusals bounced with an RFC 3464 DSN to the sender and never to <>, DSNs of a relay
// that refuses the null sender kept local, and the approved-sender check of the submission
// policy. Delivery over real connections is in tests/interop/outbound.
#include <mailkit/server/outbound.hpp>
#include <mailkit/server/outbound_hooks.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <thread>

namespace q = mailkit::queue;
namespace relay = mailkit::relay;
namespace server = mailkit::server;
namespace smtp = mailkit::smtp;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A local delivery target that keeps what it is given.
class recording_target final : public q::delivery_target {
public:
  void deliver(std::span<q::delivery_item> items) override {
    std::lock_guard lock(mu);
    for (auto& it : items) {
      it.result = {q::delivery_result::status::delivered, "2.0.0", "250 stored", ""};
      got.push_back({it.rcpt->address, std::string(it.message)});
    }
  }
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;
};

const std::string message = "From: a@example.com\r\nTo: b@dest.example\r\nSubject: hi\r\n\r\n"
                            "body\r\n";

struct outbound_fixture : ::testing::Test {
  fs::path dir;
  // 2023-11-14 22:13:20 UTC; the relay's day resets at 00:00 UTC.
  mailkit::manual_clock clk{
      std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::shared_ptr<recording_target> local = std::make_shared<recording_target>();

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_outbound_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  // One OCI-like relay on a port nothing listens on: every test here is decided before a
  // connection would be made (quota, size, null sender).
  relay::config relay_config(std::string null_sender = {}) {
    relay::config c;
    c.clk = &clk;
    // Mail to example.com (DSNs to our senders here) goes direct, and with no resolver it
    // waits in the queue: the tests can look at it.
    c.rules.push_back({"example.com", "", "direct"});
    relay::relay_config r;
    r.name = "oci";
    r.preset = "oci:eu-frankfurt-1";
    r.addresses = {"127.0.0.1"};
    r.port = 1;
    r.approved_senders = {"a@example.com", "@example.org"};
    r.null_sender_address = std::move(null_sender);
    relay::limits l;
    l.per_day = 1;
    l.max_message_size = 4096;
    l.counting = relay::count_mode::per_message;
    r.quota = l;
    c.relays.push_back(r);
    c.default_route = "oci";
    return c;
  }
  std::shared_ptr<relay::transport> make_transport(relay::config c) {
    auto t = relay::transport::create(std::move(c), nullptr);
    EXPECT_TRUE(t) << (t ? "" : t.error().message());
    return std::shared_ptr<relay::transport>(std::move(*t));
  }
  std::shared_ptr<q::queue> open_queue(std::shared_ptr<server::outbound> out) {
    q::options o;
    o.path = dir.string();
    o.hostname = "mx.example.com";
    o.clk = &clk;
    o.sync_threads = 1;
    o.delivery_wait = 0ms;
    auto r = q::queue::open(std::move(o));
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    (*r)->set_local(local);
    (*r)->set_remote(std::move(out));
    return *r;
  }
  static q::envelope envelope(std::string from, std::vector<std::string> to) {
    q::envelope e;
    e.reverse_path = std::move(from);
    for (auto& a : to) {
      q::recipient r;
      r.where = q::route::remote;
      r.address = a;
      r.original = a;
      e.recipients.push_back(r);
    }
    return e;
  }
};

TEST(outbound_priority, list_and_bulk_mail_is_bulk) {
  EXPECT_EQ(server::priority_of("From: a@b\r\nSubject: x\r\n\r\nPrecedence: bulk\r\n"),
            relay::priority::interactive); // in the body: not a field
  EXPECT_EQ(server::priority_of("From: a@b\r\nPrecedence:  Bulk \r\n\r\n"), relay::priority::bulk);
  EXPECT_EQ(server::priority_of("From: a@b\nprecedence: list\n\n"), relay::priority::bulk);
  EXPECT_EQ(server::priority_of("Precedence: junk\r\n\r\n"), relay::priority::bulk);
  EXPECT_EQ(server::priority_of("List-Id: <x.example.org>\r\n\r\n"), relay::priority::bulk);
  EXPECT_EQ(server::priority_of("List-Unsubscribe: <mailto:u@x>\r\n\r\n"), relay::priority::bulk);
  EXPECT_EQ(server::priority_of("Precedence: first-class\r\n\r\n"), relay::priority::interactive);
}

TEST(outbound_result, outcome_table) {
  relay::recipient_outcome o;
  o.remote_mta = "relay.example [127.0.0.1]:587";
  o.status = relay::outcome_status::delivered;
  o.reply = smtp::make_reply(250, "2.0.0", "queued as X");
  auto r = server::to_delivery_result(o);
  EXPECT_EQ(r.outcome, q::delivery_result::status::delivered);
  EXPECT_EQ(r.enhanced, "2.0.0");
  EXPECT_EQ(r.reply, "250 2.0.0 queued as X");
  EXPECT_EQ(r.remote_mta, o.remote_mta);

  o.status = relay::outcome_status::permanent;
  o.reply = smtp::make_reply(550, "5.1.1", "no such user");
  r = server::to_delivery_result(o);
  EXPECT_EQ(r.outcome, q::delivery_result::status::permanent);
  EXPECT_EQ(r.enhanced, "5.1.1");

  o.reply = smtp::make_reply(550, "", "no enhanced code");
  EXPECT_EQ(server::to_delivery_result(o).enhanced, "5.0.0");

  o.status = relay::outcome_status::transient;
  o.reply = smtp::make_reply(451, "4.4.1", "try later");
  r = server::to_delivery_result(o);
  EXPECT_EQ(r.outcome, q::delivery_result::status::transient);
  EXPECT_EQ(r.enhanced, "4.4.1");

  // A provider's 5xx quota reply is a hold: transient, never permanent.
  o.status = relay::outcome_status::held;
  o.reply = smtp::make_reply(554, "5.7.0", "Maximum messages sent per day reached : limit is 100");
  r = server::to_delivery_result(o);
  EXPECT_EQ(r.outcome, q::delivery_result::status::transient);
  EXPECT_EQ(r.enhanced, "4.3.1");
  // With the hold's end known, the queue keeps it as held (no attempt, no expiry).
  o.held_until = std::chrono::system_clock::time_point(std::chrono::seconds(1700006400));
  r = server::to_delivery_result(o);
  EXPECT_EQ(r.outcome, q::delivery_result::status::held);
  EXPECT_EQ(r.hold_until, 1700006400);
}

// Trace fields handed apart from the data (delivery_item::trace, the direct path's form) go
// out in front of it: here the relay's 4096-octet limit refuses the whole, which the data
// alone would not pass.
TEST_F(outbound_fixture, trace_fields_handed_apart_go_out_with_the_data) {
  auto out = std::make_shared<server::outbound>(make_transport(relay_config()));
  q::envelope e = envelope("a@example.com", {"b@dest.example"});
  e.id = "00000000000000000001";
  const std::string trace =
      "Received: from x\r\n\tby mx.example.com; " + std::string(4000, 'x') + "\r\n";
  q::delivery_item it;
  it.queue_id = e.id;
  it.env = &e;
  it.rcpt = &e.recipients[0];
  it.trace = trace;
  it.message = message;
  std::vector<q::delivery_item> items{it};
  out->deliver(items);
  EXPECT_EQ(items[0].result.outcome, q::delivery_result::status::permanent)
      << items[0].result.reply;
  EXPECT_EQ(items[0].result.enhanced, "5.3.4") << items[0].result.reply;
}

TEST_F(outbound_fixture, quota_used_up_holds_without_bounce_until_the_reset) {
  auto t = make_transport(relay_config());
  // Today's single unit is used up already.
  relay::limits l;
  l.per_day = 1;
  l.counting = relay::count_mode::per_message;
  ASSERT_TRUE(t->quotas().reserve("oci", l, 1, relay::priority::interactive).granted);

  auto out = std::make_shared<server::outbound>(t);
  auto qu = open_queue(out);
  auto id = qu->enqueue(envelope("a@example.com", {"b@dest.example"}), message);
  ASSERT_TRUE(id);
  EXPECT_EQ(qu->deliver_due(), 1u);
  auto st = qu->status(*id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->recipients[0].state, q::recipient_state::deferred);
  EXPECT_EQ(st->recipients[0].status, "4.3.1");
  EXPECT_NE(st->recipients[0].last_reply.find("held until 2023-11-15T00:00:00Z"), std::string::npos)
      << st->recipients[0].last_reply;
  EXPECT_EQ(qu->stats().dsns, 0u);
  EXPECT_EQ(qu->stats().bounced, 0u);
  // The adapter knows when to wake the queue: at the relay's reset (2023-11-15 00:00:00 UTC by
  // the test clock, long past by the real one: so at once, after release_delay).
  ASSERT_TRUE(out->next_release());
  EXPECT_GE(*out->next_release(), std::chrono::system_clock::now());

  // Every retry before the reset is held again (no connection, no bounce).
  for (int i = 0; i < 3; ++i) {
    clk.advance(30min);
    qu->flush();
    qu->deliver_due();
  }
  st = qu->status(*id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->recipients[0].state, q::recipient_state::deferred);
  EXPECT_EQ(qu->stats().dsns, 0u);
}

TEST_F(outbound_fixture, attached_queue_is_woken_when_the_hold_ends) {
  auto t = make_transport(relay_config());
  relay::limits l;
  l.per_day = 1;
  l.counting = relay::count_mode::per_message;
  ASSERT_TRUE(t->quotas().reserve("oci", l, 1, relay::priority::interactive).granted);
  server::outbound_options o;
  o.release_delay = 300ms;
  auto out = std::make_shared<server::outbound>(t, o);
  auto qu = open_queue(out);
  out->attach(qu);
  auto id = qu->enqueue(envelope("a@example.com", {"b@dest.example"}), message);
  ASSERT_TRUE(id);
  qu->deliver_due();
  // The hold ends at the relay's reset by the test clock (2023), long past by the real clock
  // the release thread waits on: it wakes the queue at once, which makes the held recipient
  // due now (next_attempt 0) instead of after the back-off.
  bool released = false;
  std::int64_t next = -1;
  for (int i = 0; i < 500 && !released; ++i) {
    auto st = qu->status(*id);
    ASSERT_TRUE(st);
    next = st->recipients[0].next_attempt;
    released = next == 0 && !out->next_release();
    if (!released) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(released) << "next_attempt " << next << ", pending release "
                        << (out->next_release() ? "yes" : "no");
}

TEST_F(outbound_fixture, permanent_refusal_bounces_to_the_sender_with_rfc3464_dsn) {
  auto out = std::make_shared<server::outbound>(make_transport(relay_config()));
  auto qu = open_queue(out);
  // Larger than the relay's 4096-octet limit: refused before any connection, permanently.
  std::string big = message + std::string(8000, 'x') + "\r\n";
  auto id = qu->enqueue(envelope("a@example.com", {"b@dest.example"}), big);
  ASSERT_TRUE(id);
  qu->deliver_due();
  EXPECT_FALSE(qu->status(*id)); // finished: bounced and removed
  EXPECT_EQ(qu->stats().bounced, 1u);
  EXPECT_EQ(qu->stats().dsns, 1u);
  auto ids = qu->ids();
  ASSERT_EQ(ids.size(), 1u); // the DSN
  auto dsn = qu->status(ids[0]);
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->env.reverse_path, "");      // RFC 5321 §4.5.5: from the null path
  EXPECT_TRUE(dsn->env.bounce);              // never bounced again
  ASSERT_EQ(dsn->env.recipients.size(), 1u); // to the original sender
  EXPECT_EQ(dsn->env.recipients[0].address, "a@example.com");
}

TEST_F(outbound_fixture, no_bounce_to_the_null_sender) {
  // A DSN refused permanently: the queue must not bounce it (no loop), whatever the reason.
  auto cfg = relay_config("postmaster@example.com");
  auto out = std::make_shared<server::outbound>(make_transport(std::move(cfg)));
  auto qu = open_queue(out);
  auto e = envelope("", {"b@dest.example"});
  e.bounce = true;
  auto id = qu->enqueue(e, message + std::string(8000, 'x') + "\r\n");
  ASSERT_TRUE(id);
  qu->deliver_due();
  EXPECT_FALSE(qu->status(*id));
  EXPECT_EQ(qu->stats().bounced, 1u);
  EXPECT_EQ(qu->stats().dsns, 0u);
  EXPECT_TRUE(qu->ids().empty());
}

TEST_F(outbound_fixture, dsn_through_a_relay_refusing_null_sender_is_kept_local) {
  // OCI refuses MAIL FROM:<>; this relay has no approved postmaster address: the DSN goes to
  // the local postmaster instead of failing.
  server::outbound_options o;
  o.local = local;
  o.postmaster = "postmaster";
  auto out = std::make_shared<server::outbound>(make_transport(relay_config()), o);
  auto qu = open_queue(out);
  auto e = envelope("", {"sender@dest.example"});
  e.bounce = true;
  auto id = qu->enqueue(e, message);
  ASSERT_TRUE(id);
  qu->deliver_due();
  EXPECT_FALSE(qu->status(*id));
  EXPECT_EQ(qu->stats().delivered, 1u);
  ASSERT_EQ(local->got.size(), 1u);
  EXPECT_EQ(local->got[0].first, "postmaster");
  EXPECT_EQ(qu->stats().dsns, 0u);
}

TEST_F(outbound_fixture, keep_local_policy_overrides_the_relay_postmaster_address) {
  server::outbound_options o;
  o.local = local;
  o.null_sender = server::null_sender_policy::keep_local;
  auto out = std::make_shared<server::outbound>(make_transport(relay_config("pm@example.com")), o);
  auto qu = open_queue(out);
  auto e = envelope("", {"sender@dest.example"});
  e.bounce = true;
  ASSERT_TRUE(qu->enqueue(e, message));
  qu->deliver_due();
  ASSERT_EQ(local->got.size(), 1u);
  EXPECT_EQ(local->got[0].first, "postmaster");
  // Mail with a real sender is never diverted: it goes to the relay (refused there: too big).
  auto id = qu->enqueue(envelope("a@example.com", {"c@dest.example"}),
                        message + std::string(8000, 'x') + "\r\n");
  ASSERT_TRUE(id);
  qu->deliver_due();
  EXPECT_FALSE(qu->status(*id));
  EXPECT_EQ(local->got.size(), 1u);
  EXPECT_EQ(qu->stats().bounced, 1u);
}

TEST_F(outbound_fixture, approved_sender_check_for_the_submission_policy) {
  server::outbound out(make_transport(relay_config()));
  const std::vector<std::string> rcpts = {"x@dest.example", "y@other.example"};
  EXPECT_TRUE(out.check_sender("a@example.com", {}, rcpts).allowed);
  EXPECT_TRUE(out.check_sender("anyone@example.org", {}, rcpts).allowed);
  auto v = out.check_sender("b@example.com", {}, rcpts);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.relay, "oci");
  EXPECT_EQ(v.reply.code, 550);
  ASSERT_TRUE(v.reply.enhanced);
  EXPECT_EQ(v.reply.enhanced->to_string(), "5.7.1");
  // OCI checks the header From too.
  const std::vector<std::string> from = {"mallory@evil.example"};
  v = out.check_sender("a@example.com", from, rcpts);
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.reply.text().find("mallory@evil.example"), std::string::npos);

  // The same check as server::inbound's policy hook (outbound_hooks.hpp): envelope at RCPT,
  // header From read from the message at the end of the data.
  std::shared_ptr<mailkit::queue::remote_transport> remote =
      std::make_shared<server::outbound>(make_transport(relay_config()));
  auto hook = server::sender_approval(remote);
  ASSERT_TRUE(hook);
  EXPECT_FALSE(hook("a@example.com", "", rcpts));
  EXPECT_TRUE(hook("b@example.com", "", rcpts));
  auto refusal = hook("a@example.com", "From: M <mallory@evil.example>\r\n\r\nhi\r\n", rcpts);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, 550);
  EXPECT_FALSE(hook("a@example.com", "From: A <a@example.com>\r\n\r\nhi\r\n", rcpts));
  EXPECT_FALSE(server::sender_approval(nullptr)); // no relay: no check
}

} // namespace
