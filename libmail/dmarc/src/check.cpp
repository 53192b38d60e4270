// SPDX-License-Identifier: Apache-2.0
// DMARC policy discovery and evaluation as a small explicit state machine (no I/O), plus the
// blocking and asynchronous drivers.
#include <mailkit/core/bytes.hpp>
#include <mailkit/dmarc/check.hpp>

#include <mailkit/dns/drive.hpp>

#include <algorithm>
#include <random>

namespace mailkit::dmarc {

namespace {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

policy lower_one_step(policy p) noexcept {
  // RFC 7489 §6.6.4: a message not selected by pct gets the next less strict policy.
  switch (p) {
  case policy::reject:
    return policy::quarantine;
  case policy::quarantine:
    return policy::none;
  case policy::none:
    return policy::none;
  }
  return policy::none;
}

} // namespace

std::string_view to_string(result r) noexcept {
  switch (r) {
  case dmarc::result::none:
    return "none";
  case dmarc::result::pass:
    return "pass";
  case dmarc::result::fail:
    return "fail";
  case dmarc::result::temperror:
    return "temperror";
  case dmarc::result::permerror:
    return "permerror";
  }
  return "none";
}

std::optional<auth_result> parse_auth_result(std::string_view s) noexcept {
  const std::pair<std::string_view, auth_result> names[] = {
      {"none", auth_result::none},           {"pass", auth_result::pass},
      {"fail", auth_result::fail},           {"neutral", auth_result::neutral},
      {"policy", auth_result::policy},       {"temperror", auth_result::temperror},
      {"permerror", auth_result::permerror},
  };
  for (const auto& [n, r] : names)
    if (n == s) return r;
  return std::nullopt;
}

bool aligned(std::string_view a, std::string_view b, alignment mode) {
  const std::string x = ascii_lower(a), y = ascii_lower(b);
  if (x.empty() || y.empty()) return false;
  // RFC 7489 §3.1.1/§3.1.2: strict needs an exact match; relaxed, the same organizational
  // domain.
  if (mode == alignment::strict) return x == y;
  return x == y || organizational_domain(x) == organizational_domain(y);
}

struct evaluator::impl {
  enum class state { start, from_txt, org_txt, exists_a, exists_aaaa, exists_mx, done };

  check_params params;
  check_result out;
  state st = state::start;
  question pending;
  bool found_at_org = false;

  explicit impl(check_params p) : params(std::move(p)) {
    out.from_domain = ascii_lower(params.from_domain);
    out.org_domain = organizational_domain(out.from_domain);
  }

  void ask(state s, std::string name, dns::rtype type) {
    st = s;
    pending.name = std::move(name);
    pending.type = type;
  }

  void finish(dmarc::result r, std::string problem = {}) {
    out.result = r;
    out.problem = std::move(problem);
    st = state::done;
  }

  void start() {
    // RFC 7489 §6.6.1: without an Author Domain no DMARC evaluation is possible.
    if (out.from_domain.empty()) return finish(dmarc::result::none, "no RFC5322.From domain");
    // RFC 7489 §6.6.3 step 1: _dmarc.<From domain>.
    ask(state::from_txt, "_dmarc." + out.from_domain, dns::rtype::txt);
  }

  // Picks the DMARC record among TXT records. Returns false after finishing (error/permerror).
  // `text` empty and true: no DMARC record.
  bool select(const dns::query_result& a, const std::string& where, std::string& text) {
    if (!a) {
      finish(dmarc::result::temperror,
             "DNS error looking up _dmarc." + where + ": " + a.error().message());
      return false;
    }
    unsigned n = 0;
    for (const auto& rec : a->records) {
      const auto* t = std::get_if<dns::txt>(&rec.data);
      if (!t) continue;
      std::string joined;
      for (const auto& s : t->strings)
        joined += s;
      // RFC 7489 §6.6.3 step 3: records not starting with v=DMARC1 are discarded.
      if (is_dmarc_record(joined)) {
        ++n;
        text = std::move(joined);
      }
    }
    // RFC 7489 §6.6.3 step 3: several records: no DMARC processing (an invalid policy).
    if (n > 1) {
      finish(dmarc::result::permerror, "several DMARC records at _dmarc." + where);
      return false;
    }
    return true;
  }

