// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/log.hpp>
#include <mailkit/core/thread_name.hpp>
#include <mailkit/dkim/auth_results.hpp>
#include <mailkit/dmarc/authenticate.hpp>
#include <mailkit/mime/date.hpp>
#include <mailkit/server/inbound_policy.hpp>
#include <mailkit/spf/check_host.hpp>

#include <sys/statvfs.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>

namespace mailkit::server {
namespace {

namespace asio = boost::asio;
using smtp::decision;
using smtp::make_reply;

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

bool iequals(std::string_view a, std::string_view b) {
  return lower(a) == lower(b);
}

// Pieces of the peer's text that go into our Received field: no controls, bounded.
std::string clean(std::string_view s, std::size_t max = 255) {
  std::string o;
  for (unsigned char c : s) {
    if (o.size() >= max) break;
    o.push_back(c < 0x21 || c == 0x7f || c == '(' || c == ')' || c == ';' ? '_'
                                                                          : static_cast<char>(c));
  }
  return o;
}

class queue_sink final : public smtp::message_sink {
public:
  explicit queue_sink(std::unique_ptr<queue::message_writer> w) : w_(std::move(w)) {}
  expected<void> write(std::string_view chunk) override { return w_->write(chunk); }
  expected<void> finish() override { return {}; }
  void abort() noexcept override {
    if (w_) w_->abort();
  }
  std::unique_ptr<queue::message_writer>& writer() { return w_; }

private:
  std::unique_ptr<queue::message_writer> w_;
};

struct session_state {
  std::optional<spf::result> spf;
  /// RCPT address (as given) -> the queue recipients it expands to.
  std::map<std::string, std::vector<queue::recipient>> expansions;
};

} // namespace

struct inbound_policy::impl : std::enable_shared_from_this<impl> {
  policy_config cfg;
  std::shared_ptr<store::mail_store> store;
  std::shared_ptr<queue::queue> q;
  std::shared_ptr<dns::resolver> resolver;
  asio::thread_pool pool;
  std::mutex mu;
  std::map<std::uint64_t, session_state> sessions;
  std::shared_ptr<inbound_direct> direct; ///< set before the service starts
  /// The counters, apart from impl: the end-of-data handler that records a latency may be the
  /// last thing to let go of it, on a queue thread, and must not take impl (its pool, its
  /// queue) down there.
  struct counter_box {
    std::mutex mu;
    policy_stats counters; ///< guarded by mu
  };
  std::shared_ptr<counter_box> stats = std::make_shared<counter_box>();

  impl(policy_config c, std::shared_ptr<store::mail_store> s, std::shared_ptr<queue::queue> qu,
       std::shared_ptr<dns::resolver> r)
      : cfg(std::move(c)), store(std::move(s)), q(std::move(qu)), resolver(std::move(r)),
        pool(std::max(1u, cfg.threads)) {}

  const clock& clk() const { return cfg.clk ? *cfg.clk : default_clock(); }

  /// 452 4.3.1 when a watched file system has less than min_free_space free, plus twice the
  /// declared size (RFC 1870 §6.1: "452 insufficient system storage" for a message the server
  /// cannot take now, before the client sends it). A statvfs per MAIL: a few microseconds.
  std::optional<smtp::reply> short_of_space(std::uint64_t declared) {
    if (cfg.min_free_space == 0) return std::nullopt;
    const std::uint64_t twice = declared > (UINT64_MAX / 4) ? UINT64_MAX / 2 : 2 * declared;
    const std::uint64_t need =
        cfg.min_free_space > UINT64_MAX - twice ? UINT64_MAX : cfg.min_free_space + twice;
    for (const auto& path : cfg.space_paths) {
      struct statvfs st {};
      if (::statvfs(path.c_str(), &st) != 0) continue; // unknown: the writes will tell
      const auto avail = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
      if (avail >= need) continue;
      const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count();
      auto last = last_space_warning.load();
      if (now - last >= 60 && last_space_warning.compare_exchange_strong(last, now)) // 1/min
        log(log_level::warning, "smtpd",
            "refusing mail: " + std::to_string(avail >> 20) + " MiB free under " + path + ", " +
                std::to_string(need >> 20) + " MiB wanted (min_free_space " +
                std::to_string(cfg.min_free_space >> 20) + " MiB)");
      return make_reply(452, "4.3.1", "insufficient system storage, try again later");
    }
    return std::nullopt;
  }
  std::atomic<std::int64_t> last_space_warning{-60};

