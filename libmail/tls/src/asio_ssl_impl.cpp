// SPDX-License-Identifier: Apache-2.0
// The SSL half of Boost.Asio, compiled once (BOOST_ASIO_SEPARATE_COMPILATION, DESIGN.md §2);
// the rest of Asio is compiled in libmail/core.
#include <boost/asio/ssl/impl/src.hpp>
