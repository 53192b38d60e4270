#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Outbound delivery benchmark (issue 11): messages/s from a queue to a local smtp-sink
(Postfix's test server) through one relay, mailkit vs Postfix, same messages, same sink, same
run, interleaved.

- mailkit: outbound_tool (the durable queue + server::outbound + relay::transport, a new SMTP
  connection per message, as the server runs it) with 1 and 20 delivery workers (= concurrent
  connections). The messages are queued first (not timed); the time is from starting the
  workers until every recipient is final.
- Postfix: a private instance relaying to the sink (relayhost), destination concurrency 1 and
  20. The same messages (smtp-source -F, the same file) are injected and held (HOLD action); the
  time is from releasing the hold queue (postsuper -H ALL; postqueue -f) until the queue is
  empty. Postfix reuses SMTP connections (its connection cache): that is its default.

usage: bench.py OUTBOUND_TOOL [MESSAGES] [ROUNDS]. Bounded: fixed counts, a timeout per run.
Prints a table with medians and the ratio mailkit / Postfix (target >= 2).
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
DAEMON_DIR = "/usr/lib/postfix/sbin"
RUN_TIMEOUT = 300

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
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
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def count_files(d):
    n = 0
    for _, _, files in os.walk(d):
        n += len(files)
    return n


class Postfix:
    def __init__(self, work, sink_port, concurrency):
        self.base = os.path.join(work, f"postfix-{concurrency}")
        self.port = free_port()
        for d in ("conf", "queue", "data"):
            os.makedirs(os.path.join(self.base, d))
        os.chmod(work, 0o755)
        os.chmod(self.base, 0o755)
        shutil.chown(os.path.join(self.base, "data"), "postfix", "postfix")
        self.conf = os.path.join(self.base, "conf")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""\
compatibility_level = 3.6
config_directory = {self.conf}
queue_directory = {self.base}/queue
data_directory = {self.base}/data
daemon_directory = {DAEMON_DIR}
command_directory = /usr/sbin
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydestination =
local_transport = error:no local delivery
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
relayhost = [127.0.0.1]:{sink_port}
smtp_tls_security_level = none
# Injected mail waits in the hold queue until the timed release.
smtpd_recipient_restrictions = check_client_access static:HOLD, permit_mynetworks, reject
default_destination_concurrency_limit = {concurrency}
initial_destination_concurrency = {concurrency}
smtp_destination_concurrency_limit = {concurrency}
relay_destination_concurrency_limit = {concurrency}
default_process_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
maillog_file = {self.base}/maillog
maillog_file_prefixes = {self.base}
syslog_name = postfix-mailkit-outbound-bench
message_size_limit = 52428800
""")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
        if os.path.exists("/etc/postfix/dynamicmaps.cf"):
            shutil.copy("/etc/postfix/dynamicmaps.cf", self.conf)
        r = subprocess.run([POSTFIX, "-c", self.conf, "start"], capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("postfix start: " + r.stderr.decode() + r.stdout.decode())
        wait_port(self.port)

    def queued(self, sub):
        return count_files(os.path.join(self.base, "queue", sub))

    def run(self, msg_file, n, sender, rcpt):
        r = subprocess.run(["smtp-source", "-s", "10", "-m", str(n), "-F", msg_file,
                            "-f", sender, "-t", rcpt, f"127.0.0.1:{self.port}"],
                           capture_output=True, timeout=RUN_TIMEOUT)
        if r.returncode != 0:
            raise RuntimeError("smtp-source: " + r.stderr.decode())
        deadline = time.monotonic() + RUN_TIMEOUT
        while self.queued("hold") < n and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.queued("hold") < n:
            raise RuntimeError(f"postfix held {self.queued('hold')} of {n}")
        start = time.monotonic()
        subprocess.run(["postsuper", "-c", self.conf, "-H", "ALL"], capture_output=True,
                       timeout=60)
        subprocess.run(["postqueue", "-c", self.conf, "-f"], capture_output=True, timeout=60)
        deadline = start + RUN_TIMEOUT
        while time.monotonic() < deadline:
            if sum(self.queued(s) for s in ("incoming", "active", "deferred", "hold")) == 0:
                break
            time.sleep(0.005)
        elapsed = time.monotonic() - start
        if self.queued("deferred"):
            raise RuntimeError("postfix deferred mail: see " + self.base + "/maillog")
        return n / elapsed

    def stop(self):
        subprocess.run([POSTFIX, "-c", self.conf, "stop"], capture_output=True, timeout=60)
        pid = os.path.join(self.base, "queue", "pid", "master.pid")
        deadline = time.monotonic() + 20
        while os.path.exists(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if os.path.exists(pid):
            subprocess.run([POSTFIX, "-c", self.conf, "abort"], capture_output=True, timeout=60)


def mailkit_run(tool, work, sink_port, workers, data, n, sender, rcpt, k):
    qdir = os.path.join(work, f"mk-queue-{workers}-{k}")
    cfg = {"queue": qdir, "timeout_s": 30, "helo": "mailkit.bench.test",
           "relays": [{"name": "sink", "preset": "generic", "host": "localhost",
                       "port": sink_port, "addresses": ["127.0.0.1"], "tls": "none",
                       "limits": {}}],
           "default_route": "sink", "copies": n, "workers": workers,
           "batch": max(1, n // (workers * 4)), "max_seconds": RUN_TIMEOUT,
           "enqueue": [{"from": sender, "rcpt": [rcpt], "data": data}]}
    path = os.path.join(work, f"mk-{workers}-{k}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([tool, path], capture_output=True, text=True, timeout=RUN_TIMEOUT + 60)
    if r.returncode != 0:
        raise RuntimeError("outbound_tool: " + r.stdout + r.stderr)
    out = json.loads(r.stdout)
    if out["stats"]["delivered"] != n:
        raise RuntimeError(f"mailkit delivered {out['stats']['delivered']} of {n}: {out['stats']}")
    shutil.rmtree(qdir, ignore_errors=True)
    return out["per_second"]


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    tool = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    base = os.environ.get("MAILKIT_BENCH_WORK", tempfile.gettempdir())
    work = tempfile.mkdtemp(prefix="outbound-bench-", dir=base)
    sender, rcpt = "alice@example.org", "bob@far.test"
    body = "".join(f"line {i:04d} of the outbound benchmark message, padding to 4 KB.....\r\n"
                   for i in range(58))
    data = (f"From: Alice <{sender}>\r\nTo: <{rcpt}>\r\nSubject: outbound benchmark\r\n"
            f"Message-ID: <bench@example.org>\r\n\r\n" + body)
    msg_file = os.path.join(work, "message.eml")
    with open(msg_file, "w", newline="") as f:
        f.write(data)
    sink_port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "postfix", f"127.0.0.1:{sink_port}", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {}
    postfixes = {}
    try:
        wait_port(sink_port)
        for c in (1, 20):
            postfixes[c] = Postfix(work, sink_port, c)
        for k in range(rounds):
            for c in (1, 20):
                results.setdefault(("mailkit", c), []).append(
                    mailkit_run(tool, work, sink_port, c, data, n, sender, rcpt, k))
                results.setdefault(("postfix", c), []).append(
                    postfixes[c].run(msg_file, n, sender, rcpt))
    finally:
        for p in postfixes.values():
            p.stop()
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"messages: {n} x {len(data)} octets, rounds: {rounds} (medians)")
    print(f"{'connections':>11} {'mailkit msg/s':>14} {'postfix msg/s':>14} {'ratio':>6}")
    summary = []
    for c in (1, 20):
        mk = statistics.median(results[("mailkit", c)])
        pf = statistics.median(results[("postfix", c)])
        print(f"{c:>11} {mk:>14.1f} {pf:>14.1f} {mk / pf:>6.2f}")
        summary.append({"connections": c, "mailkit": round(mk, 1), "postfix": round(pf, 1),
                        "ratio": round(mk / pf, 2)})
    print("json " + json.dumps(summary))


if __name__ == "__main__":
    main()
