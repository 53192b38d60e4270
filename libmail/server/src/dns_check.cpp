// SPDX-License-Identifier: Apache-2.0
// The live DNS check of a mailkit domain (dns_plan.hpp, `mailkit check`).
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/key_record.hpp>
#include <mailkit/dmarc/record.hpp>
#include <mailkit/mtasts/mtasts.hpp>
#include <mailkit/relay/preset.hpp>
#include <mailkit/server/dns_plan.hpp>
#include <mailkit/spf/check_host.hpp>
#include <mailkit/spf/record.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include "dns_text.hpp"

#include <algorithm>
#include <set>

namespace mailkit::server {

namespace {

using detail::json_string;

class checker {
public:
  checker(dns::resolver& r, const dns_settings& s, const check_options& o, check_report& out)
      : r_(r), s_(s), o_(o), out_(out) {}

  void run() {
    auto plan = plan_dns(s_);
    if (!plan) {
      add("settings", check_level::error, plan.error(), "fix the settings and check again");
      return;
    }
    plan_ = std::move(*plan);
    domain_ = plan_.domain;
    host_ = host_from_plan();
    if (!s_.relay.empty()) preset_ = relay::find_preset(s_.relay).value();
    check_mx();
    check_addresses();
    check_ptr();
    check_spf();
    check_dkim();
    check_dmarc();
    check_mta_sts();
    check_tls_rpt();
    check_caa();
    check_dnssec();
    check_srv();
    check_dnsbl();
    check_relay();
  }

private:
  void add(std::string section, check_level level, std::string message,
           std::string instruction = {}) {
    out_.items.push_back({std::move(section), level, std::move(message), std::move(instruction)});
  }

  std::string host_from_plan() const {
    for (const auto& r : plan_.records)
      if (r.type == "MX") return r.value.substr(r.value.find(' ') + 1);
    return "mail." + domain_;
  }

  // A query whose failure becomes an item of `section`; nullopt then.
  std::optional<dns::answer> ask(const std::string& section, const std::string& name,
                                 dns::rtype type) {
    auto a = dns::query(r_, name, type);
    if (!a) {
      add(section, check_level::error,
          "the " + std::string(dns::to_string(type)) + " query for " + name +
              " failed: " + a.error().message(),
          "check that the zone's name servers answer (and DNSSEC validates, when signed)");
      return std::nullopt;
    }
    return std::move(*a);
  }

  std::vector<std::string> txt(const std::string& section, const std::string& name) {
    auto a = ask(section, name, dns::rtype::txt);
    if (!a) return {};
    return a->txt_joined();
  }

  std::string expected_value(std::string_view section, std::string_view name) const {
    for (const auto& r : plan_.records)
      if (r.section == section && iequals(r.name, name)) return r.value;
    return {};
  }

  // ---- sections -------------------------------------------------------------------------

  void check_mx() {
    auto a = ask("mx", domain_, dns::rtype::mx);
    if (!a) return;
    const auto mxs = a->mx_records();
    const std::string want = "publish " + domain_ + ". MX 10 " + host_ + ".";
    if (mxs.empty()) {
      add("mx", check_level::error, "no MX record for " + domain_, want);
      return;
    }
    // RFC 7505: a null MX says the domain receives no mail.
    if (mxs.size() == 1 && mxs[0].exchange.empty()) {
      add("mx", check_level::error, domain_ + " publishes a null MX (it accepts no mail)", want);
      return;
    }
    bool ours = false;
    for (const auto& m : mxs) {
      mx_hosts_.push_back(m.exchange);
      if (dns::same_name(m.exchange, host_)) ours = true;
    }
    if (!ours) {
      add("mx", check_level::error,
          "the MX records point to " + join(mx_hosts_) + ", not to " + host_, want);
    } else {
      add("mx", check_level::ok, "MX " + join(mx_hosts_));
    }
    for (const auto& h : mx_hosts_) {
      if (h.empty()) continue;
      auto v4 = dns::query(r_, h, dns::rtype::a);
      auto v6 = dns::query(r_, h, dns::rtype::aaaa);
      const bool has4 = v4 && !v4->empty(), has6 = v6 && !v6->empty();
      if (!has4 && !has6)
        add("mx", check_level::error, "the MX host " + h + " has no A or AAAA record",
            "publish the host's address");
      // RFC 2181 §10.3: an MX must not point to an alias.
      if ((v4 && !dns::same_name(v4->canonical_name, h)) ||
          (v6 && !dns::same_name(v6->canonical_name, h)))
        add("mx", check_level::warning, "the MX host " + h + " is a CNAME (RFC 2181 §10.3)",
            "point the MX at the host's own A/AAAA name");
    }
  }

