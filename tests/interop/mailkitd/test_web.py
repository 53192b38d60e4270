# SPDX-License-Identifier: Apache-2.0
"""mailkitd's HTTPS listener (issue 10): mail client autoconfiguration and certificate reload.

A real mailkitd from a TOML file on free loopback ports, with a test CA's certificate naming
mail., mta-sts. and autoconfig.example.test and example.test itself. Python's ssl and
http.client connect to 127.0.0.1 with SNI and Host naming each virtual host and verify the
certificate; xml.etree parses Thunderbird's clientConfig document; `mailkit dns plan` must
advertise (RFC 6186 SRV) the same public names and ports. SIGHUP with a new certificate must reach
new HTTPS connections while an open keep-alive connection goes on working, and SIGHUP after an
[autoconfig] change republishes the document.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "smtp_client"))
from peers import free_port, make_pki  # noqa: E402

try:  # the daemon helpers of test_mailkitd.py (or of a conftest.py, if they move there)
    from test_mailkitd import Daemon, wait_for  # noqa: E402
except ImportError:  # pragma: no cover
    from conftest import Daemon, wait_for  # noqa: E402

MAILKITD = os.environ["MAILKITD"]
CLI = os.environ["MAILKIT_CLI"]
WORK = os.environ.get("MAILKITD_WORK", tempfile.gettempdir())
NAMES = ("mail.example.test", "mta-sts.example.test", "autoconfig.example.test", "example.test",
         "localhost", "127.0.0.1")
DISPLAY = "Example & <Co> \"mail\""


@pytest.fixture(scope="module")
def web():
    os.makedirs(WORK, exist_ok=True)
    work = tempfile.mkdtemp(prefix="mailkitd-web-", dir=WORK)
    pki = make_pki(os.path.join(work, "pki"), names=NAMES)
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    shutil.copy(pki["good"] + ".pem", cert)
    shutil.copy(pki["good"] + ".key", key)
    ports = {k: free_port() for k in ("mx", "sub", "subs", "imap", "imaps", "https")}
    config = os.path.join(work, "mailkitd.toml")
    # Bound on free loopback ports; clients are told the public standard ports (NAT, forwards).
    with open(config, "w") as f:
        f.write(f"""hostname = "mail.example.test"
data_dir = "{os.path.join(work, 'var')}"
domains = ["example.test"]

[tls]
cert = "{cert}"
key = "{key}"

[smtp]
listen_mx = ["127.0.0.1:{ports['mx']}"]
listen_submission = ["127.0.0.1:{ports['sub']}"]
listen_submissions = ["127.0.0.1:{ports['subs']}"]

[imap]
listen_imap = ["127.0.0.1:{ports['imap']}"]
listen_imaps = ["127.0.0.1:{ports['imaps']}"]

[dns]
servers = ["127.0.0.1:{free_port()}"]

[https]
listen = "127.0.0.1:{ports['https']}"

