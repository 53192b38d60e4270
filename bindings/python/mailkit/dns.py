# SPDX-License-Identifier: Apache-2.0
"""DNS lookups: a resolver on c-ares, and an in-memory zone for tests.

>>> import mailkit
>>> r = mailkit.dns.Resolver(servers=["127.0.0.1:5353"], timeout=2.0)   # default: resolv.conf
>>> r.query("example.com", "MX")
[(10, 'mx.example.com')]
>>> z = mailkit.dns.StaticResolver({"example.com": {"TXT": ["v=spf1 -all"]},
...                                 "slow.example": "TIMEOUT"})
>>> z.query("Example.COM", "TXT")
['v=spf1 -all']

``query(name, rtype)`` returns a list ([] for NXDOMAIN and NODATA) and raises
:class:`mailkit.DnsError` when the question cannot be answered now (SERVFAIL, REFUSED, timeout,
network error). Values: A/AAAA and PTR/CNAME/NS as str, MX as ``(preference, host)`` (lowest
preference first; host ``""`` for a null MX), TXT as the record's strings joined, SOA as a
7-tuple, TLSA as ``(usage, selector, matching_type, data: bytes)``.

The list is an :class:`Answer`, which also says ``rcode`` ("NOERROR" or "NXDOMAIN"), ``ttl``,
``authenticated`` (the AD bit of a validating resolver, RFC 4035 §3.2.3) and
``canonical_name`` (after CNAMEs). Queries release the GIL.
"""

from mailkit._mailkit import dns as _native


class Answer(list):
    """The records of one answer (a list), with what the DNS said about them."""

    __slots__ = ("name", "rtype", "rcode", "ttl", "authenticated", "canonical_name")

    @property
    def nxdomain(self) -> bool:
        """True for NXDOMAIN (the name does not exist); False for NODATA or records."""
        return self.rcode == "NXDOMAIN"

    def __repr__(self) -> str:
        return list.__repr__(self)


_native._set_answer_type(Answer)

BaseResolver = _native.BaseResolver
StaticResolver = _native.StaticResolver
Resolver = _native.Resolver
to_ascii = _native.to_ascii
reverse_name = _native.reverse_name

__all__ = ["Answer", "BaseResolver", "Resolver", "StaticResolver", "reverse_name", "to_ascii"]
