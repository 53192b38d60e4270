// SPDX-License-Identifier: Apache-2.0
// The default inbound policy and local delivery, with a real store and queue in a temporary
// directory and a static DNS zone (no network): RCPT decisions (unknown user, alias, relay,
// quota), sender ownership, DMARC reject and quarantine, trace fields, delivery into INBOX and
// Junk, and deduplication of a redelivery by queue id; the direct path (inbound_direct.hpp):
// local mail in the mailbox before the 250, what it cannot deliver left to the queue, group
// commit and stop.
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/server/inbound_direct.hpp>
#include <mailkit/server/inbound_policy.hpp>
#include <mailkit/server/local_delivery.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
namespace smtp = mailkit::smtp;
namespace srv = mailkit::server;
namespace q = mailkit::queue;

namespace {

struct policy_fixture : ::testing::Test {
  fs::path dir;
  std::shared_ptr<mailkit::store::mail_store> store;
  std::shared_ptr<q::queue> queue;
  std::shared_ptr<mailkit::dns::static_resolver> dns =
      std::make_shared<mailkit::dns::static_resolver>();
  std::unique_ptr<srv::inbound_policy> pol;
  smtp::session_info s;

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("mailkit_policy_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto st = mailkit::store::open((dir / "store").string());
    ASSERT_TRUE(st) << st.error().message();
    store = std::move(*st);
    ASSERT_TRUE(store->add_domain("example.com"));
    ASSERT_TRUE(store->add_account("alice@example.com", "pw-alice-123"));
    ASSERT_TRUE(store->add_account("bob@example.com", "pw-bob-123", {3000, 0}));
    std::vector<std::string> t{"alice@example.com"};
    ASSERT_TRUE(store->add_alias("info@example.com", t));
    ASSERT_TRUE(store->add_alias("postmaster@example.com", t));
    q::options o;
    o.path = (dir / "queue").string();
    o.sync_threads = 2;
    auto qq = q::queue::open(o);
    ASSERT_TRUE(qq);
    queue = *qq;
    queue->set_local(std::make_shared<srv::local_delivery>(store));
    (void)dns->add("quarantine.example", mailkit::dns::rtype::txt, "v=spf1 -all");
    (void)dns->add("_dmarc.quarantine.example", mailkit::dns::rtype::txt, "v=DMARC1; p=quarantine");
    (void)dns->add("reject.example", mailkit::dns::rtype::txt, "v=spf1 -all");
    (void)dns->add("_dmarc.reject.example", mailkit::dns::rtype::txt, "v=DMARC1; p=reject");
    (void)dns->add("good.example", mailkit::dns::rtype::txt, "v=spf1 ip4:192.0.2.0/24 -all");
    srv::policy_config c;
    c.hostname = "mx.example.com";
    c.threads = 2;
    pol = std::make_unique<srv::inbound_policy>(c, store, queue, dns);
    s.id = 1;
    s.peer_address = "192.0.2.10";
    s.helo = "client.good.example";
  }
  void TearDown() override {
    pol.reset();
    queue.reset();
    store.reset();
    fs::remove_all(dir);
  }

  static smtp::mailbox mb(std::string local, std::string domain) {
    smtp::mailbox m;
    m.local_part = std::move(local);
    m.domain = std::move(domain);
    return m;
  }
  template <class F>
  smtp::decision ask(F f) {
    std::promise<smtp::decision> p;
    f([&p](smtp::decision d) { p.set_value(std::move(d)); });
    return p.get_future().get();
  }
  static int code(const smtp::decision& d) { return d.response ? d.response->code : 250; }
  static std::string status(const smtp::decision& d) {
    return d.response && d.response->enhanced ? d.response->enhanced->to_string() : "";
  }

