# SPDX-License-Identifier: Apache-2.0
from mailkit import dkim as dkim
from mailkit import dmarc as dmarc
from mailkit import dns as dns
from mailkit import mime as mime
from mailkit import spf as spf

__version__: str

class Error(Exception):
    """Base class of every mailkit exception: an operation could not be carried out."""

class DnsError(Error):
    """A DNS question could not be answered now (SERVFAIL, REFUSED, timeout, network)."""

class ParseError(Error):
    """Input that cannot be parsed at all under the configured limits."""

__all__ = ["DnsError", "Error", "ParseError", "__version__", "dkim", "dmarc", "dns", "mime", "spf"]
