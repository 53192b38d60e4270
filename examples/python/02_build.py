#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Example 2: build a message with text, HTML and an attachment, then parse it back.

    PYTHONPATH=<build>/bindings/python python3 examples/python/02_build.py

Prints the message and "round trip: ok" when parsing it gives back what went in.
"""

import sys

import mailkit

PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type/Catalog>> endobj\n"
       b"trailer <</Root 1 0 R>>\n%%EOF\n")


def main():
    data = mailkit.mime.build(
        from_="Ana Pérez <ana@example.org>",
        to=[("Bob", "bob@example.com"), mailkit.mime.Address("Zoë", "zoe@example.com")],
        subject="Quarterly report — draft",
        text="Hi Bob,\r\n\r\nthe draft is attached. Café at ten?\r\n\r\nAna\r\n",
        html="<p>Hi Bob,</p><p>the draft is attached. Café at ten?</p><p>Ana</p>",
        attachments=[("résumé Q3.pdf", "application/pdf", PDF)],
        headers={"X-Mailer": "mailkit example 02"},
    )
    sys.stdout.write(data.decode("utf-8", "replace"))  # the builder writes ASCII

    msg = mailkit.mime.parse(data)
    checks = {
        "from": msg.from_ == [mailkit.mime.Address("Ana Pérez", "ana@example.org")],
        "to": [a.addr for a in msg.to] == ["bob@example.com", "zoe@example.com"],
        "subject": msg.subject == "Quarterly report — draft",
        "text": [p.text() for p in msg.text_body] == ["Hi Bob,\r\n\r\nthe draft is attached. "
                                                      "Café at ten?\r\n\r\nAna\r\n"],
        "attachment": [(a.filename, a.content_type, a.content()) for a in msg.attachments]
        == [("résumé Q3.pdf", "application/pdf", PDF)],
        "header": msg.header("X-Mailer") == "mailkit example 02",
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        print(f"round trip: FAILED ({', '.join(failed)})")
        return 1
    print("round trip: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
