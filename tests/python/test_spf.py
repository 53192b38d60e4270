# SPDX-License-Identifier: Apache-2.0
"""mailkit.spf: the binding's shapes (PYTHON_API.md), the RFC 7208 suite through the binding,
and a differential test against pyspf (Debian python3-spf, module ``spf``, ``spf.check2``) on
the same zones.

Differential: every test of the three converted suites (OpenSPF RFC 7208 and RFC 4408, Stalwart
mail-auth) is evaluated by both checkers with the same (ip, mail from, helo) and the same zone
(spf_zones.py serves one zone model to both: mailkit through a ``query()`` resolver object,
pyspf through its ``spf.DNSLookup`` hook). Results must be equal, and so must explanations when
mailkit has one. Where the two legitimately differ the case is listed in DOCUMENTED with the
reason; an undocumented difference fails, and so does a documented one that no longer happens.
"""

import subprocess
import sys
from collections import Counter

import pytest

import mailkit
import spf_zones

RECEIVER = "mx.example.com"


def run_mailkit(t, zone):
    r = spf_zones.MailkitResolver(zone, mailkit.DnsError)
    return mailkit.spf.check2(t["host"], t["mailfrom"], t["helo"], resolver=r, receiver=RECEIVER)


# ---- the binding ---------------------------------------------------------------------------


def zone_resolver(zonedata):
    return spf_zones.MailkitResolver(spf_zones.Zone(zonedata), mailkit.DnsError)


def test_check2_shape():
    r = zone_resolver({"example.com": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all exp=e.example.com"}],
                       "e.example.com": [{"TXT": "%{i} may not send for %{d}"}]})
    assert mailkit.spf.check2("192.0.2.9", "a@example.com", "h.example.com", resolver=r) == ("pass", "")
    assert mailkit.spf.check2("198.51.100.1", "a@example.com", "h.example.com", resolver=r) == (
        "fail", "198.51.100.1 may not send for example.com")
    # bytes are accepted for the address arguments
    assert mailkit.spf.check2(b"192.0.2.9", b"a@example.com", b"h", resolver=r)[0] == "pass"


def test_result_object_and_headers():
    r = zone_resolver({"example.com": [{"TXT": "v=spf1 a:mail.example.com ~all"}],
                       "mail.example.com": [{"A": "192.0.2.1"}]})
    res = mailkit.spf.check("192.0.2.1", "user@example.com", "mail.example.com", resolver=r,
                            receiver="mx.example.net")
    assert res.result == "pass"
    assert res.mechanism == "a:mail.example.com"
    assert res.dns_lookups == 1 and res.void_lookups == 0
    assert res.received_spf.startswith("Received-SPF: pass (mx.example.net: domain of "
                                       "user@example.com designates 192.0.2.1 as permitted sender)")
    assert "client-ip=192.0.2.1;" in res.received_spf
    assert "identity=mailfrom;" in res.received_spf
    assert res.authentication_results == "spf=pass smtp.mailfrom=example.com"
    soft = mailkit.spf.check("192.0.2.2", "user@example.com", "mail.example.com", resolver=r)
    assert (soft.result, soft.mechanism) == ("softfail", "~all")


def test_helo_identity_and_null_sender():
    r = zone_resolver({"mail.example.com": [{"TXT": "v=spf1 a -all"}, {"A": "192.0.2.1"}]})
    res = mailkit.spf.check_helo("192.0.2.1", "mail.example.com", resolver=r)
    assert res.result == "pass"
    assert res.authentication_results == "spf=pass smtp.helo=mail.example.com"
    # RFC 7208 §2.4: a null reverse-path checks postmaster@<helo>.
    assert mailkit.spf.check2("192.0.2.2", "", "mail.example.com", resolver=r)[0] == "fail"


def test_dns_error_is_temperror_not_exception():
    r = zone_resolver({"example.com": ["TIMEOUT"]})
    assert mailkit.spf.check2("192.0.2.1", "a@example.com", "h", resolver=r) == ("temperror", "")


def test_resolver_exception_propagates():
    class Broken:
        def query(self, name, rtype):
            raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError):
        mailkit.spf.check2("192.0.2.1", "a@example.com", "h", resolver=Broken())


def test_bad_arguments():
    with pytest.raises(ValueError):
        mailkit.spf.check2("not-an-ip", "a@example.com", "h", resolver=zone_resolver({}))
    with pytest.raises(TypeError):
        mailkit.spf.check2("192.0.2.1", "a@example.com", "h", resolver=object())


def test_parse_record():
    assert mailkit.spf.parse_record("v=spf1 a mx/24 redirect=_spf.example.com") == {
        "mechanisms": ["a", "mx/24"], "redirect": "_spf.example.com", "exp": None}
    with pytest.raises(mailkit.ParseError):
        mailkit.spf.parse_record("v=spf1 ip4:192.0.2.300")


