#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Example 1: parse a message file and show what a mail client would.

    PYTHONPATH=<build>/bindings/python python3 examples/python/01_parse.py message.eml

Prints the sender, the subject and date, the MIME tree with each part's type and filename, the
text body, and the attachments with their decoded sizes.
"""

import sys

import mailkit


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} FILE", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        msg = mailkit.mime.parse(f.read())

    for sender in msg.from_:
        print(f"From:    {sender.name or ''} <{sender.addr or ''}>")
    print(f"To:      {', '.join(str(a) for a in msg.to)}")
    print(f"Subject: {msg.subject if msg.subject is not None else '(none)'}")
    print(f"Date:    {msg.date.isoformat() if msg.date else '(none)'}")

    print("Parts:")
    for part in msg.walk():
        line = "  " + "  " * part.depth + part.content_type
        if part.charset:
            line += f"; charset={part.charset}"
        if part.filename:
            line += f'  "{part.filename}"'
        print(line)

    for part in msg.text_body:
        print("---")
        print(part.text().rstrip("\r\n"))
    if msg.text_body:
        print("---")

    for att in msg.attachments:
        print(f"attachment: {att.filename or '(unnamed)'} ({att.content_type}), "
              f"{len(att.content())} bytes")
    for problem in msg.problems:
        print(f"problem: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
