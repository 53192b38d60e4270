# SPDX-License-Identifier: Apache-2.0
from mailkit import mime as mime

__version__: str

class Error(Exception):
    """Base class of every mailkit exception: an operation could not be carried out."""

class DnsError(Error):
    """A DNS question could not be answered now (SERVFAIL, REFUSED, timeout, network)."""

class ParseError(Error):
    """Input that cannot be parsed at all under the configured limits."""

__all__ = ["DnsError", "Error", "ParseError", "__version__", "mime"]
