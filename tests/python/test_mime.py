# SPDX-License-Identifier: Apache-2.0
"""mailkit.mime end to end: parse, headers, addresses, dates, the part tree, bodies, charsets,
attachments, build() round trips, errors, threads, object lifetimes, stubs and the examples."""

import ast
import base64
import datetime
import gc
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import mailkit
from mailkit import mime

import mailkit.mime as mime_by_import  # noqa: E402  (the third spelling must work too)


def crlf(text):
    """A message literal written with LF, sent with CRLF as on the wire."""
    return text.replace("\n", "\r\n").encode("utf-8")


UTC = datetime.timezone.utc


# ---------------------------------------------------------------------------------------------
# The package


def test_import_spellings():
    assert mailkit.mime is mime is mime_by_import
    assert callable(mailkit.mime.parse) and callable(mailkit.mime.build)
    assert isinstance(mailkit.__version__, str) and mailkit.__version__.count(".") == 2


def test_exception_hierarchy():
    assert issubclass(mailkit.Error, Exception)
    assert issubclass(mailkit.ParseError, mailkit.Error)
    assert mailkit.Error.__module__ == "mailkit"
    assert mailkit.ParseError.__name__ == "ParseError"
    assert mime.Message.__module__ == "mailkit.mime"


def test_package_files_are_in_place():
    pkg = Path(mailkit.__file__).parent
    for name in ("__init__.py", "mime.py", "__init__.pyi", "mime.pyi", "py.typed"):
        assert (pkg / name).is_file(), name
    assert list(pkg.glob("_mailkit*.so")), "the extension sits inside the package directory"


# ---------------------------------------------------------------------------------------------
# The sample message of examples/data


def test_sample_message(sample_eml):
    data = sample_eml.read_bytes()
    msg = mime.parse(data)
    assert msg.raw == data
    assert msg.from_ == [mime.Address("Ana Pérez", "ana@example.org")]
    assert msg.to == [mime.Address("Bob", "bob@example.com"),
                      mime.Address("Zoë", "zoe@example.com")]
    assert msg.cc == [] and msg.reply_to == []
    assert msg.subject == "Quarterly report — draft"
    assert msg.message_id == "draft-42@example.org"
    assert msg.date == datetime.datetime(2026, 11, 17, 8, 30, tzinfo=UTC)
    assert msg.date.utcoffset() == datetime.timedelta(hours=1)
    assert msg.problems == []

    parts = list(msg.walk())
    assert [p.content_type for p in parts] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf"]
    assert [p.depth for p in parts] == [0, 1, 2, 2, 1]
    assert [p.section for p in parts] == ["", "1", "1.1", "1.2", "2"]
    assert [p.is_multipart for p in parts] == [True, True, False, False, False]
    assert len(msg) == 5 and msg.parts == parts and msg.root == parts[0]
    root, alt, plain, html, pdf = parts
    assert root.params == {"boundary": "mixed-7f3a"}
    assert root.parent is None and root.children == [alt, pdf] and plain.parent == alt

    assert plain.charset == "iso-8859-1" and plain.encoding == "quoted-printable"
    eol = "\r\n" if b"\r\n" in data else "\n"  # the body keeps the file's line endings
    text = eol.join(["Hi Bob,", "", "the draft is attached. Café at ten?", "", "Ana"])
    assert plain.content() == text.encode("latin-1")
    assert plain.text() == text
    assert html.charset == "utf-8" and "Café at ten?" in html.text()
    assert msg.text_body == [plain] and msg.html_body == [html]

    assert msg.attachments == [pdf]
    assert pdf.filename == "résumé Q3.pdf"
    assert pdf.disposition == "attachment"
    assert pdf.disposition_params == {"filename": "résumé Q3.pdf"}
    assert pdf.params == {"name": "report.pdf"}
    assert pdf.charset is None and pdf.encoding == "base64"
    assert pdf.content().startswith(b"%PDF-1.4\n") and pdf.content().endswith(b"%%EOF\n")
    assert repr(msg) == "<mailkit.mime.Message subject='Quarterly report — draft' parts=5>"
    assert repr(pdf) == "<mailkit.mime.Part #4 [2] application/pdf 'résumé Q3.pdf'>"


