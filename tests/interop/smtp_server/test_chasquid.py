# SPDX-License-Identifier: Apache-2.0
"""The chasquid SMTP dialogs (tests/data/smtp/chasquid, chasquid's "chamuyero" scripts) run
against the harness server, comparing reply codes. The harness is configured like chasquid's
reference config (hostname testserver, 1 MiB messages) and chasquid's built-in error limit (3).

Where mailkit answers with a different code on purpose, DEVIATIONS names the step, both codes
and why; every other step must match, and every listed deviation must still happen (so the table
cannot go stale). A dialog with a .cmy.verify file must have stored exactly that message."""
import glob
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Harness, Raw  # noqa: E402

DIALOGS = os.environ.get("MAILKIT_CHASQUID_DIALOGS",
                         os.path.join(os.path.dirname(__file__), "../../data/smtp/chasquid"))
FILES = sorted(glob.glob(os.path.join(DIALOGS, "*.cmy")))
PORTS = {"1025": "mx", "1587": "submission", "1465": "tls"}

# (dialog, expectation number) -> (chasquid's code, mailkit's code, reason)
DEVIATIONS = {
    ("t-12-minor_dialogs__auth_multi_dialog", 3): (
        534, 504, "RFC 4954 §4: an unsupported mechanism is 504 (534 means 'too weak')"),
    ("t-12-minor_dialogs__auth_not_tls", 3): (
        503, 502, "no AUTH on the MX listener at all: RFC 5321 §4.2.4 502, not a sequence error"),
    ("t-12-minor_dialogs__bad_data", 10): (
        554, 250, "the SMTP core does not parse headers; content checks are the policy's "
                  "(mime module) and the harness policy accepts any content"),
    ("t-12-minor_dialogs__bad_mail_from", 4): (
        500, 501, "'MAIL FROM:' with no path is a bad argument (RFC 5321 §4.2.2 501), the verb "
                  "was recognised"),
    ("t-12-minor_dialogs__bad_rcpt_to", 5): (
        500, 501, "'RCPT TO:' with no path is a bad argument (RFC 5321 §4.2.2 501)"),
    ("t-12-minor_dialogs__bad_rcpt_to", 14): (
        550, 553, "a UTF-8 address without SMTPUTF8: RFC 5321 §4.2.3 553 (mailbox name not "
                  "allowed) with 5.6.7 (RFC 6531); the recipient is not unknown, it is unusable"),
    ("t-12-minor_dialogs__line_too_long", 2): (
        554, 500, "RFC 5321 §4.5.3.1.10: 'line too long' is 500; the session continues"),
}


def parse(path):
    steps = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^c\s+(tcp_connect|tls_connect|close|wait|->|~>|<-|<~|<\.\.\.)\s?(.*)$",
                         line)
            assert m, f"unknown directive in {path}: {line!r}"
            steps.append((m.group(1), m.group(2)))
    return steps


def raw_bytes(expr):
    # chamuyero's raw sends are Python-like expressions over string literals ('a' * 3 + '\r\n').
    value = eval(expr, {"__builtins__": {}}, {})  # noqa: S307 - fixed, vendored test data
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


@pytest.fixture(scope="module")
def h():
    args = ["--hostname", "testserver", "--domain", "testserver", "--max-size", str(1 << 20),
            "--max-errors", "3", "--max-auth-failures", "3", "--user", "user@testserver",
            "--password", "secretpassword"]
    with Harness(args, name="chasquid") as server:
        yield server


def run_dialog(h, path):
    name = os.path.basename(path)[:-4]
    conn = None
    expectation = 0
    seen = []
    for op, arg in parse(path):
        if op in ("tcp_connect", "tls_connect"):
            if conn:
                conn.close()
            port = arg.rsplit(":", 1)[1]
            conn = Raw(h.ports[PORTS[port]], tls=op == "tls_connect")
        elif op == "close":
            conn.close()
            conn = None
        elif op == "wait":
            pass
        elif op == "->":
            conn.send(arg.encode("utf-8") + b"\r\n")
        elif op == "~>":
            conn.send(raw_bytes(arg))
        else:
            expectation += 1
            want = int(arg.strip()[:3])
            if op == "<...":
                while True:
                    line = conn.line()
                    if line == arg or not line[3:4] == "-":
                        break
                got = int(line[:3])
                if got == 250:
                    assert line == arg, f"{name}: EHLO reply must end with {arg!r}, got {line!r}"
            else:
                got = conn.code()
            key = (name, expectation)
            if key in DEVIATIONS:
                theirs, ours, _ = DEVIATIONS[key]
                assert (want, got) == (theirs, ours), f"{name} step {expectation}: deviation moved"
            else:
                assert got == want, f"{name} step {expectation}: expected {want}, got {got}"
            seen.append(key)
    if conn:
        conn.close()
    return name, seen


def test_dialogs_found():
    assert len(FILES) >= 18


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f)[:-4] for f in FILES])
def test_dialog(h, path):
    before = len(h.messages())
    name, seen = run_dialog(h, path)
    for key in DEVIATIONS:
        if key[0] == name:
            assert key in seen, f"deviation {key} not reached"
    verify = path + ".verify"
    if os.path.exists(verify):
        msgs = h.wait_messages(before + 1)
        assert len(msgs) == before + 1
        stored = msgs[-1][1].replace(b"\r\n", b"\n")
        with open(verify, "rb") as f:
            assert stored == f.read()
