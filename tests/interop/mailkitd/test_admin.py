# SPDX-License-Identifier: Apache-2.0
"""mailkitd's admin port (issue 10), every peer real and on loopback.

mailkitd runs from a TOML file with [admin] on a free loopback port, nsd as its DNS server, and
an outbound relay (the OCI preset) whose port has nothing listening, so that submitted mail to
other domains stays deferred. Prometheus metrics are scraped before and after a swaks delivery;
a submitted message (smtplib, STARTTLS + AUTH) is held, survives a restart held, released and
deleted with the `mailkit queue` CLI; `mailkit relay status` shows the relay's quota; requests
without the bearer token, or with the wrong method, are refused; the CLI says clearly when
mailkitd is not running.
"""
import json
import os
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "smtp_client"))
sys.path.insert(0, os.path.join(HERE, "..", "dnscheck"))
from peers import free_port, make_pki  # noqa: E402
from nsd_server import Nsd  # noqa: E402
from test_mailkitd import CLI, MAILKITD, NSD, PASSWORD, SOA, WORK, Daemon, cli, wait_for  # noqa: E402,E501


@pytest.fixture(scope="module")
def env():
    os.makedirs(WORK, exist_ok=True)
    work = tempfile.mkdtemp(prefix="mailkitd-admin-", dir=WORK)
    pki = make_pki(os.path.join(work, "pki"), names=("mail.example.test", "localhost", "127.0.0.1"))
    nsd_dir = os.path.join(work, "nsd")
    os.makedirs(nsd_dir)
    dns = Nsd(nsd_dir, free_port(), NSD)
    dns.start({
        "example.test": "$ORIGIN example.test.\n" + SOA.format(z="example.test") +
        "@ IN MX 10 mail.example.test.\nmail IN A 127.0.0.1\n",
        "example.org": "$ORIGIN example.org.\n" + SOA.format(z="example.org") +
        '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n',
    })
    d = None
    try:
        data = os.path.join(work, "var")
        store = os.path.join(data, "store")
        os.makedirs(data)
        pwfile = os.path.join(work, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        cli(store, "domain", "add", "example.test")
        cli(store, "user", "add", "user@example.test", "--password-file", pwfile)
        secret = os.path.join(work, "relay.secret")
        with open(secret, "w") as f:
            f.write("relay-pw\n")
        ports = {k: free_port() for k in ("mx", "sub", "subs", "imap", "imaps", "admin", "relay")}
        config = os.path.join(work, "mailkitd.toml")
        with open(config, "w") as f:
            f.write(f"""hostname = "mail.example.test"
data_dir = "{data}"
domains = ["example.test"]
log_level = "debug"

[tls]
cert = "{pki['good']}.pem"
key = "{pki['good']}.key"

[smtp]
listen_mx = ["127.0.0.1:{ports['mx']}"]
listen_submission = ["127.0.0.1:{ports['sub']}"]
listen_submissions = ["127.0.0.1:{ports['subs']}"]

[imap]
listen_imap = ["127.0.0.1:{ports['imap']}"]
listen_imaps = ["127.0.0.1:{ports['imaps']}"]

[dns]
servers = ["127.0.0.1:{dns.port}"]

[admin]
listen = "127.0.0.1:{ports['admin']}"

[outbound]
default_route = "oci"
[[outbound.relay]]
name = "oci"
preset = "oci:eu-frankfurt-1"
host = "localhost"
port = {ports['relay']}
addresses = ["127.0.0.1"]
username = "ocid1.user.oc1..relayuser"
password_file = "{secret}"
approved_senders = ["user@example.test"]
""")
        d = Daemon(work, config)
        d.start()
        token_file = os.path.join(data, "admin-token")
        assert oct(os.stat(token_file).st_mode & 0o777) == "0o600"
        yield {"work": work, "daemon": d, "ports": ports, "config": config,
               "url": f"http://127.0.0.1:{ports['admin']}", "token": open(token_file).read().strip()}
    finally:
        if d:
            d.stop()
        dns.stop()
        if not os.environ.get("MAILKITD_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def request(env, method, path, token=None):
    req = urllib.request.Request(env["url"] + path, method=method,
                                 data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def metrics(env):
    status, headers, body = request(env, "GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out, body


def mk(env, *args, check=True):
    r = subprocess.run([CLI, *args, "--config", env["config"]], capture_output=True, text=True,
                       timeout=60)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def queue_json(env):
    return json.loads(mk(env, "queue", "list", "--json").stdout)


def submit(env, subject):
    ctx = ssl.create_default_context(cafile=os.path.join(env["work"], "pki", "ca.pem"))
    with smtplib.SMTP("127.0.0.1", env["ports"]["sub"], timeout=30) as s:
        s.starttls(context=ctx)
        s.login("user@example.test", PASSWORD)
        s.sendmail("user@example.test", ["friend@far.example"],
                   f"From: user@example.test\r\nTo: friend@far.example\r\nSubject: {subject}\r\n"
                   f"\r\nHeld for the operator.\r\n".encode())


def test_metrics_move_after_a_delivery(env):
    before, text = metrics(env)
    for family in ("mailkit_smtp_connections_total counter", "mailkit_queue_messages gauge",
                   "mailkit_queue_acceptance_seconds histogram",
                   "mailkit_delivery_seconds histogram", "mailkit_auth_failures_total counter",
                   "mailkit_smtp_refused_storage_total counter",
                   "mailkit_relay_quota_used gauge", "mailkit_relay_quota_limit gauge",
                   "mailkit_smtp_end_of_data_seconds histogram",
                   "mailkit_store_writes_total counter", "mailkit_store_commits_total counter"):
        assert "# TYPE " + family in text
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{env['ports']['mx']}", "--to",
                        "user@example.test", "--from", "someone@example.org", "--h-Subject",
                        "counted"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    after = wait_for(lambda: (lambda m: m if m["mailkit_messages_delivered_total"] >
                              before["mailkit_messages_delivered_total"] else None)(metrics(env)[0]))
    assert after, metrics(env)[1]
    assert after["mailkit_smtp_connections_total"] >= before["mailkit_smtp_connections_total"] + 1
    assert after["mailkit_smtp_messages_accepted_total"] == \
        before["mailkit_smtp_messages_accepted_total"] + 1
    assert after['mailkit_relay_quota_limit{relay="oci"}'] > 0
    assert after['mailkit_queue_acceptance_seconds_bucket{le="+Inf"}'] == \
        after["mailkit_queue_acceptance_seconds_count"]
    # The delivery is a store write, in a commit of its own or shared with others.
    assert after["mailkit_store_writes_total"] >= before["mailkit_store_writes_total"] + 1
    assert after["mailkit_store_commits_total"] >= before["mailkit_store_commits_total"] + 1
    assert after["mailkit_store_writes_total"] >= after["mailkit_store_commits_total"]
    # The end-of-data latency counts every accepted message (queue or direct path).
    assert after["mailkit_smtp_end_of_data_seconds_count"] == \
        before["mailkit_smtp_end_of_data_seconds_count"] + 1
    # A failed IMAP login is counted.
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", env["ports"]["imap"])
    m.starttls(ssl_context=ssl.create_default_context(
        cafile=os.path.join(env["work"], "pki", "ca.pem")))
    with pytest.raises(imaplib.IMAP4.error):
        m.login("user@example.test", "wrong password")
    m.logout()
    assert wait_for(lambda: metrics(env)[0]['mailkit_auth_failures_total{service="imap"}'] >
                    before['mailkit_auth_failures_total{service="imap"}'])
    # And a failed SMTP AUTH (submission, after STARTTLS).
    import smtplib
    with smtplib.SMTP("127.0.0.1", env["ports"]["sub"], timeout=30) as c:
        c.starttls(context=ssl.create_default_context(
            cafile=os.path.join(env["work"], "pki", "ca.pem")))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("user@example.test", "wrong password")
    assert wait_for(lambda: metrics(env)[0]['mailkit_auth_failures_total{service="smtp"}'] >
                    before['mailkit_auth_failures_total{service="smtp"}'])


def test_unauthorised_and_wrong_method_are_refused(env):
    status, headers, _ = request(env, "POST", "/api/queue/flush")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert request(env, "POST", "/api/queue/flush", "0" * 64)[0] == 401
    assert request(env, "GET", "/api/queue")[0] == 401  # the list names addresses: token too
    assert request(env, "GET", "/api/relay", "nope")[0] == 401
    status, headers, _ = request(env, "GET", "/api/queue/flush", env["token"])
    assert status == 405 and headers["Allow"] == "POST"
    assert request(env, "POST", "/api/queue/0123/../x/hold", env["token"])[0] in (400, 404)
    assert request(env, "POST", "/api/queue/00ff/hold", env["token"])[0] == 404
    assert request(env, "POST", "/api/queue/flush", env["token"])[0] == 200
    assert request(env, "GET", "/nothing-here")[0] == 404
    # The token was never written to the log.
    assert env["token"] not in env["daemon"].logtext()


def test_hold_release_delete_with_the_cli(env):
    submit(env, "for the operator")
    # The relay's port has nothing listening: the recipient is deferred with the reason.
    msg = wait_for(lambda: next((m for m in queue_json(env)["messages"]
                                 if m["recipients"][0]["state"] == "deferred"
                                 and not m["delivering"]), None))
    assert msg, queue_json(env)
    qid = msg["id"]
    assert msg["sender"] == "user@example.test" and msg["attempts"] >= 1
    assert msg["recipients"][0]["address"] == "friend@far.example"
    assert msg["recipients"][0]["last_reply"] and msg["next_attempt"] > time.time()
    assert msg["size"] > 0 and msg["age"] >= 0
    text = mk(env, "queue", "list").stdout
    assert qid in text and "friend@far.example" in text and "deferred" in text

    assert mk(env, "queue", "hold", qid).stdout.strip() == f"{qid}: held"
    assert [m for m in queue_json(env)["messages"] if m["id"] == qid][0]["held"]
    assert "(held)" in mk(env, "queue", "list").stdout
    # A hold survives a restart (it is in the queue database).
    env["daemon"].stop()
    env["daemon"].start()
    held = [m for m in queue_json(env)["messages"] if m["id"] == qid]
    assert held and held[0]["held"], queue_json(env)
    attempts = held[0]["attempts"]
    mk(env, "queue", "flush")  # a flush does not release a hold
    time.sleep(1)
    assert [m for m in queue_json(env)["messages"] if m["id"] == qid][0]["attempts"] == attempts

    assert mk(env, "queue", "release", qid).stdout.strip() == f"{qid}: released"
    # Released: attempted at once (the relay is still unreachable, so one more attempt).
    assert wait_for(lambda: [m for m in queue_json(env)["messages"] if m["id"] == qid and
                             m["attempts"] > attempts and not m["delivering"]])
    assert not [m for m in queue_json(env)["messages"] if m["id"] == qid][0]["held"]

    assert mk(env, "queue", "delete", qid).stdout.strip() == f"{qid}: deleted"
    assert qid not in [m["id"] for m in queue_json(env)["messages"]]
    assert "removed by the postmaster" in env["daemon"].logtext()
    r = mk(env, "queue", "delete", qid, check=False)
    assert r.returncode == 1 and "404" in r.stderr


def test_relay_status(env):
    out = mk(env, "relay", "status").stdout
    assert "oci (oci:eu-frankfurt-1" in out and "quota:" in out and "resets:" in out
    v = json.loads(mk(env, "relay", "status", "--json").stdout)
    oci = v["relays"][0]
    assert oci["name"] == "oci" and oci["limit"] > 0 and oci["reset"] > time.time()
    assert oci["window"] in ("calendar_day", "rolling_24h") and oci["held"] is False


def test_cli_says_when_mailkitd_is_not_running(env):
    port = free_port()
    r = subprocess.run([CLI, "queue", "list", "--admin", f"http://127.0.0.1:{port}",
                        "--token-file", os.path.join(env["work"], "var", "admin-token")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "is mailkitd running" in r.stderr, r.stderr
    bad = os.path.join(env["work"], "bad-token")
    with open(bad, "w") as f:
        f.write("wrong\n")
    r = subprocess.run([CLI, "queue", "list", "--admin", env["url"], "--token-file", bad],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "401" in r.stderr and "refused" in r.stderr, r.stderr


def test_sighup_reloads_the_configuration(env):
    """Last in the file: it rewrites the configuration."""
    def rcpt(address):
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{env['ports']['mx']}", "--to",
                            address, "--from", "someone@example.org", "--quit-after", "RCPT"],
                           capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr
    assert "5.7.1" in rcpt("nobody@example.net")  # not our domain yet: no relaying
    text = open(env["config"]).read()
    new_mx = free_port()
    text = text.replace('domains = ["example.test"]', 'domains = ["example.test", "example.net"]')
    text = text.replace('preset = "oci:eu-frankfurt-1"', 'preset = "oci:us-ashburn-1"')
    text = text.replace(f'listen_mx = ["127.0.0.1:{env["ports"]["mx"]}"]',
                        f'listen_mx = ["127.0.0.1:{new_mx}"]')
    with open(env["config"], "w") as f:
        f.write(text)
    env["daemon"].proc.send_signal(__import__("signal").SIGHUP)
    assert wait_for(lambda: "reload: configuration" in env["daemon"].logtext()), \
        env["daemon"].logtext()[-2000:]
    log = env["daemon"].logtext()
    assert "reload: domain example.net created" in log
    assert "reload: outbound transport rebuilt" in log
    assert "reload: SMTP listeners changed: the old value is kept until a restart" in log
    # The new relay settings are in use; the old listener still answers.
    oci = json.loads(mk(env, "relay", "status", "--json").stdout)["relays"][0]
    assert oci["preset"] == "oci:us-ashburn-1", oci
    # example.net is ours now (an unknown user, not relaying), on the old listener.
    assert "5.1.1" in rcpt("nobody@example.net")
    # A file with an error changes nothing and says why.
    with open(env["config"], "a") as f:
        f.write("\nnot_a_key = 1\n")
    env["daemon"].proc.send_signal(__import__("signal").SIGHUP)
    assert wait_for(lambda: "configuration kept, the file has an error" in
                    env["daemon"].logtext())
    assert env["daemon"].proc.poll() is None
