// SPDX-License-Identifier: Apache-2.0
// make_outbound() (outbound_factory.hpp): relay::transport + server::outbound.
#include <mailkit/server/outbound.hpp>
#include <mailkit/server/outbound_factory.hpp>

namespace mailkit::server {

expected<std::shared_ptr<queue::remote_transport>> make_outbound(const relay::config& cfg,
                                                                 const std::string& hostname,
                                                                 const std::string& data_dir,
                                                                 dns::resolver* resolver) {
  relay::config c = cfg;
  if (c.helo_name.empty() || c.helo_name == "localhost") c.helo_name = hostname;
  if (c.quota_db.empty()) c.quota_db = data_dir + "/relay-quota.db";
  // RFC 8461 §5.1: MTA-STS policies are cached across restarts.
  if (c.direct.mta_sts_cache.empty()) c.direct.mta_sts_cache = data_dir + "/mta-sts-cache.db";
  auto t = relay::transport::create(std::move(c), resolver);
  if (!t) return tl::unexpected(t.error());
  // server::inbound finds the outbound behind this pointer (approved senders, quota holds).
  return std::shared_ptr<queue::remote_transport>(
      std::make_shared<outbound>(std::shared_ptr<relay::transport>(std::move(*t))));
}

} // namespace mailkit::server
