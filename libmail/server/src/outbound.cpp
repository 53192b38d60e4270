// SPDX-License-Identifier: Apache-2.0
// server::outbound (outbound.hpp): the queue's remote transport over relay::transport.
#include <mailkit/core/thread_name.hpp>
#include <mailkit/server/outbound.hpp>
#include <mailkit/server/outbound_hooks.hpp>

#include <mailkit/core/log.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <utility>

namespace mailkit::server {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string fmt_reply(const smtp::reply& r) {
  std::string s = std::to_string(r.code);
  if (r.enhanced) s += " " + r.enhanced->to_string();
  if (std::string t = r.text(); !t.empty()) s += " " + t;
  return s;
}

relay::outbound_recipient to_outbound_recipient(const queue::recipient& r) {
  relay::outbound_recipient o;
  o.address = r.address;
  // RFC 3461 §4.1: NOTIFY passed on as given (the queue keeps it as bits).
  if (r.notify & queue::notify::never) {
    o.notify = "NEVER";
  } else {
    auto add = [&](const char* k) { o.notify += (o.notify.empty() ? "" : ",") + std::string(k); };
    if (r.notify & queue::notify::success) add("SUCCESS");
    if (r.notify & queue::notify::failure) add("FAILURE");
    if (r.notify & queue::notify::delay) add("DELAY");
  }
  // RFC 3461 §4.2: the queue keeps ORCPT as "addr-type;address"; the relay module takes the
  // address (sent as rfc822).
  if (const auto semi = r.orcpt.find(';'); semi != std::string::npos)
    o.orcpt = r.orcpt.substr(semi + 1);
  return o;
}

} // namespace

relay::priority priority_of(std::string_view m) {
  std::size_t pos = 0;
  while (pos < m.size()) {
    const std::size_t eol = m.find('\n', pos);
    const std::size_t end = eol == std::string_view::npos ? m.size() : eol + 1;
    std::string_view line = m.substr(pos, end - pos);
    pos = end;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.empty()) break; // RFC 5322 §2.1: the header section ends at the empty line
    if (line.front() == ' ' || line.front() == '\t') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    // RFC 2369 / RFC 2919: list mail carries List-* fields.
    if (iequals(name, "List-Id") || iequals(name, "List-Unsubscribe")) return relay::priority::bulk;
    // RFC 2076 §3.9: Precedence: bulk, list or junk (non-standard but universal).
    if (iequals(name, "Precedence") &&
        (iequals(value, "bulk") || iequals(value, "list") || iequals(value, "junk")))
      return relay::priority::bulk;
  }
  return relay::priority::interactive;
}

queue::delivery_result to_delivery_result(const relay::recipient_outcome& o) {
  using st = queue::delivery_result::status;
  queue::delivery_result r;
  r.remote_mta = o.remote_mta;
  r.reply = fmt_reply(o.reply);
  if (o.reply.enhanced) r.enhanced = o.reply.enhanced->to_string();
  switch (o.status) {
  case relay::outcome_status::delivered:
    r.outcome = st::delivered;
    if (!o.reply.enhanced) r.enhanced = "2.0.0";
    break;
  case relay::outcome_status::permanent:
    r.outcome = st::permanent;
    // RFC 3463 §3.1: a permanent failure carries a 5.x.x status.
    if (!o.reply.enhanced || r.enhanced.front() != '5') r.enhanced = "5.0.0";
    break;
  case relay::outcome_status::transient:
    r.outcome = st::transient;
    if (!o.reply.enhanced || r.enhanced.front() != '4') r.enhanced = "4.0.0";
    break;
  case relay::outcome_status::held:
    // A quota hold is not a failure whatever the provider's code was (a 5xx quota reply is not
    // a reason to bounce): the queue keeps the recipient until the hold ends, without counting
    // an attempt. RFC 3463 4.3.1 (resources exhausted) for the logs.
    r.outcome = o.held_until ? st::held : st::transient;
    r.enhanced = "4.3.1";
    if (o.held_until)
      r.hold_until =
          std::chrono::duration_cast<std::chrono::seconds>(o.held_until->time_since_epoch())
              .count();
    break;
  }
  return r;
}