  void use_record(const std::string& text, const std::string& where) {
    auto rec = parse_record(text);
    if (!rec) return finish(dmarc::result::permerror, rec.error() + " (at _dmarc." + where + ")");
    out.rec = std::move(*rec);
    out.record_domain = where;
    if (!found_at_org) {
      out.policy = out.rec->p;
      out.policy_tag = "p";
      return evaluate();
    }
    // RFC 7489 §6.3 sp=: the policy for subdomains of the organizational domain; p= if absent.
    out.policy = out.rec->sp.value_or(out.rec->p);
    out.policy_tag = out.rec->sp ? "sp" : "p";
    if (out.rec->np) {
      // RFC 9091 §4.1: np= applies to a non-existent subdomain: NXDOMAIN for A, AAAA and MX.
      return ask(state::exists_a, out.from_domain, dns::rtype::a);
    }
    evaluate();
  }

  void non_existent() {
    out.policy = out.rec->np;
    out.policy_tag = "np";
    evaluate();
  }

  unsigned draw() const {
    if (params.sample) return *params.sample % 100;
    std::mt19937 gen(params.seed ? *params.seed : std::random_device{}());
    return std::uniform_int_distribution<unsigned>(0, 99)(gen);
  }

  void evaluate() {
    const record& r = *out.rec;
    const std::string& from = out.from_domain;
    // RFC 7489 §3.1.2: SPF-authenticated identifier alignment (a pass, aligned per aspf).
    out.spf_aligned =
        params.spf_result == spf::result::pass && aligned(params.spf_domain, from, r.aspf);
    // RFC 7489 §3.1.1: any passing DKIM signature whose d= is aligned per adkim.
    bool temp =
        params.spf_result == spf::result::temperror && aligned(params.spf_domain, from, r.aspf);
    for (const auto& d : params.dkim) {
      if (!aligned(d.domain, from, r.adkim)) continue;
      if (d.result == auth_result::pass && !out.dkim_aligned) {
        out.dkim_aligned = true;
        out.dkim_domain = ascii_lower(d.domain);
      }
      if (d.result == auth_result::temperror) temp = true;
    }
    // RFC 7489 §4.2: DMARC passes when either aligned identifier passes.
    if (out.spf_aligned || out.dkim_aligned) {
      out.disposition = policy::none;
      return finish(dmarc::result::pass);
    }
    // A temporary failure of an aligned identifier could have been a pass: temperror.
    if (temp) {
      out.disposition = policy::none;
      return finish(dmarc::result::temperror, "an aligned SPF or DKIM check had a temporary error");
    }
    // RFC 7489 §6.6.4: pct sampling.
    out.disposition = *out.policy;
    if (r.pct < 100 && draw() >= r.pct) {
      out.sampled_out = true;
      out.disposition = lower_one_step(*out.policy);
    }
    finish(dmarc::result::fail, "no aligned SPF or DKIM pass");
  }

  void on_answer(dns::query_result a) {
    switch (st) {
    case state::from_txt: {
      std::string text;
      if (!select(a, out.from_domain, text)) return;
      if (!text.empty()) return use_record(text, out.from_domain);
      // RFC 7489 §6.6.3 step 2: none at the From domain: try the organizational domain.
      if (out.org_domain == out.from_domain)
        return finish(dmarc::result::none, "no DMARC record at _dmarc." + out.from_domain);
      return ask(state::org_txt, "_dmarc." + out.org_domain, dns::rtype::txt);
    }
    case state::org_txt: {
      std::string text;
      if (!select(a, out.org_domain, text)) return;
      if (text.empty())
        return finish(dmarc::result::none, "no DMARC record at _dmarc." + out.from_domain +
                                               " or _dmarc." + out.org_domain);
      found_at_org = true;
      return use_record(text, out.org_domain);
    }
    case state::exists_a:
    case state::exists_aaaa:
    case state::exists_mx: {
      // A DNS error, or any answer that is not NXDOMAIN, means the name may exist.
      if (!a || a->code != dns::rcode::nxdomain) return evaluate();
      if (st == state::exists_a) return ask(state::exists_aaaa, out.from_domain, dns::rtype::aaaa);
      if (st == state::exists_aaaa) return ask(state::exists_mx, out.from_domain, dns::rtype::mx);
      return non_existent();
    }
    case state::start:
    case state::done:
      return;
    }
  }
};

evaluator::evaluator(check_params params) : impl_(std::make_unique<impl>(std::move(params))) {}
evaluator::~evaluator() = default;
evaluator::evaluator(evaluator&&) noexcept = default;
evaluator& evaluator::operator=(evaluator&&) noexcept = default;

const question* evaluator::next() {
  if (impl_->st == impl::state::start) impl_->start();
  return impl_->st == impl::state::done ? nullptr : &impl_->pending;
}

void evaluator::feed(dns::query_result answer) {
  impl_->on_answer(std::move(answer));
}

bool evaluator::done() const noexcept {
  return impl_->st == impl::state::done;
}

const check_result& evaluator::result() const noexcept {
  return impl_->out;
}

check_result evaluator::take_result() noexcept {
  return std::move(impl_->out);
}

check_result check(dns::resolver& resolver, const check_params& params) {
  evaluator ev(params);
  return dns::drive(resolver, ev);
}

namespace {

int strictness(const check_result& r) {
  if (r.result != dmarc::result::fail) return -1;
  return static_cast<int>(r.disposition);
}

} // namespace

void async_check(dns::resolver& resolver, check_params params,
                 std::function<void(check_result)> handler) {
  dns::async_drive(resolver, evaluator(std::move(params)), std::move(handler));
}

namespace {

// RFC 7489 §6.6.1: the distinct From domains, lower case, in order.
std::vector<std::string> distinct_domains(const std::vector<std::string>& from_domains) {
  std::vector<std::string> distinct;
  for (const auto& d : from_domains) {
    std::string l = ascii_lower(d);
    if (!l.empty() && std::find(distinct.begin(), distinct.end(), l) == distinct.end())
      distinct.push_back(std::move(l));
  }
  return distinct;
}

check_result no_from_domain() {
  // RFC 7489 §6.6.1: no usable From domain: the message is not RFC 5322 valid.
  check_result r;
  r.result = dmarc::result::none;
  r.problem = "no RFC5322.From domain";
  return r;
}

// RFC 7489 §6.6.1: with several From domains, check each; apply the most strict policy among
// those that fail. Without a failure, the first result stands (pass when all pass).
void keep_stricter(std::optional<check_result>& best, check_result r) {
  if (!best || strictness(r) > strictness(*best) ||
      (strictness(*best) < 0 && best->result == dmarc::result::pass &&
       r.result != dmarc::result::pass))
    best = std::move(r);
}

struct async_from_op : std::enable_shared_from_this<async_from_op> {
  dns::resolver& resolver;
  std::vector<std::string> domains;
  check_params base;
  std::function<void(check_result)> handler;
  std::size_t next = 0;
  std::optional<check_result> best;

