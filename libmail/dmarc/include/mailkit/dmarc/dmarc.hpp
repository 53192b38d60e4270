// SPDX-License-Identifier: Apache-2.0
/// @file dmarc.hpp
/// Domain-based Message Authentication, Reporting and Conformance: does the message's From
/// domain authenticate through an aligned SPF or DKIM pass, and what does its owner ask
/// receivers to do when it does not? Record syntax (record.hpp), organizational domains from
/// the Public Suffix List (org_domain.hpp) and the sans-I/O evaluator with its drivers and
/// Authentication-Results output (check.hpp), and authenticate() (authenticate.hpp): SPF, DKIM
/// and DMARC of one received message with its Authentication-Results field. Aggregate and
/// failure reports are not built here.
///
/// **Standards**: RFC 7489 §3 (alignment, organizational domain), §6.3-§6.6 (record, discovery,
/// evaluation, pct), §11.2 (Authentication-Results); RFC 9091 §4 (np=); RFC 8601.
/// **Security**: parses untrusted DNS text and header-derived domains; bounded DNS work (at most
/// 5 questions per From domain); reads the PSL from /usr/share/publicsuffix once.
#pragma once

#include <mailkit/dmarc/authenticate.hpp>
#include <mailkit/dmarc/check.hpp>
#include <mailkit/dmarc/org_domain.hpp>
#include <mailkit/dmarc/record.hpp>