  smtp::decision mail(smtp::envelope& e, std::string local, std::string domain) {
    e.reverse_path = mb(std::move(local), std::move(domain));
    return ask([&](auto done) { pol->on_mail(s, e, done); });
  }
  smtp::decision rcpt(smtp::envelope& e, std::string local, std::string domain,
                      std::optional<smtp::dsn_notify> notify = std::nullopt) {
    smtp::recipient r;
    r.address = mb(std::move(local), std::move(domain));
    r.notify = notify;
    auto d = ask([&](auto done) { pol->on_rcpt(s, e, r, done); });
    if (d.accepted()) e.recipients.push_back(r);
    return d;
  }
  smtp::decision data(smtp::envelope& e, std::string_view message) {
    auto sink = pol->open_message(s, e);
    EXPECT_TRUE(sink);
    EXPECT_TRUE((*sink)->write(message));
    EXPECT_TRUE((*sink)->finish());
    e.message_size = message.size();
    return ask([&](auto done) { pol->on_message(s, e, std::move(*sink), done); });
  }
  static std::string queue_id(const smtp::decision& d) {
    const std::string text = d.response ? d.response->lines.at(0) : "";
    return text.substr(text.rfind(' ') + 1);
  }
  std::shared_ptr<srv::inbound_direct> direct;
  void use_direct() {
    direct = std::make_shared<srv::inbound_direct>(std::make_shared<srv::local_delivery>(store));
    pol->set_direct(direct);
  }
  std::vector<std::string> mailbox(const std::string& account, const std::string& box) {
    std::vector<std::string> out;
    auto ms = store->messages(account, box);
    EXPECT_TRUE(ms);
    for (const auto& m : *ms)
      out.push_back(*store->fetch(account, box, m.uid));
    return out;
  }
};

} // namespace

TEST_F(policy_fixture, RecipientDecisions) {
  smtp::envelope e;
  ASSERT_EQ(code(mail(e, "x", "good.example")), 250);
  EXPECT_EQ(code(rcpt(e, "alice", "example.com")), 250);
  EXPECT_EQ(code(rcpt(e, "info", "example.com")), 250);       // alias
  EXPECT_EQ(code(rcpt(e, "alice+news", "example.com")), 250); // subaddress
  auto unknown = rcpt(e, "nobody", "example.com");
  EXPECT_EQ(code(unknown), 550);
  EXPECT_EQ(status(unknown), "5.1.1");
  auto relay = rcpt(e, "victim", "elsewhere.example");
  EXPECT_EQ(code(relay), 554);
  EXPECT_EQ(status(relay), "5.7.1");
  // Authenticated: relaying is allowed (the remote route).
  smtp::envelope a;
  a.authenticated_as = "alice@example.com";
  ASSERT_EQ(code(mail(a, "alice", "example.com")), 250);
  EXPECT_EQ(code(rcpt(a, "victim", "elsewhere.example")), 250);
}

