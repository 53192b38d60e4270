#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""DKIM interop with the real Debian tools, both directions.

mailkit (through its Python binding) signs with rsa-sha256 and ed25519-sha256 in all four
canonicalization pairs; dkimpy (python3-dkim), Mail::DKIM (libmail-dkim-perl) and OpenDKIM
(opendkim, test mode -t with TestDNSData) verify. Then each of those tools signs and mailkit
verifies. Debian's Mail::DKIM 1.20230212 has no Ed25519, so it is RSA only. The messages cover
8-bit bodies, very long lines, trailing blank lines, folded and duplicate headers, empty bodies
and whitespace runs. DNS never leaves the process: every tool gets the keys from a local table.

Usage: interop.py <build dir>     (PYTHONPATH is set from it). Prints the matrix; exit 1 on any
cell that is not a pass.
"""

import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
sys.path.insert(0, str(BUILD / "bindings" / "python"))

import dkim  # noqa: E402  python3-dkim
import mailkit  # noqa: E402
import nacl.signing  # noqa: E402  python3-nacl (dkimpy's Ed25519)

HERE = Path(__file__).resolve().parent
DOMAIN = "example.com"
CANONS = [("simple", "simple"), ("relaxed", "relaxed"), ("relaxed", "simple"), ("simple", "relaxed")]

HDR = (
    b"From: Joe Sixpack <joe@example.com>\r\n"
    b"To: Suzie <suzie@example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
)
MESSAGES = {
    "plain": HDR + b"\r\nHi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n",
    "8bit": HDR.replace(b"Is dinner", "Dîner prêt ✓".encode()) + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    + "Grüße aus Köln — 日本語のテキスト\r\n".encode() + b"\xe9t\xe9 latin-1 bytes\r\n",
    "longlines": HDR + b"\r\n" + b"x" * 3000 + b"\r\n" + (b"word " * 400).rstrip() + b"\r\nend\r\n",
    "trailing_blank": HDR + b"\r\nbody line\r\n\r\n\r\n\r\n\r\n",
    "folded_dup": b"Received: from a.example by b.example;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"Received: from c.example by a.example;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n"
    + HDR.replace(b"Subject: Is dinner ready?", b"Subject: Is dinner\r\n\t ready?\r\n   (folded   twice)")
    + b"To: second@example.net\r\n\r\nbody\r\n",
    "empty_body": HDR + b"\r\n",
    "whitespace": HDR + b"\r\n  leading and   inner\t\truns  \r\n \t \r\n\ttab start\r\nlast  \t\r\n",
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, check=False, **kw)


def make_keys(tmp):
    rsa_pem = tmp / "rsa.pem"
    run(["openssl", "genrsa", "-traditional", "-out", str(rsa_pem), "2048"])
    der = run(["openssl", "rsa", "-in", str(rsa_pem), "-pubout", "-outform", "DER"]).stdout
    rsa_txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    seed = os.urandom(32)
    ed_pub = bytes(nacl.signing.SigningKey(seed).verify_key)
    ed_txt = "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_pub).decode()
    pkcs8 = bytes.fromhex("302e020100300506032b657004220420") + seed
    ed_pem = tmp / "ed.pem"
    ed_pem.write_text("-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(pkcs8).decode()
                      + "\n-----END PRIVATE KEY-----\n")
    os.chmod(rsa_pem, 0o600)
    os.chmod(ed_pem, 0o600)
    return {
        "rsa": {"pem": rsa_pem.read_bytes(), "file": rsa_pem, "txt": rsa_txt, "sel": "rsasel",
                "alg": "rsa-sha256", "dkimpy_key": rsa_pem.read_bytes()},
        "ed25519": {"pem": ed_pem.read_bytes(), "file": ed_pem, "txt": ed_txt, "sel": "edsel",
                    "alg": "ed25519-sha256", "dkimpy_key": base64.b64encode(seed)},
    }


def main():
    tmp = Path(tempfile.mkdtemp(prefix="mailkit-dkim-interop-", dir=os.environ.get("HOME", "/tmp")))
    os.chmod(tmp, 0o700)  # opendkim refuses key and config files that others can read
    keys = make_keys(tmp)
    zone = {f"{k['sel']}._domainkey.{DOMAIN}": k["txt"] for k in keys.values()}
    zonefile = tmp / "zone.tsv"
    zonefile.write_text("".join(f"{n}\t{t}\n" for n, t in zone.items()))
    (tmp / "dns.txt").write_text("".join(f"{n} {t}\n" for n, t in zone.items()))
    vconf = tmp / "v.conf"
    vconf.write_text(f"Mode v\nTestDNSData file:{tmp}/dns.txt\nSyslog no\n")
    os.chmod(vconf, 0o600)

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        return zone.get(n.rstrip(".").lower(), "").encode()

    cells = {}  # (direction, tool, alg, canon) -> [ok, total, failures]

    def record(direction, tool, alg, canon, name, ok, detail=""):
        c = cells.setdefault((direction, tool, alg, canon), [0, 0, []])
        c[1] += 1
        if ok:
            c[0] += 1
        else:
            c[2].append(f"{name}: {detail}")

    # ---- mailkit signs, the others verify --------------------------------------------------
    signed = []  # (alg, canon, name, path)
    for alg, k in keys.items():
        for canon in CANONS:
            for name, msg in MESSAGES.items():
                sig = mailkit.dkim.sign(msg, k["sel"], DOMAIN, k["pem"], algorithm=k["alg"],
                                        canonicalize=canon)
                path = tmp / f"mk-{alg}-{canon[0]}-{canon[1]}-{name}.eml"
                path.write_bytes(sig + msg)
                signed.append((alg, canon, name, path))
                # dkimpy
                try:
                    ok = dkim.verify(sig + msg, dnsfunc=dnsfunc)
                    record("mailkit->", "dkimpy", alg, canon, name, ok)
                except Exception as e:  # noqa: BLE001
                    record("mailkit->", "dkimpy", alg, canon, name, False, repr(e))
                # OpenDKIM
                r = run(["opendkim", "-x", str(vconf), "-t", str(path)])
                out = (r.stdout + r.stderr).decode(errors="replace")
                record("mailkit->", "opendkim", alg, canon, name, "succeeded" in out, out.strip()[-200:])
    rsa_files = [str(p) for (alg, _c, _n, p) in signed if alg == "rsa"]
    r = run(["perl", str(HERE / "mail_dkim.pl"), "verify", str(zonefile)] + rsa_files)
    by_file = {}
    for line in r.stdout.decode().splitlines():
        f, res, detail = (line.split("\t") + ["", ""])[:3]
        by_file[f] = (res, detail)
    for alg, canon, name, path in signed:
        if alg != "rsa":
            continue
        res, detail = by_file.get(str(path), ("missing", r.stderr.decode()[-200:]))
        record("mailkit->", "Mail::DKIM", alg, canon, name, res == "pass", f"{res} {detail}")

    # ---- the others sign, mailkit verifies --------------------------------------------------
    def mk_verify(direction, tool, alg, canon, name, data):
        res = mailkit.dkim.verify_all(data, resolver=zone)
        ok = len(res) >= 1 and res[0].result == "pass"
        record(direction, tool, alg, canon, name, ok, "; ".join(repr(x) for x in res))

    for alg, k in keys.items():
        for canon in CANONS:
            for name, msg in MESSAGES.items():
                # dkimpy
                try:
                    sig = dkim.sign(msg, k["sel"].encode(), DOMAIN.encode(), k["dkimpy_key"],
                                    canonicalize=(canon[0].encode(), canon[1].encode()),
                                    signature_algorithm=k["alg"].encode())
                    mk_verify("->mailkit", "dkimpy", alg, canon, name, sig + msg)
                except Exception as e:  # noqa: BLE001
                    record("->mailkit", "dkimpy", alg, canon, name, False, "sign: " + repr(e))
                # OpenDKIM
                src = tmp / f"od-{alg}-{canon[0]}-{canon[1]}-{name}.eml"
                src.write_bytes(msg)
                conf = tmp / "s.conf"
                conf.write_text(f"Mode s\nDomain {DOMAIN}\nSelector {k['sel']}\nKeyFile {k['file']}\n"
                                f"Canonicalization {canon[0]}/{canon[1]}\nSignatureAlgorithm {k['alg']}\n"
                                "Syslog no\n")
                os.chmod(conf, 0o600)
                r = run(["opendkim", "-x", str(conf), "-t", str(src), "-vvv"])
                err = (r.stdout + r.stderr).decode(errors="replace")
                marker = "hname='DKIM-Signature' hvalue='"
                if marker not in err:
                    record("->mailkit", "opendkim", alg, canon, name, False, "sign: " + err[-200:])
                else:
                    value = err.split(marker, 1)[1].split("'\n", 1)[0]
                    field = ("DKIM-Signature: " + value).replace("\r\n", "\n").replace("\n", "\r\n")
                    data = field.encode() + b"\r\n" + msg
                    if alg == "ed25519" and canon[0] == "simple":
                        # OpenDKIM 2.11's Ed25519 signatures with simple header canonicalization
                        # do not verify with OpenDKIM itself, nor with dkimpy: the cell checks that
                        # mailkit agrees with dkimpy (a known OpenDKIM signing bug, not interop).
                        ours = mailkit.dkim.verify(data, resolver=zone)
                        theirs = dkim.verify(data, dnsfunc=dnsfunc)
                        record("->mailkit", "opendkim*", alg, canon, name, ours == theirs,
                               f"mailkit {ours} dkimpy {theirs}")
                    else:
                        mk_verify("->mailkit", "opendkim", alg, canon, name, data)
        if alg == "rsa":
            for canon in CANONS:
                files = []
                for name, msg in MESSAGES.items():
                    p = tmp / f"md-{canon[0]}-{canon[1]}-{name}.eml"
                    p.write_bytes(msg)
                    files.append((name, p))
                r = run(["perl", str(HERE / "mail_dkim.pl"), "sign", str(k["file"]), "rsa-sha256",
                         f"{canon[0]}/{canon[1]}", DOMAIN, k["sel"]] + [str(p) for _, p in files])
                for name, p in files:
                    sigp = Path(str(p) + ".sig")
                    if not sigp.exists():
                        record("->mailkit", "Mail::DKIM", alg, canon, name, False, r.stderr.decode()[-200:])
                        continue
                    field = sigp.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                    mk_verify("->mailkit", "Mail::DKIM", alg, canon, name, field + MESSAGES[name])

    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()

    # ---- report -----------------------------------------------------------------------------
    bad = 0
    print(f"{'direction':<10} {'tool':<11} {'alg':<8} {'canon':<16} result")
    for (direction, tool, alg, canon), (ok, total, fails) in sorted(cells.items()):
        print(f"{direction:<10} {tool:<11} {alg:<8} {canon[0] + '/' + canon[1]:<16} {ok}/{total}")
        for f in fails:
            print("    FAIL", f[:300])
        bad += total - ok
    total = sum(c[1] for c in cells.values())
    print(f"interop: {total - bad}/{total} cells as expected "
          "(opendkim* = OpenDKIM's broken Ed25519 simple-header signing: mailkit must agree with dkimpy)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
