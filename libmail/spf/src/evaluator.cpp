// SPDX-License-Identifier: Apache-2.0
// check_host() of RFC 7208, written as the RFC's recursive procedure on coroutines (task.hpp).
// A DNS question suspends the chain; evaluator::feed() resumes it with the answer. Nothing
// here does I/O.
#include <mailkit/core/bytes.hpp>
#include <mailkit/spf/check_host.hpp>
#include <mailkit/spf/macro.hpp>
#include <mailkit/spf/record.hpp>

#include "task.hpp"

// The coroutine frames come from the evaluator's arena through a promise operator new that takes
// the coroutine's arguments, paired with the promise's sized operator delete as C++20
// [dcl.fct.def.coroutine] p9-p12 prescribe. GCC's -Wmismatched-new-delete does not know that
// pairing and flags every coroutine here (at -O0); the pairing is the standard one.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <coroutine>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace mailkit::spf {

namespace {

using detail::task;

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Is `name` equal to `domain` or below it (case-insensitive, RFC 7208 §5.5)?
bool is_at_or_below(std::string_view name, std::string_view domain) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (iequals(name, domain)) return true;
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         iequals(name.substr(name.size() - domain.size()), domain);
}

// Can a DNS question be composed for this name (RFC 1035 §2.3.4: labels 1-63 octets, name at
// most 253)? Names that fail are treated as non-existent without asking (RFC 7208 §4.3 by
// analogy; the test suite accepts this for mechanism targets).
bool is_queryable(std::string_view name) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (++label > 63) {
      return false;
    }
  }
  return label > 0;
}

