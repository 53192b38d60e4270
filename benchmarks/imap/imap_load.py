#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""imaptest-like load for benchmarks/imap_bench.sh: the same client, the same commands and the
same bounds against any IMAP server on a loopback port. Prints one JSON object.

  imap_load.py mix    --port P --users FILE --clients 10 --rounds R --message FILE [--pace MS]
  imap_load.py logins --port P --users FILE --clients 10 --count N
  imap_load.py big    --port P --user U --password W --repeat 7 --needle WORD
  imap_load.py memory --port P --users FILE --connections K --pid PID

mix: (--pace MS: each client starts a round every MS ms, the clients spread over that
  interval, so that both servers see the same offered load; without it, a closed loop where
  a faster server gets more concurrent work per command)
  each client (a process, its own user from FILE, "user:password" lines) runs R rounds of
  connect+LOGIN, LIST, STATUS, SELECT, FETCH (flags of all; envelope+bodystructure of 20; one
  whole message), STORE +FLAGS, APPEND (synchronizing literal), UID STORE \\Deleted of the
  appended message, EXPUNGE, LOGOUT; one warm-up round is not counted. Every command's latency
  (send to tagged reply) is reported per command name.
logins: each client logs in and out N times (connect, greeting, LOGIN, LOGOUT); logins per
  second of wall time over all clients.
big: FETCH 1:* (FLAGS BODYSTRUCTURE) and UID SEARCH TEXT on the user's INBOX, `repeat` times
  each after one warm-up of each.
memory: PSS (/proc/PID/smaps_rollup) of PID and all its descendants, before and after K extra
  connections are logged in with INBOX selected; the growth per connection.

The reader finds the tagged reply by searching for "\\r\\n<tag> " in what arrived: message data
from gen_mailbox.py never holds such a line, and it keeps the client's cost per reply small
next to the servers' (a 10,000-line FETCH is read at memory speed, not line by line)."""
import argparse
import json
import multiprocessing
import os
import re
import socket
import statistics
import sys
import time

TIMEOUT = 60.0  # seconds per reply: beyond it the run fails (a hang, not a measurement)


class Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.n = 0
        self.greeting = self._line()

    def _fill(self) -> None:
        data = self.sock.recv(1 << 18)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def _tagged(self, tag: bytes) -> tuple[bytes, bytes]:
        """Read up to and including the tagged reply; (tagged line, everything before it)."""
        marker = b"\r\n" + tag + b" "
        start, i = 0, -1
        while True:
            if i == -1:
                i = -2 if self.buf.startswith(tag + b" ") else self.buf.find(marker, start)
            if i != -1:
                end = self.buf.find(b"\r\n", i + 2)
                if end >= 0:
                    before = bytes(self.buf[:i + 2]) if i >= 0 else b""
                    line = bytes(self.buf[i + 2:end])
                    del self.buf[:end + 2]
                    return line, before
            else:
                start = max(0, len(self.buf) - len(marker))
            self._fill()

    def command(self, text: str) -> tuple[bytes, bytes, float]:
        self.n += 1
        tag = b"b%d" % self.n
        t0 = time.perf_counter()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        line, before = self._tagged(tag)
        return line, before, (time.perf_counter() - t0) * 1000

    def append(self, mailbox: str, data: bytes) -> tuple[bytes, float]:
        self.n += 1
        tag = b"b%d" % self.n
        t0 = time.perf_counter()
        self.sock.sendall(tag + b" APPEND " + mailbox.encode() + b" {%d}\r\n" % len(data))
        cont = self._line()
        if not cont.startswith(b"+"):
            raise RuntimeError(f"APPEND: no continuation: {cont!r}")
        self.sock.sendall(data + b"\r\n")
        line, _ = self._tagged(tag)
        return line, (time.perf_counter() - t0) * 1000

    def close(self) -> None:
        self.sock.close()


def ok(line: bytes, what: str) -> None:
    if b" OK" not in line[:16]:
        raise RuntimeError(f"{what}: {line[:200]!r}")


def login(port: int, user: str, password: str) -> tuple[Conn, float]:
    t0 = time.perf_counter()
    c = Conn(port)
    line, _, _ = c.command(f'LOGIN "{user}" "{password}"')
    ok(line, f"LOGIN {user}")
    return c, (time.perf_counter() - t0) * 1000


def read_users(path: str) -> list[tuple[str, str]]:
    out = []
    for line in open(path):
        line = line.strip()
        if line:
            u, p = line.split(":", 1)
            out.append((u, p))
    return out


