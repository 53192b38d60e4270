// SPDX-License-Identifier: Apache-2.0
// Outbound transport (relay.hpp): routing, approved senders, DKIM signing, quota scheduling,
// direct MX delivery and relay delivery over smtp::client_session.
#include <mailkit/relay/relay.hpp>

#include <mailkit/core/log.hpp>
#include <mailkit/dkim/signer.hpp>
#include <mailkit/mime/address.hpp>
#include <mailkit/mtasts/cache.hpp>
#include <mailkit/mtasts/dane.hpp>
#include <mailkit/mtasts/enforce.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace mailkit::relay {

namespace asio = boost::asio;

std::string_view to_string(outcome_status s) noexcept {
  switch (s) {
  case outcome_status::delivered:
    return "delivered";
  case outcome_status::transient:
    return "transient";
  case outcome_status::permanent:
    return "permanent";
  case outcome_status::held:
    return "held";
  }
  return "transient";
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string domain_of(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : lower(address.substr(at + 1));
}

// "example.com" matches itself; ".example.com" its subdomains; "*" and "" everything.
bool domain_matches(std::string_view pattern, std::string_view domain) {
  if (pattern.empty() || pattern == "*") return true;
  const std::string p = lower(pattern);
  if (p.front() == '.')
    return domain.size() > p.size() && domain.substr(domain.size() - p.size()) == p;
  return domain == p;
}

bool sender_matches(std::string_view pattern, std::string_view sender) {
  if (pattern.empty() || pattern == "*") return true;
  return sender_approved(sender, {std::string(pattern)});
}

std::string fmt_time(time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

expected<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(errc::io_error);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return fail(errc::io_error);
  return s.str();
}

// One SMTP connection attempt: open, one transaction, quit.
struct attempt {
  bool opened = false;
  error_code ec;
  std::string detail;
  std::optional<smtp::reply> error_reply;
  std::optional<smtp::transaction_result> result;
  std::string peer;
  std::string local_address; // ours, for TLS-RPT "sending-mta-ip"
  // The TLS step, for the outbound TLS policy (MTA-STS, DANE) and TLS-RPT.
  bool tls = false;            // TLS is up
  bool tls_attempted = false;  // a handshake was tried (whether or not it succeeded)
  long verify_result = -1;     // X509_V_ERR_* of the handshake, -1 when not verified
  int dane_depth = -1;         // the chain depth a TLSA record matched, -1 for none
  bool policy_refused = false; // after_open refused the session: nothing was sent
};

// Called after the session is open (greeting, EHLO, STARTTLS done) and before MAIL FROM:
// false ends the session with QUIT, nothing of the message sent.
using open_check = std::function<bool(attempt&)>;

attempt run_session(smtp::session_options opts, smtp::envelope env, std::string data,
                    const open_check& after_open = {}) {
  asio::io_context io;
  attempt a;
  smtp::client_session session(io.get_executor(), std::move(opts));
  auto run = [&]() -> asio::awaitable<void> {
    auto o = co_await session.async_open();
    a.peer = session.peer();
    a.local_address = session.local_address();
    a.tls = session.tls_active();
    a.tls_attempted = session.tls_attempted();
    a.verify_result = session.verify_result();
    a.dane_depth = session.dane_depth();
    if (!o) {
      a.ec = o.error();
      a.detail = session.error_detail();
      a.error_reply = session.error_reply();
      co_return;
    }
    if (after_open && !after_open(a)) {
      a.policy_refused = true;
      co_await session.async_quit();
      co_return;
    }
    a.opened = true;
    auto r = co_await session.async_send(std::move(env), std::move(data));
    if (!r) {
      a.ec = r.error();
      a.detail = session.error_detail();
      a.error_reply = session.error_reply();
      co_return;
    }
    a.result = std::move(*r);
    co_await session.async_quit();
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  if (a.detail.empty() && a.ec) a.detail = a.ec.message();
  return a;
}

// Connections kept open across the messages of one transport::deliver(span) call, one per
// relay: RFC 5321 §3.3 allows any number of transactions in one session, and a batch of queued
// messages to the same relay then pays for one connect, greeting, EHLO, STARTTLS and AUTH.
// Lives on the calling thread for the duration of the call only (never idle between batches).
struct cached_connection {
  asio::io_context io;
  std::unique_ptr<smtp::client_session> session;
  unsigned used = 0;
};

template <class Coroutine>
void run_on(asio::io_context& io, Coroutine&& c) {
  io.restart();
  asio::co_spawn(io, std::forward<Coroutine>(c)(), asio::detached);
  io.run();
}

struct connection_cache {
  std::map<std::string, std::unique_ptr<cached_connection>, std::less<>> by_relay;
  connection_cache() = default;
  connection_cache(const connection_cache&) = delete;
  connection_cache& operator=(const connection_cache&) = delete;
  void drop(const std::string& key, bool quit) {
    auto it = by_relay.find(key);
    if (it == by_relay.end()) return;
    cached_connection& c = *it->second;
    if (quit)
      run_on(c.io, [&]() -> asio::awaitable<void> { co_await c.session->async_quit(); });
    else
      c.session->close();
    by_relay.erase(it);
  }
  ~connection_cache() {
    while (!by_relay.empty())
      drop(by_relay.begin()->first, true);
  }

  // One transaction over the relay's cached connection, opened first when there is none.
  attempt send(const std::string& key, unsigned max_per_connection, smtp::session_options opts,
               const smtp::envelope& env, const std::string& data, bool retried = false) {
    if (auto it = by_relay.find(key);
        it != by_relay.end() && it->second->used >= max_per_connection)
      drop(key, true);
    auto it = by_relay.find(key);
    const bool reused = it != by_relay.end();
    if (!reused) {
      auto c = std::make_unique<cached_connection>();
      c->session = std::make_unique<smtp::client_session>(c->io.get_executor(), opts);
      attempt a;
      run_on(c->io, [&]() -> asio::awaitable<void> {
        auto o = co_await c->session->async_open();
        a.peer = c->session->peer();
        if (!o) {
          a.ec = o.error();
          a.detail = c->session->error_detail();
          a.error_reply = c->session->error_reply();
        }
      });
      if (a.ec) {
        if (a.detail.empty()) a.detail = a.ec.message();
        return a;
      }
      it = by_relay.emplace(key, std::move(c)).first;
    }
    cached_connection& c = *it->second;
    attempt a;
    a.opened = true;
    a.peer = c.session->peer();
    expected<smtp::transaction_result> r = fail(errc::io_error);
    run_on(c.io, [&]() -> asio::awaitable<void> { r = co_await c.session->async_send(env, data); });
    ++c.used;
    if (!r) {
      a.ec = r.error();
      a.detail = c.session->error_detail();
      a.error_reply = c.session->error_reply();
      if (a.detail.empty()) a.detail = a.ec.message();
      drop(key, false);
      return a;
    }
    // RFC 5321 §3.8: a server that ends the session answers 421, here to MAIL on a connection
    // we kept: nothing of this message was accepted, so a fresh connection may take it now.
    if (reused && !retried && r->mail_reply && r->mail_reply->code == 421) {
      drop(key, false);
      return send(key, max_per_connection, std::move(opts), env, data, true);
    }
    a.result = std::move(*r);
    return a;
  }
};

outcome_status status_of(const smtp::reply& r) {
  if (r.positive_completion()) return outcome_status::delivered;
  if (r.permanent_failure()) return outcome_status::permanent;
  return outcome_status::transient;
}

} // namespace

bool sender_approved(std::string_view address, const std::vector<std::string>& approved) noexcept {
  const std::string a = lower(address);
  const std::string dom = domain_of(a);
  for (const auto& entry : approved) {
    std::string e = lower(entry);
    if (e.empty()) continue;
    if (e.front() == '@')
      e.erase(0, 1);
    else if (e.find('@') != std::string::npos) {
      if (e == a) return true;
      continue;
    }
    if (!dom.empty() && e == dom) return true;
  }
  return false;
}

std::vector<std::string> header_from_addresses(std::string_view m) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  std::string current; // the From field being unfolded
  bool in_from = false;
  auto flush = [&] {
    if (in_from)
      for (const auto& mb : mime::parse_address_list(current).flatten())
        if (mb.addr && !mb.addr->empty()) out.push_back(*mb.addr);
    in_from = false;
    current.clear();
  };
  while (pos < m.size()) {
    const std::size_t eol = m.find('\n', pos);
    const std::size_t end = eol == std::string_view::npos ? m.size() : eol + 1;
    std::string_view line = m.substr(pos, end - pos);
    pos = end;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.empty()) break; // RFC 5322 §2.1: the empty line ends the header section
    if (line.front() == ' ' || line.front() == '\t') {
      if (in_from) current.append(line);
      continue;
    }
    flush();
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
      name.remove_suffix(1);
    if (lower(name) == "from") {
      in_from = true;
      current.assign(line.substr(colon + 1));
    }
  }
  flush();
  return out;
}

