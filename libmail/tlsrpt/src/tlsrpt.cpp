// SPDX-License-Identifier: Apache-2.0
// RFC 8460: TXT record, report JSON, gzip, names, aggregation.
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

namespace mailkit::tlsrpt {

namespace json = boost::json;

namespace {

class category_impl final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.tlsrpt"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::bad_record:
      return "invalid _smtp._tls TXT record";
    case errc::bad_report:
      return "invalid TLS-RPT report";
    case errc::bad_gzip:
      return "invalid or truncated gzip data";
    case errc::too_large:
      return "TLS-RPT data exceeds the size limit";
    case errc::bad_uri:
      return "rua URI is not an https: or mailto: URI this sender can use";
    case errc::rejected:
      return "the report server did not accept the report";
    }
    return "unknown TLS-RPT error";
  }
  bool permanent(int value) const noexcept override {
    return static_cast<errc>(value) != errc::rejected;
  }
};

bool is_wsp(char c) noexcept {
  return c == ' ' || c == '\t';
}
std::string_view trim_wsp(std::string_view s) noexcept {
  while (!s.empty() && is_wsp(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back()))
    s.remove_suffix(1);
  return s;
}
bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

constexpr std::array<std::string_view, 11> result_names = {
    "starttls-not-supported", "certificate-host-mismatch",
    "certificate-expired",    "certificate-not-trusted",
    "validation-failure",     "tlsa-invalid",
    "dnssec-invalid",         "dane-required",
    "sts-policy-fetch-error", "sts-policy-invalid",
    "sts-webpki-invalid"};

// JSON access helpers: absent or mistyped optional fields read as empty.
const json::value* member(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}
std::string str(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}
std::uint64_t count(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}
std::vector<std::string> strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = member(o, key);
  if (v == nullptr) return out;
  if (v->is_string()) out.emplace_back(v->as_string());
  if (v->is_array())
    for (const auto& e : v->as_array())
      if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

} // namespace

const error_category& category() noexcept {
  static const category_impl instance;
  return instance;
}

expected<txt_record> parse_txt_record(std::string_view text) {
  // RFC 8460 §3: tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
  //              tlsrpt-version = %s"v=TLSRPTv1"; field-delim = *WSP ";" *WSP
  constexpr std::string_view version = "v=TLSRPTv1";
  if (text.substr(0, version.size()) != version) return fail(errc::bad_record);
  std::string_view rest = text.substr(version.size());
  txt_record out;
  bool have_rua = false;
  std::size_t fields = 0;
  while (!rest.empty()) {
    rest = trim_wsp(rest);
    if (rest.empty()) break;
    if (rest.front() != ';') return fail(errc::bad_record);
    rest.remove_prefix(1);
    rest = trim_wsp(rest);
    if (rest.empty()) break;
    const auto end = rest.find(';');
    std::string_view field = trim_wsp(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    if (++fields > 64) return fail(errc::bad_record);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) return fail(errc::bad_record);
    const auto name = trim_wsp(field.substr(0, eq));
    const auto value = trim_wsp(field.substr(eq + 1));
    if (name == "rua") {
      // RFC 8460 §3: tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri), where
      // tlsrpt-uri is a "mailto:" or "https:" URI. A second rua field is not in the grammar.
      if (have_rua) return fail(errc::bad_record);
      have_rua = true;
      std::string_view uris = value;
      while (true) {
        const auto comma = uris.find(',');
        const auto uri = trim_wsp(uris.substr(0, comma));
        if (uri.empty() || uri.size() > 2048) return fail(errc::bad_record);
        if (!istarts_with(uri, "mailto:") && !istarts_with(uri, "https:"))
          return fail(errc::bad_record);
        if (std::any_of(uri.begin(), uri.end(), [](char c) {
              const auto u = static_cast<unsigned char>(c);
              return u <= 0x20 || u >= 0x7f;
            }))
          return fail(errc::bad_record);
        out.rua.emplace_back(uri);
        if (comma == std::string_view::npos) break;
        uris.remove_prefix(comma + 1);
      }
    } else {
      // tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
      if (name.size() > 32 || !std::isalnum(static_cast<unsigned char>(name.front())) ||
          !std::all_of(name.begin(), name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
          }))
        return fail(errc::bad_record);
      out.extensions.emplace_back(std::string(name), std::string(value));
    }
  }
  // RFC 8460 §3: "rua" is required.
  if (!have_rua) return fail(errc::bad_record);
  return out;
}

