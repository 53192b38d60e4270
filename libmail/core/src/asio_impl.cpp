// SPDX-License-Identifier: Apache-2.0
// Boost.Asio compiled once for the whole library (BOOST_ASIO_SEPARATE_COMPILATION, DESIGN.md §2):
// every module that uses Asio links mailkit::core, which carries the definition publicly.
// The SSL part of Asio is compiled in libmail/tls, the only module that links OpenSSL for it.
#include <boost/asio/impl/src.hpp>