struct transport::impl {
  struct relay_entry {
    relay_config cfg;
    preset p; // the preset with the configuration's overrides applied
    limits lim;
    std::vector<std::string> quota_replies;
  };
  struct dkim_entry {
    std::string domain, selector;
    dkim::private_key key;
  };

  config cfg;
  dns::resolver* resolver = nullptr;
  std::map<std::string, relay_entry, std::less<>> relays;
  std::vector<dkim_entry> dkim_keys;
  std::unique_ptr<quota_tracker> quotas;
  const clock* clk = nullptr;
  // Outbound TLS policy of direct delivery: the MTA-STS cache and where fresh policies come
  // from (null without a resolver or with mta_sts off), and the TLS-RPT counts.
  std::unique_ptr<mtasts::policy_cache> sts_cache;
  mtasts::policy_source sts_source;
  tlsrpt::aggregator reports;

  const relay_entry* find_relay(std::string_view name) const {
    auto it = relays.find(name);
    return it == relays.end() ? nullptr : &it->second;
  }

  std::string route_for(std::string_view sender, std::string_view recipient) const {
    const std::string dom = domain_of(recipient);
    for (const auto& r : cfg.rules)
      if (domain_matches(r.recipient_domain, dom) && sender_matches(r.sender, sender)) return r.via;
    return cfg.default_route;
  }

