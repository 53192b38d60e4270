// SPDX-License-Identifier: Apache-2.0
/// @file dns_binding.hpp
/// How other binding files get the C++ resolver behind a `resolver=` argument (dns.cpp).
///
/// Every mailkit.dns resolver class (StaticResolver, Resolver) derives from the bound C++
/// `dns::resolver`, so `as_resolver()` returns the native object; the caller may then release
/// the GIL while it queries (the resolvers never call back into Python). The Python object
/// must stay alive for as long as the reference is used (it is, while it is an argument of the
/// running call).
#pragma once

#include <mailkit/dns/resolver.hpp>

#include <pybind11/pybind11.h>

namespace mailkit::python {

/// The C++ resolver of a mailkit.dns resolver object; None gives the shared default
/// `mailkit.dns.Resolver()` (default_resolver()). Raises TypeError for any other object (the
/// caller may then bridge a duck-typed object with `query(name, rtype) -> list` itself).
[[nodiscard]] dns::resolver& as_resolver(pybind11::handle resolver);

/// Is this a mailkit.dns resolver object (one that as_resolver() accepts, None aside)?
[[nodiscard]] bool is_native_resolver(pybind11::handle resolver);

/// The shared `mailkit.dns.Resolver()` (c-ares, servers from /etc/resolv.conf, with a cache),
/// created on first use and kept until the process exits.
[[nodiscard]] pybind11::object default_resolver();

} // namespace mailkit::python
