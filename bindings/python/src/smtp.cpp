// SPDX-License-Identifier: Apache-2.0
// `mailkit.smtp` (PYTHON_API.md, section mailkit.smtp): send(message, *, host, ...) over one
// SMTP connection with smtp::deliver, like smtplib's send_message.
//
// Defaults taken from the message when not given: mail_from is the first address of Sender,
// else of From; rcpt_to is every address of To, Cc and Bcc. Bcc and Resent-Bcc fields are
// always removed from the bytes sent (their recipients get the message without seeing the
// field, as smtplib does). The call releases the GIL while the session runs.
//
// Errors: mailkit.SmtpError when nothing could be delivered to any recipient for a reason
// before the recipients (connection, TLS, greeting, EHLO, AUTH, MAIL refused, a local refusal:
// SIZE, SMTPUTF8, 8BITMIME), or when the connection failed mid-transaction (outcome unknown).
// The exception carries .code (int or None), .enhanced ("5.7.8" or None), .permanent (bool).
// Refused recipients and a refused DATA are values in the returned dict.
#include "errors.hpp"

#include <mailkit/mime/address.hpp>
#include <mailkit/smtp/client_session.hpp>

#include <pybind11/stl.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace mailkit::python {
namespace {

std::string text_arg(py::handle h, const char* what) {
  if (PyBytes_Check(h.ptr())) return std::string(py::reinterpret_borrow<py::bytes>(h));
  if (PyUnicode_Check(h.ptr())) return h.cast<std::string>();
  throw py::type_error(std::string(what) + " must be str or bytes");
}

py::str to_str(std::string_view s) {
  PyObject* o =
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

struct header_field {
  std::string name;
  std::string value; // raw, folding kept
  std::size_t begin = 0, end = 0;
};

// The fields of the header section (RFC 5322 §2.2: a field is a name, a colon and a body that
// continues on lines starting with white space), with their byte ranges in the message.
std::vector<header_field> header_fields(std::string_view m) {
  std::vector<header_field> fields;
  std::size_t pos = 0;
  while (pos < m.size()) {
    const std::size_t eol = m.find('\n', pos);
    const std::size_t line_end = eol == std::string_view::npos ? m.size() : eol + 1;
    std::string_view line = m.substr(pos, line_end - pos);
    std::string_view bare = line;
    while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r'))
      bare.remove_suffix(1);
    if (bare.empty()) break; // the empty line ends the header section
    if ((line[0] == ' ' || line[0] == '\t') && !fields.empty()) {
      fields.back().value += std::string(bare);
      fields.back().end = line_end;
    } else {
      const std::size_t colon = bare.find(':');
      header_field f;
      f.name = std::string(bare.substr(0, colon == std::string_view::npos ? 0 : colon));
      f.value =
          colon == std::string_view::npos ? std::string() : std::string(bare.substr(colon + 1));
      f.begin = pos;
      f.end = line_end;
      fields.push_back(std::move(f));
    }
    pos = line_end;
  }
  return fields;
}

std::vector<std::string> addresses_of(const std::vector<header_field>& fields,
                                      std::string_view name) {
  std::vector<std::string> out;
  for (const auto& f : fields) {
    if (!iequals(f.name, name)) continue;
    for (const auto& mb : mime::parse_address_list(f.value).flatten())
      if (mb.addr && !mb.addr->empty()) out.push_back(*mb.addr);
  }
  return out;
}

[[noreturn]] void raise_smtp(const std::string& what, const std::optional<smtp::reply>& r,
                             bool permanent) {
  PyObject* type = errors().smtp_error;
  py::object exc =
      py::reinterpret_steal<py::object>(PyObject_CallFunction(type, "s", what.c_str()));
  if (!exc) throw py::error_already_set();
  exc.attr("code") = r ? py::object(py::int_(r->code)) : py::object(py::none());
  exc.attr("enhanced") =
      r && r->enhanced ? py::object(py::str(r->enhanced->to_string())) : py::object(py::none());
  exc.attr("permanent") = py::bool_(permanent);
  PyErr_SetObject(type, exc.ptr());
  throw py::error_already_set();
}

py::dict send(py::handle message, const std::string& host, int port, const std::string& tls,
              std::optional<std::string> username, std::optional<std::string> password,
              const std::string& auth, py::object mail_from, py::object rcpt_to,
              std::optional<std::string> cafile, bool verify, double timeout,
              std::optional<std::string> helo, bool pipelining, bool chunking) {
  std::string data = text_arg(message, "message");
  auto mode = smtp::parse_tls_mode(tls);
  if (!mode) throw py::value_error("tls must be \"starttls\", \"implicit\" or \"none\"");
  auto mech = smtp::parse_auth_mechanism(auth);
  if (!mech) throw py::value_error("auth must be \"auto\", \"plain\" or \"login\"");
  if (port <= 0 || port > 65535) throw py::value_error("port must be 1-65535");
  if (!(timeout > 0)) throw py::value_error("timeout must be positive");
  if (username.has_value() != password.has_value())
    throw py::value_error("username and password go together");

  const auto fields = header_fields(data);
  smtp::envelope env;
  if (!mail_from.is_none()) {
    env.mail_from = text_arg(mail_from, "mail_from");
  } else {
    auto sender = addresses_of(fields, "Sender");
    if (sender.empty()) sender = addresses_of(fields, "From");
    if (sender.empty())
      throw py::value_error("mail_from not given and the message has no From address");
    env.mail_from = sender.front();
  }
  std::vector<std::string> rcpts;
  if (!rcpt_to.is_none()) {
    if (PyUnicode_Check(rcpt_to.ptr()) || PyBytes_Check(rcpt_to.ptr()))
      rcpts.push_back(text_arg(rcpt_to, "rcpt_to"));
    else
      for (py::handle h : rcpt_to)
        rcpts.push_back(text_arg(h, "rcpt_to item"));
  } else {
    for (const char* name : {"To", "Cc", "Bcc"})
      for (auto& a : addresses_of(fields, name))
        rcpts.push_back(std::move(a));
  }
  if (rcpts.empty()) throw py::value_error("no recipients (rcpt_to empty and no To/Cc/Bcc)");
  for (auto& r : rcpts)
    env.recipients.push_back({std::move(r), "", ""});

  // Bcc and Resent-Bcc never leave: cut their byte ranges, last first.
  for (auto it = fields.rbegin(); it != fields.rend(); ++it)
    if (iequals(it->name, "Bcc") || iequals(it->name, "Resent-Bcc"))
      data.erase(it->begin, it->end - it->begin);

  smtp::session_options opts;
  opts.host = host;
  opts.port = static_cast<std::uint16_t>(port);
  opts.tls = *mode;
  opts.tls_options.verify_peer = verify;
  if (cafile) opts.tls_options.ca_file = *cafile;
  opts.verify_host = verify;
  opts.client.helo_name = helo.value_or("localhost");
  opts.client.mechanism = *mech;
  opts.client.use_pipelining = pipelining;
  opts.client.use_chunking = chunking;
  if (username) opts.client.auth = smtp::credentials{*username, smtp::secret(*password)};
  opts.timeouts = smtp::session_timeouts::all(
      std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000.0)));

