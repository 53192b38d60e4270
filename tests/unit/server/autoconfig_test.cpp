// SPDX-License-Identifier: Apache-2.0
// Client autoconfiguration (server/autoconfig.hpp): the clientConfig document parsed back with
// an XML parser, escaping of every configured text, agreement with `dns plan`'s RFC 6186 SRV
// records, the HTTPS listener's virtual hosts, and a certificate swap on a running http::server
// (what mail_server::reload_tls() does on SIGHUP).
#include <mailkit/dns/static_resolver.hpp>
#include <mailkit/server/autoconfig.hpp>
#include <mailkit/server/dns_plan.hpp>
#include <mailkit/server/mail_server.hpp>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace server = mailkit::server;
namespace http = mailkit::http;
namespace tls = mailkit::tls;
namespace pt = boost::property_tree;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

pt::ptree parse(const std::string& xml) {
  std::istringstream in(xml);
  pt::ptree tree;
  pt::read_xml(in, tree); // throws on a malformed document
  return tree;
}

struct parsed_server {
  std::string element, type, hostname, port, socket_type, username, authentication;
};

std::vector<parsed_server> servers_of(const pt::ptree& tree) {
  std::vector<parsed_server> out;
  for (const auto& [name, node] : tree.get_child("clientConfig.emailProvider")) {
    if (name != "incomingServer" && name != "outgoingServer") continue;
    out.push_back({name, node.get<std::string>("<xmlattr>.type"), node.get<std::string>("hostname"),
                   node.get<std::string>("port"), node.get<std::string>("socketType"),
                   node.get<std::string>("username"), node.get<std::string>("authentication")});
  }
  return out;
}

std::shared_ptr<tls::context> self_signed_context(const fs::path& dir, const std::string& stem,
                                                  const std::vector<std::string>& names) {
  auto pair = tls::make_self_signed(names);
  EXPECT_TRUE(pair);
  std::ofstream(dir / (stem + ".pem")) << pair->certificate_pem;
  std::ofstream(dir / (stem + ".key")) << pair->private_key_pem;
  auto ctx = tls::make_server_context(
      {(dir / (stem + ".pem")).string(), (dir / (stem + ".key")).string()});
  EXPECT_TRUE(ctx);
  return ctx ? *ctx : nullptr;
}

} // namespace

TEST(autoconfig, default_document_lists_the_four_services) {
  const auto s = server::client_settings_for("example.com", {}, "mail.example.com");
  auto xml = server::make_autoconfig_xml(s);
  ASSERT_TRUE(xml);
  const auto tree = parse(*xml);
  EXPECT_EQ(tree.get<std::string>("clientConfig.<xmlattr>.version"), "1.1");
  EXPECT_EQ(tree.get<std::string>("clientConfig.emailProvider.<xmlattr>.id"), "example.com");
  EXPECT_EQ(tree.get<std::string>("clientConfig.emailProvider.domain"), "example.com");
  EXPECT_EQ(tree.get<std::string>("clientConfig.emailProvider.displayName"), "example.com");
  const auto got = servers_of(tree);
  ASSERT_EQ(got.size(), 4u);
  const std::vector<std::tuple<std::string, std::string, std::string, std::string>> want = {
      {"incomingServer", "imap", "993", "SSL"},
      {"incomingServer", "imap", "143", "STARTTLS"},
      {"outgoingServer", "smtp", "465", "SSL"},
      {"outgoingServer", "smtp", "587", "STARTTLS"}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].element, std::get<0>(want[i]));
    EXPECT_EQ(got[i].type, std::get<1>(want[i]));
    EXPECT_EQ(got[i].port, std::get<2>(want[i]));
    EXPECT_EQ(got[i].socket_type, std::get<3>(want[i]));
    EXPECT_EQ(got[i].hostname, "mail.example.com");
    EXPECT_EQ(got[i].username, "%EMAILADDRESS%");
    EXPECT_EQ(got[i].authentication, "password-cleartext");
  }
}