  void check_addresses() {
    auto v4 = ask("a", host_, dns::rtype::a);
    auto v6 = ask("a", host_, dns::rtype::aaaa);
    std::vector<std::string> found4, found6;
    if (v4)
      for (const auto& a : v4->a())
        found4.push_back(dns::to_string(a));
    if (v6)
      for (const auto& a : v6->aaaa())
        found6.push_back(dns::to_string(a));
    host_v4_ = found4;
    if (s_.ipv4.empty() && s_.ipv6.empty()) {
      if (found4.empty() && found6.empty())
        add("a", check_level::error, host_ + " has no A or AAAA record",
            "publish " + host_ + " A <the server's public IPv4>");
      else
        add("a", check_level::info,
            host_ + " has " + join(found4) + (found6.empty() ? "" : " " + join(found6)) +
                " (no addresses given to compare)");
      return;
    }
    auto compare = [&](const std::vector<std::string>& want, const std::vector<std::string>& got,
                       const char* type) {
      for (const auto& w : want) {
        // Both sides are in canonical text form (IPv6 normalized below).
        const bool present = std::find(got.begin(), got.end(), w) != got.end();
        if (present)
          add("a", check_level::ok, host_ + " " + type + " " + w);
        else
          add("a", check_level::error, host_ + " has no " + type + " record " + w,
              "publish " + host_ + ". " + type + " " + w);
      }
      for (const auto& g : got)
        if (std::find(want.begin(), want.end(), g) == want.end())
          add("a", check_level::warning, host_ + " also has " + type + " " + g,
              "remove addresses the server does not listen on");
    };
    compare(s_.ipv4, found4, "A");
    // IPv6: compare in canonical text form.
    std::vector<std::string> want6;
    for (const auto& w : s_.ipv6)
      want6.push_back(dns::to_string(*dns::parse_ipv6(w)));
    compare(want6, found6, "AAAA");
  }

  void check_ptr() {
    std::vector<std::string> v4 = s_.ipv4.empty() ? host_v4_ : s_.ipv4;
    for (const auto& text : v4) {
      const auto ip = dns::parse_ipv4(text);
      if (!ip) continue;
      check_one_ptr(text, dns::reverse_name(*ip), dns::rtype::a);
    }
    for (const auto& text : s_.ipv6) {
      const auto ip = dns::parse_ipv6(text);
      if (!ip) continue;
      check_one_ptr(text, dns::reverse_name(*ip), dns::rtype::aaaa);
    }
  }

  void check_one_ptr(const std::string& ip, const std::string& rname, dns::rtype fwd) {
    const std::string fix =
        "set the reverse DNS (PTR) of " + ip + " to " + host_ + " at your hosting provider";
    auto a = ask("ptr", rname, dns::rtype::ptr);
    if (!a) return;
    const auto names = a->names();
    if (names.empty()) {
      add("ptr", check_level::error, ip + " has no PTR record", fix);
      return;
    }
    bool confirmed = false;
    for (const auto& n : names) {
      auto back = dns::query(r_, n, fwd);
      if (!back) continue;
      for (const auto& rec : back->records) {
        std::string t;
        if (const auto* x = std::get_if<dns::ipv4>(&rec.data)) t = dns::to_string(*x);
        if (const auto* x = std::get_if<dns::ipv6>(&rec.data)) t = dns::to_string(*x);
        if (!t.empty() &&
            (t == ip || (fwd == dns::rtype::aaaa && t == dns::to_string(*dns::parse_ipv6(ip)))))
          confirmed = true;
      }
    }
    if (!confirmed) {
      add("ptr", check_level::error,
          ip + " has PTR " + join(names) + ", which does not resolve back to " + ip +
              " (forward-confirmed reverse DNS fails)",
          fix);
      return;
    }
    if (std::none_of(names.begin(), names.end(),
                     [&](const std::string& n) { return dns::same_name(n, host_); }))
      add("ptr", check_level::warning,
          ip + " has PTR " + join(names) + " (forward-confirmed), not " + host_,
          "make the PTR and the HELO name the same host name");
    else
      add("ptr", check_level::ok, ip + " PTR " + host_ + " (forward-confirmed)");
  }