  // DKIM: sign with the key of the header From domain (or a parent domain we hold a key for).
  std::string sign(std::string_view data) const {
    if (dkim_keys.empty()) return {};
    const auto from = header_from_addresses(data);
    if (from.empty()) return {};
    std::string dom = domain_of(from.front());
    while (!dom.empty()) {
      for (const auto& k : dkim_keys) {
        if (k.domain != dom) continue;
        dkim::sign_options o;
        o.domain = k.domain;
        o.selector = k.selector;
        o.algo = k.key.type() == dkim::key_type::ed25519 ? dkim::algorithm::ed25519_sha256
                                                         : dkim::algorithm::rsa_sha256;
        o.clk = clk;
        auto sig = dkim::sign(data, k.key, o);
        if (!sig) {
          log(log_level::warning, "relay",
              "DKIM signing for " + k.domain + " failed: " + sig.error().message());
          return {};
        }
        return std::move(*sig);
      }
      const std::size_t dot = dom.find('.');
      if (dot == std::string::npos) break;
      dom.erase(0, dot + 1);
      if (dom.find('.') == std::string::npos) break; // never sign with a bare TLD key
    }
    return {};
  }

  smtp::envelope make_envelope(const outbound_message& msg, std::string mail_from,
                               const std::vector<std::size_t>& idx) const {
    smtp::envelope env;
    env.mail_from = std::move(mail_from);
    env.ret = msg.ret;
    env.envid = msg.envid;
    for (const std::size_t i : idx) {
      const auto& r = msg.recipients[i];
      env.recipients.push_back({r.address, r.notify, r.orcpt});
    }
    return env;
  }

  smtp::client_options client_options() const {
    smtp::client_options c;
    c.helo_name = cfg.helo_name;
    c.use_pipelining = cfg.use_pipelining;
    c.use_chunking = cfg.use_chunking;
    return c;
  }

  static void set_all(std::vector<recipient_outcome>& out, const std::vector<std::size_t>& idx,
                      outcome_status st, const smtp::reply& r, const std::string& route,
                      const std::string& detail) {
    for (const std::size_t i : idx) {
      out[i].status = st;
      out[i].reply = r;
      out[i].route = route;
      out[i].detail = detail;
    }
  }

  // Map a finished transaction onto the outcomes of `idx` (in envelope order).
  static void map_result(std::vector<recipient_outcome>& out, const std::vector<std::size_t>& idx,
                         const smtp::transaction_result& t, const std::string& route,
                         const std::string& mta) {
    for (std::size_t k = 0; k < idx.size() && k < t.recipients.size(); ++k) {
      auto& o = out[idx[k]];
      o.reply = t.recipients[k].reply;
      o.status =
          t.refused != smtp::local_refusal::none ? outcome_status::permanent : status_of(o.reply);
      o.route = route;
      o.remote_mta = mta;
      o.detail = t.refused != smtp::local_refusal::none ? t.reason : o.reply.text();
    }
  }

  // The outcome of an attempt that did not complete a transaction.
  static void map_failure(std::vector<recipient_outcome>& out, const std::vector<std::size_t>& idx,
                          const attempt& a, const std::string& route, const std::string& mta,
                          bool auth_is_transient) {
    bool permanent = is_permanent(a.ec);
    if (auth_is_transient &&
        (a.ec == smtp::client_errc::auth_failed || a.ec == smtp::client_errc::auth_unavailable))
      permanent = false;
    std::string detail = a.detail;
    if (a.opened)
      detail = "the connection failed during the transaction (" + a.detail +
               "); the server may have the message: it will be retried (possibly a duplicate)";
    smtp::reply r = a.error_reply && !a.opened
                        ? *a.error_reply
                        : smtp::make_reply(permanent ? 554 : 451, permanent ? "5.4.0" : "4.4.1",
                                           "mailkit: " + detail);
    if (!permanent && r.permanent_failure())
      r = smtp::make_reply(451, "4.7.0", "mailkit: " + detail);
    set_all(out, idx, permanent ? outcome_status::permanent : outcome_status::transient, r, route,
            detail);
    for (const std::size_t i : idx)
      out[i].remote_mta = mta;
  }

  // ---- direct delivery -------------------------------------------------------------------

  // The recipient domain's MTA-STS policy (RFC 8461 §3.3, §5.1): cached, refreshed, or
  // fetched. std::nullopt only when the cache itself fails.
  std::optional<mtasts::resolution> sts_policy(const std::string& domain) {
    if (!sts_cache) return mtasts::resolution{};
    auto r = mtasts::resolve(*sts_cache, sts_source, domain, *clk);
    if (!r) {
      log(log_level::warning, "relay",
          "MTA-STS policy cache failed for " + domain + ": " + r.error().message());
      return std::nullopt;
    }
    if (r->error)
      log(log_level::info, "relay",
          "MTA-STS policy of " + domain + ": " + r->error.message() +
              (r->active ? " (the cached policy stays in force, RFC 8461 3.3)" : ""));
    return std::move(*r);
  }

