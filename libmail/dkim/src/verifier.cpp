// SPDX-License-Identifier: Apache-2.0
#include "header_hash.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/key_record.hpp>
#include <mailkit/dkim/keys.hpp>
#include <mailkit/dkim/message.hpp>
#include <mailkit/dkim/verifier.hpp>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

namespace mailkit::dkim {

namespace {

struct key_answer {
  bool answered = false;
  bool dns_error = false;
  std::string error_text;
  std::vector<std::string> records; // TXT records, strings concatenated
};

struct sig_state {
  signature_parse parsed;
  std::size_t field_index = 0;
  std::optional<result> early; // decided before DNS and body (permerror, policy ...)
  std::string early_reason;
  std::string key_name; // lower case
  std::size_t hasher = 0;
};

struct hasher_key {
  canonicalization c;
  hash_algorithm h;
  std::optional<std::uint64_t> limit;
  bool operator==(const hasher_key&) const = default;
};

} // namespace

struct verifier::impl {
  verify_options opts;
  std::string header; // CRLF form of the header section
  split_message split;
  std::vector<sig_state> sigs;
  std::vector<hasher_key> hasher_keys;
  std::vector<body_hasher> hashers;
  std::vector<std::string> digests;
  std::map<std::string, key_answer> keys;
  bool finished = false;

  const clock& clk() const { return opts.clk ? *opts.clk : default_clock(); }

