# SPDX-License-Identifier: Apache-2.0
"""mailkitd end to end (issue 10), every peer real and on loopback.

mailkitd runs from a TOML file on free loopback ports, with nsd as its DNS server and an
aiosmtpd relay set up like OCI Email Delivery (STARTTLS required, AUTH PLAIN only, approved
senders). Accounts and aliases are made with the `mailkit` CLI. swaks delivers to local users,
an alias, the catch-all and a +tag address; Python imaplib reads the mail; a submission on 587
goes out through the relay with a DKIM signature that dkimpy verifies; SIGHUP with a new
certificate is picked up while an IMAP session stays open; kill -9 and a restart lose nothing.
"""
import http.client
import imaplib
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import dkim
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "smtp_client"))
sys.path.insert(0, os.path.join(HERE, "..", "dnscheck"))
from peers import ProviderServer, free_port, make_pki  # noqa: E402
from nsd_server import Nsd  # noqa: E402

MAILKITD = os.environ["MAILKITD"]
CLI = os.environ["MAILKIT_CLI"]
NSD = os.environ.get("MAILKIT_NSD", "/usr/sbin/nsd")
WORK = os.environ.get("MAILKITD_WORK", tempfile.gettempdir())
PASSWORD = "correct horse battery"
SOA = "@ IN SOA ns.{z}. hostmaster.{z}. 1 3600 600 86400 300\n@ IN NS ns.{z}.\nns IN A 127.0.0.1\n"