  // One MX host under the outbound TLS policy: DANE first, else MTA-STS (RFC 8461 §2). The
  // returned attempt has ec set (transient) when the policy kept the message from this host,
  // which never saw the envelope. Every TLS outcome is counted in `reports` (RFC 8460 §4).
  attempt try_mx(const outbound_message& msg, const std::string& data,
                 const std::vector<std::size_t>& ridx, const std::string& domain, const mx_host& h,
                 const mtasts::resolution& sts, bool mx_secure) {
    auto refused = [](std::string why) {
      attempt a;
      a.ec = make_error_code(smtp::client_errc::tls_failed);
      a.detail = std::move(why);
      return a;
    };
    mtasts::tlsa_lookup dane;
    // RFC 7672 §2.2.1 / §2.2.2: DANE only for a host named by a DNSSEC-secure MX RRset and
    // with secure address records; otherwise whoever forged the MX could pick the TLSA records
    // too (and, RFC 8461 §2, DANE would then override the domain's MTA-STS policy).
    if (cfg.direct.dane && mx_secure && h.secure) {
      auto t = mtasts::lookup_tlsa(*resolver, h.name, cfg.direct.port);
      if (!t) {
        // RFC 7672 §2.2.1: a failed TLSA lookup (from a validating resolver, SERVFAIL may be a
        // bogus, i.e. forged, answer) makes the MX unusable: no delivery, not even plaintext.
        tlsrpt::policy_description pd;
        pd.type = tlsrpt::policy_type::tlsa;
        pd.domain = domain;
        tlsrpt::failure_detail d;
        d.result = tlsrpt::result_type::dnssec_invalid; // RFC 8460 §4.3.2
        d.receiving_mx_hostname = h.name;
        d.additional_information = "TLSA lookup failed: " + t.error().message();
        reports.add_failure(pd, d);
        return refused("the TLSA lookup failed (" + t.error().message() +
                       "), so the MX cannot be used (RFC 7672 2.2.1)");
      }
      dane = std::move(*t);
    }
    const mtasts::policy* pol = sts.active ? &sts.active->value : nullptr;
    const mtasts::connection_requirements req = mtasts::requirements(pol, h.name, dane.state);
    if (req.skip) {
      // RFC 8461 §4.1: under enforce, an MX outside the policy is not contacted at all.
      mtasts::record(reports, mtasts::enforce(domain, sts, h.name, dane, {}));
      return refused("not an MX host of the domain's MTA-STS policy (RFC 8461 4.1)");
    }
    const bool policy_applies =
        dane.state != mtasts::dane_state::none || (pol && pol->policy_mode != mtasts::mode::none);

    smtp::session_options o;
    o.host = h.name;
    o.port = cfg.direct.port;
    o.addresses = h.addresses;
    o.tls = cfg.direct.tls;
    o.tls_options.verify_peer = cfg.direct.verify;
    o.tls_options.ca_file = cfg.direct.cafile;
    o.verify_host = cfg.direct.verify;
    o.client = client_options();
    o.timeouts = cfg.timeouts;
    // RFC 7672 §2.2 / RFC 8461 §4.2: STARTTLS or no delivery; never a plaintext fallback.
    if (req.require_tls) o.tls = smtp::tls_mode::starttls_required;
    if (req.verify_dane) {
      // RFC 7672 §3: the TLSA records authenticate the server, not the web PKI.
      o.tls_options.verify_peer = false;
      o.dane_tlsa = dane.records;
      o.dane_base_domain = dane.base_domain;
    } else if (req.verify_pkix) {
      // RFC 8461 §4.2: a chain to a trusted root, valid for the MX host name; under testing
      // the result is only reported (§5), so the handshake goes on.
      o.tls_options.verify_peer = true;
      o.verify_host = true;
      o.verify_report_only = req.report_only;
    }

    // Judge the TLS step (RFC 8461 §4.2, RFC 7672 §3) and count it (RFC 8460 §4.4).
    auto judge = [&](const attempt& a) {
      mtasts::tls_outcome oc;
      mtasts::session_info info;
      info.receiving_ip = a.peer.substr(0, a.peer.rfind(':'));
      if (info.receiving_ip.size() > 2 && info.receiving_ip.front() == '[')
        info.receiving_ip = info.receiving_ip.substr(1, info.receiving_ip.size() - 2);
      info.sending_mta_ip = a.local_address;
      info.certificate_problem = mtasts::certificate_problem_of(a.verify_result);
      info.failure_reason_code = mtasts::verify_reason(a.verify_result);
      // A handshake that failed counts as TLS offered but not valid: it is the certificate
      // (or the handshake), not STARTTLS, that failed.
      oc.tls_established = a.tls || a.tls_attempted;
      oc.pkix_valid = a.tls && a.verify_result == 0; // X509_V_OK
      oc.dane_valid = a.tls && req.verify_dane && a.dane_depth >= 0;
      mtasts::enforcement e = mtasts::enforce(domain, sts, h.name, dane, oc, info);
      if (a.tls_attempted && !a.tls) {
        if (!e.failure) {
          e.failure = tlsrpt::failure_detail{};
          e.failure->receiving_mx_hostname = h.name;
          e.failure->receiving_ip = info.receiving_ip;
          e.failure->sending_mta_ip = info.sending_mta_ip;
          e.failure->failure_reason_code = info.failure_reason_code;
        }
        // RFC 8460 §4.3.1: a handshake that failed other than by verification: the general
        // "validation-failure".
        e.failure->result = a.verify_result > 0 ? info.certificate_problem
                                                : tlsrpt::result_type::validation_failure;
        e.decision.action = mtasts::verdict::refuse;
      }
      mtasts::record(reports, e);
      return e;
    };
    bool judged = false;
    std::string verdict_text;
    const open_check after_open = [&](attempt& a) {
      judged = true;
      const mtasts::enforcement e = judge(a);
      if (e.decision.action == mtasts::verdict::deliver_and_report)
        log(log_level::notice, "relay",
            msg.queue_id + ": " + h.name + " fails the MTA-STS testing policy of " + domain + " (" +
                std::string(mtasts::to_string(e.decision.reason)) +
                "): delivered and reported (RFC 8461 5)");
      if (e.decision.action != mtasts::verdict::refuse) return true;
      verdict_text = std::string(mtasts::to_string(e.decision.reason));
      return false;
    };
    attempt a =
        run_session(std::move(o), make_envelope(msg, msg.reverse_path, ridx), data, after_open);
    if (a.policy_refused) {
      attempt r = refused("the outbound TLS policy refuses " + h.name + " (" + verdict_text + ")");
      r.peer = a.peer;
      return r;
    }
    if (!judged) {
      // The session ended before the transaction. TLS-RPT counts what the TLS step did: a
      // handshake (failed or not), or a STARTTLS that a policy required and the server did not
      // offer (or refused, RFC 8460 §4.3.1 starttls-not-supported).
      const bool no_starttls = a.ec == smtp::client_errc::starttls_unavailable ||
                               a.ec == smtp::client_errc::starttls_rejected;
      if (a.tls || a.tls_attempted || (no_starttls && policy_applies)) judge(a);
      if (policy_applies && (a.tls_attempted || no_starttls) && !a.tls)
        a.detail += " (the outbound TLS policy of " + domain + " requires TLS" +
                    (req.verify_dane   ? " authenticated by DANE"
                     : req.verify_pkix ? " valid for the MX name (MTA-STS)"
                                       : "") +
                    ")";
    }
    return a;
  }