# ---------------------------------------------------------------------------------------------
# Headers


HEADERS = crlf("""\
Received: from a.example by b.example;
\tTue, 17 Nov 2026 09:30:00 +0100
Subject: =?iso-8859-1?q?Caf=E9?= and
 =?utf-8?b?w6l0w6k=?= =?utf-8?b?IOKCrA==?=
X-Raw: caf\xe9 direct
Received: second
X-Empty:
Comments: =?koi8-r?b?8NLJ18XU?=

body
""")


def test_headers_raw_unfolded_in_order():
    msg = mime.parse(HEADERS)
    assert msg.headers == [
        ("Received", "from a.example by b.example;\tTue, 17 Nov 2026 09:30:00 +0100"),
        ("Subject", "=?iso-8859-1?q?Caf=E9?= and =?utf-8?b?w6l0w6k=?= =?utf-8?b?IOKCrA==?="),
        ("X-Raw", "caf\xe9 direct"),
        ("Received", "second"),
        ("X-Empty", ""),
        ("Comments", "=?koi8-r?b?8NLJ18XU?="),
    ]


def test_header_decoding():
    msg = mime.parse(HEADERS)
    assert msg.subject == "Café and été €"
    assert msg.header("subject") == msg.header("SUBJECT") == msg.subject
    assert msg.header("Comments") == "Привет"
    assert msg.header("X-Raw") == "café direct"  # raw UTF-8 (RFC 6532)
    assert msg.header("X-Empty") == ""
    assert msg.header("X-Missing") is None
    assert msg.get_all("received") == [
        # Decoded values read whitespace at a fold as one space, as mail clients show it.
        "from a.example by b.example; Tue, 17 Nov 2026 09:30:00 +0100", "second"]
    assert msg.get_all("X-Missing") == []
    assert mime.decode_header("=?utf-8?q?=C3=A9t=C3=A9?=") == "été"


def test_raw_header_bytes_that_are_not_utf8_survive():
    msg = mime.parse(b"X-Latin: caf\xe9\r\nSubject: na\xefve\r\n\r\nbody\r\n")
    name, value = msg.headers[0]
    assert value.encode("utf-8", "surrogateescape") == b"caf\xe9"
    # Decoded values read 8-bit bytes that are not UTF-8 as Windows-1252, as mail clients do.
    assert msg.header("X-Latin") == "café" and msg.subject == "naïve"
    assert any(p.startswith("8-bit bytes in header") for p in msg.problems)


def test_addresses():
    msg = mime.parse(crlf("""\
From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>
To: "Smith, Jane" <jane@example.com>, bob@example.com (Bob),
 team: x@example.org, y@example.org;
Cc: undisclosed-recipients:;
Reply-To: <noreply@example.net>
Resent-To: r@example.com

x
"""))
    assert msg.from_ == [mime.Address("Jürgen Müller", "jm@example.de")]
    assert [(a.name, a.addr) for a in msg.to] == [
        ("Smith, Jane", "jane@example.com"), ("Bob", "bob@example.com"),
        (None, "x@example.org"), (None, "y@example.org")]
    assert msg.cc == []
    assert msg.reply_to == [mime.Address(addr="noreply@example.net")]
    assert msg.addresses("resent-to") == [mime.Address(None, "r@example.com")]
    assert mime.parse_address_list("Ana <a@x.example>, b@y.example") == [
        mime.Address("Ana", "a@x.example"), mime.Address(None, "b@y.example")]