def wait_for(pred, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def cli(store, *args, stdin=None):
    r = subprocess.run([CLI, *args, "--store", store], input=stdin, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


class Daemon:
    def __init__(self, work, config):
        self.work = work
        self.config = config
        self.proc = None
        self.log = os.path.join(work, "mailkitd.log")

    def start(self):
        out = open(os.path.join(self.work, "mailkitd.out"), "w")
        err = open(self.log, "a")
        self.proc = subprocess.Popen([MAILKITD, "--config", self.config], stdout=out, stderr=err)
        ok = wait_for(lambda: "mailkitd is running" in open(out.name).read() or
                      self.proc.poll() is not None, 120)
        assert ok and self.proc.poll() is None, open(self.log).read()[-3000:]

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(60)
        self.proc = None

    def logtext(self):
        return open(self.log).read()


@pytest.fixture(scope="module")
def env():
    os.makedirs(WORK, exist_ok=True)
    work = tempfile.mkdtemp(prefix="mailkitd-", dir=WORK)
    pki = make_pki(os.path.join(work, "pki"),
                   names=("mail.example.test", "mta-sts.example.test", "localhost", "127.0.0.1"))
    relay_pki = make_pki(os.path.join(work, "relay-pki"))
    # DNS: our domain and the sender's, served by nsd on loopback.
    nsd_dir = os.path.join(work, "nsd")
    os.makedirs(nsd_dir)
    dns = Nsd(nsd_dir, free_port(), NSD)
    dns.start({
        "example.test": "$ORIGIN example.test.\n" + SOA.format(z="example.test") +
        "@ IN MX 10 mail.example.test.\nmail IN A 127.0.0.1\n",
        "example.org": "$ORIGIN example.org.\n" + SOA.format(z="example.org") +
        '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n',
    })
    relay = None
    d = None
    try:
        # The DKIM key of example.test, made by the CLI.
        key = os.path.join(work, "mk1.pem")
        keygen = subprocess.run([CLI, "dkim", "keygen", "--type", "rsa", "--selector", "mk1",
                                 "--out", key], capture_output=True, text=True, check=True).stdout
        txt = "".join(part for part in keygen.split('"')[1::2])
        data = os.path.join(work, "var")
        store = os.path.join(data, "store")
        os.makedirs(data)
        pwfile = os.path.join(work, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        cli(store, "domain", "add", "example.test")
        for user in ("user@example.test", "bob@example.test"):
            cli(store, "user", "add", user, "--password-file", pwfile)
        cli(store, "alias", "add", "sales@example.test", "user@example.test")
        cli(store, "alias", "add", "*@example.test", "bob@example.test")
        relay_secret = os.path.join(work, "relay.secret")
        with open(relay_secret, "w") as f:
            f.write("relay-pw\n")
        cert, keyfile = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        shutil.copy(pki["good"] + ".pem", cert)
        shutil.copy(pki["good"] + ".key", keyfile)
        ports = {k: free_port() for k in ("mx", "sub", "subs", "imap", "imaps", "https")}
        relay = ProviderServer("oci", relay_pki, username="ocid1.user.oc1..relayuser",
                               password="relay-pw", approved=["user@example.test"])
        relay.__enter__()
        config = os.path.join(work, "mailkitd.toml")
        with open(config, "w") as f:
            f.write(f"""hostname = "mail.example.test"
    data_dir = "{data}"
    domains = ["example.test"]
    log_level = "debug"

    [tls]
    cert = "{cert}"
    key = "{keyfile}"

    [smtp]
    listen_mx = ["127.0.0.1:{ports['mx']}"]
    listen_submission = ["127.0.0.1:{ports['sub']}"]
    listen_submissions = ["127.0.0.1:{ports['subs']}"]

    [imap]
    listen_imap = ["127.0.0.1:{ports['imap']}"]
    listen_imaps = ["127.0.0.1:{ports['imaps']}"]

    [dns]
    servers = ["127.0.0.1:{dns.port}"]

    [https]
    listen = "127.0.0.1:{ports['https']}"

    [mta_sts]
    mode = "enforce"

    [outbound]
    default_route = "oci"
    [[outbound.relay]]
    name = "oci"
    preset = "oci:eu-frankfurt-1"
    host = "localhost"
    port = {relay.port}
    addresses = ["127.0.0.1"]
    cafile = "{relay_pki['ca']}.pem"
    username = "ocid1.user.oc1..relayuser"
    password_file = "{relay_secret}"
    approved_senders = ["user@example.test"]
    [[outbound.dkim]]
    domain = "example.test"
    selector = "mk1"
    key_file = "{key}"
    """)
        check = subprocess.run([MAILKITD, "--config", config, "--check-config"],
                               capture_output=True, text=True)
        assert check.returncode == 0 and "outbound configured" in check.stdout, check
        d = Daemon(work, config)
        d.start()
        yield {"work": work, "daemon": d, "ports": ports, "relay": relay, "dkim_txt": txt,
               "cert": cert, "key": keyfile, "store": store}
    finally:
        if d:
            d.stop()
        if relay:
            relay.__exit__(None, None, None)
        dns.stop()
        if not os.environ.get("MAILKITD_KEEP"):  # keep the work directory for a post-mortem
            shutil.rmtree(work, ignore_errors=True)


def test_min_free_space_is_checked_in_the_config(tmp_path):
    # The free-space reserve (smtp.min_free_space): octets, 0 turns the check off, negative is
    # an error that names the key and line.
    for value, ok in (("0", True), ("104857600", True), ("-1", False), ('"lots"', False)):
        config = tmp_path / "mailkitd.toml"
        config.write_text(f'data_dir = "{tmp_path}/var"\n[smtp]\nmin_free_space = {value}\n')
        r = subprocess.run([MAILKITD, "--config", str(config), "--check-config"],
                           capture_output=True, text=True)
        assert (r.returncode == 0) == ok, (value, r.stdout, r.stderr)
        if not ok:
            assert "min_free_space" in r.stderr and ":3:" in r.stderr, r.stderr


def swaks(port, to, subject, frm="someone@example.org", extra=()):
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--to", to, "--from", frm,
                        "--h-Subject", subject, "--body", "body of " + subject, *extra],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def imap(env, user="user@example.test"):
    ctx = ssl.create_default_context(cafile=os.path.join(env["work"], "pki", "ca.pem"))
    m = imaplib.IMAP4_SSL("127.0.0.1", env["ports"]["imaps"], ssl_context=ctx)
    m.login(user, PASSWORD)
    return m


def subjects(env, user, mailbox="INBOX"):
    m = imap(env, user)
    try:
        typ, data = m.select(mailbox, readonly=True)
        assert typ == "OK"
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if int(data[0]) else \
            ("OK", [])
        out = []
        for item in data:
            if isinstance(item, tuple):
                out.append(item[1].decode().split(":", 1)[1].strip())
        return out
    finally:
        m.logout()


def test_local_delivery_alias_catch_all_and_subaddress(env):
    port = env["ports"]["mx"]
    swaks(port, "user@example.test", "direct to user")
    swaks(port, "sales@example.test", "via alias")
    swaks(port, "user+news@example.test", "plus tag")
    swaks(port, "nobody-here@example.test", "to the catch-all")
    assert wait_for(lambda: {"direct to user", "via alias", "plus tag"} <=
                    set(subjects(env, "user@example.test")))
    assert wait_for(lambda: "to the catch-all" in subjects(env, "bob@example.test"))
    # The inbound policy added its trace fields (SPF checked through nsd).
    m = imap(env)
    m.select("INBOX", readonly=True)
    typ, data = m.search(None, "SUBJECT", '"direct to user"')
    typ, msg = m.fetch(data[0].split()[0], "(BODY.PEEK[HEADER])")
    headers = msg[0][1].decode()
    m.logout()
    assert "Received: from" in headers and "by mail.example.test" in headers
    assert "Authentication-Results: mail.example.test" in headers and "spf=pass" in headers


def test_submission_goes_out_through_the_relay_with_dkim(env):
    relay = env["relay"]
    ctx = ssl.create_default_context(cafile=os.path.join(env["work"], "pki", "ca.pem"))
    with smtplib.SMTP("127.0.0.1", env["ports"]["sub"], timeout=30) as s:
        s.starttls(context=ctx)
        s.login("user@example.test", PASSWORD)
        s.sendmail("user@example.test", ["friend@far.example"],
                   b"From: user@example.test\r\nTo: friend@far.example\r\n"
                   b"Subject: out through the relay\r\nMessage-ID: <e2e-1@example.test>\r\n"
                   b"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\nHello over the relay.\r\n")
    got = wait_for(lambda: [m for m in relay.messages if b"out through the relay" in m["data"]],
                   120)
    assert got, (relay.logins, relay.messages, env["daemon"].logtext()[-3000:])
    m = got[0]
    assert m["mail_from"] == "user@example.test" and m["rcpt_to"] == ["friend@far.example"]
    assert m["tls"] and m["login"] == ("PLAIN", "ocid1.user.oc1..relayuser")
    data = m["data"]
    txt = env["dkim_txt"].encode()
    assert b"DKIM-Signature:" in data
    assert dkim.verify(data, dnsfunc=lambda name, timeout=5: txt
                       if name == b"mk1._domainkey.example.test." else None)


def test_sender_not_approved_is_refused_at_submission(env):
    ctx = ssl.create_default_context(cafile=os.path.join(env["work"], "pki", "ca.pem"))
    with smtplib.SMTP("127.0.0.1", env["ports"]["sub"], timeout=30) as s:
        s.starttls(context=ctx)
        s.login("bob@example.test", PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("bob@example.test", ["friend@far.example"], b"Subject: x\r\n\r\nx\r\n")
    code, text = e.value.recipients["friend@far.example"]
    assert code == 550 and b"5.7.1" in text


def test_mta_sts_policy_is_served(env):
    ctx = ssl.create_default_context(cafile=os.path.join(env["work"], "pki", "ca.pem"))
    conn = http.client.HTTPSConnection("mta-sts.example.test", env["ports"]["https"],
                                       context=ctx, timeout=30)
    # Connect to loopback while SNI, certificate check and Host name the policy host.
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", env["ports"]["https"])),
                                server_hostname="mta-sts.example.test")
    conn.request("GET", "/.well-known/mta-sts.txt")
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/plain")
    assert "version: STSv1" in body and "mode: enforce" in body
    assert "mx: mail.example.test" in body and "max_age: 604800" in body
    conn.request("GET", "/other")
    r = conn.getresponse()
    r.read()
    assert r.status == 404
    conn.close()


def cert_fingerprint(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.getpeercert(binary_form=True)


def test_sighup_reloads_the_certificate_without_dropping_sessions(env):
    before = cert_fingerprint(env["ports"]["imaps"])
    session = imap(env)
    session.select("INBOX")
    fresh = make_pki(os.path.join(env["work"], "pki2"), names=("mail.example.test", "localhost"))
    shutil.copy(fresh["good"] + ".pem", env["cert"])
    shutil.copy(fresh["good"] + ".key", env["key"])
    env["daemon"].proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "certificate reloaded" in env["daemon"].logtext())
    after = cert_fingerprint(env["ports"]["imaps"])
    assert after != before
    assert cert_fingerprint(env["ports"]["subs"]) == after  # one certificate for every listener
    assert session.noop()[0] == "OK"  # the open session survived
    session.logout()
    # Put the first certificate back for the other tests' CA.
    shutil.copy(os.path.join(env["work"], "pki", "good.pem"), env["cert"])
    shutil.copy(os.path.join(env["work"], "pki", "good.key"), env["key"])
    env["daemon"].proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: cert_fingerprint(env["ports"]["imaps"]) == before)


def test_kill_9_and_restart_loses_nothing(env):
    port = env["ports"]["mx"]
    sent = []
    for i in range(20):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            subject = f"durable {i}"
            s.sendmail("someone@example.org", ["bob@example.test"],
                       f"From: someone@example.org\r\nSubject: {subject}\r\n\r\nx\r\n".encode())
            sent.append(subject)  # 250 received
    env["daemon"].stop(signal.SIGKILL)
    env["daemon"].start()
    assert wait_for(lambda: set(sent) <= set(subjects(env, "bob@example.test")), 120)
    got = subjects(env, "bob@example.test")
    assert all(got.count(s) == 1 for s in sent), got
