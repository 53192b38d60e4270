// SPDX-License-Identifier: Apache-2.0
// The extension module `mailkit._mailkit`: the exception hierarchy, then one submodule per
// library module. The package's __init__.py and mime.py re-export from here under the public
// names (`mailkit.Error`, `mailkit.mime.parse`), so the extension itself stays private.
#include "errors.hpp"

#include <algorithm>
#include <vector>

namespace py = pybind11;

namespace mailkit::python {

namespace {

exceptions g_exceptions;

struct registered_binding {
  int order;
  void (*bind)(py::module_&);
};

// Function-local so that registrations from other translation units' static initialisers find
// it constructed whatever the initialisation order.
std::vector<registered_binding>& registered_bindings() {
  static std::vector<registered_binding> bindings;
  return bindings;
}

// A new exception class `mailkit.<name>` deriving from `base`, stored on the module.
PyObject* make_exception(py::module_& m, const char* name, const char* doc, PyObject* base) {
  const std::string qualified = std::string("mailkit.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base, nullptr);
  if (type == nullptr) throw py::error_already_set();
  // The module attribute keeps the class alive; the reference created here is that one.
  m.add_object(name, py::reinterpret_steal<py::object>(type));
  return type;
}

} // namespace

binding_registration::binding_registration(int order, void (*bind)(py::module_&)) {
  registered_bindings().push_back({order, bind});
}

void bind_registered(py::module_& m) {
  auto bindings = registered_bindings();
  std::stable_sort(
      bindings.begin(), bindings.end(),
      [](const registered_binding& a, const registered_binding& b) { return a.order < b.order; });
  for (const auto& b : bindings)
    b.bind(m);
}

const exceptions& errors() noexcept {
  return g_exceptions;
}

void raise(PyObject* type, const std::string& what) {
  PyErr_SetString(type, what.c_str());
  throw py::error_already_set();
}

void bind_errors(py::module_& m) {
  g_exceptions.error = make_exception(
      m, "Error",
      "Base class of every mailkit exception: an operation could not be carried out.\n\n"
      "Protocol outcomes (an SPF fail, a DKIM permerror, an SMTP 550) are return values, never\n"
      "exceptions; catch mailkit.Error for operational failures of any module.",
      PyExc_Exception);
  g_exceptions.parse_error = make_exception(
      m, "ParseError",
      "Input that cannot be parsed at all under the configured limits.\n\n"
      "Malformed mail is not an error: mailkit.mime.parse() reads it as mail clients do and lists\n"
      "what was wrong in Message.problems.",
      g_exceptions.error);
  g_exceptions.dns_error = make_exception(
      m, "DnsError",
      "A DNS question could not be answered now: SERVFAIL, REFUSED, a timeout or a network\n"
      "error. NXDOMAIN and NODATA are answers (an empty list), not errors.",
      g_exceptions.error);
  g_exceptions.smtp_error = make_exception(
      m, "SmtpError",
      "An SMTP exchange failed before any recipient was accepted: the connection, TLS, AUTH or\n"
      "MAIL FROM was refused or broke. Per-recipient refusals are return values.",
      g_exceptions.error);
  g_exceptions.store_error = make_exception(
      m, "StoreError",
      "The mail store could not carry out an operation: disk full, permissions, a missing\n"
      "account or mailbox, a quota. Nothing is half-written when this is raised.",
      g_exceptions.error);
}

} // namespace mailkit::python

PYBIND11_MODULE(_mailkit, m) {
  m.doc() = "mailkit native extension; import the public names from `mailkit` and its submodules.";
  m.attr("__version__") = MAILKIT_VERSION;
  mailkit::python::bind_errors(m);
  mailkit::python::bind_mime(m);
  mailkit::python::bind_dns(m);
  mailkit::python::bind_dkim(m);
  mailkit::python::bind_spf(m);
  mailkit::python::bind_dmarc(m);
  mailkit::python::bind_authenticate(m);
  mailkit::python::bind_registered(m);
}