TEST(autoconfig, public_names_and_ports_from_the_config) {
  server::autoconfig_config c;
  c.imap_host = "imap.example.net.";
  c.smtp_host = "smtp.example.net";
  c.imaps_port = 10993;
  c.imap_port = 0; // not offered
  c.submissions_port = 0;
  c.submission_port = 2587;
  auto xml = server::make_autoconfig_xml(server::client_settings_for("example.com", c, "mx"));
  ASSERT_TRUE(xml);
  const auto got = servers_of(parse(*xml));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].hostname, "imap.example.net");
  EXPECT_EQ(got[0].port, "10993");
  EXPECT_EQ(got[0].socket_type, "SSL");
  EXPECT_EQ(got[1].hostname, "smtp.example.net");
  EXPECT_EQ(got[1].port, "2587");
  EXPECT_EQ(got[1].socket_type, "STARTTLS");
}

// Every configured text is escaped: the document parses back to exactly what was configured.
TEST(autoconfig, display_name_is_escaped) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"Tom & Jerry's <Mail>", "Tom & Jerry's <Mail>"},
      {"\"quoted\" ]]> </displayName><script>", "\"quoted\" ]]> </displayName><script>"},
      {"ctl\x01\x1f"
       "end",
       "ctl  end"},
      {"caf\xc3\xa9 \xe2\x9c\x89", "caf\xc3\xa9 \xe2\x9c\x89"},
  };
  for (const auto& [in, out] : rows) {
    server::autoconfig_config c;
    c.display_name = in;
    auto xml = server::make_autoconfig_xml(server::client_settings_for("example.com", c, "mx.a"));
    ASSERT_TRUE(xml) << in;
    EXPECT_EQ(parse(*xml).get<std::string>("clientConfig.emailProvider.displayName"), out);
    EXPECT_EQ(xml->find("<script>"), std::string::npos);
  }
  EXPECT_EQ(server::xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
}

TEST(autoconfig, host_names_are_checked) {
  for (const char* bad : {"", "a b.example", "x\"/><y.example", "-a.example", "a..example",
                          "a.example-", "\xc3\xa9.example"}) {
    server::autoconfig_config c;
    c.imap_host = bad;
    if (c.imap_host.empty()) c.imap_host = "."; // "" means the default host name
    EXPECT_FALSE(
        server::make_autoconfig_xml(server::client_settings_for("example.com", c, "mail.a")))
        << bad;
    EXPECT_FALSE(server::make_autoconfig_xml(server::client_settings_for(bad, {}, "mail.a")))
        << bad;
  }
  server::client_settings s = server::client_settings_for("example.com", {}, "mail.example.com");
  s.servers[0].port = 0;
  EXPECT_FALSE(server::make_autoconfig_xml(s));
}

// `mailkit dns plan` publishes RFC 6186 SRV records for the same services: same names, ports
// and target as the document built from the same (default) settings.
TEST(autoconfig, srv_records_agree_with_the_dns_plan) {
  server::dns_settings ds;
  ds.domain = "example.com";
  ds.mail_host = "mail.example.com";
  ds.ipv4 = {"192.0.2.7"};
  auto plan = server::plan_dns(ds);
  ASSERT_TRUE(plan) << plan.error();
  const auto ours = server::srv_records(
      server::client_settings_for(ds.domain, server::autoconfig_config{}, ds.mail_host));
  std::size_t planned = 0;
  for (const auto& r : plan->records) {
    if (r.type != "SRV") continue;
    ++planned;
    const auto it = std::find_if(ours.begin(), ours.end(), [&](const auto& o) {
      return o.name == r.name && r.value == std::to_string(o.priority) + " " +
                                                std::to_string(o.weight) + " " +
                                                std::to_string(o.port) + " " + o.target;
    });
    EXPECT_NE(it, ours.end()) << r.name << " " << r.value;
  }
  EXPECT_GE(planned, 3u); // _imaps, _submissions, _submission
  // The plan's autoconfig host points at the host that serves the document.
  EXPECT_TRUE(std::any_of(plan->records.begin(), plan->records.end(), [](const auto& r) {
    return r.name == "autoconfig.example.com" && r.type == "CNAME" && r.value == "mail.example.com";
  }));
}