std::optional<txt_record> select_txt_record(const std::vector<std::string>& txts) {
  // RFC 8460 §3: "Records that do not begin with "v=TLSRPTv1;" are discarded. If the number of
  // resulting records is not one, senders MUST assume the recipient domain does not implement
  // TLSRPT."
  const std::string* chosen = nullptr;
  std::size_t n = 0;
  for (const auto& t : txts) {
    std::string_view v = t;
    if (v.substr(0, 10) != "v=TLSRPTv1") continue;
    const auto after = trim_wsp(v.substr(10));
    if (after.empty() || after.front() != ';') continue;
    chosen = &t;
    ++n;
  }
  if (n != 1) return std::nullopt;
  auto r = parse_txt_record(*chosen);
  if (!r) return std::nullopt;
  return std::move(*r);
}

std::string_view to_string(result_type r) noexcept {
  const auto i = static_cast<std::size_t>(r);
  return i < result_names.size() ? result_names[i] : std::string_view("other");
}

result_type parse_result_type(std::string_view s) noexcept {
  for (std::size_t i = 0; i < result_names.size(); ++i)
    if (result_names[i] == s) return static_cast<result_type>(i);
  return result_type::other;
}

std::string_view to_string(policy_type p) noexcept {
  switch (p) {
  case policy_type::tlsa:
    return "tlsa";
  case policy_type::sts:
    return "sts";
  case policy_type::no_policy_found:
    return "no-policy-found";
  case policy_type::other:
    return "other";
  }
  return "other";
}

policy_type parse_policy_type(std::string_view s) noexcept {
  if (s == "tlsa") return policy_type::tlsa;
  if (s == "sts") return policy_type::sts;
  if (s == "no-policy-found") return policy_type::no_policy_found;
  return policy_type::other;
}

expected<report> parse_report(std::string_view text) {
  if (text.size() > 1024 * 1024) return fail(errc::too_large);
  json::parse_options opts;
  opts.max_depth = 16;
  std::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, opts);
  if (ec || !v.is_object()) return fail(errc::bad_report);
  const auto& o = v.as_object();
  report out;
  // RFC 8460 §4.4: organization-name, date-range, contact-info, report-id and policies are
  // required.
  const auto* org = member(o, "organization-name");
  const auto* range = member(o, "date-range");
  const auto* rid = member(o, "report-id");
  const auto* policies = member(o, "policies");
  if (org == nullptr || !org->is_string() || range == nullptr || !range->is_object() ||
      rid == nullptr || !rid->is_string() || policies == nullptr || !policies->is_array())
    return fail(errc::bad_report);
  out.organization_name = std::string(org->as_string());
  out.start_datetime = str(range->as_object(), "start-datetime");
  out.end_datetime = str(range->as_object(), "end-datetime");
  if (out.start_datetime.empty() || out.end_datetime.empty()) return fail(errc::bad_report);
  // contact-info is required by §4.4 but some senders leave it out; it is informational.
  out.contact_info = str(o, "contact-info");
  out.report_id = std::string(rid->as_string());
  for (const auto& pv : policies->as_array()) {
    if (!pv.is_object()) return fail(errc::bad_report);
    const auto& po = pv.as_object();
    const auto* pol = member(po, "policy");
    if (pol == nullptr || !pol->is_object()) return fail(errc::bad_report);
    const auto& polo = pol->as_object();
    policy_result pr;
    const std::string type = str(polo, "policy-type");
    if (type.empty()) return fail(errc::bad_report);
    pr.policy.type = parse_policy_type(type);
    if (pr.policy.type == policy_type::other) pr.policy.type_name = type;
    pr.policy.policy_string = strings(polo, "policy-string");
    pr.policy.domain = str(polo, "policy-domain");
    pr.policy.mx_host = strings(polo, "mx-host");
    const auto* summary = member(po, "summary");
    if (summary == nullptr || !summary->is_object()) return fail(errc::bad_report);
    pr.total_successful_session_count =
        count(summary->as_object(), "total-successful-session-count");
    pr.total_failure_session_count = count(summary->as_object(), "total-failure-session-count");
    if (const auto* details = member(po, "failure-details");
        details != nullptr && details->is_array()) {
      for (const auto& dv : details->as_array()) {
        if (!dv.is_object()) return fail(errc::bad_report);
        const auto& d = dv.as_object();
        failure_detail fd;
        const std::string rt = str(d, "result-type");
        if (rt.empty()) return fail(errc::bad_report);
        fd.result = parse_result_type(rt);
        if (fd.result == result_type::other) fd.result_name = rt;
        fd.sending_mta_ip = str(d, "sending-mta-ip");
        fd.receiving_mx_hostname = str(d, "receiving-mx-hostname");
        fd.receiving_mx_helo = str(d, "receiving-mx-helo");
        fd.receiving_ip = str(d, "receiving-ip");
        fd.failed_session_count = count(d, "failed-session-count");
        fd.additional_information = str(d, "additional-information");
        fd.failure_reason_code = str(d, "failure-reason-code");
        pr.failure_details.push_back(std::move(fd));
      }
    }
    out.policies.push_back(std::move(pr));
  }
  return out;
}

