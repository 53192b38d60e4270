#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write a Maildir (cur/new/tmp) of N varied messages for benchmarks/imap_bench.sh, the same
files for mailkit (imported) and for Dovecot (read in place). Deterministic (seeded).

Mix: 60% text/plain (a third quoted-printable with accented words), 25% multipart/alternative
(text and HTML), 15% multipart/mixed with a text part and a base64 attachment. Every 97th
message (n % 97 == 3) holds the word NEEDLE in its body, so SEARCH TEXT NEEDLE hits about 1%.
Flags cycle over Seen, Answered, Flagged and none. Usage: gen_mailbox.py DIR N [SEED]"""
import base64
import os
import quopri
import random
import sys

NEEDLE = "quetzalcoatl"
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pa", "do", "gu", "he", "ji",
             "bra", "tor", "fen", "gal", "mor", "sil", "ve", "qua", "dri", "ost"]


def vocabulary(rng: random.Random, n: int) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def sentence(rng: random.Random, words: list[str], k: int) -> str:
    s = " ".join(rng.choice(words) for _ in range(k))
    return s[0].upper() + s[1:] + "."


def paragraphs(rng: random.Random, words: list[str], lines: int) -> list[str]:
    return [sentence(rng, words, rng.randint(6, 11)) for _ in range(lines)]


def message(n: int, rng: random.Random, words: list[str]) -> bytes:
    subject = sentence(rng, words, rng.randint(3, 6))[:-1]
    sender = f"{rng.choice(words)}.{rng.choice(words)}@example.org"
    head = (f"From: {sender.split('@')[0].title()} <{sender}>\r\nTo: bench@example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <g{n}@example.org>\r\n"
            f"Date: Tue, 01 Jul 2025 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d} +0200\r\n"
            f"MIME-Version: 1.0\r\n")
    lines = paragraphs(rng, words, rng.randint(10, 60))
    if n % 97 == 3:
        lines.insert(rng.randrange(len(lines)), f"The {NEEDLE} appears here.")
    text = "\r\n".join(lines) + "\r\n"
    kind = n % 20
    if kind < 12:
        if kind % 3 == 0:
            accented = text.replace("a", "\u00e4", 3)
            qp = quopri.encodestring(accented.encode(), quotetabs=False).decode()
            return (head + "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp).encode()
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()
    if kind < 17:
        html = "<html><body>" + "".join(f"<p>{line}</p>\r\n" for line in lines) + "</body></html>\r\n"
        return (head + 'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
                "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
                "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html +
                "--alt--\r\n").encode()
    blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(2000, 8000)))
    b64 = base64.encodebytes(blob).decode().replace("\n", "\r\n")
    return (head + 'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n'
            "--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
            f'--mix\r\nContent-Type: application/octet-stream; name="file{n}.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="file{n}.bin"\r\n\r\n' + b64 +
            "--mix--\r\n").encode()


def main() -> None:
    root, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    words = vocabulary(rng, 3000)
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    flag_cycle = ["S", "RS", "FS", ""]
    base = 1_700_000_000
    for i in range(n):
        data = message(i, rng, words)
        name = f"{base + i}.M{i}P1.bench,S={len(data)}:2,{flag_cycle[i % len(flag_cycle)]}"
        path = os.path.join(root, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (base + i, base + i))


if __name__ == "__main__":
    main()
