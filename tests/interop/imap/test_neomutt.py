# SPDX-License-Identifier: Apache-2.0
"""neomutt driven in tmux against mailkit_imap_server over implicit TLS on loopback (the
server's certificate issued by a test CA and verified, host name included): open the inbox,
read a message, save it to a new folder (which marks the original deleted), delete another,
sync (expunge) and quit. The result is checked through imaplib. Every wait is bounded."""
import os
import shutil
import subprocess
import time

from imap_common import PASSWORD, USER, Server, mailbox, message

TMUX = "tmux"


class Tmux:
    """A private tmux server (its own socket) running one command in a detached session."""

    def __init__(self, srv, command):
        self.socket = "mailkit-imap-%d" % os.getpid()
        self.env = dict(os.environ, HOME=srv.base, TERM="xterm")
        self.run("new-session", "-d", "-x", "150", "-y", "40", "-e", "HOME=" + srv.base,
                 "-e", "TERM=xterm", *command)

    def run(self, *args):
        return subprocess.run([TMUX, "-L", self.socket] + list(args), capture_output=True,
                              timeout=10, env=getattr(self, "env", None))

    def screen(self):
        return self.run("capture-pane", "-p").stdout.decode(errors="replace")

    def keys(self, *keys):
        assert self.run("send-keys", *keys).returncode == 0

    def wait_for(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError("%r not on screen:\n%s" % (text, self.screen()))

    def alive(self):
        return self.run("has-session").returncode == 0

    def close(self):
        if self.alive():
            self.run("kill-server")


def write_config(srv):
    rc = srv.path("muttrc")
    with open(rc, "w") as f:
        f.write('set folder="imaps://127.0.0.1:%d/"\n'
                'set imap_user="%s"\n'
                'set imap_pass="%s"\n'
                'set imap_authenticators="login"\n'
                'set certificate_file="%s"\n'
                'set ssl_ca_certificates_file="%s"\n'
                "set ssl_verify_host=yes\n"
                'set spoolfile="+INBOX"\n'
                'set record=""\n'
                'set postponed=""\n'
                'set header_cache=""\n'
                'set message_cachedir=""\n'
                "set sort=date\n"
                "set confirmcreate=no\n"
                "set confirmappend=no\n"
                "set delete=yes\n"
                "set move=no\n"
                "set quit=yes\n"
                "set mark_old=no\n"
                "set wait_key=no\n"
                "set imap_idle=no\n"
                "set mail_check_stats=no\n"
                "set help=no\n"
                "set pager_stop=yes\n"
                % (srv.ports["imaps"], USER, PASSWORD, srv.ca, srv.ca))
    return rc


def test_neomutt_read_save_delete_expunge():
    assert shutil.which(TMUX) and shutil.which("neomutt")
    with Server() as srv:
        for i in (1, 2, 3):
            srv.deliver(message(i))
        t = Tmux(srv, ["neomutt", "-n", "-F", write_config(srv)])
        try:
            # The inbox: three new messages.
            t.wait_for("Client test 3")
            t.wait_for("Msgs:3")
            # Read message 1 in the pager (sets \Seen on the server).
            t.keys("Enter")
            t.wait_for("marker-1")
            t.keys("i")  # back to the index
            t.wait_for("Msgs:3")
            # Save it to a new folder: neomutt copies it and marks the original deleted.
            t.keys("s")
            t.wait_for("Save to mailbox")
            t.keys("C-u", "=Saved", "Enter")
            t.wait_for("Del:1")
            # Delete message 2 (the cursor moved there), then sync: the expunge.
            t.keys("2", "Enter")
            t.keys("d")
            t.wait_for("Del:2")
            t.keys("$")
            t.wait_for("Msgs:1")
            t.keys("q")
            deadline = time.monotonic() + 15
            while t.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not t.alive(), t.screen()
        finally:
            t.close()

        c = srv.imaps()
        inbox = mailbox(c, "INBOX")
        assert [body for _, body in inbox.values()] == [message(3)], inbox
        saved = mailbox(c, "Saved")
        assert [body for _, body in saved.values()] == [message(1)], saved
        assert "\\Seen" in list(saved.values())[0][0]
        c.logout()