  void check_spf() {
    const auto txts = txt("spf", domain_);
    std::vector<std::string> spf;
    for (const auto& t : txts)
      if (spf::is_spf_record(t)) spf.push_back(t);
    const std::string want =
        "publish " + domain_ + ". TXT \"" + expected_value("spf", domain_) + "\"";
    if (spf.empty()) {
      add("spf", check_level::error, "no SPF record at " + domain_, want);
      return;
    }
    // RFC 7208 §4.5: more than one record is a permerror.
    if (spf.size() > 1) {
      add("spf", check_level::error,
          std::to_string(spf.size()) + " SPF records at " + domain_ + " (a permerror)",
          "merge them into one: " + want);
      return;
    }
    const auto parsed = spf::parse_record(spf[0]);
    if (!parsed) {
      add("spf", check_level::error, "the SPF record does not parse: " + parsed.error().message,
          want);
      return;
    }
    // Evaluate from an address no mechanism names (TEST-NET-1, RFC 5737): every term is walked,
    // so the lookup count is the record's worst case (RFC 7208 §4.6.4 allows 10).
    const auto probe =
        spf::check_host(r_, spf::check_params::mail_from(*spf::parse_ip("192.0.2.1"),
                                                         "postmaster@" + domain_, host_));
    if (probe.result == spf::result::permerror) {
      add("spf", check_level::error, "evaluating the SPF record fails: " + probe.problem,
          "keep the record under 10 DNS lookups and 2 void lookups (RFC 7208 §4.6.4)");
    } else if (probe.result == spf::result::temperror) {
      add("spf", check_level::error, "evaluating the SPF record hit a DNS error: " + probe.problem);
    } else {
      add("spf", probe.dns_lookups > 8 ? check_level::warning : check_level::ok,
          "SPF record \"" + spf[0] + "\": " + std::to_string(probe.dns_lookups) +
              " DNS lookups of 10" + (probe.dns_lookups > 8 ? " (close to the limit)" : ""));
    }
    if (probe.result == spf::result::pass)
      add("spf", check_level::warning, "the SPF record passes any address (+all or similar)",
          "end the record with ~all or -all");
    // The relay's include must be there (textually: the plan's terms).
    if (preset_ && !preset_->spf_include.empty()) {
      const std::string rec = " " + to_lower(spf[0]) + " ";
      std::string_view terms = preset_->spf_include;
      std::vector<std::string> missing;
      while (!terms.empty()) {
        const std::size_t sp = terms.find(' ');
        const std::string term = to_lower(terms.substr(0, sp));
        terms = sp == std::string_view::npos ? std::string_view{} : terms.substr(sp + 1);
        if (!term.empty() && rec.find(" " + term + " ") == std::string::npos &&
            rec.find(" +" + term + " ") == std::string::npos)
          missing.push_back(term);
      }
      if (!missing.empty())
        add("spf", check_level::error,
            "the SPF record lacks " + join(missing) + " for " + preset_->provider,
            "add " + join(missing) + " before the all term");
    }
    // The host's own addresses must pass when it delivers itself.
    if (!preset_ || !s_.relay_only) {
      std::vector<std::string> ips = s_.ipv4;
      ips.insert(ips.end(), s_.ipv6.begin(), s_.ipv6.end());
      for (const auto& ip : ips) {
        const auto res = spf::check_host(
            r_, spf::check_params::mail_from(*spf::parse_ip(ip), "postmaster@" + domain_, host_));
        if (res.result != spf::result::pass)
          add("spf", check_level::error,
              "mail from " + ip + " gets SPF " + std::string(spf::to_string(res.result)),
              "add ip" + std::string(ip.find(':') == std::string::npos ? "4:" : "6:") + ip +
                  " (or mx) to the SPF record");
      }
    }
  }

