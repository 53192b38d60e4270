# SPDX-License-Identifier: Apache-2.0
"""mailkit.mtasts: policy parsing and MX matching (RFC 8461), fetch() against a local HTTPS
server (Python's ssl + http.server on loopback, a certificate made here with the openssl
command) found through mailkit.dns.StaticResolver, and TLS-RPT parsing (RFC 8460) of the
stalwart vectors in tests/data/tlsrpt, JSON and gzipped.
"""

import email
import email.policy
import gzip
import http.server
import json
import ssl
import subprocess
import threading

import pytest

import mailkit
import mailkit.mtasts as mtasts
from conftest import REPO_ROOT

TLSRPT_DATA = REPO_ROOT / "tests" / "data" / "tlsrpt"

RFC_EXAMPLE = ("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
               "mx: backupmx.example.com\r\nmax_age: 604800\r\n")


def test_parse_policy_rfc8461_example():
    p = mtasts.parse_policy(RFC_EXAMPLE)
    assert p.mode == "enforce"
    assert p.mx == ["mail.example.com", "*.example.net", "backupmx.example.com"]
    assert p.max_age == 604800
    assert p.id is None
    assert p.matches("mail.example.com") and p.matches("MX1.example.net.")
    assert not p.matches("example.net") and not p.matches("a.b.example.net")
    assert mtasts.parse_policy(p.to_text()).mx == p.mx
    assert mtasts.parse_policy(RFC_EXAMPLE.encode()).max_age == 604800


@pytest.mark.parametrize("text", [
    "",
    "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
    "version: STSv1\nmode: enforce\nmax_age: 86400\n",           # enforce without mx
    "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
    "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n",  # above the §3.2 bound
])
def test_parse_policy_rejects_invalid(text):
    with pytest.raises(mailkit.ParseError):
        mtasts.parse_policy(text)


def test_mx_matches_and_txt_record():
    assert mtasts.mx_matches("*.example.com", "mx.example.com")
    assert not mtasts.mx_matches("*.example.com", "example.com")
    assert mtasts.parse_txt_record("v=STSv1; id=20160831085700Z;")["id"] == "20160831085700Z"
    with pytest.raises(mailkit.ParseError):
        mtasts.parse_txt_record("id=1; v=STSv1;")


# ---- fetch through a local HTTPS server ----------------------------------------------------

POLICY = "version: STSv1\nmode: testing\nmx: mx.example.test\nmax_age: 86400\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        host = self.headers.get("Host", "").split(":")[0]
        if self.path == "/.well-known/mta-sts.txt" and host == "mta-sts.example.test":
            body, status, ctype = POLICY.encode(), 200, "text/plain"
        elif self.path == "/.well-known/mta-sts.txt" and host == "mta-sts.redirect.test":
            body, status, ctype = b"", 301, "text/plain"
        else:
            body, status, ctype = b"not found\n", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if status == 301:
            self.send_header("Location", "https://mta-sts.example.test/.well-known/mta-sts.txt")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("mtasts")
    cert, key = d / "cert.pem", d / "key.pem"
    names = "DNS:mta-sts.example.test,DNS:mta-sts.redirect.test,DNS:mta-sts.missing.test"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=mta-sts.example.test", "-addext",
                    f"subjectAltName={names}"], check=True, capture_output=True, timeout=30)
    other_cert, other_key = d / "other.pem", d / "other-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(other_key), "-out",
                    str(other_cert), "-days", "2", "-subj", "/CN=other.test"],
                   check=True, capture_output=True, timeout=30)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    resolver = mailkit.dns.StaticResolver({
        "_mta-sts.example.test": {"TXT": ["v=STSv1; id=2026120601;"]},
        "mta-sts.example.test": {"A": ["127.0.0.1"]},
        "_mta-sts.redirect.test": {"TXT": ["v=STSv1; id=1;"]},
        "mta-sts.redirect.test": {"A": ["127.0.0.1"]},
        "_mta-sts.missing.test": {"TXT": ["v=STSv1; id=1;"]},
        "mta-sts.missing.test": {"A": ["127.0.0.1"]},
        "_mta-sts.broken.test": "TIMEOUT",
    })
    yield {"port": server.server_address[1], "cafile": str(cert), "other": str(other_cert),
           "resolver": resolver}
    server.shutdown()
    server.server_close()


