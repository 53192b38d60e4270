#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# store_bench.sh BUILD_DIR: the mail store beside Dovecot on the same data, same run (issue 4's
# benchmark), durability on for both (mailkit: fsync + SQLite synchronous=FULL; Dovecot:
# mail_fsync=always), both on the file system of $MAILKIT_BENCH_DIR (default /var/tmp):
#   append:  the same N messages ($MAILKIT_STORE_APPEND, default 1000) appended one by one, each
#            its own durable transaction: mailkit append() vs IMAP APPEND in one Dovecot imap
#            session (dovecot-imapd, pre-authenticated on a pipe; each APPEND commits and fsyncs)
#   batch:   the same N in one transaction: mailkit append_batch() vs doveadm import from an mbox
#   import:  a generated Dovecot Maildir++ tree of $MAILKIT_STORE_IMPORT messages (default 5000)
#            imported by mailkit (import_maildir) vs doveadm import maildir:...
#   scan:    uid+flags+size of a $MAILKIT_STORE_SCAN-message mailbox (default 100000), 5 rounds,
#            vs doveadm fetch 'flags size.virtual' on the same tree (warm index; the cold first
#            fetch that builds Dovecot's index is reported separately)
# append, batch and import run $MAILKIT_STORE_ROUNDS times (default 3), alternating which side
# goes first (the file system's state after the other side's run matters on a shared VM), and
# the median rate of each side is reported. Prints the rates and the ratio (mailkit / Dovecot;
# target >= 1). Benchmarks are not tests: a missed target is reported, not a failure. Runs as
# root (Dovecot runs as "nobody").
set -euo pipefail