TEST_F(policy_fixture, ApprovedSendersOfTheRelayAtRcptAndEndOfData) {
  // A relay that accepts only @example.com senders, checked on the envelope at RCPT and on the
  // header From at the end of the data (server::outbound::check_sender in production).
  std::vector<std::string> seen_from;
  srv::policy_config c;
  c.hostname = "mx.example.com";
  c.threads = 2;
  c.restrict_sender = false;
  c.approve_sender = [&](std::string_view env, std::string_view message,
                         std::span<const std::string> rcpts) -> std::optional<smtp::reply> {
    EXPECT_FALSE(rcpts.empty());
    auto refused = [](std::string_view a) { return !a.ends_with("@example.com"); };
    if (refused(env)) return smtp::make_reply(550, "5.7.1", "sender not approved by relay oci");
    if (!message.empty()) {
      // The message as queued (trace fields are added later): its From field.
      const auto at = message.find("From: ");
      const auto end = message.find("\r\n", at);
      std::string from(message.substr(at + 6, end - at - 6));
      seen_from.push_back(from);
      if (from.find("@example.com") == std::string::npos)
        return smtp::make_reply(550, "5.7.1", "From not approved by relay oci");
    }
    return std::nullopt;
  };
  pol = std::make_unique<srv::inbound_policy>(c, store, queue, dns);
  smtp::envelope a;
  a.authenticated_as = "alice@example.com";
  ASSERT_EQ(code(mail(a, "alice", "other.example")), 250);
  auto r = rcpt(a, "friend", "elsewhere.example");
  EXPECT_EQ(code(r), 550);
  EXPECT_EQ(status(r), "5.7.1");
  // Local recipients do not go through a relay: no check.
  EXPECT_EQ(code(rcpt(a, "bob", "example.com")), 250);

  smtp::envelope b;
  b.authenticated_as = "alice@example.com";
  ASSERT_EQ(code(mail(b, "alice", "example.com")), 250);
  ASSERT_EQ(code(rcpt(b, "friend", "elsewhere.example")), 250);
  auto d = data(b, "From: Alice <alice@other.example>\r\nSubject: x\r\n\r\nhi\r\n");
  EXPECT_EQ(code(d), 550);
  EXPECT_EQ(seen_from, std::vector<std::string>{"Alice <alice@other.example>"});
  EXPECT_TRUE(queue->ids().empty()); // refused, nothing queued

  smtp::envelope g;
  g.authenticated_as = "alice@example.com";
  ASSERT_EQ(code(mail(g, "alice", "example.com")), 250);
  ASSERT_EQ(code(rcpt(g, "friend", "elsewhere.example")), 250);
  EXPECT_EQ(code(data(g, "From: alice@example.com\r\nSubject: x\r\n\r\nhi\r\n")), 250);
}

TEST_F(policy_fixture, SenderOwnership) {
  smtp::envelope e;
  e.authenticated_as = "alice@example.com";
  EXPECT_EQ(code(mail(e, "alice", "example.com")), 250);
  EXPECT_EQ(code(mail(e, "info", "example.com")), 250); // an alias of hers
  auto other = mail(e, "bob", "example.com");
  EXPECT_EQ(code(other), 553);
  EXPECT_EQ(status(other), "5.7.1");
}

// RFC 1870 §6.1 with the free-space reserve: 452 4.3.1 at MAIL while a watched file system
// is short of space (the reserve, plus twice a declared size), counted; 0 turns it off.
TEST_F(policy_fixture, FreeSpaceReserveAtMail) {
  auto with_reserve = [&](std::uint64_t reserve) {
    srv::policy_config c;
    c.hostname = "mx.example.com";
    c.threads = 1;
    c.check_spf = false;
    c.min_free_space = reserve;
    c.space_paths = {(dir / "store").string(), (dir / "queue").string()};
    pol = std::make_unique<srv::inbound_policy>(c, store, queue, dns);
  };
  smtp::envelope e;
  with_reserve(UINT64_MAX / 4); // no file system has that much free
  auto full = mail(e, "someone", "good.example");
  EXPECT_EQ(code(full), 452);
  EXPECT_EQ(status(full), "4.3.1");
  EXPECT_NE(full.response->lines.at(0).find("insufficient system storage"), std::string::npos);
  EXPECT_EQ(pol->stats().refused_for_space, 1u);
  e.authenticated_as = "alice@example.com"; // submission too: the mail could not be stored
  EXPECT_EQ(code(mail(e, "alice", "example.com")), 452);
  EXPECT_EQ(pol->stats().refused_for_space, 2u);

  e = {};
  with_reserve(1);
  EXPECT_EQ(code(mail(e, "someone", "good.example")), 250);
  e.declared_size = 1000;
  EXPECT_EQ(code(mail(e, "someone", "good.example")), 250);
  e.declared_size = UINT64_MAX / 2; // twice this fits on no disk (and does not overflow)
  EXPECT_EQ(code(mail(e, "someone", "good.example")), 452);
  e.declared_size = UINT64_MAX;
  EXPECT_EQ(code(mail(e, "someone", "good.example")), 452);
  EXPECT_EQ(pol->stats().refused_for_space, 2u);

  with_reserve(0); // no check at all
  EXPECT_EQ(code(mail(e, "someone", "good.example")), 250);
  EXPECT_EQ(pol->stats().refused_for_space, 0u);
}

