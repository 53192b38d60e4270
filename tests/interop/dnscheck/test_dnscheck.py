# SPDX-License-Identifier: Apache-2.0
"""`mailkit dns plan` and `mailkit check` against a real authoritative DNS server (issue 10).

nsd serves, on a loopback port, the zone that `mailkit dns plan` prints for example.test (plus
its SOA/NS), the reverse zone of 127.0.0.0/24, a stand-in for the relay's SPF zone and a test
DNS blocklist; a Python HTTPS server with a certificate from a test CA serves the MTA-STS policy.
`mailkit check` reads everything through the c-ares resolver: the zone as planned gives no
error; each record broken in turn gives the matching error.
"""
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "smtp_client"))
sys.path.insert(0, HERE)
from peers import free_port, make_pki  # noqa: E402
from nsd_server import Nsd  # noqa: E402

CLI = os.environ["MAILKIT_CLI"]
NSD = os.environ.get("MAILKIT_NSD", "/usr/sbin/nsd")
WORK = os.environ.get("MAILKIT_DNSCHECK_WORK", tempfile.gettempdir())

DOMAIN = "example.test"
HOST = "mail.example.test"
SETTINGS = ["--host", HOST, "--ipv4", "127.0.0.1", "--relay", "oci:eu-frankfurt-1",
            "--relay-dkim-selector", "oci1", "--dmarc-policy", "quarantine",
            "--mta-sts-mode", "enforce"]

SOA = "@ IN SOA ns.{z}. hostmaster.{z}. 1 3600 600 86400 300\n@ IN NS ns.{z}.\n"


def run(*args, check=True):
    r = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode not in (0, 1):
        raise AssertionError(f"mailkit {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


@pytest.fixture(scope="module")
def work():
    os.makedirs(WORK, exist_ok=True)
    d = tempfile.mkdtemp(prefix="dnscheck-", dir=WORK)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def dkim_key(work):
    path = os.path.join(work, "mk1.pem")
    r = run("dkim", "keygen", "--type", "ed25519", "--selector", "mk1", "--out", path)
    assert r.returncode == 0, r.stderr
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert 'mk1._domainkey IN TXT ( "v=DKIM1; k=ed25519; p=' in r.stdout
    return path


@pytest.fixture(scope="module")
def plan(dkim_key):
    zone = run("dns", "plan", DOMAIN, *SETTINGS, "--dkim", f"mk1={dkim_key}").stdout
    policy = run("dns", "plan", DOMAIN, *SETTINGS, "--format", "policy").stdout
    assert "$ORIGIN example.test." in zone and "mode: enforce" in policy
    return zone, policy


@pytest.fixture(scope="module")
def nsd(work):
    d = os.path.join(work, "nsd")
    os.makedirs(d)
    n = Nsd(d, free_port(), NSD)
    yield n
    n.stop()


class PolicyServer:
    """HTTPS on 127.0.0.1 serving /.well-known/mta-sts.txt for mta-sts.example.test."""

    def __init__(self, pki):
        self.policy = ""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                body = outer.policy.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["good"] + ".pem", pki["good"] + ".key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def https(work, plan):
    pki = make_pki(os.path.join(work, "pki"), names=("mta-sts." + DOMAIN,))
    s = PolicyServer(pki)
    s.policy = plan[1]
    s.ca = pki["ca"] + ".pem"
    yield s
    s.close()


def zones(zone_text, extra_example="", spf_zone=None, listed=False):
    return {
        DOMAIN: SOA.format(z=DOMAIN) + "ns IN A 127.0.0.1\n" + zone_text + extra_example,
        "0.0.127.in-addr.arpa": "$ORIGIN 0.0.127.in-addr.arpa.\n" +
        SOA.format(z="0.0.127.in-addr.arpa") + f"1 IN PTR {HOST}.\n",
        # The relay's SPF include (OCI Europe), standing in for the real one.
        "oracleemaildelivery.com": "$ORIGIN oracleemaildelivery.com.\n" +
        SOA.format(z="oracleemaildelivery.com") +
        (spf_zone if spf_zone is not None else 'eu.rp IN TXT "v=spf1 ip4:198.51.100.0/24 -all"\n'),
        "bl.test": "$ORIGIN bl.test.\n" + SOA.format(z="bl.test") +
        ("1.0.0.127 IN A 127.0.0.2\n" if listed else "2.0.0.127 IN A 127.0.0.2\n"),
    }


def check(nsd, https, dkim_key, *extra):
    return run("check", DOMAIN, *SETTINGS, "--dkim", f"mk1={dkim_key}",
               "--dns-server", f"127.0.0.1:{nsd.port}", "--ca-file", https.ca,
               "--mta-sts-port", str(https.port), "--dnsbl", "bl.test",
               "--approved-sender", "alice@example.test", *extra)


def sections(text):
    """The text report as {section: [item lines]}."""
    out, current = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" ") and not line.startswith("mailkit check") and \
                "errors," not in line:
            current = line
            out[current] = []
        elif line.startswith("  [") and current:
            out[current].append(line)
    return out


