# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the SMTP client interop tests: the mailkit extension and a private PKI."""
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

try:
    import mailkit.smtp  # noqa: F401
except ImportError as exc:  # a setup error: fail with the fix, never skip
    raise pytest.UsageError(f"cannot import mailkit ({exc}): build _mailkit and set "
                            "PYTHONPATH=<build>/bindings/python") from exc

from peers import make_pki  # noqa: E402


@pytest.fixture(scope="session")
def pki():
    with tempfile.TemporaryDirectory(prefix="mailkit-smtp-client-") as d:
        yield make_pki(d)


MESSAGE = (b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
           b"Subject: interop\r\n\r\nHello.\r\n.leading dot\r\n")
