// SPDX-License-Identifier: Apache-2.0
// Boost.Asio compiled once (BOOST_ASIO_SEPARATE_COMPILATION, DESIGN.md §2). libmail/core has
// no Asio yet; when a lower module needs Asio, this file moves there with the definition.
#include <boost/asio/impl/src.hpp>