TEST_F(policy_fixture, QuotaAtRcpt) {
  // bob has 3000 bytes of quota; fill it.
  ASSERT_TRUE(store->append("bob@example.com", "INBOX",
                            "Subject: big\r\n\r\n" + std::string(3000, 'x') + "\r\n"));
  smtp::envelope e;
  ASSERT_EQ(code(mail(e, "x", "good.example")), 250);
  auto d = rcpt(e, "bob", "example.com");
  EXPECT_EQ(code(d), 452);
  EXPECT_EQ(status(d), "4.2.2");
}

TEST_F(policy_fixture, DeliveredWithTraceFieldsAndDeduplicated) {
  smtp::envelope e;
  e.esmtp = true;
  ASSERT_EQ(code(mail(e, "x", "good.example")), 250);
  ASSERT_EQ(code(rcpt(e, "alice", "example.com")), 250);
  const std::string msg = "Authentication-Results: mx.example.com; dmarc=pass\r\n"
                          "From: x@good.example\r\nSubject: hello\r\n\r\nbody\r\n";
  auto d = data(e, msg);
  ASSERT_EQ(code(d), 250);
  ASSERT_TRUE(d.response);
  const std::string text = d.response->lines.at(0);
  const std::string id = text.substr(text.rfind(' ') + 1);
  auto st = queue->status(id);
  ASSERT_TRUE(st);
  EXPECT_EQ(queue->deliver_due(), 1u);
  auto inbox = mailbox("alice@example.com", "INBOX");
  ASSERT_EQ(inbox.size(), 1u);
  const auto& m = inbox[0];
  EXPECT_EQ(m.rfind("Return-Path: <x@good.example>\r\nDelivered-To: alice@example.com\r\n"
                    "Received: from client.good.example ([192.0.2.10])\r\n\tby mx.example.com "
                    "(mailkit) with ESMTP id " +
                        id + "\r\n\tfor <alice@example.com>; ",
                    0),
            0u)
      << m;
  EXPECT_NE(m.find("Authentication-Results: mx.example.com;\r\n\tspf=pass"), std::string::npos)
      << m;
  EXPECT_EQ(m.find("mx.example.com; dmarc=pass"), std::string::npos); // the forged one is gone
  // A redelivery of the same queue id (a crash between the store's commit and the queue's):
  // the store has it already, the target says duplicate, nothing is stored twice.
  srv::local_delivery ld(store);
  q::envelope qe = st->env;
  q::delivery_item it;
  it.queue_id = id;
  it.env = &qe;
  it.rcpt = &qe.recipients[0];
  const std::string queued = m.substr(m.find("Received: "));
  it.message = queued;
  std::vector<q::delivery_item> items{it};
  ld.deliver(items);
  EXPECT_EQ(items[0].result.outcome, q::delivery_result::status::duplicate);
  EXPECT_EQ(mailbox("alice@example.com", "INBOX").size(), 1u);
  // The trace fields handed apart (direct acceptance's form) make the same stored message.
  const auto data_at = queued.find("From: ");
  ASSERT_NE(data_at, std::string::npos);
  items[0].trace = std::string_view(queued).substr(0, data_at);
  items[0].message = std::string_view(queued).substr(data_at);
  ld.deliver(items);
  EXPECT_EQ(items[0].result.outcome, q::delivery_result::status::duplicate);
  EXPECT_EQ(mailbox("alice@example.com", "INBOX").size(), 1u);
  // A first attempt (direct acceptance, before any queue file) cannot meet an earlier copy
  // and does not look for one (no content hash, no lookup): here, where the test made one on
  // purpose, it is stored.
  items[0].first_attempt = true;
  ld.deliver(items);
  EXPECT_EQ(items[0].result.outcome, q::delivery_result::status::delivered);
  EXPECT_EQ(mailbox("alice@example.com", "INBOX").size(), 2u);
}

