// SPDX-License-Identifier: Apache-2.0
/// @file errors.hpp
/// The exception classes of the `mailkit` package and the one way the bindings raise them.
///
/// Python sees operational failures as subclasses of `mailkit.Error` (PYTHON_API.md); protocol
/// outcomes are return values and never pass through here. module.cpp creates the classes once,
/// when `mailkit._mailkit` is imported, before any submodule is bound; each submodule's binding
/// code raises them with `raise()`.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace mailkit::python {

/// The exception classes. Borrowed references to objects that live as long as the interpreter
/// (the extension module holds them as attributes), set by bind_errors().
struct exceptions {
  PyObject* error = nullptr;       ///< mailkit.Error, base of every mailkit exception
  PyObject* parse_error = nullptr; ///< mailkit.ParseError(Error): input that cannot be parsed
  PyObject* dns_error = nullptr;   ///< mailkit.DnsError(Error): SERVFAIL, timeout, network error
  PyObject* smtp_error = nullptr;  ///< mailkit.SmtpError(Error): an SMTP exchange failed
  PyObject* store_error = nullptr; ///< mailkit.StoreError(Error): the mail store refused or failed
};

/// The classes created by bind_errors(); valid once the extension is imported.
[[nodiscard]] const exceptions& errors() noexcept;

/// Raise `type` with `what` as its message: sets the Python error and throws
/// pybind11::error_already_set, which pybind11 hands back to the interpreter unchanged.
[[noreturn]] void raise(PyObject* type, const std::string& what);

/// Create mailkit.Error and its subclasses as attributes of the extension module.
void bind_errors(pybind11::module_& m);

/// Bind the `mime` submodule (mime.cpp).
void bind_mime(pybind11::module_& m);

/// Bind the `dns` submodule (dns.cpp); before the modules whose functions take `resolver=`.
void bind_dns(pybind11::module_& m);

/// Bind the `dkim` submodule (dkim.cpp).
void bind_dkim(pybind11::module_& m);

/// Bind the `spf` submodule (spf.cpp).
void bind_spf(pybind11::module_& m);

/// Bind the `dmarc` submodule (dmarc.cpp).
void bind_dmarc(pybind11::module_& m);

/// Bind mailkit.authenticate and AuthenticationResult (authenticate.cpp); after spf, dkim and
/// dmarc, whose result classes it returns.
void bind_authenticate(pybind11::module_& m);

/// Registration of a submodule's binding function, for the modules bound after authenticate:
/// a source file defines `static const binding_registration reg{order, &bind_x};` and module.cpp
/// calls every registered function in ascending `order` (ties in registration order), after the
/// fixed sequence above. Orders in use: 100 store, 200 smtp, 300 relay, 400 server.
struct binding_registration {
  binding_registration(int order, void (*bind)(pybind11::module_&));
};

/// Call every registered binding function (module.cpp, last).
void bind_registered(pybind11::module_& m);

} // namespace mailkit::python
