# SPDX-License-Identifier: Apache-2.0
"""relay::transport (through relay_tool) against real peers on loopback.

- nsd serves the zone "test." with MX records pointing at 127.0.0.2 (a private Postfix
  instance, the destination for dest1.test) and 127.0.0.3 (aiosmtpd, dest2.test and the
  implicit-MX domain), a dead MX of better preference (127.0.0.4, nothing listens), and a null
  MX (RFC 7505).
- aiosmtpd relays set up like OCI Email Delivery (STARTTLS required, AUTH PLAIN, approved
  senders, "455 Maximum messages sent per day reached : limit is N") and Brevo (AUTH LOGIN).
- dkimpy verifies the DKIM signature the transport adds for our domain.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import dkim
import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "smtp_client"))
from peers import ProviderServer, free_port, make_pki  # noqa: E402

TOOL = os.environ.get("MAILKIT_RELAY_TOOL", "relay_tool")
NSD = os.environ.get("MAILKIT_NSD", "/usr/sbin/nsd")
WORK = os.environ.get("MAILKIT_RELAY_WORK", tempfile.gettempdir())
POSTFIX = "/usr/sbin/postfix"
DAEMON_DIR = "/usr/lib/postfix/sbin"

ZONE = """$ORIGIN test.
$TTL 300
@ IN SOA ns.test. admin.test. 1 3600 600 86400 300
@ IN NS ns.test.
ns IN A 127.0.0.1
dest1 IN MX 10 mx.dest1
mx.dest1 IN A 127.0.0.2
dest2 IN MX 10 mx.dest2
mx.dest2 IN A 127.0.0.3
dest3 IN MX 10 dead.dest3
dest3 IN MX 20 mx.dest2
dead.dest3 IN A 127.0.0.4
implicit IN A 127.0.0.3
nullmx IN MX 0 .
"""

MASTER_CF = """\
{addr}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
virtual   unix  -       n       n       -       -       virtual
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def main_cf(base, uid, gid):
    return f"""\
compatibility_level = 3.6
config_directory = {base}/conf
queue_directory = {base}/queue
data_directory = {base}/data
daemon_directory = {DAEMON_DIR}
command_directory = /usr/sbin
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.dest1.test
mydestination =
# 127.0.0.2 is not an interface address; master.cf binds the service to it explicitly.
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
virtual_mailbox_domains = dest1.test
virtual_mailbox_base = {base}/vmail
virtual_mailbox_maps = inline:{{ {{bob@dest1.test=bob/}} {{carol@dest1.test=carol/}} }}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
syslog_name = postfix-mailkit-relay-test
smtputf8_enable = yes
alias_maps =
alias_database =
"""


@pytest.fixture(scope="module")
def work():
    os.makedirs(WORK, exist_ok=True)
    d = tempfile.mkdtemp(prefix="relay-", dir=WORK)
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(work):
    return make_pki(os.path.join(work, "pki"))