def test_address_object():
    a = mime.Address("Ana Pérez", "ana@example.org")
    assert a.name == "Ana Pérez" and a.addr == "ana@example.org"
    assert a == mime.Address(name="Ana Pérez", addr="ana@example.org")
    assert a != mime.Address("Ana", "ana@example.org")
    assert a != ("Ana Pérez", "ana@example.org")
    assert len({a, mime.Address("Ana Pérez", "ana@example.org")}) == 1
    assert repr(a) == "Address(name='Ana Pérez', addr='ana@example.org')"
    assert str(a) == "Ana Pérez <ana@example.org>"
    assert str(mime.Address('Smith, "J"', "j@example.com")) == '"Smith, \\"J\\"" <j@example.com>'
    assert str(mime.Address(addr="j@example.com")) == "j@example.com"
    for item in (a, mime.Address('Smith, "J"', "j@example.com")):
        assert mime.parse_address_list(str(item)) == [item]
    assert pickle.loads(pickle.dumps(a)) == a
    assert mime.Address().name is None and mime.Address("", "").addr is None
    with pytest.raises(AttributeError):
        a.name = "other"


@pytest.mark.parametrize("value, expected", [
    ("Tue, 17 Nov 2026 09:30:00 +0100",
     datetime.datetime(2026, 11, 17, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))),
    ("17 Nov 2026 09:30 -0330 (NST)",
     datetime.datetime(2026, 11, 17, 9, 30,
                       tzinfo=datetime.timezone(-datetime.timedelta(hours=3, minutes=30)))),
    ("Thu, 1 Jan 1970 00:00:00 GMT", datetime.datetime(1970, 1, 1, tzinfo=UTC)),
    ("Sat, 31 Dec 2016 23:59:60 +0000", datetime.datetime(2017, 1, 1, tzinfo=UTC)),  # leap second
    ("not a date", None),
])
def test_date(value, expected):
    msg = mime.parse(f"Date: {value}\r\n\r\n".encode())
    assert msg.date == expected
    if expected is not None:
        assert msg.date.utcoffset() == expected.utcoffset()


def test_absent_fields():
    msg = mime.parse(b"X: y\r\n\r\nbody")
    assert msg.subject is None and msg.message_id is None and msg.date is None
    assert msg.from_ == [] and msg.to == [] and msg.cc == [] and msg.reply_to == []


# ---------------------------------------------------------------------------------------------
# Parameters and filenames (RFC 2231)


RFC2231 = crlf("""\
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; name*0*=utf-8'fr'%C3%A9t%C3%A9; name*1*=%20r%C3%A9sum%C3%A9.txt
Content-Disposition: attachment

x
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*0="a very long "; filename*1="file name.bin"

y
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=iso-8859-1''na%EFve.txt; size=3

z
--b
Content-Type: application/octet-stream; name="=?utf-8?b?0YTQsNC50Lsu0LTQsNGC?="

w
--b--
""")


def test_rfc2231_and_encoded_word_filenames():
    msg = mime.parse(RFC2231)
    leaves = msg.parts[1:]
    assert [p.filename for p in leaves] == [
        "été résumé.txt", "a very long file name.bin", "naïve.txt", "файл.дат"]
    assert leaves[0].params["name"] == "été résumé.txt"
    assert leaves[2].disposition_params == {"filename": "naïve.txt", "size": "3"}
    assert leaves[3].disposition is None
    assert msg.attachments == leaves


# ---------------------------------------------------------------------------------------------
# Trees and bodies


def nested_message():
    text = """\
From: a@example.com
Subject: nested
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

w6l0w6kgLSDDqXTDqQ==
--inner
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=koi8-r
Content-Transfer-Encoding: 8bit

<p>@KOI8@</p>
--rel
Content-Type: image/png
Content-ID: <logo@example>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--inner--
--outer
Content-Type: message/rfc822

From: b@example.com
Subject: inside
Content-Type: multipart/mixed; boundary="deep"

--deep
Content-Type: text/plain; charset=shift_jis

@SJIS@
--deep
Content-Type: application/octet-stream
Content-Disposition: attachment; filename=data.bin
Content-Transfer-Encoding: quoted-printable

a=00b=FF=
c
--deep--
--outer
Content-Type: text/plain; charset=x-no-such-charset

@UTF8@
--outer--
epilogue
"""
    return (crlf(text)
            .replace(b"@KOI8@", "Привет".encode("koi8-r"))
            .replace(b"@SJIS@", "日本".encode("shift_jis"))
            .replace(b"@UTF8@", "café".encode("utf-8")))


