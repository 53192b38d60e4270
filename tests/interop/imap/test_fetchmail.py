# SPDX-License-Identifier: Apache-2.0
"""fetchmail against mailkit_imap_server on loopback, the server's certificate issued by a test
CA and checked (sslcertck): over implicit TLS it hands every message of INBOX to an MDA writing
files, then deletes them on the server (STORE \\Deleted and EXPUNGE); a second poll finds no
mail. Over STARTTLS with `keep`, the messages stay on the server, marked \\Seen."""
import os
import subprocess

from imap_common import PASSWORD, USER, Server, mailbox, message


def fetchmail(srv, port, tls, keep, outdir):
    """One poll; (exit code, output). The MDA writes each message to its own file."""
    os.makedirs(outdir, exist_ok=True)
    rc = srv.path("fetchmailrc")
    with open(rc, "w") as f:
        f.write("set no syslog\n"
                "poll 127.0.0.1 service %d protocol IMAP auth password timeout 20\n"
                "  user \"%s\" there with password \"%s\" is \"tester\" here\n"
                "  %s sslcertck sslcertfile \"%s\"\n"
                "  %s\n"
                "  mda \"cat > %s/msg-$$.eml\"\n"
                % (port, USER, PASSWORD, "ssl" if tls == "implicit" else "sslproto tls1.2+",
                   srv.ca, "keep" if keep else "no keep", outdir))
    os.chmod(rc, 0o600)  # fetchmail refuses a run control file others may read
    r = subprocess.run(
        ["fetchmail", "-f", rc, "-i", srv.path("fetchids"), "--nodetach", "--nosyslog", "-v"],
        capture_output=True, timeout=60, env=dict(os.environ, HOME=srv.base))
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def delivered(outdir):
    out = []
    for name in sorted(os.listdir(outdir)):
        with open(os.path.join(outdir, name), "rb") as f:
            out.append(f.read())
    return out


def same_message(got, sent):
    """fetchmail hands the MDA LF line ends and prepends its Received field."""
    return got.replace(b"\r\n", b"\n").endswith(sent.replace(b"\r\n", b"\n"))


def test_fetchmail_implicit_tls_fetch_and_delete():
    with Server() as srv:
        sent = [message(i) for i in (1, 2, 3)]
        for m in sent:
            srv.deliver(m)
        outdir = srv.path("out")
        code, log = fetchmail(srv, srv.ports["imaps"], "implicit", False, outdir)
        assert code == 0, log
        got = delivered(outdir)
        assert len(got) == 3, log
        for m in sent:
            assert sum(same_message(g, m) for g in got) == 1, (m, got)
        c = srv.imaps()
        assert mailbox(c, "INBOX") == {}  # fetched, flagged \Deleted and expunged
        c.logout()
        # RFC-conforming "no mail" (exit code 1) on the next poll.
        code, log = fetchmail(srv, srv.ports["imaps"], "implicit", False, outdir)
        assert code == 1, log
        assert len(delivered(outdir)) == 3


def test_fetchmail_starttls_keep():
    with Server() as srv:
        sent = [message(i) for i in (4, 5)]
        for m in sent:
            srv.deliver(m)
        outdir = srv.path("out")
        code, log = fetchmail(srv, srv.ports["imap"], "starttls", True, outdir)
        assert code == 0, log
        assert "STARTTLS" in log, log
        got = delivered(outdir)
        assert len(got) == 2 and all(any(same_message(g, m) for g in got) for m in sent), got
        c = srv.imaps()
        kept = mailbox(c, "INBOX")
        assert sorted(kept) == [1, 2], kept
        assert all("\\Seen" in flags and "\\Deleted" not in flags for flags, _ in kept.values())
        assert [body for _, (_, body) in sorted(kept.items())] == sent
        c.logout()
