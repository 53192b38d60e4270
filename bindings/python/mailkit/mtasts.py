# SPDX-License-Identifier: Apache-2.0
"""MTA-STS (RFC 8461) and TLS-RPT (RFC 8460): the policies a domain publishes for mail sent to
it, and the reports senders return about their TLS sessions.

>>> import mailkit
>>> p = mailkit.mtasts.parse_policy("version: STSv1\\nmode: enforce\\nmx: *.example.com\\n"
...                                 "max_age: 86400\\n")
>>> p.mode, p.mx, p.max_age, p.matches("mx1.example.com")
('enforce', ['*.example.com'], 86400, True)
>>> p = mailkit.mtasts.fetch("example.com")     # a Policy, or None when there is none

``fetch(resolver=)`` takes a mailkit.dns resolver (None: the shared default); ``cafile=`` the
trusted roots (None: the system store). ``parse_tlsrpt(data)`` reads a report, JSON or gzipped.
"""

from mailkit._mailkit import mtasts as _native

Policy = _native.Policy
parse_policy = _native.parse_policy
parse_txt_record = _native.parse_txt_record
mx_matches = _native.mx_matches
fetch = _native.fetch
parse_tlsrpt = _native.parse_tlsrpt
parse_tlsrpt_record = _native.parse_tlsrpt_record

__all__ = ["Policy", "fetch", "mx_matches", "parse_policy", "parse_tlsrpt", "parse_tlsrpt_record",
           "parse_txt_record"]