std::string to_json(const report& r) {
  json::object o;
  o["organization-name"] = r.organization_name;
  o["date-range"] =
      json::object{{"start-datetime", r.start_datetime}, {"end-datetime", r.end_datetime}};
  o["contact-info"] = r.contact_info;
  o["report-id"] = r.report_id;
  json::array policies;
  for (const auto& p : r.policies) {
    json::object pol;
    pol["policy-type"] = p.policy.type == policy_type::other
                             ? p.policy.type_name
                             : std::string(to_string(p.policy.type));
    if (!p.policy.policy_string.empty()) {
      json::array a;
      for (const auto& s : p.policy.policy_string)
        a.emplace_back(s);
      pol["policy-string"] = std::move(a);
    }
    if (!p.policy.domain.empty()) pol["policy-domain"] = p.policy.domain;
    if (!p.policy.mx_host.empty()) {
      json::array a;
      for (const auto& s : p.policy.mx_host)
        a.emplace_back(s);
      pol["mx-host"] = std::move(a);
    }
    json::object entry;
    entry["policy"] = std::move(pol);
    entry["summary"] =
        json::object{{"total-successful-session-count", p.total_successful_session_count},
                     {"total-failure-session-count", p.total_failure_session_count}};
    if (!p.failure_details.empty()) {
      json::array details;
      for (const auto& d : p.failure_details) {
        json::object fd;
        fd["result-type"] =
            d.result == result_type::other ? d.result_name : std::string(to_string(d.result));
        const auto opt = [&](const char* key, const std::string& value) {
          if (!value.empty()) fd[key] = value;
        };
        opt("sending-mta-ip", d.sending_mta_ip);
        opt("receiving-mx-hostname", d.receiving_mx_hostname);
        opt("receiving-mx-helo", d.receiving_mx_helo);
        opt("receiving-ip", d.receiving_ip);
        fd["failed-session-count"] = d.failed_session_count;
        opt("additional-information", d.additional_information);
        opt("failure-reason-code", d.failure_reason_code);
        details.emplace_back(std::move(fd));
      }
      entry["failure-details"] = std::move(details);
    }
    policies.emplace_back(std::move(entry));
  }
  o["policies"] = std::move(policies);
  return json::serialize(o);
}