  void deliver_direct(const outbound_message& msg, const std::string& data,
                      const std::vector<std::size_t>& idx, std::vector<recipient_outcome>& out) {
    std::map<std::string, std::vector<std::size_t>> by_domain;
    for (const std::size_t i : idx)
      by_domain[domain_of(msg.recipients[i].address)].push_back(i);
    for (const auto& [domain, ridx] : by_domain) {
      if (domain.empty()) {
        set_all(out, ridx, outcome_status::permanent,
                smtp::make_reply(553, "5.1.3", "mailkit: the recipient address has no domain"),
                "direct", "no domain");
        continue;
      }
      if (!resolver) {
        set_all(out, ridx, outcome_status::transient,
                smtp::make_reply(451, "4.4.3", "mailkit: no DNS resolver for direct delivery"),
                "direct", "no resolver");
        continue;
      }
      const mx_plan plan = resolve_mx(*resolver, domain, cfg.mx);
      if (plan.hosts.empty()) {
        const int code = plan.null_mx ? 556 : plan.permanent ? 550 : 451;
        set_all(out, ridx, plan.permanent ? outcome_status::permanent : outcome_status::transient,
                smtp::make_reply(code, plan.status, "mailkit: " + plan.reason), "direct",
                plan.reason);
        continue;
      }
      const std::optional<mtasts::resolution> sts = sts_policy(domain);
      if (!sts) {
        // Without the cache we cannot know whether a remembered policy forbids this delivery.
        set_all(out, ridx, outcome_status::transient,
                smtp::make_reply(451, "4.3.0", "mailkit: the MTA-STS policy cache failed"),
                "direct", "MTA-STS policy cache failure");
        continue;
      }
      bool any_transient = false;
      std::string errors;
      std::optional<attempt> last;
      bool done = false;
      for (const auto& h : plan.hosts) {
        attempt a = try_mx(msg, data, ridx, domain, h, *sts, plan.secure);
        const std::string mta = h.name + " [" + a.peer + "]";
        if (a.result) {
          map_result(out, ridx, *a.result, "direct", mta);
          done = true;
          break;
        }
        if (a.opened) {
          // RFC 5321 §4.1.1.4 / §6.1: the connection failed inside the transaction; trying the
          // next MX now could duplicate a message this host already took: retry later instead.
          map_failure(out, ridx, a, "direct", mta, false);
          done = true;
          break;
        }
        // RFC 5321 §5.1: a host that cannot be reached or refuses the session: try the next.
        if (!is_permanent(a.ec)) any_transient = true;
        errors += (errors.empty() ? "" : "; ") + h.name + ": " + a.detail;
        last = std::move(a);
      }
      if (done) continue;
      attempt summary = last ? std::move(*last) : attempt{};
      summary.detail = "no MX host of " + domain + " took the message: " + errors;
      if (any_transient) summary.ec = make_error_code(smtp::client_errc::connection_failed);
      if (any_transient) summary.error_reply.reset();
      map_failure(out, ridx, summary, "direct", "", false);
    }
  }

