// SPDX-License-Identifier: Apache-2.0
/// @file mime.hpp
/// libmail MIME: parse RFC 5322 messages with MIME bodies into a tree over one owned buffer, read
/// their header fields (addresses, dates, content types, encoded words, identifiers, Received),
/// decode their bodies (transfer encodings, charsets to UTF-8), and compose new messages.
/// DKIM, IMAP (ENVELOPE, BODYSTRUCTURE, SEARCH), filtering and the Python API read mail through it.
///
/// **Standards**: RFC 5322, RFC 6532, RFC 2045, RFC 2046, RFC 2047, RFC 2183, RFC 2231, RFC 3030,
/// RFC 6152; sections are cited in each header and at the lines that enforce them.
/// **Security**: everything here parses untrusted input. No disk, network or keys. Memory is
/// bounded by the input size and the limits in message.hpp; there is no recursion on input depth.
#pragma once

#include <mailkit/mime/address.hpp>
#include <mailkit/mime/builder.hpp>
#include <mailkit/mime/charset.hpp>
#include <mailkit/mime/content_type.hpp>
#include <mailkit/mime/date.hpp>
#include <mailkit/mime/encoded_word.hpp>
#include <mailkit/mime/error.hpp>
#include <mailkit/mime/field.hpp>
#include <mailkit/mime/message.hpp>
#include <mailkit/mime/received.hpp>