TEST_F(policy_fixture, DmarcRejectAndQuarantine) {
  s.peer_address = "198.51.100.1";
  smtp::envelope r;
  ASSERT_EQ(code(mail(r, "x", "reject.example")), 250);
  ASSERT_EQ(code(rcpt(r, "alice", "example.com")), 250);
  auto d = data(r, "From: x@reject.example\r\nSubject: no\r\n\r\nbody\r\n");
  EXPECT_EQ(code(d), 550);
  EXPECT_EQ(status(d), "5.7.1");
  EXPECT_TRUE(queue->ids().empty());

  smtp::envelope qu;
  ASSERT_EQ(code(mail(qu, "x", "quarantine.example")), 250);
  ASSERT_EQ(code(rcpt(qu, "alice", "example.com")), 250);
  ASSERT_EQ(code(data(qu, "From: x@quarantine.example\r\nSubject: junk\r\n\r\nbody\r\n")), 250);
  queue->deliver_due();
  EXPECT_EQ(mailbox("alice@example.com", "INBOX").size(), 0u);
  auto junk = mailbox("alice@example.com", "Junk");
  ASSERT_EQ(junk.size(), 1u);
  EXPECT_NE(junk[0].find("dmarc=fail"), std::string::npos);
}

TEST_F(policy_fixture, DirectDeliveryIsInTheMailboxAtThe250) {
  use_direct();
  smtp::envelope e;
  e.esmtp = true;
  ASSERT_EQ(code(mail(e, "x", "good.example")), 250);
  ASSERT_EQ(code(rcpt(e, "alice", "example.com")), 250);
  auto d = data(e, "From: x@good.example\r\nSubject: hello\r\n\r\nbody\r\n");
  ASSERT_EQ(code(d), 250);
  const std::string id = queue_id(d);
  // Durable in the store before the answer, and never queued.
  EXPECT_TRUE(queue->ids().empty());
  auto inbox = mailbox("alice@example.com", "INBOX");
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].rfind("Return-Path: <x@good.example>\r\nDelivered-To: alice@example.com\r\n"
                           "Received: from client.good.example ([192.0.2.10])\r\n\tby "
                           "mx.example.com (mailkit) with ESMTP id " +
                               id + "\r\n",
                           0),
            0u)
      << inbox[0];
  EXPECT_NE(inbox[0].find("spf=pass"), std::string::npos);
  const std::string sent = "From: x@good.example\r\nSubject: hello\r\n\r\nbody\r\n";
  ASSERT_GE(inbox[0].size(), sent.size());
  EXPECT_EQ(inbox[0].substr(inbox[0].size() - sent.size()), sent); // the data, whole, last
  // DMARC quarantine: straight into Junk.
  s.peer_address = "198.51.100.1";
  smtp::envelope qu;
  ASSERT_EQ(code(mail(qu, "x", "quarantine.example")), 250);
  ASSERT_EQ(code(rcpt(qu, "alice", "example.com")), 250);
  ASSERT_EQ(code(data(qu, "From: x@quarantine.example\r\nSubject: junk\r\n\r\nbody\r\n")), 250);
  EXPECT_TRUE(queue->ids().empty());
  EXPECT_EQ(mailbox("alice@example.com", "Junk").size(), 1u);
  const auto st = direct->stats();
  EXPECT_EQ(st.messages, 2u);
  EXPECT_EQ(st.delivered, 2u);
  EXPECT_EQ(st.to_queue, 0u);
}

