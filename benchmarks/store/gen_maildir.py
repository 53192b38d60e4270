#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write a Dovecot-style Maildir++ tree of N messages (the shared data of store_bench.sh):
cur/ files named "<time>.M<n>P1.bench,S=<size>:2,<flags>" with a mix of flags and keyword
letters, a dovecot-keywords file, and mtimes one second apart. Usage: gen_maildir.py DIR N"""
import os
import sys


def message(n: int) -> bytes:
    body = "".join(f"Line {i} of a typical short message body, about seventy bytes.\r\n"
                   for i in range(40))
    return (f"From: Sender <sender@example.org>\r\nTo: bench@example.com\r\n"
            f"Subject: benchmark message {n}\r\nMessage-ID: <b{n}@example.org>\r\n"
            f"Date: Tue, 01 Jul 2003 10:52:37 +0200\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


def main() -> None:
    root, n = sys.argv[1], int(sys.argv[2])
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, "dovecot-keywords"), "w") as f:
        f.write("0 $Junk\n1 Work\n")
    flag_cycle = ["S", "RS", "FS", "", "Sa", "Sb", "DS", "S"]
    base = 1_600_000_000
    for i in range(n):
        data = message(i)
        name = f"{base + i}.M{i}P1.bench,S={len(data)}:2,{flag_cycle[i % len(flag_cycle)]}"
        path = os.path.join(root, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (base + i, base + i))


if __name__ == "__main__":
    main()