outbound::outbound(std::shared_ptr<relay::transport> transport, outbound_options opts)
    : transport_(std::move(transport)), opts_(std::move(opts)) {}

outbound::~outbound() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (releaser_.joinable()) releaser_.join();
}

void outbound::attach(std::weak_ptr<queue::queue> q) {
  std::lock_guard lock(mu_);
  queue_ = std::move(q);
  if (!releaser_.joinable())
    releaser_ = std::thread([this] {
      name_this_thread("mk-out-release");
      release_loop();
    });
}

std::optional<relay::time_point> outbound::next_release() const {
  std::lock_guard lock(mu_);
  if (holds_.empty()) return std::nullopt;
  return holds_.front();
}

void outbound::note_hold(relay::time_point until) {
  // When to wake the queue: after the hold ends, and never before the pass that reports the
  // hold has committed (release_delay from now), whatever the clock the hold was computed on.
  until = std::max(until, std::chrono::system_clock::now()) + opts_.release_delay;
  {
    std::lock_guard lock(mu_);
    auto it = std::lower_bound(holds_.begin(), holds_.end(), until);
    if (it != holds_.end() && *it == until) return;
    holds_.insert(it, until);
  }
  cv_.notify_all();
}

void outbound::release_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (holds_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const relay::time_point t = holds_.front();
    if (cv_.wait_until(lock, t) != std::cv_status::timeout) continue;
    if (stop_) break;
    const auto now = std::chrono::system_clock::now();
    while (!holds_.empty() && holds_.front() <= now)
      holds_.erase(holds_.begin());
    auto q = queue_.lock();
    lock.unlock();
    if (q) {
      log(log_level::info, "outbound", "a relay quota hold ended: retrying held mail now");
      q->flush();
    }
    lock.lock();
  }
}

bool outbound::keep_local(const queue::envelope& env, std::string_view recipient) const {
  if (!env.reverse_path.empty() || !opts_.local) return false;
  const std::string route = transport_->route_for(env.reverse_path, recipient);
  if (route == "direct") return false;
  const relay::preset* p = transport_->relay_preset(route);
  if (!p || !p->refuses_null_sender) return false;
  if (opts_.null_sender == null_sender_policy::keep_local) return true;
  // via_relay: only when the relay has no approved address to send DSNs from.
  return !transport_->check_sender("", {}, recipient).allowed;
}

