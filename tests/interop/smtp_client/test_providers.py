# SPDX-License-Identifier: Apache-2.0
"""mailkit.smtp.send against aiosmtpd set up like OCI Email Delivery and like Brevo: STARTTLS
required and verified against a private CA, AUTH PLAIN only (OCI, 150+ character user name) or
LOGIN only (Brevo), the mechanism override, approved senders on the envelope and the header
From, and OCI's daily quota reply."""
import pytest

import mailkit
import mailkit.smtp
from conftest import MESSAGE
from peers import ProviderServer

OCID = "ocid1.user.oc1..aaaaaaaa" + "x" * 140 + "@ocid1.tenancy.oc1..aaaa"


def send(srv, pki, message=MESSAGE, **kw):
    args = dict(host="localhost", port=srv.port, tls="starttls", username=srv.username,
                password=srv.password, cafile=pki["ca"] + ".pem", timeout=10)
    args.update(kw)
    return mailkit.smtp.send(message, **args)


def test_oci_like_plain_long_username(pki):
    assert len(OCID) > 150
    with ProviderServer("oci", pki, username=OCID, password="p@ss",
                        approved=["alice@example.org"]) as srv:
        r = send(srv, pki)
        assert list(r) == ["bob@example.net"]
        code, text = r["bob@example.net"]
        assert code == 250 and text.startswith("2.0.0")
        m = srv.messages[0]
        assert m["tls"] and m["login"] == ("PLAIN", OCID)
        assert m["mail_from"] == "alice@example.org" and m["rcpt_to"] == ["bob@example.net"]
        assert m["data"].endswith(b"Hello.\r\n.leading dot\r\n")


def test_oci_like_refuses_unapproved_envelope_sender(pki):
    with ProviderServer("oci", pki, approved=["alice@example.org"]) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, pki, mail_from="mallory@example.org")
        assert e.value.code == 550 and e.value.enhanced == "5.7.1" and e.value.permanent
        assert srv.messages == []


def test_oci_like_refuses_unapproved_header_from(pki):
    with ProviderServer("oci", pki, approved=["@example.org"]) as srv:
        msg = MESSAGE.replace(b"alice@example.org", b"eve@evil.test")
        r = send(srv, pki, msg, mail_from="alice@example.org")
        assert r["bob@example.net"][0] == 554
        assert "not authorized" in r["bob@example.net"][1]
        assert srv.messages == []


def test_oci_like_daily_quota_reply(pki):
    with ProviderServer("oci", pki, quota=2) as srv:
        for _ in range(2):
            assert send(srv, pki)["bob@example.net"][0] == 250
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, pki)
        assert e.value.code == 455 and not e.value.permanent
        assert "Maximum messages sent per day reached : limit is 2" in str(e.value)
        assert srv.quota_replies == 1 and len(srv.messages) == 2


def test_oci_like_wrong_password(pki):
    with ProviderServer("oci", pki) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, pki, password="wrong")
        assert e.value.code == 535 and e.value.permanent
        assert "wrong" not in str(e.value)  # the secret never appears in errors


def test_brevo_like_login(pki):
    with ProviderServer("brevo", pki, username="me@example.org", password="xsmtpsib-key") as srv:
        r = send(srv, pki)
        assert r["bob@example.net"][0] == 250
        assert srv.messages[0]["login"] == ("LOGIN", "me@example.org")
        r = send(srv, pki, auth="login")
        assert r["bob@example.net"][0] == 250


def test_mechanism_override_is_obeyed(pki):
    # Forcing PLAIN on a LOGIN-only server: the server refuses, nothing falls back silently.
    with ProviderServer("brevo", pki) as srv:
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, pki, auth="plain")
        assert e.value.permanent
        assert srv.messages == []
        assert srv.logins == []


def test_starttls_required_is_verified(pki):
    with ProviderServer("oci", pki) as srv:
        # Trust anchors that did not sign the server's certificate: verification fails.
        with pytest.raises(mailkit.SmtpError) as e:
            send(srv, pki, cafile=pki["self_signed"] + ".pem")
        assert not e.value.permanent
        assert "TLS" in str(e.value)
        assert srv.messages == []


def test_credentials_only_over_tls(pki):
    with ProviderServer("oci", pki) as srv:
        # tls="none" against a server that requires STARTTLS: AUTH is refused before TLS.
        with pytest.raises(mailkit.SmtpError):
            send(srv, pki, tls="none")
        assert srv.logins == []


def test_refused_recipient_is_a_value(pki):
    with ProviderServer("brevo", pki, refuse_domains=["nowhere.test"]) as srv:
        r = send(srv, pki, rcpt_to=["bob@example.net", "x@nowhere.test"])
        assert r["bob@example.net"][0] == 250
        assert r["x@nowhere.test"][0] == 550
        assert srv.messages[0]["rcpt_to"] == ["bob@example.net"]
