# SPDX-License-Identifier: Apache-2.0
"""mailkit.dkim: the PYTHON_API.md shapes, and agreement with dkimpy both ways."""

import base64
import threading

import dkim as dkimpy
import pytest

import mailkit

MSG = (
    b"From: Joe <joe@example.com>\r\nTo: Suzie <suzie@example.net>\r\n"
    b"Subject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    b"Message-ID: <1@example.com>\r\n\r\nHi.\r\n\r\nWe lost the game.\r\n"
)


@pytest.fixture(scope="module")
def keys():
    rsa_pem, rsa_txt = mailkit.dkim.keygen("rsa-2048")
    ed_pem, ed_txt = mailkit.dkim.keygen("ed25519")
    return {"rsa": (rsa_pem, rsa_txt), "ed25519": (ed_pem, ed_txt)}


@pytest.fixture(scope="module")
def zone(keys):
    return {"rsa._domainkey.example.com": [keys["rsa"][1]],
            "ed._domainkey.example.com": [keys["ed25519"][1]]}


def test_keygen_shapes(keys):
    pem, txt = keys["rsa"]
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert txt.startswith("v=DKIM1; k=rsa; p=")
    parts = mailkit.dkim.split_txt(txt)
    assert len(parts) == 2 and len(parts[0]) == 255 and "".join(parts) == txt
    assert keys["ed25519"][1].startswith("v=DKIM1; k=ed25519; p=")


@pytest.mark.parametrize("alg,sel", [("rsa-sha256", "rsa"), ("ed25519-sha256", "ed")])
@pytest.mark.parametrize("canon", [("relaxed", "relaxed"), ("simple", "simple"), (b"relaxed", b"simple")])
def test_sign_verify_roundtrip(keys, zone, alg, sel, canon):
    pem = keys["rsa" if sel == "rsa" else "ed25519"][0]
    sig = mailkit.dkim.sign(MSG, sel, "example.com", pem, algorithm=alg, canonicalize=canon)
    assert sig.startswith(b"DKIM-Signature: ") and sig.endswith(b"\r\n")
    assert mailkit.dkim.verify(sig + MSG, resolver=zone)
    [r] = mailkit.dkim.verify_all(sig + MSG, resolver=zone)
    assert (r.result, r.domain, r.selector, r.algorithm, r.reason) == ("pass", "example.com", sel, alg, "")
    assert r.resinfo.startswith("dkim=pass")
    assert not mailkit.dkim.verify(sig + MSG.replace(b"lost", b"won!"), resolver=zone)


def test_results_are_values_not_exceptions(keys, zone):
    sig = mailkit.dkim.sign(MSG, "rsa", "example.com", keys["rsa"][0])
    [r] = mailkit.dkim.verify_all(sig + MSG, resolver={"rsa._domainkey.example.com": "TIMEOUT"})
    assert r.result == "temperror"
    [r] = mailkit.dkim.verify_all(sig + MSG, resolver={})
    assert r.result == "permerror" and r.reason == "no key for signature"
    assert mailkit.dkim.verify_all(MSG, resolver={}) == []

    class Failing:
        def query(self, name, rtype):
            raise mailkit.DnsError("SERVFAIL")

    [r] = mailkit.dkim.verify_all(sig + MSG, resolver=Failing())
    assert r.result == "temperror"


def test_resolver_object_with_query(keys, zone):
    class Zone:
        def __init__(self):
            self.asked = []

        def query(self, name, rtype):
            self.asked.append((name, rtype))
            return zone.get(name, [])

    z = Zone()
    sig = mailkit.dkim.sign(MSG, "ed", "example.com", keys["ed25519"][0], algorithm="ed25519-sha256")
    assert mailkit.dkim.verify(sig + MSG, resolver=z)
    assert z.asked == [("ed._domainkey.example.com", "TXT")]


