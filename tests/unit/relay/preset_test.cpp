// SPDX-License-Identifier: Apache-2.0
// Relay presets: names, regions, DNS record patterns, quota reply recognition.
#include <mailkit/relay/preset.hpp>

#include <gtest/gtest.h>

using namespace mailkit;
using namespace mailkit::relay;

TEST(relay_preset, every_listed_name_resolves) {
  for (std::string name : preset_names()) {
    if (name == "oci:<region>") name = "oci:eu-frankfurt-1";
    if (name == "ses:<region>") name = "ses:eu-west-1";
    auto p = find_preset(name);
    ASSERT_TRUE(p) << name;
    EXPECT_EQ(p->name, name);
    if (name != "generic") {
      EXPECT_FALSE(p->host.empty()) << name;
      EXPECT_FALSE(p->auth_mechanisms.empty()) << name;
      EXPECT_FALSE(p->dkim_record.empty()) << name;
    }
  }
}

TEST(relay_preset, oci_region) {
  auto p = find_preset("oci:eu-frankfurt-1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "smtp.email.eu-frankfurt-1.oci.oraclecloud.com");
  EXPECT_EQ(p->port, 587);
  EXPECT_EQ(p->tls, smtp::tls_mode::starttls_required);
  EXPECT_EQ(p->auth, smtp::auth_mechanism::plain);
  EXPECT_EQ(p->auth_mechanisms, std::vector<std::string>{"PLAIN"});
  EXPECT_EQ(p->spf_include, "include:eu.rp.oracleemaildelivery.com");
  EXPECT_TRUE(p->refuses_null_sender);
  EXPECT_TRUE(p->requires_approved_sender);
  EXPECT_EQ(p->defaults.per_day, 100u);
  EXPECT_EQ(p->defaults.counting, count_mode::per_message);
  EXPECT_EQ(expand_dkim_record(p->dkim_record, "s1", "example.org"),
            "s1._domainkey.example.org CNAME s1.example.org.dkim.fra.oracleemaildelivery.com");
  EXPECT_EQ(find_preset("oci:us-ashburn-1")->spf_include, "include:rp.oracleemaildelivery.com");
  EXPECT_EQ(find_preset("oci:ap-tokyo-1")->spf_include, "include:ap.rp.oracleemaildelivery.com");
}

TEST(relay_preset, brevo_ses_and_others) {
  auto b = find_preset("brevo");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "smtp-relay.brevo.com");
  EXPECT_EQ(b->defaults.per_day, 300u);
  EXPECT_NE(std::find(b->other_ports.begin(), b->other_ports.end(), 2525), b->other_ports.end());
  auto s = find_preset("ses:us-east-1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host, "email-smtp.us-east-1.amazonaws.com");
  EXPECT_EQ(s->defaults.window, quota_window::rolling_24h);
  EXPECT_EQ(s->defaults.max_recipients, 50u);
  EXPECT_EQ(find_preset("mailgun-eu")->host, "smtp.eu.mailgun.org");
  EXPECT_EQ(find_preset("mailgun-us")->host, "smtp.mailgun.org");
  EXPECT_EQ(find_preset("sendgrid")->spf_include, "include:sendgrid.net");
  EXPECT_EQ(find_preset("postmark")->defaults.max_message_size, 10u * 1024 * 1024);
  EXPECT_EQ(find_preset("smtp2go")->host, "mail.smtp2go.com");
}

TEST(relay_preset, bad_names) {
  for (const char* n : {"", "oci:", "oci:Bad Region", "ses:-x", "nosuch", "oci:a/b"})
    EXPECT_FALSE(find_preset(n)) << n;
}

TEST(relay_preset, quota_replies) {
  const auto oci = *find_preset("oci:us-ashburn-1");
  EXPECT_TRUE(
      is_quota_reply("Maximum messages sent per day reached : limit is 100", oci.quota_replies));
  EXPECT_TRUE(is_quota_reply("Throttling failure: Daily message quota exceeded.", {}));
  EXPECT_FALSE(is_quota_reply("User unknown", oci.quota_replies));
  EXPECT_FALSE(is_quota_reply("", {}));
}

TEST(relay_preset, dkim_pattern_expansion) {
  EXPECT_EQ(expand_dkim_record("{token}._domainkey.{domain} CNAME {token}.dkim.x", "", "a.b", "T"),
            "T._domainkey.a.b CNAME T.dkim.x");
  EXPECT_EQ(expand_dkim_record("{unknown} {selector", "s", "d"), "{unknown} {selector");
}
