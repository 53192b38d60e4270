// SPDX-License-Identifier: Apache-2.0
/// @file imap.hpp
/// The IMAP protocol core (sans-I/O): everything of mailkit::imap in one include.
#pragma once

#include <mailkit/imap/commands.hpp>
#include <mailkit/imap/date.hpp>
#include <mailkit/imap/encode.hpp>
#include <mailkit/imap/error.hpp>
#include <mailkit/imap/fetch.hpp>
#include <mailkit/imap/reader.hpp>
#include <mailkit/imap/search.hpp>
#include <mailkit/imap/sequence.hpp>
#include <mailkit/imap/server.hpp>
