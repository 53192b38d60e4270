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


NSD = shutil.which("nsd", path="/usr/sbin:/usr/local/sbin:/usr/bin") or "/usr/sbin/nsd"


def free_port():
    """A loopback port free for both UDP and TCP right now (nsd serves both)."""
    import socket
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                t.bind(("127.0.0.1", 0))
                port = t.getsockname()[1]
                u.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free loopback port")


class Nsd:
    """nsd (authoritative DNS) on a loopback port serving `zones` ({origin: zone text}), with
    its configuration, database and logs in a private directory (the same setup as the DNS
    interop fixture, tests/interop/dns/dns_servers.hpp). Nothing outside that directory."""

    def __init__(self, zones, name="nsd"):
        if not os.access(NSD, os.X_OK):
            raise RuntimeError("nsd is missing: install the test peers (scripts/bootstrap.sh)")
        os.makedirs(WORK, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=WORK)
        self.zones = zones
        self.proc = None

    def start(self):
        for origin, text in self.zones.items():
            with open(os.path.join(self.dir, origin + ".zone"), "w") as f:
                f.write(text)
        for attempt in range(3):
            self.port = free_port()
            conf = os.path.join(self.dir, "nsd.conf")
            with open(conf, "w") as f:
                f.write('server:\n  ip-address: 127.0.0.1@%d\n  port: %d\n  do-ip6: no\n'
                        '  username: ""\n  chroot: ""\n  database: ""\n  zonesdir: "%s"\n'
                        '  pidfile: "%s/nsd.pid"\n  xfrdfile: "%s/xfrd.state"\n'
                        '  zonelistfile: "%s/zone.list"\n  logfile: "%s/nsd.log"\n'
                        '  server-count: 1\n  verbosity: 1\nremote-control:\n'
                        '  control-enable: no\n'
                        % (self.port, self.port, self.dir, self.dir, self.dir, self.dir,
                           self.dir))
                for origin in self.zones:
                    f.write('zone:\n  name: "%s"\n  zonefile: "%s"\n'
                            % (origin, os.path.join(self.dir, origin + ".zone")))
            self.out = open(os.path.join(self.dir, "nsd.out"), "wb")
            self.proc = subprocess.Popen([NSD, "-d", "-c", conf], stdout=self.out,
                                         stderr=subprocess.STDOUT)
            if self._wait_listening():
                return self
            self.stop()
        raise RuntimeError("nsd did not start: " + self.log_text())

    def _wait_listening(self):
        import socket
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def log_text(self):
        text = ""
        for n in ("nsd.log", "nsd.out"):
            p = os.path.join(self.dir, n)
            if os.path.exists(p):
                text += open(p, errors="replace").read()
        return text

    def address(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.out.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