  void check_dkim() {
    for (const auto& k : s_.dkim) {
      const std::string name = k.selector + "._domainkey." + domain_;
      const std::string want = "publish " + name + ". TXT \"" + k.txt + "\"";
      const auto txts = txt("dkim", name);
      if (txts.empty()) {
        add("dkim", check_level::error, "no DKIM key at " + name, want);
        continue;
      }
      const auto ours = dkim::parse_key_record(k.txt);
      bool match = false, valid = false;
      std::string why;
      for (const auto& t : txts) {
        const auto theirs = dkim::parse_key_record(t);
        if (!theirs.ok) {
          why = theirs.error;
          continue;
        }
        valid = true;
        if (theirs.key.revoked) {
          why = "the published key is revoked (empty p=)";
          continue;
        }
        if (ours.ok && theirs.key.p == ours.key.p && theirs.key.k == ours.key.k) match = true;
      }
      if (match) {
        add("dkim", check_level::ok, "DKIM key " + k.selector + " published and equal to ours");
        dkim_ok_ = true;
      } else if (!valid) {
        add("dkim", check_level::error, "the DKIM record at " + name + " is invalid: " + why, want);
      } else {
        add("dkim", check_level::error,
            "the DKIM key at " + name + " is not ours" + (why.empty() ? "" : " (" + why + ")"),
            want);
      }
    }
    if (s_.dkim.empty())
      add("dkim", check_level::warning, "no DKIM key of ours to check",
          "mailkit dkim keygen " + domain_);
    for (const auto& r : plan_.records) {
      if (r.section != "dkim" || r.type != "CNAME") continue;
      auto a = ask("dkim", r.name, dns::rtype::cname);
      if (!a) continue;
      const auto names = a->names();
      if (std::any_of(names.begin(), names.end(),
                      [&](const std::string& n) { return dns::same_name(n, r.value); })) {
        add("dkim", check_level::ok, r.name + " CNAME " + r.value);
        relay_dkim_ok_ = true;
      } else {
        add("dkim", check_level::error,
            names.empty() ? r.name + " has no CNAME"
                          : r.name + " points to " + join(names) + ", not " + r.value,
            "publish " + r.name + ". CNAME " + r.value + ".");
      }
    }
  }

  void check_dmarc() {
    const std::string name = "_dmarc." + domain_;
    const std::string want = "publish " + name + ". TXT \"" + expected_value("dmarc", name) + "\"";
    const auto txts = txt("dmarc", name);
    std::vector<std::string> recs;
    for (const auto& t : txts)
      if (dmarc::is_dmarc_record(t)) recs.push_back(t);
    if (recs.empty()) {
      add("dmarc", check_level::error, "no DMARC record at " + name, want);
    } else if (recs.size() > 1) {
      // RFC 7489 §6.6.3 step 5: several records: no policy.
      add("dmarc", check_level::error, "several DMARC records at " + name + " (none applies)",
          "keep one: " + want);
    } else if (auto rec = dmarc::parse_record(recs[0]); !rec) {
      add("dmarc", check_level::error, "the DMARC record is invalid: " + rec.error(), want);
    } else {
      if (rec->p == dmarc::policy::none)
        add("dmarc", check_level::warning, "DMARC p=none: failing mail is only reported",
            "move to p=quarantine, then p=reject, once the reports show only your own mail "
            "passing");
      else
        add("dmarc", check_level::ok, "DMARC p=" + std::string(dmarc::to_string(rec->p)));
      if (rec->rua.empty())
        add("dmarc", check_level::warning, "DMARC has no rua=: you get no aggregate reports",
            "add rua=mailto:dmarc-reports@" + domain_);
      for (const auto& w : rec->warnings)
        add("dmarc", check_level::warning, "DMARC record: " + w);
      if (rec->aspf == dmarc::alignment::strict && preset_)
        add("dmarc", check_level::info,
            "aspf=s: SPF never aligns through " + preset_->provider +
                " (its Return-Path is its own); DKIM must carry DMARC");
    }
    // An aligned path must exist: through a relay SPF does not align (the relay's
    // Return-Path), so an aligned DKIM signature has to.
    if (dkim_ok_) {
      add("dmarc", check_level::ok, "aligned path: our DKIM signature (d=" + domain_ + ")");
    } else if (relay_dkim_ok_) {
      add("dmarc", check_level::ok,
          "aligned path: " + preset_->provider + "'s DKIM signature for " + domain_);
    } else if (preset_) {
      add("dmarc", check_level::error,
          "no aligned path: no valid DKIM key of " + domain_ + " is published and " +
              preset_->provider + "'s Return-Path breaks SPF alignment, so DMARC fails",
          "publish our DKIM key (see dkim above)");
    } else {
      add("dmarc", check_level::warning,
          "no DKIM key verified: DMARC rests on SPF alignment alone (forwarding breaks it)",
          "publish our DKIM key");
    }
  }

