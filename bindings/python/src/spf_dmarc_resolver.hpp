// SPDX-License-Identifier: Apache-2.0
/// @file spf_dmarc_resolver.hpp
/// The `resolver=` argument of mailkit.spf and mailkit.dmarc (defined in spf.cpp): a bound
/// mailkit.dns resolver is used natively (the GIL released during the check); any other object
/// with `query(name, rtype) -> list` (the PYTHON_API.md mailkit.dns shape) is called back
/// through a bridge; None means the shared mailkit.dns.Resolver() (dns_binding.hpp).
#pragma once

#include <mailkit/dns/resolver.hpp>
#include <mailkit/spf/check_host.hpp>

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

namespace mailkit::python {

/// A resolver for one call: native when the object is a bound dns::resolver, else a bridge.
struct resolver_ref {
  pybind11::object owner; ///< keeps the Python object alive
  dns::resolver* native = nullptr;
  std::unique_ptr<dns::resolver> bridge;
  [[nodiscard]] dns::resolver& get() const { return native ? *native : *bridge; }
  /// Raise a Python exception the bridge caught during the call, if any.
  void rethrow() const;
};

/// What mailkit.spf.Result wraps (spf.cpp binds it; authenticate.cpp returns it too): the
/// result with the parameters it was for, which Received-SPF and Authentication-Results need.
struct spf_py_result {
  spf::check_result res;
  spf::check_params params;
};

/// See the file comment. Raises TypeError for an object that is neither.
[[nodiscard]] resolver_ref resolver_from(pybind11::object obj);

/// str, or bytes decoded as UTF-8; None gives "".
[[nodiscard]] std::string text_arg(pybind11::handle h, const char* what);

} // namespace mailkit::python