  // ---- relay delivery --------------------------------------------------------------------

  void hold_all(std::vector<recipient_outcome>& out, const std::vector<std::size_t>& idx,
                const std::string& route, time_point until, const std::string& why) {
    const smtp::reply r = smtp::make_reply(452, "4.3.1",
                                           "mailkit: held until " + fmt_time(until) + " (relay " +
                                               route + ": " + why + ")");
    set_all(out, idx, outcome_status::held, r, route, why);
    for (const std::size_t i : idx)
      out[i].held_until = until;
  }

  void deliver_relay(const outbound_message& msg, const std::string& data,
                     const std::vector<std::size_t>& idx, const std::string& name, int depth,
                     std::vector<recipient_outcome>& out, connection_cache* cache) {
    const relay_entry* re = find_relay(name);
    if (!re) {
      set_all(out, idx, outcome_status::transient,
              smtp::make_reply(451, "4.3.5", "mailkit: no relay named " + name), name,
              "unknown relay");
      return;
    }
    std::string mail_from = msg.reverse_path;
    if (mail_from.empty() && re->p.refuses_null_sender) {
      if (re->cfg.null_sender_address.empty()) {
        set_all(out, idx, outcome_status::permanent,
                smtp::make_reply(550, "5.7.1",
                                 "mailkit: relay " + name +
                                     " refuses the null sender and no null_sender_address is "
                                     "configured for it"),
                name, "null sender refused by relay");
        return;
      }
      mail_from = re->cfg.null_sender_address;
    }
    const limits& lim = re->lim;
    if (lim.max_message_size && smtp::canonical_size(data) > lim.max_message_size) {
      set_all(out, idx, outcome_status::permanent,
              smtp::make_reply(552, "5.3.4",
                               "mailkit: the message is larger than relay " + name + " accepts (" +
                                   std::to_string(lim.max_message_size) + " octets)"),
              name, "message too large for the relay");
      return;
    }
    // Recipients per transaction: the relay's maximum, and never more units than a day or a
    // minute holds (else such a message could never be sent).
    std::size_t batch = idx.size();
    if (lim.max_recipients) batch = std::min<std::size_t>(batch, lim.max_recipients);
    if (lim.counting == count_mode::per_recipient) {
      if (lim.per_day) batch = std::min<std::size_t>(batch, lim.per_day);
      if (lim.per_minute) batch = std::min<std::size_t>(batch, lim.per_minute);
    }
    batch = std::max<std::size_t>(batch, 1);
    for (std::size_t start = 0; start < idx.size(); start += batch) {
      const std::vector<std::size_t> part(
          idx.begin() + static_cast<std::ptrdiff_t>(start),
          idx.begin() + static_cast<std::ptrdiff_t>(std::min(idx.size(), start + batch)));
      send_batch(msg, data, part, *re, mail_from, depth, out, cache);
    }
  }

  void send_batch(const outbound_message& msg, const std::string& data,
                  const std::vector<std::size_t>& part, const relay_entry& re,
                  const std::string& mail_from, int depth, std::vector<recipient_outcome>& out,
                  connection_cache* cache) {
    const std::string& name = re.cfg.name;
    const limits& lim = re.lim;
    const std::uint64_t units = lim.counting == count_mode::per_recipient ? part.size() : 1;
    const time_point reserved_at = clk->now();
    const quota_decision d = quotas->reserve(name, lim, units, msg.prio);
    if (!d.granted) {
      if (!re.cfg.failover.empty() && depth < 3) {
        log(log_level::info, "relay",
            "relay " + name + " is held (" + d.reason + "): trying " + re.cfg.failover);
        return deliver_relay(msg, data, part, re.cfg.failover, depth + 1, out, cache);
      }
      return hold_all(out, part, name, d.until, d.reason);
    }
    smtp::session_options o;
    o.host = re.p.host;
    o.port = re.p.port;
    o.addresses = re.cfg.addresses;
    o.tls = re.p.tls;
    o.tls_options.verify_peer = re.cfg.verify;
    o.tls_options.ca_file = re.cfg.cafile;
    o.verify_host = re.cfg.verify;
    o.client = client_options();
    o.client.mechanism = re.p.auth;
    if (!re.cfg.username.empty())
      o.client.auth = smtp::credentials{re.cfg.username, re.cfg.password};
    o.timeouts = cfg.timeouts;
    attempt a = cache && re.cfg.max_messages_per_connection > 1
                    ? cache->send(name, re.cfg.max_messages_per_connection, std::move(o),
                                  make_envelope(msg, mail_from, part), data)
                    : run_session(std::move(o), make_envelope(msg, mail_from, part), data);
    const std::string mta = re.p.host + " [" + a.peer + "]";
    if (!a.result) {
      quotas->refund(name, units, reserved_at);
      // A quota reply at the greeting, MAIL or AUTH stage holds, never bounces.
      if (a.error_reply && !a.error_reply->positive_completion() &&
          is_quota_reply(a.error_reply->text(), re.quota_replies)) {
        const time_point until = quotas->next_reset(lim);
        quotas->hold(name, until, a.error_reply->text());
        return hold_all(out, part, name, until, "provider quota reply: " + a.error_reply->text());
      }
      if (!a.opened && !re.cfg.failover.empty() && depth < 3 && !is_permanent(a.ec)) {
        log(log_level::info, "relay",
            "relay " + name + " unreachable (" + a.detail + "): trying " + re.cfg.failover);
        return deliver_relay(msg, data, part, re.cfg.failover, depth + 1, out, cache);
      }
      return map_failure(out, part, a, name, mta, true);
    }
    const smtp::transaction_result& t = *a.result;
    map_result(out, part, t, name, mta);
    // Quota replies to MAIL, RCPT or the data (4xx or 5xx): held until the reset.
    std::vector<std::size_t> quota_held;
    std::uint64_t accepted = 0;
    for (std::size_t k = 0; k < part.size(); ++k) {
      auto& oc = out[part[k]];
      if (oc.status == outcome_status::delivered) {
        ++accepted;
        continue;
      }
      if (t.refused == smtp::local_refusal::none &&
          is_quota_reply(oc.reply.text(), re.quota_replies))
        quota_held.push_back(part[k]);
    }
    const std::uint64_t used =
        lim.counting == count_mode::per_recipient ? accepted : (accepted ? 1 : 0);
    if (used < units) quotas->refund(name, units - used, reserved_at);
    if (!quota_held.empty()) {
      const time_point until = quotas->next_reset(lim);
      const std::string text = out[quota_held.front()].reply.text();
      quotas->hold(name, until, text);
      if (!re.cfg.failover.empty() && depth < 3) {
        for (const std::size_t i : quota_held) {
          out[i] = recipient_outcome();
          out[i].address = msg.recipients[i].address;
        }
        return deliver_relay(msg, data, quota_held, re.cfg.failover, depth + 1, out, cache);
      }
      const std::string code = std::to_string(out[quota_held.front()].reply.code);
      hold_all(out, quota_held, name, until, "provider quota reply: " + code + " " + text);
    }
  }

