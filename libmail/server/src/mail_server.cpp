// SPDX-License-Identifier: Apache-2.0
// server::mail_server: inbound (SMTP + queue + local delivery), IMAP and outbound composed from
// one config struct (mail_server.hpp).
#include <mailkit/core/log.hpp>
#include <mailkit/core/thread_name.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/http/http.hpp>
#include <mailkit/server/admin.hpp>
#include <mailkit/server/inbound.hpp>
#include <mailkit/server/inbound_direct.hpp>
#include <mailkit/server/mail_server.hpp>
#include <mailkit/server/outbound_hooks.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>

namespace mailkit::server {

struct mail_server::impl {
  mail_server_config cfg;
  std::shared_ptr<dns::resolver> resolver;
  std::shared_ptr<auth_cache> credentials; ///< verified passwords, for SMTP AUTH and IMAP
  std::unique_ptr<inbound> in;
  boost::asio::io_context imap_io{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::thread imap_thread;
  std::shared_ptr<imap_service> imap;
  std::unique_ptr<http::server> https; ///< MTA-STS policies
  std::unique_ptr<admin_server> admin; ///< metrics and the operator API (admin.hpp)
  mutable std::mutex outbound_mu;
  std::shared_ptr<queue::remote_transport> outbound; ///< in use now (reload() replaces it)

  std::shared_ptr<queue::remote_transport> current_outbound() const {
    std::lock_guard lock(outbound_mu);
    return outbound;
  }
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
  ic.policy.min_free_space = cfg.min_free_space;
  ic.policy.restrict_sender = cfg.restrict_sender;
  // One cache of verified passwords for SMTP AUTH and IMAP logins (auth_cache.hpp).
  m.credentials = std::make_shared<auth_cache>();
  ic.policy.credentials_cache = m.credentials;
  ic.queue_limits.max_message_size = cfg.max_message_size;
  ic.max_connections = cfg.max_smtp_connections;
  ic.max_connections_per_ip = cfg.max_smtp_connections_per_ip;
  ic.resolver = m.resolver;
  // The queue gets the outbound transport from here (below), not through inbound_config, so
  // that reload() can replace it without inbound keeping the old one (and its threads) alive.
  m.outbound = cfg.outbound;
  // The approved-sender check asks whichever transport is current, so that reload() changes
  // it together with the queue's.
  ic.policy.approve_sender =
      [mp = &m](std::string_view from, std::string_view message,
                std::span<const std::string> rcpts) -> std::optional<smtp::reply> {
    auto check = sender_approval(mp->current_outbound());
    if (!check) return std::nullopt;
    return check(from, message, rcpts);
  };
  auto in = inbound::create(std::move(ic));
  if (!in) return tl::unexpected(in.error());
  m.in = std::move(*in);
  if (cfg.outbound) {
    m.in->mail_queue().set_remote(cfg.outbound);
    // The relay adapter wakes the queue when a relay's quota hold ends (outbound.hpp).
    attach_outbound(cfg.outbound, m.in->mail_queue().shared_from_this());
  }
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
    io.shared_credentials_cache = m.credentials;
    m.imap = std::make_shared<imap_service>(m.imap_io.get_executor(), std::move(io),
                                            m.in->shared_store());
    if (auto r = m.imap->listen(); !r) return r;
  }
  if (!m.cfg.https_address.empty()) {
    // MTA-STS policy hosts and client autoconfiguration (autoconfig.hpp), with the certificate
    // of every other listener; reload_tls() swaps it.
    auto tls = m.in->service().options().tls;
    auto hosts = https_hosts(m.cfg, tls ? tls->current() : nullptr);
    if (!hosts) return tl::unexpected(hosts.error());
    http::server_options ho;
    ho.address = m.cfg.https_address;
    ho.port = m.cfg.https_port;
    ho.hosts = std::move(*hosts);
    auto https = http::server::start(std::move(ho));
    if (!https) return tl::unexpected(https.error());
    m.https = std::move(*https);
  }
  if (!m.cfg.admin_address.empty()) {
    auto token = load_or_create_admin_token(
        m.cfg.admin_token_file.empty() ? m.cfg.data_dir + "/admin-token" : m.cfg.admin_token_file);
    if (!token) return tl::unexpected(token.error());
    admin_options ao;
    ao.address = m.cfg.admin_address;
    ao.port = m.cfg.admin_port;
    ao.token = std::move(*token);
    auto admin = admin_server::start(
        std::move(ao), [this](const admin_request& r) { return handle_admin_request(*this, r); });
    if (!admin) {
      if (m.imap) m.imap->shutdown();
      if (m.https) m.https->stop();
      return tl::unexpected(admin.error());
    }
    m.admin = std::move(*admin);
  }
  if (auto r = m.in->start(); !r) {
    if (m.imap) m.imap->shutdown();
    if (m.https) m.https->stop();
    if (m.admin) m.admin->stop();
    return r;
  }
  if (m.imap) {
    m.imap->start();
    m.guard.emplace(m.imap_io.get_executor());
    m.imap_thread = std::thread([&m] {
      name_this_thread("mk-imap-io");
      m.imap_io.run();
    });
  }
  m.started = true;
  log(log_level::notice, "mailkitd", "started as " + m.cfg.hostname);
  return {};
}

void mail_server::stop(std::chrono::milliseconds grace) {
  impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  if (m.admin) m.admin->stop();
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
  if (auto r = tls->reload(); !r) return r;
  // The HTTPS listener's hosts hold the certificate too: new connections get the new one,
  // open ones keep theirs (http::server::replace_hosts).
  if (impl_->https) {
    auto hosts = https_hosts(impl_->cfg, tls->current());
    if (!hosts) return tl::unexpected(hosts.error());
    if (auto r = impl_->https->replace_hosts(std::move(*hosts)); !r) return r;
  }
  return {};
}

std::shared_ptr<queue::remote_transport> mail_server::outbound() const {
  return impl_->current_outbound();
}

expected<std::vector<std::string>> mail_server::reload(mail_server_config next) {
  impl& m = *impl_;
  std::vector<std::string> notes;
  auto kept = [&](bool changed, const char* what) {
    if (changed)
      notes.push_back(std::string(what) + " changed: the old value is kept until a restart");
  };
  // Domains: created now (existing ones and their mail are never removed by a reload).
  auto known = m.in->store().domains();
  if (!known) return tl::unexpected(known.error());
  for (const auto& d : next.domains) {
    if (std::find(known->begin(), known->end(), d) != known->end()) continue;
    if (auto r = m.in->store().add_domain(d); !r) return tl::unexpected(r.error());
    notes.push_back("domain " + d + " created");
  }
  // Outbound: relays, routes, quotas and DKIM keys, as mailkitd rebuilt them from the file.
  if (next.outbound != m.current_outbound()) {
    auto& q = m.in->mail_queue();
    q.set_remote(next.outbound);
    if (next.outbound) attach_outbound(next.outbound, q.shared_from_this());
    {
      std::lock_guard lock(m.outbound_mu);
      m.outbound = next.outbound;
    }
    m.cfg.outbound = next.outbound;
    q.flush(); // deferred mail gets the new routes now
    notes.push_back(next.outbound ? "outbound transport rebuilt (relays, routes, DKIM keys)"
                                  : "outbound transport removed: remote mail stays queued");
  }
  // What the HTTPS listener publishes: MTA-STS policies and autoconfig of every domain.
  const bool published_changed =
      next.domains != m.cfg.domains || next.mta_sts_mode != m.cfg.mta_sts_mode ||
      next.mta_sts_mx != m.cfg.mta_sts_mx || next.mta_sts_max_age != m.cfg.mta_sts_max_age ||
      next.autoconfig != m.cfg.autoconfig;
  if (published_changed) {
    mail_server_config candidate = m.cfg;
    candidate.domains = next.domains;
    candidate.mta_sts_mode = next.mta_sts_mode;
    candidate.mta_sts_mx = next.mta_sts_mx;
    candidate.mta_sts_max_age = next.mta_sts_max_age;
    candidate.autoconfig = next.autoconfig;
    if (m.https) {
      auto tls = m.in->service().options().tls;
      auto hosts = https_hosts(candidate, tls ? tls->current() : nullptr);
      if (!hosts) return tl::unexpected(hosts.error());
      if (auto r = m.https->replace_hosts(std::move(*hosts)); !r) return tl::unexpected(r.error());
    }
    m.cfg = std::move(candidate);
    notes.push_back("domains and MTA-STS policy republished (mode " + m.cfg.mta_sts_mode + ")");
  }
  auto same_smtp = [](const auto& a, const auto& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i].address != b[i].address || a[i].port != b[i].port || a[i].mode != b[i].mode)
        return false;
    return true;
  };
  auto same_imap = [](const auto& a, const auto& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i].address != b[i].address || a[i].port != b[i].port ||
          a[i].implicit_tls != b[i].implicit_tls)
        return false;
    return true;
  };
  const auto& c = m.cfg;
  kept(next.hostname != c.hostname, "hostname");
  kept(next.data_dir != c.data_dir, "data_dir");
  kept(!same_smtp(next.smtp, c.smtp), "SMTP listeners");
  kept(!same_imap(next.imap, c.imap), "IMAP listeners");
  kept(next.https_address != c.https_address || next.https_port != c.https_port, "HTTPS listener");
  kept(next.admin_address != c.admin_address || next.admin_port != c.admin_port ||
           next.admin_token_file != c.admin_token_file,
       "admin listener");
  kept(next.tls_cert != c.tls_cert || next.tls_key != c.tls_key,
       "certificate paths (the files at the old paths are reloaded)");
  kept(next.dns_servers != c.dns_servers, "DNS servers");
  kept(next.max_message_size != c.max_message_size || next.min_free_space != c.min_free_space ||
           next.max_smtp_connections != c.max_smtp_connections ||
           next.max_smtp_connections_per_ip != c.max_smtp_connections_per_ip ||
           next.reject_spf_fail != c.reject_spf_fail || next.restrict_sender != c.restrict_sender,
       "SMTP limits or policy");
  kept(next.max_imap_connections_per_user != c.max_imap_connections_per_user ||
           next.imap_idle_timeout != c.imap_idle_timeout,
       "IMAP limits");
  return notes;
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
  if (m.admin) {
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(m.cfg.admin_address, ec);
    if (!ec) out.push_back({"admin", {addr, m.admin->port()}});
  }
  return out;
}

