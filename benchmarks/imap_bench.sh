#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# imap_bench.sh BUILD_DIR [ROUNDS]: the IMAP server beside Dovecot in the same run (issue 6's
# benchmark). One client (benchmarks/imap/imap_load.py, raw sockets) drives both on loopback:
#   mix:     10 clients (processes), each its own user with a 100-message INBOX, ROUNDS rounds
#            (default 20) of login, LIST, STATUS, SELECT, FETCH (3 kinds), STORE, APPEND,
#            STORE \Deleted, EXPUNGE, LOGOUT: the median latency of every command
#   logins:  10 clients logging in and out 20 times each: logins per second
#   big:     a 10,000-message INBOX ($MAILKIT_IMAP_BIG), warm: FETCH 1:* (FLAGS BODYSTRUCTURE)
#            and UID SEARCH TEXT (a word in 1% of the messages): 3 rounds alternating between
#            the servers, 5 timed runs each after one warm-up, the median of the 15
#   memory:  PSS growth of the server's processes per logged-in connection with INBOX selected
#            (50 connections)
# mailkit: tests/interop/imap's mailkit_imap_server (imap_service over the store, LOGIN in the
# clear on its loopback listener), mailboxes imported with the `mailkit` CLI. Dovecot: a private
# dovecot.conf (its own base_dir, loopback port, passwd-file users, Maildir, mail_fsync=always as
# mailkit fsyncs every append), started and stopped here. Both read the same generated messages
# (benchmarks/imap/gen_mailbox.py) and check the same password hashes: one Argon2id hash per user
# (t=1, m=8 MiB, the cost mailkit_imap_server gives its test accounts) in the passwd-file that
# Dovecot reads and `mailkit import passwd` takes over. Targets (issue 6): latency <= Dovecot on
# every command, logins >= 10x faster, SEARCH TEXT >= 10x faster, memory per connection below
# Dovecot's. Benchmarks are not tests: a missed target is reported, never a failure; the exit
# status is non-zero only when something could not run. Runs as root (Dovecot's mail user is
# nobody). About 2-4 minutes on 2 cores.
set -euo pipefail