// RFC 7208 §4.3: "If the <domain> is malformed (e.g., label longer than 63 characters,
// zero-length label not at the end, etc.) or is not a multi-label domain name, ... check_host()
// immediately returns the result "none"". Address literals ("[192.0.2.1]") and an all-numeric
// top label are not domain names either.
bool is_valid_check_domain(std::string_view d) noexcept {
  if (!is_queryable(d)) return false;
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  const auto dot = d.rfind('.');
  if (dot == std::string_view::npos) return false;
  for (char c : d)
    if (c == '[' || c == ']' || c == ' ' || static_cast<unsigned char>(c) < 0x20) return false;
  const auto top = d.substr(dot + 1);
  return !std::all_of(top.begin(), top.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_ascii(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool cidr_match(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) noexcept {
  const unsigned full = bits / 8;
  if (full > 0 && std::memcmp(a, b, full) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

result from_qualifier(qualifier q) noexcept {
  switch (q) {
  case qualifier::pass:
    return result::pass;
  case qualifier::fail:
    return result::fail;
  case qualifier::softfail:
    return result::softfail;
  case qualifier::neutral:
    return result::neutral;
  }
  return result::neutral;
}

// What check_host() returns at one level.
struct outcome {
  result res = result::none;
  std::string mechanism;
  std::string explanation;
  std::string problem;
};

outcome make(result r, std::string problem = {}) {
  outcome o;
  o.res = r;
  o.problem = std::move(problem);
  return o;
}

// What one mechanism evaluated to.
enum class match { no, yes, temperror, permerror };
struct mech_outcome {
  match m = match::no;
  std::string problem;
};

} // namespace

// Parsed records by their text, per thread: a receiving server sees the same few records again
// and again, and parsing is the largest single cost of an evaluation over cached DNS answers.
// Entries are shared so that clearing the cache (when it is full) never pulls a record from
// under a suspended evaluation that still reads it.
struct parsed_record {
  std::string text;
  parse_result result; // views into `text`
  explicit parsed_record(std::string_view t) : text(t), result(parse_record(text)) {}
};

std::shared_ptr<const parsed_record> cached_parse(std::string_view text) {
  static constexpr std::size_t max_entries = 512; // a bound, not a tuning knob
  thread_local std::unordered_map<std::string_view, std::shared_ptr<const parsed_record>,
                                  fast_string_hash, std::equal_to<>>
      cache;
  if (auto it = cache.find(text); it != cache.end()) return it->second;
  if (cache.size() >= max_entries) cache.clear();
  auto entry = std::make_shared<const parsed_record>(text);
  cache.emplace(std::string_view(entry->text), entry);
  return entry;
}

// An answer as the evaluation sees it: owned (fed by value) or borrowed from the resolver
// (feed_borrowed, no copy). Reads like the dns::query_result it stands for.
class answer_view {
public:
  explicit answer_view(const dns::query_result* borrowed) : ptr_(borrowed) {}
  explicit answer_view(dns::query_result owned) : owned_(std::move(owned)) {}
  explicit operator bool() const noexcept { return get().has_value(); }
  const dns::answer& operator*() const { return *get(); }
  const dns::answer* operator->() const { return &*get(); }
  const error_code& error() const { return get().error(); }

private:
  const dns::query_result& get() const { return owned_ ? *owned_ : *ptr_; }
  std::optional<dns::query_result> owned_;
  const dns::query_result* ptr_ = nullptr;
};

struct evaluator::impl {
  check_params params;
  check_result out;
  bool is_v4 = true;
  std::array<std::uint8_t, 16> ip{}; // 4 or 16 octets used
  // Macro values that do not change during evaluation (RFC 7208 §7.2).
  std::string local_part, sender_domain, i_value, c_value, t_value, reverse;
  std::optional<std::vector<std::string>> validated; // for %{p}, computed once
  std::string p_value;

  // Coroutine frames come from here (task.hpp): a bump arena, freed with the evaluator. The
  // number of frames is bounded by the §4.6.4 limits; the inline block covers most checks.
  detail::frame_arena arena;

  // The suspended question and its answer.
  question pending;
  std::coroutine_handle<> waiting;
  std::optional<dns::query_result> answer;
  const dns::query_result* borrowed = nullptr; // feed_borrowed(): outlives the evaluation
  task<outcome> root;
  bool started = false;
  bool finished = false;

  // The state is a few KB (the inline coroutine arena): each thread keeps the block of its last
  // finished evaluation for the next one instead of going back to malloc for it.
  struct spare_block {
    void* p = nullptr;
    ~spare_block() { ::operator delete(p); }
  };
  static spare_block& spare() {
    thread_local spare_block s;
    return s;
  }
  static void* operator new(std::size_t n) {
    if (n == sizeof(impl))
      if (void* p = std::exchange(spare().p, nullptr)) return p;
    return ::operator new(n);
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    if (n == sizeof(impl) && spare().p == nullptr) {
      spare().p = p;
      return;
    }
    ::operator delete(p);
  }

  explicit impl(check_params p) : params(std::move(p)) {
    prepare();
    root = run(params.domain, true);
  }

  void prepare() {
    if (const auto* v4 = std::get_if<dns::ipv4>(&params.ip)) {
      std::copy(v4->bytes.begin(), v4->bytes.end(), ip.begin());
      is_v4 = true;
    } else {
      const auto& v6 = std::get<dns::ipv6>(params.ip).bytes;
      static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::memcmp(v6.data(), mapped, 12) == 0) {
        // RFC 7208 §5: IPv4-mapped IPv6 is treated as IPv4.
        std::copy(v6.begin() + 12, v6.end(), ip.begin());
        is_v4 = true;
        params.ip = dns::ipv4{{ip[0], ip[1], ip[2], ip[3]}};
      } else {
        std::copy(v6.begin(), v6.end(), ip.begin());
        is_v4 = false;
      }
    }
    // RFC 7208 §4.3: a sender with no local-part uses "postmaster".
    const auto at = params.sender.rfind('@');
    if (at == std::string::npos) {
      local_part = "postmaster";
      sender_domain = params.sender;
    } else {
      local_part = params.sender.substr(0, at);
      sender_domain = params.sender.substr(at + 1);
      if (local_part.empty()) local_part = "postmaster";
    }
    if (params.domain.empty()) params.domain = sender_domain;
    if (!params.domain.empty() && params.domain.back() == '.') params.domain.pop_back();
    out.domain = params.domain;
  }

  // %{c} and %{i} (RFC 7208 §7.3), made on first use: most records expand no macro.
  void ensure_ip_text() {
    if (!c_value.empty()) return;
    c_value = to_string(params.ip);
    if (is_v4) {
      i_value = c_value;
    } else {
      // RFC 7208 §7.3: for IPv6 %{i} is the 32 nibbles, dot-separated.
      static constexpr char hex[] = "0123456789ABCDEF";
      for (int k = 0; k < 16; ++k) {
        if (k) i_value.push_back('.');
        i_value.push_back(hex[ip[k] >> 4]);
        i_value.push_back('.');
        i_value.push_back(hex[ip[k] & 15]);
      }
    }
  }

  // The reverse-mapping name of <ip> (RFC 1035 §3.5, RFC 3596 §2.5), made on first use (only
  // "ptr" and %{p} need it).
  const std::string& reverse_name() {
    if (!reverse.empty()) return reverse;
    ensure_ip_text();
    if (is_v4) {
      std::string_view q = c_value; // the dotted quad, parts in reverse order
      for (int k = 0; k < 4; ++k) {
        const auto dot = q.rfind('.');
        reverse.append(dot == std::string_view::npos ? q : q.substr(dot + 1));
        reverse.push_back('.');
        q = dot == std::string_view::npos ? std::string_view{} : q.substr(0, dot);
      }
      reverse += "in-addr.arpa";
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      for (int k = 15; k >= 0; --k) {
        reverse.push_back(hex[ip[static_cast<std::size_t>(k)] & 15]);
        reverse.push_back('.');
        reverse.push_back(hex[ip[static_cast<std::size_t>(k)] >> 4]);
        reverse.push_back('.');
      }
      reverse += "ip6.arpa";
    }
    return reverse;
  }

  macro_values values(std::string_view domain) {
    ensure_ip_text();
    macro_values v;
    v.s = params.sender;
    v.l = local_part;
    v.o = sender_domain;
    v.d = domain;
    v.i = i_value;
    v.p = p_value.empty() ? std::string_view("unknown") : std::string_view(p_value);
    v.v = is_v4 ? "in-addr" : "ip6";
    v.h = params.helo;
    v.c = c_value;
    v.r = params.receiver;
    v.t = t_value;
    return v;
  }

  // ---- DNS ------------------------------------------------------------------------------

  // co_await ask(name, type): suspends until feed(). A name that cannot be queried answers
  // NXDOMAIN at once.
  struct ask_awaiter {
    impl& self;
    std::string_view name; // lives in the awaiting coroutine's frame while it is suspended
    dns::rtype type;
    bool await_ready() const noexcept { return !is_queryable(name); }
    void await_suspend(std::coroutine_handle<> h) {
      ++self.out.queries;
      self.pending.name.assign(name); // reuses the buffer of the previous question
      self.pending.type = type;
      self.waiting = h;
    }
    answer_view await_resume() {
      if (self.borrowed != nullptr) {
        const dns::query_result* r = std::exchange(self.borrowed, nullptr);
        if (*r || r->error() != dns::make_error_code(dns::errc::bad_name)) return answer_view(r);
      } else if (self.answer) {
        dns::query_result r = std::move(*self.answer);
        self.answer.reset();
        if (r || r.error() != dns::make_error_code(dns::errc::bad_name))
          return answer_view(std::move(r));
      }
      // Not asked (await_ready), or a name the resolver cannot put into a query (IDNA, label
      // rules): it does not exist, as for the malformed names caught by await_ready (RFC 7208
      // §4.3 by analogy).
      dns::answer a;
      a.name = std::string(name);
      a.type = type;
      a.code = dns::rcode::nxdomain;
      return answer_view(dns::query_result(std::move(a)));
    }
  };
  ask_awaiter ask(std::string_view name, dns::rtype type) { return ask_awaiter{*this, name, type}; }

  // RFC 7208 §4.6.4: at most `dns_terms` terms that cause DNS queries.
  bool count_term() {
    ++out.dns_lookups;
    return out.dns_lookups <= params.limits.dns_terms;
  }
  // RFC 7208 §4.6.4: void lookups (NXDOMAIN, or no answer records).
  bool count_void() {
    ++out.void_lookups;
    return out.void_lookups <= params.limits.void_lookups;
  }

  std::string too_many_terms() const {
    return "more than " + std::to_string(params.limits.dns_terms) +
           " DNS-querying terms (RFC 7208 4.6.4)";
  }
  std::string too_many_voids() const {
    return "more than " + std::to_string(params.limits.void_lookups) +
           " void lookups (RFC 7208 4.6.4)";
  }

  // Addresses of the client's family in an A or AAAA answer.
  bool any_address_matches(const dns::answer& a, unsigned bits) const {
    for (const auto& rec : a.records) {
      if (is_v4) {
        if (const auto* v = std::get_if<dns::ipv4>(&rec.data))
          if (cidr_match(v->bytes.data(), ip.data(), bits)) return true;
      } else {
        if (const auto* v = std::get_if<dns::ipv6>(&rec.data))
          if (cidr_match(v->bytes.data(), ip.data(), bits)) return true;
      }
    }
    return false;
  }

  dns::rtype addr_type() const noexcept { return is_v4 ? dns::rtype::a : dns::rtype::aaaa; }

  // RFC 7208 §5.5 / §7.3 validated domain names of <ip>: PTR names (at most ptr_names) whose
  // forward lookup includes <ip>. `only_below`: skip names not at or below that domain (an
  // allowed shortcut for the "ptr" mechanism: other names could never match). DNS errors
  // skip the name (§5.5). Returns nullopt when the PTR lookup itself failed.
  task<std::optional<std::vector<std::string>>>
  validated_names(std::string only_below, bool count_as_term_void, bool* void_exceeded) {
    std::vector<std::string> names;
    auto ptr = co_await ask(reverse_name(), dns::rtype::ptr);
    if (!ptr) co_return std::nullopt;
    if (ptr->records.empty()) {
      if (count_as_term_void && !count_void()) *void_exceeded = true;
      co_return names;
    }
    unsigned seen = 0;
    for (const auto& rec : ptr->records) {
      const auto* n = std::get_if<dns::name_rdata>(&rec.data);
      if (!n) continue;
      // RFC 7208 §4.6.4: only the first 10 PTR names are looked at; the rest are ignored.
      if (++seen > params.limits.ptr_names) break;
      if (!only_below.empty() && !is_at_or_below(n->name, only_below)) continue;
      auto fwd = co_await ask(n->name, addr_type());
      if (!fwd) continue; // RFC 7208 §5.5: a DNS error skips this name
      if (any_address_matches(*fwd, is_v4 ? 32 : 128)) names.push_back(n->name);
    }
    co_return names;
  }

  // %{p}: RFC 7208 §7.3 prefers <domain> itself, then a subdomain of it, then any validated
  // name; "unknown" when none validates or on a DNS error.
  task<bool> resolve_p(std::string domain) {
    if (!validated) {
      bool ignored = false;
      auto v = co_await validated_names({}, false, &ignored);
      validated = v ? std::move(*v) : std::vector<std::string>{};
    }
    p_value.clear();
    for (const auto& n : *validated)
      if (iequals(n, domain)) p_value = n;
    if (p_value.empty())
      for (const auto& n : *validated)
        if (is_at_or_below(n, domain)) {
          p_value = n;
          break;
        }
    if (p_value.empty() && !validated->empty()) p_value = validated->front();
    if (p_value.empty()) p_value = "unknown";
    if (!p_value.empty() && p_value.back() == '.') p_value.pop_back();
    co_return true;
  }

  // Does expanding `spec` need %{p}? Then the caller first does co_await resolve_p(domain).
  static bool needs_p(std::string_view spec) noexcept {
    return !spec.empty() && uses_macro(spec, 'p');
  }
  // Expand a domain-spec (or take <domain> when absent).
  tl::expected<std::string, std::string> target(std::string_view spec, const std::string& domain) {
    if (spec.empty()) return domain;
    return expand_macro(spec, values(domain), macro_context::domain);
  }

  // RFC 7208 §6.2: the explanation. Any problem gives no explanation (the result stays fail).
  task<std::string> explain(std::string_view spec, std::string domain) {
    if (needs_p(spec)) co_await resolve_p(domain);
    auto name = target(spec, domain);
    if (!name || name->empty()) co_return std::string();
    auto txt = co_await ask(*name, dns::rtype::txt);
    if (!txt || txt->records.size() != 1) co_return std::string();
    const auto* t = std::get_if<dns::txt>(&txt->records.front().data);
    if (!t) co_return std::string();
    std::string text;
    for (const auto& s : t->strings)
      text += s;
    // RFC 7208 §6.2: the explanation string is 7-bit ASCII; otherwise it is ignored.
    if (!is_ascii(text)) co_return std::string();
    if (uses_macro(text, 'p')) co_await resolve_p(domain);
    if (t_value.empty()) {
      std::int64_t now = params.timestamp;
      if (now == 0)
        now = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
      t_value = std::to_string(now); // %{t} only appears in explanations (RFC 7208 §7.4)
    }
    auto e = expand_macro(text, values(domain), macro_context::explanation);
    co_return e ? std::move(*e) : std::string();
  }

  // ---- check_host() -----------------------------------------------------------------------

  task<outcome> run(std::string domain, bool want_exp) {
    // RFC 7208 §4.3: malformed or single-label <domain> gives "none".
    if (!is_valid_check_domain(domain)) co_return make(result::none, "malformed domain " + domain);

    // RFC 7208 §4.4: the TXT lookup; a DNS error gives temperror, NXDOMAIN gives none.
    auto txt = co_await ask(domain, dns::rtype::txt);
    if (!txt)
      co_return make(result::temperror,
                     "DNS error looking up " + domain + ": " + txt.error().message());
    // RFC 7208 §4.5: keep the records that begin "v=spf1"; none: "none"; several: permerror.
    std::string joined_text;
    std::string_view text; // into the answer (one string) or joined_text
    unsigned found = 0;
    for (const auto& rec : txt->records) {
      const auto* t = std::get_if<dns::txt>(&rec.data);
      if (!t) continue;
      if (t->strings.size() == 1) {
        if (is_spf_record(t->strings.front())) {
          ++found;
          text = t->strings.front();
        }
        continue;
      }
      std::string joined; // RFC 7208 §3.3: strings are concatenated with no separator
      for (const auto& s : t->strings)
        joined += s;
      if (is_spf_record(joined)) {
        ++found;
        joined_text = std::move(joined);
        text = joined_text;
      }
    }
    if (found == 0) co_return make(result::none, "no SPF record at " + domain);
    if (found > 1) co_return make(result::permerror, "several SPF records at " + domain);

    // RFC 7208 §4.6: the whole record is parsed before any term is evaluated.
    const auto parsed = cached_parse(text);
    const parse_result& rec = parsed->result;
    if (!rec) {
      std::string why = rec.error().message;
      if (!rec.error().term.empty()) why += ": " + std::string(rec.error().term);
      co_return make(result::permerror, why + " (in the record of " + domain + ")");
    }

    for (const mechanism& m : rec->mechanisms) {
      mech_outcome mo;
      if (m.kind == mechanism_kind::all) {
        mo.m = match::yes;
      } else if (m.kind == mechanism_kind::ip4 || m.kind == mechanism_kind::ip6) {
        mo = match_network(m); // no DNS: no coroutine frame
      } else {
        mo = co_await evaluate(m, domain);
      }
      if (mo.m == match::temperror) co_return make(result::temperror, std::move(mo.problem));
      if (mo.m == match::permerror) co_return make(result::permerror, std::move(mo.problem));
      if (mo.m == match::no) continue;
      outcome o;
      o.res = from_qualifier(m.qual);
      o.mechanism = std::string(m.text);
      // RFC 7208 §6.2: exp= is used only on fail, and never from an included record.
      if (o.res == result::fail && want_exp && rec->exp)
        o.explanation = co_await explain(*rec->exp, domain);
      co_return o;
    }

    // RFC 7208 §6.1: redirect= applies when no mechanism matched, and is ignored when the
    // record has "all".
    if (rec->redirect && !rec->has_all) {
      if (!count_term()) co_return make(result::permerror, too_many_terms());
      if (needs_p(*rec->redirect)) co_await resolve_p(domain);
      auto to = target(*rec->redirect, domain);
      if (!to) co_return make(result::permerror, "redirect=: " + to.error());
      // RFC 7208 §6.2: the redirecting record's exp= is not used; the target's is.
      outcome sub = co_await run(*to, want_exp);
      // RFC 7208 §6.1: no SPF record at the target (or a malformed target) is a permerror.
      if (sub.res == result::none)
        co_return make(result::permerror, "redirect=" + *to + ": " + sub.problem);
      if (sub.mechanism.empty() && sub.res != result::temperror && sub.res != result::permerror)
        sub.mechanism = "default";
      co_return sub;
    }
    // RFC 7208 §4.7: no match and no redirect: neutral.
    outcome o;
    o.res = result::neutral;
    o.mechanism = "default";
    co_return o;
  }

  mech_outcome match_network(const mechanism& m) const {
    // RFC 7208 §5.6: ip4 matches IPv4 clients only, ip6 IPv6 ones.
    const bool v4 = m.kind == mechanism_kind::ip4;
    if (v4 != is_v4) return mech_outcome{};
    const bool hit = cidr_match(m.network.data(), ip.data(), v4 ? m.cidr4 : m.cidr6);
    return mech_outcome{hit ? match::yes : match::no, {}};
  }

  task<mech_outcome> evaluate(const mechanism& m, const std::string& domain) {
    switch (m.kind) {
    case mechanism_kind::all:
      co_return mech_outcome{match::yes, {}};

    case mechanism_kind::ip4:
    case mechanism_kind::ip6:
      co_return match_network(m);

    case mechanism_kind::include: {
      if (!count_term()) co_return mech_outcome{match::permerror, too_many_terms()};
      if (needs_p(m.domain_spec)) co_await resolve_p(domain);
      auto to = target(m.domain_spec, domain);
      if (!to) co_return mech_outcome{match::permerror, to.error()};
      outcome sub = co_await run(*to, false);
      // RFC 7208 §5.2 table: pass matches; fail, softfail, neutral do not; temperror and
      // permerror propagate; none becomes permerror.
      switch (sub.res) {
      case result::pass:
        co_return mech_outcome{match::yes, {}};
      case result::fail:
      case result::softfail:
      case result::neutral:
        co_return mech_outcome{};
      case result::temperror:
        co_return mech_outcome{match::temperror, std::move(sub.problem)};
      case result::permerror:
        co_return mech_outcome{match::permerror, std::move(sub.problem)};
      case result::none:
        co_return mech_outcome{match::permerror,
                               "include:" + *to + " has no SPF record (" + sub.problem + ")"};
      }
      co_return mech_outcome{};
    }

    case mechanism_kind::a:
    case mechanism_kind::exists: {
      if (!count_term()) co_return mech_outcome{match::permerror, too_many_terms()};
      if (needs_p(m.domain_spec)) co_await resolve_p(domain);
      auto to = target(m.domain_spec, domain);
      if (!to) co_return mech_outcome{match::permerror, to.error()};
      // RFC 7208 §5.7: exists always asks for A, whatever the client's family.
      const bool exists = m.kind == mechanism_kind::exists;
      auto ans = co_await ask(*to, exists ? dns::rtype::a : addr_type());
      // RFC 7208 §5: a DNS error during a mechanism's lookup is temperror.
      if (!ans)
        co_return mech_outcome{match::temperror,
                               "DNS error looking up " + *to + ": " + ans.error().message()};
      if (ans->records.empty()) {
        if (!count_void()) co_return mech_outcome{match::permerror, too_many_voids()};
        co_return mech_outcome{};
      }
      if (exists) co_return mech_outcome{match::yes, {}};
      // RFC 7208 §5.3: match if any address is in the CIDR range.
      const bool hit = any_address_matches(*ans, is_v4 ? m.cidr4 : m.cidr6);
      co_return mech_outcome{hit ? match::yes : match::no, {}};
    }

    case mechanism_kind::mx: {
      if (!count_term()) co_return mech_outcome{match::permerror, too_many_terms()};
      if (needs_p(m.domain_spec)) co_await resolve_p(domain);
      auto to = target(m.domain_spec, domain);
      if (!to) co_return mech_outcome{match::permerror, to.error()};
      auto ans = co_await ask(*to, dns::rtype::mx);
      if (!ans)
        co_return mech_outcome{match::temperror,
                               "DNS error looking up MX " + *to + ": " + ans.error().message()};
      if (ans->records.empty()) {
        if (!count_void()) co_return mech_outcome{match::permerror, too_many_voids()};
        co_return mech_outcome{};
      }
      std::vector<dns::mx> mxs;
      for (const auto& r : ans->records)
        if (const auto* x = std::get_if<dns::mx>(&r.data)) mxs.push_back(*x);
      std::stable_sort(mxs.begin(), mxs.end(), [](const dns::mx& x, const dns::mx& y) {
        return x.preference < y.preference;
      });
      unsigned looked_up = 0;
      for (const auto& x : mxs) {
        // RFC 7505 null MX (".") names no host.
        if (x.exchange.empty() || x.exchange == ".") continue;
        // RFC 7208 §4.6.4: "the evaluation of each "MX" record MUST NOT result in querying more
        // than 10 address records ... If this limit is exceeded, the "mx" mechanism MUST
        // produce a "permerror" result." A match among the first 10 stands.
        if (++looked_up > params.limits.mx_names)
          co_return mech_outcome{match::permerror, "more than " +
                                                       std::to_string(params.limits.mx_names) +
                                                       " MX names for " + *to};
        auto addrs = co_await ask(x.exchange, addr_type());
        if (!addrs)
          co_return mech_outcome{match::temperror, "DNS error looking up " + x.exchange + ": " +
                                                       addrs.error().message()};
        // RFC 7208 §5.4: match if any address of any MX host is in the CIDR range.
        if (any_address_matches(*addrs, is_v4 ? m.cidr4 : m.cidr6))
          co_return mech_outcome{match::yes, {}};
      }
      co_return mech_outcome{};
    }

    case mechanism_kind::ptr: {
      if (!count_term()) co_return mech_outcome{match::permerror, too_many_terms()};
      if (needs_p(m.domain_spec)) co_await resolve_p(domain);
      auto to = target(m.domain_spec, domain);
      if (!to) co_return mech_outcome{match::permerror, to.error()};
      bool void_exceeded = false;
      auto names = co_await validated_names(*to, true, &void_exceeded);
      if (void_exceeded) co_return mech_outcome{match::permerror, too_many_voids()};
      // RFC 7208 §5.5: a DNS error on the PTR lookup means no match.
      if (!names || names->empty()) co_return mech_outcome{};
      co_return mech_outcome{match::yes, {}};
    }
    }
    co_return mech_outcome{};
  }

  // Runs the chain until it asks a question or finishes.
  void resume(std::coroutine_handle<> h) {
    h.resume();
    if (root.handle().done()) finish();
  }

  void finish() {
    finished = true;
    outcome o = root.await_resume();
    out.result = o.res;
    out.mechanism = std::move(o.mechanism);
    out.explanation = std::move(o.explanation);
    out.problem = std::move(o.problem);
  }
};

evaluator::evaluator(check_params params) : impl_(std::make_unique<impl>(std::move(params))) {}
evaluator::~evaluator() = default;
evaluator::evaluator(evaluator&&) noexcept = default;
evaluator& evaluator::operator=(evaluator&&) noexcept = default;

const question* evaluator::next() {
  if (!impl_->started) {
    impl_->started = true;
    impl_->resume(impl_->root.handle());
  }
  return impl_->finished ? nullptr : &impl_->pending;
}

void evaluator::feed(dns::query_result answer) {
  if (impl_->finished || !impl_->started || !impl_->waiting) return;
  impl_->answer.emplace(std::move(answer));
  auto h = std::exchange(impl_->waiting, {});
  impl_->resume(h);
}

void evaluator::feed_borrowed(const dns::query_result& answer) {
  if (impl_->finished || !impl_->started || !impl_->waiting) return;
  impl_->borrowed = &answer;
  auto h = std::exchange(impl_->waiting, {});
  impl_->resume(h);
}

bool evaluator::done() const noexcept {
  return impl_->finished;
}

const check_result& evaluator::result() const noexcept {
  return impl_->out;
}

check_result evaluator::take_result() noexcept {
  return std::move(impl_->out);
}

} // namespace mailkit::spf