store::mail_store& mail_server::store() noexcept {
  return impl_->in->store();
}

queue::queue& mail_server::mail_queue() noexcept {
  return impl_->in->mail_queue();
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
  s.smtp_refused = ss.refused_limits;
  const auto ps = m.in->policy().stats();
  s.smtp_auth_failures = ps.auth_failures;
  s.smtp_refused_space = ps.refused_for_space;
  s.smtp_end_of_data = ps.end_of_data;
  if (m.imap) {
    const auto is = m.imap->stats();
    s.imap_accepted = is.accepted;
    s.imap_active = is.active;
    s.imap_login_failures = is.login_failures;
    s.imap_refused = is.refused_limits + is.refused_user_limit;
  }
  const auto qs = m.in->mail_queue().stats();
  s.queue_messages = qs.messages;
  s.delivered = qs.delivered;
  // Local mail committed into the store before the 250 never passes through the queue.
  if (auto* d = m.in->direct()) s.delivered_direct = d->stats().delivered;
  s.delivered += s.delivered_direct;
  s.queue_bytes = qs.bytes;
  s.queue_held = qs.held;
  s.dsns = qs.dsns;
  s.deferred = qs.deferred;
  s.bounced = qs.bounced;
  return s;
}

const mail_server_config& mail_server::config() const noexcept {
  return impl_->cfg;
}

} // namespace mailkit::server
