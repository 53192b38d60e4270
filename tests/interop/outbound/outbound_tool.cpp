// SPDX-License-Identifier: Apache-2.0
// outbound_tool CONFIG.json: a durable queue (libmail/queue) whose remote transport is
// server::outbound over relay::transport, driven step by step for the outbound interop tests
// (test_outbound.py). Each run opens the queue directory (running its recovery scan, as a
// restarted server would), enqueues the listed messages, runs delivery passes and prints one
// JSON document with the state of every queued message.
//
// The relay configuration is the JSON of relay_config_json.hpp, plus:
// {"queue": "/dir", "clock_offset": seconds added to the real time (retry schedules, expiry,
//  quota resets), "batch": messages per delivery batch (1 = one commit per message),
//  "passes": delivery passes (each after a queue flush, so deferred recipients are retried),
//  "keep_local_dsn": true (DSNs of relays refusing <> go to the local "postmaster"),
//  "enqueue": [{"from", "rcpt": ["addr", ...], "notify": "never"|..., "ret": "hdrs"|"full",
//               "envid", "data"}],
//  "copies": N (enqueue each listed message N times; benchmark),
//  "workers": T (instead of passes: start T delivery threads, time until every enqueued
//                recipient is final, bounded by "max_seconds"; benchmark)}
// Output: {"enqueued": [ids], "attempted": N, "stats": {...}, "local": [addresses delivered
// locally], "messages": [{"id", "from", "bounce", "recipients": [{"address", "state",
// "attempts", "status", "last_reply", "next_attempt"}]}], "elapsed_s", "per_second"}
#include "../relay/relay_config_json.hpp"

#include <mailkit/queue/queue.hpp>
#include <mailkit/server/outbound.hpp>

#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

using namespace mailkit_test;