def test_multipart_tree():
    msg = mime.parse(nested_message())
    parts = list(msg.walk())
    assert [(p.depth, p.content_type) for p in parts] == [
        (0, "multipart/mixed"),
        (1, "multipart/alternative"),
        (2, "text/plain"),
        (2, "multipart/related"),
        (3, "text/html"),
        (3, "image/png"),
        (1, "message/rfc822"),
        (2, "multipart/mixed"),
        (3, "text/plain"),
        (3, "application/octet-stream"),
        (1, "text/plain"),
    ]
    assert [p.index for p in parts] == list(range(11))
    rfc822 = parts[6]
    assert rfc822.is_message and not rfc822.is_multipart and rfc822.children == [parts[7]]
    assert parts[7].header("Subject") == "inside" and parts[7].parent == rfc822
    assert parts[5].content_id == "logo@example"
    assert [p.section for p in parts] == [
        "", "1", "1.1", "1.2", "1.2.1", "1.2.2", "2", "2", "2.1", "2.2", "3"]
    assert msg.problems == []


def test_section_numbers_follow_imap():
    msg = mime.parse(crlf("""\
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/rfc822

Subject: inner

single-part embedded message
--b--
"""))
    assert [(p.content_type, p.section) for p in msg.walk()] == [
        ("multipart/mixed", ""), ("message/rfc822", "1"), ("text/plain", "1.1")]
    assert msg.parts[2].text() == "single-part embedded message"


def test_bodies_and_charsets():
    parts = mime.parse(nested_message()).parts
    assert parts[2].encoding == "base64" and parts[2].text() == "été - été"
    assert parts[4].text() == "<p>Привет</p>" and parts[4].charset == "koi8-r"
    assert parts[5].content() == b"\x89PNG\r\n\x1a\n"
    assert parts[8].text() == "日本"
    assert parts[9].content() == b"a\x00b\xffc"
    # An unknown charset: read as UTF-8 when the bytes are valid UTF-8.
    assert parts[10].text() == "café"
    # Headers of inner parts.
    assert parts[5].headers[0] == ("Content-Type", "image/png")
    assert parts[9].header("content-disposition") == "attachment; filename=data.bin"
    assert parts[9].get_all("Content-Transfer-Encoding") == ["quoted-printable"]


def test_attachments_of_nested_message():
    msg = mime.parse(nested_message())
    assert [p.index for p in msg.attachments] == [5, 6]  # the inline image, the embedded message


def test_default_content_type_and_charset():
    msg = mime.parse(b"Subject: plain\r\n\r\nhello\r\n")
    assert msg.root.content_type == "text/plain" and msg.root.charset == "us-ascii"
    # RFC 2045 §5.2: the default is "text/plain; charset=us-ascii", parameter included.
    assert msg.root.params == {"charset": "us-ascii"}
    assert msg.root.filename is None and msg.root.disposition is None
    assert msg.root.text() == "hello\r\n" and msg.attachments == []
    assert msg.root.section == "1"


def test_broken_multipart_is_read_and_reported():
    msg = mime.parse(crlf("""\
Content-Type: multipart/mixed; boundary=x

--x
Content-Type: text/plain

first
--x
Content-Type: text/plain

second, never closed
"""))
    assert [p.content_type for p in msg.walk()] == ["multipart/mixed", "text/plain", "text/plain"]
    assert msg.parts[2].text().startswith("second, never closed")
    assert any(p.startswith("missing close delimiter") for p in msg.problems)


# ---------------------------------------------------------------------------------------------
# Input types and errors


