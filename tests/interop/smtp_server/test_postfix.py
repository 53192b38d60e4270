# SPDX-License-Identifier: Apache-2.0
"""Postfix as a sending MTA relaying into the harness server: a private Postfix instance
(`postfix -c <confdir>`, its own queue and data directories under the build tree, no inet
listeners, relayhost=[127.0.0.1]:<harness mx port>, smtp_tls_security_level=may), mail injected
with its sendmail -C <confdir>. Checks that every message arrives exactly once, byte-exact after
Postfix's own header additions, over STARTTLS, and that Postfix logged status=sent. The instance
is stopped at the end even on failure."""
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import WORK, Harness  # noqa: E402

POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin") or "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
DAEMON_DIR = "/usr/lib/postfix/sbin"

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def main_cf(base, port):
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
myhostname = sender.example
mydomain = sender.example
myorigin = sender.example
mydestination =
local_transport = error:no local delivery
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
master_service_disable = inet
relayhost = [127.0.0.1]:{port}
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtp_dns_support_level = disabled
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
syslog_name = postfix-mailkit-test
smtputf8_enable = yes
message_size_limit = 52428800
"""


@pytest.fixture(scope="module")
def relay():
    with Harness(["--max-size", str(50 * 1024 * 1024)], name="postfix") as h:
        base = os.path.join(h.dir, "postfix")
        for d in ("conf", "queue", "data"):
            os.makedirs(os.path.join(base, d))
        # Postfix's daemons run as the postfix user: they must reach the queue, and own data/.
        os.chmod(h.dir, 0o755)
        os.chmod(base, 0o755)
        shutil.chown(os.path.join(base, "data"), "postfix", "postfix")
        with open(os.path.join(base, "conf", "main.cf"), "w") as f:
            f.write(main_cf(base, h.ports["mx"]))
        with open(os.path.join(base, "conf", "master.cf"), "w") as f:
            f.write(MASTER_CF)
        if os.path.exists("/etc/postfix/dynamicmaps.cf"):
            shutil.copy("/etc/postfix/dynamicmaps.cf", os.path.join(base, "conf"))
        conf = os.path.join(base, "conf")
        try:
            r = subprocess.run([POSTFIX, "-c", conf, "start"], capture_output=True, timeout=60)
            assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
            yield h, conf, base
        finally:
            subprocess.run([POSTFIX, "-c", conf, "stop"], capture_output=True, timeout=60)
            # postfix stop returns before master exits; make sure nothing is left behind.
            pid_file = os.path.join(base, "queue", "pid", "master.pid")
            deadline = time.monotonic() + 20
            while os.path.exists(pid_file) and time.monotonic() < deadline:
                time.sleep(0.1)
            if os.path.exists(pid_file):
                subprocess.run([POSTFIX, "-c", conf, "abort"], capture_output=True, timeout=60)


def inject(conf, sender, rcpts, data):
    r = subprocess.run([SENDMAIL, "-C", conf, "-f", sender, "-i", "--"] + rcpts, input=data,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()


def test_postfix_relays_into_mailkit(relay):
    h, conf, base = relay
    n = len(h.messages())
    msgs = []
    for i in range(10):
        body = (f"Subject: postfix {i}\n\nline one of {i}\n.leading dot\n..two dots\n"
                f"8-bit: Gr\u00fc\u00dfe\n").encode()
        msgs.append(body)
        inject(conf, "sender@sender.example", [f"rcpt{i}@testserver"], body)
    big = b"Subject: postfix large\n\n" + (b"p" * 900 + b"\n") * 20000  # about 18 MB
    inject(conf, "sender@sender.example", ["big@testserver", "big2@testserver"], big)
    stored = h.wait_messages(n + 11, timeout=180)[n:]
    assert len(stored) == 11, open(os.path.join(base, "maillog")).read()[-3000:]
    by_rcpt = {}
    for env, msg in stored:
        key = ",".join(sorted(r["address"] for r in env["rcpt_to"]))
        assert key not in by_rcpt, "delivered twice: " + key
        by_rcpt[key] = (env, msg)
        assert env["tls"] is True  # smtp_tls_security_level=may used our STARTTLS
        assert env["mail_from"] == "sender@sender.example"
        assert env["esmtp"] is True
    for i, body in enumerate(msgs):
        env, msg = by_rcpt[f"rcpt{i}@testserver"]
        # Postfix adds Received, Message-Id, Date, From; the original text ends the message.
        assert msg.endswith(body.split(b"\n\n", 1)[1].replace(b"\n", b"\r\n")), msg[-300:]
        assert b"Subject: postfix %d\r\n" % i in msg
    env, msg = by_rcpt["big2@testserver,big@testserver"]
    assert msg.endswith((b"p" * 900 + b"\r\n") * 20000)
    log = open(os.path.join(base, "maillog")).read()
    assert log.count("status=sent") >= 11
    assert "Trusted TLS connection" in log or "Untrusted TLS connection" in log \
        or "Anonymous TLS connection" in log
