# SPDX-License-Identifier: Apache-2.0
"""mailkit.store: open a store, manage accounts and aliases, append, list and fetch messages,
import and export Maildir/mbox, and the StoreError attributes."""

import subprocess
import threading
from datetime import datetime, timezone

import pytest

import mailkit
import mailkit.store

MSG = b"From: a@example.org\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
# libsodium's minimum Argon2id cost: the tests hash many passwords.
CHEAP = {"argon2_opslimit": 1, "argon2_memlimit": 8192}


@pytest.fixture
def store(tmp_path):
    s = mailkit.store.open(str(tmp_path / "store"), **CHEAP)
    s.add_domain("example.com")
    s.add_user("bob@example.com", "correct horse")
    yield s
    s.close()


def test_accounts_and_authentication(store):
    assert store.domains() == ["example.com"]
    assert store.authenticate("bob@example.com", "correct horse") is True
    assert store.authenticate("bob@example.com", "wrong") is False
    assert store.authenticate("nobody@example.com", "x") is False
    store.add_user("carol@example.com", "pw", quota_bytes=1000, quota_messages=5)
    users = {u.address: u for u in store.users()}
    assert users["carol@example.com"].quota_bytes == 1000
    assert users["bob@example.com"].quota_bytes is None
    store.set_password("carol@example.com", "new")
    assert store.authenticate("carol@example.com", "new")


def test_imported_dovecot_hash_keeps_the_password(store):
    out = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", "migrated"],
                         check=True, capture_output=True, text=True).stdout.strip()
    store.add_user_hash("old@example.com", out)
    assert store.authenticate("old@example.com", "migrated")
    with pytest.raises(mailkit.StoreError) as err:
        store.add_user_hash("plain@example.com", "{PLAIN}secret")
    assert err.value.code == "unsupported_scheme"
    assert err.value.permanent is True


def test_aliases_and_resolution(store):
    store.add_alias("team@example.com", ["bob@example.com", "ext@other.org"])
    store.add_alias("*@example.com", "bob@example.com")
    r = store.resolve("team+x@example.com")
    assert r.outcome == "local"
    assert r.targets == [("local", "bob@example.com", "x"), ("external", "ext@other.org", "x")]
    assert store.resolve("anyone@example.com").targets[0][1] == "bob@example.com"
    assert store.resolve("x@elsewhere.net").outcome == "not_local"
    assert ("team@example.com", "ext@other.org") in store.aliases()
    store.remove_alias("*@example.com")
    assert store.resolve("anyone@example.com").outcome == "no_such_user"


def test_append_list_fetch_flags(store):
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    uid = store.append("bob@example.com", "INBOX", MSG, flags=["\\Seen", "$Work"],
                       internal_date=when)
    assert uid == 1
    assert store.append("bob@example.com", "INBOX", bytearray(MSG)) == 2
    msgs = store.messages("bob@example.com", "INBOX")
    assert [m.uid for m in msgs] == [1, 2]
    assert msgs[0].flags == ["\\Seen", "$Work"]
    assert msgs[0].size == len(MSG)
    assert msgs[0].internal_date == int(when.timestamp())
    assert msgs[1].modseq > msgs[0].modseq
    assert store.fetch("bob@example.com", "INBOX", 1) == MSG
    assert store.store_flags("bob@example.com", "INBOX", [1, 2], ["\\Deleted"]) == [1, 2]
    assert store.expunge("bob@example.com", "INBOX", [1]) == [1]
    names = [m.name for m in store.mailboxes("bob@example.com")]
    assert names == ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
    store.create_mailbox("bob@example.com", "Lists/python")
    assert store.copy("bob@example.com", "INBOX", [2], "Lists/python") == [(2, 1)]
    assert store.move("bob@example.com", "INBOX", 2, "Archive") == [(2, 1)]
    assert store.mailbox("bob@example.com", "Archive").messages == 1
    assert store.check() == []
    with pytest.raises(ValueError):
        store.append("bob@example.com", "INBOX", MSG, flags=["bad flag"])
    with pytest.raises(TypeError):
        store.append("bob@example.com", "INBOX", "not bytes")