  void parse_signatures();
  signature_result evaluate(const sig_state& s);
};

void verifier::impl::parse_signatures() {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(clk().now().time_since_epoch()).count();
  const auto skew = opts.clock_skew.count();
  for (std::size_t i = 0; i < split.fields.size(); ++i) {
    if (!iequals(split.fields[i].name, "DKIM-Signature")) continue;
    sig_state s;
    s.field_index = i;
    if (sigs.size() >= opts.max_signatures) {
      s.early = result::permerror;
      s.early_reason = "too many signatures (limit " + std::to_string(opts.max_signatures) + ")";
      sigs.push_back(std::move(s));
      continue;
    }
    // The tag parser reads the folded value; the raw field is kept for hashing.
    s.parsed = parse_signature(split.fields[i].value);
    if (!s.parsed.sig) {
      s.early = result::permerror;
      s.early_reason = s.parsed.error;
    } else {
      const signature& sig = *s.parsed.sig;
      if (sig.algo == algorithm::rsa_sha1 && !opts.allow_rsa_sha1) {
        // RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or verifying."
        s.early = result::permerror;
        s.early_reason = "rsa-sha1 is not accepted (RFC 8301)";
      } else if (sig.x && static_cast<long long>(*sig.x) + skew < now) {
        // RFC 6376 §3.5 x=: signatures MAY be considered invalid after the expiration.
        s.early = result::permerror;
        s.early_reason = "signature expired";
      } else if (sig.t && static_cast<long long>(*sig.t) > now + skew) {
        // RFC 6376 §3.5 t=: implementations MAY consider a future timestamp invalid.
        s.early = result::permerror;
        s.early_reason = "signature timestamp in the future";
      } else {
        s.key_name = to_lower(sig.key_name());
        keys.try_emplace(s.key_name);
        const hasher_key hk{sig.body_c, hash_of(sig.algo), sig.l};
        auto it = std::find(hasher_keys.begin(), hasher_keys.end(), hk);
        if (it == hasher_keys.end()) {
          hasher_keys.push_back(hk);
          hashers.emplace_back(hk.c, hk.h, hk.limit);
          it = hasher_keys.end() - 1;
        }
        s.hasher = static_cast<std::size_t>(it - hasher_keys.begin());
      }
    }
    sigs.push_back(std::move(s));
  }
}

signature_result verifier::impl::evaluate(const sig_state& s) {
  signature_result r;
  r.field_index = s.field_index;
  r.domain = s.parsed.d;
  r.selector = s.parsed.s;
  r.algorithm = s.parsed.a;
  if (s.parsed.sig) {
    const signature& sig = *s.parsed.sig;
    r.identity = sig.i;
    r.b_prefix = sig.b_text.substr(0, 12);
    r.body_length = sig.l;
  }
  if (s.early) {
    r.result = *s.early;
    r.reason = s.early_reason;
    return r;
  }
  const signature& sig = *s.parsed.sig;
  const body_hasher& bhs = hashers[s.hasher];
  const std::string& body_digest = digests[s.hasher];
  bool body_ok = body_digest == sig.bh;
  std::string body_reason = "body hash did not verify";
  if (sig.l) {
    if (bhs.canonical_length() < *sig.l) {
      body_ok = false;
      body_reason = "body is shorter than l=";
    } else {
      // RFC 6376 §8.2: content past l= is not covered by the signature; report how much.
      r.unsigned_body_octets = bhs.canonical_length() - *sig.l;
    }
  }

  const key_answer& ka = keys[s.key_name];
  if (!ka.answered || ka.dns_error) {
    if (!body_ok) {
      // A body hash mismatch cannot turn into a pass after a retry: report it, not the DNS error.
      r.result = result::fail;
      r.reason = body_reason;
      return r;
    }
    // RFC 6376 §6.1.2: "If the query for the public key fails to respond, the Verifier MAY seek
    // a later verification attempt by returning TEMPFAIL".
    r.result = result::temperror;
    r.reason = ka.answered ? "key lookup failed: " + ka.error_text : "key lookup not answered";
    return r;
  }
  if (ka.records.empty()) {
    // RFC 6376 §6.1.2 step 3: no key record: PERMFAIL (no key for signature).
    r.result = result::permerror;
    r.reason = "no key for signature";
    return r;
  }

  // The header hash input, the same for every candidate key.
  std::string input;
  input.reserve(4096);
  detail::append_selected(split.fields, sig.h, sig.header_c, input, s.field_index);
  {
    const header_field& f = split.fields[s.field_index];
    const std::size_t voff = static_cast<std::size_t>(f.value.data() - f.raw.data());
    std::string field(f.raw.substr(0, voff));
    field += remove_b_value(f.value);
    // RFC 6376 §3.7: the signature field itself, b= empty, last, without its trailing CRLF.
    canonicalize_header(field, sig.header_c, input, false);
  }
  digest d(hash_of(sig.algo));
  d.update(input);
  const std::string header_digest = d.finish();

  std::optional<signature_result> best;
  std::size_t tried = 0;
  for (const std::string& text : ka.records) {
    if (tried++ >= opts.max_key_records) break;
    signature_result c = r;
    auto kr = parse_key_record(text);
    auto done = [&](result res, std::string why) {
      c.result = res;
      c.reason = std::move(why);
      // Keep the most useful outcome: pass wins, then fail, then the first error.
      if (!best || res == result::pass || (res == result::fail && best->result != result::pass))
        best = c;
    };
    if (!kr.ok) {
      done(result::permerror, kr.error);
      continue;
    }
    const key_record& key = kr.key;
    c.testing = key.testing();
    if (key.revoked) {
      done(result::permerror, "key revoked");
      continue;
    }
    // RFC 6376 §6.1.2 step 6/7: the key type must suit a=, h= must allow the hash.
    const bool want_ed = sig.algo == algorithm::ed25519_sha256;
    if (key.k != "rsa" && key.k != "ed25519") {
      done(result::permerror, "unknown key type k=" + key.k);
      continue;
    }
    if ((key.k == "ed25519") != want_ed) {
      done(result::permerror, "key type k=" + key.k + " does not match a=" + sig.a_text);
      continue;
    }
    if (!key.allows_hash(sig.algo == algorithm::rsa_sha1 ? "sha1" : "sha256")) {
      done(result::permerror, "key h= does not allow the signature's hash");
      continue;
    }
    // RFC 6376 §3.6.1 s=: the key must be usable for email.
    if (!key.allows_email()) {
      done(result::permerror, "key s= does not include email");
      continue;
    }
    if (key.strict()) {
      // RFC 6376 §3.6.1 t=s: the i= domain must be d= itself, not a subdomain.
      const std::size_t at = sig.i.rfind('@');
      if (!iequals(std::string_view(sig.i).substr(at + 1), sig.d)) {
        done(result::permerror, "key t=s forbids an i= subdomain");
        continue;
      }
    }
    auto pk = public_key::from_dns(want_ed ? key_type::ed25519 : key_type::rsa, key.p);
    if (!pk) {
      done(result::permerror, "public key unusable");
      continue;
    }
    c.key_bits = pk->bits();
    if (!want_ed && pk->bits() < opts.min_rsa_bits) {
      // RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using RSA keys of less than 1024
      // bits as valid signatures."
      done(result::permerror,
           "RSA key of " + std::to_string(pk->bits()) + " bits is too small (RFC 8301)");
      continue;
    }
    if (!want_ed && pk->bits() > opts.max_rsa_bits) {
      done(result::permerror, "RSA key of " + std::to_string(pk->bits()) + " bits is too large");
      continue;
    }
    // RFC 6376 §6.1.3: body hash first, then the signature.
    if (!body_ok) {
      done(result::fail, body_reason);
      continue;
    }
    if (!pk->verify_digest(header_digest, hash_of(sig.algo), sig.b)) {
      done(result::fail, "signature did not verify");
      continue;
    }
    c.weak = sig.algo == algorithm::rsa_sha1;
    done(result::pass, c.weak ? "rsa-sha1 is weak (RFC 8301)" : "");
  }
  return best ? *best : r;
}

verifier::verifier(verify_options options) : impl_(std::make_unique<impl>()) {
  impl_->opts = options;
}
verifier::~verifier() = default;
verifier::verifier(verifier&&) noexcept = default;
verifier& verifier::operator=(verifier&&) noexcept = default;

void verifier::set_header(std::string_view header_block) {
  impl_->header =
      detail::has_bare_lf(header_block) ? to_crlf(header_block) : std::string(header_block);
  impl_->split = split_header(impl_->header);
  impl_->parse_signatures();
}

void verifier::set_message(std::string_view message) {
  const split_message s = split_header(message);
  set_header(message.substr(0, s.body_offset));
  update_body(message.substr(s.body_offset));
}

std::vector<key_query> verifier::key_queries() const {
  std::vector<key_query> out;
  for (const auto& [name, ka] : impl_->keys)
    if (!ka.answered) out.push_back({name});
  return out;
}

void verifier::provide_key(std::string_view name, const dns::query_result& answer) {
  auto it = impl_->keys.find(to_lower(name));
  if (it == impl_->keys.end()) return;
  key_answer& ka = it->second;
  ka = {};
  ka.answered = true;
  if (!answer) {
    ka.dns_error = true;
    ka.error_text = answer.error().message();
    return;
  }
  for (const auto& rec : answer->records)
    if (const auto* t = std::get_if<dns::txt>(&rec.data)) {
      // RFC 6376 §3.6.2.2: the strings of one TXT record are concatenated.
      std::string joined;
      for (const auto& s : t->strings)
        joined += s;
      ka.records.push_back(std::move(joined));
    }
}

void verifier::provide_key_txt(std::string_view name, const std::vector<std::string>& records) {
  auto it = impl_->keys.find(to_lower(name));
  if (it == impl_->keys.end()) return;
  it->second = {};
  it->second.answered = true;
  it->second.records = records;
}

void verifier::update_body(std::string_view chunk) {
  for (auto& h : impl_->hashers)
    h.update(chunk);
}

std::vector<signature_result> verifier::finish() {
  std::vector<signature_result> out;
  if (!impl_->finished) {
    impl_->digests.clear();
    for (auto& h : impl_->hashers)
      impl_->digests.push_back(h.finish());
    impl_->finished = true;
  }
  for (const auto& s : impl_->sigs)
    out.push_back(impl_->evaluate(s));
  return out;
}

std::size_t verifier::signature_count() const noexcept {
  return impl_->sigs.size();
}

std::vector<signature_result> verify(std::string_view message, dns::resolver& r,
                                     const verify_options& options) {
  verifier v(options);
  const split_message s = split_header(message);
  v.set_header(message.substr(0, s.body_offset));
  // Ask every question at once, then hash the body while the answers come in.
  const auto queries = v.key_queries();
  struct shared {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::pair<std::string, dns::query_result>> answers;
  } st;
  for (const auto& q : queries)
    r.async_query(q.name, dns::rtype::txt, [&st, name = q.name](dns::query_result a) {
      std::lock_guard lk(st.m);
      st.answers.emplace_back(name, std::move(a));
      st.cv.notify_all();
    });
  v.update_body(message.substr(s.body_offset));
  {
    std::unique_lock lk(st.m);
    st.cv.wait(lk, [&] { return st.answers.size() == queries.size(); });
  }
  for (const auto& [name, a] : st.answers)
    v.provide_key(name, a);
  return v.finish();
}

void async_verify(std::string message, dns::resolver& r, verify_options options,
                  std::function<void(std::vector<signature_result>)> handler) {
  struct op {
    std::string message;
    verifier v;
    std::size_t body_offset = 0;
    std::size_t pending = 0;
    std::mutex m;
    std::function<void(std::vector<signature_result>)> handler;
    void complete() {
      v.update_body(std::string_view(message).substr(body_offset));
      auto results = v.finish();
      auto h = std::move(handler);
      h(std::move(results));
    }
  };
  auto o = std::make_shared<op>();
  o->message = std::move(message);
  o->v = verifier(options);
  o->handler = std::move(handler);
  const split_message s = split_header(o->message);
  o->body_offset = s.body_offset;
  o->v.set_header(std::string_view(o->message).substr(0, s.body_offset));
  const auto queries = o->v.key_queries();
  if (queries.empty()) {
    o->complete();
    return;
  }
  o->pending = queries.size();
  for (const auto& q : queries)
    r.async_query(q.name, dns::rtype::txt, [o, name = q.name](dns::query_result a) {
      bool last = false;
      {
        std::lock_guard lk(o->m);
        o->v.provide_key(name, a);
        last = --o->pending == 0;
      }
      if (last) o->complete();
    });
}

result summarize(const std::vector<signature_result>& results) noexcept {
  if (results.empty()) return result::none;
  auto rank = [](result x) {
    switch (x) {
    case result::pass:
      return 7;
    case result::fail:
      return 6;
    case result::permerror:
      return 5;
    case result::temperror:
      return 4;
    case result::policy:
      return 3;
    case result::neutral:
      return 2;
    case result::none:
      return 1;
    }
    return 0;
  };
  result best = result::none;
  for (const auto& r : results)
    if (rank(r.result) > rank(best)) best = r.result;
  return best;
}

} // namespace mailkit::dkim
