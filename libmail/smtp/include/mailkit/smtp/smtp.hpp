// SPDX-License-Identifier: Apache-2.0
/// @file smtp.hpp
/// mailkit::smtp, the Simple Mail Transfer Protocol. The server half: a sans-I/O protocol core
/// (server.hpp) fed bytes, producing replies and events, with the DATA/BDAT receivers
/// (data_receiver.hpp), command syntax (command.hpp), SASL PLAIN/LOGIN (sasl_server.hpp) and
/// explicit limits (limits.hpp); a policy interface through which the mail system answers every
/// question asynchronously (policy.hpp); and the Asio listeners and sessions (server_session.hpp).
/// SMTP replies as values are shared with the client half (reply.hpp).
///
/// **Standards**: RFC 5321 (SMTP), RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
/// RFC 6531 (SMTPUTF8), RFC 2034 and RFC 3463 (enhanced status codes), RFC 3030 (CHUNKING,
/// BINARYMIME), RFC 3461 §4 (DSN parameters), RFC 3207 (STARTTLS), RFC 4954 with RFC 4616 (AUTH
/// PLAIN, LOGIN), RFC 8689 §4 (REQUIRETLS), RFC 8314 §3.3 (implicit TLS submission).
///
/// **Security**: the server parses untrusted network input from anyone (port 25) and from
/// users (587, 465). It is hardened against SMTP smuggling (only <CRLF>.<CRLF> ends DATA, bare
/// CR/LF refuse the message and close), STARTTLS command injection (buffered plaintext
/// discarded), credential sniffing (no AUTH before TLS), and resource exhaustion (every limit in
/// limits.hpp; timeouts, connection limits and AUTH throttling in server_session.hpp). It holds
/// passwords only for the duration of one AUTH exchange and never logs them. It touches no disk:
/// message bytes go to the policy's sink, and relaying is the policy's decision.
#pragma once

#include <mailkit/smtp/command.hpp>
#include <mailkit/smtp/data_receiver.hpp>
#include <mailkit/smtp/limits.hpp>
#include <mailkit/smtp/policy.hpp>
#include <mailkit/smtp/reply.hpp>
#include <mailkit/smtp/sasl_server.hpp>
#include <mailkit/smtp/server.hpp>
#include <mailkit/smtp/server_session.hpp>