def test_errors_carry_code_permanence_and_status(store):
    with pytest.raises(mailkit.StoreError) as err:
        store.fetch("bob@example.com", "INBOX", 99)
    assert err.value.code == "no_such_message"
    with pytest.raises(mailkit.StoreError) as err:
        store.append("bob@example.com", "No/Such", MSG)
    assert err.value.code == "no_such_mailbox"
    store.set_quota("bob@example.com", quota_messages=1)
    store.deliver("bob@example.com", MSG)
    with pytest.raises(mailkit.StoreError) as err:
        store.deliver("bob@example.com", MSG)
    assert err.value.code == "over_quota"
    assert err.value.permanent is False
    assert err.value.status == "4.2.2"
    assert isinstance(err.value, mailkit.Error)


def test_store_is_locked_and_closable(tmp_path):
    s = mailkit.store.open(str(tmp_path / "s"), **CHEAP)
    with pytest.raises(mailkit.StoreError) as err:
        mailkit.store.open(str(tmp_path / "s"), **CHEAP)
    assert err.value.code == "store_locked"
    s.close()
    with pytest.raises(mailkit.StoreError):
        s.domains()
    with mailkit.store.open(str(tmp_path / "s"), **CHEAP) as again:
        assert again.domains() == []


def test_import_export(store, tmp_path):
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(b"From a@b Thu Nov 24 18:22:48 1986\nSubject: one\n\n>From x\n\n"
                     b"From a@b Thu Nov 24 18:22:49 1986\nSubject: two\n\nbody\n")
    rep = store.import_mbox("bob@example.com", str(mbox), "Old")
    assert rep["imported"] == 2
    assert store.import_mbox("bob@example.com", str(mbox), "Old")["duplicates"] == 2
    assert store.fetch("bob@example.com", "Old", 1) == b"Subject: one\n\nFrom x\n"
    out = store.export_maildir("bob@example.com", str(tmp_path / "export"))
    assert out["imported"] == 2
    store.add_user("copy@example.com", "pw")
    back = store.import_maildir("copy@example.com", str(tmp_path / "export"))
    assert back["imported"] == 2
    assert len(store.messages("copy@example.com", "Old")) == 2


def test_threads_append_concurrently(store):
    errors = []

    def worker(n):
        try:
            for i in range(10):
                store.append("bob@example.com", "INBOX", MSG + f"{n}-{i}\r\n".encode())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    uids = [m.uid for m in store.messages("bob@example.com", "INBOX")]
    assert uids == list(range(1, 41))


# --- the operator CLI (apps/mailkit/store_commands.cpp), run as a subprocess ------------------

def _cli_path():
    """The `mailkit` binary of the same build as the extension (or $MAILKIT_CLI)."""
    import os
    from pathlib import Path
    if os.environ.get("MAILKIT_CLI"):
        return os.environ["MAILKIT_CLI"]
    build = Path(mailkit.__file__).resolve().parents[3]  # <build>/bindings/python/mailkit/__init__.py
    cli = build / "apps" / "mailkit" / "mailkit"
    if not cli.exists():
        raise pytest.UsageError(f"{cli} missing: build the mailkit_cli target")
    return str(cli)


