# SPDX-License-Identifier: Apache-2.0
"""The outbound queue (libmail/queue + server::outbound + relay::transport, through
outbound_tool) against real peers on loopback.

- aiosmtpd set up like OCI Email Delivery (STARTTLS required, AUTH PLAIN, approved senders, a
  daily quota answered "455 Maximum messages sent per day reached : limit is N"), and a plain
  aiosmtpd as the mailbox server of the senders (example.org), where DSNs arrive.
- ScriptedServer (asyncio): 4xx and 5xx at every step, a connection dropped after the final
  dot, a slow server whose client is killed (SIGKILL) during delivery.

Each tool run opens the queue directory again (recovery scan), like a restarted server; a run's
clock can be moved forward (clock_offset) to reach retry times, quota resets and expiry.
"""
import email
import email.policy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "smtp_client"))
from peers import ProviderServer, ScriptedServer, free_port, make_pki  # noqa: E402

TOOL = os.environ.get("MAILKIT_OUTBOUND_TOOL", "outbound_tool")
WORK = os.environ.get("MAILKIT_OUTBOUND_WORK", tempfile.gettempdir())
DAY = 86400


@pytest.fixture(scope="module")
def work():
    os.makedirs(WORK, exist_ok=True)
    d = tempfile.mkdtemp(prefix="outbound-", dir=WORK)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(work):
    return make_pki(os.path.join(work, "pki"))


