# SPDX-License-Identifier: Apache-2.0
"""The shipped fail2ban filter (contrib/fail2ban/filter.d/mailkit.conf) against mailkitd's own
log: failed SMTP AUTH on submission (smtplib) and failed IMAP logins (imaplib) are written by a
real mailkitd; Debian's fail2ban-regex (unpacked by scripts/bootstrap.sh into build/tools) must
find every failure with the client's address, and nothing else: a user name crafted to look
like another address must not get that address banned."""
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
MAILKITD = os.environ["MAILKITD"]
CLI = os.environ["MAILKIT_CLI"]
FAIL2BAN = os.environ.get("MAILKIT_FAIL2BAN", os.path.join(REPO, "build", "tools", "fail2ban"))
FILTER = os.path.join(REPO, "contrib", "fail2ban", "filter.d", "mailkit.conf")
WORK = os.environ.get("MAILKITD_WORK", tempfile.gettempdir())
CRAFTED = "x>, rip=192.0.2.66, user=<y"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture(scope="module")
def daemon_log():
    os.makedirs(WORK, exist_ok=True)
    work = tempfile.mkdtemp(prefix="f2b-", dir=WORK)
    data = os.path.join(work, "data")
    sub, imaps = free_port(), free_port()
    config = os.path.join(work, "mailkitd.toml")
    with open(config, "w") as f:
        f.write(f'''hostname = "mail.example.test"
data_dir = "{data}"
domains = ["example.test"]

[tls]
self_signed = true

[smtp]
listen_mx = []
listen_submission = ["127.0.0.1:{sub}"]
listen_submissions = []

[imap]
listen_imap = []
listen_imaps = ["127.0.0.1:{imaps}"]

[dns]
servers = ["127.0.0.1:9"]
''')
    # The account exists before the failures, so that a wrong password (not a missing user) is
    # what fails; the CLI works on the store before the daemon owns it.
    store = os.path.join(data, "store")
    os.makedirs(data, exist_ok=True)
    for args, stdin in ((["domain", "add", "example.test"], None),
                        (["user", "add", "bob@example.test"], "right password\n")):
        r = subprocess.run([CLI, *args, "--store", store], input=stdin, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    log = os.path.join(work, "mailkitd.log")
    out = os.path.join(work, "mailkitd.out")
    with open(out, "w") as o, open(log, "w") as e:
        proc = subprocess.Popen([MAILKITD, "--config", config], stdout=o, stderr=e)
    try:
        deadline = time.monotonic() + 60
        while "mailkitd is running" not in open(out).read():
            assert proc.poll() is None, open(log).read()
            assert time.monotonic() < deadline, "mailkitd did not start"
            time.sleep(0.1)
        for user in ("bob@example.test", CRAFTED):
            with smtplib.SMTP("127.0.0.1", sub, timeout=30) as s:
                s.starttls(context=unverified())
                with pytest.raises(smtplib.SMTPAuthenticationError):
                    s.login(user, "wrong password")
        # imaplib sends the user name as it is given: quote the crafted one (spaces).
        for user in ("bob@example.test", '"' + CRAFTED + '"'):
            imap = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=unverified(), timeout=30)
            with pytest.raises(imaplib.IMAP4.error):
                imap.login(user, "wrong password")
            imap.logout()
        # A success is not a failure line.
        imap = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=unverified(), timeout=30)
        imap.login("bob@example.test", "right password")
        imap.logout()
    finally:
        proc.terminate()
        proc.wait(60)
    return open(log).read()


def test_failures_are_logged_in_postfix_and_dovecot_shapes(daemon_log):
    smtp = re.findall(r"mailkit/smtpd\[\d+\]: warning: unknown\[127\.0\.0\.1\]: SASL (?:PLAIN|LOGIN) "
                      r"authentication failed: sasl_username=<([^>]*)>", daemon_log)
    imap = re.findall(r"mailkit/imap-login\[\d+\]: Login failed \(auth failed, 1 attempt\): "
                      r"rip=127\.0\.0\.1, lip=127\.0\.0\.1, user=<([^>]*)>", daemon_log)
    # smtplib tries PLAIN, then LOGIN: two failures per login() call.
    assert smtp[:2] == ["bob@example.test"] * 2 and len(smtp) == 4, daemon_log[-3000:]
    assert imap[0] == "bob@example.test" and len(imap) == 2, daemon_log[-3000:]
    # The crafted name's delimiters and spaces are neutralised.
    for name in (smtp[2], smtp[3], imap[1]):
        assert name == "x???rip=192.0.2.66??user=?y", name
    assert "wrong password" not in daemon_log and "right password" not in daemon_log


def test_fail2ban_regex_finds_each_failure_and_only_the_client(daemon_log, tmp_path):
    log = tmp_path / "mailkitd.log"
    log.write_text(daemon_log)
    env = dict(os.environ, PYTHONPATH=os.path.join(FAIL2BAN, "usr", "lib", "python3",
                                                    "dist-packages"))
    tool = os.path.join(FAIL2BAN, "usr", "bin", "fail2ban-regex")
    assert os.path.exists(tool), "run scripts/bootstrap.sh (it unpacks fail2ban into build/tools)"
    r = subprocess.run(["/usr/bin/python3", tool, "--print-all-matched", str(log), FILTER],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", r.stdout)
    assert m and int(m.group(1)) == 6, r.stdout
    hosts = re.findall(r"^\|\s+(\S+)\s+\w{3} \w{3} ", r.stdout, re.M)
    assert "192.0.2.66" not in r.stdout.split("Matched line(s):")[0], r.stdout
    assert hosts == [] or set(hosts) == {"127.0.0.1"}, r.stdout