def _run(*argv, store_dir, stdin=None, ok=True):
    proc = subprocess.run([_cli_path(), *argv, "--store", str(store_dir)], input=stdin,
                          capture_output=True, text=True, timeout=120)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_cli_domain_user_alias_import_export(tmp_path):
    sd = tmp_path / "store"
    _run("domain", "add", "example.com", store_dir=sd)
    _run("domain", "add", "example.net", store_dir=sd)
    assert _run("domain", "list", store_dir=sd).stdout.split() == ["example.com", "example.net"]
    # Password from standard input, never from the command line.
    _run("user", "add", "bob@example.com", "--quota-messages", "10", store_dir=sd,
         stdin="s3cret\n")
    pwfile = tmp_path / "pw"
    pwfile.write_text("other\n")
    _run("user", "add", "carol@example.com", "--password-file", str(pwfile), store_dir=sd)
    out = _run("user", "list", store_dir=sd).stdout
    assert "bob@example.com\tmessages 0/10" in out
    assert "carol@example.com\tmessages 0/unlimited" in out
    refused = _run("user", "add", "dave@example.com", store_dir=sd, stdin="", ok=False)
    assert refused.returncode == 1 and "password" in refused.stderr
    _run("user", "passwd", "bob@example.com", store_dir=sd, stdin="changed\n")
    out = _run("user", "quota", "bob@example.com", "--bytes", "5000", store_dir=sd).stdout
    assert "bytes 0/5000" in out and "messages 0/10" in out
    _run("alias", "add", "team@example.com", "bob@example.com", "x@other.org", store_dir=sd)
    _run("alias", "add", "*@example.net", "carol@example.com", store_dir=sd)
    aliases = _run("alias", "list", store_dir=sd).stdout.splitlines()
    assert "team@example.com\tx@other.org" in aliases
    assert "*@example.net\tcarol@example.com" in aliases
    _run("alias", "remove", "team@example.com", "x@other.org", store_dir=sd)
    assert len(_run("alias", "list", "example.com", store_dir=sd).stdout.splitlines()) == 1

    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(b"From a@b Thu Nov 24 18:22:48 1986\nSubject: one\n\nbody\n")
    out = _run("import", "mbox", "bob@example.com", str(mbox), "--mailbox", "Old",
               store_dir=sd).stdout
    assert "imported 1" in out
    assert "duplicates 1" in _run("import", "mbox", "bob@example.com", str(mbox), "--mailbox",
                                  "Old", store_dir=sd).stdout
    _run("export", "maildir", "bob@example.com", str(tmp_path / "md"), store_dir=sd)
    out = _run("import", "maildir", "carol@example.com", str(tmp_path / "md"), store_dir=sd).stdout
    assert "imported 1" in out

    with mailkit.store.open(str(sd)) as s:
        assert s.authenticate("bob@example.com", "changed")
        assert s.authenticate("carol@example.com", "other")
        assert s.resolve("anyone@example.net").targets[0][1] == "carol@example.com"
        assert s.user("bob@example.com").quota_bytes == 5000

    busy = _run("domain", "remove", "example.com", store_dir=sd, ok=False)
    assert busy.returncode == 1 and "cannot delete" in busy.stderr
    _run("user", "remove", "bob@example.com", store_dir=sd)
    _run("domain", "remove", "example.com", "--cascade", store_dir=sd)
    assert _run("domain", "list", store_dir=sd).stdout.split() == ["example.net"]
    usage = subprocess.run([_cli_path(), "user", "add"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_cli_migrates_a_hestiacp_account(tmp_path):
    """A HestiaCP account moved with the CLI: the domain's passwd-file (hash kept, quota read),
    then the Maildir++ tree with Dovecot's UIDs and UIDVALIDITY; the old password logs in."""
    sd = tmp_path / "store"
    pw = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", "old pass"],
                        capture_output=True, text=True, check=True).stdout.strip()
    passwd = tmp_path / "etc" / "exim4" / "domains" / "example.com" / "passwd"
    passwd.parent.mkdir(parents=True)
    passwd.write_text(f"bob:{pw}:admin:mail::/home/admin:10:userdb_quota_rule=*:storage=10M\n"
                      "old:{PLAIN}secret:admin:mail::/home/admin:0:\n")
    root = tmp_path / "home" / "admin" / "mail" / "example.com" / "bob"
    for d in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
        (root / d).mkdir(parents=True)
    (root / "dovecot-uidlist").write_text("3 V1700000000 N9\n7 :1700000007.M1P1.h,S=60\n")
    (root / "cur" / "1700000007.M1P1.h,S=60:2,S").write_bytes(MSG)
    (root / ".Sent" / "cur" / "1700000008.M2P1.h:2,S").write_bytes(MSG + b"sent\r\n")

    _run("domain", "add", "example.com", store_dir=sd)
    proc = _run("import", "passwd", "example.com", str(passwd), store_dir=sd)
    assert "created 1, existing 0, refused 1, bad lines 0" in proc.stdout
    assert "refused old: " in proc.stderr
    out = _run("import", "maildir", "bob@example.com", str(root), store_dir=sd).stdout
    assert "imported 2" in out and "UIDs kept for 1 messages" in out
    assert "UIDVALIDITY for 1 mailboxes" in out

    with mailkit.store.open(str(sd), **CHEAP) as s:
        assert s.user("bob@example.com").quota_bytes == 10 << 20
        assert s.authenticate("bob@example.com", "old pass") is True
        assert [m.uid for m in s.messages("bob@example.com", "INBOX")] == [7]
        assert s.mailbox("bob@example.com", "INBOX").uidvalidity == 1700000000
        assert s.mailbox("bob@example.com", "INBOX").uidnext == 9
        assert len(s.messages("bob@example.com", "Sent")) == 1