def mix_client(args, user, password, message, queue, index) -> None:
    times: dict[str, list[float]] = {}
    try:
        # Paced: client i starts round r at t0 + (r + i / clients) * pace (never earlier), so
        # every server meets the same offered load; closed loop (pace 0): at once.
        t0 = time.perf_counter()
        for r in range(args.rounds + 1):
            if args.pace > 0:
                due = t0 + (r + index / args.clients) * args.pace / 1000
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            def record(name, ms):
                if r > 0:  # round 0 warms caches and indexes: not counted
                    times.setdefault(name, []).append(ms)

            def run(name, text):
                line, before, ms = c.command(text)
                ok(line, text)
                record(name, ms)
                return before

            c, ms = login(args.port, user, password)
            record("login", ms)
            run("list", 'LIST "" "*"')
            run("status", "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)")
            run("select", "SELECT INBOX")
            run("fetch_flags", "UID FETCH 1:* (FLAGS)")
            run("fetch_envelope", "FETCH 1:20 (UID ENVELOPE BODYSTRUCTURE)")
            run("fetch_body", f"FETCH {1 + r % 20} BODY.PEEK[]")
            run("store", "STORE 1:10 +FLAGS (\\Seen)")
            line, ms = c.append("INBOX", message)
            ok(line, "APPEND")
            record("append", ms)
            m = re.search(rb"APPENDUID \d+ (\d+)", line)
            if not m:
                raise RuntimeError(f"APPEND without APPENDUID: {line!r}")
            run("store", f"UID STORE {int(m.group(1))} +FLAGS.SILENT (\\Deleted)")
            run("expunge", "EXPUNGE")
            run("logout", "LOGOUT")
            c.close()
        queue.put({"ok": True, "times": times})
    except Exception as e:  # reported by the parent
        queue.put({"ok": False, "error": f"{user}: {e!r}"})


def logins_client(args, user, password, queue) -> None:
    times = []
    try:
        for _ in range(args.count):
            c, ms = login(args.port, user, password)
            line, _, _ = c.command("LOGOUT")
            ok(line, "LOGOUT")
            c.close()
            times.append(ms)
        queue.put({"ok": True, "times": times})
    except Exception as e:
        queue.put({"ok": False, "error": f"{user}: {e!r}"})


def run_clients(target, args, users, extra) -> list[dict]:
    queue = multiprocessing.Queue()
    procs = []
    for i in range(args.clients):
        user, password = users[i % len(users)]
        more = (i,) if target is mix_client else ()
        p = multiprocessing.Process(target=target,
                                    args=(args, user, password, *extra, queue, *more))
        procs.append(p)
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get(timeout=900) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(timeout=30)
    errors = [r["error"] for r in results if not r["ok"]]
    if errors:
        raise SystemExit("imap_load.py: " + "; ".join(errors))
    for r in results:
        r["wall"] = wall
    return results


def mode_mix(args) -> dict:
    users = read_users(args.users)
    message = open(args.message, "rb").read()
    results = run_clients(mix_client, args, users, (message,))
    merged: dict[str, list[float]] = {}
    for r in results:
        for k, v in r["times"].items():
            merged.setdefault(k, []).extend(v)
    return {"median_ms": {k: statistics.median(v) for k, v in merged.items()},
            "samples": {k: len(v) for k, v in merged.items()}, "wall": results[0]["wall"],
            "pace_ms": args.pace}


def mode_logins(args) -> dict:
    users = read_users(args.users)
    results = run_clients(logins_client, args, users, ())
    times = [t for r in results for t in r["times"]]
    return {"logins": len(times), "seconds": results[0]["wall"],
            "logins_per_s": len(times) / results[0]["wall"],
            "login_median_ms": statistics.median(times)}


def mode_big(args) -> dict:
    c, _ = login(args.port, args.user, args.password)
    line, before, _ = c.command("SELECT INBOX")
    ok(line, "SELECT")
    exists = int(re.search(rb"\* (\d+) EXISTS", before).group(1))
    out = {"exists": exists}
    for name, cmd in (("fetch_bodystructure", "FETCH 1:* (FLAGS BODYSTRUCTURE)"),
                      ("search_text", f"UID SEARCH TEXT {args.needle}")):
        times = []
        for i in range(args.repeat + 1):
            line, before, ms = c.command(cmd)
            ok(line, cmd)
            if i > 0:
                times.append(ms)
        if name == "fetch_bodystructure":
            out["fetch_responses"] = before.count(b" FETCH (")
        else:
            m = re.search(rb"\* SEARCH([ 0-9]*)\r\n", before)
            out["search_hits"] = len(m.group(1).split()) if m else 0
        out[name + "_ms"] = statistics.median(times)
        out[name + "_all_ms"] = [round(t, 2) for t in times]
    c.command("LOGOUT")
    c.close()
    return out


def pss_kb(root: int) -> tuple[int, int]:
    """PSS of root and its descendants (kB), and how many processes that was."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    total, count, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    count += 1
        except OSError:
            pass
    return total, count


def mode_memory(args) -> dict:
    users = read_users(args.users)
    # Warm: one login per user so that lazily started helpers (auth workers) exist before.
    for u, p in users:
        c, _ = login(args.port, u, p)
        c.command("LOGOUT")
        c.close()
    time.sleep(1.0)
    before, procs_before = pss_kb(args.pid)
    conns = []
    for i in range(args.connections):
        u, p = users[i % len(users)]
        c, _ = login(args.port, u, p)
        line, _, _ = c.command("SELECT INBOX")
        ok(line, "SELECT")
        conns.append(c)
    time.sleep(1.0)
    after, procs_after = pss_kb(args.pid)
    for c in conns:
        c.command("LOGOUT")
        c.close()
    return {"connections": args.connections, "pss_before_kb": before, "pss_after_kb": after,
            "processes_before": procs_before, "processes_after": procs_after,
            "per_connection_kb": (after - before) / args.connections}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["mix", "logins", "big", "memory"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--users")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--needle", default="quetzalcoatl")
    ap.add_argument("--message")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--pace", type=float, default=0,
                    help="mix: ms between one client's round starts (0: closed loop)")
    args = ap.parse_args()
    result = {"mix": mode_mix, "logins": mode_logins, "big": mode_big,
              "memory": mode_memory}[args.mode](args)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
