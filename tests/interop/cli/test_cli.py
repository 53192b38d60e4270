# SPDX-License-Identifier: Apache-2.0
"""`mailkit quickstart` and `mailkit send` against a real mailkitd (issue 10).

What a new user does: quickstart writes mailkitd.toml, the DKIM key, the domain and its first
account (generated password) and prints the DNS records; mailkitd starts on that file (loopback
ports through --listen-loopback --port-base); `mailkit send` submits a message through it
(STARTTLS + AUTH on submission, implicit TLS, and the MX port without AUTH) and Python imaplib
reads it. Refused recipients and a wrong password make `send` exit 1 with the server's reply.
"""
import imaplib
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "smtp_client"))
sys.path.insert(0, os.path.join(HERE, "..", "dnscheck"))
from peers import free_port  # noqa: E402
from nsd_server import Nsd  # noqa: E402

MAILKITD = os.environ["MAILKITD"]
CLI = os.environ["MAILKIT_CLI"]
NSD = os.environ.get("MAILKIT_NSD", "/usr/sbin/nsd")
WORK = os.environ.get("MAILKITD_WORK", tempfile.gettempdir())
SOA = "@ IN SOA ns.{z}. hostmaster.{z}. 1 3600 600 86400 300\n@ IN NS ns.{z}.\nns IN A 127.0.0.1\n"
OFFSETS = (25, 587, 465, 143, 993, 443, 9925)