def test_static_resolver_when_available():
    """The same check through mailkit.dns.StaticResolver (PYTHON_API.md), used natively."""
    dns = getattr(mailkit, "dns", None)
    if dns is None:
        pytest.fail("mailkit.dns is not built: the DNS module is part of this build")
    r = dns.StaticResolver({"example.com": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
                            "slow.example": "TIMEOUT"})
    assert mailkit.spf.check2("192.0.2.5", "a@example.com", "h", resolver=r)[0] == "pass"
    assert mailkit.spf.check2("192.0.2.5", "a@slow.example", "h", resolver=r)[0] == "temperror"


# ---- the RFC 7208 suite through the binding --------------------------------------------------


def test_rfc7208_suite_through_binding():
    data, zones = spf_zones.load("rfc7208")
    failures = []
    for t in data["tests"]:
        if t.get("domain"):
            continue
        res, exp = run_mailkit(t, zones[t["zone"]])
        ok = res in t["result"]
        want_exp = t.get("explanation")
        if ok and res == "fail" and want_exp not in (None, "DEFAULT"):
            ok = exp == want_exp
        if not ok:
            failures.append((t["name"], res, exp, t["result"], want_exp))
    assert not failures
    assert len(data["tests"]) == 203


def test_converted_suites_are_fresh():
    """tests/data/spf/*.json must be what convert.py makes from the YAML next to them."""
    sys.path.insert(0, str(spf_zones.SPF_DATA))
    try:
        import convert
    finally:
        sys.path.pop(0)
    for path, data in convert.outputs().items():
        with open(path, encoding="ascii") as f:
            assert f.read() == convert.render(data), (
                f"{path} is stale: run /usr/bin/python3 tests/data/spf/convert.py")


# ---- differential against pyspf --------------------------------------------------------------

# (suite, test name) -> why mailkit and pyspf differ. Both columns are checked: the difference
# must still happen, and mailkit's result must be the one named here.
DOCUMENTED = {
    ("stalwart", "basic.yml#22"): (
        "none", "RFC 7208 §4.3: a <domain> over 253 octets is malformed, so none (as mail-auth "
                "expects); pyspf checks label lengths only and evaluates it"),
    ("stalwart", "basic.yml#24"): (
        "none", "RFC 7208 §4.3: a single-label <domain> ('nolabels') gives none (as mail-auth "
                "expects); pyspf evaluates it"),
    ("stalwart", "basic.yml#35"): (
        "pass", "RFC 7208 §4.6.4: the limit is on address lookups made for one mx (an 11th "
                "lookup would be a permerror), so a match among the first 10 MX hosts passes "
                "(as mail-auth expects); pyspf rejects any MX set larger than 10 up front"),
    ("stalwart", "basic.yml#37"): (
        "fail", "RFC 7208 §4.6.4 counts void lookups per term (the ptr's PTR query); pyspf "
                "also counts each PTR name whose A lookup is empty and so gives permerror "
                "where mail-auth expects fail"),
}


def pyspf_check(spf, t, zone):
    spf.DNSLookup = spf_zones.pyspf_lookup(zone)
    return spf.check2(i=t["host"], s=t["mailfrom"], h=t["helo"], receiver=RECEIVER)


@pytest.fixture(scope="module")
def pyspf():
    try:
        import spf
    except ImportError:
        pytest.fail("pyspf is missing: apt-get install python3-spf (scripts/bootstrap.sh)")
    saved = spf.DNSLookup
    yield spf
    spf.DNSLookup = saved


@pytest.mark.parametrize("suite", ["rfc7208", "rfc4408", "stalwart"])
def test_differential_pyspf(pyspf, suite):
    data, zones = spf_zones.load(suite)
    same = 0
    diffs = {}
    for t in data["tests"]:
        zone = zones[t["zone"]]
        mk_res, mk_exp = run_mailkit(t, zone)
        py_res, py_exp = pyspf_check(pyspf, t, zone)
        differs = mk_res != py_res
        if not differs and mk_res == "fail" and mk_exp:
            differs = mk_exp != py_exp
        if differs:
            diffs[(suite, t["name"])] = (mk_res, mk_exp, py_res, py_exp)
        else:
            same += 1
    print(f"\n[differential {suite}] {same}/{len(data['tests'])} identical to pyspf, "
          f"{len(diffs)} documented differences")
    undocumented = {k: v for k, v in diffs.items() if k not in DOCUMENTED}
    assert not undocumented, "\n".join(f"{k}: mailkit {v[0]} {v[1]!r} pyspf {v[2]} {v[3]!r}"
                                       for k, v in sorted(undocumented.items()))
    for key, (mk_result, why) in DOCUMENTED.items():  # noqa: B007 (why is for the reader)
        if key[0] != suite:
            continue
        assert key in diffs, f"documented difference no longer happens: {key} ({why})"
        assert diffs[key][0] == mk_result, f"{key}: mailkit gives {diffs[key][0]}"
