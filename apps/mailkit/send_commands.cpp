// SPDX-License-Identifier: Apache-2.0
// `mailkit send`: one test message through a submission (or MX) server with libmail/smtp's
// client (smtp::deliver), printing the server's reply for each recipient. Exit 0 when every
// recipient was accepted, 1 otherwise (a refused recipient, a failed connection, TLS or AUTH).
//
//   mailkit send --host mail.example.com --port 587 --starttls --user alice@example.com
//       --password-file pw --from alice@example.com --to bob@example.net --subject hi --body hey
//
// The password is never taken from the command line (--password-file, or the first line of
// standard input with --password-stdin). Without --body the body is read from standard input.
#include "commands.hpp"

#include <mailkit/mime/builder.hpp>
#include <mailkit/smtp/client_session.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace mailkit::cli {

namespace {

struct send_args {
  std::string host = "localhost";
  std::optional<std::uint16_t> port;
  bool starttls = false, implicit_tls = false, no_tls = false;
  std::string user, password_file;
  bool password_stdin = false;
  std::string from;
  std::vector<std::string> to;
  std::string subject = "mailkit test message";
  std::optional<std::string> body;
  std::string cafile;
  bool insecure = false;
  std::string helo;
  std::vector<std::string> connect_to;
  unsigned timeout = 60;
};

std::string first_line(std::istream& in, const std::string& what) {
  std::string line;
  if (!std::getline(in, line)) throw std::runtime_error("cannot read " + what);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
    line.pop_back();
  if (line.empty()) throw std::runtime_error(what + ": empty password refused");
  return line;
}

std::string reply_text(const smtp::reply& r) {
  std::string out = std::to_string(r.code);
  if (r.enhanced) out += " " + r.enhanced->to_string();
  const std::string text = r.text();
  if (!text.empty()) out += " " + text;
  for (auto& c : out)
    if (c == '\n') c = ' ';
  return out;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

int run_send(send_args& a) {
  int modes = int(a.starttls) + int(a.implicit_tls) + int(a.no_tls);
  if (modes > 1) throw CLI::ValidationError("--starttls, --tls, --no-tls", "choose one");
  smtp::session_options o;
  o.host = a.host;
  // RFC 8314 §3.3: implicit TLS on 465; RFC 6409 §3.1: submission with STARTTLS on 587.
  o.tls = a.implicit_tls                  ? smtp::tls_mode::implicit
          : a.no_tls                      ? smtp::tls_mode::none
          : a.starttls || !a.user.empty() ? smtp::tls_mode::starttls_required
                                          : smtp::tls_mode::starttls_opportunistic;
  o.port = a.port.value_or(a.implicit_tls ? 465 : 587);
  o.addresses = a.connect_to;
  o.tls_options.verify_peer = !a.insecure;
  o.tls_options.ca_file = a.cafile;
  o.verify_host = !a.insecure;
  o.client.helo_name = a.helo.empty() ? host_name() : a.helo;
  o.timeouts = smtp::session_timeouts::all(std::chrono::seconds(a.timeout));
  if (!a.user.empty()) {
    std::string pw;
    if (!a.password_file.empty()) {
      std::ifstream f(a.password_file);
      if (!f) throw std::runtime_error("cannot read the password file " + a.password_file);
      pw = first_line(f, "the password file " + a.password_file);
    } else if (a.password_stdin) {
      pw = first_line(std::cin, "the password on standard input");
    } else {
      throw CLI::ValidationError("--user", "give --password-file FILE or --password-stdin");
    }
    o.client.auth = smtp::client_types::credentials{a.user, smtp::secret(std::move(pw))};
  }
  std::string body;
  if (a.body) {
    body = *a.body;
  } else {
    if (a.password_stdin) throw CLI::ValidationError("--body", "needed with --password-stdin");
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }

  mime::message_spec spec;
  spec.from.addr = a.from;
  for (const auto& t : a.to)
    spec.to.push_back({std::nullopt, t});
  spec.subject = a.subject;
  spec.text = body;
  spec.headers.emplace_back("X-Mailer", "mailkit send");
  auto message = mime::build(spec);
  if (!message) throw std::runtime_error("cannot build the message: " + message.error().message());

  smtp::outgoing_message m;
  m.env.mail_from = a.from;
  for (const auto& t : a.to)
    m.env.recipients.push_back({t, "", ""});
  m.data = std::move(*message);
  std::vector<smtp::outgoing_message> batch;
  batch.push_back(std::move(m));
  const auto report = smtp::deliver(std::move(o), std::move(batch));

  if (!report.peer.empty())
    std::printf("connected to %s (%s)\n", report.peer.c_str(), report.tls ? "TLS" : "no TLS");
  if (report.error) {
    std::fprintf(stderr, "mailkit send: %s%s%s\n", report.error.message().c_str(),
                 report.error_detail.empty() ? "" : ": ", report.error_detail.c_str());
    if (report.error_reply)
      std::fprintf(stderr, "  server said: %s\n", reply_text(*report.error_reply).c_str());
    return 1;
  }
  if (report.results.empty()) {
    std::fprintf(stderr, "mailkit send: no transaction took place\n");
    return 1;
  }
  const auto& r = report.results.front();
  if (!r.reason.empty()) std::fprintf(stderr, "mailkit send: refused: %s\n", r.reason.c_str());
  bool all = !r.recipients.empty();
  for (const auto& rr : r.recipients) {
    const bool ok = rr.reply.positive_completion();
    all = all && ok;
    std::printf("%s %s: %s\n", ok ? "accepted" : "refused ", rr.address.c_str(),
                reply_text(rr.reply).c_str());
  }
  std::fflush(stdout);
  return all ? 0 : 1;
}

void add_send_commands(CLI::App& app) {
  auto a = std::make_shared<send_args>();
  auto* c = app.add_subcommand(
      "send", "send a test message through a submission server and print each recipient's reply");
  c->add_option("--host", a->host, "server to connect to (checked against its certificate)")
      ->capture_default_str();
  c->add_option("--port", a->port, "port (default 587, 465 with --tls)");
  c->add_flag("--starttls", a->starttls,
              "require STARTTLS (the default with --user; else STARTTLS when offered)");
  c->add_flag("--tls", a->implicit_tls, "implicit TLS from the first byte (port 465, RFC 8314)");
  c->add_flag("--no-tls", a->no_tls, "plaintext (loopback tests only; no AUTH)");
  c->add_option("--user", a->user, "authenticate as this user (AUTH PLAIN/LOGIN, over TLS)");
  c->add_option("--password-file", a->password_file, "file whose first line is the password");
  c->add_flag("--password-stdin", a->password_stdin,
              "read the password from the first line of standard input");
  c->add_option("--from", a->from, "the sender (envelope and From:)")->required();
  c->add_option("--to", a->to, "a recipient (repeat for more)")->required();
  c->add_option("--subject", a->subject, "Subject:")->capture_default_str();
  c->add_option("--body", a->body, "the text (default: read from standard input)");
  c->add_option("--cafile", a->cafile, "trusted roots (PEM) for a private or self-signed CA");
  c->add_flag("--insecure", a->insecure,
              "encrypt without checking the certificate (self-signed test servers)");
  c->add_option("--helo", a->helo, "EHLO name (default: this machine's host name)");
  c->add_option("--connect-to", a->connect_to,
                "connect to this IP address instead of resolving --host");
  c->add_option("--timeout", a->timeout, "seconds per SMTP step")->capture_default_str();
  c->callback([a] {
    const int rc = run_send(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

const command_registration registration{360, &add_send_commands};

} // namespace

} // namespace mailkit::cli