TEST(autoconfig, https_hosts_serve_policy_and_both_autoconfig_paths) {
  const fs::path dir =
      fs::temp_directory_path() / ("mailkit-autoconfig-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto ctx = self_signed_context(dir, "a", {"mail.example.com"});
  server::mail_server_config cfg;
  cfg.hostname = "example.com"; // a domain that is its own mail host: merged with the apex host
  cfg.domains = {"example.com", "example.org"};
  auto hosts = server::https_hosts(cfg, ctx);
  ASSERT_TRUE(hosts) << hosts.error().message();
  auto find = [&](const std::string& name) -> const http::virtual_host* {
    for (const auto& h : *hosts)
      if (h.name == name) return &h;
    return nullptr;
  };
  for (const std::string d : {"example.com", "example.org"}) {
    ASSERT_TRUE(find("mta-sts." + d)) << d;
    EXPECT_TRUE(find("mta-sts." + d)->routes.count("/.well-known/mta-sts.txt"));
    ASSERT_TRUE(find("autoconfig." + d)) << d;
    EXPECT_TRUE(find("autoconfig." + d)->routes.count("/mail/config-v1.1.xml"));
    ASSERT_TRUE(find(d)) << d;
    const auto& r = find(d)->routes.at("/.well-known/autoconfig/mail/config-v1.1.xml");
    EXPECT_EQ(r.content_type.rfind("application/xml", 0), 0u);
    EXPECT_EQ(parse(r.body).get<std::string>("clientConfig.emailProvider.domain"), d);
  }
  EXPECT_EQ(hosts->size(), 6u);
  cfg.autoconfig.enabled = false;
  auto only_policy = server::https_hosts(cfg, ctx);
  ASSERT_TRUE(only_policy);
  EXPECT_EQ(only_policy->size(), 2u);
  cfg.mta_sts_mode = "sometimes";
  EXPECT_FALSE(server::https_hosts(cfg, ctx));
  fs::remove_all(dir);
}

// The certificate swap of reload_tls(): a connection made after replace_hosts() is served with
// the new certificate (a client trusting only the old one now fails), and the content follows.
TEST(autoconfig, replace_hosts_swaps_the_certificate_for_new_connections) {
  const fs::path dir =
      fs::temp_directory_path() / ("mailkit-autoconfig-r" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::vector<std::string> names = {"autoconfig.example.com", "example.com"};
  auto old_ctx = self_signed_context(dir, "old", names);
  auto new_ctx = self_signed_context(dir, "new", names);
  server::mail_server_config cfg;
  cfg.hostname = "mail.example.com";
  cfg.domains = {"example.com"};
  auto hosts = server::https_hosts(cfg, old_ctx);
  ASSERT_TRUE(hosts);
  http::server_options so;
  so.hosts = std::move(*hosts);
  auto srv = http::server::start(std::move(so));
  ASSERT_TRUE(srv) << srv.error().message();
  mailkit::dns::static_resolver resolver;
  ASSERT_TRUE(resolver.add("autoconfig.example.com", mailkit::dns::rtype::a, "127.0.0.1"));
  auto get = [&](const std::string& ca) {
    http::client_options o;
    o.ca_file = (dir / ca).string();
    o.port = (*srv)->port();
    o.resolver = &resolver;
    o.timeout = 10s;
    return http::get("autoconfig.example.com", "/mail/config-v1.1.xml?emailaddress=a%40example.com",
                     o);
  };
  auto before = get("old.pem");
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_EQ(before->status, 200u);
  EXPECT_NE(before->body.find("mail.example.com"), std::string::npos);

  cfg.autoconfig.imap_host = "imap.example.com";
  auto fresh = server::https_hosts(cfg, new_ctx);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE((*srv)->replace_hosts(std::move(*fresh)));
  EXPECT_FALSE(get("old.pem")); // the old certificate is gone for new connections
  auto after = get("new.pem");
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->status, 200u);
  EXPECT_NE(after->body.find("imap.example.com"), std::string::npos);
  EXPECT_FALSE((*srv)->replace_hosts({})); // refused, nothing changed
  EXPECT_TRUE(get("new.pem"));
  (*srv)->stop();
  fs::remove_all(dir);
}