void outbound::deliver(std::span<queue::delivery_item> items) {
  // Items of one message share its envelope: they become one relay::outbound_message.
  std::map<const queue::envelope*, std::vector<std::size_t>> by_message;
  std::vector<std::size_t> local_idx;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (keep_local(*items[i].env, items[i].rcpt->address))
      local_idx.push_back(i);
    else
      by_message[items[i].env].push_back(i);
  }

  // One relay::transport::deliver() call for the whole batch: messages to the same relay share
  // a connection.
  std::vector<relay::outbound_message> msgs;
  std::vector<const std::vector<std::size_t>*> groups;
  msgs.reserve(by_message.size());
  std::deque<std::string> joined; // stays put while msgs refer to it
  for (const auto& [env, idx] : by_message) {
    relay::outbound_message m;
    m.queue_id = std::string(items[idx.front()].queue_id);
    m.reverse_path = env->reverse_path;
    // RFC 3461 §4.3 / §4.4: RET and ENVID are passed on to the next hop.
    if (env->ret == queue::ret_type::full)
      m.ret = "FULL";
    else if (env->ret == queue::ret_type::hdrs)
      m.ret = "HDRS";
    m.envid = env->envid;
    const auto& first = items[idx.front()];
    if (first.trace.empty()) {
      m.data = first.message;
    } else {
      // Trace fields handed apart (delivery_item::trace): the relay sends one message.
      m.data = joined.emplace_back(first.trace).append(first.message);
    }
    m.prio = priority_of(m.data);
    for (const std::size_t i : idx)
      m.recipients.push_back(to_outbound_recipient(*items[i].rcpt));
    msgs.push_back(std::move(m));
    groups.push_back(&idx);
  }
  // Interactive mail first: when a relay's quota runs short inside a batch, submissions get it
  // before bulk and list mail (the quota tracker also keeps a share of the day for them).
  std::vector<std::size_t> order(msgs.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return msgs[a].prio == relay::priority::interactive &&
           msgs[b].prio != relay::priority::interactive;
  });
  std::vector<relay::outbound_message> sorted;
  sorted.reserve(msgs.size());
  for (const std::size_t i : order)
    sorted.push_back(std::move(msgs[i]));
  const std::vector<std::vector<relay::recipient_outcome>> sorted_outs =
      sorted.empty() ? std::vector<std::vector<relay::recipient_outcome>>()
                     : transport_->deliver(std::span<const relay::outbound_message>(sorted));
  std::vector<std::vector<relay::recipient_outcome>> outs(msgs.size());
  for (std::size_t k = 0; k < order.size() && k < sorted_outs.size(); ++k)
    outs[order[k]] = sorted_outs[k];
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::vector<std::size_t>& idx = *groups[g];
    for (std::size_t k = 0; k < idx.size(); ++k) {
      auto& item = items[idx[k]];
      if (g >= outs.size() || k >= outs[g].size()) {
        item.result = {queue::delivery_result::status::transient, "4.3.0",
                       "the relay module gave no outcome for this recipient", ""};
        continue;
      }
      const relay::recipient_outcome& o = outs[g][k];
      item.result = to_delivery_result(o);
      if (o.status == relay::outcome_status::held && o.held_until) note_hold(*o.held_until);
    }
  }

  if (!local_idx.empty()) {
    // RFC 5321 §4.5.5 / RFC 3461 §6.2: a DSN that cannot leave is not bounced (that would
    // loop); it goes to the local postmaster, who sees every undeliverable notification.
    queue::recipient pm;
    pm.where = queue::route::local;
    pm.address = opts_.postmaster;
    pm.notify = queue::notify::never;
    std::vector<queue::delivery_item> local(local_idx.size());
    for (std::size_t k = 0; k < local_idx.size(); ++k) {
      local[k] = items[local_idx[k]];
      local[k].rcpt = &pm;
      local[k].result = {};
    }
    opts_.local->deliver(local);
    for (std::size_t k = 0; k < local_idx.size(); ++k) {
      auto& item = items[local_idx[k]];
      item.result = local[k].result;
      item.result.reply = "kept local for " + opts_.postmaster +
                          " (the relay refuses the null sender): " + item.result.reply;
      log(log_level::notice, "outbound",
          std::string(item.queue_id) + ": DSN to <" + item.rcpt->address +
              "> kept local: its relay refuses the null sender");
    }
  }
}

relay::sender_verdict outbound::check_sender(std::string_view envelope_from,
                                             std::span<const std::string> header_from,
                                             std::span<const std::string> recipients) const {
  for (const auto& r : recipients) {
    auto v = transport_->check_sender(envelope_from, header_from, r);
    if (!v.allowed) return v;
  }
  return {};
}

std::function<std::optional<smtp::reply>(std::string_view, std::string_view,
                                         std::span<const std::string>)>
sender_approval(const std::shared_ptr<queue::remote_transport>& remote) {
  auto out = std::dynamic_pointer_cast<outbound>(remote);
  if (!out) return {};
  std::weak_ptr<outbound> weak = out;
  return [weak](std::string_view from, std::string_view message,
                std::span<const std::string> rcpts) -> std::optional<smtp::reply> {
    auto o = weak.lock();
    if (!o) return std::nullopt;
    std::vector<std::string> froms;
    if (!message.empty()) froms = relay::header_from_addresses(message);
    auto v = o->check_sender(from, froms, rcpts);
    if (v.allowed) return std::nullopt;
    return v.reply;
  };
}

void attach_outbound(const std::shared_ptr<queue::remote_transport>& remote,
                     const std::shared_ptr<queue::queue>& q) {
  if (auto out = std::dynamic_pointer_cast<outbound>(remote)) out->attach(q);
}

} // namespace mailkit::server
