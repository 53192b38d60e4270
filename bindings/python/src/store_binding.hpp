// SPDX-License-Identifier: Apache-2.0
/// @file store_binding.hpp
/// A mailkit.store.Store object around a store that another binding already holds (the
/// Server's), so that scripts use one API for a store they opened and one a server runs.
#pragma once

#include <mailkit/store/store.hpp>

#include <pybind11/pybind11.h>

#include <memory>

namespace mailkit::python {

/// A mailkit.store.Store sharing `s` (close() drops this handle only).
[[nodiscard]] pybind11::object wrap_store(std::shared_ptr<store::mail_store> s);

} // namespace mailkit::python
