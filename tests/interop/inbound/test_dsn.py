# SPDX-License-Identifier: Apache-2.0
"""DSN parameters end to end (RFC 3461, RFC 3464): bob submits with Python smtplib (STARTTLS,
AUTH) messages carrying RET, ENVID, NOTIFY and ORCPT; the queue keeps them with the message;
local delivery to alice fails permanently (each message alone exceeds her quota: 5.2.2), and
the bounce arrives in bob's own INBOX as a multipart/report with the right fields. NOTIFY=NEVER
gives no bounce; NOTIFY=SUCCESS gives an "Action: delivered" notice."""
import email
import ssl
import smtplib

import pytest

from inbound import DOMAIN, USER, Server

BOB = "bob@" + DOMAIN
BOB_PASSWORD = "bob-secret-pw"
QUOTA = 20000


def body(tag, size):
    head = ("From: %s\r\nTo: %s\r\nSubject: dsn %s\r\nMessage-ID: <%s@mailkit.test>\r\n\r\n"
            % (BOB, USER, tag, tag))
    line = "BODY-OF-%s padding padding padding padding padding padding\r\n" % tag
    return (head + line * (size // len(line) + 1)).encode()


@pytest.fixture(scope="module")
def results():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = {}
    with Server("dsn", args=["--user-quota", "%s=%d" % (USER, QUOTA)]) as s:
        with smtplib.SMTP("127.0.0.1", s.ports["submission"], timeout=30) as c:
            c.starttls(context=ctx)
            c.ehlo("bob-laptop.example")
            assert c.has_extn("dsn")
            c.login(BOB, BOB_PASSWORD)
            # No SIZE parameter: the quota is found at delivery, after the 250 (a permanent
            # failure of local delivery, not a refusal at RCPT).
            cases = {
                "hdrs": (["RET=HDRS", "ENVID=dsn+2Bhdrs-1"],
                         ["NOTIFY=FAILURE", "ORCPT=rfc822;Alice@mailkit.test"], 40000),
                "full": (["RET=FULL", "ENVID=dsn-full-2"], ["NOTIFY=FAILURE,DELAY"], 40000),
                "never": (["RET=FULL", "ENVID=dsn-never-3"], ["NOTIFY=NEVER"], 40000),
                "success": (["ENVID=dsn-success-4"], ["NOTIFY=SUCCESS,FAILURE"], 2000),
            }
            for tag, (mail_opts, rcpt_opts, size) in cases.items():
                assert c.mail(BOB, mail_opts)[0] == 250
                code, text = c.rcpt(USER, rcpt_opts)
                assert code == 250, (tag, code, text)
                code, text = c.data(body(tag, size))
                out[tag] = (code, text.decode(errors="replace"))
        assert s.wait_drained(30)
        s.stop()
        out["bob"] = [m["data"] for m in s.dump(BOB, "INBOX")]
        out["alice"] = [m["data"] for m in s.dump(USER, "INBOX")]
        out["log"] = s.log_text()
    yield out


def reports(results, envid):
    """The DSNs in bob's INBOX whose Original-Envelope-Id is `envid` (xtext, RFC 3461 §4)."""
    found = []
    for data in results["bob"]:
        if ("Original-Envelope-Id: %s\r\n" % envid) in data:
            found.append((data, email.message_from_string(data)))
    return found


def parts(msg):
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    return msg.get_payload()


def test_all_accepted(results):
    for tag in ("hdrs", "full", "never", "success"):
        assert results[tag][0] == 250, (tag, results[tag])


def test_failure_dsn_with_ret_hdrs_envid_orcpt(results):
    found = reports(results, "dsn+2Bhdrs-1")
    assert len(found) == 1, [d[:300] for d in results["bob"]]
    raw, msg = found[0]
    # RFC 5321 §4.5.5: from the null reverse path; RFC 3834 §5: auto-replied.
    assert raw.startswith("Return-Path: <>\r\n"), raw[:200]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"].startswith("MAILER-DAEMON@") or "MAILER-DAEMON@" in msg["From"]
    human, status, returned = parts(msg)
    assert human.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    text = raw[raw.index("Reporting-MTA:"):]
    assert "Reporting-MTA: dns; mx.mailkit.test\r\n" in text
    assert "Original-Recipient: rfc822;Alice@mailkit.test\r\n" in text
    assert "Final-Recipient: rfc822; " + USER + "\r\n" in text
    assert "Action: failed\r\n" in text
    assert "Status: 5.2.2\r\n" in text
    assert "Diagnostic-Code: smtp; 552 5.2.2" in text
    # RET=HDRS: the header of the original, never its body.
    assert returned.get_content_type() == "text/rfc822-headers"
    assert "Subject: dsn hdrs" in raw
    assert "BODY-OF-hdrs" not in raw
    assert not [d for d in results["alice"] if "BODY-OF-hdrs" in d]


def test_failure_dsn_with_ret_full_returns_the_message(results):
    found = reports(results, "dsn-full-2")
    assert len(found) == 1
    raw, msg = found[0]
    human, status, returned = parts(msg)
    assert returned.get_content_type() == "message/rfc822"
    assert "BODY-OF-full" in raw
    assert "Original-Recipient:" not in raw  # no ORCPT given
    assert "Action: failed\r\n" in raw and "Status: 5.2.2\r\n" in raw


def test_notify_never_sends_nothing(results):
    assert reports(results, "dsn-never-3") == []
    assert "BODY-OF-never" not in "".join(results["bob"])


def test_notify_success_reports_delivery(results):
    found = reports(results, "dsn-success-4")
    assert len(found) == 1
    raw, msg = found[0]
    human, status, returned = parts(msg)
    assert "Action: delivered\r\n" in raw and "Status: 2.0.0\r\n" in raw
    # RFC 3461 §4.3: a success notice returns the header only.
    assert returned.get_content_type() == "text/rfc822-headers"
    assert "BODY-OF-success" not in raw
    assert len([d for d in results["alice"] if "BODY-OF-success" in d]) == 1
