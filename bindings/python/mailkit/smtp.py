# SPDX-License-Identifier: Apache-2.0
"""SMTP client: send a message to a server, like :mod:`smtplib`.

>>> import mailkit.smtp
>>> mailkit.smtp.send(open("msg.eml", "rb").read(), host="smtp-relay.brevo.com",
...                   username="me@example.org", password=key)
{'friend@example.net': (250, '2.0.0 OK: queued as 1234')}

``send(message, *, host, port=587, tls="starttls", username=None, password=None, auth="auto",
mail_from=None, rcpt_to=None, cafile=None, verify=True, timeout=60, helo=None,
pipelining=True, chunking=True)``

- ``tls``: ``"starttls"`` (required: no plaintext fallback), ``"implicit"`` (port 465) or
  ``"none"``; the certificate is checked against ``host`` with the system trust store or
  ``cafile`` unless ``verify=False``.
- ``auth``: ``"auto"`` picks PLAIN, then LOGIN, from what the server offers; ``"plain"`` or
  ``"login"`` force one (OCI Email Delivery needs PLAIN). Credentials are only sent over TLS
  unless ``tls="none"``.
- ``mail_from`` defaults to the Sender, else the From address; ``rcpt_to`` (a str or a list)
  to every To, Cc and Bcc address. Bcc fields are never sent.
- The message goes out in canonical CRLF form (bare LF and bare CR become CRLF).

Returns ``{recipient: (code, text)}``: the reply that decided each recipient (the reply to the
end of the data for accepted recipients, the RCPT reply for refused ones); ``text`` starts with
the enhanced status code when the server sent one. Raises :class:`mailkit.SmtpError` when
nothing reached any recipient: connection, TLS, greeting, EHLO, AUTH or MAIL failures, a local
refusal (message larger than the server's SIZE; non-ASCII headers or addresses to a server
without SMTPUTF8; 8-bit data to a server without 8BITMIME), or a connection lost mid-message.
The exception has ``code`` (int or None), ``enhanced`` (str or None) and ``permanent`` (bool:
retrying cannot help). The GIL is released while the message is sent.
"""

from mailkit._mailkit import smtp as _native

send = _native.send

__all__ = ["send"]
