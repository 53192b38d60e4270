# SPDX-License-Identifier: Apache-2.0
"""mailkit.Server: the reference server run from Python (PYTHON_API.md), driven by the
standard library's smtplib and imaplib over loopback."""

import imaplib
import smtplib
import ssl
import time

import pytest

import mailkit
from mailkit.server import to_toml


def config(tmp_path, **extra):
    c = {
        "hostname": "mail.example.test",
        "data_dir": str(tmp_path / "data"),
        "domains": ["example.test"],
        "log_level": "warning",
        "smtp": {"listen_mx": ["127.0.0.1:0"], "listen_submission": ["127.0.0.1:0"],
                 "listen_submissions": []},
        "imap": {"listen_imap": [], "listen_imaps": ["127.0.0.1:0"]},
        "tls": {"self_signed": True},
    }
    c.update(extra)
    return c


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_to_toml_writes_tables_arrays_and_escapes():
    text = to_toml({"hostname": 'a"b', "domains": ["x.test"], "json_logs": False,
                    "smtp": {"max_connections": 5},
                    "outbound": {"relay": [{"name": "r1"}, {"name": "r2"}]}})
    assert 'hostname = "a\\"b"' in text
    assert 'domains = ["x.test"]' in text
    assert "json_logs = false" in text
    assert "[smtp]\nmax_connections = 5" in text
    assert text.count("[[outbound.relay]]") == 2


def test_unknown_key_is_an_error(tmp_path):
    with pytest.raises(mailkit.Error, match="no_such_key"):
        mailkit.Server(config(tmp_path, no_such_key=1))


def test_not_started_has_no_ports(tmp_path):
    srv = mailkit.Server(config(tmp_path))
    assert not srv.running
    with pytest.raises(mailkit.Error):
        srv.ports  # noqa: B018


def test_receives_over_smtp_and_serves_over_imap(tmp_path):
    with mailkit.Server(config(tmp_path)) as srv:
        ports = srv.ports
        assert set(ports) == {"smtp", "submission", "imaps"}
        assert srv.hostname == "mail.example.test"
        srv.store.add_user("bob@example.test", "correct horse")
        msg = (b"From: alice@example.org\r\nTo: bob@example.test\r\nSubject: from python\r\n"
               b"Message-ID: <1@example.org>\r\n\r\nhello bob\r\n")
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as s:
            refused = s.sendmail("alice@example.org", ["bob@example.test"], msg)
        assert refused == {}
        assert wait_for(lambda: srv.stats["delivered"] >= 1)
        imap = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=unverified())
        try:
            assert imap.login("bob@example.test", "correct horse")[0] == "OK"
            typ, data = imap.select("INBOX")
            assert typ == "OK" and data[0] == b"1"
            typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert b"from python" in data[0][1]
        finally:
            imap.logout()
        stats = srv.stats
        assert stats["smtp_connections"] >= 1 and stats["smtp_messages"] == 1
        assert stats["imap_connections"] >= 1
        # Submission: AUTH only after STARTTLS, then local mail from the user's own address.
        with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=30) as s:
            s.starttls(context=unverified())
            s.login("bob@example.test", "correct horse")
            s.sendmail("bob@example.test", ["bob@example.test"],
                       b"From: bob@example.test\r\nSubject: note to self\r\n\r\nx\r\n")
        assert wait_for(lambda: srv.stats["delivered"] >= 2)
        assert len(srv.store.messages("bob@example.test", "INBOX")) == 2
    assert not srv.running


def test_config_file_path_and_restart_keeps_mail(tmp_path):
    path = tmp_path / "mailkitd.toml"
    path.write_text(to_toml(config(tmp_path)))
    srv = mailkit.Server(str(path))
    srv.start()
    srv.store.add_user("carol@example.test", "pw")
    srv.store.append("carol@example.test", "INBOX", b"Subject: kept\r\n\r\nbody\r\n")
    srv.reload_tls()
    srv.stop(grace=1.0)
    again = mailkit.Server(path)
    again.start()
    try:
        assert [m.uid for m in again.store.messages("carol@example.test", "INBOX")] == [1]
    finally:
        again.stop(grace=1.0)


def test_a_port_in_use_fails_start(tmp_path):
    with mailkit.Server(config(tmp_path)) as first:
        busy = first.ports["smtp"]
        c = config(tmp_path / "second")
        c["smtp"]["listen_mx"] = [f"127.0.0.1:{busy}"]
        second = mailkit.Server(c)
        with pytest.raises(mailkit.Error, match="cannot start"):
            second.start()
        assert not second.running
