#!/bin/sh
# it_busy.sh: the driver's loop is not held up by another process's write
# lock on the store, and loses no change it could not write meanwhile
# (issue 11, "Nothing blocks the loop").
#
# A real `sdq driver` follows two jobs on tests/emulator.py (127.0.0.1):
#   A: queued a few seconds, then running for ten minutes with no progress;
#   B: queued a few seconds, then done at once.
# Once both are IN_QUEUE in the store, a Python sqlite3 connection takes the
# database's write lock (BEGIN IMMEDIATE) and holds it. While it holds it:
#   - the driver keeps serving: it learns that A runs and that B completed
#     (the emulator says so: first_running_poll_at, first_completed_poll_at)
#     and saves B's image to disk;
#   - nothing reaches the store (A and B are still IN_QUEUE there), and the
#     driver says it keeps two changes to write.
# Then the lock is released, and every change the driver kept in memory
# lands: A IN_PROGRESS (the endpoint will not say anything new about A for
# ten minutes, so only a kept write can bring it), B COMPLETED with the
# image already on disk. Every wait is bounded; no timing is asserted.
# Last line: "it_busy: N passed, N failed".
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
KEY=test-key-busy-1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/it_busy.XXXXXX")
pass=0 fail=0
cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"
emu_pid= drv_pid= lock_pid=

cleanup() {
	[ -n "$lock_pid" ] && kill "$lock_pid" 2>/dev/null
	[ -n "$drv_pid" ] && kill "$drv_pid" 2>/dev/null && wait "$drv_pid" 2>/dev/null
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else bad "$d"; fi
}
finish() {
	echo "it_busy: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}
# wait_for N COMMAND...: run COMMAND every 0.1 s until it succeeds, at most N s
wait_for() {
	lim=$(($1 * 10)); shift
	k=0
	while [ $k -lt $lim ]; do
		"$@" && return 0
		sleep 0.1
		k=$((k + 1))
	done
	return 1
}

$PY "$TESTS/emulator.py" --port 0 --port-file "$tmp/port" --key "$KEY" --idle-exit 120 \
	--max-lifetime 300 --quiet >/dev/null 2>"$tmp/emu.err" &
emu_pid=$!
wait_for 10 test -s "$tmp/port"
PORT=$(cat "$tmp/port" 2>/dev/null)
check "emulator started" test -n "$PORT"
[ -n "$PORT" ] || finish

printf '[core]\n\tbackground_driver = false\n' >"$tmp/conf"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/conf" RUNPOD_API_KEY=$KEY
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test"
DB="$tmp/data/history.db"

A=$("$SDQ" submit -p "busy A [[queue=6 run=600 steps=1]]" --width 64 --height 64 2>>"$tmp/err")
B=$("$SDQ" submit -p "busy B [[queue=6 run=0.2]]" --width 64 --height 64 2>>"$tmp/err")
check "two jobs submitted" test -n "$A" -a -n "$B"
[ -n "$A" ] && [ -n "$B" ] || finish

# state ID: the job's state in the store (read-only: works under the lock)
state() {
	$PY - "$DB" "$1" <<'EOF'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
r = c.execute("SELECT state FROM jobs WHERE id=?", (int(sys.argv[2]),)).fetchone()
print(r[0] if r else "")
EOF
}
is_state() { [ "$(state "$1")" = "$2" ]; }
# emu ID FIELD: a field of the job with local id ID at the emulator (by prompt)
emu() {
	$PY - "$PORT" "$2" "$3" <<'EOF'
import json, sys, urllib.request
port, field, tag = sys.argv[1], sys.argv[2], sys.argv[3]
st = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_emu/stats" % port, timeout=10))
for j in st["jobs"].values():
    if j["prompt"].startswith("busy %s " % tag):
        v = j.get(field)
        print("" if v is None else v)
EOF
}
emu_set() { [ -n "$(emu x "$1" "$2")" ]; }
emu_unset() { [ -z "$(emu x "$1" "$2")" ]; }
images() { find "$tmp/data/images" -name "$1-*" -type f 2>/dev/null | head -n 1; }
has_image() { [ -n "$(images "$1")" ]; }

"$SDQ" driver --linger 0 2>"$tmp/driver.log" &
drv_pid=$!
if ! wait_for 30 is_state "$A" IN_QUEUE || ! wait_for 30 is_state "$B" IN_QUEUE; then
	bad "the jobs did not reach IN_QUEUE (A $(state "$A"), B $(state "$B"))"
	finish
fi

# The write lock, held until $tmp/release exists (at most 120 s).
$PY - "$DB" "$tmp/locked" "$tmp/release" <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
end = time.time() + 120
while not os.path.exists(sys.argv[3]) and time.time() < end:
    time.sleep(0.05)
c.execute("ROLLBACK")
c.close()
EOF
lock_pid=$!
check "another process holds the write lock" wait_for 30 test -e "$tmp/locked"
# The test means something only if the driver had not seen A run yet.
check "precondition: A not yet seen running when the lock was taken" emu_unset first_running_poll_at A

check "locked: the driver learns that A runs" wait_for 60 emu_set first_running_poll_at A
check "locked: the driver learns that B completed" wait_for 60 emu_set first_completed_poll_at B
check "locked: B's image is saved to disk" wait_for 60 has_image "$B"
# Both changes are held in memory, and the driver says so (after 5 s of a
# busy store); a driver that waited for the lock, gave up and dropped A's
# change never says this.
said() { grep -q "cannot save 2 job changes yet (kept, trying again)" "$tmp/driver.log"; }
check "locked: the driver keeps both changes and says so" wait_for 60 said
check "locked: the driver is still running" kill -0 "$drv_pid"
check "locked: nothing reached the store (A)" is_state "$A" IN_QUEUE
check "locked: nothing reached the store (B)" is_state "$B" IN_QUEUE

touch "$tmp/release"
wait "$lock_pid" 2>/dev/null
lock_pid=
check "released: A's IN_PROGRESS, kept in memory, lands" wait_for 30 is_state "$A" IN_PROGRESS
check "released: B's COMPLETED lands" wait_for 30 is_state "$B" COMPLETED
img=$(images "$B")
out=$($PY - "$DB" "$B" <<'EOF'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
print("\n".join(r[0] for r in c.execute("SELECT path FROM outputs WHERE job_id=?",
                                         (int(sys.argv[2]),))))
EOF
)
check "released: B's output is the image saved under the lock" test -n "$img" -a "$out" = "$img"
check "the driver is still running" kill -0 "$drv_pid"
finish
