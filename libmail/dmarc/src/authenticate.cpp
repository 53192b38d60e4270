// SPDX-License-Identifier: Apache-2.0
// SPF + DKIM + DMARC for one received message, and the Authentication-Results field.
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/auth_results.hpp>
#include <mailkit/dmarc/authenticate.hpp>
#include <mailkit/mime/address.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <utility>

namespace mailkit::dmarc {

namespace {

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A From domain worth a DNS question: labels of 1-63 octets (LDH or UTF-8 for IDNs), at most
// 253 octets. Anything else (spaces, specials, control characters, empty labels) cannot name a
// DMARC record.
bool usable_domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t label = 0;
  for (char c : d) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (u >= 0x80) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0;
}

// RFC 8601 §2.2: authserv-id = value, i.e. an RFC 2045 token or a quoted-string.
std::string authserv_value(std::string_view id) {
  return is_mime_token(id) ? std::string(id) : quoted_string(id);
}

const clock& clock_of(const authenticate_params& params) {
  return params.clk ? *params.clk : default_clock();
}

spf::check_params spf_params_for(const authenticate_params& params) {
  std::string_view path = params.mail_from;
  if (path.size() >= 2 && path.front() == '<' && path.back() == '>')
    path = path.substr(1, path.size() - 2);
  // RFC 7208 §2.4: with a null reverse-path the MAIL FROM check uses "postmaster@<HELO>", which
  // is the HELO identity (§2.3); it is reported as smtp.helo.
  spf::check_params p = path.empty() ? spf::check_params::helo_identity(params.ip, params.helo)
                                     : spf::check_params::mail_from(params.ip, path, params.helo);
  if (!params.authserv_id.empty()) p.receiver = params.authserv_id;
  p.timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(clock_of(params).now().time_since_epoch())
          .count();
  p.limits = params.options.spf_limits;
  return p;
}

dkim::verify_options dkim_options(const authenticate_params& params) {
  dkim::verify_options o = params.options.dkim;
  if (params.clk) o.clk = params.clk;
  return o;
}

// The DMARC inputs from the SPF and DKIM results.
check_params dmarc_params(const authenticate_params& params, const authentication& a) {
  check_params p;
  p.spf_result = a.spf.result;
  // RFC 7489 §3.1.2: the SPF-authenticated domain is the MAIL FROM domain, or the HELO name when
  // the reverse-path was null.
  p.spf_domain = a.spf_params.domain;
  for (const auto& s : a.dkim) {
    const auto r = parse_auth_result(dkim::to_string(s.result));
    p.dkim.push_back({s.domain, r.value_or(auth_result::none)});
  }
  p.sample = params.options.sample;
  p.seed = params.options.seed;
  return p;
}

// The top-level header section of `message` and its blank line: every line up to and including
// the first empty one (RFC 5322 §2.1), split as the MIME parser splits lines (LF, with an
// optional CR before it). The parser's header section ends at that line or before it, so parsing
// this prefix gives the same top-level fields as parsing the whole message, without indexing a
// body that DMARC never reads (the end-of-data check of a 35 MB message copies nothing of it).
std::string_view header_section(std::string_view message) {
  for (std::size_t pos = 0; pos < message.size();) {
    const line_view l = line_at(message, pos);
    if (!l.terminated) break;
    pos = l.next;
    if (l.text.empty()) return message.substr(0, pos);
  }
  return message;
}

// The From domains of the raw bytes: the header section parsed with mime.
std::vector<std::string> from_domains_of(std::string_view message, std::size_t* fields) {
  auto msg = mime::parse(header_section(message));
  if (!msg) {
    if (fields) *fields = 0;
    return {};
  }
  return from_domains(*msg, fields);
}

authentication run(dns::resolver& resolver, std::string_view raw, std::vector<std::string> froms,
                   std::size_t fields, const authenticate_params& params) {
  authentication a;
  a.from_domains = std::move(froms);
  a.from_fields = fields;
  a.spf_params = spf_params_for(params);
  a.spf = spf::check_host(resolver, a.spf_params);
  a.dkim = dkim::verify(raw, resolver, dkim_options(params));
  a.dmarc = check_from_domains(resolver, a.from_domains, dmarc_params(params, a));
  a.header = authentication_results(params.authserv_id, a);
  return a;
}

struct auth_op : std::enable_shared_from_this<auth_op> {
  auth_op(dns::resolver& r, authenticate_params p, std::function<void(authentication)> h)
      : resolver(r), params(std::move(p)), handler(std::move(h)) {}

