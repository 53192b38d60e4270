# SPDX-License-Identifier: Apache-2.0
"""mailkit.smtp.send (PYTHON_API.md, section mailkit.smtp) against aiosmtpd on loopback: the
call's shape (keyword arguments, defaults, the {recipient: (code, text)} result), envelope
taken from the header or given, Bcc never sent, refused recipients as values, SmtpError for
failures before any recipient, argument errors as ValueError. TLS, AUTH, provider look-alikes
and hostile servers are in tests/interop/smtp_client."""
import email
import inspect
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

import mailkit
import mailkit.smtp

MESSAGE = (b"From: Alice <alice@example.org>\r\nTo: bob@example.net, Carol <carol@example.net>\r\n"
           b"Cc: dave@example.net\r\nBcc: eve@example.net\r\nSubject: python api\r\n\r\n"
           b"Hello.\r\n.a line with a leading dot\r\n")


class _Handler:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  envelope.original_content or envelope.content))
        return "250 2.0.0 queued"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    handler = _Handler()
    c = Controller(handler, hostname="127.0.0.1", port=_free_port(), ready_timeout=10)
    c.start()
    try:
        yield c.port, handler
    finally:
        c.stop()


def test_signature_matches_python_api():
    # The extension's docstring carries its signature (pybind11): message positional, the
    # rest keyword-only with PYTHON_API.md's defaults.
    first = mailkit.smtp.send.__doc__.splitlines()[0]
    assert first.startswith("send(message: ")
    head, kw = first.split(", *, ", 1)
    for part in ["host: str", "port: int = 587", "tls: str = 'starttls'",
                 "username: Optional[str] = None", "password: Optional[str] = None",
                 "auth: str = 'auto'", "mail_from: object = None", "rcpt_to: object = None",
                 "cafile: Optional[str] = None", "verify: bool = True", "timeout: float = 60.0"]:
        assert part in kw, part
    # The same in the typing stub.
    stub = inspect.getsourcefile(mailkit.smtp).replace(".py", ".pyi")
    with open(stub) as f:
        text = f.read()
    assert "def send(" in text and "port: int = 587" in text and "timeout: float = 60" in text


def test_envelope_from_the_header_and_bcc_never_sent(server):
    port, h = server
    r = mailkit.smtp.send(MESSAGE, host="127.0.0.1", port=port, tls="none", timeout=10)
    assert set(r) == {"bob@example.net", "carol@example.net", "dave@example.net",
                      "eve@example.net"}
    assert all(code == 250 for code, _ in r.values())
    # Each recipient's final reply: the reply to the data when it was accepted.
    assert r["bob@example.net"] == (250, "2.0.0 queued")
    mail_from, rcpts, data = h.messages[0]
    assert mail_from == "alice@example.org"
    assert sorted(rcpts) == sorted(r)
    assert b"Bcc:" not in data and b"eve@example.net" not in data
    assert b"\r\n.a line with a leading dot" in data  # dot-stuffing undone by the server
    assert email.message_from_bytes(data)["Subject"] == "python api"


def test_given_envelope_and_str_message(server):
    port, h = server
    r = mailkit.smtp.send(MESSAGE.decode(), host="127.0.0.1", port=port, tls="none",
                          mail_from="bounces@example.org", rcpt_to="x@example.net", timeout=10)
    assert list(r) == ["x@example.net"]
    assert h.messages[0][0] == "bounces@example.org" and h.messages[0][1] == ["x@example.net"]


def test_refused_recipient_is_a_value(server):
    port, h = server
    r = mailkit.smtp.send(MESSAGE, host="127.0.0.1", port=port, tls="none",
                          rcpt_to=["ok@example.net", "nobody@example.net"], timeout=10)
    assert r["ok@example.net"][0] == 250
    assert r["nobody@example.net"] == (550, "5.1.1 no such user")
    assert h.messages[0][1] == ["ok@example.net"]


def test_all_recipients_refused_sends_no_data(server):
    port, h = server
    r = mailkit.smtp.send(MESSAGE, host="127.0.0.1", port=port, tls="none",
                          rcpt_to=["nobody@example.net"], timeout=10)
    assert r["nobody@example.net"][0] == 550
    assert h.messages == []


def test_connection_refused_raises_transient_smtp_error():
    port = _free_port()  # nothing listens
    with pytest.raises(mailkit.SmtpError) as e:
        mailkit.smtp.send(MESSAGE, host="127.0.0.1", port=port, tls="none", timeout=5)
    assert e.value.permanent is False
    assert e.value.code is None


def test_starttls_required_but_not_offered_raises(server):
    port, h = server
    with pytest.raises(mailkit.SmtpError) as e:
        mailkit.smtp.send(MESSAGE, host="127.0.0.1", port=port, timeout=10)  # tls="starttls"
    assert "STARTTLS" in str(e.value)
    assert h.messages == []


@pytest.mark.parametrize("kwargs", [
    {"tls": "sometimes"},
    {"auth": "cram-md5"},
    {"port": 0},
    {"timeout": 0},
    {"username": "u"},  # without a password
])
def test_bad_arguments_raise_value_error(kwargs):
    args = {"host": "127.0.0.1", "port": 25, "tls": "none"}
    args.update(kwargs)
    with pytest.raises(ValueError):
        mailkit.smtp.send(MESSAGE, **args)


def test_no_recipients_is_a_value_error(server):
    port, _ = server
    with pytest.raises(ValueError):
        mailkit.smtp.send(b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n",
                          host="127.0.0.1", port=port, tls="none")