  template <class F>
  void run(F f) {
    asio::post(pool, [f = std::move(f)]() mutable {
      name_pool_thread("mk-policy");
      f();
    });
  }

  // Does `address` belong to `user` (the account itself, or an alias resolving to it)?
  bool owns(const std::string& user, const std::string& address) {
    if (iequals(user, address)) return true;
    auto res = store->resolve_recipient(address);
    if (!res || res->outcome != store::resolution::status::local) return false;
    return std::any_of(res->targets.begin(), res->targets.end(), [&](const auto& t) {
      return t.where == store::delivery_target::kind::local && iequals(t.address, user);
    });
  }

  decision rcpt_decision(const smtp::session_info& s, const smtp::envelope& e,
                         const smtp::recipient& r) {
    std::string address = r.address.to_string();
    // RFC 5321 §4.5.1: "Postmaster" without a domain must be accepted.
    if (r.address.domain.empty()) address = "postmaster@" + cfg.hostname;
    auto res = store->resolve_recipient(address);
    if (r.address.domain.empty() && res && res->outcome != store::resolution::status::local) {
      // Our host name is not a mail domain: the first hosted domain's postmaster.
      if (auto ds = store->domains(); ds && !ds->empty()) {
        address = "postmaster@" + ds->front();
        res = store->resolve_recipient(address);
      }
    }
    if (!res) {
      log(log_level::warning, "smtpd", "recipient lookup failed: " + res.error().message());
      return decision::respond(make_reply(451, "4.3.0", "temporary recipient lookup failure"));
    }
    const bool authenticated = !e.authenticated_as.empty();
    std::vector<queue::recipient> out;
    auto base = [&] {
      queue::recipient q;
      q.original = r.address.to_string();
      if (r.orcpt) q.orcpt = r.orcpt->addr_type + ";" + r.orcpt->address;
      if (r.notify) {
        q.notify = static_cast<std::uint8_t>((r.notify->never ? queue::notify::never : 0) |
                                             (r.notify->success ? queue::notify::success : 0) |
                                             (r.notify->failure ? queue::notify::failure : 0) |
                                             (r.notify->delay ? queue::notify::delay : 0));
      }
      return q;
    };
    switch (res->outcome) {
    case store::resolution::status::no_such_user:
      // RFC 3463 5.1.1: bad destination mailbox address.
      return decision::respond(make_reply(550, "5.1.1",
                                          "<" + clean(address) +
                                              ">: recipient address rejected: "
                                              "user unknown"));
    case store::resolution::status::not_local:
      // No open relay (DESIGN.md §5): only authenticated clients may send elsewhere.
      if (!authenticated)
        return decision::respond(
            make_reply(554, "5.7.1", "<" + clean(address) + ">: relay access denied"));
      if (cfg.approve_sender) {
        // The relay this recipient goes through must accept the envelope sender.
        const std::string from = e.reverse_path ? e.reverse_path->to_string() : "";
        const std::string rcpt[] = {address};
        if (auto refusal = cfg.approve_sender(from, {}, rcpt)) return decision::respond(*refusal);
      }
      {
        auto q = base();
        q.where = queue::route::remote;
        q.address = address;
        out.push_back(std::move(q));
      }
      break;
    case store::resolution::status::local:
      for (const auto& t : res->targets) {
        auto q = base();
        q.address = t.address;
        q.tag = t.tag;
        if (t.where == store::delivery_target::kind::local) {
          q.where = queue::route::local;
          // The usage is read only for an account with a quota (the limits come from memory).
          auto limits = store->account_quota(t.address);
          if (limits && (limits->bytes || limits->messages)) {
            if (auto acct = store->account(t.address)) {
              const auto& lim = acct->limit;
              const bool full = (lim.bytes && acct->used_bytes >= lim.bytes) ||
                                (lim.messages && acct->used_messages >= lim.messages);
              const bool too_big = lim.bytes && e.declared_size && *e.declared_size > lim.bytes;
              if (too_big || (full && cfg.over_quota_permanent))
                return decision::respond(
                    make_reply(552, "5.2.2", "<" + clean(address) + ">: mailbox full"));
              if (full)
                return decision::respond(
                    make_reply(452, "4.2.2", "<" + clean(address) + ">: mailbox full"));
            }
          }
        } else {
          q.where = queue::route::remote;
        }
        out.push_back(std::move(q));
      }
      break;
    }
    std::lock_guard lock(mu);
    auto& st = sessions[s.id];
    std::size_t total = out.size();
    for (const auto& [k, v] : st.expansions)
      total += v.size();
    if (total > q->config().limits.max_recipients)
      // RFC 5321 §4.5.3.1.10: too many recipients.
      return decision::respond(make_reply(452, "4.5.3", "too many recipients"));
    st.expansions[r.address.to_string()] = std::move(out);
    return decision::accept();
  }

