#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""DKIM sign/verify rates in Python: dkimpy (python3-dkim) and the mailkit binding, same
messages and keys as dkim_throughput (4 KB and 100 KB text mail; RSA-2048 and Ed25519).
One line per measurement: "name value unit". Usage: dkim_anchors.py BUILD_DIR [seconds]"""

import base64
import sys
import time
from pathlib import Path

BUILD = Path(sys.argv[1]).resolve()
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
sys.path.insert(0, str(BUILD / "bindings" / "python"))

import dkim  # noqa: E402
import mailkit  # noqa: E402
import nacl.signing  # noqa: E402

WORDS = [b"the", b"quick", b"brown", b"fox", b"jumps", b"over", b"lazy", b"dog", b"mail", b"server",
         b"message", b"delivery", b"queue", b"signature", b"domain", b"and", b"of", b"to", b"a", b"in"]


def message(size):
    head = (b"From: Joe <joe@example.com>\r\nTo: Suzie <suzie@example.net>\r\n"
            b"Subject: benchmark message\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            b"Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
    out, line, seed = [], b"", 7
    total = len(head)
    while total < size:
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        w = WORDS[(seed >> 16) % 20]
        if len(line) + len(w) + 1 > 76:
            out.append(line + b"\r\n")
            total += len(line) + 2
            line = b""
        line = line + b" " + w if line else w
    out.append(line + b"\r\n")
    return head + b"".join(out)


def rate(f):
    f()
    n, start = 0, time.process_time()  # CPU time, like openssl speed
    while True:
        for _ in range(4):
            f()
        n += 4
        el = time.process_time() - start
        if el >= SECONDS:
            return n / el


def main():
    rsa_pem, rsa_txt = mailkit.dkim.keygen("rsa-2048")
    seed = bytes(range(1, 33))
    ed_pub = bytes(nacl.signing.SigningKey(seed).verify_key)
    ed_txt = "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_pub).decode()
    pkcs8 = bytes.fromhex("302e020100300506032b657004220420") + seed
    ed_pem = (b"-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(pkcs8) + b"\n-----END PRIVATE KEY-----\n")
    zone = {"sel._domainkey.example.com": [rsa_txt], "eds._domainkey.example.com": [ed_txt]}

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        return zone.get(n.rstrip("."), [""])[0].encode()

    keys = {"rsa2048": ("sel", "rsa-sha256", rsa_pem, rsa_pem),
            "ed25519": ("eds", "ed25519-sha256", ed_pem, base64.b64encode(seed))}
    only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else {"dkimpy", "binding"}
    for size in (4096, 102400):
        m = message(size)
        sk = f"{size // 1024}k"
        for an, (sel, alg, pem, dkimpy_key) in keys.items():
            if "binding" in only:
                print(f"py_sign_{an}_{sk}_per_s {rate(lambda: mailkit.dkim.sign(m, sel, 'example.com', pem, algorithm=alg)):.1f} ops/s", flush=True)
                sm = mailkit.dkim.sign(m, sel, "example.com", pem, algorithm=alg) + m
                print(f"py_verify_{an}_{sk}_per_s {rate(lambda: mailkit.dkim.verify(sm, resolver=zone)):.1f} ops/s", flush=True)
            if "dkimpy" in only:
                hdrs = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type"]
                print(f"dkimpy_sign_{an}_{sk}_per_s {rate(lambda: dkim.sign(m, sel.encode(), b'example.com', dkimpy_key, signature_algorithm=alg.encode(), canonicalize=(b'relaxed', b'relaxed'), include_headers=hdrs)):.1f} ops/s", flush=True)
                dm = dkim.sign(m, sel.encode(), b"example.com", dkimpy_key, signature_algorithm=alg.encode(),
                               canonicalize=(b"relaxed", b"relaxed"), include_headers=hdrs) + m
                print(f"dkimpy_verify_{an}_{sk}_per_s {rate(lambda: dkim.verify(dm, dnsfunc=dnsfunc)):.1f} ops/s", flush=True)


if __name__ == "__main__":
    main()