  void check_mta_sts() {
    const std::string name = "_mta-sts." + domain_;
    const auto txts = txt("mta-sts", name);
    const auto rec = mtasts::select_txt_record(txts);
    if (!rec) {
      const bool present = std::any_of(txts.begin(), txts.end(), [](const std::string& t) {
        return t.rfind("v=STSv1", 0) == 0;
      });
      add("mta-sts", present ? check_level::error : check_level::warning,
          present ? "the _mta-sts record is invalid (or there are several)"
                  : "no MTA-STS record: senders may deliver without TLS",
          "publish " + name + ". TXT \"" + expected_value("mta-sts", name) +
              "\" and serve the policy (mailkitd does)");
      return;
    }
    add("mta-sts", check_level::ok, "MTA-STS record id=" + rec->id);
    auto host = dns::query(r_, "mta-sts." + domain_, dns::rtype::a);
    auto host6 = dns::query(r_, "mta-sts." + domain_, dns::rtype::aaaa);
    if ((!host || host->empty()) && (!host6 || host6->empty()))
      add("mta-sts", check_level::error, "mta-sts." + domain_ + " has no address",
          "publish mta-sts." + domain_ + ". CNAME " + host_ + ".");
    if (!o_.fetch_mta_sts) {
      add("mta-sts", check_level::info, "the policy was not fetched (no HTTPS fetch configured)");
      return;
    }
    auto body = o_.fetch_mta_sts(domain_);
    if (!body) {
      add("mta-sts", check_level::error,
          "fetching https://mta-sts." + domain_ +
              "/.well-known/mta-sts.txt failed: " + body.error(),
          "serve the policy over HTTPS with a valid certificate for mta-sts." + domain_);
      return;
    }
    auto pol = mtasts::parse_policy(*body);
    if (!pol) {
      add("mta-sts", check_level::error, "the MTA-STS policy is invalid: " + pol.error().message(),
          "serve:\n" + plan_.mta_sts_policy);
      return;
    }
    for (const auto& mx : mx_hosts_)
      if (!mx.empty() && !pol->matches(mx))
        add("mta-sts", check_level::error, "the policy's mx patterns do not match the MX " + mx,
            "add \"mx: " + mx + "\" to the policy and change the id");
    if (pol->policy_mode == mtasts::mode::enforce)
      add("mta-sts", check_level::ok,
          "policy mode enforce, max_age " + std::to_string(pol->max_age));
    else
      add("mta-sts",
          pol->policy_mode == mtasts::mode::none ? check_level::warning : check_level::info,
          "policy mode " + std::string(mtasts::to_string(pol->policy_mode)),
          "move to mode: enforce once TLS-RPT reports show no failures");
  }

  void check_tls_rpt() {
    const std::string name = "_smtp._tls." + domain_;
    const auto txts = txt("tls-rpt", name);
    if (auto rec = tlsrpt::select_txt_record(txts)) {
      add("tls-rpt", check_level::ok, "TLS-RPT reports to " + join(rec->rua));
      return;
    }
    add("tls-rpt", check_level::warning, "no valid TLS-RPT record: TLS failures go unreported",
        "publish " + name + ". TXT \"" + expected_value("tls-rpt", name) + "\"");
  }

