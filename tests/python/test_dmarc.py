# SPDX-License-Identifier: Apache-2.0
"""mailkit.dmarc: the result shape of PYTHON_API.md and our DMARC vectors
(tests/data/dmarc/001-evaluation.json, the same file the C++ test runs) through the binding,
once with mailkit.dns.StaticResolver (native) and once through a ``query()`` resolver object.
"""

import json

import pytest

import mailkit
from spf_zones import REPO_ROOT, Answer

VECTORS = json.loads((REPO_ROOT / "tests" / "data" / "dmarc" / "001-evaluation.json").read_text())
RECORDS = json.loads((REPO_ROOT / "tests" / "data" / "dmarc" / "002-record.json").read_text())


class DictResolver:
    """The StaticResolver dict form served through query(): [] with nxdomain for absent names."""

    def __init__(self, zone):
        self.zone = {k.lower(): v for k, v in zone.items()}

    def query(self, name, rtype):
        entry = self.zone.get(name.lower().rstrip("."))
        out = Answer()
        if entry is None:
            out.nxdomain = True
            return out
        if entry == "TIMEOUT" or entry.get(rtype) == "TIMEOUT":
            raise mailkit.DnsError("timeout")
        out.extend(tuple(v) if rtype == "MX" else v for v in entry.get(rtype, []))
        return out


def make_resolver(kind, zone):
    if kind == "bridge":
        return DictResolver(zone)
    dns = getattr(mailkit, "dns", None)
    if dns is None:
        pytest.fail("mailkit.dns is not built: the DNS module is part of this build")
    return dns.StaticResolver({k: ({t: [tuple(x) if t == "MX" else x for x in vals]
                                    for t, vals in v.items()} if isinstance(v, dict) else v)
                               for k, v in zone.items()})


def run_vector(v, resolver):
    kw = dict(spf_result=v["spf"][0], spf_domain=v["spf"][1],
              dkim=[tuple(d) for d in v["dkim"]], resolver=resolver, sample=v.get("sample"))
    if "from_domains" in v:
        return mailkit.dmarc.check_from(v["from_domains"], **kw)
    return mailkit.dmarc.check(v["from"], **kw)


@pytest.mark.parametrize("kind", ["bridge", "static"])
def test_vectors(kind):
    assert len(VECTORS["vectors"]) >= 60
    failures = []
    for v in VECTORS["vectors"]:
        r = run_vector(v, make_resolver(kind, v["zone"]))
        for key, want in v["expect"].items():
            got = getattr(r, key)
            if key == "record" and want is not None:
                got = {k: got.get(k) for k in want} if got is not None else None
            if got != want:
                failures.append(f"{v['id']} ({v['rfc']}): {key} = {got!r}, want {want!r}")
    assert not failures, "\n".join(failures)


def test_result_shape():
    zone = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; sp=quarantine; pct=100"]},
            "shop.example.com": {"A": ["192.0.2.1"]}}
    r = mailkit.dmarc.check("example.com", spf_result="pass", spf_domain="mail.example.com",
                            dkim=[("example.com", "fail")], resolver=DictResolver(zone))
    assert (r.result, r.policy, r.disposition) == ("pass", "reject", "none")
    assert r.record == {"v": "DMARC1", "p": "reject", "sp": "quarantine", "pct": "100"}
    assert r.org_domain == "example.com"
    assert r.authentication_results == "dmarc=pass (p=reject dis=none) header.from=example.com"
    f = mailkit.dmarc.check("shop.example.com", spf_result="fail", spf_domain="shop.example.com",
                            resolver=DictResolver(zone))
    assert (f.result, f.policy, f.disposition, f.policy_tag) == (
        "fail", "quarantine", "quarantine", "sp")
    none = mailkit.dmarc.check(b"example.net", resolver=DictResolver({}))
    assert (none.result, none.policy, none.record, none.org_domain) == (
        "none", None, None, "example.net")


def test_seeded_sampling_repeats():
    zone = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; pct=50"]}}
    outs = [mailkit.dmarc.check("example.com", resolver=DictResolver(zone), seed=s).disposition
            for s in range(50)]
    again = [mailkit.dmarc.check("example.com", resolver=DictResolver(zone), seed=s).disposition
             for s in range(50)]
    assert outs == again
    assert set(outs) == {"reject", "quarantine"}


def test_parse_record_and_errors():
    assert mailkit.dmarc.parse_record("v=DMARC1; p=none; rua=mailto:a@example.com") == {
        "v": "DMARC1", "p": "none", "rua": "mailto:a@example.com"}
    for v in RECORDS["vectors"]:
        if not v["expect"]["valid"]:
            with pytest.raises(mailkit.ParseError):
                mailkit.dmarc.parse_record(v["record"])
    with pytest.raises(ValueError):
        mailkit.dmarc.check("example.com", spf_result="maybe", resolver=DictResolver({}))


def test_organizational_domain():
    assert mailkit.dmarc.organizational_domain("a.b.example.co.uk") == "example.co.uk"
    assert mailkit.dmarc.organizational_domain("co.uk") == "co.uk"