def test_fetch_valid_policy(https_server):
    s = https_server
    p = mtasts.fetch("example.test", resolver=s["resolver"], cafile=s["cafile"], port=s["port"],
                     timeout=10)
    assert p is not None
    assert (p.mode, p.mx, p.max_age, p.id) == ("testing", ["mx.example.test"], 86400, "2026120601")


def test_fetch_without_record_is_none(https_server):
    s = https_server
    assert mtasts.fetch("nothing.test", resolver=s["resolver"], cafile=s["cafile"],
                        port=s["port"], timeout=10) is None


@pytest.mark.parametrize("domain,cafile", [
    ("example.test", "other"),   # RFC 8461 §3.3: the certificate must validate
    ("redirect.test", "cafile"),  # §3.3: redirects are not followed
    ("missing.test", "cafile"),  # a 404
])
def test_fetch_failures_raise(https_server, domain, cafile):
    s = https_server
    with pytest.raises(mailkit.Error):
        mtasts.fetch(domain, resolver=s["resolver"], cafile=s[cafile], port=s["port"], timeout=10)


def test_fetch_dns_failure_raises_dns_error(https_server):
    s = https_server
    with pytest.raises(mailkit.DnsError):
        mtasts.fetch("broken.test", resolver=s["resolver"], cafile=s["cafile"], port=s["port"],
                     timeout=10)


# ---- TLS-RPT -------------------------------------------------------------------------------

def _report_part(eml_path):
    msg = email.message_from_bytes(eml_path.read_bytes(), policy=email.policy.default)
    for part in msg.walk():
        if part.get_content_type() in ("application/tlsrpt+gzip", "application/tlsrpt",
                                       "application/tlsrpt+json"):
            return part.get_payload(decode=True)
    raise AssertionError(f"no application/tlsrpt part in {eml_path}")


@pytest.mark.parametrize("case", ["rpt01", "rpt02"])
def test_parse_tlsrpt_stalwart_vectors(case):
    expected = mtasts.parse_tlsrpt((TLSRPT_DATA / f"{case}.json").read_bytes())
    raw = json.loads((TLSRPT_DATA / f"{case}.json").read_text())
    assert expected["report_id"] == raw["report-id"]
    assert expected["organization_name"] == raw["organization-name"]
    assert len(expected["policies"]) == len(raw["policies"])
    for got, want in zip(expected["policies"], raw["policies"]):
        assert got["policy_type"] == want["policy"]["policy-type"]
        assert got["total_failure_session_count"] == \
            want["summary"].get("total-failure-session-count", 0)
        assert len(got["failure_details"]) == len(want.get("failure-details", []))
    # The same report as mailed: the .eml's report part (rpt01 gzipped and base64, rpt02 plain).
    assert mtasts.parse_tlsrpt(_report_part(TLSRPT_DATA / f"{case}.eml")) == expected


def test_parse_tlsrpt_unknown_types_and_gzip_limit():
    r = mtasts.parse_tlsrpt((TLSRPT_DATA / "rpt03.json").read_bytes())
    assert r["policies"]
    blob = gzip.compress((TLSRPT_DATA / "rpt01.json").read_bytes())
    assert mtasts.parse_tlsrpt(blob)["organization_name"] == "Company-X"
    with pytest.raises(mailkit.ParseError):
        mtasts.parse_tlsrpt(blob, max_size=100)
    with pytest.raises(mailkit.ParseError):
        mtasts.parse_tlsrpt(b"{not json")


def test_parse_tlsrpt_record():
    r = mtasts.parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://r.example/x")
    assert r["rua"] == ["mailto:tlsrpt@example.com", "https://r.example/x"]
    with pytest.raises(mailkit.ParseError):
        mtasts.parse_tlsrpt_record("v=TLSRPTv1;")