  void check_caa() {
    // RFC 8659 §3: the relevant CAA set is the first found climbing from the name to the root.
    std::string name = domain_;
    std::vector<dns::caa> set;
    std::string at;
    while (name.find('.') != std::string::npos) {
      auto a = dns::query(r_, name, dns::rtype::caa);
      if (a && !a->caa_records().empty()) {
        set = a->caa_records();
        at = name;
        break;
      }
      name = name.substr(name.find('.') + 1);
    }
    if (set.empty()) {
      add("caa", check_level::info, "no CAA record: any certification authority may issue",
          s_.caa_issuer.empty() ? std::string{}
                                : "publish " + domain_ + ". CAA 0 issue \"" + s_.caa_issuer + "\"");
      return;
    }
    bool any_issue = false, allowed = false;
    for (const auto& c : set) {
      if (!iequals(c.tag, "issue")) continue;
      any_issue = true;
      const std::string_view v = trim(std::string_view(c.value).substr(0, c.value.find(';')));
      if (!s_.caa_issuer.empty() && iequals(v, s_.caa_issuer)) allowed = true;
    }
    if (s_.caa_issuer.empty() || !any_issue || allowed)
      add("caa", check_level::ok,
          "CAA at " + at + " allows " +
              (s_.caa_issuer.empty() ? "the CAs it names" : s_.caa_issuer));
    else
      add("caa", check_level::error,
          "CAA at " + at + " does not allow " + s_.caa_issuer +
              ": certificates for mail and mta-sts hosts cannot be issued or renewed",
          "add " + at + ". CAA 0 issue \"" + s_.caa_issuer + "\"");
  }

  void check_dnssec() {
    auto a = dns::query(r_, domain_, dns::rtype::soa);
    if (a && a->authenticated)
      add("dnssec", check_level::ok, domain_ + " is DNSSEC-signed and validated (AD bit)");
    else
      add("dnssec", check_level::warning,
          domain_ + " answers are not DNSSEC-validated (unsigned zone, or a resolver that does "
                    "not validate)",
          "sign the zone at your DNS host; check with a validating resolver (unbound)");
  }

  void check_srv() {
    if (!s_.autoconfig) return;
    for (const auto& r : plan_.records) {
      if (r.section != "srv" || r.type != "SRV") continue;
      auto a = dns::query(r_, r.name, dns::rtype::srv);
      const auto recs = a ? a->srv_records() : std::vector<dns::srv>{};
      if (recs.empty()) {
        add("srv", check_level::info, "no " + r.name + " SRV record (clients guess settings)",
            "publish " + r.name + ". SRV " + r.value + ".");
        continue;
      }
      if (std::any_of(recs.begin(), recs.end(),
                      [&](const dns::srv& x) { return dns::same_name(x.target, host_); }))
        add("srv", check_level::ok, r.name + " SRV -> " + host_);
      else
        add("srv", check_level::warning, r.name + " SRV points elsewhere",
            "publish " + r.name + ". SRV " + r.value + ".");
    }
  }

  void check_dnsbl() {
    std::vector<std::string> ips = s_.ipv4.empty() ? host_v4_ : s_.ipv4;
    for (const auto& text : ips) {
      const auto ip = dns::parse_ipv4(text);
      if (!ip) continue;
      // RFC 5782 §2.1: the octets reversed under the list's zone.
      std::string q = std::to_string(ip->bytes[3]) + "." + std::to_string(ip->bytes[2]) + "." +
                      std::to_string(ip->bytes[1]) + "." + std::to_string(ip->bytes[0]);
      for (const auto& zone : o_.dnsbl_zones) {
        auto a = dns::query(r_, q + "." + zone, dns::rtype::a);
        if (!a) {
          add("dnsbl", check_level::warning,
              "could not query " + zone + " for " + text + ": " + a.error().message());
          continue;
        }
        const auto addrs = a->a();
        if (addrs.empty()) {
          add("dnsbl", check_level::ok, text + " is not listed in " + zone);
          continue;
        }
        bool listed = false, refused = false;
        std::string codes;
        for (const auto& x : addrs) {
          codes += (codes.empty() ? "" : ", ") + dns::to_string(x);
          if (classify_dnsbl(zone, x) == dnsbl_answer::listed) listed = true;
          if (classify_dnsbl(zone, x) == dnsbl_answer::refused) refused = true;
        }
        if (listed)
          add("dnsbl", check_level::error, text + " is listed in " + zone + " (" + codes + ")",
              "request delisting at the list's web site; until then mail from this address is "
              "refused by many receivers (the relay's addresses are unaffected)");
        else if (refused)
          add("dnsbl", check_level::warning,
              zone + " refused the query for " + text + " (" + codes +
                  "): the resolver is public or over its quota; this is not a listing",
              "check from a resolver of your own (unbound)");
      }
    }
  }