@pytest.fixture(scope="module")
def nsd(work):
    d = os.path.join(work, "nsd")
    os.makedirs(d)
    with open(os.path.join(d, "test.zone"), "w") as f:
        f.write(ZONE)
    port = free_port()
    with open(os.path.join(d, "nsd.conf"), "w") as f:
        f.write(f"""server:
  ip-address: 127.0.0.1@{port}
  do-ip6: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "test"
  zonefile: "{d}/test.zone"
""")
    log = open(os.path.join(d, "nsd.log"), "w")
    p = subprocess.Popen([NSD, "-d", "-c", os.path.join(d, "nsd.conf")], stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = subprocess.run(["dig", "+short", "-p", str(port), "@127.0.0.1", "mx.dest1.test"],
                               capture_output=True, text=True) if shutil.which("dig") else None
            if r is None:
                time.sleep(1)
                break
            if "127.0.0.2" in r.stdout:
                break
            time.sleep(0.2)
        assert p.poll() is None, open(os.path.join(d, "nsd.log")).read()
        yield f"127.0.0.1:{port}"
    finally:
        p.terminate()
        p.wait(10)


@pytest.fixture(scope="module")
def direct_port():
    return free_port()


@pytest.fixture(scope="module")
def postfix(work, direct_port):
    import pwd
    pw = pwd.getpwnam("postfix")
    base = os.path.join(work, "postfix")
    for sub in ("conf", "queue", "data", "vmail"):
        os.makedirs(os.path.join(base, sub))
    os.chmod(base, 0o755)
    shutil.chown(os.path.join(base, "data"), "postfix", "postfix")
    shutil.chown(os.path.join(base, "vmail"), "postfix", "postfix")
    with open(os.path.join(base, "conf", "main.cf"), "w") as f:
        f.write(main_cf(base, pw.pw_uid, pw.pw_gid))
    with open(os.path.join(base, "conf", "master.cf"), "w") as f:
        f.write(MASTER_CF.format(addr="127.0.0.2", port=direct_port))
    if os.path.exists("/etc/postfix/dynamicmaps.cf"):
        shutil.copy("/etc/postfix/dynamicmaps.cf", os.path.join(base, "conf"))
    conf = os.path.join(base, "conf")
    try:
        r = subprocess.run([POSTFIX, "-c", conf, "start"], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
        yield base
    finally:
        subprocess.run([POSTFIX, "-c", conf, "stop"], capture_output=True, timeout=60)
        pid = os.path.join(base, "queue", "pid", "master.pid")
        deadline = time.monotonic() + 20
        while os.path.exists(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if os.path.exists(pid):
            subprocess.run([POSTFIX, "-c", conf, "abort"], capture_output=True, timeout=60)


def run_tool(work, cfg):
    path = os.path.join(work, "cfg-%d.json" % time.monotonic_ns())
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([TOOL, path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def message(frm="alice@example.org", to="bob@dest1.test", subject="relay interop"):
    return (f"From: Alice <{frm}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.monotonic_ns()}@example.org>\r\n\r\nHello from mailkit.\r\n")


def wait_for(pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_mx_routing_postfix_and_aiosmtpd_with_dkim(work, nsd, postfix, direct_port):
    key = os.path.join(work, "dkim.key")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    pub = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    txt = b"v=DKIM1; k=rsa; p=" + base64.b64encode(pub)
    with ProviderServer("plain", None, host="127.0.0.3", port=direct_port) as mx2:
        cfg = {"dns": nsd, "direct_port": direct_port, "quota_db": os.path.join(work, "q1.db"),
               "dkim": [{"domain": "example.org", "selector": "mk", "key_file": key}],
               "messages": [{"queue_id": "Q1", "from": "alice@example.org",
                             "rcpt": [{"address": "bob@dest1.test", "notify": "SUCCESS,FAILURE",
                                       "orcpt": "bob@dest1.test"},
                                      {"address": "x@dest2.test"}, {"address": "y@dest3.test"},
                                      {"address": "z@implicit.test"},
                                      {"address": "n@nullmx.test"},
                                      {"address": "nobody@dest1.test"}],
                             "ret": "HDRS", "envid": "env-1",
                             "data": message()}]}
        out = run_tool(work, cfg)["results"][0]
        by = {o["address"]: o for o in out}
        assert by["bob@dest1.test"]["status"] == "delivered", by
        assert "127.0.0.2" in by["bob@dest1.test"]["remote_mta"]
        for a in ("x@dest2.test", "y@dest3.test", "z@implicit.test"):
            assert by[a]["status"] == "delivered", by[a]
            assert "127.0.0.3" in by[a]["remote_mta"]
        # RFC 7505: null MX is permanent, never tried.
        assert by["n@nullmx.test"]["status"] == "permanent"
        assert by["n@nullmx.test"]["code"] == 556 and by["n@nullmx.test"]["enhanced"] == "5.1.10"
        # Postfix refuses the unknown virtual user at RCPT: permanent with Postfix's reply.
        assert by["nobody@dest1.test"]["status"] == "permanent"
        assert by["nobody@dest1.test"]["code"] == 550
        # aiosmtpd got one transaction per domain: dest2, dest3 (via its second MX), implicit.
        rcpts = sorted(r for m in mx2.messages for r in m["rcpt_to"])
        assert rcpts == ["x@dest2.test", "y@dest3.test", "z@implicit.test"]
        data = mx2.messages[0]["data"]
        assert data.startswith(b"DKIM-Signature:")

        def dnsfunc(name, timeout=5):
            assert name in (b"mk._domainkey.example.org.", b"mk._domainkey.example.org")
            return txt
        assert dkim.verify(data, dnsfunc=dnsfunc)
    # Postfix stored it in bob's Maildir.
    newdir = os.path.join(postfix, "vmail", "bob", "new")
    assert wait_for(lambda: os.path.isdir(newdir) and os.listdir(newdir)), \
        open(os.path.join(postfix, "maillog")).read()[-3000:]
    stored = open(os.path.join(newdir, os.listdir(newdir)[0]), "rb").read()
    assert b"DKIM-Signature:" in stored and b"Hello from mailkit." in stored


def oci_relay(srv, pki, **extra):
    r = {"name": "oci", "preset": "oci:eu-frankfurt-1", "host": "localhost", "port": srv.port,
         "addresses": ["127.0.0.1"], "username": srv.username, "password": srv.password,
         "cafile": pki["ca"] + ".pem", "approved": ["alice@example.org", "@example.org"],
         "null_sender": "postmaster@example.org"}
    r.update(extra)
    return r


def test_oci_quota_reply_holds_and_state_survives_restart(work, pki):
    qdb = os.path.join(work, "q-oci.db")
    with ProviderServer("oci", pki, username="ocid1.user.oc1.." + "a" * 150, password="pw",
                        approved=["@example.org"], quota=2) as srv:
        msgs = [{"queue_id": f"M{i}", "from": "alice@example.org",
                 "rcpt": [{"address": f"r{i}@far.test"}], "data": message(to=f"r{i}@far.test")}
                for i in range(3)]
        cfg = {"quota_db": qdb, "relays": [oci_relay(srv, pki)], "default_route": "oci",
               "messages": msgs}
        out = run_tool(work, cfg)["results"]
        assert [o[0]["status"] for o in out] == ["delivered", "delivered", "held"], out
        held = out[2][0]
        assert "Maximum messages sent per day" in held["text"]
        now = time.time()
        assert now < held["held_until"] <= now + 86400 + 60
        assert held["held_until"] % 86400 == 0  # OCI preset: midnight UTC
        assert srv.quota_replies == 1
        # A restart: the hold is remembered, the relay is not even contacted.
        cfg["messages"] = [msgs[0]]
        out = run_tool(work, cfg)["results"]
        assert out[0][0]["status"] == "held"
        assert srv.quota_replies == 1
        assert len(srv.messages) == 2
        assert all(m["login"][0] == "PLAIN" and m["tls"] for m in srv.messages)


def test_own_quota_then_failover_to_brevo(work, pki):
    with ProviderServer("oci", pki, approved=["@example.org"]) as oci, \
            ProviderServer("brevo", pki, username="me@example.org", password="key") as brevo:
        relays = [oci_relay(oci, pki, failover="brevo",
                            limits={"per_day": 1, "counting": "per_message"}),
                  {"name": "brevo", "preset": "brevo", "host": "localhost", "port": brevo.port,
                   "addresses": ["127.0.0.1"], "username": "me@example.org", "password": "key",
                   "cafile": pki["ca"] + ".pem"}]
        msgs = [{"queue_id": f"F{i}", "from": "alice@example.org",
                 "rcpt": [{"address": f"f{i}@far.test"}], "data": message(to=f"f{i}@far.test")}
                for i in range(2)]
        out = run_tool(work, {"quota_db": os.path.join(work, "q-fo.db"), "relays": relays,
                              "default_route": "oci", "messages": msgs})["results"]
        assert out[0][0]["status"] == "delivered" and out[0][0]["route"] == "oci"
        assert out[1][0]["status"] == "delivered" and out[1][0]["route"] == "brevo"
        assert len(oci.messages) == 1 and len(brevo.messages) == 1
        assert brevo.messages[0]["login"] == ("LOGIN", "me@example.org")


def test_approved_senders_and_null_sender(work, pki):
    with ProviderServer("oci", pki, approved=["@example.org"]) as srv:
        cfg = {"relays": [oci_relay(srv, pki, approved=["alice@example.org"])],
               "rules": [{"domain": "*", "via": "oci"}],
               "checks": [{"from": "alice@example.org", "rcpt": "x@far.test"},
                          {"from": "bob@example.org", "rcpt": "x@far.test"},
                          {"from": "alice@example.org", "header_from": ["eve@evil.test"],
                           "rcpt": "x@far.test"}],
               "messages": [{"queue_id": "DSN", "from": "",
                             "rcpt": [{"address": "alice@far.test"}],
                             "data": message(frm="postmaster@example.org", to="alice@far.test")}]}
        out = run_tool(work, cfg)
        assert [c["allowed"] for c in out["checks"]] == [True, False, False]
        assert out["checks"][1]["code"] == 550 and out["checks"][1]["enhanced"] == "5.7.1"
        # OCI refuses <>: the DSN goes out from the configured postmaster address.
        assert out["results"][0][0]["status"] == "delivered"
        assert srv.messages[0]["mail_from"] == "postmaster@example.org"


def test_relay_down_is_transient(work, pki):
    port = free_port()  # nothing listens
    relay = {"name": "down", "preset": "generic", "host": "localhost", "port": port,
             "addresses": ["127.0.0.1"], "tls": "starttls"}
    out = run_tool(work, {"relays": [relay], "default_route": "down",
                          "messages": [{"from": "a@example.org", "rcpt": [{"address": "x@y.test"}],
                                        "data": message()}]})["results"]
    assert out[0][0]["status"] == "transient"
    assert out[0][0]["code"] // 100 == 4