  std::vector<recipient_outcome> deliver(const outbound_message& msg, connection_cache* cache) {
    std::vector<recipient_outcome> out(msg.recipients.size());
    for (std::size_t i = 0; i < msg.recipients.size(); ++i)
      out[i].address = msg.recipients[i].address;
    std::string data;
    if (!msg.data.empty()) {
      data.assign(msg.data);
    } else if (!msg.file.empty()) {
      auto f = read_text_file(msg.file);
      if (!f) {
        std::vector<std::size_t> all(msg.recipients.size());
        for (std::size_t i = 0; i < all.size(); ++i)
          all[i] = i;
        set_all(out, all, outcome_status::transient,
                smtp::make_reply(451, "4.3.0", "mailkit: cannot read the queued message file"), "",
                "cannot read " + msg.file);
        return out;
      }
      data = std::move(*f);
    }
    // RFC 6376 §5: sign before the message leaves, with our key for the From domain.
    if (std::string sig = sign(data); !sig.empty()) data.insert(0, sig);

    std::map<std::string, std::vector<std::size_t>> by_route;
    for (std::size_t i = 0; i < msg.recipients.size(); ++i)
      by_route[route_for(msg.reverse_path, msg.recipients[i].address)].push_back(i);
    for (const auto& [route, idx] : by_route) {
      if (route == "direct")
        deliver_direct(msg, data, idx, out);
      else
        deliver_relay(msg, data, idx, route, 0, out, cache);
    }
    for (const auto& o : out)
      log(o.status == outcome_status::delivered ? log_level::info : log_level::notice, "relay",
          msg.queue_id + ": to=<" + o.address + "> route=" + o.route +
              (o.remote_mta.empty() ? std::string() : " relay=" + o.remote_mta) +
              " status=" + std::string(to_string(o.status)) + " (" + std::to_string(o.reply.code) +
              " " + o.reply.text() + ")");
    return out;
  }
};

