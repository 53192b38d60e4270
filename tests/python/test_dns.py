# SPDX-License-Identifier: Apache-2.0
"""mailkit.dns: the StaticResolver of PYTHON_API.md, and the c-ares Resolver against a real nsd
(and a validating unbound for the AD bit) started on loopback ports by the fixtures below.

The servers, their configuration and zones live in a pytest temporary directory; the zone files
are tests/interop/dns/zones (shared with the C++ interop test). Missing peers fail with the
command that installs them (scripts/bootstrap.sh), they are never skipped.
"""

import os
import random
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

import mailkit
from mailkit import dns

ZONES = Path(__file__).resolve().parents[2] / "tests" / "interop" / "dns" / "zones"

ZONE = {
    "example.com": {
        "TXT": ["v=spf1 -all"],
        "A": ["192.0.2.1"],
        "AAAA": ["2001:db8::1"],
        "MX": [(10, "mx.example.com")],
        "PTR": ["host.example.com"],
    },
    "alias.example.com": {"CNAME": ["example.com."]},
    "slow.example": "TIMEOUT",
    "half.example": {"A": ["192.0.2.9"], "TXT": "TIMEOUT"},
}


# ---- StaticResolver ---------------------------------------------------------------------------


def test_static_every_type_in_api_shape():
    r = dns.StaticResolver(ZONE)
    assert r.query("example.com", "TXT") == ["v=spf1 -all"]
    assert r.query("example.com", "A") == ["192.0.2.1"]
    assert r.query("example.com", "AAAA") == ["2001:db8::1"]
    assert r.query("example.com", "MX") == [(10, "mx.example.com")]
    assert r.query("example.com", "PTR") == ["host.example.com"]
    assert isinstance(r.query("example.com", "A"), list)


def test_static_case_cname_and_missing():
    r = dns.StaticResolver(ZONE)
    assert r.query("EXAMPLE.Com.", "a") == ["192.0.2.1"]
    a = r.query("alias.example.com", "A")
    assert a == ["192.0.2.1"]
    assert a.canonical_name == "example.com"
    assert r.query("alias.example.com", "CNAME") == ["example.com"]
    nx = r.query("nope.example.com", "A")
    assert nx == [] and nx.nxdomain and nx.rcode == "NXDOMAIN"
    nodata = r.query("example.com", "NS")
    assert nodata == [] and not nodata.nxdomain and nodata.rcode == "NOERROR"


def test_static_timeout_markers():
    r = dns.StaticResolver(ZONE)
    with pytest.raises(mailkit.DnsError):
        r.query("slow.example", "A")
    with pytest.raises(mailkit.DnsError):
        r.query("slow.example", "MX")
    assert r.query("half.example", "A") == ["192.0.2.9"]
    with pytest.raises(mailkit.Error, match="timed out"):
        r.query("half.example", "TXT")
    r.fail("example.com", "MX", "SERVFAIL")
    with pytest.raises(mailkit.DnsError, match="SERVFAIL"):
        r.query("example.com", "MX")


def test_static_txt_forms_and_mx_order():
    long_record = "v=spf1 " + "ip4:192.0.2.1 " * 30 + "-all"
    r = dns.StaticResolver(
        {
            "t.example": {"TXT": [long_record, ("v=DKIM1; ", "p=abc"), b"bytes ok"]},
            "m.example": {"MX": [(20, "b.example."), "10 a.example", (0, ".")]},
        }
    )
    assert r.query("t.example", "TXT") == [long_record, "v=DKIM1; p=abc", "bytes ok"]
    assert r.query("m.example", "MX") == [(0, ""), (10, "a.example"), (20, "b.example")]


def test_static_other_types_ad_and_add():
    r = dns.StaticResolver(
        {
            "example.org": {
                "NS": ["ns1.example.org"],
                "SOA": ["ns1.example.org hostmaster.example.org 7 3600 600 86400 60"],
                "AD": True,
            },
            "_25._tcp.mx.example.org": {"TLSA": ["3 1 1 0aff"]},
        },
        ttl=120,
    )
    assert r.query("example.org", "NS") == ["ns1.example.org"]
    assert r.query("example.org", "SOA") == [
        ("ns1.example.org", "hostmaster.example.org", 7, 3600, 600, 86400, 60)
    ]
    a = r.query("example.org", "NS")
    assert a.authenticated and a.ttl == 120
    assert r.query("_25._tcp.mx.example.org", "TLSA") == [(3, 1, 1, b"\x0a\xff")]
    assert not r.query("_25._tcp.mx.example.org", "TLSA").authenticated
    r.add("new.example.org", "A", ["192.0.2.7", "192.0.2.8"])
    assert r.query("new.example.org", "A") == ["192.0.2.7", "192.0.2.8"]
    # Negative answers take the zone's SOA minimum as TTL (RFC 2308 §5).
    assert r.query("missing.example.org", "A").ttl == 60
    before = r.queries
    r.query("example.org", "NS")
    assert r.queries == before + 1


