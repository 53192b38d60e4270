# SPDX-License-Identifier: Apache-2.0
"""Real clients against the harness server: swaks (Perl, Net::SSLeay) and Python smtplib, over
plain SMTP, STARTTLS and implicit TLS, with AUTH PLAIN and LOGIN, pipelining, 8-bit and UTF-8
content, SMTPUTF8 addresses, DSN parameters and large messages. Every message is checked byte
for byte in the harness store, with its envelope."""
import os
import shutil
import smtplib
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Harness, Raw, client_context  # noqa: E402

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"
USER, PASSWORD = "user@testserver", "secretpassword"


@pytest.fixture(scope="module")
def h():
    with Harness(["--max-size", str(40 * 1024 * 1024)], name="clients") as server:
        yield server


def swaks(*args, data=None):
    cmd = [SWAKS, "--silent", "1", "--timeout", "60"] + list(args)
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=180)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def stored_after(h, before):
    msgs = h.messages()
    assert len(msgs) == before + 1, msgs[before:]
    return msgs[-1]


def body_of(msg):
    return msg.split(b"\r\n\r\n", 1)[1]


def crlf(text):
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_swaks_plain_mx(h):
    n = len(h.messages())
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['mx']}", "--from", "a@example.net",
                    "--to", "bob@testserver", "--body", "plain hello")
    assert rc == 0, out
    env, msg = stored_after(h, n)
    assert env["mail_from"] == "a@example.net"
    assert [r["address"] for r in env["rcpt_to"]] == ["bob@testserver"]
    assert env["tls"] is False and env["auth"] == ""
    assert body_of(msg).startswith(b"plain hello\r\n")  # swaks appends blank lines


def test_swaks_relay_refused_on_mx(h):
    n = len(h.messages())
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['mx']}", "--from", "a@example.net",
                    "--to", "victim@elsewhere.example")
    assert rc != 0
    assert "554 5.7.1" in out
    assert len(h.messages()) == n


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_starttls_auth(h, mech):
    n = len(h.messages())
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['submission']}", "--tls",
                    "-a", mech, "--au", USER, "--ap", PASSWORD, "--from", USER,
                    "--to", "friend@elsewhere.example", "--body", f"via {mech}")
    assert rc == 0, out
    env, msg = stored_after(h, n)
    assert env["tls"] is True and env["auth"] == USER and env["mode"] == 1
    assert body_of(msg).startswith(f"via {mech}\r\n".encode())


def test_swaks_submission_needs_tls_for_auth(h):
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['submission']}", "-a", "PLAIN",
                    "--au", USER, "--ap", PASSWORD, "--from", USER, "--to", "x@testserver")
    assert rc != 0
    # AUTH is not even advertised before TLS; swaks stops there.
    assert "did not advertise authentication" in out


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_implicit_tls(h, mech):
    n = len(h.messages())
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['tls']}", "--tlsc", "-a", mech,
                    "--au", USER, "--ap", PASSWORD, "--from", USER, "--to", "x@elsewhere.example")
    assert rc == 0, out
    env, _ = stored_after(h, n)
    assert env["tls"] is True and env["mode"] == 2


def test_swaks_wrong_password(h):
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['tls']}", "--tlsc", "-a", "PLAIN",
                    "--au", USER, "--ap", "wrong", "--from", USER, "--to", "x@testserver")
    assert rc != 0
    assert "535 5.7.8" in out


def test_swaks_pipelining_8bit(h):
    n = len(h.messages())
    data = ("From: a@example.net\r\nTo: bob@testserver\r\nSubject: 8bit\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Gr\u00fc\u00dfe, \u00e9t\u00e9 \u20ac\r\n.leading dot\r\n").encode()
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['mx']}", "--pipeline",
                    "--from", "a@example.net", "--to", "bob@testserver,carol@testserver",
                    "--data", "-", data=data)
    assert rc == 0, out  # swaks --pipeline fails when PIPELINING is not advertised
    env, msg = stored_after(h, n)
    assert [r["address"] for r in env["rcpt_to"]] == ["bob@testserver", "carol@testserver"]
    # Dot-stuffed by swaks, unstuffed by the server; swaks sends CRLF before its final ".".
    assert msg == data + b"\r\n"


def test_swaks_large_message(h, tmp_path):
    n = len(h.messages())
    line = b"0123456789" * 9 + b"\r\n"
    body = line * (30 * 1024 * 1024 // len(line))  # about 30 MB
    data = b"Subject: large\r\n\r\n" + body
    path = tmp_path / "large.eml"
    path.write_bytes(data)
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['mx']}", "--from", "a@example.net",
                    "--to", "bob@testserver", "--data", f"@{path}")
    assert rc == 0, out[-2000:]
    env, msg = stored_after(h, n)
    assert msg == data + b"\r\n"  # swaks sends CRLF before its final "."
    assert env["size"] == len(data) + 2


