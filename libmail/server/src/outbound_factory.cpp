// SPDX-License-Identifier: Apache-2.0
// make_outbound() (outbound_factory.hpp): relay::transport + server::outbound, and the daily
// TLS-RPT reports of direct delivery.
#include <mailkit/core/log.hpp>
#include <mailkit/core/thread_name.hpp>
#include <mailkit/relay/tls_report.hpp>
#include <mailkit/server/outbound.hpp>
#include <mailkit/server/outbound_factory.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace mailkit::server {

namespace {

// Owns the outbound and a thread that offers the TLS-RPT scheduler a tick every few minutes
// (RFC 8460 §4.1: one report per UTC day, sent after midnight). Destroyed with the last
// reference to the outbound.
struct outbound_holder {
  std::shared_ptr<outbound> out;
  std::unique_ptr<relay::tls_report_scheduler> scheduler;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread ticker;

  ~outbound_holder() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (ticker.joinable()) ticker.join();
  }

  void run(std::chrono::seconds every) {
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      lock.unlock();
      for (const auto& d : scheduler->tick(std::chrono::system_clock::now()))
        log(d.sent ? log_level::info : log_level::warning, "tlsrpt",
            d.policy_domain + ": report " + d.report_id + " to " + d.rua +
                (d.sent ? ": sent" : ": not sent: " + d.detail));
      lock.lock();
      cv.wait_for(lock, every, [this] { return stop; });
    }
  }
};

} // namespace

expected<std::shared_ptr<queue::remote_transport>>
make_outbound(const relay::config& cfg, const std::string& hostname, const std::string& data_dir,
              dns::resolver* resolver, const std::string& report_domain) {
  relay::config c = cfg;
  if (c.helo_name.empty() || c.helo_name == "localhost") c.helo_name = hostname;
  if (c.quota_db.empty()) c.quota_db = data_dir + "/relay-quota.db";
  // RFC 8461 §5.1: MTA-STS policies are cached across restarts.
  if (c.direct.mta_sts_cache.empty()) c.direct.mta_sts_cache = data_dir + "/mta-sts-cache.db";
  auto t = relay::transport::create(std::move(c), resolver);
  if (!t) return tl::unexpected(t.error());
  auto h = std::make_shared<outbound_holder>();
  h->out = std::make_shared<outbound>(std::shared_ptr<relay::transport>(std::move(*t)));
  if (resolver && !report_domain.empty()) {
    // RFC 8460 §4.4 organization-name and contact-info; §5.3 the submitter and From.
    relay::tls_report_options o;
    o.organization_name = report_domain;
    o.contact_info = "mailto:postmaster@" + report_domain;
    o.submitter = hostname;
    o.from = "tlsrpt-noreply@" + report_domain;
    h->scheduler = std::make_unique<relay::tls_report_scheduler>(h->out->transport(), *resolver, o);
    h->ticker = std::thread([raw = h.get()] {
      name_this_thread("mk-tlsrpt");
      raw->run(std::chrono::minutes(5));
    });
  }
  // server::inbound finds the outbound behind this pointer (approved senders, quota holds);
  // the pointer shares ownership of the holder, which stops the reports when it goes.
  return std::shared_ptr<queue::remote_transport>(h, h->out.get());
}

} // namespace mailkit::server
