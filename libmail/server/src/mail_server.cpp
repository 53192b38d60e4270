// SPDX-License-Identifier: Apache-2.0
// server::mail_server: inbound (SMTP + queue + local delivery), IMAP and outbound composed from
// one config struct (mail_server.hpp).
#include <mailkit/core/log.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/mtasts/serve.hpp>
#include <mailkit/server/inbound.hpp>
#include <mailkit/server/inbound_direct.hpp>
#include <mailkit/server/mail_server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <filesystem>
#include <thread>

namespace mailkit::server {

struct mail_server::impl {
  mail_server_config cfg;
  std::shared_ptr<dns::resolver> resolver;
  std::unique_ptr<inbound> in;
  boost::asio::io_context imap_io{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::thread imap_thread;
  std::shared_ptr<imap_service> imap;
  std::unique_ptr<http::server> https; ///< MTA-STS policies
  bool started = false, stopped = false;
};

namespace {

const char* service_name(smtp::listener_mode m) {
  switch (m) {
  case smtp::listener_mode::mx:
    return "smtp";
  case smtp::listener_mode::submission:
    return "submission";
  case smtp::listener_mode::submission_implicit_tls:
    return "submissions";
  }
  return "smtp";
}

} // namespace

expected<std::unique_ptr<mail_server>> mail_server::create(mail_server_config cfg) {
  std::unique_ptr<mail_server> s(new mail_server());
  s->impl_ = std::make_unique<impl>();
  impl& m = *s->impl_;
  std::error_code fec;
  std::filesystem::create_directories(cfg.data_dir, fec);
  if (fec) return fail(errc::io_error);
  if (cfg.tls_cert.empty() || cfg.tls_key.empty()) {
    std::filesystem::create_directories(cfg.data_dir + "/tls", fec);
    cfg.tls_cert = cfg.data_dir + "/tls/cert.pem";
    cfg.tls_key = cfg.data_dir + "/tls/key.pem";
  }

  m.resolver = cfg.resolver;
  if (!m.resolver) {
    dns::cares_options ro;
    ro.servers = cfg.dns_servers;
    auto cares = std::make_shared<dns::cares_resolver>(ro);
    if (auto ec = cares->init_error()) return tl::unexpected(ec);
    m.resolver = std::move(cares);
  }

  inbound_config ic;
  ic.hostname = cfg.hostname;
  ic.data_dir = cfg.data_dir;
  ic.listeners = cfg.smtp;
  ic.tls_cert = cfg.tls_cert;
  ic.tls_key = cfg.tls_key;
  ic.self_signed_tls = cfg.self_signed_tls;
  ic.allow_plaintext_auth = cfg.allow_plaintext_auth;
  ic.policy.reject_spf_fail = cfg.reject_spf_fail;
  ic.policy.restrict_sender = cfg.restrict_sender;
  ic.queue_limits.max_message_size = cfg.max_message_size;
  ic.max_connections = cfg.max_smtp_connections;
  ic.max_connections_per_ip = cfg.max_smtp_connections_per_ip;
  ic.resolver = m.resolver;
  ic.remote = cfg.outbound;
  auto in = inbound::create(std::move(ic));
  if (!in) return tl::unexpected(in.error());
  m.in = std::move(*in);
  auto known = m.in->store().domains();
  if (!known) return tl::unexpected(known.error());
  for (const auto& d : cfg.domains) {
    if (std::find(known->begin(), known->end(), d) != known->end()) continue;
    if (auto r = m.in->store().add_domain(d); !r) return tl::unexpected(r.error());
  }
  m.cfg = std::move(cfg);
  return s;
}

mail_server::~mail_server() {
  if (impl_) stop(std::chrono::milliseconds(0));
}

expected<void> mail_server::start() {
  impl& m = *impl_;
  if (m.started) return {};
  if (!m.cfg.imap.empty()) {
    imap_service_options io;
    io.hostname = m.cfg.hostname;
    io.listeners = m.cfg.imap;
    for (auto& l : io.listeners)
      l.allow_plaintext_auth = l.allow_plaintext_auth || m.cfg.allow_plaintext_auth;
    io.idle_timeout = m.cfg.imap_idle_timeout;
    io.max_connections_per_user = m.cfg.max_imap_connections_per_user;
    // One certificate for every TLS listener: the SMTP service's reloadable context.
    io.tls = m.in->service().options().tls;
    m.imap = std::make_shared<imap_service>(m.imap_io.get_executor(), std::move(io),
                                            m.in->shared_store());
    if (auto r = m.imap->listen(); !r) return r;
  }
  if (!m.cfg.https_address.empty()) {
    // RFC 8461 §3.2: one policy per domain, served at mta-sts.<domain>.
    auto mode = m.cfg.mta_sts_mode == "enforce"   ? mtasts::mode::enforce
                : m.cfg.mta_sts_mode == "none"    ? mtasts::mode::none
                : m.cfg.mta_sts_mode == "testing" ? mtasts::mode::testing
                                                  : std::optional<mtasts::mode>{};
    if (!mode) return fail(errc::invalid_argument);
    mtasts::policy_server_config pc;
    pc.address = m.cfg.https_address;
    pc.port = m.cfg.https_port;
    pc.context = m.in->service().options().tls ? m.in->service().options().tls->current() : nullptr;
    for (const auto& d : m.cfg.domains) {
      mtasts::published_policy pp;
      pp.domain = d;
      pp.value.policy_mode = *mode;
      pp.value.mx =
          m.cfg.mta_sts_mx.empty() ? std::vector<std::string>{m.cfg.hostname} : m.cfg.mta_sts_mx;
      pp.value.max_age = m.cfg.mta_sts_max_age;
      pc.domains.push_back(std::move(pp));
    }
    auto https = mtasts::serve_policies(pc);
    if (!https) return tl::unexpected(https.error());
    m.https = std::move(*https);
  }
  if (auto r = m.in->start(); !r) {
    if (m.imap) m.imap->shutdown();
    if (m.https) m.https->stop();
    return r;
  }
  if (m.imap) {
    m.imap->start();
    m.guard.emplace(m.imap_io.get_executor());
    m.imap_thread = std::thread([&m] { m.imap_io.run(); });
  }
  m.started = true;
  log(log_level::notice, "mailkitd", "started as " + m.cfg.hostname);
  return {};
}

void mail_server::stop(std::chrono::milliseconds grace) {
  impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  if (m.https) m.https->stop();
  if (m.imap) m.imap->shutdown();
  if (m.in) m.in->stop(grace);
  m.guard.reset();
  if (m.imap_thread.joinable()) {
    // Sessions were told to close; give them the same grace, then stop the loop.
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (m.imap && m.imap->stats().active > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    m.imap_io.stop();
    m.imap_thread.join();
  }
}

expected<void> mail_server::reload_tls() {
  auto tls = impl_->in->service().options().tls;
  if (!tls) return fail(errc::invalid_argument);
  return tls->reload();
}

std::vector<listening> mail_server::endpoints() const {
  std::vector<listening> out;
  const impl& m = *impl_;
  const auto smtp_eps = m.in->endpoints();
  for (std::size_t i = 0; i < smtp_eps.size() && i < m.cfg.smtp.size(); ++i)
    out.push_back({service_name(m.cfg.smtp[i].mode), smtp_eps[i]});
  if (m.imap) {
    const auto imap_eps = m.imap->endpoints();
    for (std::size_t i = 0; i < imap_eps.size() && i < m.cfg.imap.size(); ++i)
      out.push_back({m.cfg.imap[i].implicit_tls ? "imaps" : "imap", imap_eps[i]});
  }
  if (m.https) {
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(m.cfg.https_address, ec);
    if (!ec) out.push_back({"https", {addr, m.https->port()}});
  }
  return out;
}

store::mail_store& mail_server::store() noexcept {
  return impl_->in->store();
}

std::shared_ptr<store::mail_store> mail_server::shared_store() const noexcept {
  return impl_->in->shared_store();
}

mail_server_stats mail_server::stats() const {
  impl& m = *impl_;
  mail_server_stats s;
  const auto ss = m.in->service().stats();
  s.smtp_accepted = ss.accepted;
  s.smtp_active = ss.active;
  s.smtp_messages = ss.messages;
  if (m.imap) {
    const auto is = m.imap->stats();
    s.imap_accepted = is.accepted;
    s.imap_active = is.active;
    s.imap_login_failures = is.login_failures;
  }
  const auto qs = m.in->mail_queue().stats();
  s.queue_messages = qs.messages;
  s.delivered = qs.delivered;
  // Local mail committed into the store before the 250 never passes through the queue.
  if (auto* d = m.in->direct()) s.delivered += d->stats().delivered;
  s.deferred = qs.deferred;
  s.bounced = qs.bounced;
  return s;
}

const mail_server_config& mail_server::config() const noexcept {
  return impl_->cfg;
}

} // namespace mailkit::server
