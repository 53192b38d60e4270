#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Writes the benchmark corpus (DESIGN.md §7): about 200 realistic messages, about 50 MB in all,
# that mime_bench, mime_throughput and the anchors (GMime, Python email) all read, plus one
# message of about 50 MB with a large base64 attachment for the peak-memory measurement.
#
# The mix is what a mailbox holds: plain text (7bit, 8bit, quoted-printable), text+HTML
# alternatives, attachments in base64 from 1 KB to 2 MB (log-uniform sizes), inline images in
# multipart/related, forwarded messages (message/rfc822, nested), RFC 2047 encoded words in
# Subject, display names and filenames, RFC 2231 filenames, CRLF and LF line endings.
# Deterministic: the same seed gives the same bytes (random.Random, no clock, no environment).
#
# Usage: gen_corpus.py OUT_DIR [--seed N] [--count N] [--peak-mb N]
#   OUT_DIR/NNN-kind.eml       the corpus
#   OUT_DIR/peak/big.eml       the peak-memory message
#   OUT_DIR/MANIFEST           generator version, seed, file count and sizes (written last)
import argparse
import base64
import math
import os
import quopri
import random
import sys

GENERATOR_VERSION = 1

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so what no "
    "out up into do will can more about other time could them these may then some only new "
    "meeting quarterly report budget invoice attached please review schedule project deadline "
    "server deployment release customer support ticket thanks regards agenda minutes draft final "
    "contract signature payment shipment order tracking update status weekly summary notes "
    "question answer issue fixed pending approved rejected calendar invitation conference call"
).split()
# Non-ASCII words, so that 8bit and quoted-printable bodies carry real UTF-8.
WORDS_UTF8 = ["Grüße", "café", "naïve", "déjà", "Straße", "über", "señor", "año", "smörgåsbord",
              "Zürich", "Ελλάδα", "Москва", "日本語", "München", "façade", "crème", "€"]
FIRST = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter"]
FIRST_UTF8 = ["Jürgen", "François", "Åsa", "Zoë", "José", "Søren", "Ólafur", "Renée", "Łukasz"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Miller",
        "Müller", "García", "Dubois", "Rossi", "Nakamura", "Kowalski", "Ødegaard"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "corp.example",
           "lists.example.org", "customer.example"]
