// SPDX-License-Identifier: Apache-2.0
// The admin port's routes (admin.hpp): Prometheus metrics, the queue and relay API in JSON.
#include <mailkit/core/log.hpp>
#include <mailkit/server/admin.hpp>
#include <mailkit/server/admin_relay.hpp>
#include <mailkit/server/mail_server.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace mailkit::server {

namespace json = boost::json;

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

admin_response json_reply(unsigned status, const json::value& v) {
  return {status, "application/json", json::serialize(v) + "\n", ""};
}

admin_response error_reply(unsigned status, std::string_view message) {
  return json_reply(status, json::object{{"error", message}});
}

// Queue ids are what make_queue_id() writes (hex, bounded); nothing else reaches the queue.
bool valid_queue_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 &&
         id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

admin_response from_queue_error(const mailkit::error_code& ec) {
  if (ec == make_error_code(queue::errc::not_found)) return error_reply(404, "no such queue id");
  if (ec == make_error_code(queue::errc::busy)) return error_reply(409, ec.message());
  return error_reply(500, ec.message());
}

json::object message_json(const queue::message_status& m, std::int64_t now) {
  json::array rcpts;
  unsigned attempts = 0;
  std::int64_t next = 0;
  std::string last_reply;
  for (std::size_t i = 0; i < m.recipients.size() && i < m.env.recipients.size(); ++i) {
    const auto& st = m.recipients[i];
    const auto& r = m.env.recipients[i];
    rcpts.push_back(json::object{
        {"address", r.address},
        {"route", r.where == queue::route::local ? "local" : "remote"},
        {"state", queue::to_string(st.state)},
        {"attempts", st.attempts},
        {"next_attempt", st.state == queue::recipient_state::deferred ? st.next_attempt : 0},
        {"status", st.status},
        {"last_reply", st.last_reply},
    });
    attempts = std::max(attempts, st.attempts);
    if (st.state == queue::recipient_state::deferred && (next == 0 || st.next_attempt < next))
      next = st.next_attempt;
    if (!st.last_reply.empty()) last_reply = st.last_reply;
  }
  const std::int64_t received = m.env.received / 1000000;
  return json::object{
      {"id", m.env.id},
      {"sender", m.env.reverse_path},
      {"received", received},
      {"age", std::max<std::int64_t>(0, now - received)},
      {"size", m.size},
      {"held", m.held},
      {"delivering", m.delivering},
      {"bounce", m.env.bounce},
      {"attempts", attempts},
      {"next_attempt", m.held ? 0 : next},
      {"last_reply", last_reply},
      {"recipients", std::move(rcpts)},
  };
}

json::object relay_json(const relay_status& r, std::int64_t now) {
  return json::object{
      {"name", r.name},
      {"preset", r.preset},
      {"host", r.host},
      {"used", r.used_today},
      {"limit", r.per_day},
      {"used_minute", r.used_minute},
      {"limit_minute", r.per_minute},
      {"counting", r.counting},
      {"window", r.window},
      {"reset_offset_minutes", r.reset_offset_minutes},
      {"reset", r.window_reset},
      {"held", r.held_until > now},
      {"held_until", r.held_until},
      {"held_reason", r.held_reason},
  };
}

// ---- Prometheus text format 0.0.4 -------------------------------------------------------

std::string label_value(std::string_view v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      o += '\\';
      o += c;
    } else if (c == '\n') {
      o += "\\n";
    } else {
      o += c;
    }
  }
  return o;
}

// The shortest text that reads back as `v` (bucket bounds print as 0.005, not 0.00500...01).
std::string number(double v) {
  char b[64];
  const auto r = std::to_chars(b, b + sizeof b, v);
  return std::string(b, r.ptr);
}

class exposition {
public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, double v) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += number(v);
    out_ += '\n';
  }
  void one(std::string_view name, std::string_view type, std::string_view help, double v) {
    family(name, type, help);
    sample(name, "", v);
  }
  void histogram(std::string_view name, std::string_view help, const queue::latency_histogram& h) {
    family(name, "histogram", help);
    std::uint64_t cumulative = 0;
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += h.counts[i];
      sample(bucket, "le=\"" + number(h.bounds[i]) + "\"", static_cast<double>(cumulative));
    }
    sample(bucket, "le=\"+Inf\"", static_cast<double>(h.count));
    sample(std::string(name) + "_sum", "", h.sum);
    sample(std::string(name) + "_count", "", static_cast<double>(h.count));
  }
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

} // namespace

