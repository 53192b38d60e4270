# SPDX-License-Identifier: Apache-2.0
"""DMARC (RFC 7489, RFC 9091 np=): does the From domain authenticate through an aligned SPF or
DKIM pass, and what does its owner ask for when it does not?

>>> import mailkit
>>> r = mailkit.dmarc.check("example.com", spf_result="pass", spf_domain="bounce.example.com",
...                         dkim=[("example.com", "fail")])
>>> r.result, r.policy, r.disposition, r.record, r.org_domain

``resolver=`` as in mailkit.spf. ``sample=`` fixes the pct draw (0-99) and ``seed=`` seeds it.
"""

from mailkit._mailkit import dmarc as _native

Result = _native.Result
check = _native.check
check_from = _native.check_from
parse_record = _native.parse_record
organizational_domain = _native.organizational_domain

__all__ = ["Result", "check", "check_from", "organizational_domain", "parse_record"]
