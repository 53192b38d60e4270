// SPDX-License-Identifier: Apache-2.0
// mailkit.authenticate() (PYTHON_API.md "mailkit.spf and mailkit.dmarc"): SPF + DKIM + DMARC of
// one received message through dmarc::authenticate, and its AuthenticationResult. The parts are
// the classes the submodules bind (mailkit.spf.Result, mailkit.dkim.Result, mailkit.dmarc.Result),
// so bind_spf, bind_dkim and bind_dmarc run first.
#include "errors.hpp"
#include "spf_dmarc_resolver.hpp"

#include <mailkit/dmarc/authenticate.hpp>

#include <pybind11/stl.h>

#include <string>
#include <string_view>

namespace py = pybind11;

namespace mailkit::python {

namespace {

spf::ip_address ip_of(py::handle h) {
  const std::string s = text_arg(h, "ip");
  auto ip = spf::parse_ip(s);
  if (!ip) throw py::value_error("not an IP address: " + s);
  return *ip;
}

} // namespace

void bind_authenticate(py::module_& m) {
  using dmarc::authentication;
  py::class_<authentication> cls(m, "AuthenticationResult",
                                 "SPF, DKIM and DMARC results of one message, with the "
                                 "Authentication-Results field (RFC 8601).");
  cls.def_property_readonly(
         "spf",
         [](const authentication& a) {
           return spf_py_result{a.spf, a.spf_params};
         },
         "mailkit.spf.Result for MAIL FROM (the HELO identity when MAIL FROM is null)")
      .def_property_readonly(
          "dkim", [](const authentication& a) { return a.dkim; },
          "list of mailkit.dkim.Result, one per DKIM-Signature (empty when unsigned)")
      .def_property_readonly(
          "dmarc", [](const authentication& a) { return a.dmarc; },
          "mailkit.dmarc.Result for the From domain(s) (RFC 7489 §6.6.1)")
      .def_property_readonly(
          "from_domains", [](const authentication& a) { return a.from_domains; },
          "the distinct From domains found, lower case")
      .def_property_readonly(
          "header", [](const authentication& a) { return a.header; },
          "the complete \"Authentication-Results: ...\" field, folded, ending in CRLF")
      .def("__repr__", [](const authentication& a) {
        return "<mailkit.AuthenticationResult spf=" + std::string(spf::to_string(a.spf.result)) +
               " dkim=" + std::string(dkim::to_string(dkim::summarize(a.dkim))) +
               " dmarc=" + std::string(dmarc::to_string(a.dmarc.result)) + ">";
      });
  cls.attr("__module__") = "mailkit";

  m.def(
      "authenticate",
      [](py::handle message, py::handle ip, py::handle helo, py::handle mail_from,
         py::object resolver, py::handle authserv_id) {
        std::string owned;
        std::string_view msg;
        if (PyBytes_Check(message.ptr())) {
          char* data = nullptr;
          Py_ssize_t len = 0;
          PyBytes_AsStringAndSize(message.ptr(), &data, &len);
          msg = std::string_view(data, static_cast<std::size_t>(len));
        } else if (PyUnicode_Check(message.ptr())) {
          owned = text_arg(message, "message");
          msg = owned;
        } else {
          throw py::type_error("message must be bytes or str");
        }
        dmarc::authenticate_params p;
        p.ip = ip_of(ip);
        p.helo = text_arg(helo, "helo");
        p.mail_from = text_arg(mail_from, "mail_from");
        p.authserv_id = text_arg(authserv_id, "authserv_id");
        if (p.authserv_id.empty()) throw py::value_error("authserv_id must not be empty");
        const auto r = resolver_from(std::move(resolver));
        authentication a;
        if (r.native) {
          py::gil_scoped_release nogil;
          a = dmarc::authenticate(*r.native, msg, p);
        } else {
          a = dmarc::authenticate(r.get(), msg, p);
          r.rethrow();
        }
        return a;
      },
      py::arg("message"), py::kw_only(), py::arg("ip"), py::arg("helo"), py::arg("mail_from"),
      py::arg("resolver") = py::none(), py::arg("authserv_id") = py::str("mx"),
      "Authenticate a received message: SPF on mail_from (the HELO name when mail_from is\n"
      "empty or None: a null reverse-path), DKIM on every signature, DMARC on the From\n"
      "domain(s). Returns an AuthenticationResult: .spf, .dkim (list), .dmarc, .header.\n\n"
      "resolver= as in mailkit.spf: a mailkit.dns resolver, an object with query(), or None.");
}

} // namespace mailkit::python
