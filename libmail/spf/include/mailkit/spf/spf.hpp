// SPDX-License-Identifier: Apache-2.0
/// @file spf.hpp
/// Sender Policy Framework: is this client IP authorized to send mail for the MAIL FROM or HELO
/// domain? `check_host` evaluates the domain's SPF record with every mechanism, modifier and
/// macro of RFC 7208, against an injected `dns::resolver`, and reports the result in the
/// Received-SPF and Authentication-Results forms. The evaluator is sans-I/O (check_host.hpp);
/// record syntax and macros are separate pure functions (record.hpp, macro.hpp).
///
/// **Standards**: RFC 7208 (SPF) §2-§7, §9.1; RFC 8601 §2.7.2 (Authentication-Results "spf").
/// RFC 4408 behaviour that RFC 7208 changed follows RFC 7208 (type SPF records are not queried;
/// more than 10 MX names is a permerror; the void-lookup limit applies).
/// **Security**: evaluates DNS data chosen by the sender's domain owner and macro values
/// chosen by the client (sender, HELO). Work is bounded by RFC 7208 §4.6.4 limits; no disk,
/// no keys, no network of its own.
#pragma once

#include <mailkit/spf/check_host.hpp>
#include <mailkit/spf/macro.hpp>
#include <mailkit/spf/record.hpp>
