// SPDX-License-Identifier: Apache-2.0
/// @file outbound_factory.hpp
/// Build the outbound side of mail_server (relay::transport inside server::outbound) without
/// including the SMTP client headers: the SMTP client and server headers cannot meet in one
/// translation unit (both define smtp::envelope, recipient, credentials, session_timeouts), so
/// a program that configures a relay and runs a mail_server does each in its own file.
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/dns/resolver.hpp>
#include <mailkit/queue/queue.hpp>

#include <memory>
#include <string>

namespace mailkit::relay {
struct config;
}

namespace mailkit::server {

/// relay::transport::create(cfg) wrapped in a server::outbound (quota holds, approved senders).
/// helo_name "localhost" becomes `hostname`; an empty quota_db becomes <data_dir>/relay-quota.db
/// and an empty MTA-STS cache <data_dir>/mta-sts-cache.db.
/// `resolver` (for direct MX delivery; may be null when every route is a relay) must outlive
/// the result: give the same resolver to mail_server_config::resolver, which keeps it.
/// With a resolver and a `report_domain`, the daily TLS-RPT reports of direct delivery
/// (RFC 8460) are sent from tlsrpt-noreply@<report_domain> once per UTC day, through the
/// transport (checked every 5 minutes on a thread that ends with the result).
[[nodiscard]] expected<std::shared_ptr<queue::remote_transport>>
make_outbound(const relay::config& cfg, const std::string& hostname, const std::string& data_dir,
              dns::resolver* resolver, const std::string& report_domain = {});

} // namespace mailkit::server