@pytest.fixture
def qdir(work, request):
    d = os.path.join(work, "q-" + request.node.name.replace("[", "-").replace("]", ""))
    shutil.rmtree(d, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(d + "-quota.db" + suffix):
            os.unlink(d + "-quota.db" + suffix)
    return d


@pytest.fixture
def mbox():
    """The senders' mailbox server: DSNs to @example.org arrive here."""
    with ProviderServer("plain", None) as srv:
        yield srv


def cfg_file(work, cfg):
    path = os.path.join(work, "cfg-%d.json" % time.monotonic_ns())
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def run(work, cfg, timeout=120):
    r = subprocess.run([TOOL, cfg_file(work, cfg)], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def message(frm="alice@example.org", to="bob@far.test", subject="outbound interop"):
    return (f"From: Alice <{frm}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.monotonic_ns()}@example.org>\r\n\r\nHello from mailkit.\r\n")


def plain_relay(name, port):
    return {"name": name, "preset": "generic", "host": "localhost", "port": port,
            "addresses": ["127.0.0.1"], "tls": "none"}


def oci_relay(srv, pki, **extra):
    r = {"name": "oci", "preset": "oci:eu-frankfurt-1", "host": "localhost", "port": srv.port,
         "addresses": ["127.0.0.1"], "username": srv.username, "password": srv.password,
         "cafile": pki["ca"] + ".pem", "approved": ["@example.org"]}
    r.update(extra)
    return r


def base(qdir, mbox, out_relay, **extra):
    """Mail to far domains goes through `out_relay`; DSNs to example.org go to mbox. The queue
    and the relays' quota state live in `qdir` (both survive a restart)."""
    cfg = {"queue": qdir, "quota_db": qdir + "-quota.db", "timeout_s": 10,
           "relays": [plain_relay("mbox", mbox.port), out_relay],
           "rules": [{"domain": "example.org", "via": "mbox"}],
           "default_route": out_relay["name"]}
    cfg.update(extra)
    return cfg


def recipients(out):
    return {r["address"]: r for m in out["messages"] for r in m["recipients"]}


def delivery_status(raw):
    """The DSN's parts: (report message, per-recipient fields as one dict)."""
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "delivery-status"
    parts = list(m.iter_parts())
    ds = [p for p in parts if p.get_content_type() in ("message/delivery-status",
                                                       "message/global-delivery-status")]
    assert len(ds) == 1
    text = ds[0].as_bytes().decode()
    fields = {}
    last = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith((" ", "\t")) and last:  # a folded field goes on
            fields[last] = (fields[last] + " " + line.strip()).strip()
        elif ":" in line:
            k, v = line.split(":", 1)
            last = k.strip().lower()
            fields[last] = v.strip()
    return m, fields


def test_delivered_and_permanent_failure_bounced_with_rfc3464_dsn(work, pki, qdir, mbox):
    with ProviderServer("oci", pki, approved=["@example.org"], refuse_domains=["gone.test"]) as oci:
        cfg = base(qdir, mbox, oci_relay(oci, pki), passes=2,
                   enqueue=[{"from": "alice@example.org", "rcpt": ["ok@far.test", "x@gone.test"],
                             "envid": "ENV-1", "data": message(to="ok@far.test")}])
        out = run(work, cfg)
        assert out["stats"]["delivered"] == 2  # ok@far.test, then the DSN
        assert out["stats"]["bounced"] == 1 and out["stats"]["dsns"] == 1
        assert out["messages"] == []  # nothing left in the queue
        assert [m["rcpt_to"] for m in oci.messages] == [["ok@far.test"]]
        assert oci.messages[0]["tls"] and oci.messages[0]["login"][0] == "PLAIN"
        # The DSN: from <>, to the sender, multipart/report (RFC 3464).
        assert len(mbox.messages) == 1
        dsn = mbox.messages[0]
        assert dsn["mail_from"] in ("", "<>") and dsn["rcpt_to"] == ["alice@example.org"]
        m, f = delivery_status(dsn["data"])
        assert f["action"] == "failed"
        assert f["status"] == "5.1.1"
        assert "x@gone.test" in f["final-recipient"]
        assert "localhost" in f["remote-mta"]
        assert "550" in f["diagnostic-code"]
        assert f["original-envelope-id"] == "ENV-1"


# stage -> overrides; 4xx must be retried, 5xx bounced (a DSN queued for the sender).
STEPS = [
    ("greeting", {"greeting": b"421 4.3.2 busy\r\n"}, False),
    ("greeting", {"greeting": b"554 5.3.2 go away\r\n"}, True),
    ("ehlo", {"ehlo": b"451 4.3.0 later\r\n"}, False),
    ("ehlo", {"ehlo": b"550 5.7.1 not you\r\n", "helo": b"550 5.7.1 not you\r\n"}, True),
    ("mail", {"mail": b"451 4.3.0 try later\r\n"}, False),
    ("mail", {"mail": b"553 5.1.8 bad sender\r\n"}, True),
    ("rcpt", {"rcpt": b"450 4.2.1 mailbox busy\r\n"}, False),
    ("rcpt", {"rcpt": b"550 5.1.1 no such user\r\n"}, True),
    ("data", {"data": b"451 4.3.0 no data now\r\n"}, False),
    ("data", {"data": b"554 5.5.1 no valid recipients\r\n"}, True),
    ("dot", {"dot": b"452 4.3.1 out of space\r\n"}, False),
    ("dot", {"dot": b"554 5.7.1 spam\r\n"}, True),
]


@pytest.mark.parametrize("stage,overrides,permanent", STEPS,
                         ids=[f"{s}-{'5xx' if p else '4xx'}" for s, _, p in STEPS])
def test_failure_at_every_step_is_retried_or_bounced(work, qdir, mbox, stage, overrides,
                                                     permanent):
    with ScriptedServer(overrides) as srv:
        cfg = base(qdir, mbox, plain_relay("out", srv.port),
                   enqueue=[{"from": "alice@example.org", "rcpt": ["bob@far.test"],
                             "data": message()}])
        out = run(work, cfg)
        if permanent:
            assert out["stats"]["bounced"] == 1 and out["stats"]["dsns"] == 1, out
            # The DSN went to the sender at once, with the reply that decided it.
            assert out["messages"] == []
            assert len(mbox.messages) == 1 and mbox.messages[0]["rcpt_to"] == ["alice@example.org"]
            _, f = delivery_status(mbox.messages[0]["data"])
            assert f["action"] == "failed" and f["status"].startswith("5.")
            assert overrides[stage].decode()[:3] in f["diagnostic-code"], f
        else:
            r = recipients(out)["bob@far.test"]
            assert r["state"] == "deferred" and r["attempts"] == 1, out
            assert r["status"].startswith("4.")
            # RFC 5321 §4.5.4.1: the first retry 5 minutes later by default.
            assert abs(r["next_attempt"] - out["now"] - 300) <= 2
            assert out["stats"]["dsns"] == 0
        # RFC 2920 §3.1: after a refused MAIL or RCPT in a pipeline the client answers a 354
        # with an empty message; no content reaches a server that refused it.
        assert all(m == b"" for m in srv.received) or stage == "dot"


def test_relay_down_and_tls_failure_are_retried_never_bounced(work, pki, qdir, mbox):
    down = plain_relay("out", free_port())  # nothing listens
    with ScriptedServer(tls_prefix=pki["wrong_name"]) as bad_tls:
        tls = {"name": "tls", "preset": "generic", "host": "localhost", "port": bad_tls.port,
               "addresses": ["127.0.0.1"], "tls": "starttls", "cafile": pki["ca"] + ".pem"}
        cfg = base(qdir, mbox, down,
                   enqueue=[{"from": "alice@example.org", "rcpt": ["a@far.test", "b@tls.test"],
                             "data": message()}])
        cfg["relays"].append(tls)
        cfg["rules"].append({"domain": "tls.test", "via": "tls"})
        out = run(work, cfg)
        rs = recipients(out)
        assert rs["a@far.test"]["state"] == "deferred"
        assert rs["b@tls.test"]["state"] == "deferred"
        assert "TLS" in rs["b@tls.test"]["last_reply"] or "certificate" in \
            rs["b@tls.test"]["last_reply"]
        assert not any(c.startswith(b"MAIL") for c in bad_tls.commands)
        assert out["stats"]["dsns"] == 0


def test_transient_failure_expires_after_five_days_with_dsn(work, qdir, mbox):
    with ScriptedServer({"rcpt": b"450 4.2.1 mailbox busy\r\n"}) as srv:
        cfg = base(qdir, mbox, plain_relay("out", srv.port),
                   enqueue=[{"from": "alice@example.org", "rcpt": ["bob@far.test"],
                             "data": message()}])
        out = run(work, cfg)
        assert recipients(out)["bob@far.test"]["state"] == "deferred"
        # Four days later: still retried, not bounced.
        cfg = base(qdir, mbox, plain_relay("out", srv.port), clock_offset=4 * DAY)
        out = run(work, cfg)
        r = recipients(out)["bob@far.test"]
        assert r["state"] == "deferred" and r["attempts"] == 2
        # It has waited more than 4 hours: one delay warning (RFC 3464 Action: delayed) queued.
        assert out["stats"]["dsns"] == 1
        # Past five days: given up (RFC 3463 4.4.7) and the sender told.
        cfg = base(qdir, mbox, plain_relay("out", srv.port), clock_offset=5 * DAY + 60, passes=2)
        out = run(work, cfg)
        assert out["messages"] == [] and out["stats"]["bounced"] == 1
        assert len(mbox.messages) == 2
        reports = sorted((delivery_status(m["data"])[1] for m in mbox.messages),
                         key=lambda f: f["action"])
        assert reports[0]["action"] == "delayed" and "will-retry-until" in reports[0]
        assert reports[1]["action"] == "failed" and reports[1]["status"] == "4.4.7"
        assert "450" in reports[1]["diagnostic-code"]


def test_oci_quota_reply_holds_until_the_reset_never_bounces(work, pki, qdir, mbox):
    with ProviderServer("oci", pki, approved=["@example.org"], quota=1) as oci:
        cfg = base(qdir, mbox, oci_relay(oci, pki),
                   enqueue=[{"from": "alice@example.org", "rcpt": [f"r{i}@far.test"],
                             "data": message(to=f"r{i}@far.test")} for i in range(2)])
        out = run(work, cfg)
        assert len(oci.messages) == 1 and oci.quota_replies == 1
        held = [r for r in recipients(out).values()]
        assert len(held) == 1
        assert held[0]["state"] == "deferred" and held[0]["status"] == "4.3.1"
        assert "held until" in held[0]["last_reply"]
        assert "Maximum messages sent per day" in held[0]["last_reply"]
        assert out["stats"]["dsns"] == 0 and out["stats"]["bounced"] == 0
        # Retried before the reset: held again without asking the provider.
        out = run(work, base(qdir, mbox, oci_relay(oci, pki), clock_offset=60))
        assert oci.quota_replies == 1 and len(recipients(out)) == 1
        # After the provider's reset (midnight UTC for OCI) the message leaves.
        oci.sent = 0
        out = run(work, base(qdir, mbox, oci_relay(oci, pki), clock_offset=DAY))
        assert out["messages"] == [] and len(oci.messages) == 2
        assert mbox.messages == []


def test_quota_reply_with_5xx_code_holds_too(work, qdir, mbox):
    quota = b"554 5.7.0 Maximum messages sent per day reached : limit is 100\r\n"
    with ScriptedServer({"mail": quota}) as srv:
        out = run(work, base(qdir, mbox, plain_relay("out", srv.port),
                             enqueue=[{"from": "alice@example.org", "rcpt": ["bob@far.test"],
                                       "data": message()}]))
        r = recipients(out)["bob@far.test"]
        assert r["state"] == "deferred" and r["status"] == "4.3.1"
        assert out["stats"]["bounced"] == 0 and out["stats"]["dsns"] == 0


def test_connection_dropped_after_final_dot_gives_at_most_one_duplicate(work, qdir, mbox):
    calls = []

    async def drop_first(writer):
        calls.append(1)
        if len(calls) == 1:
            writer.close()
        else:
            writer.write(b"250 2.0.0 queued\r\n")
            await writer.drain()

    with ScriptedServer({"dot": drop_first}) as srv:
        out = run(work, base(qdir, mbox, plain_relay("out", srv.port),
                             enqueue=[{"from": "alice@example.org", "rcpt": ["bob@far.test"],
                                       "data": message()}]))
        r = recipients(out)["bob@far.test"]
        assert r["state"] == "deferred"  # the outcome is unknown: retried, never bounced
        assert len(srv.received) == 1
        out = run(work, base(qdir, mbox, plain_relay("out", srv.port)))
        assert out["messages"] == []
        assert len(srv.received) == 2  # the one unavoidable duplicate, no more


def test_restart_during_delivery_each_recipient_exactly_once(work, qdir, mbox):
    async def slow(writer):
        import asyncio
        await asyncio.sleep(0.3)
        writer.write(b"250 2.0.0 queued\r\n")
        await writer.drain()

    n = 12
    with ScriptedServer({"dot": slow}) as srv:
        cfg = base(qdir, mbox, plain_relay("out", srv.port), batch=1,
                   enqueue=[{"from": "alice@example.org", "rcpt": [f"r{i}@far.test"],
                             "data": message(to=f"r{i}@far.test", subject=f"m{i}")}
                            for i in range(n)])
        p = subprocess.Popen([TOOL, cfg_file(work, cfg)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(srv.received) < 4 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert p.poll() is None, "the tool finished before it could be killed"
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        before = len(srv.received)
        assert 0 < before < n
        # Restart: the recovery scan keeps every committed message; what is left is delivered.
        out = run(work, base(qdir, mbox, plain_relay("out", srv.port)))
        assert out["messages"] == []
        subjects = [email.message_from_bytes(m)["Subject"] for m in srv.received]
        for i in range(n):
            assert subjects.count(f"m{i}") >= 1, f"m{i} lost"
        duplicates = len(subjects) - n
        # Only a message whose 250 had arrived but whose state was not yet committed when the
        # process died can be sent twice; with one commit per message that is at most one.
        assert 0 <= duplicates <= 1, subjects
        assert mbox.messages == []


def test_dsn_through_relay_refusing_null_sender_is_kept_local(work, pki, qdir, mbox):
    # The sender is remote (far.test) and its route is OCI, which refuses MAIL FROM:<>.
    with ProviderServer("oci", pki, approved=["@far.test"], refuse_domains=["gone.test"]) as oci:
        relay = oci_relay(oci, pki, approved=["@far.test"])
        cfg = base(qdir, mbox, relay, passes=2, keep_local_dsn=True,
                   enqueue=[{"from": "alice@far.test", "rcpt": ["x@gone.test"],
                             "data": message(frm="alice@far.test", to="x@gone.test")}])
        out = run(work, cfg)
        assert out["stats"]["dsns"] == 1
        assert out["local"] == ["postmaster"]  # the DSN, kept local
        assert out["messages"] == []
        assert all(m["mail_from"] not in ("", "<>") for m in oci.messages)


def test_batch_shares_one_connection_per_relay(work, qdir, mbox):
    with ScriptedServer() as srv:
        out = run(work, base(qdir, mbox, plain_relay("out", srv.port),
                             enqueue=[{"from": "alice@example.org", "rcpt": [f"r{i}@far.test"],
                                       "data": message(to=f"r{i}@far.test", subject=f"m{i}")}
                                      for i in range(5)]))
        assert out["messages"] == [] and out["stats"]["delivered"] == 5
        assert len(srv.received) == 5
        # RFC 5321 §3.3: five transactions in one session (one EHLO, one QUIT).
        assert sum(c.upper().startswith(b"EHLO") for c in srv.commands) == 1
        assert sum(c.upper().startswith(b"QUIT") for c in srv.commands) == 1
    with ScriptedServer() as srv:
        relay = plain_relay("out", srv.port)
        relay["max_per_connection"] = 2
        out = run(work, base(qdir, mbox, relay,
                             enqueue=[{"from": "alice@example.org", "rcpt": [f"r{i}@far.test"],
                                       "data": message(to=f"r{i}@far.test")}
                                      for i in range(5)]))
        assert out["stats"]["delivered"] == 5 and len(srv.received) == 5
        assert sum(c.upper().startswith(b"EHLO") for c in srv.commands) == 3


def test_421_on_a_kept_connection_retries_on_a_new_one(work, qdir, mbox):
    mails = []

    async def mail(writer):
        mails.append(1)
        if len(mails) == 2:  # the second transaction: the server ends the session
            writer.write(b"421 4.3.2 closing, too many messages\r\n")
            await writer.drain()
            writer.close()
        else:
            writer.write(b"250 2.1.0 ok\r\n")
            await writer.drain()

    with ScriptedServer({"mail": mail}, ehlo_lines=("8BITMIME", "SIZE 1000000")) as srv:
        out = run(work, base(qdir, mbox, plain_relay("out", srv.port),
                             enqueue=[{"from": "alice@example.org", "rcpt": [f"r{i}@far.test"],
                                       "data": message(to=f"r{i}@far.test", subject=f"m{i}")}
                                      for i in range(3)]))
        assert out["messages"] == [] and out["stats"]["delivered"] == 3, out
        subjects = sorted(email.message_from_bytes(m)["Subject"] for m in srv.received)
        assert subjects == ["m0", "m1", "m2"]  # each once
        assert sum(c.upper().startswith(b"EHLO") for c in srv.commands) == 2


def test_refusals_and_deliveries_share_a_kept_connection(work, qdir, mbox):
    # aiosmtpd: a refused recipient in one transaction does not disturb the next ones.
    with ProviderServer("plain", None, refuse_domains=["gone.test"]) as srv:
        out = run(work, base(qdir, mbox, plain_relay("out", srv.port),
                             enqueue=[{"from": "alice@example.org", "rcpt": [rcpt],
                                       "data": message(to=rcpt)}
                                      for rcpt in ("a@far.test", "x@gone.test", "b@far.test")]))
        assert out["stats"]["delivered"] == 3  # a, b and the DSN about x (to mbox)
        assert out["stats"]["bounced"] == 1 and out["messages"] == []
        assert sorted(r for m in srv.messages for r in m["rcpt_to"]) == ["a@far.test",
                                                                          "b@far.test"]
        assert len(mbox.messages) == 1