  async_from_op(dns::resolver& r, std::vector<std::string> d, check_params b,
                std::function<void(check_result)> h)
      : resolver(r), domains(std::move(d)), base(std::move(b)), handler(std::move(h)) {}

  // One domain at a time; each completion starts the next (static_resolver completes inline,
  // so the recursion depth is bounded by the number of distinct From domains).
  void step() {
    if (next == domains.size()) {
      auto h = std::move(handler);
      h(std::move(*best));
      return;
    }
    check_params p = base;
    p.from_domain = domains[next++];
    async_check(resolver, std::move(p), [self = shared_from_this()](check_result r) {
      keep_stricter(self->best, std::move(r));
      self->step();
    });
  }
};

} // namespace

check_result check_from_domains(dns::resolver& resolver,
                                const std::vector<std::string>& from_domains,
                                const check_params& base) {
  const std::vector<std::string> distinct = distinct_domains(from_domains);
  if (distinct.empty()) return no_from_domain();
  std::optional<check_result> best;
  for (const auto& d : distinct) {
    check_params p = base;
    p.from_domain = d;
    keep_stricter(best, check(resolver, p));
  }
  return std::move(*best);
}

void async_check_from_domains(dns::resolver& resolver, std::vector<std::string> from_domains,
                              check_params base, std::function<void(check_result)> handler) {
  std::vector<std::string> distinct = distinct_domains(from_domains);
  if (distinct.empty()) return handler(no_from_domain());
  auto op = std::make_shared<async_from_op>(resolver, std::move(distinct), std::move(base),
                                            std::move(handler));
  op->step();
}

namespace {

// RFC 8601 §2.2: pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]; a domain
// taken from a From field may hold anything, so whatever is not a plain dot-atom is quoted.
std::string pvalue(std::string_view v) {
  return is_dot_atom(v) ? std::string(v) : quoted_string(v);
}

} // namespace

std::string authentication_results_part(const check_result& res) {
  // RFC 7489 §11.2: method "dmarc", ptype "header", property "from". The comment carries the
  // published policy and the disposition, as common practice (p=, dis=).
  std::string out = "dmarc=";
  out += to_string(res.result);
  if (res.policy) {
    out += " (p=";
    out += to_string(*res.policy);
    out += " dis=";
    out += to_string(res.disposition);
    out += ")";
  } else if (!res.problem.empty()) {
    std::string c;
    for (char ch : res.problem) {
      if (ch == '(' || ch == ')' || ch == '\\') c.push_back('\\');
      if (ch != '\r' && ch != '\n') c.push_back(ch);
    }
    out += " (" + c + ")";
  }
  if (!res.from_domain.empty()) out += " header.from=" + pvalue(res.from_domain);
  return out;
}

} // namespace mailkit::dmarc