def wait_for(pred, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def port_base():
    """A base whose six listener ports are all free on loopback (bounded tries)."""
    for _ in range(50):
        base = random.randrange(20000, 55000)
        socks = []
        try:
            for off in OFFSETS:
                s = socket.socket()
                s.bind(("127.0.0.1", base + off))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def run(*args, stdin=None, check=True):
    r = subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture(scope="module")
def qs():
    os.makedirs(WORK, exist_ok=True)
    work = tempfile.mkdtemp(prefix="quickstart-", dir=WORK)
    nsd_dir = os.path.join(work, "nsd")
    os.makedirs(nsd_dir)
    dns = Nsd(nsd_dir, free_port(), NSD)
    dns.start({
        "quick.test": "$ORIGIN quick.test.\n" + SOA.format(z="quick.test") +
        "@ IN MX 10 mail.quick.test.\nmail IN A 127.0.0.1\n",
        "example.org": "$ORIGIN example.org.\n" + SOA.format(z="example.org") +
        '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n',
    })
    proc = None
    try:
        secret = os.path.join(work, "relay.secret")
        with open(secret, "w") as f:
            f.write("relay-password\n")
        base = port_base()
        config = os.path.join(work, "mailkitd.toml")
        data = os.path.join(work, "var")
        args = ["quickstart", "--domain", "quick.test", "--hostname", "mail.quick.test",
                "--relay", "oci:eu-frankfurt-1", "--relay-user", "ocid1.user.oc1..quick",
                "--relay-password-file", secret, "--data-dir", data, "--config", config,
                "--listen-loopback", "--port-base", str(base),
                "--dns-server", f"127.0.0.1:{dns.port}", "--ipv4", "192.0.2.7"]
        out = run(*args).stdout
        password = re.search(r"Account postmaster@quick\.test  password: (\S+)", out).group(1)
        check = subprocess.run([MAILKITD, "--config", config, "--check-config"],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "outbound configured" in check.stdout, check
        log = open(os.path.join(work, "mailkitd.log"), "w")
        stdout = os.path.join(work, "mailkitd.out")
        proc = subprocess.Popen([MAILKITD, "--config", config], stdout=open(stdout, "w"),
                                stderr=log)
        assert wait_for(lambda: "mailkitd is running" in open(stdout).read() or
                        proc.poll() is not None, 120) and proc.poll() is None, \
            open(log.name).read()[-3000:]
        yield {"work": work, "base": base, "out": out, "args": args, "password": password,
               "config": config, "data": data, "cert": os.path.join(data, "tls", "cert.pem"),
               "log": log.name}
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        dns.stop()
        if not os.environ.get("MAILKITD_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def subjects(qs, user="postmaster@quick.test"):
    ctx = ssl.create_default_context(cafile=qs["cert"])  # self-signed for mail. and localhost
    m = imaplib.IMAP4_SSL("localhost", qs["base"] + 993, ssl_context=ctx)
    try:
        m.login(user, qs["password"])
        typ, data = m.select("INBOX", readonly=True)
        if not int(data[0]):
            return []
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [i[1].decode().split(":", 1)[1].strip() for i in data if isinstance(i, tuple)]
    finally:
        m.logout()


def send(qs, *args, stdin=None, port=587):
    pw = os.path.join(qs["work"], "pw")
    with open(pw, "w") as f:
        f.write(qs["password"] + "\n")
    return run("send", "--host", "localhost", "--port", str(qs["base"] + port),
               "--cafile", qs["cert"], "--password-file", pw, *args, stdin=stdin, check=False)


def test_quickstart_wrote_config_key_account_and_dns_records(qs):
    out, data = qs["out"], qs["data"]
    text = open(qs["config"]).read()
    assert 'hostname = "mail.quick.test"' in text and 'domains = ["quick.test"]' in text
    assert f'listen_mx = ["127.0.0.1:{qs["base"] + 25}"]' in text
    assert 'preset = "oci:eu-frankfurt-1"' in text and "[[outbound.dkim]]" in text
    keys = os.listdir(os.path.join(data, "dkim"))
    assert len(keys) == 1 and keys[0].startswith("quick.test.mk")
    mode = stat.S_IMODE(os.stat(os.path.join(data, "dkim", keys[0])).st_mode)
    assert mode == 0o600
    selector = keys[0][len("quick.test."):-len(".pem")]
    # The DNS plan: MX, SPF with OCI's include, our DKIM key, DMARC, MTA-STS, SRV ...
    assert "$ORIGIN quick.test." in out
    assert f"{selector}._domainkey" in out and "v=DKIM1" in out
    assert "include:" in out and "v=spf1" in out and "_dmarc" in out and "_mta-sts" in out
    assert "_submissions._tcp" in out and "Next steps:" in out
    # The configuration is never overwritten without --force.
    again = run(*qs["args"], check=False)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert open(qs["config"]).read() == text
    # With --force, but the store belongs to the running mailkitd: refused, nothing written.
    forced = run(*qs["args"], "--force", check=False)
    assert forced.returncode == 1 and "is mailkitd running?" in forced.stderr, forced
    assert open(qs["config"]).read() == text and len(os.listdir(os.path.join(data, "dkim"))) == 1


def test_quickstart_refuses_bad_input_before_writing(qs, tmp_path):
    cfg = tmp_path / "x.toml"
    for bad in (["--domain", "not a domain"], ["--relay", "nosuchrelay"],
                ["--account", "someone@elsewhere.test"]):
        args = ["quickstart", "--domain", "quick.test", "--hostname", "mail.quick.test",
                "--relay", "direct", "--data-dir", str(tmp_path / "var"), "--config", str(cfg)]
        for i in range(0, len(bad), 2):
            if bad[i] in args:
                args[args.index(bad[i]) + 1] = bad[i + 1]
            else:
                args += bad[i:i + 2]
        r = run(*args, check=False)
        assert r.returncode != 0, (bad, r.stdout)
        assert not cfg.exists() and not (tmp_path / "var").exists(), bad


def test_send_through_submission_and_read_it_back(qs):
    r = send(qs, "--starttls", "--user", "postmaster@quick.test", "--from",
             "postmaster@quick.test", "--to", "postmaster@quick.test", "--subject",
             "hello from mailkit send", "--body", "first message")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert re.search(r"accepted postmaster@quick\.test: 250", r.stdout), r.stdout
    assert "(TLS)" in r.stdout
    assert wait_for(lambda: "hello from mailkit send" in subjects(qs), 60)


def test_send_over_implicit_tls_with_body_from_stdin(qs):
    r = send(qs, "--tls", "--insecure", "--user", "postmaster@quick.test", "--from",
             "postmaster@quick.test", "--to", "postmaster@quick.test", "--subject",
             "over implicit tls", stdin="body from standard input\n", port=465)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert wait_for(lambda: "over implicit tls" in subjects(qs), 60)


def test_send_to_the_mx_port_without_auth(qs):
    r = send(qs, "--from", "someone@example.org", "--to", "postmaster@quick.test",
             "--subject", "inbound via mx", "--body", "x", port=25)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert wait_for(lambda: "inbound via mx" in subjects(qs), 60)


def test_send_reports_refusals_and_exits_1(qs):
    # One good and one unknown local recipient: each reply printed, exit 1.
    r = send(qs, "--starttls", "--user", "postmaster@quick.test", "--from",
             "postmaster@quick.test", "--to", "postmaster@quick.test", "--to",
             "nobody@quick.test", "--subject", "partly refused", "--body", "x")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r"accepted postmaster@quick\.test: 250", r.stdout), r.stdout
    assert re.search(r"refused +nobody@quick\.test: 5\d\d", r.stdout), r.stdout
    # A wrong password: the AUTH reply, exit 1.
    bad = os.path.join(qs["work"], "badpw")
    with open(bad, "w") as f:
        f.write("wrong\n")
    r = run("send", "--host", "localhost", "--port", str(qs["base"] + 587), "--cafile",
            qs["cert"], "--user", "postmaster@quick.test", "--password-file", bad, "--from",
            "postmaster@quick.test", "--to", "postmaster@quick.test", "--body", "x",
            check=False)
    assert r.returncode == 1 and "535" in r.stderr, (r.stdout, r.stderr)
    # A certificate the client cannot verify: refused before any AUTH.
    r = run("send", "--host", "localhost", "--port", str(qs["base"] + 587), "--user",
            "postmaster@quick.test", "--password-file", bad, "--from", "postmaster@quick.test",
            "--to", "postmaster@quick.test", "--body", "x", check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)


def test_quickstart_server_tells_clients_its_loopback_ports(qs):
    # The autoconfig document of the quickstart server names what actually listens.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the self-signed certificate names mail. and localhost only
    raw = socket.create_connection(("127.0.0.1", qs["base"] + 443), timeout=30)
    with ctx.wrap_socket(raw, server_hostname="autoconfig.quick.test") as s:
        s.sendall(b"GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: autoconfig.quick.test\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    text = body.decode()
    for port in (993, 143, 465, 587):
        assert f"<port>{qs['base'] + port}</port>" in text, text
    assert "<hostname>localhost</hostname>" in text and "<hostname>mail" not in text


def test_quickstart_server_answers_the_queue_and_relay_commands(qs):
    # quickstart's [admin] table: `mailkit queue` and `relay status` find the port and token
    # from the written configuration alone.
    r = run("queue", "list", "--config", qs["config"], "--json")
    assert isinstance(json.loads(r.stdout), (list, dict)), r.stdout
    r = run("relay", "status", "--config", qs["config"])
    assert "oci" in r.stdout, r.stdout
