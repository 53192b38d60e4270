// SPDX-License-Identifier: Apache-2.0
/// @file outbound_hooks.hpp
/// What server::inbound needs of server::outbound without including the relay's headers (the
/// SMTP client's types, which share names with the SMTP server's): the approved-sender check as
/// a policy hook, and attaching the adapter to the queue.
#pragma once

#include <mailkit/queue/queue.hpp>
#include <mailkit/smtp/reply.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mailkit::server {

/// policy_config::approve_sender for a remote transport: when it is a server::outbound, its
/// check_sender() on the envelope sender and (when `message` is given) the message's header
/// From addresses; otherwise an empty function (no check).
[[nodiscard]] std::function<
    std::optional<smtp::reply>(std::string_view envelope_from, std::string_view message,
                               std::span<const std::string> remote_recipients)>
sender_approval(const std::shared_ptr<queue::remote_transport>& remote);

/// outbound::attach(q) when `remote` is a server::outbound; nothing otherwise.
void attach_outbound(const std::shared_ptr<queue::remote_transport>& remote,
                     const std::shared_ptr<queue::queue>& q);

} // namespace mailkit::server
