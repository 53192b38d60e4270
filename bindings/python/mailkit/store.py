# SPDX-License-Identifier: Apache-2.0
"""The mail store: domains, accounts, aliases, mailboxes and messages (SQLite + files).

>>> import mailkit.store
>>> s = mailkit.store.open("/var/lib/mailkit/store")
>>> s.add_domain("example.com")
>>> s.add_user("bob@example.com", "correct horse", quota_bytes=10**9)
>>> uid = s.append("bob@example.com", "INBOX", b"Subject: hi\\r\\n\\r\\nhello\\r\\n", flags=["\\\\Seen"])
>>> [m.uid for m in s.messages("bob@example.com", "INBOX")]
[1]

Failures raise mailkit.StoreError with ``.code`` (e.g. "over_quota"), ``.permanent`` and
``.status`` (RFC 3463, e.g. "4.2.2"). Calls that touch the disk release the GIL; one process
owns a store directory at a time.
"""

from mailkit._mailkit import store as _native

Store = _native.Store
Message = _native.Message
Mailbox = _native.Mailbox
Account = _native.Account
Resolution = _native.Resolution
open = _native.open  # noqa: A001 - the documented name

__all__ = ["Account", "Mailbox", "Message", "Resolution", "Store", "open"]