transport::transport(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
transport::~transport() = default;

expected<std::unique_ptr<transport>> transport::create(config cfg, dns::resolver* resolver) {
  auto p = std::make_unique<impl>();
  p->resolver = resolver;
  p->clk = cfg.clk ? cfg.clk : &default_clock();
  for (auto& rc : cfg.relays) {
    if (rc.name.empty() || rc.name == "direct" || p->relays.count(rc.name))
      return fail(errc::invalid_argument);
    auto pr = find_preset(rc.preset);
    if (!pr) return tl::unexpected(pr.error());
    impl::relay_entry e;
    e.p = std::move(*pr);
    if (!rc.host.empty()) e.p.host = rc.host;
    if (rc.port) e.p.port = rc.port;
    if (rc.tls) e.p.tls = *rc.tls;
    if (rc.auth) e.p.auth = *rc.auth;
    if (rc.refuses_null_sender) e.p.refuses_null_sender = *rc.refuses_null_sender;
    if (e.p.host.empty() && rc.addresses.empty()) return fail(errc::invalid_argument);
    e.lim = rc.quota ? *rc.quota : e.p.defaults;
    e.quota_replies = e.p.quota_replies;
    e.quota_replies.insert(e.quota_replies.end(), rc.quota_replies.begin(), rc.quota_replies.end());
    for (auto& q : e.quota_replies)
      q = lower(q);
    if (!rc.password_file.empty()) {
      auto text = read_text_file(rc.password_file);
      if (!text) return fail(errc::io_error);
      std::string first = text->substr(0, text->find('\n'));
      if (!first.empty() && first.back() == '\r') first.pop_back();
      rc.password = smtp::secret(std::move(first));
      OPENSSL_cleanse(text->data(), text->size());
    }
    e.cfg = std::move(rc);
    const std::string name = e.cfg.name;
    p->relays.emplace(name, std::move(e));
  }
  for (const auto& [name, e] : p->relays)
    if (!e.cfg.failover.empty() && (e.cfg.failover == name || !p->relays.count(e.cfg.failover)))
      return fail(errc::invalid_argument);
  for (const auto& r : cfg.rules)
    if (r.via != "direct" && !p->relays.count(r.via)) return fail(errc::invalid_argument);
  if (cfg.default_route != "direct" && !p->relays.count(cfg.default_route))
    return fail(errc::invalid_argument);
  for (const auto& d : cfg.dkim) {
    std::string pem = d.private_key_pem;
    if (pem.empty()) {
      auto text = read_text_file(d.private_key_file);
      if (!text) return fail(errc::io_error);
      pem = std::move(*text);
    }
    auto key = dkim::private_key::from_pem(pem);
    if (!key || d.domain.empty() || d.selector.empty()) return fail(errc::invalid_argument);
    p->dkim_keys.push_back({lower(d.domain), d.selector, std::move(*key)});
  }
  if (resolver != nullptr && cfg.direct.mta_sts) {
    if (cfg.direct.mta_sts_cache.empty()) {
      p->sts_cache = std::make_unique<mtasts::memory_policy_cache>();
    } else {
      auto c = mtasts::sqlite_policy_cache::open(cfg.direct.mta_sts_cache);
      if (!c) return fail(errc::io_error);
      p->sts_cache = std::move(*c);
    }
    p->sts_source = mtasts::network_source(*resolver, cfg.direct.mta_sts_fetch);
  }
  auto q = quota_tracker::open(cfg.quota_db, p->clk);
  if (!q) return tl::unexpected(q.error());
  p->quotas = std::move(*q);
  cfg.dkim.clear(); // keys live in dkim_keys only
  p->cfg = std::move(cfg);
  p->cfg.relays.clear(); // and relays (with their secrets) in `relays` only
  return std::unique_ptr<transport>(new transport(std::move(p)));
}

std::vector<recipient_outcome> transport::deliver(const outbound_message& msg) {
  return impl_->deliver(msg, nullptr);
}

std::vector<std::vector<recipient_outcome>>
transport::deliver(std::span<const outbound_message> msgs) {
  connection_cache cache;
  std::vector<std::vector<recipient_outcome>> out;
  out.reserve(msgs.size());
  for (const auto& m : msgs)
    out.push_back(impl_->deliver(m, &cache));
  return out;
}

std::string transport::route_for(std::string_view sender, std::string_view recipient) const {
  return impl_->route_for(sender, recipient);
}

sender_verdict transport::check_sender(std::string_view envelope_from,
                                       std::span<const std::string> header_from,
                                       std::string_view recipient) const {
  sender_verdict v;
  const std::string route = impl_->route_for(envelope_from, recipient);
  const impl::relay_entry* re = impl_->find_relay(route);
  if (!re) return v;
  v.relay = route;
  if (envelope_from.empty()) {
    if (re->p.refuses_null_sender && re->cfg.null_sender_address.empty()) {
      v.allowed = false;
      v.reply = smtp::make_reply(550, "5.7.1",
                                 "the relay for this recipient does not accept the null sender");
    }
    return v;
  }
  const auto& approved = re->cfg.approved_senders;
  if (approved.empty()) return v;
  if (!sender_approved(envelope_from, approved)) {
    v.allowed = false;
    v.reply = smtp::make_reply(550, "5.7.1",
                               "sender <" + std::string(envelope_from) +
                                   "> is not an approved sender of the relay for this recipient");
    return v;
  }
  for (const auto& h : header_from) {
    if (!sender_approved(h, approved)) {
      v.allowed = false;
      v.reply = smtp::make_reply(550, "5.7.1",
                                 "From address <" + h +
                                     "> is not an approved sender of the relay for this "
                                     "recipient");
      return v;
    }
  }
  return v;
}

const preset* transport::relay_preset(std::string_view relay) const {
  const impl::relay_entry* re = impl_->find_relay(relay);
  return re ? &re->p : nullptr;
}

quota_tracker& transport::quotas() noexcept {
  return *impl_->quotas;
}

tlsrpt::aggregator& transport::tls_reports() noexcept {
  return impl_->reports;
}

std::vector<std::string> transport::relay_names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : impl_->relays)
    out.push_back(name);
  return out;
}

const limits* transport::relay_limits(std::string_view relay) const {
  const impl::relay_entry* re = impl_->find_relay(relay);
  return re ? &re->lim : nullptr;
}

quota_usage transport::quota_usage_of(std::string_view relay) const {
  const impl::relay_entry* re = impl_->find_relay(relay);
  return re ? impl_->quotas->usage(relay, re->lim) : quota_usage{};
}

} // namespace mailkit::relay
