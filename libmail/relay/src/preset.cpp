// SPDX-License-Identifier: Apache-2.0
// Relay presets (preset.hpp). Sources for each value are listed in docs/relay.md.
#include <mailkit/relay/preset.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace mailkit::relay {

std::string_view to_string(count_mode m) noexcept {
  return m == count_mode::per_message ? "per_message" : "per_recipient";
}
std::string_view to_string(quota_window w) noexcept {
  return w == quota_window::rolling_24h ? "rolling_24h" : "calendar_day";
}
std::string_view to_string(priority p) noexcept {
  return p == priority::bulk ? "bulk" : "interactive";
}

namespace {

constexpr std::uint64_t mib = 1024 * 1024;

bool valid_region(std::string_view r) noexcept {
  if (r.empty() || r.size() > 40 || r.front() == '-' || r.back() == '-') return false;
  return std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool starts_with(std::string_view s, std::string_view p) noexcept {
  return s.substr(0, p.size()) == p;
}

// OCI's three-letter region keys, used in the DKIM CNAME target. Regions not listed get a
// placeholder the operator fills from the OCI console.
std::string_view oci_region_key(std::string_view region) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 24> keys{{
      {"us-ashburn-1", "iad"},   {"us-phoenix-1", "phx"},   {"us-sanjose-1", "sjc"},
      {"us-chicago-1", "ord"},   {"ca-toronto-1", "yyz"},   {"ca-montreal-1", "yul"},
      {"sa-saopaulo-1", "gru"},  {"sa-santiago-1", "scl"},  {"mx-queretaro-1", "qro"},
      {"eu-frankfurt-1", "fra"}, {"eu-amsterdam-1", "ams"}, {"eu-zurich-1", "zrh"},
      {"eu-paris-1", "cdg"},     {"eu-madrid-1", "mad"},    {"eu-milan-1", "lin"},
      {"eu-stockholm-1", "arn"}, {"uk-london-1", "lhr"},    {"uk-cardiff-1", "cwl"},
      {"ap-tokyo-1", "nrt"},     {"ap-osaka-1", "kix"},     {"ap-sydney-1", "syd"},
      {"ap-melbourne-1", "mel"}, {"ap-mumbai-1", "bom"},    {"ap-singapore-1", "sin"},
  }};
  for (const auto& [name, key] : keys)
    if (name == region) return key;
  return {};
}

// OCI publishes one SPF include per continent (Americas, Asia/Pacific, Europe).
std::string oci_spf(std::string_view region) {
  if (starts_with(region, "us-") || starts_with(region, "ca-") || starts_with(region, "sa-") ||
      starts_with(region, "mx-"))
    return "include:rp.oracleemaildelivery.com";
  if (starts_with(region, "ap-")) return "include:ap.rp.oracleemaildelivery.com";
  if (starts_with(region, "eu-") || starts_with(region, "uk-"))
    return "include:eu.rp.oracleemaildelivery.com";
  return "include:rp.oracleemaildelivery.com include:ap.rp.oracleemaildelivery.com "
         "include:eu.rp.oracleemaildelivery.com";
}

preset oci(std::string_view region) {
  preset p;
  p.name = "oci:" + std::string(region);
  p.provider = "OCI Email Delivery";
  p.host = "smtp.email." + std::string(region) + ".oci.oraclecloud.com";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.other_ports = {25, 465};
  p.auth_mechanisms = {"PLAIN"};
  // OCI accepts PLAIN only; its user names are OCIDs of 150+ characters (the SASL response goes
  // after the 334 when it does not fit the command line, sasl_client.hpp).
  p.auth = smtp::auth_mechanism::plain;
  p.spf_include = oci_spf(region);
  const std::string_view key = oci_region_key(region);
  p.dkim_record = "{selector}._domainkey.{domain} CNAME {selector}.{domain}.dkim." +
                  (key.empty() ? std::string("<region key>") : std::string(key)) +
                  ".oracleemaildelivery.com";
  p.provider_signs_dkim = true;
  p.requires_approved_sender = true; // envelope sender and header From must both be approved
  p.refuses_null_sender = true;
  p.quota_replies = {"maximum messages sent per day", "maximum messages sent per minute"};
  p.defaults.per_day = 100; // free tier; raised on request
  p.defaults.max_message_size = 2 * mib;
  p.defaults.counting = count_mode::per_message;
  p.defaults.window = quota_window::calendar_day;
  p.username_hint = "the SMTP credential's user name (an OCID, 150+ characters)";
  return p;
}

preset ses(std::string_view region) {
  preset p;
  p.name = "ses:" + std::string(region);
  p.provider = "Amazon SES";
  p.host = "email-smtp." + std::string(region) + ".amazonaws.com";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.other_ports = {25, 2587, 465, 2465};
  p.auth_mechanisms = {"PLAIN", "LOGIN"};
  p.spf_include = "include:amazonses.com"; // for a custom MAIL FROM domain
  p.dkim_record = "{token}._domainkey.{domain} CNAME {token}.dkim.amazonses.com (three tokens)";
  p.provider_signs_dkim = true;
  p.requires_approved_sender = true; // verified identities
  p.quota_replies = {"daily message quota exceeded", "maximum sending rate exceeded"};
  // Sandbox: 200 recipients per rolling 24 hours, 1 per second, 40 MB, 50 recipients.
  p.defaults.per_day = 200;
  p.defaults.per_minute = 60;
  p.defaults.max_message_size = 40 * mib;
  p.defaults.max_recipients = 50;
  p.defaults.counting = count_mode::per_recipient;
  p.defaults.window = quota_window::rolling_24h;
  p.username_hint = "the SMTP user name generated in the SES console (not the access key)";
  return p;
}

preset brevo() {
  preset p;
  p.name = "brevo";
  p.provider = "Brevo";
  p.host = "smtp-relay.brevo.com";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.other_ports = {2525, 465};
  p.auth_mechanisms = {"LOGIN", "PLAIN"};
  p.auth = smtp::auth_mechanism::automatic;
  p.spf_include = "include:spf.brevo.com";
  p.dkim_record = "brevo1._domainkey.{domain} CNAME b1.{domain}.dkim.brevo.com; "
                  "brevo2._domainkey.{domain} CNAME b2.{domain}.dkim.brevo.com";
  p.quota_replies = {"daily limit", "sending limit"};
  p.defaults.per_day = 300; // free plan
  p.defaults.max_message_size = 20 * mib;
  p.defaults.max_recipients = 99;
  p.defaults.counting = count_mode::per_recipient;
  p.defaults.window = quota_window::calendar_day;
  p.username_hint = "the SMTP login shown under SMTP & API (password: an SMTP key)";
  return p;
}

preset mailgun(bool eu) {
  preset p;
  p.name = eu ? "mailgun-eu" : "mailgun-us";
  p.provider = eu ? "Mailgun (EU)" : "Mailgun (US)";
  p.host = eu ? "smtp.eu.mailgun.org" : "smtp.mailgun.org";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.other_ports = {25, 2525, 465};
  p.auth_mechanisms = {"PLAIN", "LOGIN"};
  p.spf_include = "include:mailgun.org";
  p.dkim_record = "{selector}._domainkey.{domain} TXT (the key shown in the Mailgun domain page)";
  p.quota_replies = {"quota", "sending limit"};
  p.defaults.per_day = 100; // free plan
  p.defaults.max_message_size = 25 * mib;
  p.defaults.max_recipients = 1000;
  p.defaults.counting = count_mode::per_recipient;
  p.username_hint = "postmaster@<your sending domain> (per-domain SMTP credentials)";
  return p;
}

preset sendgrid() {
  preset p;
  p.name = "sendgrid";
  p.provider = "Twilio SendGrid";
  p.host = "smtp.sendgrid.net";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.other_ports = {25, 2525, 465};
  p.auth_mechanisms = {"PLAIN", "LOGIN"};
  p.spf_include = "include:sendgrid.net";
  p.dkim_record = "s1._domainkey.{domain} CNAME s1.domainkey.{token}.wl.sendgrid.net; "
                  "s2._domainkey.{domain} CNAME s2.domainkey.{token}.wl.sendgrid.net";
  p.quota_replies = {"maximum credits exceeded", "quota"};
  p.defaults.per_day = 100; // free plan
  p.defaults.max_message_size = 30 * mib;
  p.defaults.max_recipients = 1000;
  p.defaults.counting = count_mode::per_recipient;
  p.username_hint = "the literal user name \"apikey\" (password: an API key)";
  return p;
}

preset postmark() {
  preset p;
  p.name = "postmark";
  p.provider = "Postmark";
  p.host = "smtp.postmarkapp.com";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.other_ports = {25, 2525};
  p.auth_mechanisms = {"PLAIN", "LOGIN", "CRAM-MD5"};
  p.spf_include = ""; // the Return-Path is Postmark's (custom: CNAME pm-bounces -> pm.mtasv.net)
  p.dkim_record = "{selector}pm._domainkey.{domain} TXT (the key shown in Sender Signatures)";
  p.quota_replies = {"quota", "limit exceeded"};
  p.defaults.per_day = 0; // monthly plans, no daily cap
  p.defaults.max_message_size = 10 * mib;
  p.defaults.max_recipients = 50;
  p.defaults.counting = count_mode::per_recipient;
  p.username_hint = "the Server API token (also the password)";
  return p;
}

preset smtp2go() {
  preset p;
  p.name = "smtp2go";
  p.provider = "SMTP2GO";
  p.host = "mail.smtp2go.com";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.other_ports = {2525, 8025, 25, 80, 465, 8465, 443};
  p.auth_mechanisms = {"PLAIN", "LOGIN", "CRAM-MD5"};
  // SMTP2GO asks for CNAMEs to personalised subdomains instead of an SPF include.
  p.spf_include = "";
  p.dkim_record = "s{token}._domainkey.{domain} CNAME dkim.smtp2go.net (from Verified Senders)";
  p.quota_replies = {"quota", "limit reached"};
  p.defaults.per_day = 200; // free plan (1000 a month, 200 a day)
  p.defaults.max_message_size = 50 * mib;
  p.defaults.max_recipients = 100;
  p.defaults.counting = count_mode::per_recipient;
  p.username_hint = "an SMTP user created under Sending > SMTP Users";
  return p;
}

preset generic() {
  preset p;
  p.name = "generic";
  p.provider = "SMTP relay";
  p.port = 587;
  p.tls = smtp::tls_mode::starttls_required;
  p.auth_mechanisms = {"PLAIN", "LOGIN"};
  p.provider_signs_dkim = false;
  p.requires_approved_sender = false;
  return p;
}

} // namespace