[autoconfig]
display_name = {json.dumps(DISPLAY)}
""")
    d = Daemon(work, config)
    d.start()
    try:
        yield {"work": work, "daemon": d, "ports": ports, "cert": cert, "key": key,
               "ca": pki["ca"] + ".pem"}
    finally:
        d.stop()
        if not os.environ.get("MAILKITD_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def connect(web, host, cafile=None):
    """An HTTPS connection to mailkitd whose SNI, certificate check and Host all name `host`."""
    ctx = ssl.create_default_context(cafile=cafile or web["ca"])
    conn = http.client.HTTPSConnection(host, web["ports"]["https"], context=ctx, timeout=30)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", web["ports"]["https"])),
                                server_hostname=host)
    return conn


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.getheader("Content-Type") or "", r.read()


def servers(doc):
    root = ET.fromstring(doc)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    out = []
    for el in provider:
        if el.tag in ("incomingServer", "outgoingServer"):
            out.append({"kind": el.tag, "type": el.get("type"),
                        **{c.tag: c.text for c in el}})
    return provider, out


def test_autoconfig_served_at_both_places_with_sni(web):
    docs = []
    for host, path in (("autoconfig.example.test",
                        "/mail/config-v1.1.xml?emailaddress=user%40example.test"),
                       ("example.test", "/.well-known/autoconfig/mail/config-v1.1.xml")):
        conn = connect(web, host)
        status, ctype, body = get(conn, path)
        assert status == 200 and ctype.startswith("application/xml"), (host, status, body)
        # Not published on the other host's name.
        other = "/.well-known/autoconfig/mail/config-v1.1.xml" if host.startswith("auto") \
            else "/mail/config-v1.1.xml"
        assert get(conn, other)[0] == 404
        conn.close()
        docs.append(body)
    assert docs[0] == docs[1]
    provider, entries = servers(docs[0])
    assert provider.get("id") == "example.test" and provider.find("domain").text == "example.test"
    assert provider.find("displayName").text == DISPLAY  # escaped on the wire, intact here
    got = [(e["kind"], e["type"], e["hostname"], e["port"], e["socketType"]) for e in entries]
    assert got == [
        ("incomingServer", "imap", "mail.example.test", "993", "SSL"),
        ("incomingServer", "imap", "mail.example.test", "143", "STARTTLS"),
        ("outgoingServer", "smtp", "mail.example.test", "465", "SSL"),
        ("outgoingServer", "smtp", "mail.example.test", "587", "STARTTLS"),
    ]
    assert all(e["username"] == "%EMAILADDRESS%" and
               e["authentication"] == "password-cleartext" for e in entries)
    # `mailkit dns plan` advertises the same services (RFC 6186 SRV) at the same host and ports.
    plan = json.loads(subprocess.run(
        [CLI, "dns", "plan", "example.test", "--host", "mail.example.test", "--format", "json"],
        capture_output=True, text=True, check=True, timeout=60).stdout)
    srv = {r["name"]: r["value"].split() for r in plan["records"] if r["type"] == "SRV"}
    service_of = {("imap", "SSL"): "_imaps", ("imap", "STARTTLS"): "_imap",
                  ("smtp", "SSL"): "_submissions", ("smtp", "STARTTLS"): "_submission"}
    advertised = {service_of[(e["type"], e["socketType"])] + "._tcp.example.test":
                  (e["port"], e["hostname"]) for e in entries}
    assert len(srv) >= 3
    for name, (prio, weight, port, target) in srv.items():
        assert advertised[name] == (port, target.rstrip(".")), (name, srv, advertised)
    # The MTA-STS policy host is on the same listener, and unknown hosts get 404.
    conn = connect(web, "mta-sts.example.test")
    assert get(conn, "/.well-known/mta-sts.txt")[0] == 200
    conn.close()
    conn = connect(web, "mail.example.test")
    assert get(conn, "/mail/config-v1.1.xml")[0] == 404
    conn.close()


def fingerprint(web, host):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", web["ports"]["https"]), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            return s.getpeercert(binary_form=True)


def test_sighup_reaches_the_https_listener(web):
    before = fingerprint(web, "autoconfig.example.test")
    open_conn = connect(web, "autoconfig.example.test")
    assert get(open_conn, "/mail/config-v1.1.xml")[0] == 200
    fresh = make_pki(os.path.join(web["work"], "pki2"), names=NAMES)
    shutil.copy(fresh["good"] + ".pem", web["cert"])
    shutil.copy(fresh["good"] + ".key", web["key"])
    web["daemon"].proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "certificate reloaded" in web["daemon"].logtext())
    for host in ("autoconfig.example.test", "example.test", "mta-sts.example.test"):
        assert fingerprint(web, host) != before, host
    # A new connection verifies against the new CA only.
    conn = connect(web, "mta-sts.example.test", cafile=fresh["ca"] + ".pem")
    assert get(conn, "/.well-known/mta-sts.txt")[0] == 200
    conn.close()
    with pytest.raises(ssl.SSLError):
        connect(web, "autoconfig.example.test")  # the old CA no longer matches
    # The connection opened before the reload keeps its certificate and goes on serving.
    assert open_conn.sock.getpeercert(binary_form=True) == before
    status, _, body = get(open_conn, "/mail/config-v1.1.xml")
    assert status == 200 and b"clientConfig" in body
    open_conn.close()
    web["ca"] = fresh["ca"] + ".pem"  # the CA of the certificate now served


def test_sighup_republishes_a_changed_autoconfig(web):
    config = web["daemon"].config
    text = open(config).read()
    with open(config, "w") as f:
        f.write(text.replace(json.dumps(DISPLAY), '"Renamed Mail"') +
                "submission_port = 2587\nimap_port = 0\n")
    before = web["daemon"].logtext().count("configuration " + config + " read")
    web["daemon"].proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: web["daemon"].logtext().count("configuration " + config + " read")
                    > before), web["daemon"].logtext()[-2000:]
    conn = connect(web, "autoconfig.example.test")
    status, _, body = get(conn, "/mail/config-v1.1.xml")
    conn.close()
    assert status == 200
    provider, entries = servers(body)
    assert provider.find("displayName").text == "Renamed Mail"
    got = [(e["type"], e["port"], e["socketType"]) for e in entries]
    assert got == [("imap", "993", "SSL"), ("smtp", "465", "SSL"), ("smtp", "2587", "STARTTLS")]


def test_services_without_a_listener_are_not_advertised(web):
    # No [autoconfig] keys: each service with a listener is advertised on its standard port,
    # one without (an empty list) not at all.
    work = tempfile.mkdtemp(prefix="mailkitd-web2-", dir=web["work"])
    ports = {k: free_port() for k in ("mx", "sub", "imaps", "https")}
    config = os.path.join(work, "mailkitd.toml")
    with open(config, "w") as f:
        f.write(f"""hostname = "mail.example.test"
data_dir = "{os.path.join(work, 'var')}"
domains = ["example.test"]

[tls]
cert = "{web['cert']}"
key = "{web['key']}"

[smtp]
listen_mx = ["127.0.0.1:{ports['mx']}"]
listen_submission = ["127.0.0.1:{ports['sub']}"]
listen_submissions = []

[imap]
listen_imap = []
listen_imaps = ["127.0.0.1:{ports['imaps']}"]

[dns]
servers = ["127.0.0.1:{free_port()}"]

[https]
listen = "127.0.0.1:{ports['https']}"
""")
    d = Daemon(work, config)
    d.start()
    try:
        conn = connect(dict(web, ports=ports), "autoconfig.example.test")
        status, _, body = get(conn, "/mail/config-v1.1.xml")
        conn.close()
    finally:
        d.stop()
    assert status == 200
    _, entries = servers(body)
    assert [(e["type"], e["port"], e["socketType"]) for e in entries] == [
        ("imap", "993", "SSL"), ("smtp", "587", "STARTTLS")]