[[ $# -eq 1 && -d $1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$BUILD/benchmarks/store/store_throughput
[[ -x $BIN ]] || { echo "store_bench.sh: $BIN is not built (MAILKIT_BUILD_BENCHMARKS=ON)" >&2; exit 1; }
command -v doveadm >/dev/null || { echo "store_bench.sh: doveadm missing (dovecot-core)" >&2; exit 1; }
N_APPEND=${MAILKIT_STORE_APPEND:-1000}
N_IMPORT=${MAILKIT_STORE_IMPORT:-5000}
N_SCAN=${MAILKIT_STORE_SCAN:-100000}
ROUNDS=${MAILKIT_STORE_ROUNDS:-3}
IMAP=${MAILKIT_DOVECOT_IMAP:-/usr/lib/dovecot/imap}
[[ -x $IMAP ]] || { echo "store_bench.sh: $IMAP missing (dovecot-imapd)" >&2; exit 1; }
LIMIT=900 # seconds per command: beyond this it is a hang, not a measurement

WORK=$(mktemp -d "${MAILKIT_BENCH_DIR:-/var/tmp}/mailkit-store-bench-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
elapsed_rate() { rate "$1" "$(awk -v a="$2" -v b="$(now)" 'BEGIN { print b - a }')"; }

# A throwaway Dovecot configuration whose mail_location is $2.
dovecot_conf() {
  local dir=$1 location=$2
  mkdir -p "$dir/run" "$dir/state" "$dir/home"
  cat >"$dir/dovecot.conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = /dev/stderr
ssl = no
mail_location = maildir:$location
mail_fsync = always
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
first_valid_gid = 1
namespace inbox {
  inbox = yes
  separator = /
}
CONF
  chown -R nobody:nogroup "$dir"
}
doveadm_in() { # doveadm_in DIR ARGS...
  local dir=$1
  shift
  # doveadm may exit 0 after logging errors (a mailbox it could not index): any message on
  # stderr makes the measurement void.
  (cd "$dir" && USER=bench HOME="$dir/home" timeout "$LIMIT" doveadm -c "$dir/dovecot.conf" "$@") \
    2>"$WORK/doveadm.err"
  if [[ -s $WORK/doveadm.err ]]; then
    cat "$WORK/doveadm.err" >&2
    echo "store_bench.sh: doveadm reported errors: $*" >&2
    exit 1
  fi
}

report() { # report NAME MAILKIT_RATE DOVECOT_RATE
  printf '%-8s mailkit %10s msg/s   dovecot %10s msg/s   ratio %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

# ---- data: one generator for both sides
/usr/bin/python3 "$HERE/store/gen_maildir.py" "$WORK/import-src" "$N_IMPORT"
/usr/bin/python3 "$HERE/store/gen_maildir.py" "$WORK/append-src" "$N_APPEND"
# The append set as an mbox for Dovecot's single-process save path.
/usr/bin/python3 - "$WORK/append-src/cur" "$WORK/append.mbox" <<'PY'
import os, sys
src, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    for name in sorted(os.listdir(src)):
        data = open(os.path.join(src, name), "rb").read().replace(b"\r\n", b"\n")
        f.write(b"From bench@example.org Thu Nov 24 18:22:48 2022\n" + data + b"\n")
PY
chown -R nobody:nogroup "$WORK"

# The append set as IMAP APPEND commands (LITERAL+), one transaction each, for Dovecot's imap.
/usr/bin/python3 - "$WORK/append-src/cur" "$WORK/append.imap" <<'PY'
import os, sys
src, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    for i, name in enumerate(sorted(os.listdir(src))):
        data = open(os.path.join(src, name), "rb").read()
        f.write(b"a%d APPEND INBOX {%d+}\r\n" % (i, len(data)) + data + b"\r\n")
    f.write(b"z LOGOUT\r\n")
PY
chown -R nobody:nogroup "$WORK"

# One measurement each; every one starts from an empty store / mailbox and cleans up after.
mk_append() { timeout "$LIMIT" "$BIN" append "$WORK/mk" "$WORK/append-src" | field rate; }
mk_batch() { timeout "$LIMIT" "$BIN" append-batch "$WORK/mk" "$WORK/append-src" | field rate; }
mk_import() { timeout "$LIMIT" "$BIN" import "$WORK/mk" "$WORK/import-src" | field rate; }
dv_append() {
  dovecot_conf "$WORK/dv" "$WORK/dv/Maildir"
  local t0 ok
  t0=$(now)
  # A pipe: Dovecot's imap refuses a plain file on stdin (it wants a pollable descriptor).
  ok=$(cat "$WORK/append.imap" | (cd "$WORK/dv" && USER=bench HOME="$WORK/dv/home" \
    timeout "$LIMIT" "$IMAP" -c "$WORK/dv/dovecot.conf" 2>"$WORK/imap.err") |
    grep -c '^a[0-9]* OK \[APPENDUID' || true)
  local r
  r=$(elapsed_rate "$N_APPEND" "$t0")
  if [[ $ok -ne $N_APPEND ]] || grep -qv ': Info: ' "$WORK/imap.err"; then
    cat "$WORK/imap.err" >&2
    echo "store_bench.sh: Dovecot imap appended $ok of $N_APPEND" >&2
    exit 1
  fi
  echo "$r"
}
dv_batch() {
  dovecot_conf "$WORK/dv" "$WORK/dv/Maildir"
  mkdir -p "$WORK/mbox-root"
  chown nobody:nogroup "$WORK/mbox-root" "$WORK/append.mbox"
  local t0
  t0=$(now)
  doveadm_in "$WORK/dv" import "mbox:$WORK/mbox-root:INBOX=$WORK/append.mbox" "" all
  elapsed_rate "$N_APPEND" "$t0"
}
dv_import() {
  dovecot_conf "$WORK/dv" "$WORK/dv/Maildir"
  local t0
  t0=$(now)
  doveadm_in "$WORK/dv" import "maildir:$WORK/import-src" "" all
  elapsed_rate "$N_IMPORT" "$t0"
}
clean() { rm -rf "$WORK/mk" "$WORK/dv"; }

declare -A runs
for ((round = 1; round <= ROUNDS; round++)); do
  for op in append batch import; do
    if ((round % 2)); then order="mk dv"; else order="dv mk"; fi
    for side in $order; do
      clean
      runs[$op.$side]+="$("${side}_$op") "
    done
  done
done
clean
for op in append batch import; do
  mk=$(tr ' ' '\n' <<<"${runs[$op.mk]}" | grep . | median)
  dv=$(tr ' ' '\n' <<<"${runs[$op.dv]}" | grep . | median)
  report "$op" "$mk" "$dv"
  echo "         (rounds: mailkit ${runs[$op.mk]}; dovecot ${runs[$op.dv]})"
done
echo "(append: one durable transaction per message on both sides: mailkit append() vs IMAP"
echo " APPEND in one Dovecot imap session. batch: all N in one transaction: append_batch() vs"
echo " doveadm import from an mbox.)"

# ---- scan of a large mailbox
rm -rf "$WORK/import-src" "$WORK/append-src"
/usr/bin/python3 "$HERE/store/gen_maildir.py" "$WORK/scan-src" "$N_SCAN"
chown -R nobody:nogroup "$WORK/scan-src"
line=$(timeout "$LIMIT" "$BIN" import "$WORK/mk-scan" "$WORK/scan-src")
echo "(mailkit import of the $N_SCAN-message mailbox: $(field rate <<<"$line") msg/s)"
mk=$(timeout "$LIMIT" "$BIN" scan "$WORK/mk-scan" 5 2>/dev/null | field rate)
dovecot_conf "$WORK/dv-scan" "$WORK/scan-src"
t0=$(now)
doveadm_in "$WORK/dv-scan" fetch 'flags size.virtual' mailbox INBOX all >/dev/null
cold=$(rate "$N_SCAN" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
t0=$(now)
for _ in 1 2 3 4 5; do
  doveadm_in "$WORK/dv-scan" fetch 'flags size.virtual' mailbox INBOX all >/dev/null
done
dv=$(rate $((N_SCAN * 5)) "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
report scan "$mk" "$dv"
echo "(dovecot cold first fetch, building its index: $cold msg/s)"
# Flags and structure: our cached structure vs Dovecot's cached imap.bodystructure (first fetch
# fills its cache, then 5 timed rounds), on the same mailbox.
mk=$(timeout "$LIMIT" "$BIN" scan-structure "$WORK/mk-scan" 5 2>/dev/null | field rate)
doveadm_in "$WORK/dv-scan" fetch 'flags imap.bodystructure' mailbox INBOX all >/dev/null
t0=$(now)
for _ in 1 2 3 4 5; do
  doveadm_in "$WORK/dv-scan" fetch 'flags imap.bodystructure' mailbox INBOX all >/dev/null
done
dv=$(rate $((N_SCAN * 5)) "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
report scan-structure "$mk" "$dv"
