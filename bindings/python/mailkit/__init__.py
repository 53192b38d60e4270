# SPDX-License-Identifier: Apache-2.0
"""mailkit: run and script your own mail system.

The native extension ``mailkit._mailkit`` does the work; this package gives it its public
names. Submodules are imported eagerly, so ``import mailkit`` is enough for ``mailkit.mime``.

Exceptions: every operational failure is a subclass of :class:`mailkit.Error`
(:class:`mailkit.ParseError` for input that cannot be parsed at all). Protocol outcomes (an SPF
``fail``, a DKIM ``permerror``) are return values, never exceptions.
"""

from mailkit._mailkit import AuthenticationResult, DnsError, Error, ParseError, SmtpError, StoreError
from mailkit._mailkit import __version__
from mailkit._mailkit import authenticate
from mailkit import dns
from mailkit import dkim, mime
from mailkit import dmarc, spf
from mailkit import mtasts, smtp, store
from mailkit import server
from mailkit.server import Server

__all__ = ["AuthenticationResult", "DnsError", "Error", "ParseError", "Server", "SmtpError",
           "StoreError", "__version__", "authenticate",
           "dkim", "dmarc", "dns", "mime", "mtasts", "server", "smtp", "spf", "store"]