def test_bytes_like_inputs():
    data = nested_message()
    expected = [p.content_type for p in mime.parse(data).walk()]
    for variant in (bytearray(data), memoryview(data), memoryview(b"xx" + data)[2:],
                    memoryview(bytearray(data))):
        assert [p.content_type for p in mime.parse(variant).walk()] == expected
    strided = memoryview(b"".join(bytes([c, 0]) for c in b"Subject: s\r\n\r\nb"))[::2]
    assert mime.parse(strided).subject == "s"


@pytest.mark.parametrize("bad", ["Subject: str\r\n\r\n", 42, None, ["a"]])
def test_non_bytes_input_is_a_type_error(bad):
    with pytest.raises(TypeError):
        mime.parse(bad)


def test_parse_errors():
    data = nested_message()
    with pytest.raises(mailkit.ParseError):
        mime.parse(data, max_message_size=100)
    with pytest.raises(mailkit.Error):
        mime.parse(data, max_parts=3, on_limit="fail")
    truncated = mime.parse(data, max_parts=3)
    assert len(truncated) == 3 and any("part count limit" in p for p in truncated.problems)
    with pytest.raises(ValueError):
        mime.parse(data, on_limit="explode")
    assert len(mime.parse(data, max_message_size=len(data))) == 11


def test_empty_input():
    msg = mime.parse(b"")
    assert len(msg) == 1 and msg.headers == [] and msg.root.content() == b""


# ---------------------------------------------------------------------------------------------
# build()


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwAB"
                       "BAEAcCBlCwAAAABJRU5ErkJggg==")

BUILD_CASES = [
    dict(from_=("Ana", "ana@example.org"), to=["bob@example.com"], subject="plain",
         text="Hello\r\n"),
    dict(from_="Ana Pérez <ana@example.org>",
         to=[("Zoë Ünal", "zoe@example.com"), mime.Address("Bob", "bob@example.com")],
         cc=["carol@example.net"],
         subject="Grüße — ≈ 日本語 subject that is long enough to be folded over more than one "
         "line of the header section",
         text="Grüße\r\nline two\r\n", html="<p>Grüße</p>"),
    dict(from_=mime.Address("Ana", "ana@example.org"), to="bob@example.com, carol@example.net",
         subject="attachments", text="see attached\r\n",
         attachments=[("résumé Q3.pdf", "application/pdf", b"%PDF-1.4\n\x00\xff" * 50),
                      ("logo.png", "image/png", PNG),
                      ("notes.txt", "text/plain", "ünïcödé notes\r\n".encode("utf-8")),
                      ("blob", None, bytes(range(256)))],
         headers={"X-Mailer": "mailkit tests", "X-Unicode": "café"}),
    dict(from_=("", "ana@example.org"), to=[], subject="", html="<b>only html</b>"),
]


@pytest.mark.parametrize("spec", BUILD_CASES, ids=["plain", "alternative", "attachments", "html"])
def test_build_round_trip(spec):
    zone = datetime.timezone(datetime.timedelta(hours=2))
    date = datetime.datetime(2026, 11, 17, 9, 30, tzinfo=zone)
    data = mime.build(**spec, date=date, message_id="id-1@example.org")
    assert isinstance(data, bytes)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    msg = mime.parse(data)
    assert msg.problems == []
    assert msg.date == date and msg.date.utcoffset() == date.utcoffset()
    assert msg.message_id == "id-1@example.org"

    sender = spec["from_"]
    if isinstance(sender, str):
        expected_from = mime.parse_address_list(sender)
    elif isinstance(sender, mime.Address):
        expected_from = [sender]
    else:
        expected_from = [mime.Address(*sender)]
    assert msg.from_ == expected_from
    expected_to = []
    to = spec["to"]
    for item in ([to] if isinstance(to, str) else to):
        if isinstance(item, str):
            expected_to += mime.parse_address_list(item)
        elif isinstance(item, tuple):
            expected_to.append(mime.Address(*item))
        else:
            expected_to.append(item)
    assert msg.to == expected_to
    assert msg.cc == [mime.Address(None, a) for a in spec.get("cc", [])]
    if spec["subject"]:
        assert msg.subject == spec["subject"]
    else:
        assert msg.subject in (None, "")

    if spec.get("text") is not None:
        assert [p.text() for p in msg.text_body] == [spec["text"]]
    if spec.get("html") is not None:
        assert [p.text() for p in msg.html_body] == [spec["html"]]
    got = [(a.filename, a.content_type, a.content()) for a in msg.attachments]
    want = [(f, ct or "application/octet-stream", d) for f, ct, d in spec.get("attachments", [])]
    assert got == want
    for name, value in spec.get("headers", {}).items():
        assert msg.header(name) == value


