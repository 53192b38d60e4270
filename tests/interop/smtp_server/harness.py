# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the SMTP server interop tests: start/stop the harness server on free
loopback ports with its own store under the build tree, a minimal raw SMTP client for the
security cases, and store inspection."""
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

HARNESS = os.environ.get("MAILKIT_SMTP_HARNESS", "")
WORK = os.environ.get("MAILKIT_SMTP_WORK", tempfile.gettempdir())
START_TIMEOUT = 20  # seconds for the harness to report its ports
STOP_TIMEOUT = 15   # seconds for a graceful exit before SIGKILL


class Harness:
    def __init__(self, args=(), name="h"):
        if not HARNESS or not os.access(HARNESS, os.X_OK):
            raise RuntimeError("MAILKIT_SMTP_HARNESS does not name the harness server")
        os.makedirs(WORK, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=WORK)
        self.store = os.path.join(self.dir, "store")
        self.ready = os.path.join(self.dir, "ready.json")
        self.log_path = os.path.join(self.dir, "harness.log")
        self.args = list(args)
        self.proc = None
        self.ports = {}

    def __enter__(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [HARNESS, "--dir", self.store, "--ready-file", self.ready, "--auth-delay-ms", "10"]
            + self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None:
                raise RuntimeError("harness exited: " + open(self.log_path).read())
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("harness did not start")
            time.sleep(0.05)
        with open(self.ready) as f:
            self.ports = json.load(f)
        return self

    def __exit__(self, exc_type, *exc):
        self.stop()
        # The store can hold tens of MB; keep it only when the block failed, for inspection.
        if exc_type is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self.log.closed:
            self.log.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def messages(self):
        """Every stored message: list of (envelope dict, message bytes), in id order."""
        new = os.path.join(self.store, "new")
        out = []
        if not os.path.isdir(new):
            return out
        for name in sorted(os.listdir(new)):
            if name.endswith(".eml"):
                base = name[:-4]
                with open(os.path.join(new, base + ".json")) as f:
                    env = json.load(f)
                with open(os.path.join(new, name), "rb") as f:
                    out.append((env, f.read()))
        return out

    def tmp_files(self):
        return os.listdir(os.path.join(self.store, "tmp"))

    def wait_messages(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.messages()
            if len(m) >= n:
                return m
            time.sleep(0.1)
        return self.messages()


class Raw:
    """A line-oriented SMTP client over a plain or TLS socket, for exact byte control."""

    def __init__(self, port, tls=False, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = client_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One whole reply: (code, [lines])."""
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                return int(l[:3]), lines

    def code(self):
        return self.reply()[0]

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.code()

    def closed(self, timeout=10):
        """True when the server has closed the connection (after any pending data)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def starttls(self):
        self.sock = client_context().wrap_socket(self.sock, server_hostname="localhost")

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the harness certificate is self-signed
    return ctx