  void end_of_data(const smtp::session_info& s, const smtp::envelope& e,
                   std::unique_ptr<queue::message_writer> w, smtp::decision_handler done) {
    const bool authenticated = !e.authenticated_as.empty();
    std::string mailbox;
    std::string ar;
    if (cfg.check_dmarc && !authenticated) {
      std::string owned;
      std::string_view msg;
      if (auto m = w->in_memory()) {
        msg = *m;
      } else {
        auto c = w->contents();
        if (!c) {
          done(decision::respond(make_reply(451, "4.3.0", "local error reading the message")));
          return;
        }
        owned = std::move(*c);
        msg = owned;
      }
      // RFC 8601 §5: fields that claim our authserv-id are forgeries; drop them first.
      if (auto stripped = strip_own_authentication_results(msg, cfg.hostname)) {
        auto nw = q->create_message();
        if (auto r = nw->write(*stripped); !r) {
          auto st = queue::reply_for(r.error());
          done(decision::respond(make_reply(st.code, st.status, r.error().message())));
          return;
        }
        w->abort();
        w = std::move(nw);
        owned = std::move(*stripped);
        msg = owned;
      }
      dmarc::authenticate_params p;
      if (auto ip = spf::parse_ip(s.peer_address)) p.ip = *ip;
      p.helo = s.helo;
      p.mail_from = e.reverse_path ? e.reverse_path->to_string() : "";
      p.authserv_id = cfg.hostname;
      p.clk = cfg.clk;
      auto a = dmarc::authenticate(*resolver, msg, p);
      ar = a.header;
      if (a.dmarc.result == dmarc::result::fail) {
        if (a.dmarc.disposition == dmarc::policy::reject && cfg.reject_dmarc) {
          // RFC 7489 §6.6.4 / §10.3: reject during the SMTP transaction.
          w->abort();
          done(decision::respond(
              make_reply(550, "5.7.1",
                         "message rejected by the DMARC policy of " + clean(a.dmarc.from_domain))));
          return;
        }
        if (a.dmarc.disposition == dmarc::policy::quarantine && cfg.quarantine_to_junk)
          mailbox = "Junk";
      }
    }
    queue::envelope qe;
    qe.id = queue::make_queue_id(clk());
    qe.reverse_path = e.reverse_path ? e.reverse_path->to_string() : "";
    qe.ret = e.ret == smtp::dsn_ret::full   ? queue::ret_type::full
             : e.ret == smtp::dsn_ret::hdrs ? queue::ret_type::hdrs
                                            : queue::ret_type::unspecified;
    qe.envid = e.envid.value_or("");
    qe.smtputf8 = e.smtputf8;
    qe.eightbitmime = e.body == smtp::body_type::eight_bit_mime;
    qe.binarymime = e.body == smtp::body_type::binary_mime;
    qe.requiretls = e.requiretls;
    qe.auth = e.authenticated_as;
    qe.client = s.peer_address;
    qe.helo = s.helo;
    qe.mailbox = mailbox;
    {
      std::lock_guard lock(mu);
      auto it = sessions.find(s.id);
      for (const auto& r : e.recipients) {
        if (it == sessions.end()) break;
        auto x = it->second.expansions.find(r.address.to_string());
        if (x == it->second.expansions.end()) continue;
        for (const auto& t : x->second)
          qe.recipients.push_back(t);
      }
    }
    if (qe.recipients.empty()) {
      w->abort();
      done(decision::respond(make_reply(554, "5.5.1", "no valid recipients")));
      return;
    }
    if (authenticated && cfg.approve_sender) {
      // The relays must accept every header From too (OCI checks both identities).
      std::vector<std::string> remote;
      for (const auto& r : qe.recipients)
        if (r.where == queue::route::remote) remote.push_back(r.address);
      if (!remote.empty()) {
        std::string owned;
        std::string_view msg;
        if (auto m = w->in_memory()) {
          msg = *m;
        } else if (auto c = w->contents()) {
          owned = std::move(*c);
          msg = owned;
        } else {
          w->abort();
          done(decision::respond(make_reply(451, "4.3.0", "local error reading the message")));
          return;
        }
        if (auto refusal = cfg.approve_sender(qe.reverse_path, msg, remote)) {
          w->abort();
          done(decision::respond(*refusal));
          return;
        }
      }
    }
    const auto now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(clk().now().time_since_epoch())
            .count();
    std::string trace = received_field(s, e, cfg.hostname, qe.id, now_us / 1000000) + ar;
    if (direct && inbound_direct::eligible(qe)) {
      // Local mail straight into the store (inbound_direct.hpp): one durable write, and the
      // 250 only after it has committed (DESIGN.md §4). What it cannot deliver goes to the
      // queue below, so the 250 then also waits for the queue's commit. The data goes over
      // in place (the writer's memory, or the file read once), which `held` keeps until the
      // handler has run; the trace fields go apart (delivery_item::trace).
      std::optional<std::string> from_file;
      const auto m = w->in_memory();
      if (!m) {
        if (auto c = w->contents()) from_file = std::move(*c);
      }
      if (m || from_file) {
        qe.received = now_us; // the copies' internal date
        auto held = std::make_shared<held_message>(held_message{
            std::move(w), qe, std::move(trace), std::move(done), std::move(from_file)});
        const std::string_view data = m ? *m : std::string_view(*held->from_file);
        direct->async_deliver(
            std::move(qe), held->trace, data,
            [self = shared_from_this(), held](std::vector<queue::delivery_result> rs) {
              self->after_direct(*held, rs);
            });
        return;
      }
    }
    enqueue(std::move(w), std::move(qe), std::move(trace), std::move(done));
  }