expected<preset> find_preset(std::string_view name) {
  if (starts_with(name, "oci:")) {
    const std::string_view region = name.substr(4);
    if (!valid_region(region)) return fail(errc::invalid_argument);
    return oci(region);
  }
  if (starts_with(name, "ses:")) {
    const std::string_view region = name.substr(4);
    if (!valid_region(region)) return fail(errc::invalid_argument);
    return ses(region);
  }
  if (name == "brevo") return brevo();
  if (name == "mailgun-us" || name == "mailgun") return mailgun(false);
  if (name == "mailgun-eu") return mailgun(true);
  if (name == "sendgrid") return sendgrid();
  if (name == "postmark") return postmark();
  if (name == "smtp2go") return smtp2go();
  if (name == "generic") return generic();
  return fail(errc::invalid_argument);
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names{"oci:<region>", "brevo",      "ses:<region>",
                                              "mailgun-us",   "mailgun-eu", "sendgrid",
                                              "postmark",     "smtp2go",    "generic"};
  return names;
}

const std::vector<std::string>& common_quota_replies() {
  static const std::vector<std::string> texts{
      "maximum messages sent per day", "daily message quota", "sending quota", "quota exceeded",
      "rate limit exceeded",           "daily sending limit"};
  return texts;
}

bool is_quota_reply(std::string_view text, const std::vector<std::string>& patterns) {
  std::string lower(text);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  auto has = [&lower](const std::string& p) {
    return !p.empty() && lower.find(p) != std::string::npos;
  };
  return std::any_of(patterns.begin(), patterns.end(), has) ||
         std::any_of(common_quota_replies().begin(), common_quota_replies().end(), has);
}

std::string expand_dkim_record(std::string_view pattern, std::string_view selector,
                               std::string_view domain, std::string_view token) {
  std::string out;
  out.reserve(pattern.size() + 64);
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '{') {
      const std::size_t close = pattern.find('}', i);
      if (close != std::string_view::npos) {
        const std::string_view key = pattern.substr(i + 1, close - i - 1);
        if (key == "selector" || key == "domain" || key == "token") {
          out += key == "selector" ? selector : key == "domain" ? domain : token;
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(pattern[i++]);
  }
  return out;
}

} // namespace mailkit::relay