std::string render_metrics(mail_server& srv) {
  const auto s = srv.stats();
  const auto qs = srv.mail_queue().stats();
  const auto d = [](auto v) { return static_cast<double>(v); };
  exposition e;
  e.one("mailkit_smtp_connections_total", "counter", "SMTP connections given a session.",
        d(s.smtp_accepted));
  e.one("mailkit_smtp_connections_active", "gauge", "SMTP sessions open now.", d(s.smtp_active));
  e.one("mailkit_smtp_connections_refused_total", "counter",
        "SMTP connections refused by the connection limits.", d(s.smtp_refused));
  e.one("mailkit_smtp_messages_accepted_total", "counter",
        "Messages answered 2xx at the end of the data.", d(s.smtp_messages));
  e.one("mailkit_imap_connections_total", "counter", "IMAP connections given a session.",
        d(s.imap_accepted));
  e.one("mailkit_imap_connections_active", "gauge", "IMAP sessions open now.", d(s.imap_active));
  e.one("mailkit_imap_connections_refused_total", "counter",
        "IMAP connections refused by the connection limits.", d(s.imap_refused));
  e.one("mailkit_smtp_refused_storage_total", "counter",
        "MAIL commands refused with 452 4.3.1 because the disk was short of space.",
        d(s.smtp_refused_space));
  e.family("mailkit_auth_failures_total", "counter", "Failed logins, by service.");
  e.sample("mailkit_auth_failures_total", "service=\"imap\"", d(s.imap_login_failures));
  e.sample("mailkit_auth_failures_total", "service=\"smtp\"", d(s.smtp_auth_failures));
  e.one("mailkit_messages_delivered_total", "counter",
        "Recipients delivered (locally or to the next hop).", d(s.delivered));
  e.one("mailkit_messages_delivered_direct_total", "counter",
        "Of those, local recipients committed into the store before the 250.",
        d(s.delivered_direct));
  e.one("mailkit_messages_deferred_total", "counter",
        "Delivery attempts that failed transiently or were held by a relay quota.", d(s.deferred));
  e.one("mailkit_messages_bounced_total", "counter", "Recipients that failed permanently.",
        d(s.bounced));
  e.one("mailkit_dsn_generated_total", "counter", "Delivery status notifications queued.",
        d(s.dsns));
  e.one("mailkit_queue_accepted_total", "counter", "Messages committed to the queue.",
        d(qs.accepted));
  e.one("mailkit_queue_removed_total", "counter", "Messages deleted by an operator.",
        d(qs.removed));
  e.one("mailkit_queue_messages", "gauge", "Messages in the queue.", d(qs.messages));
  e.one("mailkit_queue_bytes", "gauge", "Octets of the messages in the queue.", d(qs.bytes));
  e.one("mailkit_queue_held_messages", "gauge", "Messages on hold by an operator.", d(qs.held));
  const auto ws = srv.store().write_counters();
  e.one("mailkit_store_writes_total", "counter",
        "Message writes the store committed (deliveries, appends, flag changes, expunges, "
        "copies, moves).",
        d(ws.writes));
  e.one("mailkit_store_commits_total", "counter",
        "Store commits, one WAL flush each: concurrent writes share one (group commit).",
        d(ws.commits));
  e.histogram("mailkit_smtp_end_of_data_seconds",
              "End of the data to the 250 of each accepted message: the DKIM/DMARC checks and "
              "the durable write (queue or store).",
              s.smtp_end_of_data);
  e.histogram("mailkit_queue_acceptance_seconds",
              "Queue part of an SMTP acceptance: message fsync, directory fsync, commit.",
              qs.acceptance);
  e.histogram("mailkit_delivery_seconds",
              "Acceptance to delivery of each recipient delivered from the queue.", qs.delivery);

  const auto relays = relay_statuses(srv.outbound().get());
  const std::int64_t now = now_seconds();
  if (!relays.empty()) {
    e.family("mailkit_relay_quota_used", "gauge", "Quota units used in the current window.");
    for (const auto& r : relays)
      e.sample("mailkit_relay_quota_used", "relay=\"" + label_value(r.name) + "\"",
               d(r.used_today));
    e.family("mailkit_relay_quota_limit", "gauge", "The daily quota (0: none).");
    for (const auto& r : relays)
      e.sample("mailkit_relay_quota_limit", "relay=\"" + label_value(r.name) + "\"", d(r.per_day));
    e.family("mailkit_relay_quota_reset_timestamp_seconds", "gauge",
             "When the quota window resets (Unix time).");
    for (const auto& r : relays)
      e.sample("mailkit_relay_quota_reset_timestamp_seconds",
               "relay=\"" + label_value(r.name) + "\"", d(r.window_reset));
    e.family("mailkit_relay_held", "gauge", "1 while the provider's quota reply holds the relay.");
    for (const auto& r : relays)
      e.sample("mailkit_relay_held", "relay=\"" + label_value(r.name) + "\"",
               r.held_until > now ? 1 : 0);
  }
  return e.take();
}

