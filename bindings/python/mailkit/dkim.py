# SPDX-License-Identifier: Apache-2.0
"""DKIM: sign outgoing mail and verify signatures (RFC 6376, RFC 8463 Ed25519, RFC 8301).

>>> import mailkit
>>> pem, txt = mailkit.dkim.keygen("ed25519")      # publish txt at sel._domainkey.example.com
>>> sig = mailkit.dkim.sign(msg, "sel", "example.com", pem, algorithm="ed25519-sha256")
>>> mailkit.dkim.verify(sig + msg, resolver={"sel._domainkey.example.com": [txt]})
True

``resolver=`` takes a mailkit.dns resolver (None: the shared ``mailkit.dns.Resolver()``), any
object with ``query(name, "TXT") -> list[str]`` (raising mailkit.DnsError when the question
cannot be answered), or a dict ``{name: [txt, ...] | "TIMEOUT"}``. Results are values: a DNS failure gives ``temperror``, never
an exception and never a pass. The GIL is released while bodies are hashed and keys used.
"""

from mailkit._mailkit import dkim as _native

Result = _native.Result
sign = _native.sign
verify = _native.verify
verify_all = _native.verify_all
keygen = _native.keygen
split_txt = _native.split_txt
authentication_results = _native.authentication_results
parse_authentication_results = _native.parse_authentication_results

__all__ = [
    "Result",
    "authentication_results",
    "keygen",
    "parse_authentication_results",
    "sign",
    "split_txt",
    "verify",
    "verify_all",
]
