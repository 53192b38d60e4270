# SPDX-License-Identifier: Apache-2.0
"""The default inbound policy against real DNS: nsd serves SPF, DKIM and DMARC records on
loopback and the server resolves them with its c-ares resolver (--dns). Python smtplib and
swaks are the clients; dkimpy signs the DKIM messages.

- SPF at MAIL FROM (pass recorded in Authentication-Results; fail refused with 550 5.7.23 when
  the server is configured to, else left to DMARC).
- DKIM and DMARC at the end of data (dmarc::authenticate): an aligned DKIM signature makes
  DMARC pass although SPF fails; a tampered body fails DKIM and p=reject refuses it (550 5.7.1);
  p=quarantine delivers to Junk.
- Recipients validated against the store before the 250 to RCPT: catch-all, unknown users.
- Authenticated senders only as their own addresses, and that restriction switched off."""
import email
import os
import re
import shutil
import smtplib
import ssl
import subprocess

import dkim
import pytest

from inbound import DOMAIN, PASSWORD, USER, WORK, Nsd, Server

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"
ZONE = "in.test"
BOB = "bob@" + DOMAIN


def make_key(directory):
    """A fresh RSA key: the private PEM for dkimpy, the public key for the DKIM record."""
    key = os.path.join(directory, "dkim.pem")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True,
                   timeout=60)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True, timeout=60).stdout
    import base64
    return open(key, "rb").read(), base64.b64encode(der).decode()


def zone_text(pub):
    # RFC 1035 §3.3.14: a TXT record longer than 255 octets is several character-strings.
    chunks = " ".join('"%s"' % pub[i:i + 200] for i in range(0, len(pub), 200))
    return """$ORIGIN in.test.
$TTL 300
@       IN SOA ns1.in.test. hostmaster.in.test. 2026120601 3600 600 86400 300
@       NS   ns1
ns1     A    127.0.0.1
friendly          TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc.friendly   TXT "v=DMARC1; p=reject"
signed            TXT "v=spf1 -all"
_dmarc.signed     TXT "v=DMARC1; p=reject"
sel._domainkey.signed TXT "v=DKIM1; k=rsa; p=" %s
quarantine        TXT "v=spf1 -all"
_dmarc.quarantine TXT "v=DMARC1; p=quarantine"
reject            TXT "v=spf1 -all"
_dmarc.reject     TXT "v=DMARC1; p=reject"
""" % chunks


def message(sender, subject, body="a line of text\r\n"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@in.test>\r\n"
            "Date: Sun, 06 Dec 2026 06:00:00 +0000\r\n\r\n%s"
            % (sender, USER, subject, subject.replace(" ", "-"), body)).encode()