def test_static_unicode_names():
    r = dns.StaticResolver({"bücher.example": {"A": ["192.0.2.5"]}})
    assert r.query("xn--bcher-kva.example", "A") == ["192.0.2.5"]
    assert r.query("BÜCHER.example", "A") == ["192.0.2.5"]
    assert dns.to_ascii("Bücher.Example.") == "xn--bcher-kva.example"
    assert dns.reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa"
    assert dns.reverse_name("2001:db8::1").endswith(".8.b.d.0.1.0.0.2.ip6.arpa")


def test_static_bad_input():
    with pytest.raises(ValueError):
        dns.StaticResolver({"x.example": {"A": ["not an address"]}})
    with pytest.raises(ValueError):
        dns.StaticResolver({"x.example": {"NAPTR": ["100 10 \"u\" \"E2U+sip\" \"\" ."]}})
    with pytest.raises(ValueError):
        dns.StaticResolver({"x.example": {"SRV": ["0 0 mx"]}})  # a field missing
    with pytest.raises(TypeError):
        dns.StaticResolver({"x.example": 42})
    r = dns.StaticResolver(ZONE)
    with pytest.raises(ValueError):
        r.query("example.com", "BOGUS")
    with pytest.raises(mailkit.DnsError, match="not a valid domain name"):
        r.query("a..example.com", "A")


def test_srv_and_caa_records():
    r = dns.StaticResolver({
        "_submissions._tcp.example.com": {"SRV": ["0 1 465 mail.example.com."]},
        "example.com": {"CAA": ['0 issue "letsencrypt.org"']},
    })
    assert r.query("_submissions._tcp.example.com", "SRV") == [(0, 1, 465, "mail.example.com")]
    assert r.query("example.com", "CAA") == [(0, "issue", "letsencrypt.org")]


def test_static_resolver_drives_spf():
    # The other bindings take the C++ resolver behind the object (dns_binding.hpp).
    r = dns.StaticResolver({"example.com": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]}})
    result, _ = mailkit.spf.check2("192.0.2.1", "user@example.com", "mx.example.com", resolver=r)
    assert result == "pass"
    assert r.queries >= 1


# ---- real servers -------------------------------------------------------------------------------