[[ $# -ge 1 && $# -le 2 && -d $1 ]] || { echo "usage: $0 BUILD_DIR [ROUNDS]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
ROUNDS=${2:-20}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
SERVER=$BUILD/tests/interop/imap/mailkit_imap_server
CLI=$BUILD/apps/mailkit/mailkit
N_BIG=${MAILKIT_IMAP_BIG:-10000}
N_SMALL=100
CLIENTS=${MAILKIT_IMAP_CLIENTS:-10}
LIMIT=900 # seconds per step: beyond it is a hang, not a measurement
PACE=${MAILKIT_IMAP_PACE:-1000} # ms between one client's rounds in the paced mix
for b in "$SERVER" "$CLI"; do
  [[ -x $b ]] || { echo "imap_bench.sh: $b is not built (mailkit_imap_server, mailkit_cli)" >&2; exit 1; }
done
command -v dovecot >/dev/null || { echo "imap_bench.sh: dovecot missing (dovecot-imapd)" >&2; exit 1; }
$PY -c 'import nacl.pwhash' 2>/dev/null || { echo "imap_bench.sh: python3-nacl missing" >&2; exit 1; }

WORK=$(mktemp -d "${MAILKIT_BENCH_DIR:-/var/tmp}/mailkit-imap-bench-XXXXXX")
chmod 755 "$WORK"
MK_PID=
DV_CONF=$WORK/dv/dovecot.conf
cleanup() {
  [[ -n $MK_PID ]] && kill "$MK_PID" 2>/dev/null && wait "$MK_PID" 2>/dev/null
  [[ -f $WORK/dv/run/master.pid ]] && timeout 30 dovecot -c "$DV_CONF" stop 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

load() { timeout "$LIMIT" $PY "$HERE/imap/imap_load.py" "$@"; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- data and users: one generator and one passwd-file for both
echo "== data: $N_BIG-message mailbox, $CLIENTS users with $N_SMALL messages each"
$PY "$HERE/imap/gen_mailbox.py" "$WORK/data/big" "$N_BIG" 1
$PY "$HERE/imap/gen_mailbox.py" "$WORK/data/small" "$N_SMALL" 2
APPEND_MSG=$(ls "$WORK/data/small/cur" | head -1)
APPEND_MSG=$WORK/data/small/cur/$APPEND_MSG
$PY - "$WORK" "$CLIENTS" <<'PY'
import sys, nacl.pwhash
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/passwd", "w") as pw, open(f"{work}/users", "w") as users:
    for u in [f"user{i}" for i in range(1, n + 1)] + ["big"]:
        password = f"pw-{u}-bench"
        h = nacl.pwhash.argon2id.str(password.encode(), opslimit=1, memlimit=8 << 20).decode()
        pw.write(f"{u}@example.com:{{ARGON2ID}}{h}::::::\n")
        if u != "big":
            users.write(f"{u}@example.com:{password}\n")
PY

# ---- mailkit: the store filled with the CLI, then the server
mkdir -p "$WORK/mk"
export MAILKIT_STORE=$WORK/mk/store
timeout "$LIMIT" "$CLI" domain add example.com >/dev/null
timeout "$LIMIT" "$CLI" import passwd example.com "$WORK/passwd" >/dev/null
for i in $(seq 1 $CLIENTS); do
  timeout "$LIMIT" "$CLI" import maildir "user$i@example.com" "$WORK/data/small" >/dev/null
done
timeout "$LIMIT" "$CLI" import maildir big@example.com "$WORK/data/big" >/dev/null
unset MAILKIT_STORE
"$SERVER" --dir "$WORK/mk" --domain example.com --plain-login --max-per-user 200 \
  --ready-file "$WORK/mk/ready" </dev/null >"$WORK/mk/server.log" 2>&1 &
MK_PID=$!
for _ in $(seq 1 100); do [[ -f $WORK/mk/ready ]] && break; sleep 0.1; done
[[ -f $WORK/mk/ready ]] || { cat "$WORK/mk/server.log" >&2; echo "imap_bench.sh: mailkit did not start" >&2; exit 1; }
MK_PORT=$(json "$WORK/mk/ready" 'd["imap"]')

# ---- Dovecot: its own configuration, the same messages as Maildirs
DV_PORT=$(free_port)
mkdir -p "$WORK/dv/run" "$WORK/dv/state" "$WORK/dv/mail" "$WORK/dv/home"
for i in $(seq 1 $CLIENTS); do cp -r "$WORK/data/small" "$WORK/dv/mail/user$i@example.com"; done
cp -r "$WORK/data/big" "$WORK/dv/mail/big@example.com"
cat >"$DV_CONF" <<CONF
base_dir = $WORK/dv/run
state_dir = $WORK/dv/state
log_path = $WORK/dv/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$WORK/dv/mail/%u
mail_fsync = always
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = 200
default_process_limit = 500
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=ARGON2ID $WORK/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/dv/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DV_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
chown -R nobody:nogroup "$WORK/dv/mail" "$WORK/dv/home"
chmod 644 "$WORK/passwd"
dovecot -c "$DV_CONF"
for _ in $(seq 1 100); do
  $PY -c "import socket,sys; socket.create_connection(('127.0.0.1',$DV_PORT),1)" 2>/dev/null && break
  sleep 0.1
done
DV_PID=$(cat "$WORK/dv/run/master.pid")

echo "== environment"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "cpu:      $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
echo "build:    $BUILD ($(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt"))"
echo "dovecot:  $(dovecot --version)"

R=$WORK/results
mkdir -p "$R"
for side in mk dv; do
  port=MK_PORT; [[ $side == dv ]] && port=DV_PORT
  port=${!port}
  echo "-- $side: mix ($CLIENTS clients x $ROUNDS rounds)"
  load mix --port "$port" --users "$WORK/users" --clients $CLIENTS --rounds "$ROUNDS" \
    --message "$APPEND_MSG" >"$R/$side-mix.json"
  echo "-- $side: mix paced (a round per client every $PACE ms)"
  load mix --port "$port" --users "$WORK/users" --clients $CLIENTS --rounds "$ROUNDS" \
    --message "$APPEND_MSG" --pace "$PACE" >"$R/$side-paced.json"
  echo "-- $side: logins"
  load logins --port "$port" --users "$WORK/users" --clients $CLIENTS --count 20 >"$R/$side-logins.json"
  echo "-- $side: memory"
  pid=$MK_PID; [[ $side == dv ]] && pid=$DV_PID
  load memory --port "$port" --users "$WORK/users" --connections 50 --pid "$pid" >"$R/$side-memory.json"
done
# The large mailbox in 3 rounds alternating between the servers, so that both meet the same
# load of the (shared) machine; the median over the 3 x 5 warm runs of each.
for round in 1 2 3; do
  for side in mk dv; do
    port=MK_PORT; [[ $side == dv ]] && port=DV_PORT
    echo "-- $side: $N_BIG-message mailbox, round $round"
    load big --port "${!port}" --user big@example.com --password pw-big-bench --repeat 5 \
      >"$R/$side-big-$round.json"
  done
done

$PY - "$R" "$PACE" <<'PY'
import json, sys
r = sys.argv[1]
def get(side, what):
    return json.load(open(f"{r}/{side}-{what}.json"))
mk, dv = get("mk", "mix"), get("dv", "mix")
def verdict(ok):
    return "met" if ok else "MISSED"
print("\n== IMAP: mailkit vs Dovecot (medians; ratio = mailkit / Dovecot for times)")
order = ["login", "list", "status", "select", "fetch_flags", "fetch_envelope", "fetch_body",
         "store", "append", "expunge", "logout"]
for title, what in (("closed loop: each client's next command as soon as the last is answered",
                     "mix"),
                    ("paced: the same offered load on both (a round per client every "
                     f"{sys.argv[2]} ms)", "paced")):
    a_side, b_side = get("mk", what), get("dv", what)
    print(f"-- mix, {title}; {a_side['wall']:.1f} s / {b_side['wall']:.1f} s of wall time")
    print(f"{'command':<34} {'mailkit':>10} {'dovecot':>10} {'ratio':>7}  target")
    for k in order:
        a, b = a_side["median_ms"][k], b_side["median_ms"][k]
        print(f"{k + ' (ms)':<34} {a:10.2f} {b:10.2f} {a / b:7.2f}  <= 1: {verdict(a <= b)}")
print("-- large mailbox, logins, memory")
print(f"{'measure':<34} {'mailkit':>10} {'dovecot':>10} {'ratio':>7}  target")
import statistics
def big(side):
    runs = [get(side, f"big-{i}") for i in (1, 2, 3)]
    out = dict(runs[0])
    for k in ("fetch_bodystructure", "search_text"):
        out[k + "_ms"] = statistics.median(t for r in runs for t in r[k + "_all_ms"])
    return out
mkb, dvb = big("mk"), big("dv")
for k, t in (("fetch_bodystructure", 1.0), ("search_text", 0.1)):
    a, b = mkb[k + "_ms"], dvb[k + "_ms"]
    label = {"fetch_bodystructure": "FETCH 1:* (FLAGS BODYSTRUCTURE)",
             "search_text": "UID SEARCH TEXT"}[k]
    print(f"{label + ' (ms)':<34} {a:10.2f} {b:10.2f} {a / b:7.3f}  <= {t}: {verdict(a <= b * t)}")
ml, dl = get("mk", "logins"), get("dv", "logins")
a, b = ml["logins_per_s"], dl["logins_per_s"]
print(f"{'logins per second':<34} {a:10.1f} {b:10.1f} {a / b:7.2f}  >= 10: {verdict(a >= 10 * b)}")
print(f"{'login latency, logins phase (ms)':<34} {ml['login_median_ms']:10.2f} "
      f"{dl['login_median_ms']:10.2f} {ml['login_median_ms'] / dl['login_median_ms']:7.2f}")
mm, dm = get("mk", "memory"), get("dv", "memory")
a, b = mm["per_connection_kb"], dm["per_connection_kb"]
print(f"{'memory per connection (kB PSS)':<34} {a:10.1f} {b:10.1f} {a / b:7.3f}  < 1: {verdict(a < b)}")
print(f"\nchecks: {mkb['exists']}/{dvb['exists']} messages, FETCH responses "
      f"{mkb['fetch_responses']}/{dvb['fetch_responses']}, SEARCH hits "
      f"{mkb['search_hits']}/{dvb['search_hits']} (mailkit/Dovecot); processes during the "
      f"memory run {mm['processes_after']}/{dm['processes_after']}; samples per command "
      f"{min(mk['samples'].values())}")
if mkb["search_hits"] != dvb["search_hits"] or mkb["fetch_responses"] != dvb["fetch_responses"]:
    print("warning: the two servers did not answer the same")
PY
