// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/thread_name.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/server/inbound.hpp>
#include <mailkit/server/outbound_hooks.hpp>
#include <mailkit/tls/tls.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <thread>

namespace mailkit::server {

namespace asio = boost::asio;

struct inbound::impl {
  inbound_config cfg;
  std::shared_ptr<dns::resolver> resolver;
  std::shared_ptr<store::mail_store> store;
  std::shared_ptr<queue::queue> q;
  std::shared_ptr<inbound_policy> policy;
  std::shared_ptr<inbound_direct> direct;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::shared_ptr<smtp::service> svc;
  std::thread io_thread;
  bool running = false;
};

expected<std::unique_ptr<inbound>> inbound::create(inbound_config cfg) {
  std::unique_ptr<inbound> self(new inbound());
  self->impl_ = std::make_unique<impl>();
  auto& m = *self->impl_;
  cfg.policy.hostname = cfg.hostname;
  if (!cfg.policy.clk) cfg.policy.clk = cfg.clk;
  m.cfg = std::move(cfg);
  auto& c = m.cfg;
  if (c.data_dir.empty()) return fail(errc::invalid_argument);
  if (c.policy.space_paths.empty())
    c.policy.space_paths = {c.data_dir + "/store", c.data_dir + "/queue"};

  store::open_options so;
  so.path = c.data_dir + "/store";
  auto st = store::open(so);
  if (!st) return make_unexpected(st.error());
  m.store = std::shared_ptr<store::mail_store>(std::move(*st));

  m.resolver = c.resolver ? c.resolver : std::make_shared<dns::cares_resolver>();

  queue::options qo;
  qo.path = c.data_dir + "/queue";
  qo.hostname = c.hostname;
  qo.limits = c.queue_limits;
  qo.retry = c.retry;
  qo.clk = c.clk;
  qo.sync_threads = c.queue_sync_threads;
  qo.delivery_threads = c.delivery_threads;
  qo.delivery_batch = c.delivery_batch;
  qo.delivery_wait = c.delivery_wait;
  // DSNs to our own users are delivered locally (after alias expansion), others go out.
  std::weak_ptr<store::mail_store> weak_store = m.store;
  qo.route_dsn = [weak_store](std::string_view address) {
    std::vector<queue::recipient> out;
    auto s = weak_store.lock();
    if (!s) return out;
    auto res = s->resolve_recipient(address);
    if (res && res->outcome == store::resolution::status::local) {
      for (const auto& t : res->targets) {
        queue::recipient r;
        r.where = t.where == store::delivery_target::kind::local ? queue::route::local
                                                                 : queue::route::remote;
        r.address = t.address;
        r.tag = t.tag;
        r.original = std::string(address);
        out.push_back(std::move(r));
      }
    }
    return out;
  };
  auto q = queue::queue::open(std::move(qo));
  if (!q) return make_unexpected(q.error());
  m.q = std::move(*q);
  auto local = std::make_shared<local_delivery>(m.store, c.delivery);
  m.q->set_local(local);
  if (c.remote) {
    m.q->set_remote(c.remote);
    // The relay adapter wakes the queue when a relay's quota hold ends (outbound.hpp).
    attach_outbound(c.remote, m.q);
  }

  if (!c.policy.approve_sender) c.policy.approve_sender = sender_approval(c.remote);
  m.policy = std::make_shared<inbound_policy>(c.policy, m.store, m.q, m.resolver);
  if (c.direct_delivery) {
    m.direct = std::make_shared<inbound_direct>(local, c.direct);
    m.policy->set_direct(m.direct);
  }

  smtp::service_options so2;
  so2.hostname = c.hostname;
  so2.listeners = c.listeners;
  if (so2.listeners.empty()) so2.listeners.push_back({"127.0.0.1", 0, smtp::listener_mode::mx});
  so2.limits.max_message_size = c.queue_limits.max_message_size;
  so2.limits.max_recipients =
      std::min<std::size_t>(so2.limits.max_recipients, c.queue_limits.max_recipients);
  so2.max_connections = c.max_connections;
  so2.max_connections_per_ip = c.max_connections_per_ip;
  so2.timeouts = c.timeouts;
  so2.allow_plaintext_auth = c.allow_plaintext_auth;
  if (!c.tls_cert.empty()) {
    if (c.self_signed_tls) {
      auto made = tls::ensure_self_signed(c.tls_cert, c.tls_key, {c.hostname, "localhost"});
      if (!made) return make_unexpected(made.error());
    }
    auto ctx = tls::reloadable_server_context::create({c.tls_cert, c.tls_key});
    if (!ctx) return make_unexpected(ctx.error());
    so2.tls = std::move(*ctx);
  }
  m.svc = std::make_shared<smtp::service>(m.io.get_executor(), std::move(so2), m.policy);
  return self;
}

inbound::~inbound() {
  if (impl_) stop(std::chrono::milliseconds(0));
}

expected<void> inbound::start() {
  auto& m = *impl_;
  if (m.running) return {};
  if (auto r = m.svc->listen(); !r) return r;
  m.svc->start();
  m.guard.emplace(m.io.get_executor());
  m.io_thread = std::thread([&m] {
    name_this_thread("mk-smtp-io");
    m.io.run();
  });
  m.q->start();
  m.running = true;
  return {};
}

std::vector<asio::ip::tcp::endpoint> inbound::endpoints() const {
  return impl_->svc->endpoints();
}

void inbound::stop(std::chrono::milliseconds grace) {
  auto& m = *impl_;
  if (!m.running) return;
  m.running = false;
  std::promise<void> drained;
  auto f = drained.get_future();
  asio::post(m.io, [&] { m.svc->shutdown(grace, [&drained] { drained.set_value(); }); });
  f.wait_for(grace + std::chrono::seconds(5));
  // Deliveries handed to the direct path finish (their handlers post to the I/O context,
  // which still exists) before the I/O thread goes.
  if (m.direct) m.direct->stop();
  m.guard.reset();
  m.io.stop();
  if (m.io_thread.joinable()) m.io_thread.join();
  m.q->stop();
}

store::mail_store& inbound::store() noexcept {
  return *impl_->store;
}
queue::queue& inbound::mail_queue() noexcept {
  return *impl_->q;
}
smtp::service& inbound::service() noexcept {
  return *impl_->svc;
}
std::shared_ptr<store::mail_store> inbound::shared_store() const noexcept {
  return impl_->store;
}
inbound_direct* inbound::direct() noexcept {
  return impl_->direct.get();
}

const inbound_policy& inbound::policy() const noexcept {
  return *impl_->policy;
}

} // namespace mailkit::server
