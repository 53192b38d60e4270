# SPDX-License-Identifier: Apache-2.0
from typing import Any, Union

from mailkit import dkim as dkim
from mailkit.dkim import Result as _DkimResult
from mailkit.dmarc import Result as _DmarcResult
from mailkit.spf import Result as _SpfResult
from mailkit import dmarc as dmarc
from mailkit import dns as dns
from mailkit import mime as mime
from mailkit import mtasts as mtasts
from mailkit import smtp as smtp
from mailkit import spf as spf
from mailkit import store as store
from mailkit import server as server
from mailkit.server import Server as Server

__version__: str

class Error(Exception):
    """Base class of every mailkit exception: an operation could not be carried out."""

class DnsError(Error):
    """A DNS question could not be answered now (SERVFAIL, REFUSED, timeout, network)."""

class ParseError(Error):
    """Input that cannot be parsed at all under the configured limits."""

class SmtpError(Error):
    """An SMTP exchange failed before any recipient was accepted."""

class StoreError(Error):
    """The mail store could not carry out an operation (disk full, permissions, quota ...)."""

class AuthenticationResult:
    """SPF, DKIM and DMARC results of one message, with the Authentication-Results field."""
    @property
    def spf(self) -> _SpfResult: ...
    @property
    def dkim(self) -> list[_DkimResult]: ...
    @property
    def dmarc(self) -> _DmarcResult: ...
    @property
    def from_domains(self) -> list[str]: ...
    @property
    def header(self) -> str: ...

def authenticate(message: Union[bytes, str], *, ip: Union[str, bytes],
                 helo: Union[str, bytes, None], mail_from: Union[str, bytes, None],
                 resolver: Any = None,
                 authserv_id: Union[str, bytes] = "mx") -> AuthenticationResult: ...

__all__ = ["AuthenticationResult", "DnsError", "Error", "ParseError", "__version__", "authenticate",
           "dkim", "dmarc", "dns", "mime", "spf"]