def test_swaks_over_size_limit(h, tmp_path):
    n = len(h.messages())
    data = b"Subject: too large\r\n\r\n" + (b"x" * 998 + b"\r\n") * (42 * 1024)
    path = tmp_path / "huge.eml"
    path.write_bytes(data)
    rc, out = swaks("--server", f"127.0.0.1:{h.ports['mx']}", "--from", "a@example.net",
                    "--to", "bob@testserver", "--data", f"@{path}")
    assert rc != 0
    assert "552 5.3.4" in out
    assert len(h.messages()) == n
    assert h.tmp_files() == []  # the partial message was removed


def test_smtplib_starttls_login_plain(h):
    n = len(h.messages())
    with smtplib.SMTP("127.0.0.1", h.ports["submission"], timeout=60) as s:
        s.ehlo("client.example")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        s.starttls(context=client_context())
        s.ehlo("client.example")
        assert "PLAIN" in s.esmtp_features["auth"]
        s.login(USER, PASSWORD)
        s.sendmail(USER, ["a@elsewhere.example"], b"Subject: smtplib\r\n\r\nhi\r\n")
    env, msg = stored_after(h, n)
    assert env["auth"] == USER and env["tls"] is True
    assert msg == b"Subject: smtplib\r\n\r\nhi\r\n"


def test_smtplib_auth_login_mechanism(h):
    n = len(h.messages())
    with smtplib.SMTP_SSL("127.0.0.1", h.ports["tls"], context=client_context(), timeout=60) as s:
        s.ehlo("client.example")
        s.user, s.password = USER, PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        s.sendmail(USER, ["b@testserver"], b"Subject: login\r\n\r\nhi\r\n")
    env, _ = stored_after(h, n)
    assert env["mode"] == 2 and env["auth"] == USER


def test_smtplib_bad_password(h):
    with smtplib.SMTP_SSL("127.0.0.1", h.ports["tls"], context=client_context(), timeout=60) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(USER, "nope")
        assert e.value.smtp_code == 535


def test_smtplib_smtputf8_and_8bitmime(h):
    n = len(h.messages())
    sender = "j\u00f6rg@b\u00fccher.example"
    rcpt = "\u00e9l\u00e8ve@testserver"
    msg = ("From: " + sender + "\r\nTo: " + rcpt + "\r\nSubject: \u00e9t\u00e9\r\n\r\n"
           "\u20ac 100\r\n").encode()
    with smtplib.SMTP("127.0.0.1", h.ports["mx"], timeout=60) as s:
        s.ehlo("client.example")
        assert s.has_extn("smtputf8") and s.has_extn("8bitmime")
        s.sendmail(sender, [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    env, stored = stored_after(h, n)
    assert env["mail_from"] == sender and env["rcpt_to"][0]["address"] == rcpt
    assert env["smtputf8"] is True and env["body"] == "8BITMIME"
    assert stored == msg


def test_utf8_without_smtputf8_refused(h):
    c = Raw(h.ports["mx"])
    assert c.code() == 220
    assert c.cmd("EHLO client.example") == 250
    assert c.cmd("MAIL FROM:<j\u00f6rg@example.net>") == 553  # RFC 6531: needs SMTPUTF8
    assert c.cmd("QUIT") == 221
    c.close()


def test_smtplib_dsn_parameters(h):
    n = len(h.messages())
    with smtplib.SMTP("127.0.0.1", h.ports["mx"], timeout=60) as s:
        s.ehlo("client.example")
        assert s.has_extn("dsn")
        s.sendmail("a@example.net", ["b@testserver"], b"Subject: dsn\r\n\r\nx\r\n",
                   mail_options=["RET=HDRS", "ENVID=QQ314159+2Bx"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b+40testserver"])
    env, _ = stored_after(h, n)
    assert env["ret"] == "HDRS" and env["envid"] == "QQ314159+x"
    assert env["rcpt_to"][0]["notify"] == "SUCCESS,FAILURE,"
    assert env["rcpt_to"][0]["orcpt"] == "rfc822;b@testserver"


def test_smtplib_large_message(h):
    n = len(h.messages())
    body = (b"y" * 76 + b"\r\n") * (10 * 1024 * 1024 // 78)
    msg = b"Subject: big\r\n\r\n" + body
    with smtplib.SMTP("127.0.0.1", h.ports["mx"], timeout=120) as s:
        s.sendmail("a@example.net", ["b@testserver"], msg)
    _, stored = stored_after(h, n)
    assert stored == msg


def test_smtplib_vrfy_help_noop_rset(h):
    with smtplib.SMTP("127.0.0.1", h.ports["mx"], timeout=60) as s:
        s.ehlo("client.example")
        assert s.verify("bob@testserver")[0] == 252
        assert s.help().startswith(b"2.0.0") or s.docmd("HELP")[0] == 214
        assert s.noop()[0] == 250
        assert s.rset()[0] == 250
        assert s.docmd("EXPN", "list")[0] == 502