  std::vector<smtp::outgoing_message> messages;
  messages.push_back({std::move(env), std::move(data)});
  smtp::delivery_report report;
  {
    py::gil_scoped_release nogil;
    report = smtp::deliver(std::move(opts), std::move(messages));
  }
  if (report.error)
    raise_smtp(host + ":" + std::to_string(port) + ": " + report.error_detail, report.error_reply,
               is_permanent(report.error));
  const smtp::transaction_result& t = report.results.at(0);
  if (t.refused != smtp::local_refusal::none)
    raise_smtp(t.reason,
               t.recipients.empty() ? std::nullopt
                                    : std::optional<smtp::reply>(t.recipients[0].reply),
               true);
  if (t.mail_reply && !t.mail_reply->positive_completion()) {
    const auto& r = *t.mail_reply;
    raise_smtp("MAIL FROM refused: " + std::to_string(r.code) + " " + r.text(), r,
               r.permanent_failure());
  }
  py::dict out;
  for (const auto& rc : t.recipients) {
    std::string text = rc.reply.text();
    if (rc.reply.enhanced) text = rc.reply.enhanced->to_string() + " " + text;
    out[to_str(rc.address)] = py::make_tuple(rc.reply.code, to_str(text));
  }
  return out;
}

void bind_smtp(py::module_& m) {
  py::module_ s = m.def_submodule("smtp", "SMTP client (mailkit.smtp.send).");
  s.def("send", &send, py::arg("message"), py::kw_only(), py::arg("host"), py::arg("port") = 587,
        py::arg("tls") = "starttls", py::arg("username") = py::none(),
        py::arg("password") = py::none(), py::arg("auth") = "auto",
        py::arg("mail_from") = py::none(), py::arg("rcpt_to") = py::none(),
        py::arg("cafile") = py::none(), py::arg("verify") = true, py::arg("timeout") = 60.0,
        py::arg("helo") = py::none(), py::arg("pipelining") = true, py::arg("chunking") = true,
        "Send one message over one SMTP connection; returns {recipient: (code, text)}.");
}

const binding_registration reg{200, &bind_smtp};

} // namespace
} // namespace mailkit::python