TEST_F(policy_fixture, DirectLeavesWhatItCannotDeliverToTheQueue) {
  use_direct();
  // bob's 3000-byte quota cannot take this message (no SIZE was declared, so RCPT passed):
  // alice has it at the 250, bob's copy is left to the queue under the same id, which bounces
  // it (RFC 3463 5.2.2) with a DSN to the sender.
  smtp::envelope e;
  ASSERT_EQ(code(mail(e, "x", "good.example")), 250);
  ASSERT_EQ(code(rcpt(e, "alice", "example.com")), 250);
  ASSERT_EQ(code(rcpt(e, "bob", "example.com")), 250);
  auto d =
      data(e, "From: x@good.example\r\nSubject: big\r\n\r\n" + std::string(4000, 'y') + "\r\n");
  ASSERT_EQ(code(d), 250);
  const std::string id = queue_id(d);
  EXPECT_EQ(mailbox("alice@example.com", "INBOX").size(), 1u);
  auto st = queue->status(id);
  ASSERT_TRUE(st) << id;
  ASSERT_EQ(st->env.recipients.size(), 1u);
  EXPECT_EQ(st->env.recipients[0].address, "bob@example.com");
  queue->deliver_due();
  EXPECT_FALSE(queue->status(id)); // bounced and gone
  EXPECT_EQ(queue->stats().dsns, 1u);
  EXPECT_EQ(mailbox("bob@example.com", "INBOX").size(), 0u);
  EXPECT_EQ(mailbox("alice@example.com", "INBOX").size(), 1u); // not delivered twice
  EXPECT_EQ(direct->stats().to_queue, 1u);
}

TEST_F(policy_fixture, DirectNotForSuccessNotificationsOrRemoteRecipients) {
  use_direct();
  // RFC 3461 §4.1 NOTIFY=SUCCESS: the queue writes that DSN, so the message is queued.
  smtp::envelope e;
  ASSERT_EQ(code(mail(e, "x", "good.example")), 250);
  smtp::dsn_notify n;
  n.success = true;
  ASSERT_EQ(code(rcpt(e, "alice", "example.com", n)), 250);
  auto d = data(e, "From: x@good.example\r\nSubject: s\r\n\r\nbody\r\n");
  ASSERT_EQ(code(d), 250);
  EXPECT_TRUE(queue->status(queue_id(d)));
  // A remote recipient among local ones: the whole message is queued.
  smtp::envelope a;
  a.authenticated_as = "alice@example.com";
  ASSERT_EQ(code(mail(a, "alice", "example.com")), 250);
  ASSERT_EQ(code(rcpt(a, "bob", "example.com")), 250);
  ASSERT_EQ(code(rcpt(a, "friend", "elsewhere.example")), 250);
  auto d2 = data(a, "From: alice@example.com\r\nSubject: s\r\n\r\nbody\r\n");
  ASSERT_EQ(code(d2), 250);
  EXPECT_TRUE(queue->status(queue_id(d2)));
  EXPECT_EQ(mailbox("bob@example.com", "INBOX").size(), 0u);
  EXPECT_EQ(direct->stats().messages, 0u);
}

namespace {

// A delivery target that holds every call until released and counts its calls.
struct gate_target final : q::delivery_target {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> calls{0};
  std::atomic<std::size_t> items{0};
  void deliver(std::span<q::delivery_item> its) override {
    ++calls;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return open; });
    }
    items += its.size();
    for (auto& it : its)
      it.result = {q::delivery_result::status::delivered, "2.0.0", "250 stored", "", 0};
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

q::envelope local_envelope(int n) {
  q::envelope e;
  e.id = "0000000000000000000" + std::to_string(100 + n);
  q::recipient r;
  r.address = "alice@example.com";
  e.recipients = {r, r};
  return e;
}

} // namespace

