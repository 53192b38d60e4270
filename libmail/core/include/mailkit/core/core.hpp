// SPDX-License-Identifier: Apache-2.0
/// @file core.hpp
/// libmail core: the vocabulary every other module shares. Error values (`mailkit::expected`,
/// `mailkit::error_code`, transient or permanent), byte and line utilities, the RFC 4648 base64
/// and RFC 2045 quoted-printable codecs that sit on the MIME and DKIM hot paths, an injectable
/// clock, and logging hooks.
///
/// **Standards**: RFC 4648 §4 (base64), RFC 2045 §6.7 (quoted-printable), RFC 2045 §6.8 (base64
/// in MIME: line length 76, characters outside the alphabet ignored when decoding).
///
/// **Security**: the codecs read untrusted bytes (message bodies, DNS records). They never read
/// past their input, never allocate more than the size the input implies, and report malformed
/// input instead of guessing silently. No disk, network or key material here.
#pragma once

#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/core/clock.hpp>
#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/core/log.hpp>
#include <mailkit/core/quoted_printable.hpp>
