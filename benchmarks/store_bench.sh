#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# store_bench.sh BUILD_DIR: the mail store beside Dovecot's doveadm on the same data, same run
# (issue 4's benchmark), durability on for both (mailkit: fsync + SQLite synchronous=FULL;
# Dovecot: mail_fsync=always), both on the file system of $MAILKIT_BENCH_DIR (default /var/tmp):
#   append:  N messages appended one by one, one transaction each (store_throughput append),
#            and the same N in one batch (append-batch), vs Dovecot saving the same N messages
#            (doveadm import from an mbox: one process, one transaction)
#   import:  a generated Dovecot Maildir++ tree of $MAILKIT_STORE_IMPORT messages (default 5000)
#            imported by mailkit (import_maildir) vs doveadm import maildir:... (fsync on)
#   scan:    uid+flags+size of a $MAILKIT_STORE_SCAN-message mailbox (default 100000), 5 rounds,
#            vs doveadm fetch 'flags size.virtual' on the same tree (warm index; the cold first
#            fetch that builds Dovecot's index is reported separately)
# Prints the rates and the ratio (mailkit / Dovecot; target >= 1). Benchmarks are not tests:
# a missed target is reported, not a failure. Runs as root (doveadm runs as "nobody").
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
LIMIT=900 # seconds per command: beyond this it is a hang, not a measurement

WORK=$(mktemp -d "${MAILKIT_BENCH_DIR:-/var/tmp}/mailkit-store-bench-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

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

# ---- append
mk=$(timeout "$LIMIT" "$BIN" append "$WORK/mk-append" "$N_APPEND" | field rate)
mkb=$(timeout "$LIMIT" "$BIN" append-batch "$WORK/mk-append-batch" "$N_APPEND" | field rate)
dovecot_conf "$WORK/dv-append" "$WORK/dv-append/Maildir"
chown nobody:nogroup "$WORK/append.mbox"
t0=$(now)
mkdir -p "$WORK/mbox-root"
chown nobody:nogroup "$WORK/mbox-root"
doveadm_in "$WORK/dv-append" import "mbox:$WORK/mbox-root:INBOX=$WORK/append.mbox" "" all
dv=$(rate "$N_APPEND" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
report append "$mk" "$dv"
echo "(append: mailkit commits each message on its own; doveadm import saves all N in one"
echo " transaction. mailkit saving the same N in one batch (append_batch):)"
report batch "$mkb" "$dv"

# ---- import
mk=$(timeout "$LIMIT" "$BIN" import "$WORK/mk-import" "$WORK/import-src" | field rate)
dovecot_conf "$WORK/dv-import" "$WORK/dv-import/Maildir"
t0=$(now)
doveadm_in "$WORK/dv-import" import "maildir:$WORK/import-src" "" all
dv=$(rate "$N_IMPORT" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
report import "$mk" "$dv"

# ---- scan of a large mailbox
rm -rf "$WORK/import-src" "$WORK/mk-import" "$WORK/dv-import" "$WORK/mk-append" "$WORK/dv-append"
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