TEST(InboundDirect, GroupCommitTakesEverythingWaiting) {
  // A lone message is delivered on the caller's thread. While that delivery is held, 40 more
  // arrive from four threads: the committer takes what is waiting when it wakes, then all the
  // rest in one more call (one store transaction each); every handler is called once.
  auto target = std::make_shared<gate_target>();
  srv::direct_options o;
  o.threads = 1;
  srv::inbound_direct d(target, o);
  std::atomic<int> done{0};
  auto handler = [&](std::vector<q::delivery_result> rs) {
    EXPECT_EQ(rs.size(), 2u);
    for (const auto& r : rs)
      EXPECT_EQ(r.outcome, q::delivery_result::status::delivered);
    ++done;
  };
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  std::thread first([&] {
    d.async_deliver(local_envelope(0), "", "Subject: 0\r\n\r\nx\r\n",
                    [&](std::vector<q::delivery_result> rs) {
                      ran_on = std::this_thread::get_id();
                      handler(std::move(rs));
                    });
  });
  const auto first_id = first.get_id();
  for (int i = 0; i < 400 && target->calls.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(target->calls.load(), 1);
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        d.async_deliver(local_envelope(1 + t * 10 + i), "", "Subject: n\r\n\r\nx\r\n", handler);
    });
  for (auto& t : senders)
    t.join();
  target->release();
  first.join();
  EXPECT_EQ(ran_on, first_id); // inline: the caller's thread
  EXPECT_NE(ran_on, caller);
  d.stop(); // finishes what was handed over
  EXPECT_EQ(done.load(), 41);
  EXPECT_GE(target->calls.load(), 2);
  EXPECT_LE(target->calls.load(), 3);
  EXPECT_EQ(target->items.load(), 82u);
  const auto st = d.stats();
  EXPECT_EQ(st.messages, 41u);
  EXPECT_EQ(st.batches, static_cast<std::uint64_t>(target->calls.load()));
  EXPECT_EQ(st.delivered, 82u);
  // Stopped: an answer at once, transient, so that the policy queues the message instead.
  std::vector<q::delivery_result> late;
  d.async_deliver(local_envelope(99), "", "Subject: late\r\n\r\nx\r\n",
                  [&](std::vector<q::delivery_result> rs) { late = std::move(rs); });
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].outcome, q::delivery_result::status::transient);
  EXPECT_LE(target->calls.load(), 3);
}

TEST(InboundDirect, Eligibility) {
  q::envelope e = local_envelope(0);
  EXPECT_TRUE(srv::inbound_direct::eligible(e));
  e.recipients[1].notify = q::notify::success | q::notify::failure;
  EXPECT_FALSE(srv::inbound_direct::eligible(e));
  e.recipients[1].notify = q::notify::never;
  EXPECT_TRUE(srv::inbound_direct::eligible(e));
  e.recipients[1].where = q::route::remote;
  EXPECT_FALSE(srv::inbound_direct::eligible(e));
  e = local_envelope(0);
  e.bounce = true;
  EXPECT_FALSE(srv::inbound_direct::eligible(e));
  e.recipients.clear();
  e.bounce = false;
  EXPECT_FALSE(srv::inbound_direct::eligible(e));
}

TEST(PolicyHelpers, StripOwnAuthenticationResults) {
  const std::string m = "Authentication-Results: mx.example.com;\r\n\tspf=pass\r\n"
                        "Authentication-Results: other.example; spf=fail\r\n"
                        "Subject: x\r\n\r\nAuthentication-Results: mx.example.com; body\r\n";
  auto r = srv::inbound_policy::strip_own_authentication_results(m, "MX.example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "Authentication-Results: other.example; spf=fail\r\nSubject: x\r\n\r\n"
                "Authentication-Results: mx.example.com; body\r\n");
  EXPECT_FALSE(srv::inbound_policy::strip_own_authentication_results("Subject: x\r\n\r\n",
                                                                     "mx.example.com"));
}

TEST(PolicyHelpers, ReceivedProtocolTypes) {
  smtp::session_info s;
  s.helo = "h.example";
  s.peer_address = "192.0.2.1";
  smtp::envelope e;
  EXPECT_NE(srv::inbound_policy::received_field(s, e, "mx", "00", 0).find(" with SMTP id 00;"),
            std::string::npos);
  e.esmtp = true;
  e.tls = true;
  e.authenticated_as = "u@example.com";
  const auto r = srv::inbound_policy::received_field(s, e, "mx", "00", 0);
  EXPECT_NE(r.find(" with ESMTPSA id 00"), std::string::npos) << r;
  EXPECT_EQ(r.rfind("Received: from h.example ([192.0.2.1])\r\n\tby mx (mailkit)", 0), 0u);
  EXPECT_EQ(r.substr(r.size() - 2), "\r\n");
}
