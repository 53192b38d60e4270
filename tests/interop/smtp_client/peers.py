# SPDX-License-Identifier: Apache-2.0
"""Loopback SMTP peers for the client and relay interop tests.

- make_pki(): a private CA and server certificates (good, wrong name, expired, self-signed),
  made with python3-cryptography; nothing is read from or written to the system trust store.
- ProviderServer: aiosmtpd configured like a commercial relay: OCI Email Delivery (STARTTLS
  required, AUTH PLAIN only, approved senders checked on the envelope and the header From, a
  daily quota answered "455 Maximum messages sent per day reached : limit is N") or Brevo (AUTH
  LOGIN). It records every accepted message.
- ScriptedServer: a small asyncio SMTP server whose every reply can be replaced, for hostile
  and faulty behaviour (endless replies, huge lines, response injection, 4xx/5xx at any step,
  a connection dropped after the final dot).
Every server listens on 127.0.0.1 on a free port, runs in its own thread, and stops with the
context manager. Every loop is bounded in count and time.
"""
import asyncio
import datetime
import email.parser
import email.utils
import os
import socket
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- certificates ----------------------------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path, key, cert):
    with open(path + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(path + ".pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _cert(subject_cn, names, issuer_key, issuer_name, key, not_before, not_after, ca=False):
    import ipaddress
    b = (x509.CertificateBuilder().subject_name(_name(subject_cn)).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                                          encipher_only=False, decipher_only=False),
                            critical=True)
    else:
        alt = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_pki(directory, names=("localhost", "127.0.0.1")):
    """CA and certificates under `directory`; returns a dict of path prefixes (.pem/.key)."""
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("mailkit test CA", [], ca_key, _name("mailkit test CA"), ca_key, now - day,
               now + 30 * day, ca=True)
    out = {"ca": os.path.join(directory, "ca")}
    _write(out["ca"], ca_key, ca)
    specs = {
        "good": (list(names), now - day, now + 30 * day, False),
        "wrong_name": (["wrong.example"], now - day, now + 30 * day, False),
        "expired": (list(names), now - 30 * day, now - day, False),
        "self_signed": (list(names), now - day, now + 30 * day, True),
    }
    for label, (alt, nb, na, self_signed) in specs.items():
        key = ec.generate_private_key(ec.SECP256R1())
        if self_signed:
            cert = _cert(alt[0], alt, key, _name(alt[0]), key, nb, na)
        else:
            cert = _cert(alt[0], alt, ca_key, ca.subject, key, nb, na)
        out[label] = os.path.join(directory, label)
        _write(out[label], key, cert)
    return out


def server_context(prefix):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(prefix + ".pem", prefix + ".key")
    return ctx


# ---- aiosmtpd provider look-alikes ------------------------------------------------------------

class _ProviderHandler:
    def __init__(self, srv):
        self.srv = srv

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        s = self.srv
        if s.quota is not None and s.sent >= s.quota:
            s.quota_replies += 1
            return f"455 Maximum messages sent per day reached : limit is {s.quota}"
        if address == "" and s.refuse_null_sender:
            return "550 5.7.1 The null sender is not allowed"
        if s.approved is not None and not _approved(address, s.approved):
            return f"550 5.7.1 Envelope From address {address} not authorized"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[-1] in self.srv.refuse_domains:
            return "550 5.1.1 Recipient rejected"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        s = self.srv
        content = envelope.original_content or envelope.content
        if s.approved is not None:
            headers = email.parser.BytesHeaderParser().parsebytes(content)
            froms = [a for _, a in email.utils.getaddresses(headers.get_all("From", []))]
            bad = [a for a in froms if not _approved(a, s.approved)]
            if not froms or bad:
                return f"554 5.7.1 Header From address {bad[0] if bad else '(none)'} not authorized"
        with s.lock:
            s.sent += 1
            s.messages.append({"mail_from": envelope.mail_from, "rcpt_to": list(envelope.rcpt_tos),
                               "mail_options": list(envelope.mail_options),
                               "rcpt_options": list(envelope.rcpt_options),
                               "data": content, "tls": session.ssl is not None,
                               "auth": session.authenticated,
                               "login": s.last_login})
        return "250 2.0.0 Ok: queued as mk%04d" % s.sent


def _approved(address, approved):
    a = address.lower()
    dom = a.rsplit("@", 1)[-1] if "@" in a else ""
    for e in approved:
        e = e.lower()
        if e.startswith("@") and dom == e[1:]:
            return True
        if e == a:
            return True
    return False


class ProviderServer:
    """kind: "oci" or "brevo" (or "plain": no TLS, no AUTH). `quota`: messages a day."""

    def __init__(self, kind, pki, username="user", password="secret", approved=None, quota=None,
                 refuse_domains=(), host="127.0.0.1", port=None):
        self.kind = kind
        self.username = username
        self.password = password
        self.approved = approved
        self.quota = quota
        self.sent = 0
        self.quota_replies = 0
        self.messages = []
        self.logins = []
        self.last_login = None
        self.lock = threading.Lock()
        self.refuse_null_sender = kind == "oci"
        self.refuse_domains = set(refuse_domains)
        self.port = port or free_port()
        kwargs = {}
        if kind != "plain":
            kwargs["tls_context"] = server_context(pki["good"])
            kwargs["require_starttls"] = True
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = True
            kwargs["auth_require_tls"] = True
            # OCI offers PLAIN only, Brevo's relay is driven with LOGIN here.
            kwargs["auth_exclude_mechanism"] = ["LOGIN"] if kind == "oci" else ["PLAIN"]
        self.controller = Controller(_ProviderHandler(self), hostname=host, port=self.port,
                                     server_hostname="localhost", enable_SMTPUTF8=True,
                                     data_size_limit=10 * 1024 * 1024, ready_timeout=10,
                                     **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        with self.lock:
            self.logins.append((mechanism, auth_data.login.decode() if ok else None, ok))
            if ok:
                self.last_login = (mechanism, auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


# ---- scripted (hostile) server --------------------------------------------------------------

class ScriptedServer:
    """An SMTP server whose replies come from `script(cmd) -> bytes | None | "close"`.

    The default dialogue accepts everything; `overrides` maps a stage ("greeting", "ehlo",
    "helo", "starttls", "mail", "rcpt", "data", "dot", "rset", "quit", "auth") to raw reply bytes,
    or to a callable(writer) coroutine for streaming behaviour, or to "close".
    `ehlo_lines` replaces the EHLO keywords. `tls_prefix` is a PKI prefix for STARTTLS.
    """

    def __init__(self, overrides=None, ehlo_lines=("PIPELINING", "8BITMIME", "SIZE 1000000"),
                 tls_prefix=None, max_seconds=30):
        self.overrides = dict(overrides or {})
        self.ehlo_lines = list(ehlo_lines)
        self.tls_ctx = server_context(tls_prefix) if tls_prefix else None
        if self.tls_ctx:
            self.ehlo_lines.append("STARTTLS")
        self.port = free_port()
        self.max_seconds = max_seconds
        self.received = []       # complete messages (after the final dot)
        self.commands = []       # every command line received
        self.loop = None
        self.thread = None
        self.server = None
        self.ready = threading.Event()

    async def _reply(self, writer, stage, default):
        o = self.overrides.get(stage, default)
        if o == "close":
            writer.close()
            return False
        if callable(o):
            await o(writer)
            return not writer.is_closing()
        writer.write(o)
        await writer.drain()
        return True

    async def _session(self, reader, writer):
        deadline = time.monotonic() + self.max_seconds
        try:
            if not await self._reply(writer, "greeting", b"220 scripted.test ESMTP\r\n"):
                return
            in_data = False
            data = []
            while time.monotonic() < deadline:
                line = await asyncio.wait_for(reader.readline(), self.max_seconds)
                if not line:
                    return
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        self.received.append(b"".join(data))
                        data = []
                        if not await self._reply(writer, "dot", b"250 2.0.0 queued\r\n"):
                            return
                    else:
                        data.append(line)
                    continue
                self.commands.append(line)
                verb = line[:4].upper()
                if verb == b"EHLO":
                    lines = ["scripted.test"] + self.ehlo_lines
                    text = "".join(f"250-{l}\r\n" for l in lines[:-1]) + f"250 {lines[-1]}\r\n"
                    ok = await self._reply(writer, "ehlo", text.encode())
                elif verb == b"HELO":
                    ok = await self._reply(writer, "helo", b"250 scripted.test\r\n")
                elif verb == b"STAR":
                    ok = await self._reply(writer, "starttls", b"220 2.0.0 go ahead\r\n")
                    if ok and self.tls_ctx and "starttls" not in self.overrides:
                        await writer.start_tls(self.tls_ctx)
                elif verb == b"AUTH":
                    ok = await self._reply(writer, "auth", b"235 2.7.0 ok\r\n")
                elif verb == b"MAIL":
                    ok = await self._reply(writer, "mail", b"250 2.1.0 ok\r\n")
                elif verb == b"RCPT":
                    ok = await self._reply(writer, "rcpt", b"250 2.1.5 ok\r\n")
                elif verb == b"DATA":
                    ok = await self._reply(writer, "data", b"354 go\r\n")
                    stage = self.overrides.get("data", b"354")
                    in_data = ok and isinstance(stage, bytes) and stage.startswith(b"354")
                elif verb == b"BDAT":
                    # RFC 3030 §2: "BDAT" SP chunk-size [ SP "LAST" ]
                    parts = line.split()
                    size = int(parts[1])
                    chunk = await asyncio.wait_for(reader.readexactly(size), self.max_seconds)
                    data.append(chunk)
                    if len(parts) > 2 and parts[2].upper() == b"LAST":
                        self.received.append(b"".join(data))
                        data = []
                        ok = await self._reply(writer, "dot", b"250 2.0.0 queued\r\n")
                    else:
                        ok = await self._reply(writer, "bdat", b"250 2.0.0 chunk ok\r\n")
                elif verb == b"RSET":
                    ok = await self._reply(writer, "rset", b"250 ok\r\n")
                elif verb == b"QUIT":
                    await self._reply(writer, "quit", b"221 bye\r\n")
                    return
                else:
                    ok = await self._reply(writer, "other", b"502 5.5.2 no\r\n")
                if not ok:
                    return
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing a broken transport
                pass

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def start():
            self.server = await asyncio.start_server(self._session, "127.0.0.1", self.port,
                                                     limit=1 << 20)

        self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()
        self.server.close()
        self.loop.run_until_complete(self.server.wait_closed())
        self.loop.close()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