def test_build_bcc():
    common = dict(from_="a@example.com", to=["b@example.com"], bcc=["hidden@example.com"], text="x")
    assert mime.parse(mime.build(**common)).bcc == []
    assert mime.parse(mime.build(**common, include_bcc=True)).bcc == [
        mime.Address(None, "hidden@example.com")]


def test_build_defaults_date_and_message_id():
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    msg = mime.parse(mime.build(from_="a@example.com", to=["b@example.com"], text="x"))
    assert before - datetime.timedelta(seconds=1) <= msg.date <= datetime.datetime.now(UTC)
    assert msg.message_id and msg.message_id.endswith("@example.com")


def test_build_accepts_header_pairs_and_bytes_like_data():
    data = mime.build(from_="a@example.com", to="b@example.com", text="x",
                      headers=[("X-One", "1"), ("X-One", "2")],
                      attachments=[("a.bin", "application/octet-stream", bytearray(b"\x00\x01")),
                                   ("b.bin", "application/octet-stream", memoryview(b"\x02"))])
    msg = mime.parse(data)
    assert msg.get_all("X-One") == ["1", "2"]
    assert [a.content() for a in msg.attachments] == [b"\x00\x01", b"\x02"]


@pytest.mark.parametrize("kwargs, error", [
    (dict(from_="a@example.com, b@example.com"), ValueError),
    (dict(from_=""), ValueError),
    (dict(from_=42), TypeError),
    (dict(from_="a@example.com", to=[42]), TypeError),
    (dict(from_="a@example.com", attachments=[("a", "text/plain")]), TypeError),
    (dict(from_="a@example.com", attachments=[("a", "text/plain", "str data")]), TypeError),
    (dict(from_="a@example.com", headers={"X-A": 1}), TypeError),
    (dict(from_="a@example.com", date=datetime.datetime(2026, 1, 1)), ValueError),
    (dict(from_="a@example.com", headers={"X-Evil": "a\r\nBcc: victim@example.com"}),
     mailkit.Error),
    (dict(from_="a@example.com", subject="a\r\nBcc: victim@example.com"), mailkit.Error),
])
def test_build_errors(kwargs, error):
    with pytest.raises(error):
        mime.build(text="x", **kwargs)


def test_build_requires_keywords():
    with pytest.raises(TypeError):
        mime.build("a@example.com")  # pylint: disable=too-many-function-args


# ---------------------------------------------------------------------------------------------
# Threads and lifetimes


def summary(msg):
    return [(p.content_type, p.filename, p.content(), p.text() if p.content_type.startswith("text/")
             else None) for p in msg.walk()] + [msg.subject, [str(a) for a in msg.from_]]


def test_parse_in_threads_gives_the_same_results(sample_eml):
    inputs = [nested_message(), sample_eml.read_bytes(), RFC2231, HEADERS]
    # A large base64 attachment makes each call long enough for the threads to overlap.
    big = mime.build(from_="a@example.com", to="b@example.com", text="big",
                     attachments=[("big.bin", None, bytes(range(256)) * 4096)])
    inputs.append(big)
    expected = [summary(mime.parse(d)) for d in inputs]
    results = {}
    errors = []
    barrier = threading.Barrier(4)

    def work(n):
        try:
            barrier.wait()
            results[n] = [[summary(mime.parse(d)) for d in inputs] for _ in range(5)]
        except Exception as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [0, 1, 2, 3]
    for rounds in results.values():
        assert all(r == expected for r in rounds)


