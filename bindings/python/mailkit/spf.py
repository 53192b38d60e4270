# SPDX-License-Identifier: Apache-2.0
"""Sender Policy Framework (RFC 7208): may this client IP send mail for this domain?

>>> import mailkit
>>> mailkit.spf.check2("192.0.2.1", "user@example.com", "mail.example.com")
('pass', '')
>>> r = mailkit.spf.check("192.0.2.1", "user@example.com", "mail.example.com")
>>> r.result, r.mechanism, r.received_spf

``resolver=`` takes a mailkit.dns resolver (default: one shared ``mailkit.dns.Resolver()``) or
any object with ``query(name, rtype) -> list`` in the mailkit.dns shape. SPF outcomes are
results, never exceptions.
"""

from mailkit._mailkit import spf as _native

Result = _native.Result
check = _native.check
check2 = _native.check2
check_helo = _native.check_helo
parse_record = _native.parse_record

__all__ = ["Result", "check", "check2", "check_helo", "parse_record"]