  dns::resolver& resolver;
  authenticate_params params;
  std::function<void(authentication)> handler;
  authentication out;
  // SPF and DKIM run concurrently and write disjoint members of `out`; the one that finishes
  // last (acq_rel on the counter orders the other's writes before) starts DMARC.
  std::atomic<int> pending{2};

  void start(std::string message) {
    out.spf_params = spf_params_for(params);
    auto self = shared_from_this();
    spf::async_check_host(resolver, out.spf_params, [self](spf::check_result r) {
      self->out.spf = std::move(r);
      self->part_done();
    });
    dkim::async_verify(std::move(message), resolver, dkim_options(params),
                       [self](std::vector<dkim::signature_result> r) {
                         self->out.dkim = std::move(r);
                         self->part_done();
                       });
  }

  void part_done() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    async_check_from_domains(resolver, out.from_domains, dmarc_params(params, out),
                             [self = shared_from_this()](check_result r) {
                               self->out.dmarc = std::move(r);
                               self->out.header =
                                   authentication_results(self->params.authserv_id, self->out);
                               auto h = std::move(self->handler);
                               h(std::move(self->out));
                             });
  }
};

} // namespace

std::vector<std::string> from_domains(const mime::message& message, std::size_t* fields) {
  std::vector<std::string> out;
  std::size_t n = 0;
  for (const auto& f : message.headers()) {
    if (!iequals_ascii(f.name, "From")) continue;
    ++n;
    for (const auto& mb : mime::parse_address_list(f.raw).flatten()) {
      if (!mb.addr) continue;
      const auto at = mb.addr->rfind('@');
      if (at == std::string::npos) continue;
      std::string d = mb.addr->substr(at + 1);
      for (auto& c : d)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (!d.empty() && d.back() == '.') d.pop_back();
      // A domain literal ("[192.0.2.1]") or junk names no DMARC record.
      if (!usable_domain(d)) continue;
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(std::move(d));
    }
  }
  if (fields) *fields = n;
  return out;
}

std::string authentication_results(std::string_view authserv_id, const authentication& a) {
  // RFC 8601 §2.2: authserv-id, then one resinfo per method; dkim=none when unsigned (§2.7.1).
  std::vector<std::string> parts;
  parts.push_back(spf::authentication_results_part(a.spf, a.spf_params));
  parts.push_back(dkim::format_resinfos(a.dkim));
  parts.push_back(authentication_results_part(a.dmarc));
  return dkim::format_authentication_results(authserv_value(authserv_id), parts);
}

authentication authenticate(dns::resolver& resolver, std::string_view message,
                            const authenticate_params& params) {
  std::size_t fields = 0;
  auto froms = from_domains_of(message, &fields);
  return run(resolver, message, std::move(froms), fields, params);
}

authentication authenticate(dns::resolver& resolver, const mime::message& message,
                            const authenticate_params& params) {
  std::size_t fields = 0;
  auto froms = from_domains(message, &fields);
  return run(resolver, message.raw(), std::move(froms), fields, params);
}

void async_authenticate(dns::resolver& resolver, std::string message, authenticate_params params,
                        std::function<void(authentication)> handler) {
  auto op = std::make_shared<auth_op>(resolver, std::move(params), std::move(handler));
  op->out.from_domains = from_domains_of(message, &op->out.from_fields);
  op->start(std::move(message));
}

} // namespace mailkit::dmarc