  struct held_message {
    std::unique_ptr<queue::message_writer> w;
    queue::envelope env;
    std::string trace;
    smtp::decision_handler done;
    std::optional<std::string> from_file; ///< the data, when the writer had it in a file
  };

  void after_direct(held_message& h, const std::vector<queue::delivery_result>& rs) {
    std::vector<queue::recipient> rest;
    for (std::size_t i = 0; i < h.env.recipients.size(); ++i) {
      const auto& r = h.env.recipients[i];
      const auto& res = i < rs.size() ? rs[i] : queue::delivery_result{};
      const bool ok = res.outcome == queue::delivery_result::status::delivered ||
                      res.outcome == queue::delivery_result::status::duplicate;
      if (log_enabled(log_level::info))
        log(log_level::info, "queue",
            h.env.id + ": to=<" + r.address + "> status=" + (ok ? "sent" : "queued") + " (" +
                res.reply + (ok ? "; direct)" : "; left to the queue)"));
      if (!ok) rest.push_back(r);
    }
    if (rest.empty()) {
      h.w->abort();
      h.done(decision::respond(make_reply(250, "2.0.0", "Ok: queued as " + h.env.id)));
      return;
    }
    // Recipients the store did not take now (a full mailbox, a store error): the queue keeps
    // them under the same id, retries and bounces them as usual.
    h.env.recipients = std::move(rest);
    h.env.received = 0;
    enqueue(std::move(h.w), std::move(h.env), std::move(h.trace), std::move(h.done));
  }

