// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/signature.hpp>
#include <mailkit/dkim/tag_list.hpp>

#include <charconv>

namespace mailkit::dkim {

namespace {

// Decimal of at most `max_digits` digits; values past 2^64-1 saturate (l= allows 76 digits).
bool parse_decimal(std::string_view s, std::size_t max_digits, std::uint64_t& out) {
  if (s.empty() || s.size() > max_digits) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      v = UINT64_MAX;
    } else {
      v = v * 10 + d;
    }
  }
  out = v;
  return true;
}

bool parse_canon(std::string_view s, canonicalization& out) {
  if (s == "simple") {
    out = canonicalization::simple;
    return true;
  }
  if (s == "relaxed") {
    out = canonicalization::relaxed;
    return true;
  }
  return false;
}

// A domain name as DKIM uses it (RFC 6376 §3.5 d=: domain-name, RFC 5321 syntax; U-labels are
// let through for EAI, RFC 8616).
bool plausible_domain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  for (char c : d) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || c == '@' || c == ';' || c == ':' || c == '/' || c == '\\' || c == '"')
      return false;
  }
  return d.find("..") == std::string_view::npos;
}

// Is `sub` equal to `parent` or a subdomain of it (ASCII case-insensitive)?
bool within_domain(std::string_view sub, std::string_view parent) {
  if (sub.size() < parent.size()) return false;
  if (!iequals(sub.substr(sub.size() - parent.size()), parent)) return false;
  return sub.size() == parent.size() || sub[sub.size() - parent.size() - 1] == '.';
}

} // namespace

std::string signature::key_name() const {
  return s + "._domainkey." + d;
}

