# SPDX-License-Identifier: Apache-2.0
"""RFC 5322 / MIME messages: parse, read headers, addresses and bodies, build new ones.

>>> import mailkit
>>> msg = mailkit.mime.parse(open("message.eml", "rb").read())
>>> msg.subject, [a.addr for a in msg.from_]
>>> for part in msg.walk():
...     print(part.content_type, part.filename)

Raw header values (``Message.headers``, ``Part.headers``) are decoded from the wire bytes as
UTF-8 with the ``surrogateescape`` error handler, so nothing is lost: for any value ``v``,
``v.encode("utf-8", "surrogateescape")`` gives back the exact bytes. Decoded values
(``header()``, ``subject``, addresses, filenames, ``text()``) are ordinary text.
"""

from mailkit._mailkit import mime as _native

Address = _native.Address
Message = _native.Message
Part = _native.Part
PartIterator = _native.PartIterator
parse = _native.parse
build = _native.build
parse_address_list = _native.parse_address_list
decode_header = _native.decode_header

__all__ = [
    "Address",
    "Message",
    "Part",
    "PartIterator",
    "build",
    "decode_header",
    "parse",
    "parse_address_list",
]