def test_timestamps_and_length(keys, zone):
    sig = mailkit.dkim.sign(MSG, "ed", "example.com", keys["ed25519"][0], algorithm="ed25519-sha256",
                            timestamp=1700000000, expiration=1700003600, length=True)
    assert b"t=1700000000;" in sig and b"x=1700003600;" in sig and b"l=" in sig
    assert mailkit.dkim.verify(sig + MSG, resolver=zone, now=1700000100)
    [r] = mailkit.dkim.verify_all(sig + MSG, resolver=zone, now=1700010000)
    assert r.result == "permerror" and "expired" in r.reason
    [r] = mailkit.dkim.verify_all(sig + MSG + b"appended\r\n", resolver=zone, now=1700000100)
    assert r.result == "pass" and r.unsigned_body_octets == 10 and r.body_length is not None


def test_errors(keys):
    with pytest.raises(mailkit.Error):
        mailkit.dkim.sign(MSG, "s", "example.com", b"not a key")
    with pytest.raises(mailkit.Error):
        mailkit.dkim.sign(b"Subject: no from\r\n\r\n", "s", "example.com", keys["rsa"][0])
    with pytest.raises(ValueError):
        mailkit.dkim.sign(MSG, "s", "example.com", keys["rsa"][0], algorithm="rsa-sha1")
    with pytest.raises(ValueError):
        mailkit.dkim.keygen("dsa")


def test_dkimpy_verifies_ours_and_we_verify_dkimpy(keys, zone):
    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        return zone.get(n.rstrip("."), [""])[0].encode()

    for canon in [("relaxed", "relaxed"), ("simple", "simple")]:
        ours = mailkit.dkim.sign(MSG, "rsa", "example.com", keys["rsa"][0], canonicalize=canon)
        assert dkimpy.verify(ours + MSG, dnsfunc=dnsfunc)
        theirs = dkimpy.sign(MSG, b"rsa", b"example.com", keys["rsa"][0],
                             canonicalize=(canon[0].encode(), canon[1].encode()))
        assert mailkit.dkim.verify(theirs + MSG, resolver=zone)


def test_dkimpy_ed25519_seed_key_form(zone):
    # dkimpy keeps Ed25519 private keys as the base64 32-octet seed; sign() accepts that too.
    import nacl.signing

    seed = bytes(range(32))
    pub = bytes(nacl.signing.SigningKey(seed).verify_key)
    z = {"s._domainkey.example.com": ["v=DKIM1; k=ed25519; p=" + base64.b64encode(pub).decode()]}
    sig = mailkit.dkim.sign(MSG, "s", "example.com", base64.b64encode(seed), algorithm="ed25519-sha256")
    assert mailkit.dkim.verify(sig + MSG, resolver=z)


def test_authentication_results(keys, zone):
    sig = mailkit.dkim.sign(MSG, "rsa", "example.com", keys["rsa"][0])
    results = mailkit.dkim.verify_all(sig + MSG, resolver=zone)
    field = mailkit.dkim.authentication_results("mx.example.net", results)
    assert field.startswith("Authentication-Results: mx.example.net;\r\n\tdkim=pass (2048-bit key)")
    parsed = mailkit.dkim.parse_authentication_results(field.split(":", 1)[1])
    assert parsed["authserv_id"] == "mx.example.net"
    assert parsed["methods"][0]["properties"]["header.d"] == "example.com"


def test_threads_share_the_work(keys, zone):
    # The GIL is released while hashing and signing: several threads make progress together.
    big = MSG + b"x" * 200000 + b"\r\n"
    errors = []

    def work():
        try:
            for _ in range(5):
                s = mailkit.dkim.sign(big, "ed", "example.com", keys["ed25519"][0], algorithm="ed25519-sha256")
                assert mailkit.dkim.verify(s + big, resolver=zone)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_mailkit_dns_static_resolver(keys):
    z = mailkit.dns.StaticResolver({
        "rsa._domainkey.example.com": {"TXT": [keys["rsa"][1]]},
        "ed._domainkey.example.com": "TIMEOUT",
    })
    sig = mailkit.dkim.sign(MSG, "rsa", "example.com", keys["rsa"][0])
    assert mailkit.dkim.verify(sig + MSG, resolver=z)
    esig = mailkit.dkim.sign(MSG, "ed", "example.com", keys["ed25519"][0], algorithm="ed25519-sha256")
    results = mailkit.dkim.verify_all(esig + sig + MSG, resolver=z)
    assert [r.result for r in results] == ["temperror", "pass"]
