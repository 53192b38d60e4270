# SPDX-License-Identifier: Apache-2.0
"""Security cases through the real socket: SMTP smuggling (DATA and BDAT, pipelined and not),
STARTTLS command injection, AUTH before TLS, relaying, huge lines, 10^5 recipients, unterminated
DATA, connection limits, timeouts, AUTH failure limit, graceful shutdown."""
import os
import signal
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Harness, Raw  # noqa: E402

FAKE_ENDS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CR.CR": b"\r.\r",
    "CRLF.CRCRLF": b"\r\n.\r\r\n",
}
SMUGGLED = (b"MAIL FROM:<admin@testserver>\r\nRCPT TO:<victim@testserver>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nevil\r\n")


@pytest.fixture(scope="module")
def h():
    with Harness(["--max-errors", "10"], name="security") as server:
        yield server


def session(h, port_name="mx"):
    c = Raw(h.ports[port_name], tls=port_name == "tls")
    assert c.code() == 220
    assert c.cmd("EHLO attacker.example") == 250
    return c


@pytest.mark.parametrize("name", list(FAKE_ENDS))
@pytest.mark.parametrize("pipelined", [False, True])
def test_smuggling_data(h, name, pipelined):
    n = len(h.messages())
    c = session(h)
    head = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@testserver>\r\nDATA\r\n"
    body = b"Subject: real\r\n\r\nhello" + FAKE_ENDS[name] + SMUGGLED + b"\r\n.\r\n"
    if pipelined:
        c.send(head + body + b"QUIT\r\n")
        codes = [c.code() for _ in range(4)]
    else:
        c.send(head)
        codes = [c.code() for _ in range(3)]
        c.send(body)
        codes.append(c.code())
    assert codes == [250, 250, 354, 521]
    assert c.closed()
    assert len(h.messages()) == n  # neither the real nor the smuggled message
    c.close()


@pytest.mark.parametrize("name", list(FAKE_ENDS))
@pytest.mark.parametrize("pipelined", [False, True])
def test_smuggling_bdat(h, name, pipelined):
    n = len(h.messages())
    c = session(h)
    content = b"Subject: real\r\n\r\nhello" + FAKE_ENDS[name] + SMUGGLED + b"\r\n.\r\n"
    head = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@testserver>\r\n"
    bdat = b"BDAT %d LAST\r\n" % len(content) + content
    if pipelined:
        c.send(head + bdat + b"QUIT\r\n")
        codes = [c.code() for _ in range(3)]
    else:
        c.send(head)
        codes = [c.code() for _ in range(2)]
        c.send(bdat)
        codes.append(c.code())
    assert codes == [250, 250, 521]
    assert c.closed()
    assert len(h.messages()) == n
    c.close()


def test_clean_pipelined_transactions_still_work(h):
    n = len(h.messages())
    c = session(h)
    one = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@testserver>\r\nDATA\r\n"
    c.send(one)
    assert [c.code() for _ in range(3)] == [250, 250, 354]
    c.send(b"first\r\n.\r\n" + one)
    assert [c.code() for _ in range(4)] == [250, 250, 250, 354]
    c.send(b"second\r\n.\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<bob@testserver>\r\n"
           b"BDAT 7 LAST\r\nthird\r\n")
    assert [c.code() for _ in range(4)] == [250, 250, 250, 250]
    assert c.cmd("QUIT") == 221
    msgs = h.wait_messages(n + 3)
    assert [m[1] for m in msgs[n:]] == [b"first\r\n", b"second\r\n", b"third\r\n"]


def test_starttls_injection(h):
    c = session(h)
    # The attacker's plaintext MAIL rides in the same packet as STARTTLS.
    c.send(b"STARTTLS\r\nMAIL FROM:<attacker@example.net>\r\n")
    assert c.code() == 220
    c.starttls()
    assert c.cmd("EHLO attacker.example") == 250
    # Had the injected MAIL run, RCPT would be accepted; it must be out of sequence.
    assert c.cmd("RCPT TO:<bob@testserver>") == 503
    assert c.cmd("QUIT") == 221


def test_auth_before_tls_on_submission(h):
    c = session(h, "submission")
    assert c.cmd("AUTH PLAIN AHVzZXJAdGVzdHNlcnZlcgBzZWNyZXRwYXNzd29yZA==") == 538
    assert c.cmd("MAIL FROM:<user@testserver>") == 530
    assert c.cmd("QUIT") == 221


def test_auth_not_on_mx(h):
    c = session(h)
    assert c.cmd("AUTH PLAIN AHVzZXJAdGVzdHNlcnZlcgBzZWNyZXRwYXNzd29yZA==") == 502
    c.close()


def test_relay_refused_on_mx(h):
    c = session(h)
    assert c.cmd("MAIL FROM:<a@example.net>") == 250
    assert c.cmd("RCPT TO:<victim@elsewhere.example>") == 554
    assert c.cmd("RCPT TO:<victim%elsewhere.example@[127.0.0.1]>") == 554
    assert c.cmd("RCPT TO:<@testserver:victim@elsewhere.example>") == 554  # source route
    assert c.cmd("DATA") == 554  # no valid recipients
    c.close()


def test_megabyte_line(h):
    c = session(h)
    c.send(b"NOOP " + b"x" * (1024 * 1024) + b"\r\n")
    assert c.code() == 500
    assert c.cmd("NOOP") == 250
    c.close()


