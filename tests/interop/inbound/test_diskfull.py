# SPDX-License-Identifier: Apache-2.0
"""Disk full: the server's data directory on a small tmpfs (mounted by the test; it runs as
root under make test). A filler file takes almost all the space; messages are sent until the
server answers 452 4.3.1 (never a 5xx, never a crash); the filler is removed, the server is
told to retry (SIGUSR1), and every message that got a 250 is in the store exactly once."""
import os
import re
import signal
import smtplib
import subprocess

import pytest

from inbound import USER, Server

SIZE_MB = 16


@pytest.fixture
def tmpfs():
    if os.geteuid() != 0:
        raise RuntimeError("the disk-full test mounts a tmpfs and needs root")
    s = Server("diskfull")
    mnt = os.path.join(s.base, "mnt")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % SIZE_MB, "tmpfs", mnt], check=True)
    try:
        yield s, mnt
    finally:
        s.kill()
        subprocess.run(["umount", "-l", mnt], check=False)


def fill(path, leave):
    """Write a filler file until the file system is full, then give back `leave` octets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"\0" * 65536
    try:
        while os.write(fd, block) > 0:
            pass
    except OSError:
        pass
    os.close(fd)
    size = os.path.getsize(path)
    os.truncate(path, max(0, size - leave))


def send(port, tag):
    body = ("From: x@friendly.example\r\nTo: %s\r\nSubject: full %s\r\nX-Track: %s\r\n\r\n"
            % (USER, tag, tag)) + ("%s filler line of the message body\r\n" % tag) * 1200
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.ehlo("full.example")
            c.mail("x@friendly.example")
            c.rcpt(USER)
            code, resp = c.data(body.encode())
            return code, resp.decode(errors="replace")
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace")


def test_disk_full_gives_452_and_loses_nothing(tmpfs):
    s, mnt = tmpfs
    s.data = os.path.join(mnt, "data")
    s.start()
    filler = os.path.join(mnt, "filler")
    fill(filler, 400 * 1024)
    codes = {}
    refusals = 0
    for i in range(200):
        tag = "F%d" % i
        code, text = send(s.ports["mx"], tag)
        codes[tag] = (code, text)
        if code != 250:
            assert 400 <= code < 500, "a full disk must give a temporary error: %d %s" % (code, text)
            refusals += 1
            if refusals >= 5:
                break
    assert s.proc.poll() is None, "the server died on a full disk"
    full = [t for t, (c, x) in codes.items() if c == 452 and "4.3.1" in x]
    acked = [t for t, (c, x) in codes.items() if c == 250]
    assert full, "no 452 4.3.1 seen: %s" % list(codes.values())[-3:]
    os.unlink(filler)
    s.proc.send_signal(signal.SIGUSR1)  # retry the deliveries deferred by the full disk
    assert s.wait_drained(60)
    s.stop()
    msgs = s.dump(USER, "INBOX")
    count = {}
    for m in msgs:
        f = re.search(r"\r\nX-Track: (F\d+)\r\n", m["data"])
        if f:
            count[f.group(1)] = count.get(f.group(1), 0) + 1
    print("\ndisk full report: sent %d, 250 %d, 452 4.3.1 %d, stored %d"
          % (len(codes), len(acked), len(full), len(count)))
    assert all(count.get(t, 0) == 1 for t in acked), \
        [(t, count.get(t, 0)) for t in acked if count.get(t, 0) != 1]
    assert all(count.get(t, 0) == 0 for t, (c, x) in codes.items() if c != 250)
