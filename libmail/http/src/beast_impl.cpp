// SPDX-License-Identifier: Apache-2.0
// Boost.Beast compiled once for the whole library (BOOST_BEAST_SEPARATE_COMPILATION, DESIGN.md
// §2); every module that uses Beast links mailkit::http, which carries the definition publicly.
#include <boost/beast/src.hpp>