def without(zone, *fragments):
    return "\n".join(line for line in zone.splitlines()
                     if not any(f in line for f in fragments)) + "\n"


def test_planned_zone_checks_clean(nsd, https, plan, dkim_key):
    nsd.start(zones(plan[0]))
    r = check(nsd, https, dkim_key)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 errors" in r.stdout, r.stdout
    for section in ("mx", "a", "ptr", "spf", "dkim", "dmarc", "mta-sts", "tls-rpt", "caa",
                    "srv", "dnsbl", "relay"):
        assert any(l.startswith("  [ok]") for l in sections(r.stdout).get(section, [])), \
            (section, r.stdout)
    # nsd is not a validating resolver: the only warning is DNSSEC's.
    warnings = [l for l in r.stdout.splitlines() if "[warning]" in l]
    assert len(warnings) == 1 and "DNSSEC" in warnings[0], r.stdout
    j = check(nsd, https, dkim_key, "--json")
    assert '"errors":0' in j.stdout


BROKEN = [
    ("no MX", lambda z: without(z, "\tMX\t"), {}, "no MX record"),
    ("MX elsewhere", lambda z: without(z, "\tMX\t") + "@ IN MX 10 mx.other.test.\n", {},
     "not to mail.example.test"),
    ("no A for the host", lambda z: without(z, "mail\tIN\tA"), {}, "no A record 127.0.0.1"),
    ("no SPF", lambda z: without(z, "v=spf1"), {}, "no SPF record"),
    ("SPF without the relay", lambda z: without(z, "v=spf1") + '@ IN TXT "v=spf1 mx -all"\n', {},
     "lacks include:eu.rp.oracleemaildelivery.com"),
    ("SPF include missing at the relay", lambda z: z, {"spf_zone": ""},
     "evaluating the SPF record fails"),
    ("DKIM key missing", lambda z: without(z, "mk1._domainkey"), {}, "no DKIM key at"),
    ("DKIM key not ours", lambda z: without(z, "mk1._domainkey") +
     'mk1._domainkey IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="\n',
     {}, "is not ours"),
    ("relay DKIM CNAME missing", lambda z: without(z, "oci1._domainkey"), {},
     "oci1._domainkey.example.test has no CNAME"),
    ("no DMARC", lambda z: without(z, "_dmarc"), {}, "no DMARC record"),
    ("MTA-STS host missing", lambda z: without(z, "mta-sts\tIN\tCNAME"), {},
     "mta-sts.example.test has no address"),
    ("CAA for another CA", lambda z: without(z, "CAA") + '@ IN CAA 0 issue "other-ca.test"\n', {},
     "does not allow letsencrypt.org"),
    ("listed in the blocklist", lambda z: z, {"listed": True}, "is listed in bl.test"),
]


@pytest.mark.parametrize("name,edit,kw,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_record_is_reported(nsd, https, plan, dkim_key, name, edit, kw, expected):
    nsd.start(zones(edit(plan[0]), **kw))
    r = check(nsd, https, dkim_key)
    assert r.returncode == 1, r.stdout
    errors = [l for l in r.stdout.splitlines() if "[error]" in l]
    assert any(expected in l for l in errors), (name, r.stdout)


def test_policy_not_matching_the_mx(nsd, https, plan, dkim_key):
    nsd.start(zones(plan[0]))
    https.policy = "version: STSv1\nmode: enforce\nmx: other.example.net\nmax_age: 86400\n"
    try:
        r = check(nsd, https, dkim_key)
    finally:
        https.policy = plan[1]
    assert r.returncode == 1
    assert "do not match the MX mail.example.test" in r.stdout, r.stdout
