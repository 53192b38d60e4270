# SPDX-License-Identifier: Apache-2.0
"""End to end with swaks: a message to our domain lands in the store's INBOX with our Received
and Authentication-Results fields; DMARC quarantine lands in Junk; DMARC reject, unknown users
and relaying without AUTH are refused; submission with AUTH relays and sender ownership is
enforced."""
import shutil
import subprocess

import pytest

from inbound import DOMAIN, PASSWORD, USER, Server

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"


def swaks(port, *args):
    r = subprocess.run([SWAKS, "--server", "127.0.0.1", "--port", str(port), "--helo",
                        "client.example", "--timeout", "30"] + list(args),
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def results():
    with Server("e2e") as s:
        port = s.ports["mx"]
        out = {}
        out["inbox"] = swaks(port, "--from", "someone@friendly.example", "--to", USER,
                             "--header", "Subject: e2e inbox",
                             "--header", "Authentication-Results: mx.mailkit.test; dmarc=pass",
                             "--body", "hello from swaks")
        out["alias"] = swaks(port, "--from", "someone@friendly.example", "--to",
                             "info@" + DOMAIN, "--header", "Subject: e2e alias")
        out["subaddress"] = swaks(port, "--from", "someone@friendly.example", "--to",
                                  "alice+lists@" + DOMAIN, "--header", "Subject: e2e tag")
        out["quarantine"] = swaks(port, "--from", "x@quarantine.example", "--to", USER,
                                  "--h-From", "x@quarantine.example",
                                  "--header", "Subject: e2e quarantine")
        out["reject"] = swaks(port, "--from", "x@reject.example", "--to", USER,
                              "--h-From", "x@reject.example", "--header", "Subject: e2e reject")
        out["unknown"] = swaks(port, "--from", "someone@friendly.example", "--to",
                               "nobody@" + DOMAIN, "--quit-after", "RCPT")
        out["relay"] = swaks(port, "--from", "someone@friendly.example", "--to",
                             "victim@elsewhere.example", "--quit-after", "RCPT")
        sub = s.ports["submission"]
        out["submit_other"] = swaks(sub, "--tls", "--auth", "PLAIN", "--auth-user", USER,
                                    "--auth-password", PASSWORD, "--from", "bob@" + DOMAIN,
                                    "--to", "bob@" + DOMAIN, "--quit-after", "MAIL")
        out["submit_own"] = swaks(sub, "--tls", "--auth", "PLAIN", "--auth-user", USER,
                                  "--auth-password", PASSWORD, "--from", USER,
                                  "--to", "bob@" + DOMAIN, "--header", "Subject: e2e submit")
        assert s.wait_drained(30)
        s.stop()
        out["alice_inbox"] = s.dump(USER, "INBOX")
        out["alice_junk"] = s.dump(USER, "Junk")
        out["bob_inbox"] = s.dump("bob@" + DOMAIN, "INBOX")
        out["log"] = s.log_text()
        yield out


def find(msgs, subject):
    return [m["data"] for m in msgs if ("Subject: " + subject) in m["data"]]


def test_delivered_to_inbox_with_trace_fields(results):
    code, text = results["inbox"]
    assert code == 0, text
    assert "250 2.0.0 Ok: queued as " in text
    got = find(results["alice_inbox"], "e2e inbox")
    assert len(got) == 1
    m = got[0]
    assert m.startswith("Return-Path: <someone@friendly.example>\r\nDelivered-To: " + USER)
    assert "Received: from client.example ([127.0.0.1])\r\n\tby mx.mailkit.test (mailkit) with ESMTP id " in m
    assert "Authentication-Results: mx.mailkit.test;" in m
    assert "spf=pass" in m and "dmarc=" in m
    # RFC 8601 section 5: the client's forged field with our authserv-id is gone.
    assert "mx.mailkit.test; dmarc=pass" not in m
    assert m.index("Received: ") < m.index("Authentication-Results: ") < m.index("Subject: ")


def test_alias_and_subaddress(results):
    assert results["alias"][0] == 0, results["alias"][1]
    assert len(find(results["bob_inbox"], "e2e alias")) == 1
    assert results["subaddress"][0] == 0
    tagged = find(results["alice_inbox"], "e2e tag")
    assert len(tagged) == 1 and "Delivered-To: alice+lists@" + DOMAIN in tagged[0]


def test_quarantine_goes_to_junk(results):
    assert results["quarantine"][0] == 0, results["quarantine"][1]
    assert len(find(results["alice_junk"], "e2e quarantine")) == 1
    assert not find(results["alice_inbox"], "e2e quarantine")
    assert "dmarc=fail" in find(results["alice_junk"], "e2e quarantine")[0]


def test_dmarc_reject_refused(results):
    code, text = results["reject"]
    assert "550 5.7.1" in text and "DMARC" in text
    assert not find(results["alice_inbox"], "e2e reject")


def test_unknown_user_and_relay_refused(results):
    assert "550 5.1.1" in results["unknown"][1]
    assert "554 5.7.1" in results["relay"][1]


def test_submission_sender_ownership(results):
    assert "553 5.7.1" in results["submit_other"][1]
    code, text = results["submit_own"]
    assert code == 0, text
    got = find(results["bob_inbox"], "e2e submit")
    assert len(got) == 1 and "with ESMTPSA id" in got[0]
