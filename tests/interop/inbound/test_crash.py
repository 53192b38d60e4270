# SPDX-License-Identifier: Apache-2.0
"""kill -9 of the server during a bounded load (Postfix's smtp-source plus tracked smtplib
clients), restart on the same data directory, then: every message that got a 250 is in the
store exactly once (a duplicate is possible only where the crash fell between the store's
commit and the queue's; the store recognizes the queue id and the server logs it instead),
and messages that appear without a 250 (the crash came after they were durable, before the
reply was read) are counted and reported."""
import os
import re
import smtplib
import subprocess
import threading
import time

from inbound import USER, Server

SMTP_SOURCE = "/usr/sbin/smtp-source"
TRACKED_THREADS = 6
TRACKED_MAX = 400       # per thread: the load is bounded even if the kill never came
LOAD_SECONDS = 1.5      # kill -9 after this much load


def tracked_client(port, tid, results, stop):
    n = 0
    while not stop.is_set() and n < TRACKED_MAX:
        tag = "T%d-%d" % (tid, n)
        n += 1
        # Every other message about 25 KB: a body the store keeps in its arena file rather
        # than in the database (docs/store.md), durable with the same commit.
        lines = 100 if n % 2 else 1000
        body = ("From: load@friendly.example\r\nTo: %s\r\nSubject: crash %s\r\nX-Track: %s\r\n"
                "\r\n" % (USER, tag, tag)) + ("line of text for %s\r\n" % tag) * lines + \
            "END-OF-%s\r\n" % tag
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                c.ehlo("tracked.example")
                c.mail("load@friendly.example")
                c.rcpt(USER)
                code, resp = c.data(body.encode())
                results[tag] = code
        except (OSError, smtplib.SMTPException):
            results[tag] = None  # no 250 seen: the connection died
            if stop.is_set():
                return
            time.sleep(0.05)


def test_kill9_then_exactly_once():
    s = Server("crash")
    s.start()
    try:
        port = s.ports["mx"]
        load = subprocess.Popen([SMTP_SOURCE, "-s", "10", "-m", "2000", "-l", "4096",
                                 "-f", "load@friendly.example", "-t", USER,
                                 "127.0.0.1:%d" % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results, stop = {}, threading.Event()
        threads = [threading.Thread(target=tracked_client, args=(port, t, results, stop))
                   for t in range(TRACKED_THREADS)]
        for t in threads:
            t.start()
        time.sleep(LOAD_SECONDS)
        s.kill()  # kill -9 in the middle of the load
        stop.set()
        for t in threads:
            t.join(30)
        try:
            load.wait(30)
        except subprocess.TimeoutExpired:
            load.kill()
            load.wait()

        arena = os.path.join(s.data, "store", "bodies.arena")
        s.start()  # recovery scan, then the queue delivers what it holds
        assert s.wait_drained(120), "queue did not drain after restart"
        s.stop()
        log = s.log_text()
        msgs = s.dump(USER, "INBOX")
        # The middling bodies went to the arena where the file system allows it (ext4, XFS).
        arena_used = os.path.exists(arena) and os.path.getsize(arena) > 0
    finally:
        s.kill()

    acked = {t for t, c in results.items() if c == 250}
    not_acked = {t for t, c in results.items() if c != 250}
    count = {}
    for m in msgs:
        found = re.search(r"\r\nX-Track: (T\d+-\d+)\r\n", m["data"])
        if found:
            tag = found.group(1)
            count[tag] = count.get(tag, 0) + 1
            # Never half a message: the whole body is there.
            assert ("END-OF-%s\r\n" % tag) in m["data"], tag
    lost = sorted(t for t in acked if count.get(t, 0) == 0)
    duplicated = sorted(t for t in count if count[t] > 1)
    without_250 = sorted(t for t in not_acked if count.get(t, 0) > 0)
    detected = log.count("already delivered before a restart")
    recovery = re.findall(r"queue recovery: .*", log)
    print("\nkill -9 report: tracked sent %d, got 250 %d, stored %d (total in INBOX %d); "
          "lost %d; duplicated %d; redeliveries detected by queue id %d; appeared without a "
          "250 %d; body arena used: %s; %s" % (len(results), len(acked), len(count), len(msgs),
                                                 len(lost), len(duplicated), detected,
                                                 len(without_250), arena_used,
                                                 recovery[-1] if recovery else ""))
    assert len(acked) > 0, "no message was accepted before the kill"
    assert not lost, "acknowledged messages lost: %s" % lost[:10]
    assert not duplicated, "duplicates: %s" % duplicated[:10]