expected<std::string> gzip(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip wrapper (RFC 1952) instead of zlib's (RFC 8460 §5.1).
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return fail(mailkit::errc::resource_exhausted);
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return fail(mailkit::errc::resource_exhausted);
  out.resize(produced);
  return out;
}

expected<std::string> gunzip(std::string_view data, std::size_t max_output) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return fail(mailkit::errc::resource_exhausted);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 16384> chunk{};
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return fail(errc::bad_gzip); // Z_BUF_ERROR here: the input ended early
    }
    const std::size_t n = chunk.size() - zs.avail_out;
    if (out.size() + n > max_output) {
      inflateEnd(&zs);
      return fail(errc::too_large);
    }
    out.append(chunk.data(), n);
  }
  inflateEnd(&zs);
  return out;
}

std::string format_datetime(mailkit::clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string report_filename(std::string_view submitter, std::string_view policy_domain,
                            mailkit::clock::time_point begin, mailkit::clock::time_point end,
                            std::string_view unique_id, bool gzipped) {
  const auto secs = [](mailkit::clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  // RFC 8460 §5.3: filename = sender "!" policy-domain "!" begin-timestamp "!" end-timestamp
  //                [ "!" unique-id ] "." extension
  std::string out(submitter);
  out += '!';
  out += policy_domain;
  out += '!' + secs(begin) + '!' + secs(end);
  if (!unique_id.empty()) {
    out += '!';
    out += unique_id;
  }
  out += gzipped ? ".json.gz" : ".json";
  return out;
}

std::string report_subject(std::string_view policy_domain, std::string_view submitter,
                           std::string_view report_id) {
  // RFC 8460 §5.3: subject = "Report Domain: " policy-domain " Submitter: " sender
  //                " Report-ID: <" id ">"
  std::string out = "Report Domain: ";
  out += policy_domain;
  out += " Submitter: ";
  out += submitter;
  out += " Report-ID: <";
  out += report_id;
  out += '>';
  return out;
}

void aggregator::add_success(const policy_description& policy, std::uint64_t n) {
  std::lock_guard lock(mutex_);
  by_domain_[policy.domain][policy].success += n;
}

void aggregator::add_failure(const policy_description& policy, const failure_detail& detail) {
  std::lock_guard lock(mutex_);
  auto& c = by_domain_[policy.domain][policy];
  ++c.failure;
  failure_key key{static_cast<int>(detail.result), detail.result_name,       detail.sending_mta_ip,
                  detail.receiving_mx_hostname,    detail.receiving_mx_helo, detail.receiving_ip,
                  detail.failure_reason_code};
  auto [it, inserted] = c.details.try_emplace(std::move(key), detail);
  if (inserted) it->second.failed_session_count = 0;
  ++it->second.failed_session_count;
}

std::vector<std::string> aggregator::domains() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [d, m] : by_domain_)
    out.push_back(d);
  return out;
}

std::optional<report>
aggregator::make_report(std::string_view policy_domain, std::string_view organization_name,
                        std::string_view contact_info, std::string_view report_id,
                        mailkit::clock::time_point begin, mailkit::clock::time_point end) const {
  std::lock_guard lock(mutex_);
  const auto it = by_domain_.find(policy_domain);
  if (it == by_domain_.end()) return std::nullopt;
  report r;
  r.organization_name = organization_name;
  r.contact_info = contact_info;
  r.report_id = report_id;
  r.start_datetime = format_datetime(begin);
  r.end_datetime = format_datetime(end);
  for (const auto& [policy, c] : it->second) {
    policy_result pr;
    pr.policy = policy;
    pr.total_successful_session_count = c.success;
    pr.total_failure_session_count = c.failure;
    for (const auto& [k, d] : c.details)
      pr.failure_details.push_back(d);
    r.policies.push_back(std::move(pr));
  }
  return r;
}

void aggregator::clear(std::string_view policy_domain) {
  std::lock_guard lock(mutex_);
  if (const auto it = by_domain_.find(policy_domain); it != by_domain_.end()) by_domain_.erase(it);
}

} // namespace mailkit::tlsrpt