@pytest.mark.parametrize("pipelined", [False, True])
def test_megabyte_line_in_data(h, pipelined):
    # RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets. The receiver reads to the end
    # of the data (never out of step with the client), refuses the message, and the session
    # goes on.
    n = len(h.messages())
    c = session(h)
    head = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@testserver>\r\nDATA\r\n"
    data = b"Subject: long\r\n\r\n" + b"y" * (1024 * 1024) + b"\r\n.\r\n"
    if pipelined:
        c.send(head + data + b"NOOP\r\n")
        codes = [c.code() for _ in range(5)]
    else:
        c.send(head)
        codes = [c.code() for _ in range(3)]
        c.send(data)
        codes.append(c.code())
        codes.append(c.cmd("NOOP"))
    assert codes == [250, 250, 354, 500, 250]
    assert len(h.messages()) == n
    c.close()


def test_megabyte_line_in_bdat(h):
    # Without BODY=BINARYMIME the BDAT content is text too (RFC 3030 §3): same limit.
    n = len(h.messages())
    c = session(h)
    content = b"Subject: long\r\n\r\n" + b"y" * (1024 * 1024) + b"\r\n"
    c.send(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@testserver>\r\n"
           b"BDAT %d LAST\r\n" % len(content) + content)
    codes = [c.code() for _ in range(3)]
    assert codes[:2] == [250, 250] and 500 <= codes[2] < 600, codes
    assert c.cmd("NOOP") == 250
    assert len(h.messages()) == n
    c.close()


def test_hundred_thousand_recipients(h):
    n = len(h.messages())
    c = session(h)
    assert c.cmd("MAIL FROM:<a@example.net>") == 250
    total = 100000
    batch = 5000
    counts = {}
    for start in range(0, total, batch):
        c.send(b"".join(b"RCPT TO:<r%d@testserver>\r\n" % i for i in range(start, start + batch)))
        for _ in range(batch):
            code = c.code()
            counts[code] = counts.get(code, 0) + 1
    assert counts == {250: 100, 452: total - 100}
    assert c.cmd("DATA") == 354
    c.send(b"x\r\n.\r\n")
    assert c.code() == 250
    env, _ = h.wait_messages(n + 1)[-1]
    assert len(env["rcpt_to"]) == 100
    c.close()


def test_unterminated_data(h):
    n = len(h.messages())
    c = session(h)
    c.send(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@testserver>\r\nDATA\r\n")
    assert [c.code() for _ in range(3)] == [250, 250, 354]
    c.send((b"z" * 998 + b"\r\n") * 2048)  # 2 MB, never ended
    c.close()
    # The server aborted the sink: nothing stored, nothing left in tmp/.
    deadline = time.monotonic() + 10
    while h.tmp_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.tmp_files() == []
    assert len(h.messages()) == n
    d = session(h)  # still serving
    assert d.cmd("QUIT") == 221


def test_auth_failure_limit(h):
    c = session(h, "tls")
    bad = "AUTH PLAIN AHVzZXJAdGVzdHNlcnZlcgB3cm9uZw=="
    assert c.cmd(bad) == 535
    assert c.cmd(bad) == 535
    assert c.cmd(bad) == 421
    assert c.closed()


def test_connection_limit_per_ip():
    with Harness(["--max-conn-ip", "2", "--no-tls"], name="limits") as h:
        a, b = Raw(h.ports["mx"]), Raw(h.ports["mx"])
        assert a.code() == 220 and b.code() == 220
        c = Raw(h.ports["mx"])
        code, lines = c.reply()
        assert code == 421 and "4.7.0" in lines[0]
        assert c.closed()
        assert a.cmd("QUIT") == 221
        assert a.closed()
        a.close()
        # A slot is free again once the first session has ended.
        deadline = time.monotonic() + 10
        while True:
            d = Raw(h.ports["mx"])
            code = d.code()
            if code == 220 or time.monotonic() > deadline:
                break
            d.close()
            time.sleep(0.05)
        assert code == 220


def test_command_timeout():
    with Harness(["--command-timeout-ms", "300", "--no-tls"], name="timeout") as h:
        c = Raw(h.ports["mx"])
        assert c.code() == 220
        code, lines = c.reply()  # nothing sent: the server gives up
        assert code == 421 and "4.4.2" in lines[0]
        assert c.closed()


def test_session_deadline():
    # A client that keeps sending NOOPs still meets the whole-session deadline.
    with Harness(["--session-ms", "500", "--no-tls"], name="deadline") as h:
        c = Raw(h.ports["mx"])
        assert c.code() == 220
        codes = []
        deadline = time.monotonic() + 60  # bounded; the server's deadline is 0.5 s
        while time.monotonic() < deadline:
            try:
                c.send(b"NOOP\r\n")
                codes.append(c.code())
            except (EOFError, OSError):
                break
            if codes[-1] == 421:
                break
            time.sleep(0.02)
        assert codes[-1] == 421


def test_graceful_shutdown():
    with Harness(["--no-tls", "--grace-ms", "30000"], name="shutdown") as h:
        idle = Raw(h.ports["mx"])
        assert idle.code() == 220
        busy = Raw(h.ports["mx"])
        assert busy.code() == 220
        assert busy.cmd("EHLO c") == 250
        assert busy.cmd("MAIL FROM:<a@example.net>") == 250
        assert busy.cmd("RCPT TO:<bob@testserver>") == 250
        h.proc.send_signal(signal.SIGTERM)
        # The idle session is told at once; the transaction in progress may finish.
        assert idle.code() == 421
        assert busy.cmd("DATA") == 354
        busy.send(b"finishing\r\n.\r\n")
        assert busy.code() == 250
        code, lines = busy.reply()  # then it is closed too
        assert code == 421 and "4.3.2" in lines[0]
        h.proc.wait(15)
        assert h.proc.returncode == 0
        assert [m[1] for m in h.messages()] == [b"finishing\r\n"]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", h.ports["mx"]), timeout=5)
