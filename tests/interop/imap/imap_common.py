# SPDX-License-Identifier: Apache-2.0
"""Shared by the real-client IMAP interop tests (mbsync, fetchmail, neomutt): a test CA and a
server certificate it issues (made with the openssl tool), mailkit_imap_server as a process
over a store in a temporary directory, deliveries through its standard input, and an imaplib
connection to check what a client left behind. Every wait is bounded."""
import imaplib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

SERVER = os.environ.get("MAILKIT_IMAP_SERVER", "")
WORK = os.environ.get("MAILKIT_IMAP_WORK", tempfile.gettempdir())
DOMAIN = "mailkit.test"
USER = "alice@" + DOMAIN
PASSWORD = "alice-secret-pw"
HOST = "127.0.0.1"


def message(n, subject=None, body=None):
    """A small RFC 5322 message, distinct for each n (CRLF line ends)."""
    subject = subject or "Client test %d" % n
    body = body or "Body of message %d, with a marker-%d inside." % (n, n)
    return ("From: Bob <bob@mailkit.test>\r\n"
            "To: alice@mailkit.test\r\n"
            "Subject: %s\r\n"
            "Date: Mon, 07 Jul 2025 10:%02d:00 +0000\r\n"
            "Message-ID: <client-%d@mailkit.test>\r\n"
            "\r\n"
            "%s\r\n" % (subject, n % 60, n, body)).encode()


def make_ca(directory):
    """A test CA and a server certificate for 127.0.0.1 and localhost, issued by it.
    Returns (ca.pem, cert.pem, key.pem)."""
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr = os.path.join(directory, "key.pem"), os.path.join(directory, "server.csr")
    cert, ext = os.path.join(directory, "cert.pem"), os.path.join(directory, "server.ext")

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=mailkit interop test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        # Clients differ in what they compare the host against: IP or DNS entries, or the CN.
        f.write("subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


class Server:
    """mailkit_imap_server on two free loopback ports (STARTTLS and implicit TLS), with a
    certificate from a test CA (self.ca names the CA file clients trust)."""

    def __init__(self, args=()):
        if not SERVER or not os.access(SERVER, os.X_OK):
            raise RuntimeError("MAILKIT_IMAP_SERVER does not name mailkit_imap_server")
        os.makedirs(WORK, exist_ok=True)
        self.base = tempfile.mkdtemp(prefix="imap-client-", dir=WORK)
        self.args = list(args)
        self.ca, self.cert, self.key = make_ca(self.base)

    def __enter__(self):
        ready = os.path.join(self.base, "ready.json")
        self.log = open(os.path.join(self.base, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [SERVER, "--dir", os.path.join(self.base, "data"), "--domain", DOMAIN,
             "--user", USER + ":" + PASSWORD, "--cert", self.cert, "--key", self.key,
             "--ready-file", ready] + self.args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        with open(ready) as f:
            self.ports = json.load(f)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()
        if exc[0] is None:
            shutil.rmtree(self.base, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.base, *parts)

    def deliver(self, data, account=USER):
        path = os.path.join(self.base, "msg-%d.eml" % time.monotonic_ns())
        with open(path, "wb") as f:
            f.write(data)
        self.proc.stdin.write(("deliver %s %s\n" % (account, path)).encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode()
        assert line.startswith("ok "), line
        return int(line.split()[1])

    def imaps(self):
        """An imaplib connection that verifies the server against the test CA."""
        ctx = ssl.create_default_context(cafile=self.ca)
        c = imaplib.IMAP4_SSL(HOST, self.ports["imaps"], ssl_context=ctx, timeout=10)
        c.login(USER, PASSWORD)
        return c


def mailbox(conn, name, readonly=True):
    """{uid: (flags, body)} of every message of a mailbox, through imaplib."""
    typ, data = conn.select('"%s"' % name, readonly=readonly)
    assert typ == "OK", (name, data)
    out = {}
    if int(data[0]) == 0:
        return out
    typ, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    # A response is a tuple (text up to the literal, literal) and then the bytes after the
    # literal (where the UID may be): the server chooses the order of the items.
    entries = []
    for item in data:
        if isinstance(item, tuple):
            entries.append([item[0].decode(), item[1]])
        elif entries and isinstance(item, bytes):
            entries[-1][0] += item.decode()
    for head, body in entries:
        uid = int(re.search(r"UID (\d+)", head).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()
        out[uid] = (set(flags), body)
    return out