  void check_relay() {
    if (!preset_) return;
    add("relay", check_level::info,
        "outbound through " + preset_->provider + " (" + preset_->host + ":" +
            std::to_string(preset_->port) + ")");
    if (!preset_->requires_approved_sender) return;
    if (o_.approved_senders.empty()) {
      add("relay", check_level::warning,
          preset_->provider + " sends only for approved senders, and none are configured",
          "approve your From addresses in the " + preset_->provider +
              " console and list them in the relay's approved_senders");
      return;
    }
    for (const auto& a : o_.approved_senders) {
      const std::size_t at = a.rfind('@');
      const std::string d = at == std::string::npos ? a : a.substr(at + 1);
      if (!dns::same_name(d, domain_))
        add("relay", check_level::warning,
            "approved sender " + a + " is not in " + domain_ +
                " (DMARC alignment of its mail depends on that domain's records)");
      else
        add("relay", check_level::ok, "approved sender " + a);
    }
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v)
      out += (out.empty() ? "" : ", ") + (s.empty() ? std::string(".") : s);
    return out;
  }

  dns::resolver& r_;
  const dns_settings& s_;
  const check_options& o_;
  check_report& out_;
  dns_plan plan_;
  std::string domain_, host_;
  std::optional<relay::preset> preset_;
  std::vector<std::string> mx_hosts_, host_v4_;
  bool dkim_ok_ = false, relay_dkim_ok_ = false;
};

} // namespace

std::string_view to_string(check_level l) noexcept {
  switch (l) {
  case check_level::ok:
    return "ok";
  case check_level::info:
    return "info";
  case check_level::warning:
    return "warning";
  case check_level::error:
    return "error";
  }
  return "?";
}

unsigned check_report::count(check_level l) const noexcept {
  return static_cast<unsigned>(
      std::count_if(items.begin(), items.end(), [l](const check_item& i) { return i.level == l; }));
}

dnsbl_answer classify_dnsbl(std::string_view zone, const dns::ipv4& a) noexcept {
  (void)zone;
  if (a.bytes[0] != 127) return dnsbl_answer::refused; // not a DNSBL answer at all
  // Spamhaus: 127.255.255.252 typo/bad zone, .254 query through a public resolver,
  // .255 excessive queries: refusals, never listings.
  if (a.bytes[1] == 255 && a.bytes[2] == 255) return dnsbl_answer::refused;
  // RFC 5782 §2.1: 127.0.0.2 and the rest of 127/8 (other than 127.0.0.1) mean listed.
  if (a.bytes[1] == 0 && a.bytes[2] == 0 && a.bytes[3] == 1) return dnsbl_answer::refused;
  return dnsbl_answer::listed;
}

check_report check_dns(dns::resolver& r, const dns_settings& s, const check_options& o) {
  check_report out;
  out.domain = s.domain;
  checker(r, s, o, out).run();
  return out;
}

std::string to_text(const check_report& r) {
  std::string out = "mailkit check " + r.domain + "\n";
  std::string section;
  for (const auto& i : r.items) {
    if (i.section != section) {
      section = i.section;
      out += "\n" + section + "\n";
    }
    std::string tag = "[" + std::string(to_string(i.level)) + "]";
    tag.resize(10, ' ');
    out += "  " + tag + i.message + "\n";
    if (!i.instruction.empty() && i.level != check_level::ok)
      out += "            -> " + i.instruction + "\n";
  }
  out += "\n" + std::to_string(r.count(check_level::error)) + " errors, " +
         std::to_string(r.count(check_level::warning)) + " warnings\n";
  return out;
}

std::string to_json(const check_report& r) {
  std::string out = "{\"domain\":" + json_string(r.domain) +
                    ",\"errors\":" + std::to_string(r.count(check_level::error)) +
                    ",\"warnings\":" + std::to_string(r.count(check_level::warning)) +
                    ",\"items\":[";
  bool first = true;
  for (const auto& i : r.items) {
    if (!first) out += ',';
    first = false;
    out += "{\"section\":" + json_string(i.section) +
           ",\"level\":" + json_string(to_string(i.level)) +
           ",\"message\":" + json_string(i.message) +
           ",\"instruction\":" + json_string(i.instruction) + "}";
  }
  out += "]}";
  return out;
}

} // namespace mailkit::server
