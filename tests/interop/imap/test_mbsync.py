# SPDX-License-Identifier: Apache-2.0
"""mbsync (isync) against mailkit_imap_server over implicit TLS on loopback, the server's
certificate issued by a test CA: a first sync pulls two mailboxes into a Maildir; then mail
delivered on the server, a flag set on the server, a flag set locally, a local deletion and a
local new message all cross in one sync; a last sync with no changes transfers nothing (no
APPEND, STORE, EXPUNGE or body fetch on the wire, local files untouched)."""
import os
import re
import subprocess

from imap_common import PASSWORD, USER, Server, mailbox, message


def write_config(srv):
    rc = srv.path("mbsyncrc")
    os.makedirs(srv.path("mail"))
    with open(rc, "w") as f:
        f.write("IMAPAccount mk\n"
                "Host 127.0.0.1\n"
                "Port %d\n"
                "User %s\n"
                "Pass %s\n"
                "SSLType IMAPS\n"
                "CertificateFile %s\n"
                "SystemCertificates no\n"
                "Timeout 20\n"
                "\n"
                "IMAPStore far\n"
                "Account mk\n"
                "\n"
                "MaildirStore near\n"
                "Path %s/\n"
                "Inbox %s\n"
                "SubFolders Verbatim\n"
                "\n"
                "Channel mk\n"
                "Far :far:\n"
                "Near :near:\n"
                "Patterns INBOX Work\n"
                "Create Both\n"
                "Expunge Both\n"
                "Sync All\n"
                "SyncState *\n"
                % (srv.ports["imaps"], USER, PASSWORD, srv.ca, srv.path("mail"),
                   srv.path("mail", "INBOX")))
    return rc


def mbsync(srv, rc):
    """Run one sync with the network debug log (every command sent); its output."""
    r = subprocess.run(["mbsync", "-c", rc, "-Dn", "-a"], capture_output=True, timeout=60,
                       env=dict(os.environ, HOME=srv.base))
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert r.returncode == 0, out
    return out


def commands(log):
    """The IMAP commands mbsync sent (">>> TAG COMMAND ..." lines), without tags."""
    return [m.group(1) for m in re.finditer(r">>> \d+ ([^\r\n]*)", log)]


def maildir(path):
    """{name: contents} of the messages of a Maildir folder (new and cur)."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                out[sub + "/" + name] = f.read()
    return out


def find(files, needle):
    hits = [name for name, data in files.items() if needle in data]
    assert len(hits) == 1, (needle, sorted(files))
    return hits[0]


def test_mbsync_both_ways_then_nothing():
    with Server() as srv:
        for i in (1, 2, 3):
            srv.deliver(message(i))
        c = srv.imaps()
        assert c.create("Work")[0] == "OK"
        assert c.append("Work", "(\\Flagged)", None, message(10))[0] == "OK"
        c.logout()
        rc = write_config(srv)

        # 1. Pull: both mailboxes arrive in the Maildir, flags included.
        log = mbsync(srv, rc)
        inbox_dir, work_dir = srv.path("mail", "INBOX"), srv.path("mail", "Work")
        inbox = maildir(inbox_dir)
        assert len(inbox) == 3, sorted(inbox)
        for i in (1, 2, 3):
            name = find(inbox, b"marker-%d" % i)
            assert inbox[name].replace(b"\n", b"\r\n").endswith(
                message(i).split(b"\r\n\r\n", 1)[1]), name
        work = maildir(work_dir)
        assert len(work) == 1 and find(work, b"marker-10").endswith("F"), sorted(work)

        # 2. Changes on both sides.
        srv.deliver(message(4))  # new mail on the server
        c = srv.imaps()
        c.select("INBOX")
        assert c.uid("STORE", "3", "+FLAGS", "(\\Flagged)")[0] == "OK"  # a server flag
        c.logout()
        seen = find(inbox, b"marker-1")  # a local flag: read in the Maildir
        base = os.path.basename(seen).split(":2,")[0]
        os.rename(os.path.join(inbox_dir, seen), os.path.join(inbox_dir, "cur", base + ":2,S"))
        os.remove(os.path.join(inbox_dir, find(inbox, b"marker-2")))  # a local deletion
        with open(os.path.join(work_dir, "new", "1.local-append.test:2,"), "wb") as f:
            f.write(message(20).replace(b"\r\n", b"\n"))  # a local new message
        log = mbsync(srv, rc)
        sent = commands(log)
        assert any(s.startswith("APPEND") for s in sent), sent
        assert any("STORE" in s for s in sent), sent

        c = srv.imaps()
        server_inbox = mailbox(c, "INBOX")
        bodies = {uid: body for uid, (_, body) in server_inbox.items()}
        assert sorted(bodies) == [1, 3, 4], server_inbox  # UID 2 deleted and expunged
        assert "\\Seen" in server_inbox[1][0] and "\\Flagged" in server_inbox[3][0]
        assert bodies[4] == message(4)
        server_work = mailbox(c, "Work")
        assert len(server_work) == 2, server_work
        assert any(b"marker-20" in body for _, body in server_work.values())
        c.logout()
        inbox = maildir(inbox_dir)
        assert len(inbox) == 3, sorted(inbox)
        assert find(inbox, b"marker-3").endswith("F") and find(inbox, b"marker-4")
        assert not [n for n in inbox if b"marker-2" in inbox[n]]

        # 3. No changes: nothing crosses.
        before_inbox, before_work = maildir(inbox_dir), maildir(work_dir)
        c = srv.imaps()
        status_before = c.status("INBOX", "(MESSAGES UIDNEXT HIGHESTMODSEQ)")[1]
        c.logout()
        log = mbsync(srv, rc)
        sent = commands(log)
        for verb in ("APPEND", "STORE", "EXPUNGE", "BODY.PEEK[]", "COPY", "MOVE"):
            assert not [s for s in sent if verb in s], (verb, sent)
        assert maildir(inbox_dir) == before_inbox and maildir(work_dir) == before_work
        c = srv.imaps()
        assert c.status("INBOX", "(MESSAGES UIDNEXT HIGHESTMODSEQ)")[1] == status_before
        c.logout()
