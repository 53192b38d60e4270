# SPDX-License-Identifier: Apache-2.0
"""Disk full: the server's data directory on a small tmpfs (mounted by the test; it runs as
root under make test).

- With no free-space reserve (--min-free-space 0), the last line of defence: a filler file
  takes almost all the space; messages are sent until the server answers 452 4.3.1 (never a
  5xx, never a crash); the filler is removed, the server is told to retry (SIGUSR1), and every
  message that got a 250 is in the store exactly once.
- With a reserve (policy_config::min_free_space), the first: once free space falls under it,
  MAIL FROM is answered 452 4.3.1 before any data is sent (and at once for a declared SIZE
  that does not fit beside the reserve, RFC 1870 §6.1); every message that got a 250 is
  stored, and mail is accepted again as soon as space is freed."""
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


def send(port, tag, lines=1200, declare_size=None):
    """(code, text, stage): the first refusal's reply and the command it answered."""
    body = ("From: x@friendly.example\r\nTo: %s\r\nSubject: full %s\r\nX-Track: %s\r\n\r\n"
            % (USER, tag, tag)) + ("%s filler line of the message body\r\n" % tag) * lines
    stage = "connect"
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.ehlo("full.example")
            stage = "mail"
            opts = ["SIZE=%d" % declare_size] if declare_size is not None else []
            code, resp = c.mail("x@friendly.example", opts)  # smtplib returns, not raises
            if code != 250:
                return code, resp.decode(errors="replace"), stage
            stage = "rcpt"
            code, resp = c.rcpt(USER)
            if code != 250:
                return code, resp.decode(errors="replace"), stage
            stage = "data"
            code, resp = c.data(body.encode())
            return code, resp.decode(errors="replace"), stage
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace"), stage


def stored_tags(s):
    count = {}
    for m in s.dump(USER, "INBOX"):
        f = re.search(r"\r\nX-Track: ([A-Z]\d+)\r\n", m["data"])
        if f:
            count[f.group(1)] = count.get(f.group(1), 0) + 1
    return count


def test_disk_full_gives_452_and_loses_nothing(tmpfs):
    s, mnt = tmpfs
    s.data = os.path.join(mnt, "data")
    s.args += ["--min-free-space", "0"]  # no reserve: the writes themselves meet ENOSPC
    s.start()
    filler = os.path.join(mnt, "filler")
    fill(filler, 400 * 1024)
    codes = {}
    refusals = 0
    for i in range(200):
        tag = "F%d" % i
        code, text, _ = send(s.ports["mx"], tag)
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
    count = stored_tags(s)
    print("\ndisk full report: sent %d, 250 %d, 452 4.3.1 %d, stored %d"
          % (len(codes), len(acked), len(full), len(count)))
    assert all(count.get(t, 0) == 1 for t in acked), \
        [(t, count.get(t, 0)) for t in acked if count.get(t, 0) != 1]
    assert all(count.get(t, 0) == 0 for t, (c, x) in codes.items() if c != 250)


def test_free_space_reserve_refuses_at_mail_from(tmpfs):
    s, mnt = tmpfs
    s.data = os.path.join(mnt, "data")
    reserve = 4 << 20
    s.args += ["--min-free-space", str(reserve)]
    s.start()
    filler = os.path.join(mnt, "filler")
    fill(filler, reserve + (1 << 20))  # about 1 MiB above the reserve
    # A declared size that does not fit beside the reserve: refused at MAIL, nothing sent.
    code, text, stage = send(s.ports["mx"], "S0", declare_size=2 << 20)
    assert (code, stage) == (452, "mail") and "4.3.1" in text, (code, text, stage)
    codes = {}
    for i in range(100):  # bounded: 1 MiB above the reserve holds about 25 of these
        tag = "R%d" % i
        code, text, stage = send(s.ports["mx"], tag)
        codes[tag] = (code, text, stage)
        if code != 250:
            break
    assert s.proc.poll() is None
    acked = [t for t, (c, _, _) in codes.items() if c == 250]
    code, text, stage = list(codes.values())[-1]
    assert acked, "nothing accepted above the reserve"
    assert (code, stage) == (452, "mail") and "4.3.1" in text and "storage" in text, \
        "the reserve must refuse at MAIL FROM, before the data: %s" % ((code, text, stage),)
    st = os.statvfs(mnt)
    assert st.f_bavail * st.f_frsize >= reserve - (256 << 10), "the reserve was not kept"
    # Space again: accepted at once (nothing was deferred, no retry needed).
    os.unlink(filler)
    code, text, stage = send(s.ports["mx"], "R999", declare_size=2 << 20)
    assert code == 250, (code, text, stage)
    assert s.wait_drained(60)
    s.stop()
    count = stored_tags(s)
    print("\nreserve report: sent %d, 250 %d, refused at MAIL %d, stored %d"
          % (len(codes) + 2, len(acked) + 1, len(codes) - len(acked) + 1, len(count)))
    assert all(count.get(t, 0) == 1 for t in acked + ["R999"])
    assert sum(count.values()) == len(acked) + 1