def signed(key, sender, subject, body="signed text\r\n"):
    msg = message(sender, subject, body)
    sig = dkim.sign(msg, b"sel", b"signed." + ZONE.encode(), key,
                    include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
    return sig + msg


def send(port, mail_from, rcpts, msg):
    """One transaction with smtplib; returns (MAIL code, [RCPT codes], DATA code, DATA text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.ehlo("client.in.test")
        mcode, _ = c.mail(mail_from)
        if mcode != 250:
            return mcode, [], None, ""
        rcodes = [c.rcpt(r)[0] for r in rcpts]
        if 250 not in rcodes:
            c.rset()
            return mcode, rcodes, None, ""
        code, text = c.data(msg)
        return mcode, rcodes, code, text.decode(errors="replace")


def submit(port, user, password, mail_from, rcpt, msg):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.starttls(context=ctx)
        c.login(user, password)
        mcode, mtext = c.mail(mail_from)
        if mcode != 250:
            return mcode, mtext.decode(errors="replace")
        assert c.rcpt(rcpt)[0] == 250
        code, text = c.data(msg)
        return code, text.decode(errors="replace")


@pytest.fixture(scope="module")
def dns():
    os.makedirs(WORK, exist_ok=True)
    nsd = Nsd({}, name="auth-nsd")
    key, pub = make_key(nsd.dir)
    nsd.zones = {ZONE: zone_text(pub)}
    with nsd:
        yield nsd, key


@pytest.fixture(scope="module")
def results(dns):
    nsd, key = dns
    out = {}
    args = ["--dns", nsd.address(), "--domain", "catchall.test",
            "--alias", "*@catchall.test=" + BOB]
    with Server("auth", args=args) as s:
        mx = s.ports["mx"]
        out["spf_pass"] = send(mx, "x@friendly.in.test", [USER],
                               message("x@friendly.in.test", "auth spf pass"))
        out["dkim_pass"] = send(mx, "bounces@signed.in.test", [USER],
                                signed(key, "news@signed.in.test", "auth dkim pass"))
        tampered = signed(key, "news@signed.in.test", "auth dkim tampered")
        out["dkim_tampered"] = send(mx, "bounces@signed.in.test", [USER],
                                    tampered.replace(b"signed text", b"altered text"))
        out["quarantine"] = send(mx, "x@quarantine.in.test", [USER],
                                 message("x@quarantine.in.test", "auth quarantine"))
        r = subprocess.run([SWAKS, "--server", "127.0.0.1", "--port", str(mx), "--helo",
                            "client.in.test", "--from", "x@reject.in.test", "--to", USER,
                            "--h-From", "x@reject.in.test", "--header", "Subject: auth reject",
                            "--timeout", "30"], capture_output=True, timeout=60)
        out["reject_swaks"] = r.stdout.decode(errors="replace")
        out["catchall"] = send(mx, "x@friendly.in.test", ["anything@catchall.test",
                                                          "nobody@" + DOMAIN],
                               message("x@friendly.in.test", "auth catchall"))
        out["restricted"] = submit(s.ports["submission"], USER, PASSWORD, BOB, BOB,
                                   message(BOB, "auth restricted"))
        assert s.wait_drained(30)
        s.stop()
        out["inbox"] = [m["data"] for m in s.dump(USER, "INBOX")]
        out["junk"] = [m["data"] for m in s.dump(USER, "Junk")]
        out["bob"] = [m["data"] for m in s.dump(BOB, "INBOX")]
    args = ["--dns", nsd.address(), "--reject-spf-fail", "--no-restrict-sender"]
    with Server("auth-strict", args=args) as s:
        mx = s.ports["mx"]
        out["spf_fail_refused"] = send(mx, "x@reject.in.test", [USER],
                                       message("x@reject.in.test", "auth spf fail"))
        out["spf_pass_strict"] = send(mx, "x@friendly.in.test", [USER],
                                      message("x@friendly.in.test", "auth spf pass strict"))
        out["unrestricted"] = submit(s.ports["submission"], USER, PASSWORD, BOB, BOB,
                                     message(BOB, "auth unrestricted"))
        assert s.wait_drained(30)
        s.stop()
        out["strict_inbox"] = [m["data"] for m in s.dump(USER, "INBOX")]
        out["strict_bob"] = [m["data"] for m in s.dump(BOB, "INBOX")]
    yield out


def one(msgs, subject):
    got = [m for m in msgs if ("\r\nSubject: %s\r\n" % subject) in m]
    assert len(got) == 1, "%d copies of %r" % (len(got), subject)
    return email.message_from_string(got[0])


def results_field(m):
    ar = m.get_all("Authentication-Results")
    assert ar and len(ar) == 1, ar
    return " ".join(ar[0].split())


def test_spf_pass_at_mail_from(results):
    assert results["spf_pass"][2] == 250, results["spf_pass"]
    ar = results_field(one(results["inbox"], "auth spf pass"))
    assert ar.startswith("mx.mailkit.test;"), ar
    assert re.search(r"spf=pass( \([^)]*\))? smtp\.mailfrom=(x@)?friendly\.in\.test", ar), ar
    assert "dmarc=pass" in ar and "header.from=friendly.in.test" in ar, ar


def test_aligned_dkim_passes_dmarc_despite_spf_fail(results):
    assert results["dkim_pass"][2] == 250, results["dkim_pass"]
    m = one(results["inbox"], "auth dkim pass")
    ar = results_field(m)
    assert "dkim=pass" in ar and "header.d=signed.in.test" in ar, ar
    assert "spf=fail" in ar and "dmarc=pass" in ar, ar
    # Our trace fields come first, then the client's DKIM-Signature.
    keys = [k.lower() for k in m.keys()]
    assert keys.index("received") < keys.index("authentication-results") < \
        keys.index("dkim-signature")


def test_tampered_body_fails_dkim_and_dmarc_reject_refuses(results):
    mcode, rcodes, code, text = results["dkim_tampered"]
    assert (mcode, rcodes, code) == (250, [250], 550), results["dkim_tampered"]
    assert text.startswith("5.7.1") and "DMARC" in text, text
    assert not [m for m in results["inbox"] + results["junk"] if "auth dkim tampered" in m]


def test_quarantine_to_junk(results):
    assert results["quarantine"][2] == 250, results["quarantine"]
    ar = results_field(one(results["junk"], "auth quarantine"))
    assert "dmarc=fail" in ar and "spf=fail" in ar, ar
    assert not [m for m in results["inbox"] if "auth quarantine" in m]


def test_dmarc_reject_with_swaks(results):
    assert "<** 550 5.7.1" in results["reject_swaks"], results["reject_swaks"]
    assert not [m for m in results["inbox"] + results["junk"] if "auth reject" in m]


def test_recipients_checked_before_rcpt_reply(results):
    mcode, rcodes, code, _ = results["catchall"]
    assert rcodes == [250, 550], rcodes  # catch-all accepted, unknown user refused at RCPT
    assert code == 250
    m = one(results["bob"], "auth catchall")
    assert m["Delivered-To"] == BOB
    assert "for <anything@catchall.test>" in m["Received"], m["Received"]


def test_sender_ownership_enforced_by_default(results):
    code, text = results["restricted"]
    assert code == 553 and text.startswith("5.7.1"), results["restricted"]
    assert not [m for m in results["bob"] if "auth restricted" in m]


def test_spf_fail_refused_at_mail_when_configured(results):
    mcode, rcodes, code, _ = results["spf_fail_refused"]
    assert mcode == 550 and code is None, results["spf_fail_refused"]
    assert results["spf_pass_strict"][2] == 250
    assert "spf=pass" in results_field(one(results["strict_inbox"], "auth spf pass strict"))
    assert not [m for m in results["strict_inbox"] if "auth spf fail" in m]


def test_sender_restriction_can_be_switched_off(results):
    code, text = results["unrestricted"]
    assert code == 250, results["unrestricted"]
    m = one(results["strict_bob"], "auth unrestricted")
    assert "with ESMTPSA id" in m["Received"]
