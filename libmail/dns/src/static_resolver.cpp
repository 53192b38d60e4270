// SPDX-License-Identifier: Apache-2.0
#include <mailkit/dns/static_resolver.hpp>

#include <atomic>
#include <charconv>
#include <limits>

namespace mailkit::dns {
namespace {

// CNAME links followed before the chain counts as a loop (static_resolver.hpp).
constexpr int max_cname_links = 8;

std::string key_of(std::string_view name) {
  if (auto a = to_ascii(name)) return std::move(*a);
  // Not a valid name (a test may still add one): keep it lower-cased, so it is at least stored;
  // queries for it fail with bad_name before they reach the zone.
  std::string k(name);
  if (!k.empty() && k.back() == '.') k.pop_back();
  for (auto& c : k)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return k;
}

// RFC 1035 §2.3.4: the text form of a name (no trailing dot) is at most 253 octets.
constexpr std::size_t max_name = 253;

// The zone key of a query name without allocating, for the common case of an ASCII name: what
// to_ascii() gives for it (trailing dot removed, lower case, label and name lengths checked), in
// `buf`. Names with non-ASCII octets go through to_ascii() (IDNA) into `owned`.
expected<std::string_view> query_key(std::string_view name, char (&buf)[max_name + 1],
                                     std::string& owned) {
  std::string_view n = name;
  if (!n.empty() && n.back() == '.') n.remove_suffix(1);
  if (n.empty() || n.size() > max_name) {
    // Too long for the fast path (or empty): to_ascii decides, as before.
    auto a = to_ascii(name);
    if (!a) return unexpected(a.error());
    owned = std::move(*a);
    return std::string_view(owned);
  }
  std::size_t label = 0;
  bool lengths_ok = true;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    if (c == '\0') return fail(errc::bad_name);
    if (static_cast<unsigned char>(c) >= 0x80) {
      auto a = to_ascii(name);
      if (!a) return unexpected(a.error());
      owned = std::move(*a);
      return std::string_view(owned);
    }
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (c == '.') {
      if (label == 0) lengths_ok = false;
      label = 0;
    } else if (++label > 63) {
      lengths_ok = false;
    }
  }
  if (!lengths_ok || label == 0) return fail(errc::bad_name);
  return std::string_view(buf, n.size());
}

std::string_view parent_of(std::string_view name) {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
}

std::string host(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return std::string(s);
}

// Split on runs of blanks.
std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
      ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t')
      ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

template <class Int>
bool number(std::string_view s, Int& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

expected<rdata> parse_text(rtype type, std::string_view text) {
  const auto bad = [] { return fail(mailkit::errc::invalid_argument); };
  switch (type) {
  case rtype::a: {
    auto a = parse_ipv4(text);
    if (!a) return bad();
    return rdata{*a};
  }
  case rtype::aaaa: {
    auto a = parse_ipv6(text);
    if (!a) return bad();
    return rdata{*a};
  }
  case rtype::mx: {
    const auto f = fields(text);
    mx m;
    if (f.size() != 2 || !number(f[0], m.preference)) return bad();
    m.exchange = host(f[1]); // "." is the null MX (RFC 7505) and reads as ""
    return rdata{m};
  }
  case rtype::txt: {
    // RFC 1035 §3.3: a character-string is at most 255 octets; a longer record is several.
    txt t;
    if (text.empty()) t.strings.emplace_back();
    for (std::size_t i = 0; i < text.size(); i += 255)
      t.strings.emplace_back(text.substr(i, 255));
    return rdata{t};
  }
  case rtype::ptr:
  case rtype::cname:
  case rtype::ns: {
    const auto f = fields(text);
    if (f.size() != 1) return bad();
    return rdata{name_rdata{host(f[0])}};
  }
  case rtype::soa: {
    const auto f = fields(text);
    soa s;
    if (f.size() != 7 || !number(f[2], s.serial) || !number(f[3], s.refresh) ||
        !number(f[4], s.retry) || !number(f[5], s.expire) || !number(f[6], s.minimum))
      return bad();
    s.mname = host(f[0]);
    s.rname = host(f[1]);
    return rdata{s};
  }
  case rtype::tlsa: {
    const auto f = fields(text);
    tlsa t;
    if (f.size() < 4 || !number(f[0], t.usage) || !number(f[1], t.selector) ||
        !number(f[2], t.matching_type))
      return bad();
    std::string hex;
    for (std::size_t i = 3; i < f.size(); ++i)
      hex += f[i];
    if (hex.size() % 2 != 0) return bad();
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      const int hi = nib(hex[i]), lo = nib(hex[i + 1]);
      if (hi < 0 || lo < 0) return bad();
      t.data.push_back(static_cast<char>(hi * 16 + lo));
    }
    return rdata{t};
  }
  case rtype::srv: {
    const auto f = fields(text);
    srv s;
    if (f.size() != 4 || !number(f[0], s.priority) || !number(f[1], s.weight) ||
        !number(f[2], s.port))
      return bad();
    s.target = host(f[3]);
    return rdata{s};
  }
  case rtype::caa: {
    // Zone presentation (RFC 8659 §4.1.1): flags tag "value" (quotes optional).
    const auto f = fields(text);
    caa c;
    if (f.size() < 3 || !number(f[0], c.flags) || f[1].empty() || f[1].size() > 15) return bad();
    c.tag = std::string(f[1]);
    const auto at = static_cast<std::size_t>(f[1].data() - text.data()) + f[1].size();
    std::string_view v = text.substr(at);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
      v.remove_prefix(1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    c.value = std::string(v);
    return rdata{c};
  }
  }
  return bad();
}

} // namespace

expected<void> static_resolver::add(std::string_view name, rtype type, std::string_view text,
                                    std::uint32_t ttl) {
  auto d = parse_text(type, text);
  if (!d) return unexpected(d.error());
  add(name, type, std::move(*d), ttl);
  return {};
}

void static_resolver::add(std::string_view name, rtype type, rdata data, std::uint32_t ttl) {
  std::string key = key_of(name);
  for (std::string_view p = parent_of(key); !p.empty(); p = parent_of(p))
    interior_.emplace(p);
  zone_[std::move(key)].records.emplace_back(type, record{std::move(data), ttl});
  clear_memo();
}

void static_resolver::fail(std::string_view name, errc error) {
  zone_[key_of(name)].fail_all = error;
  clear_memo();
}

void static_resolver::fail(std::string_view name, rtype type, errc error) {
  zone_[key_of(name)].fail_type[type] = error;
  clear_memo();
}

void static_resolver::set_authenticated(std::string_view name, bool ad) {
  zone_[key_of(name)].authenticated = ad;
  clear_memo();
}

void static_resolver::erase(std::string_view name) {
  zone_.erase(key_of(name));
  rebuild_interior();
  clear_memo();
}

void static_resolver::clear_memo() {
  std::lock_guard lock(memo_.mutex);
  memo_.map.clear();
}

const query_result* static_resolver::answer_now(std::string_view name, rtype type) {
  // The question as asked: a differently cased name is another entry with an equal answer.
  char buf[512];
  if (name.size() + 3 > sizeof buf) return nullptr;
  name.copy(buf, name.size());
  buf[name.size()] = '\0';
  buf[name.size() + 1] = static_cast<char>(static_cast<std::uint16_t>(type) >> 8);
  buf[name.size() + 2] = static_cast<char>(static_cast<std::uint16_t>(type) & 0xff);
  const std::string_view key(buf, name.size() + 3);
  std::lock_guard lock(memo_.mutex);
  if (auto it = memo_.map.find(key); it != memo_.map.end()) {
    std::atomic_ref<std::size_t>(queries_).fetch_add(1, std::memory_order_relaxed);
    return &it->second;
  }
  if (memo_.map.size() >= max_memo) return nullptr;
  return &memo_.map.emplace(std::string(key), lookup(name, type)).first->second;
}

void static_resolver::rebuild_interior() {
  interior_.clear();
  for (const auto& [k, n] : zone_) {
    if (n.records.empty()) continue;
    for (std::string_view p = parent_of(k); !p.empty(); p = parent_of(p))
      interior_.emplace(p);
  }
}

// The node that answers for `name`: its own, or else (when the name does not exist, not even
// as an empty non-terminal) the wildcard at its closest encloser (RFC 4592 §3.3.1). `exists`
// tells NODATA from NXDOMAIN when no node has records.
const static_resolver::node* static_resolver::find(std::string_view name, bool& exists) const {
  exists = interior_.contains(name);
  if (auto it = zone_.find(name); it != zone_.end()) {
    exists = exists || !it->second.records.empty();
    return &it->second;
  }
  if (exists) return nullptr; // empty non-terminal: NODATA (RFC 8020 §2)
  char wildcard[max_name + 3] = {'*', '.'};
  for (std::string_view p = parent_of(name); !p.empty(); p = parent_of(p)) {
    p.copy(wildcard + 2, p.size());
    if (auto it = zone_.find(std::string_view(wildcard, p.size() + 2)); it != zone_.end()) {
      exists = !it->second.records.empty();
      return &it->second;
    }
    // RFC 4592 §2.2.1: the closest encloser stops the search; a wildcard above it does not
    // apply.
    if (interior_.contains(p) || zone_.contains(p)) break;
  }
  return nullptr;
}

void static_resolver::async_query(std::string_view name, rtype type, query_handler handler) {
  handler(lookup(name, type));
}

query_result static_resolver::lookup(std::string_view name, rtype type) const {
  std::atomic_ref<std::size_t>(queries_).fetch_add(1, std::memory_order_relaxed);
  char buf[max_name + 1];
  std::string owned;
  const auto key = query_key(name, buf, owned);
  if (!key) return unexpected(key.error());

  query_result result; // an answer, default constructed
  answer& a = *result;
  a.name.assign(*key);
  a.type = type;
  std::string_view current = *key; // into buf/owned, or a CNAME target's key in `target`
  std::string target;
  std::uint32_t min_ttl = std::numeric_limits<std::uint32_t>::max();
  bool ad = true;
  bool exists = false;
  for (int links = 0;; ++links) {
    const node* n = find(current, exists);
    if (n != nullptr) {
      if (n->fail_all) return mailkit::fail(*n->fail_all);
      if (!n->fail_type.empty())
        if (auto it = n->fail_type.find(type); it != n->fail_type.end())
          return mailkit::fail(it->second);
    }
    ad = ad && n != nullptr && n->authenticated;
    if (n == nullptr) break;
    std::size_t matching = 0;
    for (const auto& [t, r] : n->records)
      matching += t == type ? 1 : 0;
    if (matching != 0) {
      a.records.reserve(a.records.size() + matching);
      for (const auto& [t, r] : n->records)
        if (t == type) {
          a.records.push_back(r);
          min_ttl = std::min(min_ttl, r.ttl);
        }
    }
    if (!a.records.empty() || type == rtype::cname) break;
    const record* cname = nullptr;
    for (const auto& [t, r] : n->records)
      if (t == rtype::cname && std::holds_alternative<name_rdata>(r.data)) {
        cname = &r;
        break;
      }
    if (cname == nullptr) break;
    // A CNAME chain longer than this is treated as a loop: what a recursive resolver reports
    // for one is SERVFAIL.
    if (links >= max_cname_links) return mailkit::fail(errc::servfail);
    min_ttl = std::min(min_ttl, cname->ttl);
    target = key_of(std::get<name_rdata>(cname->data).name);
    current = target;
  }
  a.canonical_name.assign(current);
  a.authenticated = ad;
  a.code = (a.records.empty() && !exists) ? rcode::nxdomain : rcode::noerror;
  if (!a.records.empty()) {
    a.ttl = min_ttl;
    return result;
  }
  // RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM) of the zone's SOA, i.e. the
  // closest enclosing name with an SOA record.
  std::uint32_t neg = 0;
  for (std::string_view p = current; !p.empty(); p = parent_of(p)) {
    auto it = zone_.find(p);
    if (it == zone_.end()) continue;
    const record* soa_rec = nullptr;
    for (const auto& [t, r] : it->second.records)
      if (t == rtype::soa && std::holds_alternative<soa>(r.data)) {
        soa_rec = &r;
        break;
      }
    if (soa_rec != nullptr) {
      neg = std::min(soa_rec->ttl, std::get<soa>(soa_rec->data).minimum);
      break;
    }
  }
  a.ttl = std::min(neg, min_ttl);
  return result;
}

} // namespace mailkit::dns