namespace {

// DSNs kept local: recorded (the test checks where they went), reported delivered.
class local_recorder final : public queue::delivery_target {
public:
  void deliver(std::span<queue::delivery_item> items) override {
    std::lock_guard lock(mu);
    for (auto& it : items) {
      it.result = {queue::delivery_result::status::delivered, "2.0.0", "250 kept", ""};
      got.emplace_back(it.rcpt->address);
    }
  }
  std::mutex mu;
  json::array got;
};

std::uint8_t notify_bits(std::string_view s) {
  std::uint8_t b = 0;
  if (s.find("never") != std::string_view::npos) b |= queue::notify::never;
  if (s.find("success") != std::string_view::npos) b |= queue::notify::success;
  if (s.find("failure") != std::string_view::npos) b |= queue::notify::failure;
  if (s.find("delay") != std::string_view::npos) b |= queue::notify::delay;
  return b;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: outbound_tool CONFIG.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream s;
  s << in.rdbuf();
  const json::object root = json::parse(s.str()).as_object();

  mailkit::manual_clock clk(std::chrono::system_clock::now() +
                            std::chrono::seconds(num(root, "clock_offset")));
  auto resolver = resolver_from_json(root);
  auto t = relay::transport::create(relay_config_from_json(root, &clk), resolver.get());
  if (!t) {
    std::cout << json::serialize(json::object{{"error", t.error().message()}}) << "\n";
    return 1;
  }
  auto local = std::make_shared<local_recorder>();
  server::outbound_options oo;
  if (auto it = root.find("keep_local_dsn"); it != root.end() && it->value().as_bool()) {
    oo.null_sender = server::null_sender_policy::keep_local;
    oo.local = local;
  }
  auto out =
      std::make_shared<server::outbound>(std::shared_ptr<relay::transport>(std::move(*t)), oo);
  queue::options qo;
  qo.path = str(root, "queue");
  qo.hostname = "mx.example.org";
  qo.clk = &clk;
  qo.sync_threads = 1;
  qo.delivery_batch = static_cast<std::size_t>(num(root, "batch", 64));
  const std::int64_t workers = num(root, "workers");
  if (workers > 0) qo.delivery_threads = static_cast<unsigned>(workers);
  qo.delivery_wait = std::chrono::milliseconds(0);
  auto opened = queue::queue::open(qo);
  if (!opened) {
    std::cout << json::serialize(json::object{{"error", opened.error().message()}}) << "\n";
    return 1;
  }
  auto q = std::move(*opened);
  q->set_remote(out);
  q->set_local(local);

  json::object result;
  json::array enqueued;
  std::uint64_t rcpts = 0;
  const std::int64_t copies = std::max<std::int64_t>(1, num(root, "copies", 1));
  if (auto it = root.find("enqueue"); it != root.end())
    for (std::int64_t c = 0; c < copies; ++c)
      for (const auto& v : it->value().as_array()) {
        const auto& o = v.as_object();
        queue::envelope e;
        e.reverse_path = str(o, "from");
        e.envid = str(o, "envid");
        const std::string ret = str(o, "ret");
        e.ret = ret == "hdrs"   ? queue::ret_type::hdrs
                : ret == "full" ? queue::ret_type::full
                                : queue::ret_type::unspecified;
        for (const auto& a : strs(o, "rcpt")) {
          queue::recipient r;
          r.where = queue::route::remote;
          r.address = a;
          r.original = a;
          r.notify = notify_bits(str(o, "notify"));
          e.recipients.push_back(std::move(r));
        }
        rcpts += e.recipients.size();
        auto id = q->enqueue(std::move(e), str(o, "data"));
        enqueued.emplace_back(id ? json::string(*id)
                                 : json::string("error: " + id.error().message()));
      }
  result["enqueued"] = std::move(enqueued);

  std::size_t attempted = 0;
  if (workers > 0) {
    // Benchmark: the delivery workers, as the server runs them, until every recipient is final.
    const auto start = std::chrono::steady_clock::now();
    const auto limit = start + std::chrono::seconds(num(root, "max_seconds", 300));
    q->start();
    while (std::chrono::steady_clock::now() < limit) {
      const auto s2 = q->stats();
      if (s2.delivered + s2.bounced >= rcpts) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    q->stop();
    result["elapsed_s"] = secs;
    result["per_second"] = static_cast<double>(q->stats().delivered) / secs;
  }
  const std::int64_t passes = workers > 0 ? 0 : num(root, "passes", 1);
  for (std::int64_t p = 0; p < passes; ++p) {
    q->flush();
    std::size_t n = 0;
    // deliver_due() takes one batch; go on until nothing is due (bounded by the queue size).
    for (int guard = 0; guard < 100000; ++guard) {
      const std::size_t k = q->deliver_due();
      n += k;
      if (k == 0) break;
    }
    attempted += n;
  }
  result["attempted"] = attempted;

  const auto st = q->stats();
  result["stats"] = json::object{{"delivered", st.delivered},   {"bounced", st.bounced},
                                 {"deferred", st.deferred},     {"dsns", st.dsns},
                                 {"duplicates", st.duplicates}, {"messages", st.messages}};
  {
    std::lock_guard lock(local->mu);
    result["local"] = local->got;
  }
  json::array msgs;
  for (const auto& id : q->ids()) {
    auto m = q->status(id);
    if (!m) continue;
    json::array rs;
    for (std::size_t i = 0; i < m->recipients.size(); ++i) {
      const auto& r = m->recipients[i];
      rs.push_back(json::object{{"address", m->env.recipients[i].address},
                                {"state", std::string(queue::to_string(r.state))},
                                {"attempts", r.attempts},
                                {"status", r.status},
                                {"last_reply", r.last_reply},
                                {"next_attempt", r.next_attempt}});
    }
    msgs.push_back(json::object{{"id", id},
                                {"from", m->env.reverse_path},
                                {"bounce", m->env.bounce},
                                {"recipients", std::move(rs)}});
  }
  result["messages"] = std::move(msgs);
  result["now"] =
      std::chrono::duration_cast<std::chrono::seconds>(clk.now().time_since_epoch()).count();
  std::cout << json::serialize(result) << "\n";
  std::cout.flush();
  q->stop();
  return 0;
}