def test_parts_outlive_the_message():
    msg = mime.parse(nested_message())
    parts = msg.parts
    walker = msg.walk()
    first = next(walker)
    attachments = msg.attachments
    addresses = msg.from_
    del msg
    gc.collect()
    assert parts[2].text() == "été - été"
    assert parts[9].content() == b"a\x00b\xffc"
    assert [p.content_type for p in walker] == [p.content_type for p in parts[1:]]
    assert first.children[0].children[0] == parts[2]
    assert attachments[0].content() == b"\x89PNG\r\n\x1a\n"
    assert parts[7].parent.parent.header("subject") == "nested"
    assert addresses == [mime.Address(None, "a@example.com")]


def test_parts_compare_by_message_and_position():
    data = nested_message()
    a, b = mime.parse(data), mime.parse(data)
    assert a.parts[3] == a.parts[3] and a.parts[3] != a.parts[4]
    assert a.parts[3] != b.parts[3]  # same bytes, another message
    assert len({a.parts[3], a.parts[3], a.parts[4]}) == 2


# ---------------------------------------------------------------------------------------------
# Stubs


def stub_members(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes, functions = {}, set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            functions.add(node.name)
    return classes, functions


def test_mime_stub_matches_the_module():
    classes, functions = stub_members(Path(mime.__file__).with_suffix(".pyi"))
    assert set(classes) | functions == set(mime.__all__)
    for name, members in classes.items():
        runtime = getattr(mime, name)
        public = {m for m in dir(runtime) if not m.startswith("_")}
        assert public == {m for m in members if not m.startswith("_")}, name
        for m in members:
            assert hasattr(runtime, m), f"{name}.{m}"
    for name in functions:
        assert callable(getattr(mime, name))


def stub_reexports(path):
    """Names a stub re-exports from a submodule (`from mailkit.x import Name as Name`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {a.name for node in tree.body if isinstance(node, ast.ImportFrom)
            for a in node.names if a.asname == a.name}


def test_package_stub_matches_the_package():
    stub = Path(mailkit.__file__).with_suffix(".pyi")
    classes, _ = stub_members(stub)
    assert {"Error", "ParseError", "DnsError"} <= set(classes)
    reexported = {n for n in stub_reexports(stub) if n[0].isupper()}
    assert {n for n in mailkit.__all__ if n[0].isupper()} == set(classes) | reexported


# ---------------------------------------------------------------------------------------------
# Examples


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run_example(python_env, *args):
    return subprocess.run([sys.executable, *map(str, args)], env=python_env, capture_output=True,
                          text=True, encoding="utf-8", timeout=120, check=False)


def test_example_01_parse(python_env, sample_eml):
    out = run_example(python_env, EXAMPLES / "01_parse.py", sample_eml)
    assert out.returncode == 0, out.stderr
    assert "From:    Ana Pérez <ana@example.org>" in out.stdout
    assert "To:      Bob <bob@example.com>, Zoë <zoe@example.com>" in out.stdout
    assert "Subject: Quarterly report — draft" in out.stdout
    assert "      text/plain; charset=iso-8859-1" in out.stdout
    assert "Café at ten?" in out.stdout
    assert "attachment: résumé Q3.pdf (application/pdf)" in out.stdout


def test_example_01_usage(python_env):
    out = run_example(python_env, EXAMPLES / "01_parse.py")
    assert out.returncode == 2 and "usage" in out.stderr


def test_example_02_build(python_env):
    out = run_example(python_env, EXAMPLES / "02_build.py")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.rstrip().endswith("round trip: ok")
    assert "Content-Type: multipart/mixed" in out.stdout