  void enqueue(std::unique_ptr<queue::message_writer> w, queue::envelope qe, std::string trace,
               smtp::decision_handler done) {
    w->set_trace(std::move(trace));
    q->async_enqueue(std::move(w), std::move(qe), [done](expected<std::string> id) {
      if (!id) {
        // DESIGN.md §4: disk full and I/O errors are temporary; the client keeps the message.
        auto st = queue::reply_for(id.error());
        done(decision::respond(make_reply(st.code, st.status, id.error().message())));
        return;
      }
      done(decision::respond(make_reply(250, "2.0.0", "Ok: queued as " + *id)));
    });
  }
};

inbound_policy::inbound_policy(policy_config cfg, std::shared_ptr<store::mail_store> store,
                               std::shared_ptr<queue::queue> q,
                               std::shared_ptr<dns::resolver> resolver)
    : impl_(std::make_shared<impl>(std::move(cfg), std::move(store), std::move(q),
                                   std::move(resolver))) {}

inbound_policy::~inbound_policy() {
  impl_->pool.join();
}

void inbound_policy::set_direct(std::shared_ptr<inbound_direct> direct) {
  impl_->direct = std::move(direct);
}

void inbound_policy::on_mail(const smtp::session_info& s, const smtp::envelope& e,
                             smtp::decision_handler done) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->sessions[s.id] = session_state{}; // a new transaction
  }
  if (auto full = impl_->short_of_space(e.declared_size.value_or(0))) {
    {
      std::lock_guard lock(impl_->stats->mu);
      ++impl_->stats->counters.refused_for_space;
    }
    done(decision::respond(std::move(*full)));
    return;
  }
  const std::string rp = e.reverse_path ? e.reverse_path->to_string() : "";
  if (!e.authenticated_as.empty()) {
    if (!impl_->cfg.restrict_sender || rp.empty()) {
      done(decision::accept());
      return;
    }
    impl_->run([self = impl_, user = e.authenticated_as, rp, done = std::move(done)] {
      if (self->owns(user, rp)) {
        done(decision::accept());
      } else {
        done(decision::respond(make_reply(
            553, "5.7.1", "<" + clean(rp) + ">: sender address not owned by user " + clean(user))));
      }
    });
    return;
  }
  if (!impl_->cfg.check_spf) {
    done(decision::accept());
    return;
  }
  auto ip = spf::parse_ip(s.peer_address);
  if (!ip) {
    done(decision::accept());
    return;
  }
  // RFC 7208 §2.4: check the MAIL FROM identity (postmaster@HELO for the null path).
  auto params = spf::check_params::mail_from(*ip, rp, s.helo);
  params.receiver = impl_->cfg.hostname;
  spf::async_check_host(*impl_->resolver, params,
                        [self = impl_, id = s.id, done = std::move(done)](spf::check_result r) {
                          {
                            std::lock_guard lock(self->mu);
                            self->sessions[id].spf = r.result;
                          }
                          if (r.result == spf::result::fail && self->cfg.reject_spf_fail) {
                            // RFC 7208 §8.4 with RFC 7372 §3.2 (5.7.23).
                            done(decision::respond(make_reply(
                                550, "5.7.23", "SPF check failed for " + clean(r.domain))));
                            return;
                          }
                          done(decision::accept());
                        });
}

void inbound_policy::on_rcpt(const smtp::session_info& s, const smtp::envelope& e,
                             const smtp::recipient& r, smtp::decision_handler done) {
  // On the session's own thread: the lookup is two reads of pages the database keeps hot
  // (the recipient, its account's quota), no network and no write, which costs less than
  // the hand-off to a policy thread and back (two thread wake-ups per RCPT).
  done(impl_->rcpt_decision(s, e, r));
}

void inbound_policy::on_auth(const smtp::session_info& s, const smtp::credentials& c,
                             smtp::decision_handler done) {
  impl_->run([self = impl_, ip = s.peer_address, c, done = std::move(done)] {
    // Postfix's line, which contrib/fail2ban/filter.d/mailkit.conf matches: the client's address
    // comes before the user name it chose (log_safe: printable, no brackets, bounded).
    const auto failed = [&] {
      {
        std::lock_guard lock(self->stats->mu);
        ++self->stats->counters.auth_failures;
      }
      log(log_level::warning, "smtpd",
          "warning: unknown[" + ip + "]: SASL " + log_safe(c.mechanism) +
              " authentication failed: sasl_username=<" + log_safe(c.authcid) + ">");
    };
    // RFC 4954 §4: an authorization identity other than the user is not supported.
    if (!c.authzid.empty() && !iequals(c.authzid, c.authcid)) {
      failed();
      done(decision::respond(make_reply(535, "5.7.8", "authentication credentials invalid")));
      return;
    }
    auto r =
        authenticate_cached(*self->store, self->cfg.credentials_cache.get(), c.authcid, c.password);
    if (!r) {
      done(decision::respond(make_reply(454, "4.7.0", "temporary authentication failure")));
      return;
    }
    if (!r->ok) {
      failed();
      done(decision::respond(make_reply(535, "5.7.8", "authentication credentials invalid")));
      return;
    }
    done(decision::accept());
  });
}