def _program(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not path:
        pytest.fail(
            f"{name} is missing: install the test peers with bash scripts/bootstrap.sh "
            "(Debian packages nsd, unbound, ldnsutils)",
            pytrace=False,
        )
    return path


def _free_port():
    rng = random.Random()
    for _ in range(50):
        port = rng.randrange(20000, 60000)
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free loopback port")


def _wait_tcp(port, proc, log):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{Path(log).read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not start:\n{Path(log).read_text(errors='replace')}")


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _sign(directory, zone):
    keygen, signzone = _program("ldns-keygen"), _program("ldns-signzone")
    run = dict(cwd=directory, check=True, capture_output=True, text=True, timeout=30)
    ksk = subprocess.run([keygen, "-a", "ECDSAP256SHA256", "-k", zone], **run).stdout.strip()
    zsk = subprocess.run([keygen, "-a", "ECDSAP256SHA256", zone], **run).stdout.strip()
    signed = directory / f"{zone}.signed"
    subprocess.run([signzone, "-f", str(signed), str(ZONES / f"{zone}.zone"), ksk, zsk], **run)
    return signed, (directory / f"{ksk}.ds").read_text().strip()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """nsd with the test zones, and a validating unbound in front of it; yields their ports."""
    nsd, unbound = _program("nsd"), _program("unbound")
    d = tmp_path_factory.mktemp("dns")
    signed, ds = _sign(d, "signed.test")
    zones = {
        "example.test": ZONES / "example.test.zone",
        "2.0.192.in-addr.arpa": ZONES / "2.0.192.in-addr.arpa.zone",
        "signed.test": signed,
    }
    procs = []
    try:
        nsd_port = _free_port()
        conf = d / "nsd.conf"
        conf.write_text(
            "server:\n"
            f"  ip-address: 127.0.0.1@{nsd_port}\n  port: {nsd_port}\n  do-ip6: no\n"
            '  username: ""\n  chroot: ""\n  database: ""\n'
            f'  zonesdir: "{d}"\n  pidfile: "{d}/nsd.pid"\n  xfrdfile: "{d}/xfrd.state"\n'
            f'  zonelistfile: "{d}/zone.list"\n  logfile: "{d}/nsd.log"\n'
            "  server-count: 1\n"
            "remote-control:\n  control-enable: no\n"
            + "".join(f'zone:\n  name: "{n}"\n  zonefile: "{f}"\n' for n, f in zones.items())
        )
        log = d / "nsd.out"
        with open(log, "w") as out:
            procs.append(subprocess.Popen([nsd, "-d", "-c", str(conf)], stdout=out, stderr=out))
        _wait_tcp(nsd_port, procs[-1], d / "nsd.log")

        ub_port = _free_port()
        (d / "anchors").write_text(ds + "\n")
        conf = d / "unbound.conf"
        conf.write_text(
            "server:\n"
            f"  interface: 127.0.0.1@{ub_port}\n  port: {ub_port}\n  do-ip6: no\n"
            '  do-daemonize: no\n  username: ""\n  chroot: ""\n'
            f'  directory: "{d}"\n  pidfile: "{d}/unbound.pid"\n  use-syslog: no\n'
            f'  logfile: "{d}/unbound.log"\n  num-threads: 1\n  so-reuseport: no\n'
            "  do-not-query-localhost: no\n  qname-minimisation: no\n"
            '  local-zone: "test." nodefault\n'
            f'  trust-anchor-file: "{d}/anchors"\n'
            "remote-control:\n  control-enable: no\n"
            + "".join(
                f'stub-zone:\n  name: "{n}"\n  stub-addr: 127.0.0.1@{nsd_port}\n'
                for n in ("example.test", "signed.test")
            )
        )
        log = d / "unbound.out"
        with open(log, "w") as out:
            procs.append(subprocess.Popen([unbound, "-d", "-c", str(conf)], stdout=out, stderr=out))
        _wait_tcp(ub_port, procs[-1], d / "unbound.log")
        yield {"nsd": f"127.0.0.1:{nsd_port}", "unbound": f"127.0.0.1:{ub_port}"}
    finally:
        for p in reversed(procs):
            _stop(p)


def test_resolver_against_nsd(servers):
    r = dns.Resolver(servers=[servers["nsd"]], timeout=2.0)
    assert r.servers == [servers["nsd"]]
    a = r.query("example.test", "A")
    assert a == ["192.0.2.1"] and a.ttl == 600 and not a.authenticated
    assert r.query("example.test", "AAAA") == ["2001:db8::1"]
    assert r.query("example.test", "MX") == [(10, "mx1.example.test"), (20, "mx2.example.test")]
    assert r.query("null.example.test", "MX") == [(0, "")]
    assert r.query("example.test", "TXT") == ["v=spf1 ip4:192.0.2.0/24 -all"]
    assert r.query("long.example.test", "TXT") == ["a" * 255 + "b" * 255 + "tail"]
    assert len(r.query("big.example.test", "TXT")) == 8  # truncated over UDP, then TCP
    www = r.query("www.example.test", "A")
    assert www == ["192.0.2.80"] and www.canonical_name == "host.example.test" and www.ttl == 120
    assert r.query(dns.reverse_name("192.0.2.1"), "PTR") == ["example.test"]
    assert r.query("example.test", "NS") == ["ns1.example.test"]
    assert r.query("example.test", "SOA")[0][2] == 2024010101
    tlsa = r.query("_25._tcp.mx1.example.test", "TLSA")
    assert tlsa[0][:3] == (3, 1, 1) and len(tlsa[0][3]) == 32
    nx = r.query("missing.example.test", "A")
    assert nx == [] and nx.nxdomain and nx.ttl == 300
    nodata = r.query("nodata.example.test", "A")
    assert nodata == [] and not nodata.nxdomain
    assert r.query("bücher.example.test", "A") == ["192.0.2.42"]
    with pytest.raises(mailkit.DnsError, match="REFUSED"):
        r.query("not-served.invalid", "A")


def test_resolver_threads_release_the_gil(servers):
    r = dns.Resolver(servers=[servers["nsd"]], timeout=2.0, cache=True)
    errors = []

    def work():
        try:
            for _ in range(50):
                assert r.query("mx1.example.test", "A") == ["192.0.2.25"]
                assert r.query("missing.example.test", "A") == []
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


def test_resolver_ad_bit_through_unbound(servers):
    r = dns.Resolver(servers=[servers["unbound"]], timeout=3.0)
    signed = r.query("signed.test", "A")
    assert signed == ["192.0.2.10"] and signed.authenticated
    assert r.query("_25._tcp.mx.signed.test", "TLSA").authenticated
    plain = r.query("example.test", "A")
    assert plain == ["192.0.2.1"] and not plain.authenticated


def test_resolver_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:  # never answers
        sink.bind(("127.0.0.1", 0))
        r = dns.Resolver(servers=[f"127.0.0.1:{sink.getsockname()[1]}"], timeout=0.2, tries=1)
        start = time.monotonic()
        with pytest.raises(mailkit.DnsError, match="timed out"):
            r.query("example.test", "A")
        assert time.monotonic() - start < 5


def test_resolver_arguments():
    r = dns.Resolver(servers=["127.0.0.1:5353", "[::1]:53"], timeout=1)
    assert r.servers == ["127.0.0.1:5353", "[::1]:53"]
    with pytest.raises(ValueError):
        dns.Resolver(servers=["not-an-ip"])
    with pytest.raises(TypeError):
        dns.Resolver(servers="127.0.0.1")
    with pytest.raises(ValueError):
        dns.Resolver(timeout=0)
    assert isinstance(dns.Resolver(), dns.BaseResolver)  # /etc/resolv.conf
    assert os.path.exists(dns.__file__)
