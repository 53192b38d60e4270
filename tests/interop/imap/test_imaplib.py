# SPDX-License-Identifier: Apache-2.0
"""mailkit_imap_server driven by Python's imaplib on loopback: STARTTLS and implicit TLS, LOGIN
refused in the clear, LIST, SELECT, APPEND, FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE, IDLE
across two connections and after a delivery, the inactivity timeout, the per-user connection
limit and failed-login throttling. Every wait is bounded."""
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

SERVER = os.environ.get("MAILKIT_IMAP_SERVER", "")
WORK = os.environ.get("MAILKIT_IMAP_WORK", tempfile.gettempdir())
DOMAIN = "mailkit.test"
USER = "alice@" + DOMAIN
PASSWORD = "alice-secret-pw"
HOST = "127.0.0.1"

MESSAGE = (b"From: Bob <bob@mailkit.test>\r\n"
           b"To: alice@mailkit.test\r\n"
           b"Subject: Interop hello\r\n"
           b"Date: Mon, 07 Jul 2025 10:00:00 +0000\r\n"
           b"Message-ID: <interop-1@mailkit.test>\r\n"
           b"\r\n"
           b"A body with a unicorn inside.\r\n")


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    return ctx


class Server:
    def __init__(self, args=()):
        if not SERVER or not os.access(SERVER, os.X_OK):
            raise RuntimeError("MAILKIT_IMAP_SERVER does not name mailkit_imap_server")
        os.makedirs(WORK, exist_ok=True)
        self.base = tempfile.mkdtemp(prefix="imap-", dir=WORK)
        self.args = list(args)

    def __enter__(self):
        ready = os.path.join(self.base, "ready.json")
        self.log = open(os.path.join(self.base, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [SERVER, "--dir", os.path.join(self.base, "data"), "--domain", DOMAIN,
             "--user", USER + ":" + PASSWORD, "--user", "bob@" + DOMAIN + ":bob-secret-pw",
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
        c = imaplib.IMAP4_SSL(HOST, self.ports["imaps"], ssl_context=tls_context(), timeout=10)
        c.login(USER, PASSWORD)
        return c


def read_line(conn, timeout=5.0):
    conn.sock.settimeout(timeout)
    return conn.readline().decode(errors="replace")


def test_login_refused_in_the_clear_then_starttls():
    with Server() as srv:
        c = imaplib.IMAP4(HOST, srv.ports["imap"], timeout=10)
        assert "STARTTLS" in c.capabilities and "LOGINDISABLED" in c.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            c.login(USER, PASSWORD)
        typ, _ = c.starttls(ssl_context=tls_context())
        assert typ == "OK"
        typ, _ = c.login(USER, PASSWORD)
        assert typ == "OK"
        typ, data = c.list()
        assert typ == "OK"
        names = b"\n".join(data)
        assert b'"/" INBOX' in names and b"\\Sent" in names and b"\\Trash" in names
        c.logout()


def test_plain_login_on_loopback_when_configured():
    with Server(["--plain-login"]) as srv:
        c = imaplib.IMAP4(HOST, srv.ports["imap"], timeout=10)
        assert "LOGINDISABLED" not in c.capabilities
        assert c.login(USER, PASSWORD)[0] == "OK"
        c.logout()


def test_mailbox_and_message_commands():
    with Server() as srv:
        srv.deliver(MESSAGE)
        c = srv.imaps()
        assert c.create("Projects/2025")[0] == "OK"
        typ, data = c.list('""', "Projects*")
        assert typ == "OK"
        assert any(b"\\HasChildren" in d and d.endswith(b" Projects") for d in data), data
        typ, data = c.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(time.time()),
                             MESSAGE.replace(b"unicorn", b"dragon"))
        assert typ == "OK" and b"APPENDUID" in data[0], data
        typ, data = c.select("INBOX")
        assert typ == "OK" and data == [b"2"], data
        typ, data = c.fetch("1", "(FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
        assert typ == "OK"
        head = data[0] if isinstance(data[0], bytes) else data[0][0]
        assert b"RFC822.SIZE %d" % len(MESSAGE) in head, head
        assert b'"Interop hello"' in head and b'"text" "plain"' in head, head
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] == MESSAGE
        assert b"\\Seen" not in c.fetch("1", "(FLAGS)")[1][0]
        typ, data = c.fetch("1", "(BODY[TEXT])")
        assert data[0][1] == b"A body with a unicorn inside.\r\n"
        assert b"\\Seen" in c.fetch("1", "(FLAGS)")[1][0]
        typ, data = c.store("1", "+FLAGS", "(\\Answered)")
        assert typ == "OK" and b"\\Answered" in data[0], data
        assert c.search(None, "FLAGGED")[1] == [b"2"]
        assert c.search(None, "BODY", "unicorn")[1] == [b"1"]
        assert c.search(None, "SUBJECT", "interop")[1] == [b"1 2"]
        assert c.uid("SEARCH", None, "ANSWERED")[1] == [b"1"]
        typ, data = c.copy("1:2", "Archive")
        assert typ == "OK"
        typ, data = c.uid("MOVE", "2", "Trash")
        assert typ == "OK", data
        # RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGE of the moved message.
        assert c.response("COPYUID")[1][-1].split()[1:] == [b"2", b"1"]
        assert c.response("EXPUNGE")[1] == [b"2"]
        assert c.status("Archive", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 2)")
        assert c.status("Trash", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)")
        assert c.store("1", "+FLAGS", "(\\Deleted)")[0] == "OK"
        typ, data = c.expunge()
        assert typ == "OK" and data == [b"1"], data
        assert c.select("INBOX")[1] == [b"0"]
        assert c.rename("Projects/2025", "Projects/2026")[0] == "OK"
        assert c.delete("Projects/2026")[0] == "OK"
        assert c.close()[0] == "OK"
        c.logout()


def test_idle_reports_other_sessions_and_delivery():
    with Server() as srv:
        a, b = srv.imaps(), srv.imaps()
        assert a.select("INBOX")[0] == "OK"
        tag = a._new_tag()
        a.send(tag + b" IDLE\r\n")
        assert read_line(a).startswith("+ idling")
        # Another connection appends: the idling one hears of it at once.
        assert b.append("INBOX", None, None, MESSAGE)[0] == "OK"
        assert read_line(a) == "* 1 EXISTS\r\n"
        # So does a delivery into the store.
        srv.deliver(MESSAGE)
        assert read_line(a) == "* 2 EXISTS\r\n"
        # And flag changes made elsewhere.
        assert b.select("INBOX")[0] == "OK"
        assert b.store("1", "+FLAGS", "(\\Flagged)")[0] == "OK"
        line = read_line(a)
        assert re.match(r"\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\)", line), line
        a.send(b"DONE\r\n")
        line = read_line(a)
        assert line.startswith(tag.decode() + " OK"), line
        a.sock.settimeout(10)
        assert a.noop()[0] == "OK"
        a.logout()
        b.logout()


def test_inactivity_timeout_says_bye():
    with Server(["--idle-timeout-ms", "1000"]) as srv:
        c = srv.imaps()
        start = time.monotonic()
        c.sock.settimeout(10)
        line = c.readline().decode()
        assert line.startswith("* BYE Autologout"), line
        assert 0.8 < time.monotonic() - start < 8


def test_per_user_connection_limit():
    with Server(["--max-per-user", "2"]) as srv:
        a, b = srv.imaps(), srv.imaps()
        c = imaplib.IMAP4_SSL(HOST, srv.ports["imaps"], ssl_context=tls_context(), timeout=10)
        with pytest.raises(imaplib.IMAP4.abort) as e:
            c.login(USER, PASSWORD)
        assert "LIMIT" in str(e.value)
        a.logout()
        # A slot is free again once a connection ends.
        deadline = time.monotonic() + 5
        while True:
            d = imaplib.IMAP4_SSL(HOST, srv.ports["imaps"], ssl_context=tls_context(), timeout=10)
            try:
                d.login(USER, PASSWORD)
                break
            except imaplib.IMAP4.abort:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        d.logout()
        b.logout()


def test_failed_logins_are_throttled():
    with Server(["--auth-delay-ms", "300"]) as srv:
        c = imaplib.IMAP4_SSL(HOST, srv.ports["imaps"], ssl_context=tls_context(), timeout=10)
        times = []
        for _ in range(2):
            start = time.monotonic()
            with pytest.raises(imaplib.IMAP4.error):
                c.login(USER, "wrong-password")
            times.append(time.monotonic() - start)
        assert times[0] >= 0.28 and times[1] >= 0.58, times
        # The next connection from the same address waits longer still.
        d = imaplib.IMAP4_SSL(HOST, srv.ports["imaps"], ssl_context=tls_context(), timeout=10)
        start = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error):
            d.login(USER, "wrong-again")
        assert time.monotonic() - start >= 0.88


def test_international_names_and_account_isolation():
    with Server() as srv:
        c = srv.imaps()
        # "Entwürfe/Ärger" in modified UTF-7 (RFC 3501 §5.1.3), as imaplib users send it.
        assert c.create("Entw&APw-rfe/&AMQ-rger")[0] == "OK"
        typ, data = c.list('""', "Entw*")
        assert typ == "OK"
        assert any(d.endswith(b'"/" Entw&APw-rfe/&AMQ-rger') for d in data), data
        assert c.status("Entw&APw-rfe/&AMQ-rger", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 0)")
        # Traversal-looking names never leave the account.
        typ, _ = c.create('"../bob@mailkit.test/INBOX"')
        assert typ == "NO"
        # Another account sees none of it.
        b = imaplib.IMAP4_SSL(HOST, srv.ports["imaps"], ssl_context=tls_context(), timeout=10)
        b.login("bob@" + DOMAIN, "bob-secret-pw")
        typ, data = b.list('""', "*")
        assert not any(b"Entw" in d for d in data), data
        assert b.select("Entw&APw-rfe/&AMQ-rger")[0] == "NO"
        # EXAMINE is read-only: STORE is refused.
        assert b.append("INBOX", None, None, MESSAGE)[0] == "OK"
        typ, data = b.select("INBOX", readonly=True)
        assert typ == "OK" and data == [b"1"]
        typ, data = b.store("1", "+FLAGS", "(\\Deleted)")
        assert typ == "NO"
        b.logout()
        c.logout()


def test_large_fetch_arrives_whole():
    # Over fetch_chunk_bytes in total: the server writes it in chunks, the client sees one FETCH.
    with Server() as srv:
        c = srv.imaps()
        bodies = [MESSAGE + (b"%d" % i) * (600 * 1024) + b"\r\n" for i in range(3)]
        for b in bodies:
            assert c.append("INBOX", None, None, b)[0] == "OK"
        c.select("INBOX")
        typ, data = c.fetch("1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        got = [d[1] for d in data if isinstance(d, tuple)]
        assert got == bodies
        assert c.noop()[0] == "OK"
        c.logout()