expected<std::unique_ptr<smtp::message_sink>>
inbound_policy::open_message(const smtp::session_info&, const smtp::envelope&) {
  return std::unique_ptr<smtp::message_sink>(
      std::make_unique<queue_sink>(impl_->q->create_message()));
}

void inbound_policy::on_message(const smtp::session_info& s, const smtp::envelope& e,
                                std::unique_ptr<smtp::message_sink> sink,
                                smtp::decision_handler done) {
  auto* qs = dynamic_cast<queue_sink*>(sink.get());
  if (!qs) {
    done(decision::respond(make_reply(451, "4.3.0", "local error")));
    return;
  }
  std::unique_ptr<queue::message_writer> w = std::move(qs->writer());
  // The end-of-data latency of accepted messages, for the metrics.
  smtp::decision_handler timed = [box = impl_->stats, t0 = std::chrono::steady_clock::now(),
                                  done = std::move(done)](smtp::decision d) {
    if (d.accepted()) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
      std::lock_guard lock(box->mu);
      box->counters.end_of_data.observe(took.count());
    }
    done(std::move(d));
  };
  impl_->run([self = impl_, s, e, w = std::move(w), done = std::move(timed)]() mutable {
    self->end_of_data(s, e, std::move(w), std::move(done));
  });
}

policy_stats inbound_policy::stats() const {
  std::lock_guard lock(impl_->stats->mu);
  return impl_->stats->counters;
}

void inbound_policy::on_close(const smtp::session_info& s, smtp::close_reason) {
  std::lock_guard lock(impl_->mu);
  impl_->sessions.erase(s.id);
}

std::string inbound_policy::received_field(const smtp::session_info& s, const smtp::envelope& e,
                                           std::string_view hostname, std::string_view queue_id,
                                           std::int64_t unix_time) {
  // RFC 3848 §2-§3: the WITH protocol type: ESMTP plus S (TLS) and A (AUTH); UTF8 for
  // SMTPUTF8 (RFC 6531 §3.7.3).
  std::string with = e.smtputf8 ? "UTF8SMTP" : e.esmtp ? "ESMTP" : "SMTP";
  if (e.esmtp || e.smtputf8) {
    if (e.tls) with += "S";
    if (!e.authenticated_as.empty()) with += "A";
  }
  // RFC 5321 §4.4: "from" the HELO name and the TCP-level address, "by" us, "id", "for".
  std::string r = "Received: from " + clean(s.helo.empty() ? "unknown" : s.helo) + " ([" +
                  clean(s.peer_address) + "])\r\n\tby " + std::string(hostname) +
                  " (mailkit) with " + with + " id " + std::string(queue_id);
  if (e.recipients.size() == 1)
    r += "\r\n\tfor <" + clean(e.recipients.front().address.to_string(), 320) + ">";
  r += "; " + mime::date_time::from_unix(unix_time).to_rfc5322() + "\r\n";
  return r;
}

std::optional<std::string>
inbound_policy::strip_own_authentication_results(std::string_view message,
                                                 std::string_view authserv_id) {
  // Walk the header fields (a field is a line not starting with WSP plus its continuation
  // lines) up to the empty line.
  std::vector<std::pair<std::size_t, std::size_t>> drop;
  std::size_t pos = 0;
  while (pos < message.size()) {
    if (message[pos] == '\n' ||
        (message[pos] == '\r' && pos + 1 < message.size() && message[pos + 1] == '\n'))
      break; // the end of the header
    std::size_t end = pos;
    do {
      const auto nl = message.find('\n', end);
      end = nl == std::string_view::npos ? message.size() : nl + 1;
    } while (end < message.size() && (message[end] == ' ' || message[end] == '\t'));
    const std::string_view f = message.substr(pos, end - pos);
    const auto colon = f.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = f.substr(0, colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
        name.remove_suffix(1);
      if (iequals(name, "Authentication-Results")) {
        auto ar = dkim::parse_authentication_results(f.substr(colon + 1));
        if (ar && iequals(ar->authserv_id, authserv_id)) drop.emplace_back(pos, end);
      }
    }
    pos = end;
  }
  if (drop.empty()) return std::nullopt;
  std::string out;
  out.reserve(message.size());
  std::size_t at = 0;
  for (auto [b, e] : drop) {
    out.append(message.substr(at, b - at));
    at = e;
  }
  out.append(message.substr(at));
  return out;
}

} // namespace mailkit::server