admin_response handle_admin_request(mail_server& srv, const admin_request& req) {
  const bool read = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/metrics") {
    if (!read) return {405, "application/json", "{\"error\":\"GET only\"}\n", "GET, HEAD"};
    return {200, "text/plain; version=0.0.4; charset=utf-8", render_metrics(srv), ""};
  }
  if (req.path.rfind("/api/", 0) != 0) return error_reply(404, "no such endpoint");
  // RFC 6750 §3.1: a request without a valid token is refused before anything else.
  if (!req.authorized) return error_reply(401, "a valid bearer token is required");
  auto& q = srv.mail_queue();
  const std::int64_t now = now_seconds();

  if (req.path == "/api/queue") {
    if (!read) return {405, "application/json", "{\"error\":\"GET only\"}\n", "GET, HEAD"};
    json::array msgs;
    const auto list = q.list(100000);
    for (const auto& m : list)
      msgs.push_back(message_json(m, now));
    const auto qs = q.stats();
    return json_reply(200, json::object{{"messages", std::move(msgs)},
                                        {"count", qs.messages},
                                        {"bytes", qs.bytes},
                                        {"held", qs.held}});
  }
  if (req.path == "/api/relay") {
    if (!read) return {405, "application/json", "{\"error\":\"GET only\"}\n", "GET, HEAD"};
    json::array relays;
    for (const auto& r : relay_statuses(srv.outbound().get()))
      relays.push_back(relay_json(r, now));
    return json_reply(
        200, json::object{{"relays", std::move(relays)}, {"outbound", srv.outbound() != nullptr}});
  }
  // Every other endpoint changes something: POST only (a GET from a browser must not).
  if (req.path == "/api/queue/flush") {
    if (req.method != "POST")
      return {405, "application/json", "{\"error\":\"POST only\"}\n", "POST"};
    q.flush();
    log(log_level::notice, "admin", "queue flush requested");
    return json_reply(200, json::object{{"flushed", true}, {"messages", q.stats().messages}});
  }
  constexpr std::string_view prefix = "/api/queue/";
  if (req.path.rfind(prefix, 0) == 0) {
    const std::string_view rest = std::string_view(req.path).substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return error_reply(404, "no such endpoint");
    const std::string_view id = rest.substr(0, slash);
    const std::string_view action = rest.substr(slash + 1);
    if (action != "hold" && action != "release" && action != "delete")
      return error_reply(404, "no such endpoint");
    if (req.method != "POST")
      return {405, "application/json", "{\"error\":\"POST only\"}\n", "POST"};
    if (!valid_queue_id(id)) return error_reply(400, "not a queue id");
    expected<void> r;
    if (action == "hold")
      r = q.hold(id);
    else if (action == "release")
      r = q.release(id);
    else
      r = q.remove(id, req.query == "notify=1" || req.query == "notify=true");
    if (!r) return from_queue_error(r.error());
    return json_reply(200, json::object{{"id", id}, {"action", action}, {"ok", true}});
  }
  return error_reply(404, "no such endpoint");
}

} // namespace mailkit::server
