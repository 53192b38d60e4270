# SPDX-License-Identifier: Apache-2.0
"""mailkit.authenticate (PYTHON_API.md): SPF + DKIM + DMARC of one message and the
Authentication-Results field, with a mailkit.dns.StaticResolver (native) and with a Python
object that has ``query()`` (the bridge), on messages signed here with mailkit.dkim.sign."""

import pytest

import mailkit

MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: bob@example.net\r\n"
       b"Subject: hello\r\n"
       b"Message-ID: <1@example.com>\r\n"
       b"\r\n"
       b"Hello Bob.\r\n")


@pytest.fixture(scope="module")
def key():
    return mailkit.dkim.keygen("ed25519")


@pytest.fixture(scope="module")
def zone(key):
    return {
        "example.com": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
        "sel._domainkey.example.com": {"TXT": [key[1]]},
        "_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject"]},
        "mail.example.com": {"TXT": ["v=spf1 a -all"], "A": ["192.0.2.25"]},
        "forwarder.net": {"TXT": ["v=spf1 ip4:198.51.100.7 -all"]},
        "strict.example": {"TXT": ["v=spf1 -all"]},
        "_dmarc.strict.example": {"TXT": ["v=DMARC1; p=quarantine"]},
        "lax.example": {"TXT": ["v=spf1 -all"]},
        "_dmarc.lax.example": {"TXT": ["v=DMARC1; p=none"]},
    }


class Bridge:
    """A query() resolver over the same dict: [] for absent names (NXDOMAIN)."""

    def __init__(self, zone):
        self.zone = zone

    def query(self, name, rtype):
        return list(self.zone.get(name.lower().rstrip("."), {}).get(rtype, []))


@pytest.fixture(params=["static", "bridge"])
def resolver(request, zone):
    if request.param == "static":
        return mailkit.dns.StaticResolver(zone)
    return Bridge(zone)


def signed(key, msg=MSG, domain="example.com"):
    return mailkit.dkim.sign(msg, "sel", domain, key[0], algorithm="ed25519-sha256") + msg


def test_all_pass(key, resolver):
    res = mailkit.authenticate(signed(key), ip="192.0.2.10", helo="mail.example.com",
                               mail_from="bounce@example.com", resolver=resolver,
                               authserv_id="mx.example.org")
    assert isinstance(res, mailkit.AuthenticationResult)
    assert isinstance(res.spf, mailkit.spf.Result) and res.spf.result == "pass"
    assert isinstance(res.dkim, list) and len(res.dkim) == 1
    assert isinstance(res.dkim[0], mailkit.dkim.Result) and res.dkim[0].result == "pass"
    assert isinstance(res.dmarc, mailkit.dmarc.Result) and res.dmarc.result == "pass"
    assert res.from_domains == ["example.com"]
    h = res.header
    assert h.startswith("Authentication-Results: mx.example.org;\r\n"
                        "\tspf=pass smtp.mailfrom=example.com;\r\n"
                        "\tdkim=pass (256-bit key) header.d=example.com "
                        "header.i=@example.com header.s=sel "
                        "header.a=ed25519-sha256 header.b=")
    assert h.endswith(";\r\n\tdmarc=pass (p=reject dis=none) header.from=example.com\r\n")
    parsed = mailkit.dkim.parse_authentication_results(h.split(":", 1)[1])
    assert parsed is not None
    assert "pass" in repr(res)


def test_default_authserv_id_and_unsigned_fail(resolver):
    res = mailkit.authenticate(MSG, ip="203.0.113.9", helo="relay.example",
                               mail_from="bounce@example.com", resolver=resolver)
    assert res.header.startswith("Authentication-Results: mx;\r\n\tspf=fail ")
    assert res.spf.result == "fail"
    assert res.dkim == []
    assert "\tdkim=none;\r\n" in res.header
    assert res.dmarc.result == "fail" and res.dmarc.disposition == "reject"


def test_relay_dkim_aligned_passes(key, resolver):
    res = mailkit.authenticate(signed(key), ip="198.51.100.7", helo="mx.forwarder.net",
                               mail_from="SRS0=ab=XY=example.com=bounce@forwarder.net",
                               resolver=resolver)
    assert res.spf.result == "pass"
    assert not res.dmarc.spf_aligned and res.dmarc.dkim_aligned
    assert res.dmarc.result == "pass"


def test_null_mail_from_uses_helo(resolver):
    for mail_from in ("", None):
        res = mailkit.authenticate(MSG, ip="192.0.2.25", helo="mail.example.com",
                                   mail_from=mail_from, resolver=resolver)
        assert res.spf.result == "pass"
        assert "\tspf=pass smtp.helo=mail.example.com;\r\n" in res.header
        assert res.dmarc.result == "pass"


def test_no_from_and_two_from(resolver):
    res = mailkit.authenticate(b"Subject: x\r\n\r\nbody\r\n", ip="192.0.2.10",
                               helo="mail.example.com", mail_from="b@example.com",
                               resolver=resolver)
    assert res.dmarc.result == "none" and res.from_domains == []
    assert "dmarc=none (no RFC5322.From domain)" in res.header
    res = mailkit.authenticate(b"From: a@lax.example\r\nFrom: b@strict.example\r\n\r\nbody\r\n",
                               ip="192.0.2.10", helo="mail.example.com",
                               mail_from="b@example.com", resolver=resolver)
    assert res.from_domains == ["lax.example", "strict.example"]
    assert res.dmarc.result == "fail" and res.dmarc.disposition == "quarantine"
    assert res.dmarc.from_domain == "strict.example"


def test_temperror():
    static = mailkit.dns.StaticResolver({"example.com": "TIMEOUT",
                                         "_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject"]}})
    res = mailkit.authenticate(MSG, ip="192.0.2.10", helo="mail.example.com",
                               mail_from="bounce@example.com", resolver=static)
    assert res.spf.result == "temperror"
    assert res.dmarc.result == "temperror"


def test_arguments():
    static = mailkit.dns.StaticResolver({})
    with pytest.raises(ValueError):
        mailkit.authenticate(MSG, ip="not an ip", helo="h", mail_from="", resolver=static)
    with pytest.raises(TypeError):
        mailkit.authenticate(MSG, "192.0.2.1", "h", "", resolver=static)  # keyword-only
    with pytest.raises(TypeError):
        mailkit.authenticate(12, ip="192.0.2.1", helo="h", mail_from="", resolver=static)
    with pytest.raises(TypeError):
        mailkit.authenticate(MSG, ip="192.0.2.1", helo="h", mail_from="", resolver=object())
    # str messages are accepted too; the authserv-id is quoted when it is not a token.
    res = mailkit.authenticate(MSG.decode(), ip="192.0.2.1", helo="h", mail_from="",
                               resolver=static, authserv_id="mx one")
    assert res.header.startswith('Authentication-Results: "mx one";\r\n')


def test_bridge_exception_propagates():
    class Broken:
        def query(self, name, rtype):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        mailkit.authenticate(MSG, ip="192.0.2.1", helo="h.example", mail_from="a@example.com",
                             resolver=Broken())