ATTACH = [  # (content type, extension, base name)
    ("application/pdf", "pdf", "report"), ("image/jpeg", "jpg", "photo"),
    ("image/png", "png", "screenshot"), ("application/zip", "zip", "archive"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "budget"),
    ("application/msword", "doc", "contract"), ("application/octet-stream", "bin", "data"),
    ("text/csv", "csv", "export"), ("text/plain", "txt", "notes"),
]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.n_boundary = 0

    # -- text ------------------------------------------------------------------------------
    def words(self, n, utf8):
        r = self.r
        out = []
        for _ in range(n):
            if utf8 and r.random() < 0.08:
                out.append(r.choice(WORDS_UTF8))
            else:
                out.append(r.choice(WORDS))
        return out

    def paragraph(self, utf8, width=72):
        """A paragraph wrapped at `width` columns, lines joined by "\n"."""
        ws = self.words(self.r.randint(20, 90), utf8)
        lines, cur = [], ""
        for w in ws:
            if cur and len(cur) + 1 + len(w) > width:
                lines.append(cur)
                cur = w
            else:
                cur = f"{cur} {w}" if cur else w
        lines.append(cur)
        lines[0] = lines[0][:1].upper() + lines[0][1:]
        return "\n".join(lines) + "."

    def text(self, approx_bytes, utf8):
        paras, size = [], 0
        while size < approx_bytes:
            p = self.paragraph(utf8)
            paras.append(p)
            size += len(p) + 2
        if self.r.random() < 0.3:  # a quoted reply, as mail has
            quoted = self.paragraph(utf8).split("\n")
            paras.append("On Mon, 3 Jun 2024 someone wrote:\n" + "\n".join("> " + q for q in quoted))
        paras.append("-- \n" + self.r.choice(FIRST) + "\n")
        return "\n\n".join(paras)

    def html(self, text):
        body = "".join(f"<p style=\"margin:0 0 1em 0;font-family:Arial,sans-serif\">"
                       f"{p.replace(chr(10), ' ')}</p>\n" for p in text.split("\n\n"))
        return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>message</title>"
                "</head>\n<body>\n<div class=\"content\">\n" + body + "</div>\n</body></html>\n")

    # -- headers ---------------------------------------------------------------------------
    def encoded_word(self, s):
        """RFC 2047 encoding of a UTF-8 string, B or Q at random (words of at most 75 chars)."""
        data = s.encode("utf-8")
        if self.r.random() < 0.5:
            chunks, out = [], []
            # Split on character boundaries so that every word holds whole characters.
            cur = b""
            for ch in s:
                b = ch.encode("utf-8")
                if len(cur) + len(b) > 40:
                    chunks.append(cur)
                    cur = b""
                cur += b
            chunks.append(cur)
            for c in chunks:
                out.append("=?UTF-8?B?" + base64.b64encode(c).decode() + "?=")
            return " ".join(out)
        q = []
        for byte in data:
            c = chr(byte)
            if c == " ":
                q.append("_")
            elif c.isalnum() and byte < 128:
                q.append(c)
            else:
                q.append(f"={byte:02X}")
        enc, out = "".join(q), []
        while enc:  # cut at 60 characters, never inside an =XX escape
            cut = min(60, len(enc))
            while cut < len(enc) and "=" in enc[cut - 2:cut]:
                cut -= 1
            out.append("=?utf-8?Q?" + enc[:cut] + "?=")
            enc = enc[cut:]
        return " ".join(out)

    def needs_encoding(self, s):
        return any(ord(c) > 127 for c in s)

    def mailbox(self):
        r = self.r
        utf8 = r.random() < 0.25
        first = r.choice(FIRST_UTF8 if utf8 else FIRST)
        last = r.choice(LAST)
        addr = f"{first.encode('ascii', 'ignore').decode().lower() or 'user'}.{r.randint(1, 999)}" \
               f"@{r.choice(DOMAINS)}"
        name = f"{first} {last}"
        if self.needs_encoding(name):
            return f"{self.encoded_word(name)} <{addr}>"
        if r.random() < 0.3:
            return f"\"{last}, {first}\" <{addr}>"
        if r.random() < 0.1:
            return addr
        return f"{name} <{addr}>"

    def date(self):
        r = self.r
        days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec"]
        zone = r.choice(["+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900"])
        s = (f"{r.choice(days)}, {r.randint(1, 28)} {r.choice(months)} {r.randint(2015, 2025)} "
             f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d} {zone}")
        if r.random() < 0.2:
            s += " (UTC)" if zone == "+0000" else " (CET)"
        return s

    def subject(self):
        r = self.r
        s = " ".join(self.words(r.randint(3, 12), utf8=r.random() < 0.3))
        s = s[:1].upper() + s[1:]
        if r.random() < 0.2:
            s = r.choice(["Re: ", "Fwd: ", "RE: ", "AW: "]) + s
        return self.encoded_word(s) if self.needs_encoding(s) else s

    def fold(self, name, value):
        """Fold at spaces so that lines stay within 78 characters."""
        line, out = f"{name}: ", []
        for tok in value.split(" "):
            if len(line) + len(tok) + 1 > 78 and line.strip() and not line.endswith(": "):
                out.append(line.rstrip(" "))
                line = " "
            line += tok + " "
        out.append(line.rstrip(" "))
        return "\n".join(out)

    def received(self, i):
        r = self.r
        return self.fold("Received", f"from mx{i}.{r.choice(DOMAINS)} (mx{i}.{r.choice(DOMAINS)} "
                         f"[192.0.2.{r.randint(1, 254)}]) by smtp.{r.choice(DOMAINS)} "
                         f"(Postfix) with ESMTPS id {r.getrandbits(40):010X}; {self.date()}")

    def top_header(self):
        r = self.r
        h = [self.received(i) for i in range(r.randint(1, 5))]
        if r.random() < 0.4:
            h.append(self.fold("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed; d="
                               + r.choice(DOMAINS) + "; s=sel1; h=from:to:subject:date; bh="
                               + base64.b64encode(r.randbytes(32)).decode() + "; b="
                               + base64.b64encode(r.randbytes(256)).decode()))
        h.append("From: " + self.mailbox())
        h.append(self.fold("To", ", ".join(self.mailbox() for _ in range(r.randint(1, 4)))))
        if r.random() < 0.4:
            h.append(self.fold("Cc", ", ".join(self.mailbox() for _ in range(r.randint(1, 6)))))
        h.append(self.fold("Subject", self.subject()))
        h.append("Date: " + self.date())
        h.append(f"Message-ID: <{r.getrandbits(64):016x}.{r.getrandbits(32):08x}@"
                 f"{r.choice(DOMAINS)}>")
        h.append("MIME-Version: 1.0")
        if r.random() < 0.3:
            h.append("X-Mailer: " + r.choice(["Thunderbird 115.3", "Apple Mail (2.3731)",
                                              "Microsoft Outlook 16.0", "mutt 2.2.9"]))
        return h

    # -- bodies ----------------------------------------------------------------------------
    def boundary(self):
        self.n_boundary += 1
        return f"----=_Part_{self.n_boundary}_{self.r.getrandbits(48):012x}"

    def text_part(self, subtype, content, prefer_qp):
        """Header lines and body of a text/* leaf."""
        data = content.encode("utf-8")
        ascii_only = all(b < 128 for b in data)
        if prefer_qp or (not ascii_only and self.r.random() < 0.6):
            cte = "quoted-printable"
            body = quopri.encodestring(data).decode("ascii")
        elif ascii_only:
            cte = "7bit"
            body = content
        else:
            cte = "8bit"
            body = content
        charset = "us-ascii" if ascii_only else "utf-8"
        return ([f"Content-Type: text/{subtype}; charset=\"{charset}\"",
                 f"Content-Transfer-Encoding: {cte}"], body)

    def attachment_size(self):
        # Log-uniform between 1 KB and 2 MB: many small files, a few large ones.
        return int(math.exp(self.r.uniform(math.log(1024), math.log(2 * 1024 * 1024))))

    def attachment(self, size=None):
        r = self.r
        ctype, ext, base = r.choice(ATTACH)
        size = size if size is not None else self.attachment_size()
        if ctype.startswith("text/"):
            raw = self.text(size, utf8=r.random() < 0.3).encode("utf-8")[:size]
        else:
            raw = r.randbytes(size)  # compressed formats look random
        name = f"{base}-{r.randint(1, 9999)}.{ext}"
        if r.random() < 0.15:
            name = f"{r.choice(WORDS_UTF8)}-{name}"
        if self.needs_encoding(name):
            if r.random() < 0.5:  # RFC 2231, what modern clients write
                pct = "".join(c if c.isalnum() or c in ".-_" else
                              "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in name)
                disp = f"attachment;\n filename*=utf-8''{pct}"
                tparam = f";\n name*=utf-8''{pct}"
            else:  # RFC 2047 inside a quoted string, what older clients write
                ew = self.encoded_word(name)
                disp = f"attachment;\n filename=\"{ew}\""
                tparam = f";\n name=\"{ew}\""
        else:
            disp = f"attachment; filename=\"{name}\""
            tparam = f"; name=\"{name}\""
        lines = [f"Content-Type: {ctype}{tparam}", "Content-Transfer-Encoding: base64",
                 f"Content-Disposition: {disp}"]
        return lines, base64.encodebytes(raw).decode("ascii")

    def multipart(self, subtype, parts, extra_params=""):
        """parts: list of (header lines, body) pairs. Returns the same pair for the multipart."""
        b = self.boundary()
        chunks = []
        if self.r.random() < 0.3:
            chunks.append("This is a multi-part message in MIME format.\n")
        for hdr, body in parts:
            chunks.append(f"--{b}\n" + "\n".join(hdr) + "\n\n" + body.rstrip("\n") + "\n")
        chunks.append(f"--{b}--\n")
        return ([f"Content-Type: multipart/{subtype};{extra_params}\n boundary=\"{b}\""],
                "".join(chunks))

    def alternative(self, approx, utf8):
        t = self.text(approx, utf8)
        plain = self.text_part("plain", t, prefer_qp=False)
        html = self.text_part("html", self.html(t), prefer_qp=self.r.random() < 0.7)
        return self.multipart("alternative", [plain, html])

    def body(self, kind, depth=0):
        r = self.r
        utf8 = r.random() < 0.4
        if kind == "plain":
            return self.text_part("plain", self.text(r.randint(500, 20000), utf8), False)
        if kind == "qp":
            return self.text_part("plain", self.text(r.randint(2000, 60000), True), True)
        if kind == "alternative":
            return self.alternative(r.randint(1000, 30000), utf8)
        if kind == "attachments":
            first = (self.alternative(r.randint(500, 8000), utf8) if r.random() < 0.6
                     else self.text_part("plain", self.text(r.randint(300, 4000), utf8), False))
            parts = [first] + [self.attachment() for _ in range(r.choice([1, 1, 1, 2, 2, 3]))]
            return self.multipart("mixed", parts)
        if kind == "related":
            t = self.text(r.randint(1000, 8000), utf8)
            cid = f"img{r.getrandbits(32):08x}@example.com"
            html = self.text_part("html", self.html(t).replace(
                "</div>", f"<img src=\"cid:{cid}\" alt=\"logo\"></div>"), True)
            img_hdr, img_body = self.attachment(size=r.randint(2048, 200000))
            img_hdr = ["Content-Type: image/png; name=\"logo.png\"",
                       "Content-Transfer-Encoding: base64", f"Content-ID: <{cid}>",
                       "Content-Disposition: inline; filename=\"logo.png\""]
            rel = self.multipart("related", [html, (img_hdr, img_body)],
                                 " type=\"text/html\";")
            plain = self.text_part("plain", t, False)
            return self.multipart("alternative", [plain, rel])
        if kind == "forward":
            inner_kind = r.choice(["plain", "alternative", "attachments"] if depth < 1
                                  else ["plain", "alternative"])
            inner_hdr, inner_body = self.body(inner_kind, depth + 1)
            if depth < 1 and r.random() < 0.3:  # a forward of a forward
                inner_hdr, inner_body = self.body("forward", depth + 1)
            embedded = "\n".join(self.top_header() + inner_hdr) + "\n\n" + inner_body
            intro = self.text_part("plain", "Forwarding the message below.\n\n"
                                   + self.text(r.randint(200, 2000), utf8), False)
            fwd = (["Content-Type: message/rfc822", "Content-Disposition: inline"], embedded)
            return self.multipart("mixed", [intro, fwd])
        raise ValueError(kind)

    def message(self, kind):
        hdr, body = self.body(kind)
        text = "\n".join(self.top_header() + hdr) + "\n\n" + body
        data = text.encode("utf-8")
        if self.r.random() < 0.8:  # most stored mail is CRLF; some (mbox, Maildir) is LF
            data = data.replace(b"\n", b"\r\n")
        return data

    def big(self, target_bytes):
        """One message of about target_bytes: a short text part and one large base64 file."""
        t = self.text_part("plain", self.text(3000, False), False)
        raw_size = int(target_bytes / (4 / 3 * 78 / 76))  # base64 with CRLF every 76 chars
        a_hdr = ["Content-Type: application/octet-stream; name=\"disk-image.bin\"",
                 "Content-Transfer-Encoding: base64",
                 "Content-Disposition: attachment; filename=\"disk-image.bin\""]
        hdr, _ = self.multipart("mixed", [])
        b = hdr[0].split("boundary=\"")[1].rstrip("\"")
        head = ("\n".join(self.top_header() + hdr) + "\n\n" + f"--{b}\n" + "\n".join(t[0])
                + "\n\n" + t[1] + "\n" + f"--{b}\n" + "\n".join(a_hdr) + "\n\n")
        head = head.encode("utf-8").replace(b"\n", b"\r\n")
        # Encode in slices (multiples of 57 bytes: whole lines) to keep the generator's memory low.
        chunks = [head]
        step = 57 * 20000
        left = raw_size
        while left > 0:
            n = min(step, left)
            chunks.append(base64.encodebytes(self.r.randbytes(n)).replace(b"\n", b"\r\n"))
            left -= n
        chunks.append(f"--{b}--\r\n".encode())
        return chunks


KINDS = [("plain", 24), ("qp", 10), ("alternative", 26), ("attachments", 26), ("related", 6),
         ("forward", 8)]


def main():
    ap = argparse.ArgumentParser(description="Write the mailkit benchmark corpus.")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--peak-mb", type=float, default=50.0)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "peak"), exist_ok=True)
    manifest = os.path.join(args.out, "MANIFEST")
    if os.path.exists(manifest):
        os.remove(manifest)  # written last: its presence means the corpus is complete

    g = Gen(args.seed)
    names, weights = zip(*KINDS)
    total = 0
    for i in range(args.count):
        kind = g.r.choices(names, weights)[0]
        data = g.message(kind)
        with open(os.path.join(args.out, f"{i:03d}-{kind}.eml"), "wb") as f:
            f.write(data)
        total += len(data)
    big_path = os.path.join(args.out, "peak", "big.eml")
    big_size = 0
    with open(big_path, "wb") as f:
        for c in g.big(int(args.peak_mb * 1_000_000)):
            f.write(c)
            big_size += len(c)
    with open(manifest, "w") as f:
        f.write(f"generator={GENERATOR_VERSION} seed={args.seed} count={args.count} "
                f"corpus_bytes={total} peak_bytes={big_size}\n")
    print(f"corpus: {args.count} messages, {total / 1e6:.1f} MB; peak message "
          f"{big_size / 1e6:.1f} MB -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