signature_parse parse_signature(std::string_view value) {
  signature_parse r;
  auto bad = [&r](std::string why) {
    r.sig.reset();
    r.error = std::move(why);
    return r;
  };
  if (value.size() > max_signature_field) return bad("DKIM-Signature field too long");
  std::vector<tag> tags;
  if (std::string err = parse_tag_list(value, tags); !err.empty())
    return bad("malformed tag list: " + err);

  const tag* found[128] = {};
  for (const tag& t : tags)
    if (t.name.size() <= 2) {
      // a b c d h i l q s t v x z bh: index by first letter, bh separately.
      if (t.name == "bh")
        found[0] = &t;
      else if (t.name.size() == 1)
        found[static_cast<unsigned char>(t.name[0]) & 0x7f] = &t;
    }
  for (const tag& t : tags) {
    if (t.name == "d") r.d = std::string(t.value);
    if (t.name == "s") r.s = std::string(t.value);
    if (t.name == "a") r.a = std::string(t.value);
  }
  auto get = [&found](char c) { return found[static_cast<unsigned char>(c)]; };

  // RFC 6376 §3.5: v=, a=, b=, bh=, d=, h=, s= are REQUIRED.
  for (const char* req : {"v", "a", "b", "bh", "d", "h", "s"}) {
    const tag* t = std::string_view(req) == "bh" ? found[0] : get(req[0]);
    if (t == nullptr) return bad(std::string("missing required tag ") + req + "=");
  }
  signature sig;
  // RFC 6376 §3.5 v=: "This tag MUST have the value "1"" (earlier drafts used 0.5 or none).
  if (get('v')->value != "1")
    return bad("unsupported version v=" + std::string(get('v')->value.substr(0, 20)));

  sig.a_text = std::string(get('a')->value);
  const auto algo = parse_algorithm(sig.a_text);
  // RFC 6376 §3.5 a=: verifiers MUST ignore signatures with an unknown algorithm (permerror).
  if (!algo) return bad("unknown signature algorithm a=" + sig.a_text.substr(0, 40));
  sig.algo = *algo;

  sig.b_text = strip_fws(get('b')->value);
  auto b = base64::decode(sig.b_text, base64::mode::strict);
  if (!b) return bad("b= is not valid base64");
  if (b->empty()) return bad("b= is empty");
  sig.b = std::move(*b);

  auto bh = base64::decode(strip_fws(found[0]->value), base64::mode::strict);
  if (!bh) return bad("bh= is not valid base64");
  if (bh->empty()) return bad("bh= is empty");
  sig.bh = std::move(*bh);

  if (const tag* c = get('c')) {
    const std::string_view v = c->value;
    const std::size_t slash = v.find('/');
    // RFC 6376 §3.5 c=: "header/body"; a header algorithm alone means body "simple".
    if (!parse_canon(v.substr(0, slash), sig.header_c) ||
        (slash != std::string_view::npos && !parse_canon(v.substr(slash + 1), sig.body_c)))
      return bad("unknown canonicalization c=" + std::string(v.substr(0, 40)));
  }

  sig.d = std::string(get('d')->value);
  if (!plausible_domain(sig.d)) return bad("d= is not a domain name");
  sig.s = strip_fws(get('s')->value);
  // RFC 6376 §3.1: selectors are dot-separated sub-domains.
  if (!plausible_domain(sig.s)) return bad("s= is not a valid selector");

  {
    const std::string list = strip_fws(get('h')->value);
    std::size_t pos = 0;
    while (pos <= list.size()) {
      std::size_t colon = list.find(':', pos);
      if (colon == std::string::npos) colon = list.size();
      std::string name = list.substr(pos, colon - pos);
      if (name.empty()) return bad("empty header name in h=");
      for (char ch : name) {
        const auto u = static_cast<unsigned char>(ch);
        // RFC 5322 §3.6.8: field-name = 1*ftext, printable US-ASCII except ":".
        if (u < 33 || u > 126) return bad("invalid header name in h=");
      }
      sig.h.push_back(std::move(name));
      if (sig.h.size() > max_signed_headers) return bad("too many entries in h=");
      pos = colon + 1;
    }
    bool from = false;
    for (const auto& n : sig.h)
      from = from || iequals(n, "from");
    // RFC 6376 §5.4: "The From header field MUST be signed"; §6.1.1 verifiers MUST check it.
    if (!from) return bad("From is not in h=");
  }

  if (const tag* i = get('i')) {
    sig.i = std::string(i->value);
    const std::size_t at = sig.i.rfind('@');
    if (at == std::string::npos) return bad("i= has no \"@\"");
    // RFC 6376 §3.5 i=: "the domain part of the address MUST be the same as, or a subdomain
    // of, the value of the "d=" tag" (§6.1.1: otherwise PERMFAIL).
    if (!within_domain(std::string_view(sig.i).substr(at + 1), sig.d))
      return bad("i= domain is not d= or a subdomain of it");
  } else {
    sig.i = "@" + sig.d;
  }

  if (const tag* l = get('l')) {
    std::uint64_t v = 0;
    // RFC 6376 §3.5 l=: 1*76DIGIT
    if (!parse_decimal(l->value, 76, v)) return bad("l= is not a decimal number");
    sig.l = v;
  }

  if (const tag* q = get('q')) {
    sig.q = std::string(q->value);
    // RFC 6376 §3.5 q=: colon-separated methods; "dns/txt" is the only one defined;
    // unrecognized methods are ignored, so the list must contain dns/txt somewhere.
    const std::string list = strip_fws(q->value);
    bool ok = false;
    std::size_t pos = 0;
    while (pos <= list.size()) {
      std::size_t colon = list.find(':', pos);
      if (colon == std::string::npos) colon = list.size();
      const std::string_view m = std::string_view(list).substr(pos, colon - pos);
      // "dns/txt" optionally with a "/options" suffix is not defined; accept exact only.
      if (iequals(m, "dns/txt")) ok = true;
      pos = colon + 1;
    }
    if (!ok) return bad("no supported query method in q=" + sig.q.substr(0, 40));
  } else {
    sig.q = "dns/txt";
  }

  if (const tag* t = get('t')) {
    std::uint64_t v = 0;
    // RFC 6376 §3.5 t=: 1*12DIGIT
    if (!parse_decimal(t->value, 12, v)) return bad("t= is not a decimal timestamp");
    sig.t = v;
  }
  if (const tag* x = get('x')) {
    std::uint64_t v = 0;
    if (!parse_decimal(x->value, 12, v)) return bad("x= is not a decimal timestamp");
    sig.x = v;
    // RFC 6376 §3.5 x=: "the value of the "x=" tag MUST be greater than the value of the "t="
    // tag if both are present".
    if (sig.t && *sig.x < *sig.t) return bad("x= is before t=");
  }
  if (const tag* z = get('z')) sig.z = std::string(z->value);

  r.sig = std::move(sig);
  r.error.clear();
  return r;
}

std::string remove_b_value(std::string_view value) {
  std::vector<tag> tags;
  if (!parse_tag_list(value, tags).empty()) return std::string(value);
  for (const tag& t : tags)
    if (t.name == "b") {
      // RFC 6376 §3.7: the b= value "including all surrounding whitespace" becomes empty.
      std::string out(value.substr(0, t.value_begin));
      out.append(value.substr(t.value_end));
      return out;
    }
  return std::string(value);
}

} // namespace mailkit::dkim
