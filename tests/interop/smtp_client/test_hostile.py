# SPDX-License-Identifier: Apache-2.0
"""mailkit.smtp.send against hostile and faulty servers (ScriptedServer): endless multi-line
replies, 10 MB reply lines, response injection after the 220 to STARTTLS, bad certificates
under each TLS policy, 4xx and 5xx at every step, a connection dropped after the final dot,
HELO fallback, SIZE, SMTPUTF8, PIPELINING and CHUNKING on the wire."""
import time

import pytest

import mailkit
import mailkit.smtp
from conftest import MESSAGE
from peers import ScriptedServer


def send(srv, **kw):
    message = kw.pop("message", MESSAGE)
    args = dict(host="localhost", port=srv.port, tls="none", timeout=10)
    args.update(kw)
    return mailkit.smtp.send(message, **args)


def test_endless_multiline_reply():
    async def endless(writer):
        for _ in range(200000):  # bounded: the client must give up long before
            if writer.is_closing():
                return
            writer.write(b"220-still talking\r\n" * 50)
            try:
                await writer.drain()
            except ConnectionError:
                return
    with ScriptedServer({"greeting": endless}) as srv:
        t = time.monotonic()
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv)
        assert "too many lines" in str(e.value) or "too long" in str(e.value)
        assert not e.value.permanent
        assert time.monotonic() - t < 10


def test_ten_megabyte_reply_line():
    async def huge(writer):
        writer.write(b"250-ok\r\n250 " + b"a" * (10 * 1024 * 1024) + b"\r\n")
        try:
            await writer.drain()
        except ConnectionError:
            pass
    with ScriptedServer({"ehlo": huge}) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv)
        assert "too long" in str(e.value)


def test_response_injection_before_tls(pki):
    with ScriptedServer({"starttls": b"220 go ahead\r\n250 injected\r\n"},
                        tls_prefix=pki["good"]) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, tls="starttls", cafile=pki["ca"] + ".pem")
        assert "injection" in str(e.value) or "after its 220" in str(e.value)
        assert srv.received == []


@pytest.mark.parametrize("cert", ["wrong_name", "expired", "self_signed"])
def test_bad_certificates_under_each_policy(pki, cert):
    # required + verified: refused before any mail command.
    with ScriptedServer(tls_prefix=pki[cert]) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, tls="starttls", cafile=pki["ca"] + ".pem")
        assert "TLS" in str(e.value) and not e.value.permanent
        assert not any(c.startswith(b"MAIL") for c in srv.commands)
    # opportunistic (RFC 7435): encrypted, not authenticated: delivered.
    with ScriptedServer(tls_prefix=pki[cert]) as srv:
        r = send(srv, tls="opportunistic", verify=False)
        assert r["bob@example.net"][0] == 250
        assert any(c.startswith(b"STARTTLS") for c in srv.commands)
    # none: plaintext, STARTTLS never tried.
    with ScriptedServer(tls_prefix=pki[cert]) as srv:
        r = send(srv, tls="none")
        assert r["bob@example.net"][0] == 250
        assert not any(c.startswith(b"STARTTLS") for c in srv.commands)


def test_good_certificate_verified(pki):
    with ScriptedServer(tls_prefix=pki["good"]) as srv:
        r = send(srv, tls="starttls", cafile=pki["ca"] + ".pem")
        assert r["bob@example.net"][0] == 250
        assert len(srv.received) == 1


# stage, reply, how it surfaces: "raise" (SmtpError) or "value" (in the result dict)
STEPS = [
    ("greeting", b"421 4.3.2 busy\r\n", "raise", 421, False),
    ("greeting", b"554 5.3.2 go away\r\n", "raise", 554, True),
    ("ehlo", b"451 4.3.0 later\r\n", "raise", 451, False),
    ("ehlo", b"550 5.7.1 not you\r\n", "raise", 550, True),
    ("mail", b"451 4.3.0 try later\r\n", "raise", 451, False),
    ("mail", b"553 5.1.8 bad sender\r\n", "raise", 553, True),
    ("rcpt", b"450 4.2.1 mailbox busy\r\n", "value", 450, False),
    ("rcpt", b"550 5.1.1 no such user\r\n", "value", 550, True),
    ("data", b"451 4.3.0 no data now\r\n", "value", 451, False),
    ("data", b"554 5.5.1 no valid recipients\r\n", "value", 554, True),
    ("dot", b"452 4.3.1 out of space\r\n", "value", 452, False),
    ("dot", b"554 5.7.1 spam\r\n", "value", 554, True),
]


@pytest.mark.parametrize("stage,reply,how,code,permanent", STEPS)
def test_failure_at_every_step(stage, reply, how, code, permanent):
    with ScriptedServer({stage: reply}) as srv:
        if how == "raise":
            with pytest.raises(mailkit.SmtpError) as e:
                send(srv)
            assert e.value.code == code and e.value.permanent == permanent
        else:
            r = send(srv)
            assert r["bob@example.net"][0] == code
        # RFC 2920 §3.1: after a refused MAIL or RCPT in a pipeline the client answers the 354
        # with an empty message: no content reaches a server that refused it.
        assert all(m == b"" for m in srv.received) or stage == "dot"


def test_connection_dropped_after_final_dot():
    with ScriptedServer({"dot": "close"}) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv)
        assert not e.value.permanent  # unknown outcome: retry (at most one duplicate)
        assert len(srv.received) == 1


def test_helo_fallback():
    with ScriptedServer({"ehlo": b"500 5.5.1 what?\r\n"}) as srv:
        r = send(srv)
        assert r["bob@example.net"][0] == 250
        assert any(c.startswith(b"HELO") for c in srv.commands)


def test_size_checked_before_sending():
    with ScriptedServer(ehlo_lines=["SIZE 100", "8BITMIME"]) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, message=MESSAGE + b"x" * 200 + b"\r\n")
        assert e.value.code == 552 and e.value.permanent
        assert not any(c.startswith(b"MAIL") for c in srv.commands)


def test_smtputf8_required_but_missing():
    with ScriptedServer(ehlo_lines=["8BITMIME"]) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, rcpt_to=["us\u00e9r@example.net"])
        assert e.value.code == 553 and e.value.enhanced == "5.6.7" and e.value.permanent
        assert "SMTPUTF8" in str(e.value)
        assert not any(c.startswith(b"MAIL") for c in srv.commands)
    with ScriptedServer(ehlo_lines=["8BITMIME", "SMTPUTF8"]) as srv:
        r = send(srv, rcpt_to=["us\u00e9r@example.net"])
        assert r["us\u00e9r@example.net"][0] == 250
        assert any(b"SMTPUTF8" in c for c in srv.commands if c.startswith(b"MAIL"))


def test_chunking_and_pipelining_on_the_wire():
    big = MESSAGE + (b"line of text\r\n" * 20000)
    with ScriptedServer(ehlo_lines=["PIPELINING", "CHUNKING", "8BITMIME", "SIZE 10000000"]) as srv:
        r = send(srv, message=big)
        assert r["bob@example.net"][0] == 250
        assert any(c.startswith(b"BDAT") for c in srv.commands)
        assert not any(c.startswith(b"DATA") for c in srv.commands)
        assert srv.received[0] == big


def test_data_dot_stuffing_round_trip():
    with ScriptedServer(ehlo_lines=["8BITMIME"]) as srv:
        send(srv)
        # The server saw ".." for the leading dot (RFC 5321 §4.5.2).
        assert srv.received[0].endswith(b"Hello.\r\n..leading dot\r\n")
