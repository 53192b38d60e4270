# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the inbound interop tests: start, kill and restart mailkit_inbound_server
on free loopback ports with its data directory under the build tree, and read the store."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

SERVER = os.environ.get("MAILKIT_INBOUND_SERVER", "")
WORK = os.environ.get("MAILKIT_INBOUND_WORK", tempfile.gettempdir())
START_TIMEOUT = 30
STOP_TIMEOUT = 20
DOMAIN = "mailkit.test"
USER = "alice@" + DOMAIN
PASSWORD = "alice-secret-pw"

# A static DNS zone: a DMARC p=quarantine domain and a p=reject domain whose SPF fails for
# loopback, and an SPF pass for the friendly domain.
ZONE = [
    "quarantine.example=v=spf1 -all",
    "_dmarc.quarantine.example=v=DMARC1; p=quarantine",
    "reject.example=v=spf1 -all",
    "_dmarc.reject.example=v=DMARC1; p=reject",
    "friendly.example=v=spf1 ip4:127.0.0.0/8 -all",
    "_dmarc.friendly.example=v=DMARC1; p=reject",
]


class Server:
    def __init__(self, name="in", data_dir=None, args=()):
        if not SERVER or not os.access(SERVER, os.X_OK):
            raise RuntimeError("MAILKIT_INBOUND_SERVER does not name mailkit_inbound_server")
        os.makedirs(WORK, exist_ok=True)
        self.base = tempfile.mkdtemp(prefix=name + "-", dir=WORK)
        self.data = data_dir or os.path.join(self.base, "data")
        self.args = list(args)
        self.proc = None
        self.ports = {}
        self.logs = []

    def command(self):
        cmd = [SERVER, "--dir", self.data, "--domain", DOMAIN, "--user", USER + ":" + PASSWORD,
               "--user", "bob@" + DOMAIN + ":bob-secret-pw",
               "--alias", "postmaster@" + DOMAIN + "=" + USER,
               "--alias", "info@" + DOMAIN + "=bob@" + DOMAIN]
        for z in ZONE:
            cmd += ["--txt", z]
        return cmd + self.args

    def start(self):
        ready = os.path.join(self.base, "ready.json")
        if os.path.exists(ready):
            os.unlink(ready)
        log_path = os.path.join(self.base, "server-%d.log" % len(self.logs))
        self.logs.append(log_path)
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(self.command() + ["--ready-file", ready], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + open(log_path).read())
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        with open(ready) as f:
            self.ports = json.load(f)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:
            shutil.rmtree(self.base, ignore_errors=True)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self.log.closed:
            self.log.close()

    def kill(self):
        """kill -9: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()

    def log_text(self):
        return "".join(open(p, errors="replace").read() for p in self.logs)

    def queue_files(self):
        d = os.path.join(self.data, "queue", "msg")
        return len(os.listdir(d)) if os.path.isdir(d) else 0

    def wait_drained(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.queue_files() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.queue_files() == 0

    def dump(self, account, mailbox="INBOX"):
        """Every message of a mailbox (the server must be stopped: the store is locked)."""
        r = subprocess.run([SERVER, "--dir", self.data, "--dump", account, mailbox],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
